import Cluster
import Foundation
import ModelFormats
import Modeling
import Tokenization

/// `kvfactory bench-activations`: size, speed and error of the activation codecs on real hidden states
/// captured at a pipeline stage boundary.
enum ActivationBenchCommand {
    static let specs: [OptionSpec] = [
        CommonOptions.modelPath,
        .value("prompt_file", "FILE", "text whose first --prompt_tokens tokens form the prefill, and the next --decode_steps tokens the decode inputs"),
        .value("prompt_tokens", "N", "prefill rows captured (default 2048)"),
        .value("decode_steps", "K", "decode steps captured, one hidden state each (default 32)"),
        .value("pipeline_stages", "S", "stages of the partition, at least 2 (default 2)"),
        .value("layer_split", "A-B,C-D", "inclusive layer ranges per stage (default: balanced by weight bytes)"),
        .value("stage", "I", "capture what stage I sends to stage I+1 (default 0)"),
        .value("chunk_tokens", "C", "prefill rows per message (default 512)"),
        .value("dtypes", "LIST", "comma-separated encodings among fp32, bf16, fp16 (default all)"),
        .value("compressions", "LIST", "comma-separated compressions among none, zstd (default both)"),
        .value("zstd_levels", "LIST", "comma-separated zstd levels (default 1,3,9)"),
        .value("repeat", "R", "encode and decode passes; speeds are medians over them (default 5)"),
        CommonOptions.threads,
        .flag("json", "print one JSON object instead of a table"),
    ]
    static let help = helpText(command: "bench-activations",
                               synopsis: "[--model_path FILE] --prompt_file FILE [--prompt_tokens N] [--decode_steps K] [--pipeline_stages S] [--layer_split A-B,C-D] [--json]",
                               summary: "Capture the hidden states that a pipeline stage sends to the next one, for the prefill rows of a prompt and for decode steps, then encode them with every chosen dtype, compression and zstd level. Prints bytes sent against raw fp32 bytes, encode and decode speed in MB/s of raw fp32 bytes (1 MB = 10^6 bytes), and the largest absolute error after decoding. The model loads only the layers up to the boundary, so the peak RSS is that of those stages.",
                               specs: specs)

    struct Row: Encodable {
        let phase: String
        let dtype: String
        let compression: String
        let zstd_level: Int?
        let messages: Int
        let raw_fp32_bytes: Int
        let sent_bytes: Int
        /// sent_bytes / raw_fp32_bytes.
        let sent_over_raw: Double
        let encode_mb_s: Double
        let decode_mb_s: Double
        /// Largest absolute activation among the phase's messages, to put max_abs_error in scale.
        let max_abs_value: Float
        let max_abs_error: Float
    }

    struct Report: Encodable {
        let model: String
        let prompt_file: String
        let prompt_tokens: Int
        let decode_steps: Int
        let chunk_tokens: Int
        let layer_split: String
        let stage: Int
        /// Global index of the last layer whose output is captured.
        let boundary_after_layer: Int
        let stage_weight_bytes: [Int]
        let single_rank_weight_bytes: Int
        /// Weight bytes of the loaded model (layers 0 through boundary_after_layer), from the model itself.
        let loaded_weight_bytes: Int
        let peak_rss_bytes: Int
        let threads: Int
        let passes: Int
        let load_average: String
        let rows: [Row]
    }

    static func run(arguments: [String]) throws {
        let options = try ParsedOptions(command: "bench-activations", arguments: arguments, specs: specs)
        let promptPath = try options.require("prompt_file")
        let promptTokens = try options.int("prompt_tokens", default: 2048, minimum: 1)
        let decodeSteps = try options.int("decode_steps", default: 32, minimum: 0)
        let stageCount = try options.int("pipeline_stages", default: 2, minimum: 2)
        let stage = try options.int("stage", default: 0, minimum: 0)
        let chunkTokens = try options.int("chunk_tokens", default: 512, minimum: 1)
        let repeats = try options.int("repeat", default: 5, minimum: 1)
        let threads = try options.int("threads", default: Defaults.threads, minimum: 1)
        let encodingNames = ActivationEncoding.allCases.map(\.rawValue)
        let encodings = try parseList(options, "dtypes", default: encodingNames,
                                      accepted: encodingNames.joined(separator: ", ")) { ActivationEncoding(rawValue: $0) }
        let compressionNames = ActivationCompression.allCases.map(\.rawValue)
        let compressions = try parseList(options, "compressions", default: compressionNames,
                                         accepted: compressionNames.joined(separator: ", ")) { ActivationCompression(rawValue: $0) }
        let range = ActivationCodec.levelRange
        let levels = try parseList(options, "zstd_levels", default: ["1", "3", "9"],
                                   accepted: "integers in \(range.lowerBound)...\(range.upperBound)") { text -> Int32? in
            guard let level = Int32(text), ActivationCodec.levelRange.contains(level) else { return nil }
            return level
        }

        let modelPath = options.string("model_path") ?? Defaults.modelPath
        let file = try GGUFFile(path: modelPath)
        let config = try ModelConfig(gguf: file)
        let partition: LayerPartition
        if let split = options.string("layer_split") {
            partition = try LayerPartition.parse(split, blockCount: config.blockCount, stages: stageCount)
        } else {
            partition = try LayerPartition.balanced(config: config, stages: stageCount)
        }
        guard stage < stageCount - 1 else {
            throw UsageError(message: "--stage \(stage) has no next stage among \(stageCount) stages; use 0...\(stageCount - 2)",
                             command: "bench-activations")
        }

        let text = try ModelSession.readPromptFile(promptPath)
        let tokenizer = try Tokenizer(gguf: file)
        let tokens = tokenizer.encode(text, addSpecialTokens: true, parseSpecial: false)
        guard tokens.count >= promptTokens + decodeSteps else {
            throw CommandFailure(message: "\(promptPath) has only \(tokens.count) tokens; --prompt_tokens \(promptTokens) and --decode_steps \(decodeSteps) need \(promptTokens + decodeSteps); pass a longer file or lower them")
        }
        guard promptTokens + decodeSteps <= config.contextLength else {
            throw ModelError.promptTooLong(tokens: promptTokens + decodeSteps, context: config.contextLength)
        }

        let boundary = partition.ranges[stage].upperBound
        let model = try TransformerModel(gguf: file, layers: 0..<boundary, threads: threads)
        let captured = try capture(model: model, tokens: tokens, promptTokens: promptTokens, decodeSteps: decodeSteps)
        let prefillChunks = stride(from: 0, to: promptTokens, by: chunkTokens).map { start in
            Array(captured.prefill[(start * config.hiddenSize)..<(min(promptTokens, start + chunkTokens) * config.hiddenSize)])
        }

        var rows: [Row] = []
        for encoding in encodings {
            for compression in compressions {
                let rowLevels: [Int32?] = compression == .zstd ? levels.map { $0 } : [nil]
                for level in rowLevels {
                    let codec = try ActivationCodec(encoding: encoding, compression: compression,
                                                    level: level ?? ActivationCodec.defaultZstdLevel)
                    rows.append(try measure(codec: codec, phase: "prefill", messages: prefillChunks, repeats: repeats,
                                            level: level))
                    if decodeSteps > 0 {
                        rows.append(try measure(codec: codec, phase: "decode", messages: captured.decode, repeats: repeats,
                                                level: level))
                    }
                }
            }
        }

        let report = Report(model: modelPath, prompt_file: promptPath, prompt_tokens: promptTokens, decode_steps: decodeSteps,
                            chunk_tokens: chunkTokens, layer_split: partition.description, stage: stage,
                            boundary_after_layer: boundary - 1,
                            stage_weight_bytes: partition.stageWeightBytes(config: config),
                            single_rank_weight_bytes: LayerPartition.weightBytes(config: config, layers: 0..<config.blockCount),
                            loaded_weight_bytes: model.weightBytes, peak_rss_bytes: peakResidentBytes(),
                            threads: model.threads,
                            passes: repeats, load_average: loadAverage(), rows: rows)
        if options.has("json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            printTable(report)
        }
    }

    /// Runs the prefill and the decode steps through `model` and returns the hidden states after its last
    /// layer: `[promptTokens, hiddenSize]` from the prefill, then one `[hiddenSize]` vector per decode step.
    /// Decode steps take the file's next tokens as inputs, so the capture needs no LM head.
    static func capture(model: TransformerModel, tokens: [Int], promptTokens: Int,
                        decodeSteps: Int) throws -> (prefill: [Float], decode: [[Float]]) {
        let cache = model.makeCache()
        let prompt = Array(tokens.prefix(promptTokens))
        var hidden = try model.embed(tokens: prompt)
        try model.prefillLayers(hidden: &hidden, tokenCount: prompt.count, cache: cache, policy: nil)
        var decode: [[Float]] = []
        for token in tokens[promptTokens..<(promptTokens + decodeSteps)] {
            try model.embedDecode(token: token)
            try model.decodeLayers(cache: cache, policy: nil)
            decode.append(Array(model.decodeHidden))
        }
        return (hidden, decode)
    }

    /// Encodes and decodes every message `repeats` times; speeds are medians over the passes.
    static func measure(codec: ActivationCodec, phase: String, messages: [[Float]], repeats: Int,
                        level: Int32?) throws -> Row {
        var encodeSeconds: [Double] = []
        var decodeSeconds: [Double] = []
        var stats = codec.stats
        var maxError: Float = 0
        var maxValue: Float = 0
        for message in messages {
            for value in message { maxValue = max(maxValue, abs(value)) }
        }
        for _ in 0..<repeats {
            codec.resetStats()
            maxError = 0
            for message in messages {
                let frame = try codec.encode(message)
                let decoded = try codec.decode(frame)
                for (original, restored) in zip(message, decoded) { maxError = max(maxError, abs(original - restored)) }
            }
            stats = codec.stats
            encodeSeconds.append(stats.encodeSeconds)
            decodeSeconds.append(stats.decodeSeconds)
        }
        let megabytes = Double(stats.rawBytes) / 1e6
        return Row(phase: phase, dtype: codec.encoding.rawValue, compression: codec.compression.rawValue,
                   zstd_level: level.map { Int($0) }, messages: stats.encodedMessages, raw_fp32_bytes: stats.rawBytes,
                   sent_bytes: stats.sentBytes, sent_over_raw: Double(stats.sentBytes) / Double(stats.rawBytes),
                   encode_mb_s: megabytes / BenchCommand.median(encodeSeconds),
                   decode_mb_s: megabytes / BenchCommand.median(decodeSeconds), max_abs_value: maxValue,
                   max_abs_error: maxError)
    }

    static func parseList<T>(_ options: ParsedOptions, _ name: String, default fallback: [String], accepted: String,
                             _ convert: (String) -> T?) throws -> [T] {
        let items = options.string(name).map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } ?? fallback
        return try items.map { item in
            guard let value = convert(item.trimmingCharacters(in: .whitespaces)) else {
                throw UsageError(message: "--\(name) has the invalid item '\(item)'; accepted values are \(accepted)",
                                 command: "bench-activations")
            }
            return value
        }
    }

    /// Returns the 1, 5 and 15 minute load averages from /proc/loadavg, or "unknown".
    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func printTable(_ report: Report) {
        print("model \(report.model), \(report.prompt_tokens) prefill rows in chunks of \(report.chunk_tokens), \(report.decode_steps) decode steps, \(report.threads) threads, \(report.passes) passes, load average \(report.load_average)")
        print("partition \(report.layer_split): hidden states after layer \(report.boundary_after_layer)")
        let single = Double(report.single_rank_weight_bytes)
        let perStage = report.stage_weight_bytes.enumerated().map { index, bytes in
            String(format: "stage %d %@ (%.1f%%)", index, formatBytes(bytes), 100 * Double(bytes) / single)
        }
        print("weights: single rank \(formatBytes(report.single_rank_weight_bytes)); " + perStage.joined(separator: "; "))
        print("loaded layers 0-\(report.boundary_after_layer): weights \(formatBytes(report.loaded_weight_bytes)), peak RSS \(formatBytes(report.peak_rss_bytes))")
        print("")
        print("phase    dtype  compression level  messages   raw fp32 B      sent B  sent/raw  encode MB/s  decode MB/s    max |x|  max abs error")
        for row in report.rows {
            let level = row.zstd_level.map(String.init) ?? "-"
            let names = row.phase.padding(toLength: 9, withPad: " ", startingAt: 0)
                + row.dtype.padding(toLength: 7, withPad: " ", startingAt: 0)
                + row.compression.padding(toLength: 12, withPad: " ", startingAt: 0)
                + String(repeating: " ", count: max(0, 5 - level.count)) + level
            print(names + String(format: " %9d %12d %11d %9.3f %12.0f %12.0f %10.1f  %.3g", row.messages,
                                 row.raw_fp32_bytes, row.sent_bytes, row.sent_over_raw, row.encode_mb_s, row.decode_mb_s,
                                 Double(row.max_abs_value), Double(row.max_abs_error)))
        }
    }
}
