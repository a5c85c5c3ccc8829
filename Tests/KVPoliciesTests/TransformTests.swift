import XCTest
@testable import KVPolicies

final class MergeTests: XCTestCase {
    /// StreamingLLM with B = 4 and 2 sinks keeps 0, 1, 4, 5 of six tokens and drops 2 and 3. Key 2 points almost
    /// along key 0 and key 3 almost along key 1, so each merges into one sink.
    private let input = LayerInput(
        queryHeads: 1, kvHeads: 1, tokens: 6, headDim: 2,
        q: Array(repeating: 1, count: 12),
        k: [1, 0, 0, 1, 2, 0.1, 0.1, 3, -1, 0, 0, -1],
        v: (0..<6).flatMap { [Float($0), Float(10 * $0)] })

    private func merged(_ mode: String) throws -> ProbeResult {
        try input.probe(options(["--method", "streamingllm", "--max_capacity_prompts", "4", "--start_size", "2", "--merge", mode]))
    }

    func testPivotMergeByHand() throws {
        let result = try merged("pivot")
        XCTAssertEqual(result.keptPositions, [[0, 1, 4, 5]])
        // r' = (r + (d + r) / 2) / 2 for one dropped token d.
        let keys = result.keys[0]
        let values = result.values[0]
        XCTAssertEqual(keys[0], 1.25, accuracy: 1e-6)
        XCTAssertEqual(keys[1], 0.025, accuracy: 1e-6)
        XCTAssertEqual(keys[2], 0.025, accuracy: 1e-6)
        XCTAssertEqual(keys[3], 1.5, accuracy: 1e-6)
        XCTAssertEqual(Array(values[0..<4]), [0.5, 5, 1.5, 15])
        XCTAssertEqual(Array(keys[4..<8]), [-1, 0, 0, -1], "rows without dropped tokens stay unchanged")
        XCTAssertEqual(Array(values[4..<8]), [4, 40, 5, 50])
    }

    func testWeightedMergeByHand() throws {
        let result = try merged("weighted")
        // omega = (cos + 1) / 2 and r' = (r + omega d) / (1 + omega).
        let cos0 = 2 / (Float(4.01)).squareRoot()
        let omega0 = (cos0 + 1) / 2
        XCTAssertEqual(result.keys[0][0], (1 + omega0 * 2) / (1 + omega0), accuracy: 1e-6)
        XCTAssertEqual(result.keys[0][1], (omega0 * 0.1) / (1 + omega0), accuracy: 1e-6)
        XCTAssertEqual(result.values[0][0], (omega0 * 2) / (1 + omega0), accuracy: 1e-6)
        let cos1 = 3 / (Float(9.01)).squareRoot()
        let omega1 = (cos1 + 1) / 2
        XCTAssertEqual(result.values[0][3], (10 + omega1 * 30) / (1 + omega1), accuracy: 1e-5)
    }

    func testMergeKeepsLengthAndWindow() throws {
        let random = LayerInput.random(queryHeads: 4, kvHeads: 2, tokens: 80, headDim: 8, seed: 21)
        for method in ["snapkv", "pyramidkv", "h2o", "streamingllm"] {
            for mode in ["pivot", "weighted"] {
                for granularity in ["query_head", "kv_head"] {
                    let flags = ["--method", method, "--max_capacity_prompts", "24", "--kv_cache_granularity", granularity]
                    let plain = try random.probe(options(flags))
                    let merged = try random.probe(options(flags + ["--merge", mode]))
                    XCTAssertEqual(merged.keptPositions, plain.keptPositions, "\(method) \(mode) \(granularity)")
                    XCTAssertNotEqual(merged.keys, plain.keys, "\(method) \(mode) \(granularity) changed nothing")
                    XCTAssertTrue(merged.keys.joined().allSatisfy(\.isFinite))
                }
            }
        }
    }

    func testIdenticalDroppedKeyLeavesPivotUnchanged() {
        // A dropped row equal to its target averages to the target itself.
        let head = HeadCache(headDim: 2)
        let rows: [[Float]] = [[1, 2], [1, 2], [0, 5]]
        for (index, row) in rows.enumerated() { row.withUnsafeBufferPointer { head.append(key: $0.baseAddress!, value: $0.baseAddress!, position: index) } }
        MergeTransform.merge(head: head, retained: [0, 2], candidateCount: 2, mode: .pivot)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: head.keys, count: 6)), [1, 2, 1, 2, 0, 5])
    }
}

final class CAMTests: XCTestCase {
    /// Equal keys give equal mean attention on every past column, so every candidate merges with p = 1.
    private func uniformKeyInput(tokens: Int) -> LayerInput {
        var random = TestRandom(seed: 4)
        return LayerInput(queryHeads: 2, kvHeads: 1, tokens: tokens, headDim: 4,
                          q: random.values(2 * tokens * 4), k: (0..<tokens).flatMap { _ in [0.5, -0.25, 1, 0] },
                          v: random.values(tokens * 4))
    }

    func testCertainMergesFollowRecurrence() throws {
        let n = 20, window = 4
        let input = uniformKeyInput(tokens: n)
        let result = try input.probe(options(["--method", "cam", "--max_capacity_prompts", "10", "--window_size", "\(window)"]))

        // s = ceil(0.1 n) = 2; candidates c = 2 ..< n - r add V'[c] / r to rows c+1 ... c+r in increasing c.
        var expected = (0..<n).map { row in (0..<4).map { Double(input.v[row * 4 + $0]) } }
        for candidate in 2..<(n - window) {
            let contribution = expected[candidate].map { $0 / Double(window) }
            for row in (candidate + 1)...(candidate + window) {
                for channel in 0..<4 { expected[row][channel] += contribution[channel] }
            }
        }
        // Equal scores: top-(B - w) takes the lowest positions.
        XCTAssertEqual(result.keptPositions, [[0, 1, 2, 3, 4, 5, 16, 17, 18, 19], [0, 1, 2, 3, 4, 5, 16, 17, 18, 19]])
        for head in 0..<2 {
            for (row, position) in result.keptPositions[head].enumerated() {
                for channel in 0..<4 {
                    XCTAssertEqual(Double(result.values[head][row * 4 + channel]), expected[position][channel], accuracy: 1e-4,
                                   "head \(head) position \(position)")
                }
            }
        }
    }

    func testDrawsDependOnSeedAndSample() throws {
        let input = LayerInput.random(queryHeads: 4, kvHeads: 2, tokens: 120, headDim: 8, seed: 8, scale: 1)
        let parsed = try options(["--method", "cam", "--max_capacity_prompts", "40"])
        let first = try input.probe(parsed, sampleID: 1)
        let again = try input.probe(parsed, sampleID: 1)
        let otherSample = try input.probe(parsed, sampleID: 2)
        var reseeded = parsed
        reseeded.seed = 43
        let otherSeed = try input.probe(reseeded, sampleID: 1)
        XCTAssertEqual(first, again)
        XCTAssertNotEqual(first.values, otherSample.values)
        XCTAssertNotEqual(first.values, otherSeed.values)
        XCTAssertEqual(first.keptPositions, otherSample.keptPositions, "selection uses the pre-merge scores")
    }

    func testKeysAndEarlyValuesUntouched() throws {
        let input = LayerInput.random(queryHeads: 2, kvHeads: 2, tokens: 100, headDim: 4, seed: 12, scale: 1)
        let parsed = try options(["--method", "cam", "--max_capacity_prompts", "30"])
        let policy = try XCTUnwrap(MethodRegistry.makePolicy(options: parsed, layerCount: 4, queryHeads: 2, kvHeads: 2, headDim: 4, sampleID: 3))
        let cache = input.makeCache(layer: 2, granularity: .queryHead)
        let queries = input.transformerQueries
        try queries.withUnsafeBufferPointer { buffer in
            let state = PrefillLayerState(layer: 2, layerCount: 4, promptLength: 100, queryHeads: 2, kvHeads: 2, headDim: 4,
                                          queries: buffer.baseAddress!, cache: cache)
            try policy.beforePrefillAttention(state)
        }
        // Before the prefill attention the cache is still whole; only values after s = 10 can change.
        for (index, head) in cache.heads.enumerated() {
            XCTAssertEqual(head.count, 100)
            let source = index * 100 * 4
            XCTAssertEqual(Array(UnsafeBufferPointer(start: head.keys, count: 400)), Array(input.k[source..<(source + 400)]))
            XCTAssertEqual(Array(UnsafeBufferPointer(start: head.values, count: 44)), Array(input.v[source..<(source + 44)]))
            XCTAssertNotEqual(Array(UnsafeBufferPointer(start: head.values, count: 400)), Array(input.v[source..<(source + 400)]))
        }
    }

    func testMatchesSnapKVSelectionWithoutPooling() throws {
        let input = LayerInput.random(queryHeads: 4, kvHeads: 2, tokens: 90, headDim: 8, seed: 31)
        let cam = try input.probe(options(["--method", "cam", "--max_capacity_prompts", "30"]))
        let snap = try input.probe(options(["--method", "snapkv", "--max_capacity_prompts", "30", "--kernel_size", "1"]))
        XCTAssertEqual(cam.keptPositions, snap.keptPositions)
    }
}

final class ThinKTests: XCTestCase {
    /// Queries (1, 2, 0.5, 3) everywhere and keys (a, 1, 2, 0.1) with a >= 1.1 give channel scores
    /// mean(a^2) > 1.21, 4, 1 and 0.09, so channels 2 and 3 are pruned.
    private func input() -> LayerInput {
        let a: [Float] = [1.1, 1.9, 1.3, 1.5, 1.2, 1.8, 1.4, 1.6, 1.15, 1.7, 1.25, 1.35]
        return LayerInput(queryHeads: 1, kvHeads: 1, tokens: 12, headDim: 4,
                          q: (0..<12).flatMap { _ in [1, 2, 0.5, 3] }, k: a.flatMap { [$0, 1, 2, 0.1] },
                          v: Array(repeating: 1, count: 48))
    }

    func testPrunesLowestChannelsOutsideRecentRows() throws {
        let parsed = try options(["--method", "think", "--max_capacity_prompts", "6", "--window_size", "2", "--kernel_size", "1",
                                  "--pruning_ratio", "0.5", "--recent_size", "2"])
        let result = try input().probe(parsed)
        // SnapKV keeps the four largest a among positions 0-9 (1, 5, 9, 7) plus the window 10, 11.
        XCTAssertEqual(result.keptPositions, [[1, 5, 7, 9, 10, 11]])
        XCTAssertEqual(result.keptChannels, [[0, 1]])
        let keys = result.keys[0]
        for row in 0..<4 {
            XCTAssertEqual(Array(keys[(row * 4 + 2)..<(row * 4 + 4)]), [0, 0], "row \(row) is pruned")
        }
        for row in 4..<6 {
            XCTAssertEqual(Array(keys[(row * 4 + 2)..<(row * 4 + 4)]), [2, 0.1], "recent row \(row) keeps full width")
        }
        // 6 rows x 4 channels x 2 tensors x 4 bytes, minus 4 rows x 2 channels x 4 bytes.
        XCTAssertEqual(result.cacheBytes, 6 * 4 * 2 * 4 - 4 * 2 * 4)
    }

    func testShortPromptIsNotPruned() throws {
        let parsed = try options(["--method", "think", "--max_capacity_prompts", "20", "--window_size", "2"])
        let result = try input().probe(parsed)
        XCTAssertEqual(result.keptPositions, [Array(0..<12)])
        XCTAssertEqual(result.cacheBytes, 12 * 4 * 2 * 4)
    }

    func testDefaultRatioPrunesFortyPercent() throws {
        let random = LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 100, headDim: 64, seed: 6)
        let result = try random.probe(options(["--method", "think", "--max_capacity_prompts", "50"]))
        // int(64 * 0.4) = 25 channels pruned in the 50 - 32 = 18 oldest kept rows.
        XCTAssertEqual(result.keptChannels?.map(\.count), [39, 39])
        XCTAssertEqual(result.cacheBytes, 2 * (50 * 64 * 2 * 4 - 18 * 25 * 4))
    }
}

final class HeadKVTests: XCTestCase {
    private func writeTable(_ object: Any) throws -> String {
        let path = NSTemporaryDirectory() + "headscores-\(UUID().uuidString).json"
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testCapacitiesRoundHalfToEven() throws {
        // shares 0.25 and 0.75; floor(100 / 1.01) = 99, pool 198, minimum 1: 50.5 -> 50 and 149.5 -> 150.
        let table = try HeadScoreTable(layerCount: 1, headCount: 2, scores: [1, 3])
        XCTAssertEqual(table.capacities(budget: 100, beta: 1.01), [[50, 150]])
    }

    func testLoadAveragesProbeLists() throws {
        let path = try writeTable(["0-0": [1, 3], "0-1": [2], "1-0": 0, "1-1": [4, 4, 4]])
        let table = try HeadScoreTable.load(path: path, layerCount: 2, headCount: 2)
        XCTAssertEqual(table.shares, [2.0 / 8, 2.0 / 8, 0, 4.0 / 8])
    }

    func testShapeMismatchNamesHeadscoresCommand() throws {
        let path = try writeTable(["0-0": [1], "0-1": [1]])
        XCTAssertThrowsError(try HeadScoreTable.load(path: path, layerCount: 30, headCount: 9)) { error in
            XCTAssertEqual(error as? PolicyError, .headScoreShapeMismatch(path: path, tableLayers: 1, tableHeads: 2, modelLayers: 30, modelHeads: 9))
            XCTAssertTrue("\(error)".contains("kvfactory headscores"))
        }
    }

    func testMalformedTables() throws {
        let cases: [(Any, String)] = [
            (["0-1": [1]], "\"0-0\" is missing"),
            (["0-0": [Int](), "0-1": [1]], "empty score list"),
            (["0-0": ["high"], "0-1": [1]], "not a number"),
            (["0-0": [-1], "0-1": [1]], "non-negative"),
            (["zero": [1]], "\"zero\""),
            ([[1, 2]], "top level"),
            (["0-0": [0], "0-1": [0]], "sum to 0"),
        ]
        for (object, phrase) in cases {
            let path = try writeTable(object)
            XCTAssertThrowsError(try HeadScoreTable.load(path: path, layerCount: 1, headCount: 2)) { error in
                XCTAssertTrue("\(error)".contains(phrase), "\(error)")
                XCTAssertTrue("\(error)".contains(path), "\(error)")
            }
        }
        let garbage = NSTemporaryDirectory() + "headscores-\(UUID().uuidString).json"
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: garbage))
        XCTAssertThrowsError(try HeadScoreTable.load(path: garbage, layerCount: 1, headCount: 2)) { error in
            XCTAssertTrue("\(error)".contains("not valid JSON"), "\(error)")
        }
    }

    func testMissingTablePathAndFile() throws {
        let parsed = try options(["--method", "headkv"])
        XCTAssertThrowsError(try MethodRegistry.makePolicy(options: parsed, layerCount: 2, queryHeads: 2, kvHeads: 1, headDim: 4, sampleID: 0)) { error in
            XCTAssertEqual(error as? PolicyError, .missingHeadScores(method: "HeadKV"))
            XCTAssertTrue("\(error)".contains("kvfactory headscores"))
        }
        var missing = parsed
        missing.headPath = "/nonexistent/scores.json"
        XCTAssertThrowsError(try MethodRegistry.makePolicy(options: missing, layerCount: 2, queryHeads: 2, kvHeads: 1, headDim: 4, sampleID: 0)) { error in
            XCTAssertEqual(error as? PolicyError, .headScoreFileNotFound(path: "/nonexistent/scores.json"))
        }
    }

    func testPolicyUsesTableCounts() throws {
        // Layer 1 of a 2 x 4 table; B = 20, beta = 2: pool = 10 * 8 = 80, minimum 10.
        var scores: [String: [Double]] = [:]
        let values: [Double] = [1, 1, 1, 1, 1, 6, 2, 3]
        for layer in 0..<2 { for head in 0..<4 { scores["\(layer)-\(head)"] = [values[layer * 4 + head]] } }
        let path = try writeTable(scores)
        let input = LayerInput.random(queryHeads: 4, kvHeads: 2, tokens: 120, headDim: 8, seed: 14)
        let flags = ["--method", "headkv", "--max_capacity_prompts", "20", "--head_beta", "2", "--head_path", path]
        // shares of layer 1: 1/16, 6/16, 2/16, 3/16 -> 5 + 10, 30 + 10, 10 + 10, 15 + 10 selected, plus w = 8.
        let query = try input.probe(options(flags), layer: 1, layerCount: 2)
        XCTAssertEqual(query.keptPositions.map(\.count), [23, 48, 28, 33])
        // kv_head: round(mean(15, 40)) = round(27.5) = 28 and round(mean(20, 25)) = round(22.5) = 22.
        let kv = try input.probe(options(flags + ["--kv_cache_granularity", "kv_head"]), layer: 1, layerCount: 2)
        XCTAssertEqual(kv.keptPositions.map(\.count), [36, 30])
    }
}
