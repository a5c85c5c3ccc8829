import XCTest
@testable import KVPolicies

/// Selections on tiny hand-built tensors whose kept indices follow from the method definitions by hand.
final class MethodSelectionTests: XCTestCase {
    /// One query head and one KV head with d = 2: key j is (a[j], 0) and every query is (c, 0), so within a
    /// query row the attention weight grows with a[j].
    private func scalarInput(_ a: [Float], query c: Float) -> LayerInput {
        let n = a.count
        return LayerInput(queryHeads: 1, kvHeads: 1, tokens: n, headDim: 2,
                          q: (0..<n).flatMap { _ in [c, 0] },
                          k: a.flatMap { [$0, 0] },
                          v: (0..<n).flatMap { [Float($0), Float(10 * $0)] })
    }

    private let snapKeys: [Float] = [0.1, 0.9, 0.2, 0.5, 0.0, 0.8, 0.3, 0.0, 0.7, 0.4, 0, 0]

    func testSnapKVWithoutPoolingKeepsLargestKeys() throws {
        let parsed = try options(["--method", "snapkv", "--max_capacity_prompts", "5", "--window_size", "2", "--kernel_size", "1"])
        let result = try scalarInput(snapKeys, query: 4).probe(parsed)
        XCTAssertEqual(result.keptPositions, [[1, 5, 8, 10, 11]])
    }

    func testSnapKVMaxPoolTiesGoToLowerPositions() throws {
        // Pooled with kernel 3: [.9, .9, .9, .5, .8, .8, .8, .7, .7, .7]; the three tied maxima are positions 0-2.
        let three = try options(["--method", "snapkv", "--max_capacity_prompts", "5", "--window_size", "2", "--kernel_size", "3"])
        XCTAssertEqual(try scalarInput(snapKeys, query: 4).probe(three).keptPositions, [[0, 1, 2, 10, 11]])
        let five = try options(["--method", "snapkv", "--max_capacity_prompts", "7", "--window_size", "2", "--kernel_size", "3"])
        XCTAssertEqual(try scalarInput(snapKeys, query: 4).probe(five).keptPositions, [[0, 1, 2, 4, 5, 10, 11]])
    }

    func testSnapKVShortPromptStaysWhole() throws {
        let parsed = try options(["--method", "snapkv", "--max_capacity_prompts", "13", "--window_size", "2"])
        let result = try scalarInput(snapKeys, query: 4).probe(parsed)
        XCTAssertEqual(result.keptPositions, [Array(0..<12)])
    }

    func testH2OFavoursEarlyHeavyHitters() throws {
        // With sharp attention each query row puts almost all weight on the largest visible key: rows 0-2 on key 0
        // and rows 3-11 on key 3. Key 1 collects about 2e^-10 from rows 1-2 and key 2 about e^-10, both more
        // than key 6 (about 6e^-20), so H2O keeps 0, 1, 3 where SnapKV keeps 0, 3, 6.
        let a: [Float] = [1, 0, 0, 5, 0, 0, 3, 0, 0, 0, 0, 0]
        let input = scalarInput(a, query: 10 * Float(2).squareRoot())
        let h2o = try options(["--method", "h2o", "--max_capacity_prompts", "5", "--window_size", "2"])
        XCTAssertEqual(try input.probe(h2o).keptPositions, [[0, 1, 3, 10, 11]])
        let snap = try options(["--method", "snapkv", "--max_capacity_prompts", "5", "--window_size", "2", "--kernel_size", "1"])
        XCTAssertEqual(try input.probe(snap).keptPositions, [[0, 3, 6, 10, 11]])
    }

    func testStreamingLLMKeepsSinksAndRecent() throws {
        let input = LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 12, headDim: 4, seed: 1)
        let parsed = try options(["--method", "streamingllm", "--max_capacity_prompts", "6", "--window_size", "32"])
        XCTAssertEqual(try input.probe(parsed).keptPositions, [[0, 1, 2, 3, 10, 11], [0, 1, 2, 3, 10, 11]])
        let twoSinks = try options(["--method", "streamingllm", "--max_capacity_prompts", "6", "--start_size", "2"])
        XCTAssertEqual(try input.probe(twoSinks).keptPositions[0], [0, 1, 8, 9, 10, 11])
    }

    func testL2NormKeepsLowestNormsWithoutWindow() throws {
        let a: [Float] = [5, 1, 4, 2, 3, 0.5, 6, 7]
        let parsed = try options(["--method", "l2norm", "--max_capacity_prompts", "3"])
        XCTAssertEqual(try scalarInput(a, query: 1).probe(parsed, layer: 2).keptPositions, [[1, 3, 5]])
    }

    func testL2NormSkipsFirstTwoLayers() throws {
        let a: [Float] = [5, 1, 4, 2, 3, 0.5, 6, 7]
        let parsed = try options(["--method", "l2norm", "--max_capacity_prompts", "3"])
        XCTAssertEqual(try scalarInput(a, query: 1).probe(parsed, layer: 0).keptPositions, [Array(0..<8)])
        XCTAssertEqual(try scalarInput(a, query: 1).probe(parsed, layer: 1).keptPositions, [Array(0..<8)])
    }

    func testAdaKVCountsByHand() {
        // Head 0 scores 20...1 (normalised by 155/210), head 1 scores 5 then 0.01s (normalised by 5.09/5.19).
        // The global top 20 takes 19 entries of head 0 and one of head 1; with floor 0.2 and B' = 10 (F = 2):
        // round(19 * 0.8 + 2) = 17 and round(1 * 0.8 + 2) = 3.
        let head0 = (0..<20).map { Float(20 - $0) }
        let head1 = [Float(5)] + Array(repeating: 0.01, count: 19)
        XCTAssertEqual(AdaptiveAllocator.counts(scores: [head0, head1], base: 10, floorRatio: 0.2), [17, 3])
        XCTAssertEqual(AdaptiveAllocator.counts(scores: [head0, head1], base: 10, floorRatio: 1), [10, 10])
        XCTAssertEqual(AdaptiveAllocator.counts(scores: [head0, head1], base: 10, floorRatio: 0), [19, 1])
    }

    func testAdaKVTotalsMatchBudget() throws {
        let input = LayerInput.random(queryHeads: 6, kvHeads: 2, tokens: 300, headDim: 8, seed: 11)
        for (granularity, heads) in [("query_head", 6), ("kv_head", 2)] {
            for floor in ["0.2", "0.5"] {
                let parsed = try options(["--method", "adakv", "--max_capacity_prompts", "58", "--floor", floor,
                                          "--kv_cache_granularity", granularity])
                let result = try input.probe(parsed)
                let kept = result.keptPositions.map(\.count)
                let total = kept.reduce(0, +)
                // Each head keeps k_h + w; the k_h round to within half a token of heads * B' in total.
                XCTAssertLessThanOrEqual(abs(total - heads * 58), heads / 2 + 1, "\(granularity) floor \(floor): \(kept)")
                let floorCapacity = Int(50 * Double(floor)!)
                XCTAssertTrue(kept.allSatisfy { $0 >= floorCapacity + 8 }, "\(kept)")
                for positions in result.keptPositions {
                    XCTAssertEqual(Array(positions.suffix(8)), Array(292..<300))
                }
            }
        }
    }

    func testFullKVHasNoPolicy() throws {
        XCTAssertNil(try MethodRegistry.makePolicy(options: options(["--method", "FullKV"]), layerCount: 2, queryHeads: 2,
                                                   kvHeads: 1, headDim: 4, sampleID: 0))
        let result = try LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 20, headDim: 4, seed: 2).probe(options([]))
        XCTAssertEqual(result.keptPositions, [Array(0..<20), Array(0..<20)])
    }

    func testKVHeadStoresOneHeadPerGroup() throws {
        let input = LayerInput.random(queryHeads: 6, kvHeads: 2, tokens: 64, headDim: 8, seed: 5)
        let parsed = try options(["--method", "snapkv", "--max_capacity_prompts", "20", "--kv_cache_granularity", "kv_head"])
        let result = try input.probe(parsed)
        XCTAssertEqual(result.keptPositions.count, 2)
        XCTAssertEqual(result.keptPositions.map(\.count), [20, 20])
        XCTAssertEqual(result.cacheBytes, 2 * 20 * 8 * 2 * 4)
        let dump = result.namedTensors
        XCTAssertEqual(dump.map(\.name), ["k.0", "v.0", "k.1", "v.1"])
        XCTAssertEqual(dump.map(\.shape), [[20, 8], [20, 8], [20, 8], [20, 8]])
        XCTAssertEqual(dump[3].values, result.values[1])
    }

    func testKeptValuesMatchPositions() throws {
        let input = LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 40, headDim: 4, seed: 9)
        let result = try input.probe(options(["--method", "h2o", "--max_capacity_prompts", "12"]))
        for (head, kept) in result.keptPositions.enumerated() {
            for (row, position) in kept.enumerated() {
                XCTAssertEqual(Array(result.keys[head][(row * 4)..<(row * 4 + 4)]), Array(input.k[(position * 4)..<(position * 4 + 4)]))
                XCTAssertEqual(Array(result.values[head][(row * 4)..<(row * 4 + 4)]), Array(input.v[(position * 4)..<(position * 4 + 4)]))
            }
        }
    }
}

final class ProbeTests: XCTestCase {
    func testRejectsBadShapes() throws {
        let input = LayerInput.random(queryHeads: 4, kvHeads: 2, tokens: 10, headDim: 4, seed: 1)
        let parsed = try options(["--method", "snapkv"])
        let cases: [(ProbeTensor, ProbeTensor, ProbeTensor, String)] = [
            (ProbeTensor(shape: [4, 10, 4], values: input.q), input.kTensor, input.vTensor, "probe tensor q: shape [4, 10, 4]"),
            (ProbeTensor(shape: [1, 4, 10, 5], values: input.q), input.kTensor, input.vTensor, "160 values"),
            (input.qTensor, ProbeTensor(shape: [1, 2, 9, 4], values: Array(input.k.prefix(72))), input.vTensor, "probe tensor k"),
            (input.qTensor, input.kTensor, ProbeTensor(shape: [1, 1, 10, 8], values: input.v), "probe tensor v"),
            (input.qTensor, ProbeTensor(shape: [1, 3, 10, 4], values: Array(repeating: 0, count: 120)),
             ProbeTensor(shape: [1, 3, 10, 4], values: Array(repeating: 0, count: 120)), "not a multiple"),
        ]
        for (q, k, v, phrase) in cases {
            XCTAssertThrowsError(try probeCompression(method: parsed, layer: 0, layerCount: 2, q: q, k: k, v: v)) { error in
                XCTAssertTrue("\(error)".contains(phrase), "\(error)")
            }
        }
        XCTAssertThrowsError(try input.probe(parsed, layer: 2, layerCount: 2)) { error in
            XCTAssertTrue("\(error)".contains("layer 2 is outside 0..<2"), "\(error)")
        }
    }
}
