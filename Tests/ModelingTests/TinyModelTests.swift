import KVPolicies
import ModelFormats
import XCTest
@testable import Modeling

/// Logits of the tiny random-weight models against transformers on the same float32 weights.
final class TinyModelTests: XCTestCase {
    static let tolerance: Float = 1e-4
    static let names = ["tiny-mistral", "tiny-qwen2", "tiny-llama3", "tiny-linear"]

    func load(_ name: String, threads: Int = 2, layers: Range<Int>? = nil) throws -> (TransformerModel, Fixtures.Tiny) {
        let fixture = try Fixtures.tiny(name)
        let model = try TransformerModel(path: fixture.modelPath, layers: layers, threads: threads)
        return (model, fixture)
    }

    func assertLogits(_ actual: [Float], _ expected: [Float], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, label, file: file, line: line)
        let difference = maxAbsoluteDifference(actual, expected)
        XCTAssertLessThan(difference, Self.tolerance, label, file: file, line: line)
    }

    func testConfigFlags() throws {
        let mistral = try ModelConfig(gguf: GGUFFile(path: Fixtures.tiny("tiny-mistral").modelPath))
        XCTAssertEqual(mistral.slidingWindow, 8)
        XCTAssertFalse(mistral.tiedEmbeddings)
        XCTAssertFalse(mistral.hasQKVBias)
        XCTAssertTrue(mistral.permutedQK)
        XCTAssertEqual(mistral.groupSize, 2)

        let qwen2 = try ModelConfig(gguf: GGUFFile(path: Fixtures.tiny("tiny-qwen2").modelPath))
        XCTAssertTrue(qwen2.hasQKVBias)
        XCTAssertTrue(qwen2.tiedEmbeddings)
        XCTAssertFalse(qwen2.permutedQK)
        XCTAssertNil(qwen2.slidingWindow)
        XCTAssertEqual(qwen2.ropeBase, 1_000_000)

        let llama3 = try ModelConfig(gguf: GGUFFile(path: Fixtures.tiny("tiny-llama3").modelPath))
        XCTAssertTrue(llama3.hasRopeFrequencyFactors)

        let linear = try ModelConfig(gguf: GGUFFile(path: Fixtures.tiny("tiny-linear").modelPath))
        XCTAssertEqual(linear.ropeScaling, .linear(factor: 2))
        XCTAssertEqual(linear.blockCount, 1)
    }

    func testPrefillMatchesTransformersAtEveryPosition() throws {
        for name in Self.names {
            let (model, fixture) = try load(name)
            let cache = model.makeCache()
            let logits = try model.prefill(tokens: fixture.tokens, cache: cache, policy: nil,
                                           logitPositions: Array(fixture.tokens.indices))
            for position in fixture.tokens.indices {
                assertLogits(logits[position], fixture.logits[position], "\(name) position \(position)")
            }
            XCTAssertEqual(cache.processedTokens, fixture.tokens.count)
        }
    }

    func testDecodeMatchesTransformers() throws {
        for name in Self.names {
            let (model, fixture) = try load(name)
            let cache = model.makeCache()
            let promptLength = 5
            let first = try model.prefill(tokens: Array(fixture.tokens[..<promptLength]), cache: cache, policy: nil)
            assertLogits(first[0], fixture.logits[promptLength - 1], "\(name) prefill")
            for position in promptLength..<fixture.tokens.count {
                let logits = try model.decode(token: fixture.tokens[position], cache: cache, policy: nil)
                assertLogits(Array(logits), fixture.logits[position], "\(name) decode position \(position)")
            }
            XCTAssertEqual(cache.processedTokens, fixture.tokens.count)
        }
    }

    func testQueryHeadCacheGivesSameLogits() throws {
        for name in ["tiny-mistral", "tiny-qwen2"] {
            let (model, fixture) = try load(name)
            let cache = model.makeCache(granularity: .queryHead)
            XCTAssertEqual(cache.layers[0].heads.count, model.config.headCount)
            let split = 30
            let logits = try model.prefill(tokens: Array(fixture.tokens[..<split]), cache: cache, policy: nil,
                                           logitPositions: Array(0..<split))
            for position in 0..<split {
                assertLogits(logits[position], fixture.logits[position], "\(name) query-head prefill \(position)")
            }
            for position in split..<fixture.tokens.count {
                let step = try model.decode(token: fixture.tokens[position], cache: cache, policy: nil)
                assertLogits(Array(step), fixture.logits[position], "\(name) query-head decode \(position)")
            }
        }
    }

    /// A second prefill continues the sequence over the rows of the first, including the sliding window
    /// over earlier rows.
    func testPrefillContinuesEarlierCache() throws {
        for name in ["tiny-mistral", "tiny-qwen2"] {
            let (model, fixture) = try load(name)
            let cache = model.makeCache()
            let split = 17
            _ = try model.prefill(tokens: Array(fixture.tokens[..<split]), cache: cache, policy: nil)
            let rest = Array(fixture.tokens[split...])
            let logits = try model.prefill(tokens: rest, cache: cache, policy: nil, logitPositions: Array(rest.indices))
            for (index, row) in logits.enumerated() {
                assertLogits(row, fixture.logits[split + index], "\(name) continued prefill position \(split + index)")
            }
        }
    }

    func testLogitsIndependentOfThreadCount() throws {
        let (single, fixture) = try load("tiny-mistral", threads: 1)
        let (dual, _) = try load("tiny-mistral", threads: 2)
        let positions = Array(fixture.tokens.indices)
        let a = try single.prefill(tokens: fixture.tokens, cache: single.makeCache(), policy: nil, logitPositions: positions)
        let b = try dual.prefill(tokens: fixture.tokens, cache: dual.makeCache(), policy: nil, logitPositions: positions)
        let differing = zip(a.joined(), b.joined()).filter { $0 != $1 }.count
        XCTAssertEqual(differing, 0, "logits that differ between 1 and 2 threads")
    }

    /// Two stages, each holding one layer, give the logits of the whole model, at prefill and at decode.
    func testPipelineStagesMatchWholeModel() throws {
        for name in ["tiny-mistral", "tiny-qwen2"] {
            let (first, fixture) = try load(name, layers: 0..<1)
            let (second, _) = try load(name, layers: 1..<2)
            XCTAssertTrue(first.hasEmbedding)
            XCTAssertFalse(first.hasHead)
            XCTAssertFalse(second.hasEmbedding)
            XCTAssertTrue(second.hasHead)
            let firstCache = first.makeCache(), secondCache = second.makeCache()
            XCTAssertEqual(secondCache.layers[0].layer, 1)

            let split = 20
            let prompt = Array(fixture.tokens[..<split])
            var hidden = try first.embed(tokens: prompt)
            try first.prefillLayers(hidden: &hidden, tokenCount: split, cache: firstCache, policy: nil)
            try second.prefillLayers(hidden: &hidden, tokenCount: split, cache: secondCache, policy: nil)
            let logits = try second.logits(hidden: hidden, tokenCount: split, positions: [split - 1])
            assertLogits(logits[0], fixture.logits[split - 1], "\(name) staged prefill")

            for position in split..<fixture.tokens.count {
                try first.embedDecode(token: fixture.tokens[position])
                try first.decodeLayers(cache: firstCache, policy: nil)
                second.decodeHidden.baseAddress!.update(from: first.decodeHidden.baseAddress!, count: first.config.hiddenSize)
                try second.decodeLayers(cache: secondCache, policy: nil)
                let step = try second.decodeLogits()
                assertLogits(Array(step), fixture.logits[position], "\(name) staged decode \(position)")
            }
        }
    }

    func testStageWithoutEmbeddingRejectsPrefill() throws {
        let (second, fixture) = try load("tiny-mistral", layers: 1..<2)
        XCTAssertThrowsError(try second.prefill(tokens: fixture.tokens, cache: second.makeCache(), policy: nil)) { error in
            guard case ModelError.missingStage = error else { return XCTFail("unexpected error \(error)") }
        }
        XCTAssertThrowsError(try second.embed(tokens: [1, 2]))
        XCTAssertThrowsError(try second.embedDecode(token: 1))
    }

    func testWeightBytesCountTiedEmbeddingOnce() throws {
        let (tied, _) = try load("tiny-qwen2")
        let (untied, _) = try load("tiny-mistral")
        let config = tied.config
        let embeddingBytes = config.vocabularySize * config.hiddenSize * 4
        XCTAssertEqual(untied.weightBytes - tied.weightBytes, embeddingBytes - (config.queryDim + 2 * config.kvDim) * 4 * config.blockCount)
    }
}
