import ModelFormats

/// RoPE position scaling as the GGUF metadata describes it.
public enum RopeScaling: Equatable, Sendable {
    case none
    /// Positions divided by `factor` (`rope.scaling.type = linear`).
    case linear(factor: Float)
}

/// The hyperparameters of a Llama-family model, read from the GGUF metadata keys `<arch>.*`.
///
/// Llama, Mistral (which llama.cpp exports with architecture "llama") and Qwen2 share one block:
/// RMSNorm, RoPE, grouped-query attention and a SwiGLU MLP without biases. They differ by flags:
/// Q/K/V biases (Qwen2), a sliding attention window (Mistral v0.1) and RoPE scaling.
public struct ModelConfig: Equatable, Sendable {
    /// `general.architecture`, e.g. "llama" or "qwen2".
    public let architecture: String
    public let blockCount: Int
    /// Trained context length in tokens; prompts and generations beyond it are rejected.
    public let contextLength: Int
    public let hiddenSize: Int
    public let intermediateSize: Int
    public let headCount: Int
    public let kvHeadCount: Int
    public let headDim: Int
    public let vocabularySize: Int
    public let rmsNormEpsilon: Float
    public let ropeBase: Float
    public let ropeScaling: RopeScaling
    /// Whether the file has a `rope_freqs.weight` tensor with per-frequency divisors (Llama 3.1 "llama3" scaling).
    public let hasRopeFrequencyFactors: Bool
    /// Keys visible to a query: its own position and the `slidingWindow - 1` before it; nil for full attention.
    public let slidingWindow: Int?
    /// Whether the LM head reuses the token embedding matrix (no `output.weight` tensor).
    public let tiedEmbeddings: Bool
    /// Whether the Q, K and V projections have bias vectors (Qwen2).
    public let hasQKVBias: Bool
    /// Whether the file stores the Q and K projection rows in llama.cpp's adjacent-pair RoPE order. llama.cpp's
    /// converter permutes them for the "llama" architecture (rope type NORM) and leaves Qwen2 (rope type NEOX) alone.
    public let permutedQK: Bool

    /// Sanity limits against corrupt metadata; real models stay far below them.
    static let maxBlockCount = 1024
    static let maxDimension = 1 << 17
    static let maxContextLength = 1 << 24

    public var queryDim: Int { headCount * headDim }
    public var kvDim: Int { kvHeadCount * headDim }
    public var groupSize: Int { headCount / kvHeadCount }

    public init(gguf: GGUFFile) throws {
        let path = gguf.path
        guard let architecture = gguf.architecture else {
            throw ModelError.missingMetadata(path: path, key: "general.architecture")
        }
        guard Self.isSupported(architecture) else { throw ModelError.unsupportedArchitecture(architecture) }
        self.architecture = architecture
        let prefix = architecture + "."

        func positiveInt(_ key: String, limit: Int) throws -> Int {
            guard let value = gguf.value(prefix + key) else { throw ModelError.missingMetadata(path: path, key: prefix + key) }
            guard let int = value.intValue, int > 0, int <= limit else {
                throw ModelError.invalidMetadata(path: path, key: prefix + key,
                                                 detail: "\(value.summary()) is not an integer in 1...\(limit)")
            }
            return int
        }
        func optionalPositiveInt(_ key: String, limit: Int) throws -> Int? {
            gguf.value(prefix + key) == nil ? nil : try positiveInt(key, limit: limit)
        }
        func positiveFloat(_ key: String, default fallback: Float?) throws -> Float {
            guard let value = gguf.value(prefix + key) else {
                if let fallback { return fallback }
                throw ModelError.missingMetadata(path: path, key: prefix + key)
            }
            guard let float = value.floatValue, float.isFinite, float > 0 else {
                throw ModelError.invalidMetadata(path: path, key: prefix + key, detail: "\(value.summary()) is not a positive number")
            }
            return float
        }

        blockCount = try positiveInt("block_count", limit: Self.maxBlockCount)
        contextLength = try positiveInt("context_length", limit: Self.maxContextLength)
        hiddenSize = try positiveInt("embedding_length", limit: Self.maxDimension)
        intermediateSize = try positiveInt("feed_forward_length", limit: Self.maxDimension * 8)
        headCount = try positiveInt("attention.head_count", limit: Self.maxDimension)
        kvHeadCount = try optionalPositiveInt("attention.head_count_kv", limit: headCount) ?? headCount
        guard headCount % kvHeadCount == 0 else {
            throw ModelError.invalidMetadata(path: path, key: prefix + "attention.head_count_kv",
                                             detail: "\(kvHeadCount) KV heads do not divide \(headCount) query heads")
        }

        let keyLength = try optionalPositiveInt("attention.key_length", limit: Self.maxDimension)
        let valueLength = try optionalPositiveInt("attention.value_length", limit: Self.maxDimension)
        if keyLength == nil, hiddenSize % headCount != 0 {
            throw ModelError.invalidMetadata(path: path, key: prefix + "embedding_length",
                                             detail: "\(hiddenSize) is not a multiple of the \(headCount) heads")
        }
        headDim = keyLength ?? hiddenSize / headCount
        if let valueLength, valueLength != headDim {
            throw ModelError.unsupportedFeature(path: path, feature: "value heads of \(valueLength) channels beside key heads of \(headDim)")
        }
        guard headDim % 2 == 0 else {
            throw ModelError.invalidMetadata(path: path, key: prefix + "attention.key_length", detail: "head dimension \(headDim) is odd, so RoPE cannot pair its channels")
        }
        let ropeDimension = try optionalPositiveInt("rope.dimension_count", limit: Self.maxDimension) ?? headDim
        guard ropeDimension == headDim else {
            throw ModelError.unsupportedFeature(path: path, feature: "partial rotary embedding (\(ropeDimension) of \(headDim) channels)")
        }

        rmsNormEpsilon = try positiveFloat("attention.layer_norm_rms_epsilon", default: nil)
        ropeBase = try positiveFloat("rope.freq_base", default: 10_000)
        ropeScaling = try Self.readRopeScaling(gguf: gguf, prefix: prefix)
        slidingWindow = try optionalPositiveInt("attention.sliding_window", limit: Self.maxContextLength)

        guard let embedding = gguf.tensorInfo("token_embd.weight") else {
            throw ModelError.missingTensor(path: path, name: "token_embd.weight")
        }
        guard embedding.shape.count == 2, embedding.shape[0] == hiddenSize else {
            throw ModelError.tensorShapeMismatch(path: path, name: embedding.name, shape: embedding.shape,
                                                 expected: [hiddenSize, embedding.shape.last ?? 0])
        }
        vocabularySize = embedding.shape[1]
        if let declared = gguf.int(prefix + "vocab_size"), declared != vocabularySize {
            throw ModelError.invalidMetadata(path: path, key: prefix + "vocab_size",
                                             detail: "\(declared) differs from the \(vocabularySize) rows of token_embd.weight")
        }

        tiedEmbeddings = gguf.tensorInfo("output.weight") == nil
        hasQKVBias = gguf.tensorInfo("blk.0.attn_q.bias") != nil
        hasRopeFrequencyFactors = gguf.tensorInfo("rope_freqs.weight") != nil
        permutedQK = architecture == "llama"
    }

    static func isSupported(_ architecture: String) -> Bool {
        ModelError.supportedArchitectures.contains(architecture)
    }

    static func readRopeScaling(gguf: GGUFFile, prefix: String) throws -> RopeScaling {
        let path = gguf.path
        let typeKey = prefix + "rope.scaling.type"
        let factorKey = prefix + "rope.scaling.factor"
        // Older files store only the linear factor under rope.scale_linear.
        if gguf.value(typeKey) == nil, let legacy = gguf.float(prefix + "rope.scale_linear") {
            return legacy == 1 ? .none : .linear(factor: legacy)
        }
        guard let type = gguf.string(typeKey) else { return .none }
        switch type {
        case "none":
            return .none
        case "linear":
            guard let factor = gguf.float(factorKey), factor.isFinite, factor > 0 else {
                throw ModelError.invalidMetadata(path: path, key: factorKey, detail: "linear RoPE scaling needs a positive factor")
            }
            return factor == 1 ? .none : .linear(factor: factor)
        default:
            throw ModelError.unsupportedFeature(path: path, feature: "RoPE scaling type \"\(type)\" (supported: none, linear, and llama3 through rope_freqs)")
        }
    }
}
