import Benchmarks
import Foundation
import KVPolicies
import Modeling
import Pipeline

/// One LongBench run: the selected samples of one method and budget, written under `<model>_<budget>/`.
///
/// Rank 0 appends each prediction to the run's journal (`runs/<Method>/results.jsonl`) as it arrives. When
/// every sample of a dataset is recorded, it writes `<dataset>/<Method>.json` in the reference's order,
/// atomically, so a prediction file is never partial: a dataset with a failed or missing sample has none.
/// The folder's `run_meta.json` gathers the run_meta.json of every method under `runs/`.
final class LongBenchRun: BenchmarkRun {
    let plan: LongBenchRunPlan
    let engine: LongBenchEngine
    let items: [RunItem]
    private let samples: [String: LongBenchSample]
    /// Sample ids of each dataset in the reference's order.
    private let datasetOrder: [(dataset: String, ids: [String])]

    // Rank 0 state, filled from the journal on the first recorded item.
    private var recorded: [String: Data]?
    private var scoreSums: [String: (total: Double, count: Int)] = [:]
    private var writtenDatasets = Set<String>()

    var name: String { plan.name }
    var directory: URL { plan.directory }
    var stateDirectory: URL { plan.stateDirectory }
    var resultOptions: [String: String] { plan.resultOptions }
    var deviations: [String] { plan.deviations }

    init(plan: LongBenchRunPlan, engine: LongBenchEngine) {
        self.plan = plan
        self.engine = engine
        items = plan.samples.map { RunItem(id: $0.id, cost: $0.cost) }
        samples = Dictionary(uniqueKeysWithValues: plan.samples.map { ($0.id, $0) })
        var order: [(String, [String])] = []
        for sample in plan.samples {
            if order.last?.0 == sample.dataset {
                order[order.count - 1].1.append(sample.id)
            } else {
                order.append((sample.dataset, [sample.id]))
            }
        }
        datasetOrder = order
    }

    // MARK: Work, on any rank

    func perform(_ item: RunItem, rank: Int) throws -> Data {
        guard let sample = samples[item.id] else {
            throw CommandFailure(message: "run \(name) has no sample '\(item.id)'")
        }
        let prompt = try engine.prompt(for: sample, plan: plan)
        let sampleID = Self.sampleSeed(item.id)
        let policy = try PolicySupport.makePolicy(plan.settings.policy, config: engine.session.model.config,
                                                  promptLength: prompt.tokens.count, sampleID: sampleID)
        let stops = LongBenchProtocol.stopTokens(dataset: sample.dataset, tokenizer: engine.session.tokenizer)
        let generation = try engine.generate(prompt: prompt.tokens, maxNewTokens: sample.maxNewTokens, stopTokens: stops,
                                             policy: policy, sampleID: sampleID, policyKey: name)
        let text = engine.session.tokenizer.decode(generation.tokens, skipSpecialTokens: true)

        let prediction = LongBenchPrediction(record: sample.record, prompt: prompt.prompt, prediction: text,
                                             kvCacheBytes: generation.kvCacheBytes, prefillSeconds: generation.prefillSeconds,
                                             decodeSeconds: generation.decodeSeconds)
        let extra: [(String, Any)] = [
            ("id", item.id), ("rank", rank), ("prompt_tokens", prompt.tokens.count),
            ("original_prompt_tokens", prompt.originalTokenCount), ("truncated", prompt.truncated),
            ("chat_template", prompt.chatTemplateApplied), ("generated_tokens", generation.tokens.count),
            ("stop_reason", generation.stopReason.description),
        ]
        return try Self.journalLine(prediction.jsonLine(), appending: extra)
    }

    func stagePolicy(for header: SequenceHeader) throws -> CachePolicy? {
        try PolicySupport.makePolicy(plan.settings.policy, config: engine.session.model.config,
                                     promptLength: header.promptLength, sampleID: header.sampleID)
    }

    var pipelineEngine: PipelineEngine { engine }

    /// Returns a sample's seed for stochastic policies (CAM): FNV-1a of its id, so it is the same on every rank.
    static func sampleSeed(_ id: String) -> UInt64 {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in id.utf8 {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01B3
        }
        return value
    }

    /// Appends `fields` to the JSON object `line`, keeping its text, so the prediction fields stay byte for
    /// byte as `LongBenchPrediction.jsonLine` wrote them.
    static func journalLine(_ line: String, appending fields: [(String, Any)]) throws -> Data {
        var text = line
        guard text.last == "}" else { throw CommandFailure(message: "internal error: prediction line is not a JSON object") }
        text.removeLast()
        for (key, value) in fields {
            let encoded = try JSONSerialization.data(withJSONObject: [value], options: [.withoutEscapingSlashes])
            text += ", \(Self.quote(key)): " + String(decoding: encoded.dropFirst().dropLast(), as: UTF8.self)
        }
        return Data((text + "}").utf8)
    }

    private static func quote(_ key: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [key], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }

    // MARK: Recording, on rank 0

    func failureRecord(_ item: RunItem, error: String, rank: Int, seconds: Double) throws -> Data {
        let sample = samples[item.id]
        let object: [String: Any] = [
            "id": item.id, "dataset": sample?.dataset ?? "", "_id": sample?.record.id ?? "", "error": error, "rank": rank,
            "seconds": seconds,
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    func didRecord(_ record: Data) throws {
        try loadJournalIfNeeded()
        let summary = try LongBenchPredictionSummary.decode(record, path: journalPath, line: 0)
        let id = "\(summary.dataset)/\(summary.id)"
        guard samples[id] != nil else { return }
        let isNew = recorded?[id] == nil
        recorded?[id] = record
        if isNew { addScore(summary) }
        try writeIfComplete(dataset: summary.dataset)
    }

    var progressDetail: String? {
        let parts = datasetOrder.compactMap { entry -> String? in
            guard let sums = scoreSums[entry.dataset], sums.count > 0 else { return nil }
            let mean = String(format: "%.1f", 100 * sums.total / Double(sums.count))
            return "\(entry.dataset) \(mean) (\(sums.count)/\(entry.ids.count))"
        }
        return parts.isEmpty ? nil : "score " + parts.joined(separator: ", ")
    }

    private var journalPath: String { stateDirectory.appendingPathComponent("results.jsonl").path }

    /// Reads the predictions recorded by earlier sessions, for the running scores and the dataset files.
    private func loadJournalIfNeeded() throws {
        guard recorded == nil else { return }
        var latest: [String: Data] = [:]
        if let text = try? Data(contentsOf: URL(fileURLWithPath: journalPath)) {
            for line in text.split(separator: UInt8(ascii: "\n")) {
                guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                      let id = object["id"] as? String, samples[id] != nil else { continue }
                if object["error"] == nil || object["error"] is NSNull {
                    latest[id] = Data(line)
                } else {
                    latest.removeValue(forKey: id)
                }
            }
        }
        recorded = latest
        for (index, line) in latest.values.enumerated() {
            addScore(try LongBenchPredictionSummary.decode(line, path: journalPath, line: index + 1))
        }
    }

    /// Adds a sample to the running score of its dataset; a sample the metric cannot score counts as 0.
    private func addScore(_ summary: LongBenchPredictionSummary) {
        let score = (try? summary.score()) ?? 0
        let sums = scoreSums[summary.dataset] ?? (0, 0)
        scoreSums[summary.dataset] = (sums.total + score, sums.count + 1)
    }

    /// Writes a dataset's prediction file once every selected sample of it is recorded.
    @discardableResult
    private func writeIfComplete(dataset: String) throws -> String? {
        guard !writtenDatasets.contains(dataset), let ids = datasetOrder.first(where: { $0.dataset == dataset })?.ids,
              let recorded else { return nil }
        var lines: [String] = []
        for id in ids {
            guard let line = recorded[id] else { return nil }
            let prediction = try LongBenchPrediction.decode(line, path: journalPath, line: 0)
            lines.append(prediction.jsonLine())
        }
        let path = LongBenchLayout.predictionFile(runDirectory: directory, dataset: dataset, method: plan.method).path
        try LongBenchPredictionFile.write(lines: lines, to: path)
        writtenDatasets.insert(dataset)
        return path
    }

    /// Writes `<model>_<budget>/run_meta.json`, where the reference keeps it, as `{"format": 1, "runs":
    /// {"<Method>": <runs/<Method>/run_meta.json>, ...}}` for every method of the folder.
    func didWriteMetadata() throws {
        let runsFolder = directory.appendingPathComponent("runs")
        var runs: [String: Any] = [:]
        for method in (try? FileManager.default.contentsOfDirectory(atPath: runsFolder.path)) ?? [] {
            let path = runsFolder.appendingPathComponent(method).appendingPathComponent(RunMetadata.fileName)
            guard let data = try? Data(contentsOf: path), let object = try? JSONSerialization.jsonObject(with: data) else { continue }
            runs[method] = object
        }
        let document: [String: Any] = ["format": 1, "runs": runs]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try writeFileAtomically(data + Data("\n".utf8), to: directory.appendingPathComponent(RunMetadata.fileName).path)
    }

    // MARK: Summary, on rank 0

    func finish(records: [String: Data]) throws -> [String] {
        recorded = records.filter { id, line in
            guard samples[id] != nil,
                  let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else { return false }
            return object["error"] == nil || object["error"] is NSNull
        }
        var outputs: [String] = []
        for (dataset, ids) in datasetOrder {
            let path = LongBenchLayout.predictionFile(runDirectory: directory, dataset: dataset, method: plan.method).path
            if writtenDatasets.contains(dataset) {
                outputs.append(path)
            } else if try writeIfComplete(dataset: dataset) != nil {
                outputs.append(path)
            } else {
                let done = ids.filter { recorded?[$0] != nil }.count
                printError("longbench: \(name): \(dataset) has \(done) of \(ids.count) predictions, so \(path) is not written; "
                    + "rerun the same command to complete it" + (done < ids.count ? " (add --retry_failed to rerun failed samples)" : ""))
            }
        }
        return outputs
    }

    /// Prints each run's prediction files and their scores, for rank 0 at the end of a job.
    static func printOutcomes(_ outcomes: [RunDriver.RunOutcome]) {
        for outcome in outcomes {
            let failed = outcome.counts.failed > 0 ? ", \(outcome.counts.failed) failed" : ""
            print("\(outcome.name): \(outcome.counts.succeeded) samples generated now, \(outcome.counts.recordedBefore) "
                + "recorded before\(failed)")
            for path in outcome.outputs {
                let dataset = URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent
                let score = (try? ScoreReport.scorePredictionFile(path: path, dataset: dataset)).map { String(format: "%.2f", $0) } ?? "n/a"
                print("  \(dataset.padding(toLength: 22, withPad: " ", startingAt: 0)) \(score.padding(toLength: 7, withPad: " ", startingAt: 0)) \(path)")
            }
        }
        if let first = outcomes.first {
            print("Score every method of a run folder with: kvfactory score --results_dir \(first.directory.path)")
        }
    }
}
