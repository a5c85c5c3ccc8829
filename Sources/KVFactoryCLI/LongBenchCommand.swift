import Benchmarks
import Foundation
import KVPolicies

/// `kvfactory longbench`: LongBench v1 generation for one method and budget, in KVCache-Factory's layout.
enum LongBenchCommand {
    static let help = helpText(
        command: "longbench",
        synopsis: "--method M [--max_capacity_prompts B] [--datasets a,b] [--max_num_examples N] [--save_dir DIR]",
        summary: """
            Generate LongBench answers with a KV-cache compression method and write them where KVCache-Factory's \
            eval.py reads them: <save_dir>/<model>_<budget>/<dataset>/<Method>.json. Prompts follow the reference \
            runner: the dataset's template, middle truncation to --max_length tokens, greedy decoding up to the \
            dataset's max length. Runs alone or under 'mpirun -np N'; rerunning the same command resumes. \
            Score the results with 'kvfactory score'.
            """,
        specs: LongBenchSettings.runSpecs + LongBenchSettings.jobSpecs + LongBenchSettings.ignoredSpecs + PolicySupport.helpSpecs)

    static func run(arguments: [String]) throws {
        try ClusterCommand.run { context in
            let (settings, options) = try LongBenchSettings.parse(arguments, command: "longbench",
                                                                  specs: LongBenchSettings.runSpecs + LongBenchSettings.jobSpecs,
                                                                  requireMethod: true, warn: context.isCoordinator)
            let saveDirectory = options.string("save_dir") ?? "results/longbench"
            let modelPath = options.string("model_path") ?? Defaults.modelPath
            let threads = try options.int("threads", default: Defaults.threads, minimum: 1)
            try NeedleSettings.checkModelFile(modelPath)

            let data = try LongBenchData(settings: [settings])
            let model = try LongBenchModelInfo(path: modelPath)
            let directory = LongBenchLayout.runDirectory(saveDirectory: saveDirectory, model: model, budgetLabel: settings.budgetLabel)
            let plan = try LongBenchRunPlan(settings: settings, data: data, model: model, directory: directory)
            if context.isCoordinator { plan.printSummary(command: "longbench") }

            let driver = RunDriver(context: context, command: "longbench", itemLabel: "samples")
            driver.retryFailed = options.has("retry_failed")
            let layers = try PipelineSupport.configure(driver, options: options, modelPath: modelPath)
            let outcomes = try driver.execute(modelPath: modelPath, threads: threads) {
                let engine = try LongBenchEngine(modelPath: modelPath, threads: threads, data: data, layers: layers)
                return [LongBenchRun(plan: plan, engine: engine)]
            }
            if context.isCoordinator { LongBenchRun.printOutcomes(outcomes) }
        }
    }
}

/// The settings of one LongBench run, parsed from command-line arguments or from a job file's run.
struct LongBenchSettings {
    /// Options that can differ between the runs of a job.
    static let runSpecs: [OptionSpec] = [
        .value("datasets", "a,b,...", "datasets to run, comma-separated (default: the 16 English tasks whose files exist in --data_dir)",
               aliases: ["dataset"]),
        .value("data_dir", "DIR", "folder with <dataset>.jsonl and config/ as in the official LongBench data (default data/LongBench)"),
        .value("max_num_examples", "N", "examples per dataset at most (default: all)"),
        .value("sample_method", "topk|random", "which examples --max_num_examples keeps: the first ones, or a sample seeded by --seed (default topk)"),
        .value("max_length", "TOKENS", "prompt tokens at most; longer prompts keep their first and last halves (default: by model family)"),
        .value("chat_template", "auto|none", "auto: the model's own chat template, except for trec, triviaqa, samsum, lsht, lcc and repobench-p; none: raw prompts (default auto)"),
    ]
    /// Options of the whole job, which a job file sets in its own fields or on the sweep command line.
    static let jobSpecs: [OptionSpec] = [
        CommonOptions.modelPath,
        .value("save_dir", "DIR", "root of the results (default results/longbench)"),
        CommonOptions.threads,
        .flag("retry_failed", "run again the samples whose recorded result is an error (they are skipped otherwise)"),
    ] + PipelineSupport.specs
    /// Options of the reference's GPU runner, accepted so that existing scripts run, with a warning: name,
    /// placeholder and why it has no effect here.
    static let ignoredOptions: [(name: String, placeholder: String, reason: String)] = [
        ("attn_implementation", "NAME", "attention runs in float32 on the CPU"),
        ("dtype", "TYPE", "weights are dequantized to float32"),
        ("use_fast_tokenizer", "BOOL", "the tokenizer is built from the GGUF file"),
        ("use_cache", "BOOL", "the KV cache is always used"),
        ("eval_batch_size", "1", "samples run one at a time, so only 1 is accepted"),
        ("max_new_tokens", "N", "dataset2maxlen.json sets each dataset's length, as in the reference"),
    ]
    static let ignoredSpecs = ignoredOptions.map { OptionSpec.value($0.name, $0.placeholder, "no effect: \($0.reason)") }

    /// The reference runner's data folder, relative to the working directory.
    static let defaultDataDirectory = "data/LongBench"

    var datasets: [String]
    /// Default datasets left out because their file is absent.
    var skippedDatasets: [String]
    var dataDirectory: String
    var maxNumExamples: Int?
    var sampleMethod: LongBenchSampleMethod
    /// `--max_length`; nil uses the model family's default.
    var maxLength: Int?
    var chatTemplate: LongBenchChatTemplateMode
    var policy: PolicyOptions

    /// The reference's method name, such as "SnapKV", used for prediction file names.
    var methodSpelling: String { MethodRegistry.referenceSpelling(policy.method) }

    /// The budget part of the run folder name: the budget in tokens (512 unless given), or "ratio<r>".
    var budgetLabel: String {
        if let ratio = policy.maxCapacityPromptsRatio { return "ratio\(ratio)" }
        return String(policy.maxCapacityPrompts ?? PolicyOptions.defaultBudget)
    }

    /// Parses arguments against `specs`, the ignored GPU options and the policy options.
    ///
    /// - Parameters:
    ///   - requireMethod: whether `--method` must be given, as in the reference runner.
    ///   - warn: whether to print the warnings about ignored options and skipped datasets.
    static func parse(_ arguments: [String], command: String, specs: [OptionSpec], requireMethod: Bool,
                      warn: Bool) throws -> (LongBenchSettings, ParsedOptions) {
        var remaining = arguments
        let methodGiven = arguments.contains { $0 == "--method" || $0.hasPrefix("--method=") }
        let policy = try PolicySupport.parse(&remaining, command: command)
        let options = try ParsedOptions(command: command, arguments: remaining, specs: specs + ignoredSpecs)
        if requireMethod && !methodGiven {
            throw UsageError(message: "missing required option --method; use one of \(MethodRegistry.names.joined(separator: ", "))",
                             command: command)
        }
        do {
            try policy.validate()
        } catch let error as PolicyError {
            throw UsageError(message: error.description, command: command)
        }
        try checkIgnored(options, command: command, warn: warn)

        let maxNumExamples = try options.int("max_num_examples")
        if let maxNumExamples, maxNumExamples < 1 {
            throw UsageError(message: "--max_num_examples must be at least 1, got \(maxNumExamples)", command: command)
        }
        let maxLength = try options.int("max_length")
        if let maxLength, maxLength < 2 {
            throw UsageError(message: "--max_length must be at least 2 tokens, got \(maxLength)", command: command)
        }
        let sampleMethod = try choice(options, "sample_method", default: LongBenchSampleMethod.topk, command: command)
        let chatTemplate = try choice(options, "chat_template", default: LongBenchChatTemplateMode.auto, command: command)

        let dataDirectory = options.string("data_dir") ?? defaultDataDirectory
        let selection: (datasets: [String], skipped: [String])
        do {
            selection = try LongBenchProtocol.selectDatasets(options.string("datasets"), dataDirectory: dataDirectory)
        } catch let error as BenchmarkError {
            throw UsageError(message: error.description, command: command)
        }
        if warn && !selection.skipped.isEmpty {
            printError("\(command): warning: no file in \(dataDirectory) for \(selection.skipped.joined(separator: ", ")); "
                + "running the \(selection.datasets.count) datasets present")
        }

        let settings = LongBenchSettings(datasets: selection.datasets, skippedDatasets: selection.skipped,
                                         dataDirectory: dataDirectory, maxNumExamples: maxNumExamples, sampleMethod: sampleMethod,
                                         maxLength: maxLength, chatTemplate: chatTemplate, policy: policy)
        return (settings, options)
    }

    private static func choice<T: RawRepresentable & CaseIterable>(_ options: ParsedOptions, _ name: String, default fallback: T,
                                                                   command: String) throws -> T where T.RawValue == String {
        guard let raw = options.string(name) else { return fallback }
        guard let value = T(rawValue: raw.lowercased()) else {
            let choices = T.allCases.map(\.rawValue).joined(separator: " or ")
            throw UsageError(message: "--\(name) must be \(choices), got '\(raw)'", command: command)
        }
        return value
    }

    /// Rejects `--eval_batch_size` other than 1, as the reference does, and warns once per ignored option.
    private static func checkIgnored(_ options: ParsedOptions, command: String, warn: Bool) throws {
        if let size = options.string("eval_batch_size"), Int(size) != 1 {
            throw UsageError(message: "--eval_batch_size must be 1, got '\(size)': samples run one at a time", command: command)
        }
        guard warn else { return }
        for option in ignoredOptions {
            if let value = options.string(option.name) {
                printError("\(command): warning: --\(option.name) \(value) has no effect: \(option.reason)")
            }
        }
    }
}
