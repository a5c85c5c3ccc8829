/// A cache policy that keeps every token and records, after each decode step, the absolute position on which each
/// query head put its largest attention weight. Retrieval-head probing (`kvfactory headscores`) compares that
/// position with the needle tokens the model copies.
public final class AttentionArgmaxRecorder: CachePolicy {
    public let granularity: CacheGranularity
    /// Global layer indices covered; a pipeline stage records only its own layers.
    public let layers: Range<Int>
    public let queryHeads: Int
    /// Row-major `[layers.count, queryHeads]`; -1 until a decode step has run that layer.
    private var argmaxPositions: [Int]

    public init(layers: Range<Int>, queryHeads: Int, granularity: CacheGranularity = .kvHead) {
        precondition(queryHeads > 0, "query heads must be positive")
        self.layers = layers
        self.queryHeads = queryHeads
        self.granularity = granularity
        argmaxPositions = Array(repeating: -1, count: layers.count * queryHeads)
    }

    public var needsDecodeAttention: Bool { true }

    public func beginSequence(sampleID: UInt64) {
        for index in argmaxPositions.indices { argmaxPositions[index] = -1 }
    }

    public func afterPrefillAttention(_ state: PrefillLayerState) throws {}

    public func afterDecodeStep(_ state: DecodeLayerState) throws {
        guard layers.contains(state.layer) else {
            throw PolicyError.cacheMismatch(layer: state.layer, detail: "the attention recorder covers layers \(layers.lowerBound)..<\(layers.upperBound)")
        }
        guard state.attention.count == queryHeads else {
            throw PolicyError.cacheMismatch(layer: state.layer, detail: "the attention recorder needs weights for \(queryHeads) query heads, got \(state.attention.count)")
        }
        let cache = state.cache
        let rowStart = (state.layer - layers.lowerBound) * queryHeads
        for queryHead in 0..<queryHeads {
            let head = cache.heads[cache.storedHead(forQueryHead: queryHead)]
            let weights = state.attention[queryHead]
            // The first row wins a tie, so the result does not depend on the cache's storage order of equal weights.
            var best = 0
            var bestWeight = -Float.infinity
            for row in 0..<head.count where weights[row] > bestWeight {
                bestWeight = weights[row]
                best = row
            }
            argmaxPositions[rowStart + queryHead] = head.count > 0 ? Int(head.positions[best]) : -1
        }
    }

    /// The position that query head `queryHead` of global layer `layer` attended to most in the last decode step,
    /// or -1 before any step.
    public func argmaxPosition(layer: Int, queryHead: Int) -> Int {
        precondition(layers.contains(layer) && queryHead >= 0 && queryHead < queryHeads,
                     "layer \(layer), head \(queryHead) is outside the recorded \(layers) x 0..<\(queryHeads)")
        return argmaxPositions[(layer - layers.lowerBound) * queryHeads + queryHead]
    }
}
