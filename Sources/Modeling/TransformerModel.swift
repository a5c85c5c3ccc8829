import Foundation
import KVPolicies
import ModelFormats
import TensorKernels

/// A Llama-family transformer (Llama, Mistral, Qwen2) on the CPU, with float32 weights and a per-head KV cache.
///
/// For pipeline parallelism an instance may load only a contiguous range of layers. The token embedding
/// lives on the stage that starts at layer 0, and the final norm and LM head on the stage that ends at the
/// last layer. Each stage reads only its own tensors. Between stages the hidden state is float32,
/// `[tokens, hiddenSize]` at prefill and `[hiddenSize]` at decode. A model with all layers runs the three
/// steps together through `prefill` and `decode`.
///
/// An instance runs one sequence at a time: decode uses buffers owned by the model.
public final class TransformerModel {
    public let config: ModelConfig
    /// The global indices of the layers this instance holds.
    public let layers: Range<Int>
    /// Threads for BLAS and for the model's own parallel loops.
    public let threads: Int

    let blocks: [LayerWeights]
    /// Token embedding `[vocabularySize, hiddenSize]`, present on the first stage: resident in a whole model,
    /// read from the memory map in a first stage without the last layer.
    let embedding: TokenEmbedding?
    /// Final RMSNorm weights, present on the last stage.
    let outputNorm: FloatBuffer?
    /// LM head `[vocabularySize, hiddenSize]`, present on the last stage; the embedding matrix itself when tied.
    let outputHead: WeightMatrix?
    let rope: RotaryEmbedding
    let decodeBuffers: DecodeBuffers
    /// Prefill buffers of the largest prefill so far, reused so repeated prefills do not fault in fresh pages.
    var cachedPrefillScratch: PrefillScratch?
    /// `processedTokens` of each cache at the end of its last prefill, to number decode steps for the policies.
    var prefillEnds: [ObjectIdentifier: Int] = [:]

    /// Loads the layers `layers` (all when nil) of a GGUF model and dequantizes their weights to float32.
    ///
    /// A first stage without the last layer keeps `gguf` open and dequantizes token embedding rows from its
    /// memory map on each lookup, so that only the last stage keeps the (tied) embedding matrix in float32.
    ///
    /// - Parameter threads: threads for loading and running; nil uses `Threading.defaultThreadCount()`.
    public init(gguf: GGUFFile, layers requested: Range<Int>? = nil, threads: Int? = nil) throws {
        let config = try ModelConfig(gguf: gguf)
        self.config = config
        let layers = requested ?? 0..<config.blockCount
        guard !layers.isEmpty, layers.lowerBound >= 0, layers.upperBound <= config.blockCount else {
            throw ModelError.invalidLayerRange(layers, blockCount: config.blockCount)
        }
        self.layers = layers
        let threads = max(1, threads ?? Threading.defaultThreadCount())
        self.threads = threads
        Threading.setBLASThreads(threads)

        let isFirst = layers.lowerBound == 0
        let isLast = layers.upperBound == config.blockCount
        let hidden = config.hiddenSize
        var loader = WeightLoader(gguf: gguf, config: config)

        // The tied LM head needs the dequantized matrix. A first stage without the head reads rows from the
        // memory map instead, so the embedding is resident on one stage only.
        var embeddingMatrix: WeightMatrix?
        if isLast && config.tiedEmbeddings || isFirst && isLast {
            let matrix = WeightMatrix(rows: config.vocabularySize, columns: hidden)
            try loader.addMatrix("token_embd.weight", columns: hidden, rows: config.vocabularySize, into: matrix.values)
            embeddingMatrix = matrix
        }
        if isFirst {
            if let embeddingMatrix {
                embedding = .resident(embeddingMatrix)
            } else {
                let tensor = try loader.lookup("token_embd.weight", expectedShape: [hidden, config.vocabularySize])
                embedding = .mapped(try MappedMatrixRows(file: gguf, tensor: tensor, rows: config.vocabularySize,
                                                         columns: hidden))
            }
        } else {
            embedding = nil
        }
        var outputNorm: FloatBuffer?
        var outputHead: WeightMatrix?
        if isLast {
            let norm = FloatBuffer(count: hidden)
            try loader.addVector("output_norm.weight", count: hidden, into: norm.pointer)
            outputNorm = norm
            if config.tiedEmbeddings {
                outputHead = embeddingMatrix
            } else {
                let matrix = WeightMatrix(rows: config.vocabularySize, columns: hidden)
                try loader.addMatrix("output.weight", columns: hidden, rows: config.vocabularySize, into: matrix.values)
                outputHead = matrix
            }
        }
        self.outputNorm = outputNorm
        self.outputHead = outputHead

        var blocks: [LayerWeights] = []
        for layer in layers {
            let weights = LayerWeights(config: config)
            try Self.schedule(layer: layer, weights: weights, config: config, loader: &loader)
            blocks.append(weights)
        }
        self.blocks = blocks

        var frequencyFactors: [Float]?
        if config.hasRopeFrequencyFactors {
            let factors = FloatBuffer(count: config.headDim / 2)
            try loader.addVector("rope_freqs.weight", count: config.headDim / 2, into: factors.pointer)
            try loader.run(threads: threads)
            frequencyFactors = Array(factors.buffer)
            guard frequencyFactors!.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw ModelError.invalidMetadata(path: gguf.path, key: "rope_freqs.weight", detail: "the RoPE frequency factors must be positive and finite")
            }
        } else {
            try loader.run(threads: threads)
        }
        var linearFactor: Float = 1
        if case .linear(let factor) = config.ropeScaling { linearFactor = factor }
        rope = RotaryEmbedding(headDim: config.headDim, base: config.ropeBase, linearFactor: linearFactor,
                               frequencyFactors: frequencyFactors)
        decodeBuffers = DecodeBuffers(config: config, hasHead: isLast)
    }

    /// Schedules the tensors of block `layer` into `weights`.
    static func schedule(layer: Int, weights: LayerWeights, config: ModelConfig, loader: inout WeightLoader) throws {
        let d = config.hiddenSize
        let block = "blk.\(layer)."
        let qRows = config.queryDim, kvRows = config.kvDim
        let qkv = weights.qkv.values
        let unpermute = config.permutedQK ? config.headDim : nil
        try loader.addVector(block + "attn_norm.weight", count: d, into: weights.attentionNorm.pointer)
        try loader.addMatrix(block + "attn_q.weight", columns: d, rows: qRows, into: qkv, unpermuteHeadDim: unpermute)
        try loader.addMatrix(block + "attn_k.weight", columns: d, rows: kvRows, into: qkv + qRows * d, unpermuteHeadDim: unpermute)
        try loader.addMatrix(block + "attn_v.weight", columns: d, rows: kvRows, into: qkv + (qRows + kvRows) * d)
        if let bias = weights.qkvBias {
            try loader.addVector(block + "attn_q.bias", count: qRows, into: bias.pointer, unpermuteHeadDim: unpermute)
            try loader.addVector(block + "attn_k.bias", count: kvRows, into: bias.pointer + qRows, unpermuteHeadDim: unpermute)
            try loader.addVector(block + "attn_v.bias", count: kvRows, into: bias.pointer + qRows + kvRows)
        }
        try loader.addMatrix(block + "attn_output.weight", columns: config.queryDim, rows: d, into: weights.attentionOutput.values)
        try loader.addVector(block + "ffn_norm.weight", count: d, into: weights.mlpNorm.pointer)
        let f = config.intermediateSize
        try loader.addMatrix(block + "ffn_gate.weight", columns: d, rows: f, into: weights.gateUp.values)
        try loader.addMatrix(block + "ffn_up.weight", columns: d, rows: f, into: weights.gateUp.values + f * d)
        try loader.addMatrix(block + "ffn_down.weight", columns: f, rows: d, into: weights.down.values)
    }

    /// Convenience: opens `path` and loads the model.
    public convenience init(path: String, layers: Range<Int>? = nil, threads: Int? = nil) throws {
        try self.init(gguf: try GGUFFile(path: path), layers: layers, threads: threads)
    }

    /// Whether this instance has the token embedding, because its first layer is layer 0.
    public var hasEmbedding: Bool { embedding != nil }
    /// Whether this instance has the final norm and LM head, because its last layer is the model's last.
    public var hasHead: Bool { outputHead != nil }

    /// Bytes of dequantized float32 weights this instance keeps in memory. A tied embedding counts once, and
    /// embedding rows read from the memory map count nothing. `LayerPartition.weightBytes` computes the same
    /// figure from the configuration.
    public var weightBytes: Int {
        var total = blocks.reduce(0) { $0 + $1.byteCount }
        var embeddingMatrix: WeightMatrix?
        if case .resident(let matrix) = embedding {
            embeddingMatrix = matrix
            total += matrix.byteCount
        }
        if let outputHead, outputHead !== embeddingMatrix { total += outputHead.byteCount }
        if let outputNorm { total += outputNorm.count * 4 }
        return total
    }

    /// Creates an empty KV cache for this instance's layers, numbered with their global indices.
    public func makeCache(granularity: CacheGranularity = .kvHead) -> KVCache {
        KVCache(layerCount: layers.count, queryHeads: config.headCount, kvHeads: config.kvHeadCount,
                headDim: config.headDim, granularity: granularity, firstLayer: layers.lowerBound)
    }

    // MARK: Validation shared by prefill and decode

    func validate(cache: KVCache, policy: CachePolicy?) throws {
        guard cache.layers.count == layers.count else {
            throw ModelError.cacheMismatch(detail: "it has \(cache.layers.count) layers, this model instance \(layers.count)")
        }
        if let first = cache.layers.first {
            guard first.layer == layers.lowerBound else {
                throw ModelError.cacheMismatch(detail: "its first layer is \(first.layer), this instance starts at \(layers.lowerBound)")
            }
            guard first.headDim == config.headDim, first.queryHeads == config.headCount, first.kvHeads == config.kvHeadCount else {
                throw ModelError.cacheMismatch(detail: "its heads are \(first.queryHeads) query / \(first.kvHeads) KV of \(first.headDim) channels, the model's \(config.headCount) / \(config.kvHeadCount) of \(config.headDim)")
            }
        }
        if let policy, policy.granularity != cache.granularity {
            throw ModelError.granularityMismatch(cache: cache.granularity.rawValue, policy: policy.granularity.rawValue)
        }
    }

    func validate(token: Int) throws {
        guard token >= 0, token < config.vocabularySize else {
            throw ModelError.tokenOutOfRange(token: token, vocabularySize: config.vocabularySize)
        }
    }
}
