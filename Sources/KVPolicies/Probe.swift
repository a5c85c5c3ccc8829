/// A float32 tensor handed to `probeCompression`, row-major.
public struct ProbeTensor: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}

/// The entries a method keeps of one layer.
public struct ProbeResult: Equatable, Sendable {
    public let granularity: CacheGranularity
    public let headDim: Int
    /// Budget B for this prompt.
    public let budget: Int
    /// Per stored head, the kept absolute positions in ascending order.
    public let keptPositions: [[Int]]
    /// ThinK only: per stored head, the key channels that stay in the pruned rows, ascending.
    public let keptChannels: [[Int]]?
    /// Per stored head, the kept keys, row-major `[keptPositions[h].count, headDim]`, in `keptPositions` order.
    /// ThinK's pruned channels are zero in all but the most recent `--recent_size` rows.
    public let keys: [[Float]]
    public let values: [[Float]]
    /// Bytes of the compressed layer, as `LayerCache.byteCount` counts them.
    public let cacheBytes: Int

    /// The compressed cache as named tensors for a safetensors dump: `k.<head>` and `v.<head>` of shape
    /// `[kept, headDim]` for each stored head, keys first.
    public var namedTensors: [(name: String, shape: [Int], values: [Float])] {
        var result: [(name: String, shape: [Int], values: [Float])] = []
        for (head, rows) in keptPositions.enumerated() {
            result.append(("k.\(head)", [rows.count, headDim], keys[head]))
            result.append(("v.\(head)", [rows.count, headDim], values[head]))
        }
        return result
    }
}

/// Applies a method to one layer's post-RoPE tensors, exactly as the transformer's prefill hooks do.
/// - Parameters:
///   - q: queries `[1, queryHeads, n, headDim]`.
///   - k: keys `[1, kvHeads, n, headDim]`, at positions 0..<n.
///   - v: values, with the shape of `k`.
///   - sampleID: seeds CAM's draws together with `--seed` and the layer.
public func probeCompression(method options: PolicyOptions, layer: Int, layerCount: Int,
                             q: ProbeTensor, k: ProbeTensor, v: ProbeTensor, sampleID: UInt64 = 0) throws -> ProbeResult {
    let (queryHeads, promptLength, headDim) = try probeShape(q, name: "q")
    let (kvHeads, keyLength, keyDim) = try probeShape(k, name: "k")
    guard keyLength == promptLength, keyDim == headDim else {
        throw PolicyError.invalidProbeTensor(name: "k", detail: "shape \(k.shape) does not match q's [1, \(queryHeads), \(promptLength), \(headDim)]; expected [1, kv_heads, \(promptLength), \(headDim)]")
    }
    guard v.shape == k.shape else {
        throw PolicyError.invalidProbeTensor(name: "v", detail: "shape \(v.shape) differs from k's \(k.shape)")
    }
    _ = try probeShape(v, name: "v")
    guard queryHeads % kvHeads == 0 else {
        throw PolicyError.invalidProbeTensor(name: "q", detail: "\(queryHeads) query heads are not a multiple of k's \(kvHeads) KV heads")
    }
    guard layer >= 0, layer < layerCount else {
        throw PolicyError.invalidModelShape("layer \(layer) is outside 0..<\(layerCount)")
    }

    let cache = LayerCache(layer: layer, granularity: options.granularity, queryHeads: queryHeads, kvHeads: kvHeads, headDim: headDim)
    for (storedIndex, head) in cache.heads.enumerated() {
        let source = cache.kvHead(forStoredHead: storedIndex) * promptLength * headDim
        k.values.withUnsafeBufferPointer { keys in
            v.values.withUnsafeBufferPointer { values in
                head.appendRows(keys: keys.baseAddress! + source, keyStride: headDim,
                                values: values.baseAddress! + source, valueStride: headDim,
                                firstPosition: 0, rowCount: promptLength)
            }
        }
    }
    // The transformer's layout: [n, queryHeads * headDim].
    var queries = [Float](repeating: 0, count: promptLength * queryHeads * headDim)
    for head in 0..<queryHeads {
        for row in 0..<promptLength {
            for channel in 0..<headDim {
                queries[(row * queryHeads + head) * headDim + channel] = q.values[(head * promptLength + row) * headDim + channel]
            }
        }
    }

    let policy = try MethodRegistry.makePolicy(options: options, layerCount: layerCount, queryHeads: queryHeads,
                                               kvHeads: kvHeads, headDim: headDim, sampleID: sampleID)
    var keptChannels: [[Int]]?
    try queries.withUnsafeBufferPointer { buffer in
        let state = PrefillLayerState(layer: layer, layerCount: layerCount, promptLength: promptLength, queryHeads: queryHeads,
                                      kvHeads: kvHeads, headDim: headDim, queries: buffer.baseAddress!, cache: cache)
        guard let policy else { return }
        policy.beginSequence(sampleID: sampleID)
        try policy.beforePrefillAttention(state)
        try policy.afterPrefillAttention(state)
        keptChannels = (policy as? CompressionPolicy)?.reports[layer]?.keptChannels
    }

    let keys = cache.heads.map { Array(UnsafeBufferPointer(start: $0.keys, count: $0.count * headDim)) }
    let values = cache.heads.map { Array(UnsafeBufferPointer(start: $0.values, count: $0.count * headDim)) }
    let positions = cache.heads.map { head in (0..<head.count).map { Int(head.positions[$0]) } }
    return ProbeResult(granularity: options.granularity, headDim: headDim, budget: options.budget(forPromptLength: promptLength),
                       keptPositions: positions, keptChannels: keptChannels, keys: keys, values: values,
                       cacheBytes: cache.byteCount)
}

/// Checks a `[1, heads, n, headDim]` tensor and returns (heads, n, headDim).
private func probeShape(_ tensor: ProbeTensor, name: String) throws -> (Int, Int, Int) {
    let shape = tensor.shape
    guard shape.count == 4, shape[0] == 1, shape[1] > 0, shape[2] > 0, shape[3] > 0 else {
        throw PolicyError.invalidProbeTensor(name: name, detail: "shape \(shape) is not [1, heads, tokens, head_dim] with positive sizes")
    }
    let (inner, innerOverflow) = shape[2].multipliedReportingOverflow(by: shape[3])
    let (product, overflow) = shape[1].multipliedReportingOverflow(by: inner)
    guard !innerOverflow, !overflow, product == tensor.values.count else {
        throw PolicyError.invalidProbeTensor(name: name, detail: "shape \(shape) does not match the \(tensor.values.count) values given")
    }
    return (shape[1], shape[2], shape[3])
}
