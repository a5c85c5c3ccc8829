import Foundation
@testable import KVPolicies

/// Deterministic test inputs: a linear congruential generator, so tests need no platform RNG.
struct TestRandom {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }

    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state
    }

    /// Uniform in [-1, 1).
    mutating func symmetric() -> Float {
        Float(next() >> 40) / Float(1 << 23) - 1
    }

    mutating func values(_ count: Int, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in symmetric() * scale }
    }
}

/// One layer's prompt tensors in the probe layout: q `[H, n, d]`, k and v `[Hkv, n, d]`.
struct LayerInput {
    let queryHeads: Int
    let kvHeads: Int
    let tokens: Int
    let headDim: Int
    var q: [Float]
    var k: [Float]
    var v: [Float]

    static func random(queryHeads: Int, kvHeads: Int, tokens: Int, headDim: Int, seed: UInt64, scale: Float = 2) -> LayerInput {
        var random = TestRandom(seed: seed)
        return LayerInput(queryHeads: queryHeads, kvHeads: kvHeads, tokens: tokens, headDim: headDim,
                          q: random.values(queryHeads * tokens * headDim, scale: scale),
                          k: random.values(kvHeads * tokens * headDim, scale: scale),
                          v: random.values(kvHeads * tokens * headDim))
    }

    var qTensor: ProbeTensor { ProbeTensor(shape: [1, queryHeads, tokens, headDim], values: q) }
    var kTensor: ProbeTensor { ProbeTensor(shape: [1, kvHeads, tokens, headDim], values: k) }
    var vTensor: ProbeTensor { ProbeTensor(shape: [1, kvHeads, tokens, headDim], values: v) }

    func probe(_ options: PolicyOptions, layer: Int = 2, layerCount: Int = 4, sampleID: UInt64 = 0) throws -> ProbeResult {
        try probeCompression(method: options, layer: layer, layerCount: layerCount, q: qTensor, k: kTensor, v: vTensor,
                             sampleID: sampleID)
    }

    /// Queries in the transformer layout `[n, H * d]`.
    var transformerQueries: [Float] {
        var result = [Float](repeating: 0, count: q.count)
        for head in 0..<queryHeads {
            for row in 0..<tokens {
                for channel in 0..<headDim {
                    result[(row * queryHeads + head) * headDim + channel] = q[(head * tokens + row) * headDim + channel]
                }
            }
        }
        return result
    }

    /// Builds a layer cache filled with the prompt, as the transformer fills it before the prefill hooks.
    func makeCache(layer: Int, granularity: CacheGranularity) -> LayerCache {
        let cache = LayerCache(layer: layer, granularity: granularity, queryHeads: queryHeads, kvHeads: kvHeads, headDim: headDim)
        for (index, head) in cache.heads.enumerated() {
            let source = cache.kvHead(forStoredHead: index) * tokens * headDim
            k.withUnsafeBufferPointer { keys in
                v.withUnsafeBufferPointer { values in
                    head.appendRows(keys: keys.baseAddress! + source, keyStride: headDim,
                                    values: values.baseAddress! + source, valueStride: headDim,
                                    firstPosition: 0, rowCount: tokens)
                }
            }
        }
        return cache
    }

    /// Runs both prefill hooks of `policy` on a fresh cache and returns the cache.
    func runPrefill(_ policy: CachePolicy, layer: Int, layerCount: Int) throws -> LayerCache {
        let cache = makeCache(layer: layer, granularity: policy.granularity)
        let queries = transformerQueries
        try queries.withUnsafeBufferPointer { buffer in
            let state = PrefillLayerState(layer: layer, layerCount: layerCount, promptLength: tokens, queryHeads: queryHeads,
                                          kvHeads: kvHeads, headDim: headDim, queries: buffer.baseAddress!, cache: cache)
            try policy.beforePrefillAttention(state)
            try policy.afterPrefillAttention(state)
        }
        return cache
    }
}

func positions(of head: HeadCache) -> [Int] {
    (0..<head.count).map { Int(head.positions[$0]) }
}

func options(_ flags: [String]) throws -> PolicyOptions {
    var arguments = flags
    let parsed = try PolicyOptions.parse(&arguments)
    precondition(arguments.isEmpty, "unparsed test flags \(arguments)")
    return parsed
}

/// The repository's Tests/Fixtures directory.
let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")
