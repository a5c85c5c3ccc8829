import Foundation
import KVPolicies
import TensorKernels

extension TransformerModel {
    /// Query rows per block of the prefill attention. Small blocks waste little work on the masked upper
    /// triangle of the causal block; 128 keeps the BLAS calls large enough to run near peak.
    static let attentionBlockRows = 128

    /// Computes the causal self-attention of the `tokenCount` new rows over the cache rows of each query
    /// head's stored head.
    ///
    /// The new rows are the last `tokenCount` rows of every stored head, in position order, and any earlier
    /// rows belong to earlier positions. Work items are (query head, query block) pairs. Each item writes its
    /// own slice of the output, so the result does not depend on the thread count.
    func prefillAttention(layerCache: LayerCache, tokenCount: Int, firstPosition: Int, scratch: PrefillScratch) {
        let headDim = config.headDim, queryDim = config.queryDim
        let blockRows = Self.attentionBlockRows
        let blocks = (tokenCount + blockRows - 1) / blockRows
        let items = config.headCount * blocks
        let scale = 1 / Float(headDim).squareRoot()
        let window = config.slidingWindow
        let queries = scratch.queries.pointer, output = scratch.attentionOutput.pointer

        Threading.withSingleThreadedBLAS {
            ParallelFor.runRanges(items, threads: threads) { worker, range in
                let scores = scratch.scores[worker].pointer
                for item in range {
                    let queryHead = item / blocks
                    let first = (item % blocks) * blockRows
                    let end = min(tokenCount, first + blockRows)
                    let rows = end - first
                    let head = layerCache.heads[layerCache.storedHead(forQueryHead: queryHead)]
                    let prior = head.count - tokenCount
                    // New keys before `lowest` are outside the window of every query in this block.
                    let lowest = window.map { max(0, first - $0 + 1) } ?? 0
                    let newKeys = end - lowest
                    let columns = prior + newKeys
                    let query = queries + first * queryDim + queryHead * headDim

                    if prior > 0 {
                        BLAS.gemmTransposedB(m: rows, n: prior, k: headDim, alpha: scale, a: query, lda: queryDim,
                                             b: head.keys, ldb: headDim, c: scores, ldc: columns)
                    }
                    BLAS.gemmTransposedB(m: rows, n: newKeys, k: headDim, alpha: scale, a: query, lda: queryDim,
                                         b: head.keys + (prior + lowest) * headDim, ldb: headDim,
                                         c: scores + prior, ldc: columns)

                    for row in 0..<rows {
                        let line = scores + row * columns
                        let index = first + row
                        if let window, prior > 0 {
                            let position = firstPosition + index
                            for key in 0..<prior where position - Int(head.positions[key]) >= window {
                                line[key] = -.infinity
                            }
                        }
                        let firstVisible = window.map { max(lowest, index - $0 + 1) } ?? lowest
                        for key in lowest..<firstVisible { line[prior + key - lowest] = -.infinity }
                        for key in (index + 1)..<max(index + 1, end) { line[prior + key - lowest] = -.infinity }
                        VectorOps.softmax(line, count: columns)
                    }

                    let out = output + first * queryDim + queryHead * headDim
                    if prior > 0 {
                        BLAS.gemm(m: rows, n: headDim, k: prior, a: scores, lda: columns, b: head.values, ldb: headDim,
                                  c: out, ldc: queryDim)
                    }
                    BLAS.gemm(m: rows, n: headDim, k: newKeys, a: scores + prior, lda: columns,
                              b: head.values + (prior + lowest) * headDim, ldb: headDim,
                              beta: prior > 0 ? 1 : 0, c: out, ldc: queryDim)
                }
            }
        }
    }

    /// Computes the attention of the decode query over every row of each stored head. Row counts may differ
    /// between heads after compression. Writes `buffers.attentionOutput` and leaves the softmax weights in
    /// `buffers.scores`, one row of `buffers.scoreStride` per query head.
    ///
    /// The caller has limited OpenBLAS to one thread.
    func decodeAttention(layerCache: LayerCache, position: Int, buffers: DecodeBuffers) {
        let headDim = config.headDim
        let groupSize = layerCache.granularity == .kvHead ? config.groupSize : 1
        let scale = 1 / Float(headDim).squareRoot()
        let window = config.slidingWindow
        let stride = buffers.scoreStride
        let queries = buffers.qkv.pointer, scores = buffers.scores, output = buffers.attentionOutput.pointer

        ParallelFor.run(layerCache.heads.count, threads: threads) { stored in
            let head = layerCache.heads[stored]
            let count = head.count
            let firstQuery = stored * groupSize
            let query = queries + firstQuery * headDim
            let weights = scores + firstQuery * stride
            if groupSize == 1 {
                BLAS.gemv(m: count, n: headDim, alpha: scale, a: head.keys, lda: headDim, x: query, y: weights)
            } else {
                BLAS.gemmTransposedB(m: groupSize, n: count, k: headDim, alpha: scale, a: query, lda: headDim,
                                     b: head.keys, ldb: headDim, c: weights, ldc: stride)
            }
            for member in 0..<groupSize {
                let line = weights + member * stride
                if let window {
                    for key in 0..<count where position - Int(head.positions[key]) >= window { line[key] = -.infinity }
                }
                VectorOps.softmax(line, count: count)
            }
            let out = output + firstQuery * headDim
            if groupSize == 1 {
                BLAS.gemvTransposed(m: count, n: headDim, a: head.values, lda: headDim, x: weights, y: out)
            } else {
                BLAS.gemm(m: groupSize, n: headDim, k: count, a: weights, lda: stride, b: head.values, ldb: headDim,
                          c: out, ldc: headDim)
            }
        }
    }
}
