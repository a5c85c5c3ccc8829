/// Merges each dropped candidate into the retained entry whose key is most similar by cosine (`--merge`).
/// Retained entries are the selected candidates and the recent window; the cache keeps its length.
struct MergeTransform: CacheTransform {
    let mode: MergeMode

    /// Dropped rows compared with the retained ones per BLAS call, bounding the similarity scratch.
    static let blockRows = 512

    func apply(_ state: PrefillLayerState, _ context: CompressionContext, selection: Selection, report: inout LayerReport) throws {
        for head in 0..<context.storedHeads {
            Self.merge(head: context.cache.heads[head], retained: selection.keptRows(ofHead: head),
                       candidateCount: selection.windowStart, mode: mode)
        }
    }

    /// Rewrites the retained rows of one stored head in place; the dropped rows are read, never written.
    static func merge(head: HeadCache, retained: [Int], candidateCount: Int, mode: MergeMode) {
        let dim = head.headDim
        var isRetained = [Bool](repeating: false, count: candidateCount)
        for row in retained where row < candidateCount { isRetained[row] = true }
        let dropped = (0..<candidateCount).filter { !isRetained[$0] }
        guard !dropped.isEmpty, !retained.isEmpty else { return }

        let retainedUnit = unitRows(head.keys, rows: retained, dim: dim)
        var target = [Int](repeating: 0, count: dropped.count)
        var similarity = [Float](repeating: 0, count: dropped.count)
        var blockStart = 0
        var scratch = [Float](repeating: 0, count: min(blockRows, dropped.count) * retained.count)
        while blockStart < dropped.count {
            let blockEnd = min(dropped.count, blockStart + blockRows)
            let droppedUnit = unitRows(head.keys, rows: Array(dropped[blockStart..<blockEnd]), dim: dim)
            let rows = blockEnd - blockStart
            scratch.withUnsafeMutableBufferPointer { output in
                droppedUnit.withUnsafeBufferPointer { a in
                    retainedUnit.withUnsafeBufferPointer { b in
                        ScoreMath.multiplyTransposed(m: rows, n: retained.count, k: dim, alpha: 1,
                                                     a: a.baseAddress!, lda: dim, b: b.baseAddress!, ldb: dim,
                                                     c: output.baseAddress!, ldc: retained.count)
                    }
                }
                for row in 0..<rows {
                    // Argmax over retained rows in ascending position order: ties go to the earlier position.
                    var best = 0
                    var bestValue = -Float.infinity
                    for column in 0..<retained.count where output[row * retained.count + column] > bestValue {
                        bestValue = output[row * retained.count + column]
                        best = column
                    }
                    target[blockStart + row] = best
                    similarity[blockStart + row] = bestValue
                }
            }
            blockStart = blockEnd
        }

        // Accumulate per retained entry, then write: the sums read only original rows.
        var keySums = [Float](repeating: 0, count: retained.count * dim)
        var valueSums = [Float](repeating: 0, count: retained.count * dim)
        var weights = [Float](repeating: 0, count: retained.count)
        for (index, row) in dropped.enumerated() {
            let slot = target[index]
            let retainedRow = retained[slot]
            let weight: Float
            switch mode {
            case .pivot: weight = 1
            case .weighted: weight = max((similarity[index] + 1) / 2, 1e-6)
            }
            weights[slot] += weight
            for channel in 0..<dim {
                let droppedKey = head.keys[row * dim + channel]
                let droppedValue = head.values[row * dim + channel]
                switch mode {
                case .pivot:
                    // Pivot merging folds in the pairwise average of the dropped and the retained entry.
                    keySums[slot * dim + channel] += (droppedKey + head.keys[retainedRow * dim + channel]) / 2
                    valueSums[slot * dim + channel] += (droppedValue + head.values[retainedRow * dim + channel]) / 2
                case .weighted:
                    keySums[slot * dim + channel] += weight * droppedKey
                    valueSums[slot * dim + channel] += weight * droppedValue
                }
            }
        }
        for (slot, row) in retained.enumerated() where weights[slot] > 0 {
            let divisor = 1 + weights[slot]
            for channel in 0..<dim {
                let index = row * dim + channel
                head.keys[index] = (head.keys[index] + keySums[slot * dim + channel]) / divisor
                head.values[index] = (head.values[index] + valueSums[slot * dim + channel]) / divisor
            }
        }
    }

    /// Key rows scaled to unit L2 norm, with the norm clamped below at 1e-6 as `F.normalize` does.
    private static func unitRows(_ keys: UnsafeMutablePointer<Float>, rows: [Int], dim: Int) -> [Float] {
        var result = [Float](repeating: 0, count: rows.count * dim)
        for (index, row) in rows.enumerated() {
            let source = keys + row * dim
            var sum: Float = 0
            for channel in 0..<dim { sum += source[channel] * source[channel] }
            let norm = max(sum.squareRoot(), 1e-6)
            for channel in 0..<dim { result[index * dim + channel] = source[channel] / norm }
        }
        return result
    }
}

/// CAM's value merging, run before the prefill attention so that its output uses the merged values, as in the
/// reference. With a = the window attention averaged over the w window queries, s = ceil(0.1 n) and r = w, each
/// token c from s to n - r - 1 is merged with probability p = a[c] / max(a[0..<s] ∪ a[c..<c+r]); when merged,
/// V[c] / r is added to each of the next r rows, in increasing c so earlier merges propagate.
struct CAMValueMerge: CacheTransform {
    /// Fraction of the prompt whose leading tokens always enter the maximum (the reference's start_budget_ratio).
    static let startRatio = 0.1

    func beforeAttention(_ state: PrefillLayerState, _ context: CompressionContext, sampleID: UInt64) throws {
        let options = context.options
        let window = options.windowSize
        let n = context.promptLength
        let attention = WindowAttention.prefillWindow(state, window: window)
        // kv_head mode reduces each group's attention matrices once, before both the scores and the probabilities.
        let matrices = ScoreMath.reduceGroups(attention.weights, cache: context.cache, aggregation: options.gqaScoreAggregation)
        let meanAttention = matrices.map {
            WindowAttention.reduceRows($0, rows: window, columns: n, columnCount: n, mean: true)
        }

        let start = Int((Self.startRatio * Double(n)).rounded(.up))
        let span = window
        let firstCandidate = start
        let candidateEnd = n - span
        guard candidateEnd > firstCandidate else { return }

        // Probabilities first; the draws follow, position-major and head-minor, from one generator per layer.
        let heads = context.storedHeads
        var probabilities = [[Float]](repeating: [], count: heads)
        for head in 0..<heads {
            let a = meanAttention[head]
            var startMax = -Float.infinity
            for j in 0..<start where a[j] > startMax { startMax = a[j] }
            probabilities[head] = (firstCandidate..<candidateEnd).map { candidate in
                // The window a[c..<c+r] slides with c, so its maximum is recomputed over r entries.
                var maximum = startMax
                for j in candidate..<(candidate + span) where a[j] > maximum { maximum = a[j] }
                return Self.mergeProbability(a[candidate], maximum: maximum)
            }
        }
        var generator = SeededGenerator(seed: options.seed, sampleID: sampleID, layer: UInt64(context.layer))
        var merges = [[Bool]](repeating: [Bool](repeating: false, count: candidateEnd - firstCandidate), count: heads)
        for index in 0..<(candidateEnd - firstCandidate) {
            for head in 0..<heads {
                merges[head][index] = generator.nextUnit() < Double(probabilities[head][index])
            }
        }

        let dim = context.cache.headDim
        let divisor = Float(span)
        var contribution = [Float](repeating: 0, count: dim)
        for head in 0..<heads {
            let values = context.cache.heads[head].values
            for index in 0..<(candidateEnd - firstCandidate) where merges[head][index] {
                let candidate = firstCandidate + index
                for channel in 0..<dim { contribution[channel] = values[candidate * dim + channel] / divisor }
                for row in (candidate + 1)...(candidate + span) {
                    for channel in 0..<dim { values[row * dim + channel] += contribution[channel] }
                }
            }
        }
    }

    /// a[c] / max, clamped to [0, 1]; NaN (0 / 0) gives 0 and +inf gives 1, as in the reference.
    static func mergeProbability(_ value: Float, maximum: Float) -> Float {
        let ratio = value / maximum
        if ratio.isNaN { return 0 }
        return min(max(ratio, 0), 1)
    }
}

/// ThinK's query-driven key-channel pruning, after SnapKV selection. Channel c of a head scores
/// mean(q_c^2 over the last 32 queries) * mean(k_c^2 over the kept keys). The int(d * ratio) lowest channels are
/// zeroed in every kept key except the `recentSize` most recent ones. Zeroed channels give the same logits as the
/// reference's split attention over pruned and full-width keys, and the cache counts their bytes as removed.
struct ChannelPruning: CacheTransform {
    /// Query rows that score the channels; the reference fixes it at 32.
    static let scoringQueries = 32

    let ratio: Double
    let recentSize: Int

    func apply(_ state: PrefillLayerState, _ context: CompressionContext, selection: Selection, report: inout LayerReport) throws {
        let cache = context.cache
        let dim = cache.headDim
        let n = context.promptLength
        let stride = state.queryHeads * dim
        let pruned = Int(Double(dim) * ratio)
        let queryRows = min(Self.scoringQueries, n)
        var keptChannels: [[Int]] = []

        for storedHead in 0..<context.storedHeads {
            let head = cache.heads[storedHead]
            let rows = selection.keptRows(ofHead: storedHead)
            // Pruning is validated to run in query_head granularity, where stored head h is query head h.
            let queryHead = storedHead
            var channelScores = [Float](repeating: 0, count: dim)
            for channel in 0..<dim {
                var querySum: Float = 0
                for row in (n - queryRows)..<n {
                    let q = state.queries[row * stride + queryHead * dim + channel]
                    querySum += q * q
                }
                var keySum: Float = 0
                for row in rows {
                    let k = head.keys[row * dim + channel]
                    keySum += k * k
                }
                channelScores[channel] = (querySum / Float(queryRows)) * (keySum / Float(max(rows.count, 1)))
            }
            let kept = ScoreMath.topIndices(channelScores, count: dim - pruned).sorted()
            keptChannels.append(kept)

            var isKept = [Bool](repeating: false, count: dim)
            for channel in kept { isKept[channel] = true }
            let prunedRows = rows.dropLast(recentSize)
            for row in prunedRows {
                for channel in 0..<dim where !isKept[channel] { head.keys[row * dim + channel] = 0 }
            }
            cache.prunedKeyBytes += prunedRows.count * pruned * MemoryLayout<Float>.size
        }
        report.keptChannels = keptChannels
    }
}
