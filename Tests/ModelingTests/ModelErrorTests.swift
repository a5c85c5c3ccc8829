import KVPolicies
import ModelFormats
import XCTest
@testable import Modeling

/// Bad model files and bad calls raise typed errors that name the value at fault.
final class ModelErrorTests: XCTestCase {
    func qwen2Copy() throws -> TestGGUFWriter {
        TestGGUFWriter(copying: try GGUFFile(path: Fixtures.tiny("tiny-qwen2").modelPath))
    }

    func mistral() throws -> (TransformerModel, Fixtures.Tiny) {
        let fixture = try Fixtures.tiny("tiny-mistral")
        return (try TransformerModel(path: fixture.modelPath, threads: 2), fixture)
    }

    func testUnsupportedArchitectureNamesSupportedOnes() throws {
        var writer = try qwen2Copy()
        writer.set("general.architecture", .string("gpt2"))
        writer.renamePrefix("qwen2", to: "gpt2")
        let path = try writer.write(name: "gpt2.gguf")
        XCTAssertThrowsError(try TransformerModel(path: path)) { error in
            XCTAssertEqual(error as? ModelError, .unsupportedArchitecture("gpt2"))
            XCTAssertTrue("\(error)".contains("llama, qwen2"), "\(error)")
        }
    }

    func testMissingTensorNamed() throws {
        var writer = try qwen2Copy()
        writer.remove(tensor: "blk.1.ffn_down.weight")
        let path = try writer.write(name: "missing-tensor.gguf")
        XCTAssertThrowsError(try TransformerModel(path: path)) { error in
            XCTAssertEqual(error as? ModelError, .missingTensor(path: path, name: "blk.1.ffn_down.weight"))
        }
    }

    func testStageReadsOnlyItsTensors() throws {
        var writer = try qwen2Copy()
        writer.remove(tensor: "blk.1.ffn_down.weight")
        let path = try writer.write(name: "missing-second-layer.gguf")
        let first = try TransformerModel(path: path, layers: 0..<1, threads: 1)
        XCTAssertEqual(first.layers, 0..<1)
    }

    func testShapeMismatchNamesTensor() throws {
        var writer = try qwen2Copy()
        writer.set("qwen2.feed_forward_length", .uint32(80))
        let path = try writer.write(name: "wrong-ffn.gguf")
        XCTAssertThrowsError(try TransformerModel(path: path)) { error in
            guard case ModelError.tensorShapeMismatch(_, let name, _, _) = error else { return XCTFail("unexpected error \(error)") }
            XCTAssertEqual(name, "blk.0.ffn_gate.weight")
        }
    }

    func testMissingMetadataNamed() throws {
        var writer = try qwen2Copy()
        writer.remove(key: "qwen2.block_count")
        let path = try writer.write(name: "no-block-count.gguf")
        XCTAssertThrowsError(try TransformerModel(path: path)) { error in
            XCTAssertEqual(error as? ModelError, .missingMetadata(path: path, key: "qwen2.block_count"))
        }
    }

    func testInvalidHeadCountsRejected() throws {
        var writer = try qwen2Copy()
        writer.set("qwen2.attention.head_count_kv", .uint32(3))
        let path = try writer.write(name: "bad-kv-heads.gguf")
        XCTAssertThrowsError(try ModelConfig(gguf: GGUFFile(path: path))) { error in
            guard case ModelError.invalidMetadata(_, let key, _) = error else { return XCTFail("unexpected error \(error)") }
            XCTAssertEqual(key, "qwen2.attention.head_count_kv")
        }
    }

    func testYarnScalingUnsupported() throws {
        var writer = try qwen2Copy()
        writer.set("qwen2.rope.scaling.type", .string("yarn"))
        writer.set("qwen2.rope.scaling.factor", .float32(4))
        let path = try writer.write(name: "yarn.gguf")
        XCTAssertThrowsError(try ModelConfig(gguf: GGUFFile(path: path))) { error in
            guard case ModelError.unsupportedFeature(_, let feature) = error else { return XCTFail("unexpected error \(error)") }
            XCTAssertTrue(feature.contains("yarn"), feature)
        }
    }

    func testLayerRangeValidated() throws {
        let path = try Fixtures.tiny("tiny-mistral").modelPath
        for range in [0..<3, 2..<2, -1..<1] {
            XCTAssertThrowsError(try TransformerModel(path: path, layers: range)) { error in
                XCTAssertEqual(error as? ModelError, .invalidLayerRange(range, blockCount: 2))
            }
        }
    }

    func testPromptTooLongRejectedBeforeWork() throws {
        let (model, fixture) = try mistral()
        let cache = model.makeCache()
        let prompt = (0..<(model.config.contextLength + 1)).map { fixture.tokens[$0 % fixture.tokens.count] }
        XCTAssertThrowsError(try model.prefill(tokens: prompt, cache: cache, policy: nil)) { error in
            XCTAssertEqual(error as? ModelError, .promptTooLong(tokens: 257, context: 256))
        }
        XCTAssertEqual(cache.processedTokens, 0)
        XCTAssertEqual(cache.layers[0].heads[0].count, 0)
        XCTAssertThrowsError(try Generator(model: model).generate(prompt: prompt, maxNewTokens: 1)) { error in
            XCTAssertEqual(error as? ModelError, .promptTooLong(tokens: 257, context: 256))
        }
    }

    func testContinuationBeyondContextRejected() throws {
        let (model, fixture) = try mistral()
        let cache = model.makeCache()
        let half = (0..<200).map { fixture.tokens[$0 % fixture.tokens.count] }
        _ = try model.prefill(tokens: half, cache: cache, policy: nil)
        XCTAssertThrowsError(try model.prefill(tokens: Array(half[..<100]), cache: cache, policy: nil)) { error in
            XCTAssertEqual(error as? ModelError, .promptTooLong(tokens: 300, context: 256))
        }
    }

    func testDecodeBeyondContextRejected() throws {
        let (model, fixture) = try mistral()
        let cache = model.makeCache()
        let prompt = (0..<model.config.contextLength).map { fixture.tokens[$0 % fixture.tokens.count] }
        _ = try model.prefill(tokens: prompt, cache: cache, policy: nil)
        XCTAssertThrowsError(try model.decode(token: 1, cache: cache, policy: nil)) { error in
            XCTAssertEqual(error as? ModelError, .contextFull(position: 256, context: 256))
        }
    }

    func testTokenOutOfRangeRejected() throws {
        let (model, _) = try mistral()
        XCTAssertThrowsError(try model.prefill(tokens: [1, 96], cache: model.makeCache(), policy: nil)) { error in
            XCTAssertEqual(error as? ModelError, .tokenOutOfRange(token: 96, vocabularySize: 96))
        }
        XCTAssertThrowsError(try model.decode(token: -1, cache: model.makeCache(), policy: nil)) { error in
            XCTAssertEqual(error as? ModelError, .tokenOutOfRange(token: -1, vocabularySize: 96))
        }
    }

    func testEmptyPromptRejected() throws {
        let (model, _) = try mistral()
        XCTAssertThrowsError(try model.prefill(tokens: [], cache: model.makeCache(), policy: nil)) { error in
            XCTAssertEqual(error as? ModelError, .emptyPrompt)
        }
    }

    func testLogitPositionValidated() throws {
        let (model, fixture) = try mistral()
        XCTAssertThrowsError(try model.prefill(tokens: fixture.tokens, cache: model.makeCache(), policy: nil,
                                               logitPositions: [fixture.tokens.count])) { error in
            XCTAssertEqual(error as? ModelError, .logitPositionOutOfRange(position: 40, tokens: 40))
        }
    }

    func testForeignCacheRejected() throws {
        let (model, fixture) = try mistral()
        let other = try TransformerModel(path: Fixtures.tiny("tiny-linear").modelPath, threads: 1)
        XCTAssertThrowsError(try model.prefill(tokens: fixture.tokens, cache: other.makeCache(), policy: nil)) { error in
            guard case ModelError.cacheMismatch = error else { return XCTFail("unexpected error \(error)") }
        }
    }
}
