import Cluster
import Foundation
import Modeling
import Pipeline

/// Runs several benchmark runs as one MPI job: every item of every run is scheduled across all ranks
/// together, most expensive first, and rank 0 records each result in its run's journal as it arrives.
///
/// Per run state directory (the run directory unless the run names another), rank 0 keeps `results.jsonl` (the journal: append, then fsync; a torn last line is
/// cut off on resume), `run_options.json` (the options that affect results and their hash; a resume with
/// other values is rejected, naming them) and `run_meta.json` (see `RunMetadata`). Items already in the
/// journal are skipped, so rerunning the same command resumes an interrupted job.
final class RunDriver {
    struct RunOutcome {
        let name: String
        let directory: URL
        let counts: ItemCounts
        /// Files that the run's `finish` wrote.
        let outputs: [String]
    }

    let context: MPIContext
    /// Subcommand name for messages and run_meta.json, such as "needle" or "sweep".
    let command: String
    /// Noun for the items in the progress line, such as "cells".
    let itemLabel: String
    /// Reruns items whose latest record is an error instead of skipping them.
    var retryFailed = false
    /// Pipeline parallelism: with 2 or more stages, the runs' engines must hold this rank's stage of the model.
    var pipeline = PipelineSettings()
    /// The layers of each stage, set with `pipeline` when it has 2 or more stages.
    var pipelinePartition: LayerPartition?
    var schedulerConfiguration = WorkScheduler.Configuration()
    /// The progress detail of the run that recorded the latest item; written and read on rank 0's result thread.
    private var latestDetail = ""
    private var openRunCount = 0

    init(context: MPIContext, command: String, itemLabel: String) {
        self.context = context
        self.command = command
        self.itemLabel = itemLabel
        if let timeout = Self.heartbeatTimeout() { schedulerConfiguration.heartbeatTimeout = timeout }
    }

    /// Seconds of silence after which a rank counts as hung, from KVFACTORY_HEARTBEAT_TIMEOUT (default 30).
    /// Raise it on machines where ranks may be descheduled for long; tests lower it.
    static func heartbeatTimeout(environment: [String: String] = ProcessInfo.processInfo.environment) -> Double? {
        guard let raw = environment["KVFACTORY_HEARTBEAT_TIMEOUT"], let seconds = Double(raw), seconds.isFinite,
              seconds >= 2 else { return nil }
        return seconds
    }

    /// One run's journal, metadata and pending items, kept on rank 0.
    private final class OpenRun {
        let run: BenchmarkRun
        let journal: ResultJournal
        var metadata: RunMetadata
        var counts: ItemCounts
        let pending: [RunItem]

        init(run: BenchmarkRun, journal: ResultJournal, metadata: RunMetadata, counts: ItemCounts, pending: [RunItem]) {
            self.run = run
            self.journal = journal
            self.metadata = metadata
            self.counts = counts
            self.pending = pending
        }
    }

    /// Prepares the runs on every rank, then runs all their items. Collective: every rank calls it.
    ///
    /// `prepare` loads what the work needs (the model, the data) and builds the runs; it must build the
    /// same runs on every rank. When it fails on any rank, every rank throws before work starts.
    /// Returns the outcome of each run on rank 0 and an empty array on the other ranks.
    func execute(modelPath: String, threads: Int, prepare: () throws -> [BenchmarkRun]) throws -> [RunOutcome] {
        let started = Date()
        let startedMonotonic = ProcessInfo.processInfo.systemUptime
        var runs: [BenchmarkRun] = []
        var preparationError: Error?
        do {
            runs = try prepare()
            try Self.checkUnique(runs)
        } catch {
            preparationError = error
        }
        let world = try WorldInfo.gather(context: context, threads: threads, preparationError: preparationError)
        let topology = try PipelineSupport.topology(context: context, settings: pipeline, command: command)

        let opened = try context.onCoordinator { () throws -> [OpenRun] in
            try open(runs, modelPath: modelPath, world: world, started: started)
        } ?? []
        openRunCount = opened.count
        // After the journals are open, so that a rejected resume stops every rank before the stages connect.
        let runtime = try startPipeline(runs: runs, topology: topology)

        var lookup: [String: (run: BenchmarkRun, item: RunItem)] = [:]
        for run in runs {
            for item in run.items { lookup[Self.schedulerID(run, item)] = (run, item) }
        }
        let workItems = opened.flatMap { open in
            open.pending.map { WorkItem(id: Self.schedulerID(open.run, $0), cost: $0.cost) }
        }
        let progress = context.isCoordinator ? makeProgress(opened) : nil
        let openByName = Dictionary(uniqueKeysWithValues: opened.map { ($0.run.name, $0) })

        // An error of rank 0 while recording (a full disk) ends the scheduling there. It is rethrown inside
        // the collective below, so that the other ranks stop with it instead of waiting for rank 0.
        var schedulingError: Error?
        let scheduler = WorkScheduler(context: context, configuration: schedulerConfiguration)
        do {
            _ = try scheduler.run(items: workItems, workers: topology.leaders,
                                  slots: topology.isPipelined ? pipeline.effectiveMicrobatches : 1, work: { [context] workItem in
                guard let entry = lookup[workItem.id] else {
                    throw CommandFailure(message: "rank \(context.rank) has no item '\(workItem.id)'; every rank must run "
                        + "the same kvfactory build with the same arguments")
                }
                return try entry.run.perform(entry.item, rank: context.rank)
            }, onResult: { result in
                guard let entry = lookup[result.item.id], let open = openByName[entry.run.name] else {
                    throw CommandFailure(message: "received a result for unknown item '\(result.item.id)'; every rank "
                        + "must run the same kvfactory build with the same arguments")
                }
                try self.record(result, item: entry.item, open: open, progress: progress)
            })
        } catch {
            schedulingError = error
        }
        if let runtime {
            try finishPipeline(runtime, runs: runs, lookup: lookup)
        }
        progress?.finish()
        if let runtime {
            let statistics = try runtime.gatherStatistics()
            let info = PipelineSupport.metadata(settings: pipeline, topology: topology, partition: pipelinePartition,
                                                statistics: statistics)
            for open in opened { open.metadata.session.pipeline = info }
            if let statistics, context.isCoordinator { logActivations(statistics) }
        }

        let outcomes = try context.onCoordinator { () throws -> [RunOutcome] in
            if let schedulingError { throw schedulingError }
            return try opened.map { try finish($0, startedMonotonic: startedMonotonic) }
        }
        return outcomes ?? []
    }

    // MARK: Pipeline

    /// Gives the runs' engine a pipeline runtime when the job has 2 or more stages. Collective.
    private func startPipeline(runs: [BenchmarkRun], topology: PipelineTopology) throws -> PipelineRuntime? {
        guard topology.isPipelined else { return nil }
        let comm = try context.duplicate()
        guard let engine = runs.first?.pipelineEngine else {
            throw CommandFailure(message: "a pipeline needs at least one run")
        }
        let runtime = try PipelineRuntime(comm: comm, topology: topology, settings: pipeline, model: engine.model,
                                          heartbeatInterval: schedulerConfiguration.heartbeatInterval,
                                          heartbeatTimeout: schedulerConfiguration.heartbeatTimeout)
        for run in runs { run.pipelineEngine.pipeline = runtime }
        let model = engine.model
        printError("\(command): rank \(context.rank): replica \(topology.replica) stage \(topology.stage) of \(topology.stages), "
            + "layers \(model.layers.lowerBound)-\(model.layers.upperBound - 1)"
            + (model.hasEmbedding ? ", embedding" : "") + (model.hasHead ? ", LM head" : "")
            + ", weights \(formatBytes(model.weightBytes))")
        return runtime
    }

    /// Lets the later stages serve until their first stage has run out of items, then stops them.
    private func finishPipeline(_ runtime: PipelineRuntime, runs: [BenchmarkRun],
                                lookup: [String: (run: BenchmarkRun, item: RunItem)]) throws {
        if runtime.topology.isFirstStage {
            try runtime.stopStages()
            return
        }
        let byName = Dictionary(runs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        try runtime.serve { header in
            guard let run = byName[header.policyKey] else {
                throw CommandFailure(message: "no run named '\(header.policyKey)'; every rank must run the same kvfactory "
                    + "build with the same arguments")
            }
            return try run.stagePolicy(for: header)
        }
    }

    private func logActivations(_ statistics: ActivationCodecStats) {
        let ratio = statistics.sentBytes > 0 ? statistics.compressionRatio : 1
        printError("\(command): activations between stages: \(formatBytes(statistics.rawBytes)) as fp32, "
            + "\(formatBytes(statistics.sentBytes)) sent (\(pipeline.activationEncoding.rawValue), "
            + "\(pipeline.activationCompression.rawValue)), ratio \(String(format: "%.2f", ratio)), "
            + "\(String(format: "%.2f", statistics.encodeSeconds + statistics.decodeSeconds)) s encoding and decoding")
    }

    // MARK: Rank 0

    private func open(_ runs: [BenchmarkRun], modelPath: String, world: WorldInfo, started: Date) throws -> [OpenRun] {
        let model = try ModelFileInfo.describe(path: modelPath)
        let revision = SourceRevision.current()
        let versions = LibraryVersions.current()
        var opened: [OpenRun] = []
        for run in runs {
            try FileManager.default.createDirectory(at: run.stateDirectory, withIntermediateDirectories: true)
            var options = run.resultOptions
            options["model_file"] = model.fileName
            options["model_sha256"] = model.sha256
            if pipeline.stages > 1 && pipeline.activationEncoding != .fp32 {
                // Lossy activations between stages can change predictions; fp32 cannot.
                options["activation_dtype"] = pipeline.activationEncoding.rawValue
            }
            let lock = try OptionsLock.acquire(directory: run.stateDirectory, options: options,
                                               metadata: ["command": command, "run": run.name])
            let journal = try ResultJournal(url: run.stateDirectory.appendingPathComponent("results.jsonl"))
            if journal.discardedBytes > 0 {
                printError("\(command): \(run.name): discarded a torn last line (\(journal.discardedBytes) bytes) "
                    + "of \(journal.url.path)")
            }

            let known = Set(run.items.map(\.id))
            let recorded = journal.recordedIDs.intersection(known)
            let pending = run.items.filter { item in
                !recorded.contains(item.id) || (retryFailed && journal.failedIDs.contains(item.id))
            }
            let counts = ItemCounts(total: run.items.count, recordedBefore: run.items.count - pending.count)
            let session = RunSession(arguments: CommandLine.arguments, gitCommit: revision.commit, gitDirty: revision.dirty,
                                     versions: versions, world: world, startedAt: RunMetadata.timestamp(started),
                                     finishedAt: nil, wallSeconds: nil, items: counts)
            var metadata = RunMetadata(command: command, run: run.name, optionsHash: lock.hash, resultOptions: options,
                                       model: model, deviations: run.deviations, session: session)
            if lock.resumed { metadata.loadEarlierSessions(directory: run.stateDirectory) }
            try metadata.write(directory: run.stateDirectory)
            try run.didWriteMetadata()
            opened.append(OpenRun(run: run, journal: journal, metadata: metadata, counts: counts, pending: pending))
        }

        let total = opened.reduce(0) { $0 + $1.counts.total }
        let recorded = opened.reduce(0) { $0 + $1.counts.recordedBefore }
        printError("\(command): \(opened.count) run\(opened.count == 1 ? "" : "s"), \(total) \(itemLabel)"
            + (recorded > 0 ? " (\(recorded) already recorded, resuming)" : "") + "; \(world.summary)")
        return opened
    }

    private func makeProgress(_ opened: [OpenRun]) -> ProgressReporter {
        var totalCost = 0.0
        var doneCost = 0.0
        var total = 0
        var done = 0
        for open in opened {
            let pendingIDs = Set(open.pending.map(\.id))
            for item in open.run.items {
                total += 1
                totalCost += item.cost
                if !pendingIDs.contains(item.id) {
                    done += 1
                    doneCost += item.cost
                }
            }
        }
        let reporter = ProgressReporter(label: itemLabel, total: total, alreadyDone: done, totalCost: totalCost,
                                        alreadyDoneCost: doneCost)
        reporter.detail = { [unowned self] in self.latestDetail }
        return reporter
    }

    private func record(_ result: WorkResult, item: RunItem, open: OpenRun, progress: ProgressReporter?) throws {
        let line: Data
        switch result.outcome {
        case .success(let bytes):
            line = bytes
        case .failure(let message):
            printError("\(command): \(open.run.name): \(item.id) failed on rank \(result.rank): \(message)")
            line = try open.run.failureRecord(item, error: message, rank: result.rank, seconds: result.seconds)
        }
        try open.journal.append(jsonLine: line)
        if result.isSuccess {
            open.counts.succeeded += 1
            try open.run.didRecord(line)
        } else {
            open.counts.failed += 1
        }
        if let detail = open.run.progressDetail {
            latestDetail = openRunCount > 1 ? "\(open.run.name): \(detail)" : detail
        }
        progress?.record(cost: item.cost, failed: !result.isSuccess)
    }

    private func finish(_ open: OpenRun, startedMonotonic: TimeInterval) throws -> RunOutcome {
        let records = try Self.latestRecords(open.journal)
        let outputs = try open.run.finish(records: records)
        open.metadata.session.finishedAt = RunMetadata.timestamp()
        open.metadata.session.wallSeconds = ProcessInfo.processInfo.systemUptime - startedMonotonic
        open.metadata.session.items = open.counts
        try open.metadata.write(directory: open.run.stateDirectory)
        try open.run.didWriteMetadata()
        return RunOutcome(name: open.run.name, directory: open.run.directory, counts: open.counts, outputs: outputs)
    }

    // MARK: Helpers

    /// Returns the latest journal line of each id; a rerun of a failed item supersedes its error record.
    static func latestRecords(_ journal: ResultJournal) throws -> [String: Data] {
        var records: [String: Data] = [:]
        for line in journal.lines {
            guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                  let id = object[journal.idKey] as? String else { continue }
            records[id] = line
        }
        return records
    }

    private static func schedulerID(_ run: BenchmarkRun, _ item: RunItem) -> String {
        "\(run.name)/\(item.id)"
    }

    private static func checkUnique(_ runs: [BenchmarkRun]) throws {
        var names = Set<String>()
        var directories = Set<String>()
        for run in runs {
            guard names.insert(run.name).inserted, directories.insert(run.stateDirectory.standardizedFileURL.path).inserted else {
                throw CommandFailure(message: "two runs share the name or directory '\(run.name)'; give each run its own "
                    + "method, budget or name")
            }
            var ids = Set<String>()
            for item in run.items where !ids.insert(item.id).inserted {
                throw CommandFailure(message: "run \(run.name) lists item '\(item.id)' twice")
            }
        }
    }
}
