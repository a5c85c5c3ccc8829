import KVPolicies
import TensorKernels

/// Working memory of one decode step, allocated once per model so the token loop allocates nothing.
final class DecodeBuffers {
    /// The residual stream, `[hiddenSize]`; the hidden state exchanged between pipeline stages.
    let hidden: FloatBuffer
    let normed: FloatBuffer
    /// Q, K and V of the step, stacked like `LayerWeights.qkv`.
    let qkv: FloatBuffer
    let attentionOutput: FloatBuffer
    /// Gate and up projections; the SwiGLU result overwrites the gate half.
    let gateUp: FloatBuffer
    let cosines: FloatBuffer
    let sines: FloatBuffer
    /// Logits, `[vocabularySize]`, on the last stage only.
    let logits: FloatBuffer?
    /// Attention scores, then softmax weights: `[headCount, scoreStride]`.
    private(set) var scores: UnsafeMutablePointer<Float>
    private(set) var scoreStride: Int
    let headCount: Int

    init(config: ModelConfig, hasHead: Bool) {
        hidden = FloatBuffer(count: config.hiddenSize)
        normed = FloatBuffer(count: config.hiddenSize)
        qkv = FloatBuffer(count: config.queryDim + 2 * config.kvDim)
        attentionOutput = FloatBuffer(count: config.queryDim)
        gateUp = FloatBuffer(count: 2 * config.intermediateSize)
        cosines = FloatBuffer(count: config.headDim / 2)
        sines = FloatBuffer(count: config.headDim / 2)
        logits = hasHead ? FloatBuffer(count: config.vocabularySize) : nil
        headCount = config.headCount
        scoreStride = min(config.contextLength, 4096)
        scores = .allocate(capacity: headCount * scoreStride)
    }

    deinit { scores.deallocate() }

    /// Makes room for `rows` keys per head; grows geometrically, so a long generation reallocates only rarely.
    func reserveScores(rows: Int) {
        guard rows > scoreStride else { return }
        let stride = max(rows, scoreStride * 2)
        scores.deallocate()
        scores = .allocate(capacity: headCount * stride)
        scoreStride = stride
    }
}

extension TransformerModel {
    /// Runs one token through all layers at position `cache.processedTokens` and returns the logits.
    ///
    /// The returned buffer belongs to the model and is overwritten by the next decode step. Without a
    /// policy the step allocates no heap memory once the cache and score buffers have grown to the context.
    public func decode(token: Int, cache: KVCache, policy: CachePolicy? = nil) throws -> UnsafeBufferPointer<Float> {
        guard hasEmbedding, hasHead else {
            throw ModelError.missingStage("decode(token:) needs layers 0..<\(config.blockCount), but this instance has layers \(layers.lowerBound)..<\(layers.upperBound); call embedDecode, decodeLayers and decodeLogits on the stages instead")
        }
        try embedDecode(token: token)
        try decodeLayers(cache: cache, policy: policy)
        return try decodeLogits()
    }

    /// The decode step's hidden state, `[hiddenSize]`: written by `embedDecode` or received from the previous
    /// stage, updated in place by `decodeLayers`.
    public var decodeHidden: UnsafeMutableBufferPointer<Float> { decodeBuffers.hidden.buffer }

    /// Writes the embedding of `token` into `decodeHidden`. First stage only.
    public func embedDecode(token: Int) throws {
        guard let embedding else {
            throw ModelError.missingStage("embedDecode(token:) needs the token embedding, which lives on the stage holding layer 0")
        }
        try validate(token: token)
        try embedding.copyRow(token, into: decodeBuffers.hidden.pointer)
    }

    /// Runs `decodeHidden` through this instance's layers at position `cache.processedTokens`, appending the
    /// token's K/V to `cache`, then advances `cache.processedTokens` by one.
    public func decodeLayers(cache: KVCache, policy: CachePolicy?) throws {
        try validate(cache: cache, policy: policy)
        let position = cache.processedTokens
        guard position < config.contextLength else {
            throw ModelError.contextFull(position: position, context: config.contextLength)
        }
        let buffers = decodeBuffers
        var largest = 0
        for layer in cache.layers {
            for head in layer.heads { largest = max(largest, head.count) }
        }
        buffers.reserveScores(rows: largest + 1)
        rope.fillTable(position: position, cos: buffers.cosines.pointer, sin: buffers.sines.pointer)
        let prefillEnd = prefillEnds[ObjectIdentifier(cache)] ?? 0
        let step = position >= prefillEnd ? position - prefillEnd + 1 : position + 1

        try Threading.withSingleThreadedBLAS {
            for (index, weights) in blocks.enumerated() {
                try decodeLayer(weights: weights, layerCache: cache.layers[index], position: position,
                                policy: policy, step: step)
            }
        }
        cache.processedTokens += 1
    }

    /// Final RMSNorm and LM head on `decodeHidden`. Last stage only. The buffer is overwritten by the next step.
    public func decodeLogits() throws -> UnsafeBufferPointer<Float> {
        guard let outputHead, let outputNorm, let logits = decodeBuffers.logits else {
            throw ModelError.missingStage("decodeLogits() needs the LM head, which lives on the stage holding the last layer")
        }
        let buffers = decodeBuffers
        VectorOps.rmsNorm(buffers.hidden.pointer, weight: outputNorm.pointer, epsilon: config.rmsNormEpsilon,
                          count: config.hiddenSize, output: buffers.normed.pointer)
        Threading.withSingleThreadedBLAS {
            outputHead.multiplyVector(buffers.normed.pointer, output: logits.pointer, threads: threads)
        }
        return UnsafeBufferPointer(logits.buffer)
    }

    /// Runs one layer of a decode step.
    func decodeLayer(weights: LayerWeights, layerCache: LayerCache, position: Int, policy: CachePolicy?, step: Int) throws {
        let buffers = decodeBuffers
        let width = config.hiddenSize, headDim = config.headDim
        let queryDim = config.queryDim, kvDim = config.kvDim
        let hidden = buffers.hidden.pointer, normed = buffers.normed.pointer, qkv = buffers.qkv.pointer

        // Attention input: RMSNorm, Q/K/V projection, RoPE at the absolute position.
        VectorOps.rmsNorm(hidden, weight: weights.attentionNorm.pointer, epsilon: config.rmsNormEpsilon,
                          count: width, output: normed)
        weights.qkv.multiplyVector(normed, output: qkv, threads: threads)
        if let bias = weights.qkvBias { VectorOps.add(bias.pointer, to: qkv, count: queryDim + 2 * kvDim) }
        RotaryEmbedding.apply(qkv, heads: config.headCount, headDim: headDim,
                              cos: buffers.cosines.pointer, sin: buffers.sines.pointer)
        RotaryEmbedding.apply(qkv + queryDim, heads: config.kvHeadCount, headDim: headDim,
                              cos: buffers.cosines.pointer, sin: buffers.sines.pointer)

        // Append this token's K/V to every stored head, then attend.
        for (stored, head) in layerCache.heads.enumerated() {
            let kvHead = layerCache.kvHead(forStoredHead: stored)
            head.append(key: qkv + queryDim + kvHead * headDim, value: qkv + queryDim + kvDim + kvHead * headDim,
                        position: position)
        }
        decodeAttention(layerCache: layerCache, position: position, buffers: buffers)

        if let policy {
            var attention: [UnsafePointer<Float>] = []
            if policy.needsDecodeAttention {
                attention = (0..<config.headCount).map { UnsafePointer(buffers.scores + $0 * buffers.scoreStride) }
            }
            let state = DecodeLayerState(layer: layerCache.layer, layerCount: config.blockCount, query: qkv,
                                         attention: attention, cache: layerCache, step: step)
            try policy.afterDecodeStep(state)
        }

        // Output projection into the residual stream, then the MLP block.
        weights.attentionOutput.multiplyVector(buffers.attentionOutput.pointer, output: hidden, accumulate: true, threads: threads)
        VectorOps.rmsNorm(hidden, weight: weights.mlpNorm.pointer, epsilon: config.rmsNormEpsilon, count: width, output: normed)
        let intermediate = config.intermediateSize
        let gateUp = buffers.gateUp.pointer
        weights.gateUp.multiplyVector(normed, output: gateUp, threads: threads)
        VectorOps.swiGLU(gate: gateUp, up: gateUp + intermediate, count: intermediate)
        weights.down.multiplyVector(gateUp, output: hidden, accumulate: true, threads: threads)
    }
}
