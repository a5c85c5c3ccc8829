/// Softmax attention weights of a few query rows over the cached keys of one layer, per query head, in float32.
///
/// A key is visible to a query when its absolute position is not after the query's position. At prefill with
/// the last w prompt queries this is the reference's mask: every past key is visible and the window block is
/// causal. Cached rows must be in ascending position order, so the masked keys form a suffix.
struct WindowAttention {
    let queryCount: Int
    /// Per query head, row-major `[queryCount, keyCounts[head]]`; masked entries are 0.
    var weights: [[Float]]
    var keyCounts: [Int]

    /// - Parameters:
    ///   - queries: row `i` at `queries + i * queryStride`, with query head h at columns h*d ..< (h+1)*d.
    ///   - queryPositions: absolute position of each query row.
    init(queries: UnsafePointer<Float>, queryStride: Int, queryPositions: [Int32], cache: LayerCache) {
        let headDim = cache.headDim
        let scale = 1 / Float(headDim).squareRoot()
        queryCount = queryPositions.count
        weights = []
        keyCounts = []
        weights.reserveCapacity(cache.queryHeads)
        for queryHead in 0..<cache.queryHeads {
            let head = cache.heads[cache.storedHead(forQueryHead: queryHead)]
            let keyCount = head.count
            var matrix = [Float](repeating: 0, count: queryCount * keyCount)
            let rows = queryCount
            matrix.withUnsafeMutableBufferPointer { output in
                guard let base = output.baseAddress else { return }
                ScoreMath.multiplyTransposed(m: rows, n: keyCount, k: headDim, alpha: scale,
                                             a: queries + queryHead * headDim, lda: queryStride,
                                             b: head.keys, ldb: headDim, c: base, ldc: keyCount)
                for row in 0..<rows {
                    var visible = keyCount
                    while visible > 0 && head.positions[visible - 1] > queryPositions[row] { visible -= 1 }
                    let rowStart = base + row * keyCount
                    ScoreMath.softmaxInPlace(rowStart, count: visible)
                    (rowStart + visible).update(repeating: 0, count: keyCount - visible)
                }
            }
            weights.append(matrix)
            keyCounts.append(keyCount)
        }
    }

    /// Computes the weights of the last `window` prompt queries of a prefill state.
    static func prefillWindow(_ state: PrefillLayerState, window: Int) -> WindowAttention {
        let stride = state.queryHeads * state.headDim
        let first = state.promptLength - window
        let positions = (first..<state.promptLength).map { Int32($0) }
        return WindowAttention(queries: state.queries + first * stride, queryStride: stride,
                               queryPositions: positions, cache: state.cache)
    }

    /// Sums (or averages) the rows of one row-major `[rows, columns]` matrix over its first `columnCount` columns.
    static func reduceRows(_ matrix: [Float], rows: Int, columns: Int, columnCount: Int, mean: Bool) -> [Float] {
        var result = [Float](repeating: 0, count: columnCount)
        matrix.withUnsafeBufferPointer { source in
            result.withUnsafeMutableBufferPointer { target in
                for row in 0..<rows {
                    let offset = row * columns
                    for column in 0..<columnCount { target[column] += source[offset + column] }
                }
                if mean {
                    let divisor = Float(rows)
                    for column in 0..<columnCount { target[column] /= divisor }
                }
            }
        }
        return result
    }
}
