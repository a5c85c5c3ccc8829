import Benchmarks
import ChatTemplates
import Cluster
import Foundation
import KVPolicies
import Modeling
import Pipeline
import Report
import Tokenization

/// The model, haystacks and context builders that one rank uses to evaluate needle cells.
/// Runs of a job share one engine, so the model is loaded once per rank.
final class NeedleEngine: PipelineEngine {
    let session: ModelSession
    let generator: Generator
    var pipeline: PipelineRuntime?
    var model: TransformerModel { session.model }
    /// Guards the prompt tables, because a pipeline's first stage runs several cells at once.
    private let lock = NSLock()
    /// The tokenizer's stop tokens and every token whose text contains a newline.
    let stopTokens: Set<Int>
    private var haystacks: [String: NeedleHaystack] = [:]
    private var builders: [String: NeedleContextBuilder] = [:]
    private var caches: [CacheGranularity: KVCache] = [:]
    /// Prompt tokens of each (haystack, needle, question, length, depth), so that runs of a sweep tokenize
    /// each context once per rank.
    private var prompts: [String: [Int]] = [:]

    /// Loads the model and tokenizes the haystack of every run; rejects lengths the model cannot hold.
    init(modelPath: String, threads: Int, settings: [NeedleSettings], layers: Range<Int>? = nil) throws {
        let options = try ParsedOptions(command: "needle", arguments: ["--model_path", modelPath, "--threads", String(threads)],
                                        specs: [CommonOptions.modelPath, CommonOptions.threads])
        session = try ModelSession(options: options, layers: layers)
        generator = Generator(model: session.model)

        let tokenizer = session.tokenizer
        var stops = Set(tokenizer.stopTokenIds)
        for id in 0..<tokenizer.vocabularySize where tokenizer.tokenBytes(id).contains(UInt8(ascii: "\n")) {
            stops.insert(id)
        }
        stopTokens = stops

        let contextLength = session.model.config.contextLength
        var longest: [String: Int] = [:]
        for run in settings {
            let end = run.lengths.max() ?? 0
            guard end <= contextLength else {
                throw UsageError(message: "--e_len \(end) exceeds the context length of \(session.path), "
                    + "\(contextLength) tokens; use --e_len \(contextLength) or less", command: "needle")
            }
            longest[run.haystackDirectory] = max(longest[run.haystackDirectory] ?? 0, end)
        }
        for (directory, tokens) in longest {
            haystacks[directory] = try NeedleHaystack(directory: directory, tokenizer: tokenizer, minimumTokens: tokens)
        }
        for run in settings {
            let builder = try builder(for: run)
            let shortest = run.lengths.min() ?? 0
            guard shortest >= builder.minimumLength else {
                throw UsageError(message: NeedleError.lengthTooShort(length: shortest, minimum: builder.minimumLength - 1).description,
                                 command: "needle")
            }
            // Building one policy checks what validation without the model cannot, such as a HeadKV table
            // that does not match the model's heads, before any cell runs.
            do {
                _ = try PolicySupport.makePolicy(run.policy, config: session.model.config, promptLength: shortest, sampleID: 0)
            } catch let error as PolicyError {
                throw UsageError(message: error.description, command: "needle")
            }
        }
    }

    private func builder(for settings: NeedleSettings) throws -> NeedleContextBuilder {
        let key = settings.haystackDirectory + "\u{0}" + settings.task.needle
        if let builder = builders[key] { return builder }
        guard let haystack = haystacks[settings.haystackDirectory] else {
            throw CommandFailure(message: "internal error: haystack \(settings.haystackDirectory) was not loaded")
        }
        let builder = try NeedleContextBuilder(haystackTokens: haystack.tokens, tokenizer: session.tokenizer,
                                               needle: settings.task.needle, bufferTokens: NeedleSettings.bufferTokens)
        builders[key] = builder
        return builder
    }

    /// SHA-256 of the haystack tokens a run uses, which pins the essays and their order.
    func haystackDigest(for settings: NeedleSettings) -> String {
        let tokens = haystacks[settings.haystackDirectory]?.tokens ?? []
        var bytes: [UInt8] = []
        bytes.reserveCapacity(tokens.count * 4)
        for token in tokens {
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: token).littleEndian) { bytes.append(contentsOf: $0) }
        }
        return StreamingSHA256.hexDigest(bytes)
    }

    /// Returns the chat-formatted prompt of one cell as token ids.
    func prompt(settings: NeedleSettings, length: Int, depth: Int) throws -> [Int] {
        lock.lock()
        defer { lock.unlock() }
        let key = [settings.haystackDirectory, settings.task.needle, settings.task.question, String(length), String(depth)]
            .joined(separator: "\u{0}")
        if let cached = prompts[key] { return cached }
        let context = try builder(for: settings).context(length: length, depthPercent: depth)
        let text = try session.renderChat([ChatMessage(role: "user", content: settings.task.userMessage(context: context.text))])
        let tokens = session.tokenizer.encode(text, addSpecialTokens: true, parseSpecial: true)
        prompts[key] = tokens
        return tokens
    }

    /// A cache of the granularity the method stores, reused from cell to cell.
    func cache(for policy: CachePolicy?) -> KVCache {
        let granularity = policy?.granularity ?? .kvHead
        if let cache = caches[granularity] { return cache }
        let cache = session.model.makeCache(granularity: granularity)
        caches[granularity] = cache
        return cache
    }
}

/// The journal record of one needle cell: one line of results.jsonl.
struct NeedleRecord: Codable {
    var id: String
    var contextLength: Int
    var depthPercent: Double
    var needle: String
    var modelResponse: String?
    /// The reference runner's score: ROUGE-1 F-measure of the response against the needle, times 10.
    var score: Double?
    /// The reference visualiser's score: the share of the expected answer's words found in the response.
    var recall: Double?
    var method: String
    var maxCapacityPrompt: Int?
    var kvCacheBytes: Int?
    var promptTokens: Int?
    var generatedTokens: Int?
    var prefillSeconds: Double?
    var decodeSeconds: Double?
    var stopReason: String?
    var testDurationSeconds: Double
    /// CPU time of the rank's process during the cell, all threads; less than the wall time on a busy machine.
    var cpuSeconds: Double?
    var testTimestampUTC: String
    var rank: Int
    var error: String?

    enum CodingKeys: String, CodingKey {
        case id
        case contextLength = "context_length"
        case depthPercent = "depth_percent"
        case needle
        case modelResponse = "model_response"
        case score, recall, method
        case maxCapacityPrompt = "max_capacity_prompt"
        case kvCacheBytes = "kv_cache_bytes"
        case promptTokens = "prompt_tokens"
        case generatedTokens = "generated_tokens"
        case prefillSeconds = "prefill_seconds"
        case decodeSeconds = "decode_seconds"
        case stopReason = "stop_reason"
        case testDurationSeconds = "test_duration_seconds"
        case cpuSeconds = "cpu_seconds"
        case testTimestampUTC = "test_timestamp_utc"
        case rank, error
    }

    /// Writes every field, null ones included, so that all lines have the same columns.
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(contextLength, forKey: .contextLength)
        try container.encode(depthPercent, forKey: .depthPercent)
        try container.encode(needle, forKey: .needle)
        try container.encode(modelResponse, forKey: .modelResponse)
        try container.encode(score, forKey: .score)
        try container.encode(recall, forKey: .recall)
        try container.encode(method, forKey: .method)
        try container.encode(maxCapacityPrompt, forKey: .maxCapacityPrompt)
        try container.encode(kvCacheBytes, forKey: .kvCacheBytes)
        try container.encode(promptTokens, forKey: .promptTokens)
        try container.encode(generatedTokens, forKey: .generatedTokens)
        try container.encode(prefillSeconds, forKey: .prefillSeconds)
        try container.encode(decodeSeconds, forKey: .decodeSeconds)
        try container.encode(stopReason, forKey: .stopReason)
        try container.encode(testDurationSeconds, forKey: .testDurationSeconds)
        try container.encode(cpuSeconds, forKey: .cpuSeconds)
        try container.encode(testTimestampUTC, forKey: .testTimestampUTC)
        try container.encode(rank, forKey: .rank)
        try container.encode(error, forKey: .error)
    }

    func jsonLine() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

/// One needle run: every (length, depth) cell of one method and budget, written under one directory.
final class NeedleRun: BenchmarkRun {
    let name: String
    let directory: URL
    let settings: NeedleSettings
    let engine: NeedleEngine
    let items: [RunItem]
    let resultOptions: [String: String]
    private let cells: [String: (length: Int, depth: Int)]

    var deviations: [String] { NeedleRun.deviations }

    /// Deliberate differences from the reference needle runner, also listed in docs/methods.md.
    static let deviations = [
        "The prompt is the model's chat template around a user message with the document and the question, "
            + "not the reference's plain-text frame.",
        "The observation window is --window_size (default 8) for every method; the reference needle runner "
            + "uses 32 for all but PyramidKV.",
        "StreamingLLM keeps --start_size sinks and B - start_size recent tokens, as in the other reference "
            + "runners; the reference needle runner keeps 32 recent tokens.",
        "Generation stops on every token whose text contains a newline, not only on the single newline token.",
        "The sentence boundary for the needle is any token whose text ends in '.', '!' or '?', not fixed "
            + "token ids.",
        "Results go directly under --save_dir; cell files are named len_<L>_depth_<D>.json with D in percent.",
    ]

    init(name: String, directory: URL, settings: NeedleSettings, engine: NeedleEngine) {
        self.name = name
        self.directory = directory
        self.settings = settings
        self.engine = engine
        var items: [RunItem] = []
        var cells: [String: (Int, Int)] = [:]
        for length in settings.lengths {
            for depth in settings.depths {
                let id = Self.cellID(length: length, depth: depth)
                items.append(RunItem(id: id, cost: Double(length)))
                cells[id] = (length, depth)
            }
        }
        self.items = items
        self.cells = cells
        var options = settings.resultOptions
        options["haystack_tokens_sha256"] = engine.haystackDigest(for: settings)
        resultOptions = options
    }

    static func cellID(length: Int, depth: Int) -> String {
        "len_\(length)_depth_\(depth)"
    }

    // MARK: Work, on any rank

    func perform(_ item: RunItem, rank: Int) throws -> Data {
        guard let cell = cells[item.id] else {
            throw CommandFailure(message: "run \(name) has no cell '\(item.id)'")
        }
        let started = Date()
        let startedCPU = processCPUSeconds()
        let prompt = try engine.prompt(settings: settings, length: cell.length, depth: cell.depth)
        let sampleID = UInt64(cell.length) << 8 | UInt64(cell.depth)
        let policy = try PolicySupport.makePolicy(settings.policy, config: engine.session.model.config,
                                                  promptLength: prompt.count, sampleID: sampleID)
        let result: GenerationResult
        if let pipeline = engine.pipeline {
            let header = SequenceHeader(policyKey: name, sampleID: sampleID, promptLength: prompt.count)
            result = try pipeline.generate(prompt: prompt, maxNewTokens: NeedleSettings.maxNewTokens,
                                           stopTokens: engine.stopTokens, header: header, policy: policy)
        } else {
            result = try engine.generator.generate(prompt: prompt, maxNewTokens: NeedleSettings.maxNewTokens,
                                                   stopTokens: engine.stopTokens, cache: engine.cache(for: policy),
                                                   policy: policy, sampleID: sampleID)
        }
        var generated = result.tokens
        if case .stopToken = result.stopReason { generated.removeLast() }
        let response = engine.session.tokenizer.decode(generated, skipSpecialTokens: true)
            .trimmingCharacters(in: .whitespacesAndNewlines)

        let record = NeedleRecord(
            id: item.id, contextLength: cell.length, depthPercent: Double(cell.depth), needle: settings.task.needle,
            modelResponse: response,
            score: NeedleScore.runnerScore(response: response, needle: settings.task.needle),
            recall: NeedleScore.recall(response: response, expectedAnswer: settings.task.expectedAnswer),
            method: settings.policy.method, maxCapacityPrompt: settings.recordedBudget, kvCacheBytes: result.kvCacheBytes,
            promptTokens: prompt.count, generatedTokens: generated.count, prefillSeconds: result.prefillSeconds,
            decodeSeconds: result.decodeSeconds, stopReason: result.stopReason.description,
            testDurationSeconds: Date().timeIntervalSince(started), cpuSeconds: processCPUSeconds() - startedCPU,
            testTimestampUTC: RunMetadata.timestamp(), rank: rank, error: nil)
        return try record.jsonLine()
    }

    func stagePolicy(for header: SequenceHeader) throws -> CachePolicy? {
        try PolicySupport.makePolicy(settings.policy, config: engine.session.model.config,
                                     promptLength: header.promptLength, sampleID: header.sampleID)
    }

    var pipelineEngine: PipelineEngine { engine }

    // MARK: Recording, on rank 0

    func failureRecord(_ item: RunItem, error: String, rank: Int, seconds: Double) throws -> Data {
        let cell = cells[item.id] ?? (0, 0)
        let record = NeedleRecord(
            id: item.id, contextLength: cell.length, depthPercent: Double(cell.depth), needle: settings.task.needle,
            method: settings.policy.method, maxCapacityPrompt: settings.recordedBudget, testDurationSeconds: seconds,
            testTimestampUTC: RunMetadata.timestamp(), rank: rank, error: error)
        return try record.jsonLine()
    }

    /// The reference runner's per-cell file, with our recall and cache fields added.
    private struct CellFile: Encodable {
        let model: String
        let modelVersion: String
        let contextLength: Int
        let depthPercent: Double
        let version = 1
        let needle: String
        let modelResponse: String
        let score: Double
        let recall: Double
        let method: String
        let maxCapacityPrompt: Int?
        let kvCacheBytes: Int
        let testDurationSeconds: Double
        let testTimestampUTC: String

        enum CodingKeys: String, CodingKey {
            case model
            case modelVersion = "model_version"
            case contextLength = "context_length"
            case depthPercent = "depth_percent"
            case version, needle
            case modelResponse = "model_response"
            case score, recall, method
            case maxCapacityPrompt = "max_capacity_prompt"
            case kvCacheBytes = "kv_cache_bytes"
            case testDurationSeconds = "test_duration_seconds"
            case testTimestampUTC = "test_timestamp_utc"
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(model, forKey: .model)
            try container.encode(modelVersion, forKey: .modelVersion)
            try container.encode(contextLength, forKey: .contextLength)
            try container.encode(depthPercent, forKey: .depthPercent)
            try container.encode(version, forKey: .version)
            try container.encode(needle, forKey: .needle)
            try container.encode(modelResponse, forKey: .modelResponse)
            try container.encode(score, forKey: .score)
            try container.encode(recall, forKey: .recall)
            try container.encode(method, forKey: .method)
            try container.encode(maxCapacityPrompt, forKey: .maxCapacityPrompt)
            try container.encode(kvCacheBytes, forKey: .kvCacheBytes)
            try container.encode(testDurationSeconds, forKey: .testDurationSeconds)
            try container.encode(testTimestampUTC, forKey: .testTimestampUTC)
        }
    }

    func didRecord(_ record: Data) throws {
        let cell = try JSONDecoder().decode(NeedleRecord.self, from: record)
        guard let response = cell.modelResponse, let score = cell.score, let recall = cell.recall else { return }
        let file = CellFile(model: engine.session.path, modelVersion: modelVersion, contextLength: cell.contextLength,
                            depthPercent: cell.depthPercent, needle: cell.needle, modelResponse: response, score: score,
                            recall: recall, method: cell.method, maxCapacityPrompt: cell.maxCapacityPrompt,
                            kvCacheBytes: cell.kvCacheBytes ?? 0, testDurationSeconds: cell.testDurationSeconds,
                            testTimestampUTC: cell.testTimestampUTC)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let path = directory.appendingPathComponent("cells/\(cell.id).json").path
        try writeFileAtomically(try encoder.encode(file) + Data("\n".utf8), to: path)
    }

    private var modelVersion: String {
        settings.modelVersion ?? URL(fileURLWithPath: engine.session.path).deletingPathExtension().lastPathComponent
    }

    // MARK: Summary, on rank 0

    func finish(records: [String: Data]) throws -> [String] {
        let decoder = JSONDecoder()
        var cellsByID: [String: NeedleRecord] = [:]
        for (id, line) in records where cells[id] != nil {
            cellsByID[id] = try decoder.decode(NeedleRecord.self, from: line)
        }
        let summary = NeedleSummary(settings: settings, model: URL(fileURLWithPath: engine.session.path).lastPathComponent,
                                    modelVersion: modelVersion, records: cellsByID)
        let summaryPath = directory.appendingPathComponent("summary.json").path
        try writeFileAtomically(try summary.json(), to: summaryPath)

        let pngPath = directory.appendingPathComponent("heatmap.png").path
        let svgPath = directory.appendingPathComponent("heatmap.svg").path
        try Heatmap.write(summary.heatmap(), pngPath: pngPath, svgPath: svgPath)
        return [summaryPath, pngPath, svgPath]
    }

    /// Prints each run's mean scores and output files, for rank 0 at the end of a job.
    static func printOutcomes(_ outcomes: [RunDriver.RunOutcome]) {
        for outcome in outcomes {
            let summaryPath = outcome.directory.appendingPathComponent("summary.json")
            var line = "\(outcome.name):"
            if let data = try? Data(contentsOf: summaryPath),
               let summary = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                let recall = (summary["mean_recall"] as? Double).map { String(format: "%.3f", $0) } ?? "n/a"
                let score = (summary["mean_score"] as? Double).map { String(format: "%.2f", $0) } ?? "n/a"
                line += " mean recall \(recall), mean score \(score) (ROUGE-1 F x10)"
                if let failed = summary["cells_failed"] as? Int, failed > 0 { line += ", \(failed) cells failed" }
            }
            print(line)
            for output in outcome.outputs where output.hasSuffix(".png") || output.hasSuffix("summary.json") {
                print("  \(output)")
            }
        }
    }
}

