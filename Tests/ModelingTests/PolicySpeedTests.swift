import Dispatch
import Foundation
import XCTest
@testable import KVPolicies
@testable import Modeling
import TensorKernels

/// H2O's accumulated attention against the prefill attention of one SmolLM2 layer, at the same prompt length.
/// A benchmark, so it runs only on request and in release builds:
///
///     KVFACTORY_BENCHMARK=1 swift test -c release -Xswiftc -enable-testing --filter PolicySpeedTests
///
/// `KVFACTORY_PROMPT_TOKENS` sets the length (default 8000).
final class PolicySpeedTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["KVFACTORY_BENCHMARK"] == "1",
                          "a benchmark; set KVFACTORY_BENCHMARK=1 to run it")
        try XCTSkipIf(_isDebugAssertConfiguration(), "timings are meaningful only in release builds")
    }

    func testH2OScoringAgainstPrefillAttention() throws {
        let n = Int(ProcessInfo.processInfo.environment["KVFACTORY_PROMPT_TOKENS"] ?? "") ?? 8000
        let model = try TransformerModel(path: try Fixtures.requireRealModel(), layers: 0..<1, threads: 2)
        let config = model.config
        let cache = model.makeCache(granularity: .kvHead)
        let layerCache = cache.layers[0]
        let scratch = PrefillScratch(config: config, tokenCapacity: n, keyCapacity: n, workers: model.threads)

        // Random post-RoPE rows of the model's shape: the cost does not depend on the values.
        var state: UInt64 = 12345
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        for index in 0..<(n * config.queryDim) { scratch.queries.pointer[index] = next() }
        var keys = [Float](repeating: 0, count: config.headDim)
        var values = [Float](repeating: 0, count: config.headDim)
        for head in layerCache.heads {
            for position in 0..<n {
                for channel in 0..<config.headDim {
                    keys[channel] = next()
                    values[channel] = next()
                }
                head.append(key: keys, value: values, position: position)
            }
        }

        let prefillState = PrefillLayerState(layer: 0, layerCount: config.blockCount, promptLength: n, queryHeads: config.headCount,
                                             kvHeads: config.kvHeadCount, headDim: config.headDim,
                                             queries: scratch.queries.pointer, cache: layerCache)
        let attention = try measure(repeats: 3) {
            Threading.withSingleThreadedBLAS {
                model.prefillAttention(layerCache: layerCache, tokenCount: n, firstPosition: 0, scratch: scratch)
            }
        }
        let h2o = try measure(repeats: 3) { _ = AccumulatedAttentionScorer.columnSums(prefillState) }
        print(String(format: "one layer, n = %d, 2 threads: prefill attention %.3f s (CPU %.3f s), H2O accumulated attention %.3f s (CPU %.3f s)",
                     n, attention.wall, attention.cpu, h2o.wall, h2o.cpu))
    }

    /// Best wall and best CPU seconds over `repeats` runs.
    private func measure(repeats: Int, _ body: () throws -> Void) throws -> (wall: Double, cpu: Double) {
        var wall = Double.infinity, cpu = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = processCPUSeconds()
            try body()
            wall = min(wall, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            cpu = min(cpu, processCPUSeconds() - cpuStart)
        }
        return (wall, cpu)
    }

    private func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
