import KVPolicies
import XCTest
@testable import Modeling

final class GenerationTests: XCTestCase {
    func tinyModel(_ name: String = "tiny-mistral") throws -> (TransformerModel, Fixtures.Tiny) {
        let fixture = try Fixtures.tiny(name)
        return (try TransformerModel(path: fixture.modelPath, threads: 2), fixture)
    }

    /// Greedy tokens by hand: prefill, then argmax and decode in a loop.
    func manualGreedy(_ model: TransformerModel, prompt: [Int], count: Int) throws -> [Int] {
        let cache = model.makeCache()
        var logits = try model.prefill(tokens: prompt, cache: cache, policy: nil)[0]
        var tokens: [Int] = []
        for _ in 0..<count {
            let token = logits.indices.max { logits[$0] < logits[$1] }!
            tokens.append(token)
            logits = Array(try model.decode(token: token, cache: cache, policy: nil))
        }
        return tokens
    }

    func testGreedyMatchesManualLoop() throws {
        let (model, fixture) = try tinyModel()
        let prompt = Array(fixture.tokens[..<12])
        let result = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 10)
        XCTAssertEqual(result.tokens, try manualGreedy(model, prompt: prompt, count: 10))
        XCTAssertEqual(result.stopReason, .maxNewTokens)
        XCTAssertEqual(result.promptTokens, 12)
    }

    func testStopTokenEndsGeneration() throws {
        let (model, fixture) = try tinyModel()
        let prompt = Array(fixture.tokens[..<12])
        let free = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 10)
        let stop = free.tokens[3]
        let firstStop = free.tokens.firstIndex(of: stop)!
        let stopped = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 10, stopTokens: [stop])
        XCTAssertEqual(stopped.tokens, Array(free.tokens[...firstStop]))
        XCTAssertEqual(stopped.stopReason, .stopToken(stop))
    }

    func testCallbackCancelsGeneration() throws {
        let (model, fixture) = try tinyModel()
        var seen: [Int] = []
        let result = try Generator(model: model).generate(prompt: Array(fixture.tokens[..<8]), maxNewTokens: 10) { token in
            seen.append(token)
            return seen.count < 4
        }
        XCTAssertEqual(result.stopReason, .cancelled)
        XCTAssertEqual(result.tokens.count, 4)
        XCTAssertEqual(seen, result.tokens)
    }

    func testGenerationStopsAtContextLength() throws {
        let (model, fixture) = try tinyModel()
        let context = model.config.contextLength
        let prompt = (0..<(context - 3)).map { fixture.tokens[$0 % fixture.tokens.count] }
        let result = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 20)
        XCTAssertEqual(result.stopReason, .contextFull)
        // The prompt and every generated token but the last occupy the context.
        XCTAssertEqual(result.tokens.count, 4)
    }

    func testZeroNewTokensRunsPrefillOnly() throws {
        let (model, fixture) = try tinyModel()
        let cache = model.makeCache()
        let result = try Generator(model: model).generate(prompt: fixture.tokens, maxNewTokens: 0, cache: cache)
        XCTAssertEqual(result.tokens, [])
        XCTAssertEqual(cache.processedTokens, fixture.tokens.count)
    }

    func testResultReportsTimingsAndCacheBytes() throws {
        let (model, fixture) = try tinyModel()
        let cache = model.makeCache()
        let result = try Generator(model: model).generate(prompt: fixture.tokens, maxNewTokens: 5, cache: cache)
        XCTAssertGreaterThan(result.prefillSeconds, 0)
        XCTAssertGreaterThan(result.decodeSeconds, 0)
        XCTAssertGreaterThanOrEqual(result.timeToFirstToken, result.prefillSeconds)
        let config = model.config
        // Keys and values of every processed token: the prompt and all generated tokens but the last.
        let rows = fixture.tokens.count + 4
        XCTAssertEqual(result.kvCacheBytes, config.blockCount * config.kvHeadCount * rows * config.headDim * 2 * 4)
    }

    func testGeneratorResetsReusedCache() throws {
        let (model, fixture) = try tinyModel()
        let cache = model.makeCache()
        let prompt = Array(fixture.tokens[..<10])
        let first = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 6, cache: cache)
        let second = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 6, cache: cache)
        XCTAssertEqual(first.tokens, second.tokens)
    }

    func testSamplingIsReproducibleForSeed() throws {
        let (model, fixture) = try tinyModel()
        let prompt = Array(fixture.tokens[..<10])
        let options = SamplingOptions(temperature: 1, topP: 0.9, seed: 7)
        let a = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 16, sampling: options)
        let b = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 16, sampling: options)
        XCTAssertEqual(a.tokens, b.tokens)
        let other = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 16,
                                                         sampling: SamplingOptions(temperature: 1, topP: 0.9, seed: 8))
        XCTAssertNotEqual(a.tokens, other.tokens)
    }

    func testTinyTopPSamplesArgmax() throws {
        let (model, fixture) = try tinyModel()
        let prompt = Array(fixture.tokens[..<10])
        let greedy = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 8)
        let nucleus = try Generator(model: model).generate(prompt: prompt, maxNewTokens: 8,
                                                           sampling: SamplingOptions(temperature: 0.8, topP: 1e-6, seed: 3))
        XCTAssertEqual(nucleus.tokens, greedy.tokens)
    }

    func testInvalidSamplingRejected() throws {
        let (model, fixture) = try tinyModel()
        let generator = Generator(model: model)
        for options in [SamplingOptions(temperature: -1), SamplingOptions(temperature: .nan),
                        SamplingOptions(temperature: 1, topP: 0), SamplingOptions(temperature: 1, topP: 1.5)] {
            XCTAssertThrowsError(try generator.generate(prompt: fixture.tokens, maxNewTokens: 2, sampling: options)) { error in
                guard case ModelError.invalidSampling = error else { return XCTFail("unexpected error \(error)") }
            }
        }
        XCTAssertThrowsError(try generator.generate(prompt: fixture.tokens, maxNewTokens: -1))
    }
}

final class SamplerTests: XCTestCase {
    /// Reference outputs from the published xoshiro256** and SplitMix64 algorithms, computed in Python.
    func testXoshiroMatchesReferenceSequence() {
        var generator = Xoshiro256StarStar(seed: 42)
        XCTAssertEqual(generator.next(), 0x1578_0B2E_0C2E_C716)
        XCTAssertEqual(generator.next(), 0x6104_D986_6D11_3A7E)
        XCTAssertEqual(generator.next(), 0xAE17_5332_39E4_99A1)
        var zero = Xoshiro256StarStar(seed: 0)
        XCTAssertEqual(zero.next(), 0x99EC_5F36_CB75_F2B4)
    }

    func testUnitIntervalStaysBelowOne() {
        var generator = Xoshiro256StarStar(seed: 1)
        for _ in 0..<10_000 {
            let value = generator.nextUnitInterval()
            XCTAssertGreaterThanOrEqual(value, 0)
            XCTAssertLessThan(value, 1)
        }
    }

    func testGreedyPicksArgmax() throws {
        let sampler = try TokenSampler(options: .greedy, vocabularySize: 5)
        let logits: [Float] = [0.1, 2, -1, 2, 0]
        XCTAssertEqual(logits.withUnsafeBufferPointer { sampler.sample($0) }, 1)
    }

    func testSamplingFollowsProbabilities() throws {
        let sampler = try TokenSampler(options: SamplingOptions(temperature: 1, seed: 11), vocabularySize: 3)
        // Probabilities 0.5, 0.25, 0.25 (logits are log-probabilities).
        let logits: [Float] = [log(0.5), log(0.25), log(0.25)]
        var counts = [0, 0, 0]
        for _ in 0..<20_000 { counts[logits.withUnsafeBufferPointer { sampler.sample($0) }] += 1 }
        XCTAssertEqual(Double(counts[0]) / 20_000, 0.5, accuracy: 0.02)
        XCTAssertEqual(Double(counts[1]) / 20_000, 0.25, accuracy: 0.02)
        XCTAssertEqual(Double(counts[2]) / 20_000, 0.25, accuracy: 0.02)
    }

    func testTopPExcludesTail() throws {
        let sampler = try TokenSampler(options: SamplingOptions(temperature: 1, topP: 0.7, seed: 5), vocabularySize: 4)
        // Probabilities 0.5, 0.3, 0.15, 0.05: the nucleus for 0.7 is tokens 0 and 1.
        let logits: [Float] = [log(0.5), log(0.3), log(0.15), log(0.05)]
        var seen = Set<Int>()
        for _ in 0..<2_000 { seen.insert(logits.withUnsafeBufferPointer { sampler.sample($0) }) }
        XCTAssertEqual(seen, [0, 1])
    }
}
