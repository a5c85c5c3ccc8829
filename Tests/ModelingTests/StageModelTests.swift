#if canImport(Glibc)
import Glibc
#endif
import ModelFormats
import XCTest
@testable import Modeling

/// Pipeline stages of the real model against the whole model, and the first stage's embedding read from
/// the memory map.
final class StageModelTests: XCTestCase {
    static var sharedModels: (whole: TransformerModel, first: TransformerModel, last: TransformerModel)?

    /// Loads the whole model and the stages 0..<15 and 15..<30 once for the class.
    func models() throws -> (whole: TransformerModel, first: TransformerModel, last: TransformerModel) {
        if let models = Self.sharedModels { return models }
        let file = try GGUFFile(path: try Fixtures.requireRealModel())
        let models = (whole: try TransformerModel(gguf: file, threads: 2),
                      first: try TransformerModel(gguf: file, layers: 0..<15, threads: 2),
                      last: try TransformerModel(gguf: file, layers: 15..<30, threads: 2))
        Self.sharedModels = models
        return models
    }

    func testStagesMatchWholeModelBitwise() throws {
        let (whole, first, last) = try models()
        let (golden, _) = try GoldenLogitsTests.golden("smollm2-essays")
        let prompt = golden.tokens
        let positions = [0, prompt.count / 2, prompt.count - 1]

        let wholeCache = whole.makeCache()
        let expected = try whole.prefill(tokens: prompt, cache: wholeCache, logitPositions: positions)

        let firstCache = first.makeCache(), lastCache = last.makeCache()
        var hidden = try first.embed(tokens: prompt)
        try first.prefillLayers(hidden: &hidden, tokenCount: prompt.count, cache: firstCache, policy: nil)
        try last.prefillLayers(hidden: &hidden, tokenCount: prompt.count, cache: lastCache, policy: nil)
        let staged = try last.logits(hidden: hidden, tokenCount: prompt.count, positions: positions)
        for (index, position) in positions.enumerated() {
            let differing = zip(expected[index], staged[index]).filter { $0.bitPattern != $1.bitPattern }.count
            XCTAssertEqual(differing, 0, "prefill logits at position \(position) that differ from the whole model")
        }

        for (step, token) in golden.greedy.prefix(4).enumerated() {
            let expectedStep = Array(try whole.decode(token: token, cache: wholeCache))
            try first.embedDecode(token: token)
            try first.decodeLayers(cache: firstCache, policy: nil)
            last.decodeHidden.baseAddress!.update(from: first.decodeHidden.baseAddress!, count: first.config.hiddenSize)
            try last.decodeLayers(cache: lastCache, policy: nil)
            let stagedStep = Array(try last.decodeLogits())
            let differing = zip(expectedStep, stagedStep).filter { $0.bitPattern != $1.bitPattern }.count
            XCTAssertEqual(differing, 0, "decode step \(step) logits that differ from the whole model")
        }
    }

    func testMappedEmbeddingMatchesMatrix() throws {
        let (whole, first, _) = try models()
        guard case .mapped = first.embedding else { return XCTFail("stage 0..<15 keeps a resident embedding") }
        guard case .resident = whole.embedding else { return XCTFail("the whole model has no resident embedding") }
        let vocabulary = whole.config.vocabularySize
        var differing = 0
        for start in stride(from: 0, to: vocabulary, by: 4096) {
            let tokens = Array(start..<min(vocabulary, start + 4096))
            let expected = try whole.embed(tokens: tokens)
            let mapped = try first.embed(tokens: tokens)
            differing += zip(expected, mapped).filter { $0.bitPattern != $1.bitPattern }.count
        }
        XCTAssertEqual(differing, 0, "embedding values of the first stage that differ from the whole model's matrix")
    }

    func testEmbedDecodeMatchesEmbed() throws {
        let (_, first, _) = try models()
        for token in [0, 1, 2705, 49151] {
            try first.embedDecode(token: token)
            XCTAssertEqual(Array(first.decodeHidden), try first.embed(tokens: [token]), "token \(token)")
        }
    }

    func testFirstStageRejectsBadToken() throws {
        let (_, first, _) = try models()
        XCTAssertThrowsError(try first.embedDecode(token: 49152)) { error in
            XCTAssertEqual(error as? ModelError, .tokenOutOfRange(token: 49152, vocabularySize: 49152))
        }
        XCTAssertThrowsError(try first.embed(tokens: [5, -1])) { error in
            XCTAssertEqual(error as? ModelError, .tokenOutOfRange(token: -1, vocabularySize: 49152))
        }
    }

    func testWeightBytesPerStage() throws {
        let (whole, first, last) = try models()
        let layer = 3_540_096 * 4
        let head = (49152 * 576 + 576) * 4
        XCTAssertEqual(first.weightBytes, 15 * layer, "first stage: 15 layers and no float32 embedding")
        XCTAssertEqual(last.weightBytes, 15 * layer + head)
        XCTAssertEqual(whole.weightBytes, 30 * layer + head)
        XCTAssertEqual(first.weightBytes, LayerPartition.weightBytes(config: first.config, layers: first.layers))
        XCTAssertEqual(last.weightBytes, LayerPartition.weightBytes(config: last.config, layers: last.layers))
        XCTAssertEqual(whole.weightBytes, LayerPartition.weightBytes(config: whole.config, layers: whole.layers))
    }

    func testWeightBytesMatchPartitionTiny() throws {
        for name in ["tiny-mistral", "tiny-qwen2"] {
            let path = try Fixtures.tiny(name).modelPath
            for layers in [0..<1, 1..<2, 0..<2] {
                let model = try TransformerModel(path: path, layers: layers, threads: 1)
                XCTAssertEqual(model.weightBytes, LayerPartition.weightBytes(config: model.config, layers: layers),
                               "\(name) layers \(layers)")
            }
        }
    }

    /// Needs the allocation-counting preload library described in `DecodeAllocationTests`.
    func testFirstStageDecodeAllocatesNothing() throws {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "kvfactory_allocation_count") else {
            throw XCTSkip("preload a library exporting kvfactory_allocation_count to count allocations")
        }
        let count = unsafeBitCast(symbol, to: DecodeAllocationTests.CountFunction.self)
        let (_, first, _) = try models()
        let (golden, _) = try GoldenLogitsTests.golden("smollm2-chat")
        let cache = first.makeCache()
        cache.reserve(tokens: golden.tokens.count + 8)
        var hidden = try first.embed(tokens: golden.tokens)
        try first.prefillLayers(hidden: &hidden, tokenCount: golden.tokens.count, cache: cache, policy: nil)
        try first.embedDecode(token: golden.greedy[0])
        try first.decodeLayers(cache: cache, policy: nil)
        let before = count()
        for token in golden.greedy[1..<6] {
            try first.embedDecode(token: token)
            try first.decodeLayers(cache: cache, policy: nil)
        }
        XCTAssertEqual(count() - before, 0, "allocations in 5 decode steps of the first stage")
    }
}
