import Foundation
import XCTest
@testable import KVPolicies

/// Timings of one layer's compression at SmolLM2-135M's shape (9 query heads, 3 KV heads, head dimension 64).
/// They are benchmarks, so they run only on request and in release builds:
/// `KVFACTORY_BENCHMARK=1 swift test -c release -Xswiftc -enable-testing --filter PolicyPerformanceTests`.
final class PolicyPerformanceTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["KVFACTORY_BENCHMARK"] == "1",
                          "a benchmark; set KVFACTORY_BENCHMARK=1 to run it")
        try XCTSkipIf(_isDebugAssertConfiguration(), "timings are meaningful only in release builds")
    }

    /// Seconds for both prefill hooks of one layer, the best of `repeats` runs.
    private func time(_ flags: [String], tokens: Int, repeats: Int = 3) throws -> Double {
        let input = LayerInput.random(queryHeads: 9, kvHeads: 3, tokens: tokens, headDim: 64, seed: 99, scale: 1)
        let policy = try XCTUnwrap(MethodRegistry.makePolicy(options: options(flags), layerCount: 30, queryHeads: 9, kvHeads: 3,
                                                             headDim: 64, sampleID: 0))
        let queries = input.transformerQueries
        var best = Double.infinity
        for _ in 0..<repeats {
            let cache = input.makeCache(layer: 10, granularity: policy.granularity)
            let start = DispatchTime.now().uptimeNanoseconds
            try queries.withUnsafeBufferPointer { buffer in
                let state = PrefillLayerState(layer: 10, layerCount: 30, promptLength: tokens, queryHeads: 9, kvHeads: 3, headDim: 64,
                                              queries: buffer.baseAddress!, cache: cache)
                try policy.beforePrefillAttention(state)
                try policy.afterPrefillAttention(state)
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return best
    }

    func testSnapKVScoringAt8000Tokens() throws {
        let seconds = try time(["--method", "snapkv", "--max_capacity_prompts", "512"], tokens: 8000)
        print("SnapKV, one layer, n = 8000: \(String(format: "%.2f", seconds * 1000)) ms")
        // A SmolLM2 layer has about 3.5 M weights, so its prefill at 8000 tokens is about 56 GFLOP of matrix
        // products, a second or more on this class of machine; 5% of that is above 50 ms.
        XCTAssertLessThan(seconds, 0.05)
    }

    func testCAMAgainstSnapKVAt4000Tokens() throws {
        let snap = try time(["--method", "snapkv", "--max_capacity_prompts", "512"], tokens: 4000)
        let cam = try time(["--method", "cam", "--max_capacity_prompts", "512"], tokens: 4000)
        print("one layer, n = 4000: SnapKV \(String(format: "%.2f", snap * 1000)) ms, CAM \(String(format: "%.2f", cam * 1000)) ms")
        // CAM computes the window attention twice (before and after the prefill attention) plus an O(n r d) merge.
        XCTAssertLessThan(cam, 3 * snap + 0.005)
    }

    func testH2OAt8000Tokens() throws {
        let seconds = try time(["--method", "h2o", "--max_capacity_prompts", "512"], tokens: 8000, repeats: 1)
        print("H2O, one layer, n = 8000: \(String(format: "%.0f", seconds * 1000)) ms")
        XCTAssertLessThan(seconds, 10)
    }
}
