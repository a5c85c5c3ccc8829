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

    /// Query rows per block: the scratch holds blockRows x n logits, never n x n.
    static let blockRows = 128

    /// Per query head, the causal softmax weights on each of the n prompt keys summed over all n queries.
    /// Each key's sum adds the query rows in ascending order. The logits come from BLAS, which parallelizes them.
    static func columnSums(_ state: PrefillLayerState) -> [[Float]] {
        let n = state.promptLength
        let headDim = state.headDim
        let stride = state.queryHeads * headDim
        let scale = 1 / Float(headDim).squareRoot()
        let cache = state.cache
        let queries = state.queries
        let keysPerHead = (0..<state.queryHeads).map { cache.heads[cache.storedHead(forQueryHead: $0)].keys }

        let sums = UnsafeMutablePointer<Float>.allocate(capacity: max(1, state.queryHeads * n))
        sums.initialize(repeating: 0, count: state.queryHeads * n)
        defer { sums.deallocate() }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, blockRows * n))
        defer { scratch.deallocate() }
        for queryHead in 0..<state.queryHeads {
            let target = sums + queryHead * n
            var blockStart = 0
            while blockStart < n {
                let blockEnd = min(n, blockStart + blockRows)
                let rows = blockEnd - blockStart
                // Row i of the block attends to keys 0...blockStart+i, so the block needs keys 0..<blockEnd.
                ScoreMath.multiplyTransposed(m: rows, n: blockEnd, k: headDim, alpha: scale,
                                             a: queries + blockStart * stride + queryHead * headDim, lda: stride,
                                             b: keysPerHead[queryHead], ldb: headDim, c: scratch, ldc: blockEnd)
                for row in 0..<rows {
                    ScoreMath.accumulateSoftmax(scratch + row * blockEnd, count: blockStart + row + 1, into: target)
                }
                blockStart = blockEnd
            }
        }
        return (0..<state.queryHeads).map { Array(UnsafeBufferPointer(start: sums + $0 * n, count: n)) }
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
