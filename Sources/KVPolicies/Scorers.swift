import TensorKernels

/// Observation-window score (SnapKV, PyramidKV, AdaKV, HeadKV, CAM, ThinK): the attention that the last w prompt
/// queries give each past key, reduced over the w rows, reduced per KV head in kv_head mode, then pooled.
struct WindowAttentionScorer: TokenScorer {
    /// SnapKV, PyramidKV, CAM and ThinK sum the window rows; AdaKV and HeadKV average them.
    let averagesRows: Bool
    let pools: Bool
    /// CAM reduces each GQA group's attention matrices element-wise before summing rows; the others sum rows
    /// per query head first. The order matters only for `--gqa_score_agg max`.
    let groupsBeforeRows: Bool

    func scores(_ state: PrefillLayerState, _ context: CompressionContext) throws -> TokenScores {
        let options = context.options
        let window = options.windowSize
        let attention = WindowAttention.prefillWindow(state, window: window)
        let n = context.promptLength
        let candidates = context.candidateCount

        var stored: [[Float]]
        if groupsBeforeRows {
            let matrices = ScoreMath.reduceGroups(attention.weights, cache: context.cache, aggregation: options.gqaScoreAggregation)
            stored = matrices.map {
                WindowAttention.reduceRows($0, rows: window, columns: n, columnCount: candidates, mean: averagesRows)
            }
        } else {
            let perQueryHead = attention.weights.map {
                WindowAttention.reduceRows($0, rows: window, columns: n, columnCount: candidates, mean: averagesRows)
            }
            stored = ScoreMath.reduceGroups(perQueryHead, cache: context.cache, aggregation: options.gqaScoreAggregation)
        }
        if pools {
            stored = stored.map { ScoreMath.pool($0, kernel: options.kernelSize, mode: options.pooling) }
        }
        return TokenScores(stored: stored)
    }
}

/// H2O's accumulated attention: the attention weight each past key receives, summed over every prompt query under
/// the full causal mask. No pooling.
struct AccumulatedAttentionScorer: TokenScorer {
    func scores(_ state: PrefillLayerState, _ context: CompressionContext) throws -> TokenScores {
        let sums = Self.columnSums(state)
        let candidates = context.candidateCount
        let perQueryHead = sums.map { Array($0[0..<candidates]) }
        let stored = ScoreMath.reduceGroups(perQueryHead, cache: context.cache, aggregation: context.options.gqaScoreAggregation)
        return TokenScores(stored: stored, accumulatedPerQueryHead: sums)
    }

    /// Query rows per block: each worker's scratch holds blockRows x n logits, never n x n.
    static let blockRows = 128

    /// Per query head, the causal softmax weights on each of the n prompt keys summed over all n queries.
    ///
    /// A work item is one query head and one block of query rows: one BLAS product of the block's queries with
    /// the keys up to the block's end, a softmax per row, and the rows' weights added into the item's partial
    /// column sums. Items run in waves on OpenBLAS's thread count, each worker with single-threaded BLAS. After
    /// each wave the partial sums are added to the totals in item order, so every key's sum adds its blocks in
    /// ascending order and the result does not depend on the thread count. Memory is O(n x blockRows) per worker.
    static func columnSums(_ state: PrefillLayerState) -> [[Float]] {
        let n = state.promptLength
        let headDim = state.headDim
        let heads = state.queryHeads
        let stride = heads * headDim
        let scale = 1 / Float(headDim).squareRoot()
        let cache = state.cache
        let queries = state.queries
        let keysPerHead = (0..<heads).map { cache.heads[cache.storedHead(forQueryHead: $0)].keys }
        let blocks = (n + blockRows - 1) / blockRows
        let items = heads * blocks
        let workers = max(1, min(Threading.blasThreads, items))
        // Two items per worker and wave let the dynamic schedule even out blocks of unequal length.
        let waveSize = 2 * workers

        let sums = UnsafeMutablePointer<Float>.allocate(capacity: max(1, heads * n))
        sums.initialize(repeating: 0, count: heads * n)
        defer { sums.deallocate() }
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: max(1, waveSize * n))
        defer { partials.deallocate() }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, workers * blockRows * n))
        defer { scratch.deallocate() }

        Threading.withSingleThreadedBLAS {
            var waveStart = 0
            while waveStart < items {
                let waveCount = min(waveSize, items - waveStart)
                let base = waveStart
                ParallelFor.runDynamic(waveCount, threads: workers) { worker, slot in
                    let item = base + slot
                    let head = item / blocks
                    let first = (item % blocks) * blockRows
                    let end = min(n, first + blockRows)
                    let logits = scratch + worker * blockRows * n
                    // Row i of the block attends to keys 0...first+i, so the block needs keys 0..<end.
                    ScoreMath.multiplyTransposed(m: end - first, n: end, k: headDim, alpha: scale,
                                                 a: queries + first * stride + head * headDim, lda: stride,
                                                 b: keysPerHead[head], ldb: headDim, c: logits, ldc: end)
                    let partial = partials + slot * n
                    partial.update(repeating: 0, count: end)
                    for row in 0..<(end - first) {
                        ScoreMath.accumulateSoftmax(logits + row * end, count: first + row + 1, into: partial)
                    }
                }
                for slot in 0..<waveCount {
                    let item = waveStart + slot
                    let end = min(n, (item % blocks) * blockRows + blockRows)
                    VectorOps.add(partials + slot * n, to: sums + (item / blocks) * n, count: end)
                }
                waveStart += waveCount
            }
        }
        return (0..<heads).map { Array(UnsafeBufferPointer(start: sums + $0 * n, count: n)) }
    }
}

/// L2Norm (KnormPress): keys with the lowest L2 norm are kept, so the score is the negated norm.
struct KeyNormScorer: TokenScorer {
    func scores(_ state: PrefillLayerState, _ context: CompressionContext) throws -> TokenScores {
        let headDim = context.cache.headDim
        let candidates = context.candidateCount
        let stored = context.cache.heads.map { head -> [Float] in
            (0..<candidates).map { row in
                let key = head.keys + row * headDim
                var sum: Float = 0
                for channel in 0..<headDim { sum += key[channel] * key[channel] }
                return -sum.squareRoot()
            }
        }
        return TokenScores(stored: stored)
    }
}

/// StreamingLLM's sinks: the earliest positions rank first, so the top-k of the candidates are the first tokens.
struct SinkScorer: TokenScorer {
    func scores(_ state: PrefillLayerState, _ context: CompressionContext) throws -> TokenScores {
        let row = (0..<context.candidateCount).map { -Float($0) }
        return TokenScores(stored: Array(repeating: row, count: context.storedHeads))
    }
}
