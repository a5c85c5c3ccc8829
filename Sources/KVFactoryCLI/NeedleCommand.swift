import Benchmarks
import Foundation
import KVPolicies

/// `kvfactory needle`: a needle-in-a-haystack sweep over context lengths and depths for one method.
enum NeedleCommand {
    static let help = helpText(
        command: "needle", synopsis: "--s_len TOKENS --e_len TOKENS [--step TOKENS] [--depth_intervals N] [--method M] [--max_capacity_prompt B] [--save_dir DIR]",
        summary: """
            Hide a needle sentence at several depths of haystack contexts of several lengths, ask the model for it, \
            and score each answer. Writes cells/, results.jsonl, summary.json, heatmap.png, heatmap.svg and \
            run_meta.json under --save_dir. Runs alone or under 'mpirun -np N'; rerunning with the same --save_dir \
            resumes. --method full is accepted for fullkv; the budget defaults to 128.
            """,
        specs: NeedleSettings.runSpecs + NeedleSettings.jobSpecs + PolicySupport.helpSpecs)

    static func run(arguments: [String]) throws {
        try ClusterCommand.run { context in
            let (settings, options) = try NeedleSettings.parse(arguments, command: "needle",
                                                               specs: NeedleSettings.runSpecs + NeedleSettings.jobSpecs)
            let saveDirectory = options.string("save_dir") ?? "results/needle/\(settings.runName)"
            let modelPath = options.string("model_path") ?? Defaults.modelPath
            let threads = try options.int("threads", default: Defaults.threads, minimum: 1)
            try NeedleSettings.checkModelFile(modelPath)

            let driver = RunDriver(context: context, command: "needle", itemLabel: "cells")
            driver.retryFailed = options.has("retry_failed")
            let layers = try PipelineSupport.configure(driver, options: options, modelPath: modelPath)
            let outcomes = try driver.execute(modelPath: modelPath, threads: threads) {
                let engine = try NeedleEngine(modelPath: modelPath, threads: threads, settings: [settings], layers: layers)
                return [NeedleRun(name: settings.runName, directory: URL(fileURLWithPath: saveDirectory),
                                  settings: settings, engine: engine)]
            }
            if context.isCoordinator { NeedleRun.printOutcomes(outcomes) }
        }
    }
}

/// The settings of one needle run, parsed from command-line arguments or from a job file's run.
struct NeedleSettings {
    /// Options that can differ between the runs of a job.
    static let runSpecs: [OptionSpec] = [
        .value("s_len", "TOKENS", "shortest context length in tokens (required)"),
        .value("e_len", "TOKENS", "longest context length in tokens, at most the model's context length (required)"),
        .value("step", "TOKENS", "step between context lengths (default 1000)"),
        .value("depth_intervals", "N", "number of needle depths, spaced linearly from 0% to 100% (default 10)"),
        .value("model_version", "NAME", "label stored in each cell file (default: the model file name without .gguf)"),
        .value("haystack_dir", "DIR", "essays (.txt), read in sorted file-name order (default: those scripts/setup.sh installs)"),
        .value("needle", "TEXT", "the sentence hidden in the haystack (default: a special magic number for the Lisbon archive)"),
        .value("retrieval_question", "TEXT", "the question asked after the context (default: asks for that number)"),
        .value("expected_answer", "TEXT", "the answer whose words the recall score looks for (default: the needle's sentence)"),
    ]
    /// Options of the whole job, which a job file sets in its own fields or on the sweep command line.
    static let jobSpecs: [OptionSpec] = [
        CommonOptions.modelPath,
        .value("save_dir", "DIR", "directory of the results (default results/needle/<method>_<budget>)"),
        CommonOptions.threads,
        .flag("retry_failed", "run again the cells whose recorded result is an error (they are skipped otherwise)"),
    ] + PipelineSupport.specs

    /// Budget of the reference needle runner when --max_capacity_prompt is not given.
    static let defaultBudget = 128
    /// Tokens reserved for the question and the answer, as in the reference runner.
    static let bufferTokens = 200
    /// New tokens at most, as in the reference runner.
    static let maxNewTokens = 30

    var lengths: [Int]
    var depths: [Int]
    var haystackDirectory: String
    var task: NeedleTask
    var modelVersion: String?
    var policy: PolicyOptions

    /// "<method>_<budget>", or "fullkv_full" for FullKV, which ignores the budget.
    var runName: String {
        if policy.method == "fullkv" { return "fullkv_full" }
        if let ratio = policy.maxCapacityPromptsRatio { return "\(policy.method)_ratio\(ratio)" }
        return "\(policy.method)_\(policy.budget(forPromptLength: 0))"
    }

    /// The budget recorded with each cell; nil for FullKV.
    var recordedBudget: Int? {
        policy.method == "fullkv" || policy.maxCapacityPromptsRatio != nil ? nil : policy.budget(forPromptLength: 0)
    }

    /// The options that can change the results, as canonical strings.
    var resultOptions: [String: String] {
        var options = policy.resultAffectingDescription
        options["benchmark"] = "needle"
        options["lengths"] = lengths.map(String.init).joined(separator: ",")
        options["depths"] = depths.map(String.init).joined(separator: ",")
        options["haystack_dir"] = URL(fileURLWithPath: haystackDirectory).standardizedFileURL.path
        options["needle"] = task.needle
        options["retrieval_question"] = task.question
        options["expected_answer"] = task.expectedAnswer
        options["context_buffer"] = String(Self.bufferTokens)
        options["max_new_tokens"] = String(Self.maxNewTokens)
        options["prompt"] = "chat template, document then question; greedy; stop on stop tokens and newlines"
        return options
    }

    /// Parses arguments against `specs` and the policy options; rejects invalid values with a `UsageError`.
    static func parse(_ arguments: [String], command: String, specs: [OptionSpec]) throws -> (NeedleSettings, ParsedOptions) {
        var remaining = acceptFullAlias(arguments)
        var policy = try PolicySupport.parse(&remaining, command: command)
        let options = try ParsedOptions(command: command, arguments: remaining, specs: specs)

        guard let start = try options.int("s_len") else {
            throw UsageError(message: "missing required option --s_len (the shortest context length in tokens)", command: command)
        }
        guard let end = try options.int("e_len") else {
            throw UsageError(message: "missing required option --e_len (the longest context length in tokens)", command: command)
        }
        let step = try options.int("step") ?? 1000
        let intervals = try options.int("depth_intervals") ?? 10
        let lengths: [Int]
        let depths: [Int]
        do {
            lengths = try NeedleGrid.lengths(start: start, end: end, step: step)
            depths = try NeedleGrid.depths(intervals: intervals)
        } catch let error as NeedleError {
            throw UsageError(message: error.description, command: command)
        }

        if policy.maxCapacityPrompts == nil && policy.maxCapacityPromptsRatio == nil {
            policy.maxCapacityPrompts = defaultBudget
        }
        do {
            try policy.validate()
        } catch let error as PolicyError {
            throw UsageError(message: error.description, command: command)
        }

        var task = NeedleTask.defaultTask
        if let needle = options.string("needle") { task.needle = needle }
        if let question = options.string("retrieval_question") { task.question = question }
        if let answer = options.string("expected_answer") {
            task.expectedAnswer = answer
        } else if options.string("needle") != nil {
            task.expectedAnswer = task.needle.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard !task.needle.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw UsageError(message: "--needle is empty; pass the sentence to hide in the haystack", command: command)
        }
        guard !task.question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw UsageError(message: "--retrieval_question is empty; pass the question about the needle", command: command)
        }

        let haystack = options.string("haystack_dir") ?? Defaults.haystackDirectory
        do {
            _ = try NeedleHaystack.essayFiles(directory: haystack)
        } catch let error as NeedleError {
            throw UsageError(message: error.description, command: command)
        }

        let settings = NeedleSettings(lengths: lengths, depths: depths, haystackDirectory: haystack, task: task,
                                      modelVersion: options.string("model_version"), policy: policy)
        return (settings, options)
    }

    /// Rewrites "--method full" as "--method fullkv": the reference needle runner spells FullKV "full".
    static func acceptFullAlias(_ arguments: [String]) -> [String] {
        var result = arguments
        for index in result.indices {
            if result[index] == "--method", index + 1 < result.count, result[index + 1].lowercased() == "full" {
                result[index + 1] = "fullkv"
            } else if result[index].lowercased() == "--method=full" {
                result[index] = "--method=fullkv"
            }
        }
        return result
    }

    /// Rejects a missing model file before any rank loads anything.
    static func checkModelFile(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandFailure(message: "model file not found: \(path); run scripts/setup.sh or pass --model_path")
        }
    }
}
