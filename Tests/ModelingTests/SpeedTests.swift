import Dispatch
import Foundation
import KVPolicies
import ModelFormats
import Tokenization
import XCTest
@testable import Modeling

/// Prefill and decode speed of the real model. Skipped unless `KVFACTORY_SPEED=1`, because the numbers
/// only mean something in a release build on an otherwise idle machine:
///
///     KVFACTORY_SPEED=1 swift test -c release -Xswiftc -enable-testing --filter SpeedTests
///
/// `KVFACTORY_THREADS` sets the thread count (default 2) and `KVFACTORY_PROMPT_TOKENS` the context (default 2048).
final class SpeedTests: XCTestCase {
    func testPrefillAndDecodeSpeed() throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["KVFACTORY_SPEED"] == "1" else { throw XCTSkip("set KVFACTORY_SPEED=1 to measure speed") }
        let threads = Int(environment["KVFACTORY_THREADS"] ?? "") ?? 2
        let promptTokens = Int(environment["KVFACTORY_PROMPT_TOKENS"] ?? "") ?? 2048
        let decodeSteps = 32

        var start = DispatchTime.now().uptimeNanoseconds
        let model = try TransformerModel(path: try Fixtures.requireRealModel(), threads: threads)
        print(String(format: "load: %.2f s, %d MB of float32 weights", seconds(since: start), model.weightBytes >> 20))

        // The first tokens of the Paul Graham essays, concatenated in file-name order.
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: Fixtures.realModelPath))
        let essays = Fixtures.repositoryRoot.appendingPathComponent("data/PaulGrahamEssays")
        let names = try FileManager.default.contentsOfDirectory(atPath: essays.path).filter { $0.hasSuffix(".txt") }.sorted()
        var text = ""
        var tokens: [Int] = []
        for name in names where tokens.count < promptTokens {
            text += try String(contentsOf: essays.appendingPathComponent(name), encoding: .utf8) + "\n\n"
            tokens = tokenizer.encode(text, addSpecialTokens: false)
        }
        guard tokens.count >= promptTokens else {
            throw XCTSkip("the essays under \(essays.path) have \(tokens.count) tokens, fewer than \(promptTokens); run scripts/setup.sh")
        }
        let prompt = Array(tokens[..<promptTokens])
        let cache = model.makeCache()
        cache.reserve(tokens: promptTokens + decodeSteps + 1)

        // CPU seconds divided by the thread count estimate the wall time on an idle machine, because other
        // processes on a busy machine stretch the wall time but not this process's CPU time.
        var best = Double.infinity, bestCPU = Double.infinity
        for _ in 0..<2 {
            cache.reset()
            start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = processCPUSeconds()
            _ = try model.prefill(tokens: prompt, cache: cache, policy: nil)
            best = min(best, seconds(since: start))
            bestCPU = min(bestCPU, processCPUSeconds() - cpuStart)
        }
        print(String(format: "prefill %d tokens, %d threads: %.2f s, %.0f tokens/s (CPU %.2f s, %.0f tokens/s per CPU-second x threads)",
                     promptTokens, threads, best, Double(promptTokens) / best, bestCPU,
                     Double(promptTokens) * Double(threads) / bestCPU))

        var token = prompt.last!
        start = DispatchTime.now().uptimeNanoseconds
        let cpuStart = processCPUSeconds()
        for _ in 0..<decodeSteps {
            let logits = try model.decode(token: token, cache: cache, policy: nil)
            token = logits.indices.max { logits[$0] < logits[$1] }!
        }
        let decodeSeconds = seconds(since: start)
        let decodeCPU = processCPUSeconds() - cpuStart
        print(String(format: "decode at %d context, %d threads: %.1f tokens/s (CPU %.2f s, %.1f tokens/s per CPU-second x threads)",
                     promptTokens, threads, Double(decodeSteps) / decodeSeconds, decodeCPU,
                     Double(decodeSteps) * Double(threads) / decodeCPU))
    }

    private func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    private func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
