import Foundation
import KVPolicies
import TensorKernels

extension TransformerModel {
    /// Query rows per block of the prefill attention. Small blocks waste little work on the masked upper
    /// triangle of the causal block, and 128 rows (times the GQA group) keep the BLAS calls efficient.
    static let attentionBlockRows = 128

    /// Computes the causal self-attention of the `tokenCount` new rows over the cache rows of each query
    /// head's stored head.
    ///
    /// The new rows are the last `tokenCount` rows of every stored head, in position order, and any earlier
    /// rows belong to earlier positions. A work item is one stored head and one block of query rows, for all
    /// query heads that read that stored head (a GQA group with a per-KV-head cache), so each key block is
    /// packed once for the whole group. Each item writes its own slice of the output, so the result does not
    /// depend on the thread count.
    func prefillAttention(layerCache: LayerCache, tokenCount: Int, firstPosition: Int, scratch: PrefillScratch) {
        let headDim = config.headDim, queryDim = config.queryDim
        let blockRows = Self.attentionBlockRows
        let blocks = (tokenCount + blockRows - 1) / blockRows
        let storedHeads = layerCache.heads.count
        let group = layerCache.granularity == .kvHead ? config.groupSize : 1
        let scale = 1 / Float(headDim).squareRoot()
        let window = config.slidingWindow
        let queries = scratch.queries.pointer, output = scratch.attentionOutput.pointer

        ParallelFor.runDynamic(storedHeads * blocks, threads: threads) { worker, item in
            // Late blocks attend to more keys; starting with them lets the dynamic schedule end evenly.
            let block = blocks - 1 - item / storedHeads
            let stored = item % storedHeads
            let head = layerCache.heads[stored]
            let firstQueryHead = stored * group
            let first = block * blockRows
            let end = min(tokenCount, first + blockRows)
            let rows = end - first
            let prior = head.count - tokenCount
            // New keys before `lowest` are outside the window of every query in this block.
            let lowest = window.map { max(0, first - $0 + 1) } ?? 0
            let newKeys = end - lowest
            let columns = prior + newKeys
            let groupRows = group * rows

            // Gather the group's queries as rows (member, row), then score them against the keys.
            let gathered = scratch.gathered[worker].pointer
            for member in 0..<group {
                for row in 0..<rows {
                    (gathered + (member * rows + row) * headDim)
                        .update(from: queries + (first + row) * queryDim + (firstQueryHead + member) * headDim, count: headDim)
                }
            }
            let scores = scratch.scores[worker].pointer
            if prior > 0 {
                BLAS.gemmTransposedB(m: groupRows, n: prior, k: headDim, alpha: scale, a: gathered, lda: headDim,
                                     b: head.keys, ldb: headDim, c: scores, ldc: columns)
            }
            BLAS.gemmTransposedB(m: groupRows, n: newKeys, k: headDim, alpha: scale, a: gathered, lda: headDim,
                                 b: head.keys + (prior + lowest) * headDim, ldb: headDim, c: scores + prior, ldc: columns)

            // Causal mask and softmax; keys after the query's own position get weight 0 without an exponential.
            for member in 0..<group {
                for row in 0..<rows {
                    let line = scores + (member * rows + row) * columns
                    let index = first + row
                    if let window {
                        let position = firstPosition + index
                        for key in 0..<prior where position - Int(head.positions[key]) >= window {
                            line[key] = -.infinity
                        }
                        for key in lowest..<max(lowest, index - window + 1) { line[prior + key - lowest] = -.infinity }
                    }
                    let visible = prior + index - lowest + 1
                    VectorOps.softmax(line, count: visible)
                    (line + visible).update(repeating: 0, count: columns - visible)
                }
            }

            // Weighted values into the gathered rows, which the scores no longer need, then scatter them.
            if prior > 0 {
                BLAS.gemm(m: groupRows, n: headDim, k: prior, a: scores, lda: columns, b: head.values, ldb: headDim,
                          c: gathered, ldc: headDim)
            }
            BLAS.gemm(m: groupRows, n: headDim, k: newKeys, a: scores + prior, lda: columns,
                      b: head.values + (prior + lowest) * headDim, ldb: headDim,
                      beta: prior > 0 ? 1 : 0, c: gathered, ldc: headDim)
            for member in 0..<group {
                for row in 0..<rows {
                    (output + (first + row) * queryDim + (firstQueryHead + member) * headDim)
                        .update(from: gathered + (member * rows + row) * headDim, count: headDim)
                }
            }
        }
    }

    /// Computes the attention of the decode query over every row of each stored head. Row counts may differ
    /// between heads after compression. Writes `buffers.attentionOutput` and leaves the softmax weights in
    /// `buffers.scores`, one row of `buffers.scoreStride` per query head.
    ///
    /// Allocates nothing. The caller has limited OpenBLAS to one thread.
    func decodeAttention(layerCache: LayerCache, position: Int, buffers: DecodeBuffers) {
        let job = DecodeAttention(layerCache: layerCache, position: position,
                                  groupSize: layerCache.granularity == .kvHead ? config.groupSize : 1,
                                  headDim: config.headDim, scale: 1 / Float(config.headDim).squareRoot(),
                                  window: config.slidingWindow ?? 0, stride: buffers.scoreStride,
                                  queries: buffers.qkv.pointer, scores: buffers.scores,
                                  output: buffers.attentionOutput.pointer)
        withUnsafePointer(to: job) { pointer in
            ParallelFor.run(layerCache.heads.count, threads: threads, context: pointer) { context, _, stored in
                context.assumingMemoryBound(to: DecodeAttention.self).pointee.run(storedHead: stored)
            }
        }
    }
}

/// The decode attention of one layer, one work item per stored head.
struct DecodeAttention {
    unowned(unsafe) let layerCache: LayerCache
    let position: Int
    /// Query heads that read each stored head: the GQA group size for a per-KV-head cache, else 1.
    let groupSize: Int
    let headDim: Int
    let scale: Float
    /// Sliding window in tokens, 0 for full attention.
    let window: Int
    let stride: Int
    let queries: UnsafeMutablePointer<Float>
    let scores: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>

    func run(storedHead stored: Int) {
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
            if window > 0 {
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
