/// One layer's tensors at the end of prefill, as the transformer hands them to a cache policy.
///
/// The cache holds the full, uncompressed prompt K/V (post-RoPE) for this layer, laid out per stored head
/// according to its granularity.
public struct PrefillLayerState {
    /// Global layer index (pipeline stages pass their global indices).
    public let layer: Int
    /// Layers in the whole model, for per-layer schedules such as PyramidKV's.
    public let layerCount: Int
    public let promptLength: Int
    public let queryHeads: Int
    public let kvHeads: Int
    public let headDim: Int
    /// Post-RoPE queries of every prompt position, row-major `[promptLength, queryHeads * headDim]`,
    /// with head h occupying columns `h*headDim ..< (h+1)*headDim`.
    public let queries: UnsafePointer<Float>
    public let cache: LayerCache

    public init(layer: Int, layerCount: Int, promptLength: Int, queryHeads: Int, kvHeads: Int, headDim: Int,
                queries: UnsafePointer<Float>, cache: LayerCache) {
        self.layer = layer
        self.layerCount = layerCount
        self.promptLength = promptLength
        self.queryHeads = queryHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.queries = queries
        self.cache = cache
    }
}

/// One layer's state after a decode step appended the new token.
public struct DecodeLayerState {
    public let layer: Int
    public let layerCount: Int
    /// The step's post-RoPE query, `[queryHeads * headDim]`.
    public let query: UnsafePointer<Float>
    /// Softmax weights of this step's attention: for query head h, `attention[h]` points to
    /// `cache.heads[cache.storedHead(forQueryHead: h)].count` weights in cache row order.
    public let attention: [UnsafePointer<Float>]
    public let cache: LayerCache
    /// Decode steps taken so far in this sequence, counting this one.
    public let step: Int

    public init(layer: Int, layerCount: Int, query: UnsafePointer<Float>, attention: [UnsafePointer<Float>],
                cache: LayerCache, step: Int) {
        self.layer = layer
        self.layerCount = layerCount
        self.query = query
        self.attention = attention
        self.cache = cache
        self.step = step
    }
}

/// A KV-cache policy as the transformer sees it. FullKV is `nil` (no policy).
public protocol CachePolicy: AnyObject {
    /// Which heads the cache stores.
    var granularity: CacheGranularity { get }

    /// Whether `afterDecodeStep` needs the decode attention weights; when false the transformer passes none.
    var needsDecodeAttention: Bool { get }

    /// Starts a new sequence; `sampleID` seeds stochastic policies so a sample gets the same draws on any rank.
    func beginSequence(sampleID: UInt64)

    /// Runs after the prompt's K/V for this layer are in the cache and before the prefill attention.
    /// CAM merges values here, so the prefill output sees the merged values as in the reference.
    func beforePrefillAttention(_ state: PrefillLayerState) throws

    /// Runs after the prefill attention of this layer, which used the full K/V; compresses the cache.
    func afterPrefillAttention(_ state: PrefillLayerState) throws

    /// Runs after each decode step's attention, per layer.
    func afterDecodeStep(_ state: DecodeLayerState) throws
}

extension CachePolicy {
    public var needsDecodeAttention: Bool { false }
    public func beginSequence(sampleID: UInt64) {}
    public func beforePrefillAttention(_ state: PrefillLayerState) throws {}
    public func afterDecodeStep(_ state: DecodeLayerState) throws {}
}
