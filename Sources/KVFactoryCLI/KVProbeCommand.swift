import Foundation
import KVPolicies
import ModelFormats
import Modeling
import Tokenization

/// `kvfactory kvprobe`: applies one method to one layer's post-RoPE Q/K/V and writes which positions each stored
/// head keeps, for comparison with other implementations.
enum KVProbeCommand {
    static let ownSpecs: [OptionSpec] = [
        .value("layer", "L", "global index of the layer the tensors belong to (PyramidKV and HeadKV budgets depend on it)"),
        .value("num_layers", "N", "layers in the model; required with --input, the model's count with --prompt_file"),
        .value("input", "FILE", "safetensors file with float32 q [1, H, n, d], k and v [1, Hkv, n, d], post-RoPE, rotate-half layout"),
        CommonOptions.modelPath,
        .value("prompt_file", "FILE", "capture layer L's tensors from a model run on this text instead of --input"),
        .value("prompt_tokens", "N", "with --prompt_file: keep only the first N tokens of the text"),
        .value("out", "FILE", "output JSON with kept_positions per stored head (and kept_channels for ThinK)"),
        .value("dump_kv", "FILE", "also write the compressed K/V, after any merge, as k.<head> and v.<head> in safetensors"),
        .value("save_qkv", "FILE", "with --prompt_file: also write the captured q, k, v in the --input layout"),
        .value("sample_id", "ID", "sample id that seeds CAM's draws together with --seed (default 0)"),
        CommonOptions.threads,
    ]
    static let specs = ownSpecs + PolicySupport.helpSpecs
    static let help = helpText(command: "kvprobe", synopsis: "--method M [policy options] --layer L (--input FILE --num_layers N | --prompt_file FILE [--model_path FILE]) --out FILE [--dump_kv FILE]",
                               summary: "Apply a compression method to one layer's post-RoPE tensors and write the kept absolute positions per stored head, in ascending order. Positions 0..<n are the prompt tokens.",
                               specs: specs)

    struct Output: Encodable {
        let method: String
        let options: [String: String]
        let layer: Int
        let num_layers: Int
        let prompt_tokens: Int
        let query_heads: Int
        let kv_heads: Int
        let head_dim: Int
        let kv_cache_granularity: String
        /// Nil for FullKV, which has no budget.
        let budget: Int?
        let kept_positions: [[Int]]
        let kept_channels: [[Int]]?
        let kv_cache_bytes: Int
    }

    static func run(arguments: [String]) throws {
        var remaining = arguments
        var policyOptions = try PolicySupport.parse(&remaining, command: "kvprobe")
        let options = try ParsedOptions(command: "kvprobe", arguments: remaining, specs: ownSpecs)
        guard let layer = try options.int("layer"), layer >= 0 else {
            throw UsageError(message: "--layer L is required and must be >= 0", command: "kvprobe")
        }
        let outPath = try options.require("out")
        let sampleID = try options.int("sample_id", default: 0, minimum: 0)

        let input: CapturedLayer
        switch (options.string("input"), options.string("prompt_file")) {
        case (let path?, nil):
            guard let layerCount = try options.int("num_layers"), layerCount > 0 else {
                throw UsageError(message: "--num_layers N is required with --input and must be positive", command: "kvprobe")
            }
            input = try readInput(path: path, layerCount: layerCount)
            // A tensor file names no model, so the default model's head table does not apply to it.
            let explicitHeadPath = arguments.contains { $0 == "--head_path" || $0.hasPrefix("--head_path=") }
            if !explicitHeadPath { policyOptions.headPath = nil }
        case (nil, let path?):
            input = try capture(promptPath: path, layer: layer, options: options)
            if let path = options.string("save_qkv") { try input.write(to: path) }
        default:
            throw UsageError(message: "give exactly one of --input FILE or --prompt_file FILE", command: "kvprobe")
        }
        guard layer < input.layerCount else {
            throw UsageError(message: "--layer \(layer) is outside the model's layers 0..<\(input.layerCount)", command: "kvprobe")
        }

        let promptLength = input.q.shape.count == 4 ? input.q.shape[2] : 0
        try policyOptions.validate(promptLength: promptLength)
        let result: ProbeResult
        do {
            result = try probeCompression(method: policyOptions, layer: layer, layerCount: input.layerCount,
                                          q: input.q, k: input.k, v: input.v, sampleID: UInt64(sampleID))
        } catch let error as PolicyError {
            guard case .invalidProbeTensor = error, let path = options.string("input") else { throw error }
            throw CommandFailure(message: "\(path): \(error); the file needs float32 q [1, H, n, d] and k, v [1, Hkv, n, d] with H a multiple of Hkv")
        }

        let output = Output(method: policyOptions.method, options: policyOptions.resultAffectingDescription, layer: layer,
                            num_layers: input.layerCount, prompt_tokens: promptLength, query_heads: input.q.shape[1],
                            kv_heads: input.k.shape[1], head_dim: result.headDim,
                            kv_cache_granularity: result.granularity.rawValue,
                            budget: policyOptions.method == "fullkv" ? nil : result.budget,
                            kept_positions: result.keptPositions, kept_channels: result.keptChannels,
                            kv_cache_bytes: result.cacheBytes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try writeAtomically(try encoder.encode(output), to: outPath)

        if let dumpPath = options.string("dump_kv") {
            let tensors = result.namedTensors.map { SafetensorsWriter.Tensor(name: $0.name, shape: $0.shape, values: $0.values) }
            try SafetensorsWriter.write(tensors, metadata: ["method": policyOptions.method, "layer": String(layer)], to: dumpPath)
        }
        let kept = result.keptPositions.map(\.count)
        printError("kvprobe: \(policyOptions.method) on layer \(layer) of \(promptLength) tokens keeps \(kept.min() ?? 0)...\(kept.max() ?? 0) entries per stored head, \(formatBytes(result.cacheBytes)); wrote \(outPath)")
    }

    /// One layer's q, k and v in the probe layout, and the model's layer count.
    struct CapturedLayer {
        let q: ProbeTensor
        let k: ProbeTensor
        let v: ProbeTensor
        let layerCount: Int
        /// The prompt's token ids when the tensors come from a model run.
        var tokens: [Int]? = nil

        /// Writes q, k and v, with the token ids as comma-separated `tokens` metadata when known, so that another
        /// implementation can run the same prompt.
        func write(to path: String) throws {
            var metadata: [String: String] = [:]
            if let tokens { metadata["tokens"] = tokens.map(String.init).joined(separator: ",") }
            try SafetensorsWriter.write([
                .init(name: "q", shape: q.shape, values: q.values),
                .init(name: "k", shape: k.shape, values: k.values),
                .init(name: "v", shape: v.shape, values: v.values),
            ], metadata: metadata, to: path)
        }
    }

    /// Reads q, k and v; their dtype and rank are checked here, their sizes against each other by `probeCompression`.
    static func readInput(path: String, layerCount: Int) throws -> CapturedLayer {
        let file = try SafetensorsFile(path: path)
        func tensor(_ name: String) throws -> ProbeTensor {
            let (shape, values) = try file.float32Tensor(named: name, expectedShape: [1, nil, nil, nil])
            return ProbeTensor(shape: shape, values: values)
        }
        return CapturedLayer(q: try tensor("q"), k: try tensor("k"), v: try tensor("v"), layerCount: layerCount)
    }

    /// Runs the model's layers 0...layer on the prompt and returns that layer's post-RoPE tensors. Later layers are
    /// neither loaded nor run.
    static func capture(promptPath: String, layer: Int, options: ParsedOptions) throws -> CapturedLayer {
        let modelPath = options.string("model_path") ?? Defaults.modelPath
        let threads = try options.int("threads", default: Defaults.threads, minimum: 1)
        let text = try ModelSession.readPromptFile(promptPath)
        let file = try GGUFFile(path: modelPath)
        let config = try ModelConfig(gguf: file)
        if let layerCount = try options.int("num_layers"), layerCount != config.blockCount {
            throw UsageError(message: "--num_layers \(layerCount) differs from the \(config.blockCount) layers of \(modelPath); omit it with --prompt_file", command: "kvprobe")
        }
        guard layer < config.blockCount else {
            throw UsageError(message: "--layer \(layer) is outside the model's layers 0..<\(config.blockCount)", command: "kvprobe")
        }
        let tokenizer = try Tokenizer(gguf: file)
        var tokens = tokenizer.encode(text, addSpecialTokens: true, parseSpecial: false)
        if let limit = try options.int("prompt_tokens") {
            guard limit > 0, limit <= tokens.count else {
                throw UsageError(message: "--prompt_tokens \(limit) is outside 1...\(tokens.count), the token count of \(promptPath)", command: "kvprobe")
            }
            tokens = Array(tokens.prefix(limit))
        }

        let model = try TransformerModel(gguf: file, layers: 0..<(layer + 1), threads: threads)
        let recorder = LayerCapture(layer: layer)
        let cache = model.makeCache(granularity: recorder.granularity)
        var hidden = try model.embed(tokens: tokens)
        try model.prefillLayers(hidden: &hidden, tokenCount: tokens.count, cache: cache, policy: recorder)
        guard let captured = recorder.captured else {
            throw CommandFailure(message: "layer \(layer) was not reached while running \(modelPath)")
        }
        return CapturedLayer(q: captured.q, k: captured.k, v: captured.v, layerCount: config.blockCount, tokens: tokens)
    }
}

/// A cache policy that compresses nothing and copies one layer's post-RoPE tensors at prefill, in the probe layout.
final class LayerCapture: CachePolicy {
    let layer: Int
    private(set) var captured: (q: ProbeTensor, k: ProbeTensor, v: ProbeTensor)?

    init(layer: Int) {
        self.layer = layer
    }

    /// One stored head per KV head, so k and v come out as [1, Hkv, n, d].
    var granularity: CacheGranularity { .kvHead }

    func beforePrefillAttention(_ state: PrefillLayerState) throws {
        guard state.layer == layer else { return }
        let n = state.promptLength, d = state.headDim, heads = state.queryHeads
        var q = [Float](repeating: 0, count: heads * n * d)
        for head in 0..<heads {
            for row in 0..<n {
                let source = state.queries + (row * heads + head) * d
                for channel in 0..<d { q[(head * n + row) * d + channel] = source[channel] }
            }
        }
        var k: [Float] = []
        var v: [Float] = []
        k.reserveCapacity(state.kvHeads * n * d)
        v.reserveCapacity(state.kvHeads * n * d)
        for head in state.cache.heads {
            // The cache contains exactly this prompt, so its rows are positions 0..<n in order.
            k += UnsafeBufferPointer(start: head.keys, count: n * d)
            v += UnsafeBufferPointer(start: head.values, count: n * d)
        }
        captured = (ProbeTensor(shape: [1, heads, n, d], values: q),
                    ProbeTensor(shape: [1, state.kvHeads, n, d], values: k),
                    ProbeTensor(shape: [1, state.kvHeads, n, d], values: v))
    }

    func afterPrefillAttention(_ state: PrefillLayerState) throws {}
}
