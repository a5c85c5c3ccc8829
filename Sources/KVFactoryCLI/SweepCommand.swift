import Foundation
import Cluster

/// `kvfactory sweep JOB.json`: the runs of a job file as one MPI job, with the model loaded once per rank.
enum SweepCommand {
    static let specs: [OptionSpec] = [
        .value("save_dir", "DIR", "write the runs under DIR instead of the job file's save_dir"),
        .value("model_path", "FILE", "use this model instead of the job file's model_path"),
        CommonOptions.threads,
        .flag("retry_failed", "run again the items whose recorded result is an error (they are skipped otherwise)"),
        .flag("dry_run", "check the job file and print its runs without loading the model"),
    ] + PipelineSupport.specs
    static let help = helpText(
        command: "sweep", synopsis: "JOB.json [--threads N] [--dry_run] [--retry_failed] [--<setting> VALUE ...]",
        summary: """
            Run every run of a job file (docs/jobs.md) as one job: all items of all runs are scheduled across the \
            MPI ranks together, longest first. Each needle run writes into <save_dir>/<method>_<budget>/ (FullKV into \
            fullkv_full/). LongBench runs write <save_dir>/<model>_<budget>/<dataset>/<Method>.json (FullKV into \
            <model>_full/), and the job ends with sweep_results.csv, sweep_results.md, sweep.png and sweep.svg in \
            <save_dir>. Any other --name VALUE overrides that setting or option in every run, such as \
            --max_num_examples 3. Rerunning the same job resumes it.
            """,
        specs: specs)

    /// Benchmarks a job file can name.
    static let benchmarks = ["needle", "longbench"]

    static func run(arguments: [String]) throws {
        guard let jobPath = arguments.first, !jobPath.hasPrefix("--") else {
            throw UsageError(message: "missing the job file; pass its path first, such as 'kvfactory sweep jobs/needle-smollm2.json'",
                             command: "sweep")
        }
        try ClusterCommand.run { context in
            let (own, overrides) = try splitOverrides(Array(arguments.dropFirst()))
            let options = try ParsedOptions(command: "sweep", arguments: own, specs: specs)
            var job: JobFile
            do {
                job = try JobFile(path: jobPath, benchmarks: benchmarks)
            } catch let error as JobFileError {
                throw UsageError(message: error.description, command: "sweep")
            }
            job.overrides = overrides
            let saveDirectory = options.string("save_dir") ?? job.saveDirectory
            let modelPath = options.string("model_path") ?? job.modelPath ?? Defaults.modelPath
            let threads = try options.int("threads", default: Defaults.threads, minimum: 1)

            switch job.benchmark {
            case "needle":
                try runNeedle(job, saveDirectory: saveDirectory, modelPath: modelPath, threads: threads, options: options,
                              context: context)
            case "longbench":
                try LongBenchSweep.run(job, saveDirectory: saveDirectory, modelPath: modelPath, threads: threads, options: options,
                                       context: context)
            default:
                throw UsageError(message: "job file \(jobPath): benchmark \"\(job.benchmark)\" is not available in this build",
                                 command: "sweep")
            }
        }
    }

    /// Splits the arguments into the sweep's own options and the other "--name value" pairs, which override the
    /// job file's settings and options in every run (a policy flag without a value counts as "true").
    static func splitOverrides(_ arguments: [String]) throws -> (own: [String], overrides: [(String, String)]) {
        var ownNames = Set(specs.map(\.name))
        ownNames.insert("help")
        var own: [String] = []
        var overrides: [(String, String)] = []
        var index = 0
        while index < arguments.count {
            let token = arguments[index]
            index += 1
            guard token.hasPrefix("--"), token.count > 2 else {
                throw UsageError(message: "unexpected argument '\(token)'; options start with --", command: "sweep")
            }
            var name = String(token.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if ownNames.contains(name) {
                own.append(token)
                if value == nil, let spec = specs.first(where: { $0.name == name }), spec.kind == .value, index < arguments.count {
                    own.append(arguments[index])
                    index += 1
                }
                continue
            }
            guard !JobFile.reservedOptions.contains(name) else {
                throw UsageError(message: "--\(name) cannot override the job file: each run's method and budget, and the "
                    + "model and save_dir, come from the job file (use --model_path and --save_dir of sweep)", command: "sweep")
            }
            if value == nil {
                if index < arguments.count, !arguments[index].hasPrefix("--") {
                    value = arguments[index]
                    index += 1
                } else {
                    value = "true"
                }
            }
            overrides.append((name, value!))
        }
        return (own, overrides)
    }

    private static func runNeedle(_ job: JobFile, saveDirectory: String, modelPath: String, threads: Int,
                                  options: ParsedOptions, context: MPIContext) throws {
        var planned: [(run: JobFile.Run, settings: NeedleSettings)] = []
        for run in job.runs {
            do {
                let (settings, _) = try NeedleSettings.parse(job.arguments(of: run), command: "sweep", specs: NeedleSettings.runSpecs)
                planned.append((run, settings))
            } catch let error as UsageError {
                throw UsageError(message: "job file \(job.path), run \(run.name): \(error.message)"
                    + PipelineSupport.jobFileHint(error.message), command: "sweep")
            }
        }
        let root = URL(fileURLWithPath: saveDirectory)

        if options.has("dry_run") {
            if context.isCoordinator {
                let cells = planned.reduce(0) { $0 + $1.settings.lengths.count * $1.settings.depths.count }
                print("job \(job.path): benchmark needle, model \(modelPath), \(planned.count) runs, \(cells) cells")
                for (run, settings) in planned {
                    print("  \(root.appendingPathComponent(run.name).path): \(settings.lengths.count) lengths x "
                        + "\(settings.depths.count) depths, arguments " + job.arguments(of: run).joined(separator: " "))
                }
            }
            return
        }
        try NeedleSettings.checkModelFile(modelPath)

        let driver = RunDriver(context: context, command: "sweep", itemLabel: "cells")
        driver.retryFailed = options.has("retry_failed")
        let layers = try PipelineSupport.configure(driver, options: options, modelPath: modelPath)
        let outcomes = try driver.execute(modelPath: modelPath, threads: threads) {
            let engine = try NeedleEngine(modelPath: modelPath, threads: threads, settings: planned.map(\.settings),
                                          layers: layers)
            return planned.map { run, settings in
                NeedleRun(name: run.name, directory: root.appendingPathComponent(run.name), settings: settings, engine: engine)
            }
        }
        if context.isCoordinator {
            NeedleRun.printOutcomes(outcomes)
            print("results of \(outcomes.count) runs under \(root.path): heatmap.png, heatmap.svg, summary.json, "
                + "results.jsonl and run_meta.json in each run's directory")
        }
    }
}
