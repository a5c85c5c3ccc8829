import XCTest
@testable import KVPolicies

/// Decode-time eviction (`--compress_during_decode`), driven the way the transformer drives it: append the new
/// token to every stored head, then call `afterDecodeStep`.
final class DecodeCompressionTests: XCTestCase {
    private struct Session {
        let policy: CachePolicy
        let cache: LayerCache
        let input: LayerInput
        var step = 0

        init(flags: [String], input: LayerInput) throws {
            self.input = input
            policy = try XCTUnwrap(MethodRegistry.makePolicy(options: options(flags), layerCount: 4, queryHeads: input.queryHeads,
                                                             kvHeads: input.kvHeads, headDim: input.headDim, sampleID: 0))
            cache = try input.runPrefill(policy, layer: 2, layerCount: 4)
        }

        /// Appends one token at the next position; `weights(row, count)` gives each query head's attention.
        mutating func decode(query: [Float], weights: (Int, Int) -> Float = { _, count in 1 / Float(count) }) throws {
            step += 1
            let position = input.tokens + step - 1
            let key = [Float](repeating: 0.5, count: input.headDim)
            for head in cache.heads {
                key.withUnsafeBufferPointer { head.append(key: $0.baseAddress!, value: $0.baseAddress!, position: position) }
            }
            let attention: [[Float]] = (0..<input.queryHeads).map { queryHead in
                let count = cache.heads[cache.storedHead(forQueryHead: queryHead)].count
                return (0..<count).map { weights($0, count) }
            }
            let pointers = attention.map { row in row.withUnsafeBufferPointer { UnsafePointer($0.baseAddress!) } }
            try withExtendedLifetime(attention) {
                try query.withUnsafeBufferPointer { buffer in
                    try policy.afterDecodeStep(DecodeLayerState(layer: 2, layerCount: 4, query: buffer.baseAddress!,
                                                                attention: policy.needsDecodeAttention ? pointers : [],
                                                                cache: cache, step: step))
                }
            }
        }
    }

    func testStreamingLLMRollsWindow() throws {
        let input = LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 10, headDim: 4, seed: 1)
        var session = try Session(flags: ["--method", "streamingllm", "--max_capacity_prompts", "6", "--start_size", "2",
                                          "--compress_during_decode", "--decode_compress_interval", "1"], input: input)
        XCTAssertEqual(positions(of: session.cache.heads[0]), [0, 1, 6, 7, 8, 9])
        for _ in 0..<5 { try session.decode(query: Array(repeating: 0, count: 8)) }
        for head in session.cache.heads {
            XCTAssertEqual(positions(of: head), [0, 1, 11, 12, 13, 14])
        }
    }

    func testIntervalBoundsGrowth() throws {
        let input = LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 10, headDim: 4, seed: 1)
        var session = try Session(flags: ["--method", "streamingllm", "--max_capacity_prompts", "6", "--start_size", "2",
                                          "--compress_during_decode", "--decode_compress_interval", "4"], input: input)
        var sizes: [Int] = []
        for _ in 0..<8 {
            try session.decode(query: Array(repeating: 0, count: 8))
            sizes.append(session.cache.heads[0].count)
        }
        XCTAssertEqual(sizes, [7, 8, 9, 6, 7, 8, 9, 6])
    }

    func testH2OKeepsHeavilyAttendedEntry() throws {
        let input = LayerInput.random(queryHeads: 4, kvHeads: 2, tokens: 40, headDim: 8, seed: 2)
        for granularity in ["query_head", "kv_head"] {
            var session = try Session(flags: ["--method", "h2o", "--max_capacity_prompts", "12", "--kv_cache_granularity", granularity,
                                              "--compress_during_decode", "--decode_compress_interval", "8"], input: input)
            XCTAssertTrue(session.policy.needsDecodeAttention)
            // The 9th generated token (position 48) takes all the attention from then on.
            for index in 0..<16 {
                try session.decode(query: Array(repeating: 0, count: 32)) { row, count in
                    if index < 8 { return 1 / Float(count) }
                    let heavyRow = count - 1 - (index - 8)
                    return row == heavyRow ? 1 : 0
                }
            }
            for head in session.cache.heads {
                XCTAssertEqual(head.count, 12, granularity)
                XCTAssertTrue(positions(of: head).contains(48), "\(granularity): \(positions(of: head))")
                XCTAssertEqual(Array(positions(of: head).suffix(8)), Array(48..<56), granularity)
            }
        }
    }

    func testSnapKVReturnsToBudget() throws {
        let input = LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 30, headDim: 4, seed: 3)
        var random = TestRandom(seed: 5)
        var session = try Session(flags: ["--method", "snapkv", "--max_capacity_prompts", "10", "--window_size", "4",
                                          "--compress_during_decode", "--decode_compress_interval", "5"], input: input)
        XCTAssertFalse(session.policy.needsDecodeAttention)
        for _ in 0..<10 { try session.decode(query: random.values(8)) }
        for head in session.cache.heads {
            let kept = positions(of: head)
            XCTAssertEqual(kept.count, 10)
            XCTAssertEqual(Array(kept.suffix(4)), [36, 37, 38, 39])
            XCTAssertEqual(kept, kept.sorted())
        }
    }

    func testPyramidKVTargetsPrefillCounts() throws {
        let input = LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 60, headDim: 4, seed: 4)
        var session = try Session(flags: ["--method", "pyramidkv", "--max_capacity_prompts", "16",
                                          "--compress_during_decode", "--decode_compress_interval", "3"], input: input)
        let prefillCount = session.cache.heads[0].count
        XCTAssertEqual(prefillCount, PyramidSchedule.selectionCount(layer: 2, layerCount: 4, promptLength: 60, budget: 16, window: 8, beta: 20) + 8)
        var random = TestRandom(seed: 6)
        for _ in 0..<6 { try session.decode(query: random.values(8)) }
        XCTAssertEqual(session.cache.heads.map(\.count), [prefillCount, prefillCount])
    }

    func testShortPromptGrowsToBudgetFirst() throws {
        let input = LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 5, headDim: 4, seed: 7)
        var session = try Session(flags: ["--method", "h2o", "--max_capacity_prompts", "10", "--window_size", "2",
                                          "--compress_during_decode", "--decode_compress_interval", "1"], input: input)
        XCTAssertEqual(session.cache.heads[0].count, 5)
        for _ in 0..<9 { try session.decode(query: Array(repeating: 0.1, count: 8)) }
        XCTAssertEqual(session.cache.heads.map(\.count), [10, 10])
    }

    func testWithoutFlagCacheGrows() throws {
        let input = LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 30, headDim: 4, seed: 3)
        var session = try Session(flags: ["--method", "snapkv", "--max_capacity_prompts", "10", "--window_size", "4"], input: input)
        for _ in 0..<20 { try session.decode(query: Array(repeating: 0, count: 8)) }
        XCTAssertEqual(session.cache.heads[0].count, 30)
    }
}

final class SequenceIsolationTests: XCTestCase {
    /// One policy compresses several prompts in a row; each result equals a fresh policy's.
    func testSequencesDoNotShareState() throws {
        let prompts = [
            LayerInput.random(queryHeads: 4, kvHeads: 2, tokens: 90, headDim: 8, seed: 41),
            LayerInput.random(queryHeads: 4, kvHeads: 2, tokens: 50, headDim: 8, seed: 42),
            LayerInput.random(queryHeads: 4, kvHeads: 2, tokens: 20, headDim: 8, seed: 43),
            LayerInput.random(queryHeads: 4, kvHeads: 2, tokens: 130, headDim: 8, seed: 44),
        ]
        for method in ["snapkv", "pyramidkv", "h2o", "streamingllm", "cam", "l2norm", "adakv", "think"] {
            let flags = ["--method", method, "--max_capacity_prompts", "24"]
            let shared = try XCTUnwrap(MethodRegistry.makePolicy(options: options(flags), layerCount: 4, queryHeads: 4, kvHeads: 2,
                                                                 headDim: 8, sampleID: 0))
            for (index, prompt) in prompts.enumerated() {
                shared.beginSequence(sampleID: UInt64(index))
                let reused = try prompt.runPrefill(shared, layer: 2, layerCount: 4)
                let fresh = try XCTUnwrap(MethodRegistry.makePolicy(options: options(flags), layerCount: 4, queryHeads: 4, kvHeads: 2,
                                                                    headDim: 8, sampleID: UInt64(index)))
                let expected = try prompt.runPrefill(fresh, layer: 2, layerCount: 4)
                for (a, b) in zip(reused.heads, expected.heads) {
                    XCTAssertEqual(positions(of: a), positions(of: b), "\(method) prompt \(index)")
                    XCTAssertEqual(Array(UnsafeBufferPointer(start: a.values, count: a.count * 8)),
                                   Array(UnsafeBufferPointer(start: b.values, count: b.count * 8)), "\(method) prompt \(index)")
                }
                XCTAssertEqual(reused.byteCount, expected.byteCount, "\(method) prompt \(index)")
                XCTAssertEqual(reused.heads[0].count < prompt.tokens, prompt.tokens > 24, "\(method) prompt \(index)")
            }
        }
    }

    func testCacheMismatchIsRejected() throws {
        let input = LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 30, headDim: 4, seed: 1)
        let policy = try XCTUnwrap(MethodRegistry.makePolicy(options: options(["--method", "snapkv", "--max_capacity_prompts", "10"]),
                                                             layerCount: 4, queryHeads: 2, kvHeads: 1, headDim: 4, sampleID: 0))
        let cache = input.makeCache(layer: 2, granularity: .queryHead)
        cache.heads[1].keep(indices: Array(0..<29))
        let queries = input.transformerQueries
        XCTAssertThrowsError(try queries.withUnsafeBufferPointer { buffer in
            try policy.afterPrefillAttention(PrefillLayerState(layer: 2, layerCount: 4, promptLength: 30, queryHeads: 2, kvHeads: 1,
                                                               headDim: 4, queries: buffer.baseAddress!, cache: cache))
        }) { error in
            XCTAssertTrue("\(error)".contains("stored head 1 contains 29 entries"), "\(error)")
        }
        let wrongShape = try XCTUnwrap(MethodRegistry.makePolicy(options: options(["--method", "snapkv", "--max_capacity_prompts", "10"]),
                                                                 layerCount: 4, queryHeads: 4, kvHeads: 1, headDim: 4, sampleID: 0))
        XCTAssertThrowsError(try input.runPrefill(wrongShape, layer: 2, layerCount: 4)) { error in
            XCTAssertTrue("\(error)".contains("policy was made for 4"), "\(error)")
        }
    }
}

final class KVCacheTests: XCTestCase {
    private func filledHead(rows: Int) -> HeadCache {
        let head = HeadCache(headDim: 2)
        for row in 0..<rows {
            let key: [Float] = [Float(row), Float(-row)]
            let value: [Float] = [Float(10 * row), 1]
            key.withUnsafeBufferPointer { k in value.withUnsafeBufferPointer { v in head.append(key: k.baseAddress!, value: v.baseAddress!, position: 100 + row) } }
        }
        return head
    }

    func testKeepAscendingCompactsInPlace() {
        let head = filledHead(rows: 6)
        let storage = head.keys
        head.keep(indices: [1, 2, 5])
        XCTAssertEqual(head.keys, storage, "ascending keep reuses the storage")
        XCTAssertEqual(positions(of: head), [101, 102, 105])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: head.keys, count: 6)), [1, -1, 2, -2, 5, -5])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: head.values, count: 6)), [10, 1, 20, 1, 50, 1])
    }

    func testKeepReordersOnRequest() {
        let head = filledHead(rows: 4)
        head.keep(indices: [3, 0])
        XCTAssertEqual(positions(of: head), [103, 100])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: head.keys, count: 4)), [3, -3, 0, 0])
    }

    func testByteCountsSubtractPrunedKeys() {
        let cache = KVCache(layerCount: 2, queryHeads: 4, kvHeads: 2, headDim: 8, granularity: .kvHead)
        let row = [Float](repeating: 1, count: 8)
        for layer in cache.layers {
            for head in layer.heads {
                for position in 0..<3 { row.withUnsafeBufferPointer { head.append(key: $0.baseAddress!, value: $0.baseAddress!, position: position) } }
            }
        }
        cache.layers[1].prunedKeyBytes = 40
        XCTAssertEqual(cache.bytesPerLayer, [2 * 3 * 8 * 2 * 4, 2 * 3 * 8 * 2 * 4 - 40])
        XCTAssertEqual(cache.byteCount, 2 * 2 * 3 * 8 * 2 * 4 - 40)
        cache.reset()
        XCTAssertEqual(cache.byteCount, 0)
    }
}
