import KVPolicies
import TensorKernels

extension TransformerModel {
    /// Rows per chunk of the prefill projections and MLP; bounds the intermediate buffers to
    /// `chunkRows * 2 * intermediateSize` floats whatever the prompt length.
    static let prefillChunkRows = 512

    /// Runs the prompt through every layer, filling `cache`, and returns the logits at `logitPositions`
    /// (indices into `tokens`; the last token when nil).
    ///
    /// Needs an instance with all layers. When the cache already contains earlier tokens of the same
    /// sequence, the prompt continues at position `cache.processedTokens`.
    public func prefill(tokens: [Int], cache: KVCache, policy: CachePolicy? = nil,
                        logitPositions: [Int]? = nil) throws -> [[Float]] {
        guard hasEmbedding, hasHead else {
            throw ModelError.missingStage("prefill(tokens:) needs layers 0..<\(config.blockCount), but this instance has layers \(layers.lowerBound)..<\(layers.upperBound); call embed, prefillLayers and logits on the stages instead")
        }
        guard !tokens.isEmpty else { throw ModelError.emptyPrompt }
        let positions = logitPositions ?? [tokens.count - 1]
        for position in positions where position < 0 || position >= tokens.count {
            throw ModelError.logitPositionOutOfRange(position: position, tokens: tokens.count)
        }
        try checkPromptFits(tokenCount: tokens.count, cache: cache)
        var hidden = try embed(tokens: tokens)
        try prefillLayers(hidden: &hidden, tokenCount: tokens.count, cache: cache, policy: policy)
        return try logits(hidden: hidden, tokenCount: tokens.count, positions: positions)
    }

    func checkPromptFits(tokenCount: Int, cache: KVCache) throws {
        guard tokenCount > 0 else { throw ModelError.emptyPrompt }
        let total = cache.processedTokens + tokenCount
        guard total <= config.contextLength else {
            throw ModelError.promptTooLong(tokens: total, context: config.contextLength)
        }
    }

    /// Looks up the embeddings of `tokens`: `[tokens.count, hiddenSize]`, row-major. First stage only.
    public func embed(tokens: [Int]) throws -> [Float] {
        guard let embedding else {
            throw ModelError.missingStage("embed(tokens:) needs the token embedding, which lives on the stage holding layer 0")
        }
        for token in tokens { try validate(token: token) }
        let width = config.hiddenSize
        var hidden = [Float](repeating: 0, count: tokens.count * width)
        try hidden.withUnsafeMutableBufferPointer { output in
            for (row, token) in tokens.enumerated() {
                try embedding.copyRow(token, into: output.baseAddress! + row * width)
            }
        }
        return hidden
    }

    /// Runs this instance's layers over `tokenCount` hidden rows in place, appending their K/V to `cache`
    /// at positions starting from `cache.processedTokens`, then advances `cache.processedTokens`.
    ///
    /// The work is layer-major: each layer processes every prompt row before the next layer starts, so the
    /// policy hooks see the whole prompt's post-RoPE queries of that layer.
    public func prefillLayers(hidden: inout [Float], tokenCount: Int, cache: KVCache, policy: CachePolicy?) throws {
        guard hidden.count == tokenCount * config.hiddenSize else {
            throw ModelError.cacheMismatch(detail: "the hidden state has \(hidden.count) floats, expected \(tokenCount) rows of \(config.hiddenSize)")
        }
        try validate(cache: cache, policy: policy)
        try checkPromptFits(tokenCount: tokenCount, cache: cache)
        let scratch = prefillScratch(tokenCount: tokenCount, cache: cache)
        scratch.fillRopeTables(rope: rope, firstPosition: cache.processedTokens, tokens: tokenCount)

        try hidden.withUnsafeMutableBufferPointer { buffer in
            for (index, weights) in blocks.enumerated() {
                try prefillLayer(index: index, weights: weights, hidden: buffer.baseAddress!, tokenCount: tokenCount,
                                 cache: cache, policy: policy, scratch: scratch)
            }
        }
        cache.processedTokens += tokenCount
        // Callers that create a cache per sample would grow the table without bound; only recent caches matter.
        if prefillEnds.count >= 32 { prefillEnds.removeAll(keepingCapacity: true) }
        prefillEnds[ObjectIdentifier(cache)] = cache.processedTokens
    }

    /// Returns scratch buffers large enough for `tokenCount` new rows over the rows already in `cache`.
    func prefillScratch(tokenCount: Int, cache: KVCache) -> PrefillScratch {
        var priorKeys = 0
        for layer in cache.layers {
            for head in layer.heads { priorKeys = max(priorKeys, head.count) }
        }
        let keys = priorKeys + tokenCount
        if let scratch = cachedPrefillScratch, scratch.fits(tokens: tokenCount, keys: keys, workers: threads) {
            return scratch
        }
        cachedPrefillScratch = nil
        let scratch = PrefillScratch(config: config, tokenCapacity: tokenCount, keyCapacity: keys, workers: threads)
        cachedPrefillScratch = scratch
        return scratch
    }

    /// Final RMSNorm and LM head on the hidden rows at `positions`. Last stage only.
    public func logits(hidden: [Float], tokenCount: Int, positions: [Int]) throws -> [[Float]] {
        guard let outputHead, let outputNorm else {
            throw ModelError.missingStage("logits(hidden:) needs the LM head, which lives on the stage holding the last layer")
        }
        let width = config.hiddenSize
        guard hidden.count == tokenCount * width else {
            throw ModelError.cacheMismatch(detail: "the hidden state has \(hidden.count) floats, expected \(tokenCount) rows of \(width)")
        }
        for position in positions where position < 0 || position >= tokenCount {
            throw ModelError.logitPositionOutOfRange(position: position, tokens: tokenCount)
        }
        guard !positions.isEmpty else { return [] }
        let normed = FloatBuffer(count: positions.count * width)
        hidden.withUnsafeBufferPointer { rows in
            for (index, position) in positions.enumerated() {
                VectorOps.rmsNorm(rows.baseAddress! + position * width, weight: outputNorm.pointer,
                                  epsilon: config.rmsNormEpsilon, count: width, output: normed.pointer + index * width)
            }
        }
        let vocabulary = config.vocabularySize
        let output = FloatBuffer(count: positions.count * vocabulary)
        Threading.withSingleThreadedBLAS {
            outputHead.multiply(count: positions.count, input: normed.pointer, inputStride: width,
                                output: output.pointer, outputStride: vocabulary, threads: threads)
        }
        return (0..<positions.count).map { Array(UnsafeBufferPointer(start: output.pointer + $0 * vocabulary, count: vocabulary)) }
    }

    /// Runs one layer of the prefill over all rows.
    ///
    /// The model's own loops run with OpenBLAS limited to one thread. The policy hooks run outside them, so
    /// a policy may use OpenBLAS's threads.
    func prefillLayer(index: Int, weights: LayerWeights, hidden: UnsafeMutablePointer<Float>, tokenCount: Int,
                      cache: KVCache, policy: CachePolicy?, scratch: PrefillScratch) throws {
        let layerCache = cache.layers[index]
        let firstPosition = cache.processedTokens
        for head in layerCache.heads { head.reserveCapacity(head.count + tokenCount) }

        Threading.withSingleThreadedBLAS {
            prefillAttentionInput(weights: weights, hidden: hidden, tokenCount: tokenCount, layerCache: layerCache,
                                  firstPosition: firstPosition, scratch: scratch)
        }

        let state = PrefillLayerState(layer: layerCache.layer, layerCount: config.blockCount, promptLength: tokenCount,
                                      queryHeads: config.headCount, kvHeads: config.kvHeadCount, headDim: config.headDim,
                                      queries: scratch.queries.pointer, cache: layerCache)
        try policy?.beforePrefillAttention(state)
        for (stored, head) in layerCache.heads.enumerated() where head.count < tokenCount {
            throw ModelError.cacheMismatch(detail: "layer \(layerCache.layer) stored head \(stored) contains \(head.count) rows after beforePrefillAttention, fewer than the \(tokenCount) prompt rows; a policy may change values there but must not remove rows")
        }
        Threading.withSingleThreadedBLAS {
            prefillAttention(layerCache: layerCache, tokenCount: tokenCount, firstPosition: firstPosition, scratch: scratch)
        }
        try policy?.afterPrefillAttention(state)

        Threading.withSingleThreadedBLAS {
            prefillOutputAndMLP(weights: weights, hidden: hidden, tokenCount: tokenCount, scratch: scratch)
        }
    }

    /// RMSNorm, Q/K/V projections and RoPE for every row; the queries go to `scratch.queries`, the keys and
    /// values are appended to the stored heads.
    func prefillAttentionInput(weights: LayerWeights, hidden: UnsafeMutablePointer<Float>, tokenCount: Int,
                               layerCache: LayerCache, firstPosition: Int, scratch: PrefillScratch) {
        let width = config.hiddenSize, headDim = config.headDim
        let queryDim = config.queryDim, kvDim = config.kvDim
        let qkvWidth = queryDim + 2 * kvDim
        let epsilon = config.rmsNormEpsilon
        let headCount = config.headCount, kvHeadCount = config.kvHeadCount
        let normed = scratch.normed.pointer, qkv = scratch.chunk.pointer, queries = scratch.queries.pointer
        let cosines = scratch.cosines.pointer, sines = scratch.sines.pointer
        let bias = weights.qkvBias?.pointer

        var start = 0
        while start < tokenCount {
            let rows = min(Self.prefillChunkRows, tokenCount - start)
            ParallelFor.run(rows, threads: threads) { row in
                VectorOps.rmsNorm(hidden + (start + row) * width, weight: weights.attentionNorm.pointer,
                                  epsilon: epsilon, count: width, output: normed + row * width)
            }
            weights.qkv.multiply(count: rows, input: normed, inputStride: width, output: qkv, outputStride: qkvWidth,
                                 threads: threads)
            ParallelFor.run(rows, threads: threads) { row in
                let line = qkv + row * qkvWidth
                if let bias { VectorOps.add(bias, to: line, count: qkvWidth) }
                let table = (start + row) * (headDim / 2)
                RotaryEmbedding.apply(line, heads: headCount, headDim: headDim, cos: cosines + table, sin: sines + table)
                RotaryEmbedding.apply(line + queryDim, heads: kvHeadCount, headDim: headDim,
                                      cos: cosines + table, sin: sines + table)
                (queries + (start + row) * queryDim).update(from: line, count: queryDim)
            }
            for (stored, head) in layerCache.heads.enumerated() {
                let kvHead = layerCache.kvHead(forStoredHead: stored)
                head.appendRows(keys: qkv + queryDim + kvHead * headDim, keyStride: qkvWidth,
                                values: qkv + queryDim + kvDim + kvHead * headDim, valueStride: qkvWidth,
                                firstPosition: firstPosition + start, rowCount: rows)
            }
            start += rows
        }
    }

    /// Output projection into the residual stream, then the MLP block, chunk by chunk.
    func prefillOutputAndMLP(weights: LayerWeights, hidden: UnsafeMutablePointer<Float>, tokenCount: Int,
                             scratch: PrefillScratch) {
        let width = config.hiddenSize, queryDim = config.queryDim
        let intermediate = config.intermediateSize
        let epsilon = config.rmsNormEpsilon
        let normed = scratch.normed.pointer, gateUp = scratch.chunk.pointer

        var start = 0
        while start < tokenCount {
            let rows = min(Self.prefillChunkRows, tokenCount - start)
            let residual = hidden + start * width
            weights.attentionOutput.multiply(count: rows, input: scratch.attentionOutput.pointer + start * queryDim,
                                             inputStride: queryDim, output: residual, outputStride: width,
                                             accumulate: true, threads: threads)
            ParallelFor.run(rows, threads: threads) { row in
                VectorOps.rmsNorm(residual + row * width, weight: weights.mlpNorm.pointer, epsilon: epsilon,
                                  count: width, output: normed + row * width)
            }
            weights.gateUp.multiply(count: rows, input: normed, inputStride: width,
                                    output: gateUp, outputStride: 2 * intermediate, threads: threads)
            ParallelFor.run(rows, threads: threads) { row in
                let line = gateUp + row * 2 * intermediate
                VectorOps.swiGLU(gate: line, up: line + intermediate, count: intermediate)
            }
            weights.down.multiply(count: rows, input: gateUp, inputStride: 2 * intermediate,
                                  output: residual, outputStride: width, accumulate: true, threads: threads)
            start += rows
        }
    }
}

/// Buffers of the prefill, kept by the model between calls and grown when a call needs more.
final class PrefillScratch {
    let tokenCapacity: Int
    let keyCapacity: Int
    let workers: Int
    /// Post-RoPE queries of every prompt row, `[tokens, queryDim]`.
    let queries: FloatBuffer
    /// Attention output of every prompt row, `[tokens, queryDim]`.
    let attentionOutput: FloatBuffer
    /// RMSNorm output of one chunk, `[chunkRows, hiddenSize]`.
    let normed: FloatBuffer
    /// Projection output of one chunk: Q/K/V rows, then reused for the gate/up rows of the MLP.
    let chunk: FloatBuffer
    /// RoPE tables, `[tokens, headDim / 2]`.
    let cosines: FloatBuffer
    let sines: FloatBuffer
    /// Attention scores, one `[groupSize * attentionBlockRows, keyCapacity]` block per worker.
    let scores: [FloatBuffer]
    /// Gathered queries, then attention outputs, of one GQA group: `[groupSize * attentionBlockRows, headDim]` per worker.
    let gathered: [FloatBuffer]

    init(config: ModelConfig, tokenCapacity: Int, keyCapacity: Int, workers: Int) {
        self.tokenCapacity = tokenCapacity
        self.keyCapacity = keyCapacity
        self.workers = workers
        queries = FloatBuffer(count: tokenCapacity * config.queryDim, zeroed: false)
        attentionOutput = FloatBuffer(count: tokenCapacity * config.queryDim, zeroed: false)
        let rows = min(tokenCapacity, TransformerModel.prefillChunkRows)
        normed = FloatBuffer(count: rows * config.hiddenSize, zeroed: false)
        chunk = FloatBuffer(count: rows * max(config.queryDim + 2 * config.kvDim, 2 * config.intermediateSize), zeroed: false)
        cosines = FloatBuffer(count: tokenCapacity * config.headDim / 2, zeroed: false)
        sines = FloatBuffer(count: tokenCapacity * config.headDim / 2, zeroed: false)
        let groupRows = config.groupSize * min(tokenCapacity, TransformerModel.attentionBlockRows)
        scores = (0..<workers).map { _ in FloatBuffer(count: groupRows * keyCapacity, zeroed: false) }
        gathered = (0..<workers).map { _ in FloatBuffer(count: groupRows * config.headDim, zeroed: false) }
    }

    func fits(tokens: Int, keys: Int, workers: Int) -> Bool {
        tokens <= tokenCapacity && keys <= keyCapacity && workers <= self.workers
    }

    /// Fills the RoPE tables of positions `firstPosition ..< firstPosition + tokens`.
    func fillRopeTables(rope: RotaryEmbedding, firstPosition: Int, tokens: Int) {
        let half = rope.headDim / 2
        for row in 0..<tokens {
            rope.fillTable(position: firstPosition + row, cos: cosines.pointer + row * half, sin: sines.pointer + row * half)
        }
    }
}
