/// Decode-time eviction for one layer (`--compress_during_decode`). Every `--decode_compress_interval` steps, a stored
/// head above its target drops back to it, so between evictions a head contains at most target + interval - 1 entries.
/// The target is what the head kept at prefill, or B when the prompt was shorter than the budget.
final class DecodeTracker {
    let rule: DecodeRule
    let options: PolicyOptions
    let queryHeads: Int
    let headDim: Int
    /// Entries each stored head returns to at an eviction.
    private(set) var targets: [Int]
    /// H2O: per query head, the attention each entry of its stored head has received, in cache row order.
    private(set) var accumulated: [[Float]] = []
    /// SnapKV and PyramidKV: the w most recent queries, oldest first, `[count, queryHeads * headDim]`.
    private var recentQueries: [Float] = []
    private var recentPositions: [Int32] = []

    init(rule: DecodeRule, state: PrefillLayerState, options: PolicyOptions, accumulated prefillSums: [[Float]]?,
         selection: Selection?) throws {
        self.rule = rule
        self.options = options
        queryHeads = state.queryHeads
        headDim = state.headDim
        let cache = state.cache
        let budget = options.budget(forPromptLength: state.promptLength)
        targets = selection == nil ? Array(repeating: budget, count: cache.heads.count) : cache.heads.map(\.count)

        switch rule {
        case .accumulatedAttention:
            let sums = prefillSums ?? AccumulatedAttentionScorer.columnSums(state)
            accumulated = (0..<queryHeads).map { queryHead in
                let storedHead = cache.storedHead(forQueryHead: queryHead)
                var row: [Float]
                if let selection {
                    row = selection.keptRows(ofHead: storedHead).map { sums[queryHead][$0] }
                } else {
                    row = sums[queryHead]
                }
                row.reserveCapacity(targets[storedHead] + options.decodeCompressInterval + 1)
                return row
            }
        case .recentQueries:
            let stride = queryHeads * headDim
            let window = min(options.windowSize, state.promptLength)
            recentQueries.reserveCapacity(options.windowSize * stride)
            for row in (state.promptLength - window)..<state.promptLength {
                recentQueries.append(contentsOf: UnsafeBufferPointer(start: state.queries + row * stride, count: stride))
                recentPositions.append(Int32(row))
            }
        case .rollingWindow:
            break
        }
    }

    /// Adds one decode step: its attention weights (H2O) or its query (SnapKV, PyramidKV).
    func record(_ state: DecodeLayerState) throws {
        let cache = state.cache
        switch rule {
        case .accumulatedAttention:
            guard state.attention.count == queryHeads else {
                throw PolicyError.cacheMismatch(layer: state.layer, detail: "H2O decode-time eviction needs attention weights for \(queryHeads) query heads, got \(state.attention.count)")
            }
            for queryHead in 0..<queryHeads {
                let count = cache.heads[cache.storedHead(forQueryHead: queryHead)].count
                while accumulated[queryHead].count < count { accumulated[queryHead].append(0) }
                let weights = state.attention[queryHead]
                accumulated[queryHead].withUnsafeMutableBufferPointer { sums in
                    for row in 0..<count { sums[row] += weights[row] }
                }
            }
        case .recentQueries:
            let stride = queryHeads * headDim
            let head = cache.heads[0]
            let position = head.count > 0 ? head.positions[head.count - 1] : 0
            if recentPositions.count == options.windowSize {
                // Shift the oldest query out; w rows are copied, which allocates nothing.
                recentQueries.withUnsafeMutableBufferPointer { buffer in
                    let base = buffer.baseAddress!
                    base.update(from: base + stride, count: (recentPositions.count - 1) * stride)
                    (base + (recentPositions.count - 1) * stride).update(from: state.query, count: stride)
                }
                for index in 0..<(recentPositions.count - 1) { recentPositions[index] = recentPositions[index + 1] }
                recentPositions[recentPositions.count - 1] = position
            } else {
                recentQueries.append(contentsOf: UnsafeBufferPointer(start: state.query, count: stride))
                recentPositions.append(position)
            }
        case .rollingWindow:
            break
        }
    }

    /// Brings every stored head above its target back to it.
    func evict(cache: LayerCache) {
        let over = cache.heads.indices.filter { cache.heads[$0].count > targets[$0] }
        if over.isEmpty { return }

        var attention: WindowAttention?
        if rule == .recentQueries {
            attention = recentQueries.withUnsafeBufferPointer { buffer in
                WindowAttention(queries: buffer.baseAddress!, queryStride: queryHeads * headDim,
                                queryPositions: recentPositions, cache: cache)
            }
        }

        for storedHead in over {
            let head = cache.heads[storedHead]
            let count = head.count
            let target = targets[storedHead]
            let kept: [Int]
            switch rule {
            case .rollingWindow:
                let sinks = min(options.startSize, target)
                kept = Array(0..<sinks) + Array((count - (target - sinks))..<count)
            case .accumulatedAttention, .recentQueries:
                let window = min(options.windowSize, target)
                let candidates = count - window
                let members = memberQueryHeads(of: storedHead, cache: cache)
                var perMember: [[Float]]
                if let attention {
                    perMember = members.map {
                        WindowAttention.reduceRows(attention.weights[$0], rows: attention.queryCount,
                                                   columns: attention.keyCounts[$0], columnCount: candidates, mean: false)
                    }
                } else {
                    perMember = members.map { Array(accumulated[$0][0..<candidates]) }
                }
                var scores = Self.aggregate(perMember, aggregation: options.gqaScoreAggregation)
                if rule == .recentQueries {
                    scores = ScoreMath.pool(scores, kernel: options.kernelSize, mode: options.pooling)
                }
                kept = ScoreMath.topIndices(scores, count: target - window).sorted() + Array(candidates..<count)
            }
            head.keep(indices: kept)
            if rule == .accumulatedAttention {
                for queryHead in memberQueryHeads(of: storedHead, cache: cache) {
                    var compacted = kept.map { accumulated[queryHead][$0] }
                    compacted.reserveCapacity(target + options.decodeCompressInterval + 1)
                    accumulated[queryHead] = compacted
                }
            }
        }
    }

    private func memberQueryHeads(of storedHead: Int, cache: LayerCache) -> [Int] {
        cache.granularity == .kvHead ? Array((storedHead * cache.groupSize)..<((storedHead + 1) * cache.groupSize)) : [storedHead]
    }

    private static func aggregate(_ rows: [[Float]], aggregation: GroupAggregation) -> [Float] {
        guard var result = rows.first else { return [] }
        for row in rows.dropFirst() {
            for index in result.indices {
                switch aggregation {
                case .mean, .sum: result[index] += row[index]
                case .max: result[index] = max(result[index], row[index])
                }
            }
        }
        if aggregation == .mean && rows.count > 1 {
            let divisor = Float(rows.count)
            for index in result.indices { result[index] /= divisor }
        }
        return result
    }
}
