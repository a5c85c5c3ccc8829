import Foundation
import KVPolicies
import ModelFormats
import XCTest
@testable import Modeling

/// The real model against transformers' float32 logits, written by scripts/golden/make_logit_fixtures.py.
final class GoldenLogitsTests: XCTestCase {
    static let tolerance: Float = 2e-3

    struct Checkpoint: Decodable {
        let position: Int
        let tokens: [Int]
        let logits: [Float]
    }

    struct Golden: Decodable {
        let tokens: [Int]
        let lastLogits: String
        let vocabularySize: Int
        let checkpoints: [Checkpoint]
        let greedy: [Int]
    }

    static func golden(_ name: String) throws -> (Golden, [Float]) {
        let directory = Fixtures.repositoryRoot.appendingPathComponent("Tests/Fixtures/logits")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: directory.appendingPathComponent("\(name).json")))
        let data = try Data(contentsOf: directory.appendingPathComponent(golden.lastLogits))
        let last = data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        return (golden, last)
    }

    /// Loaded once: dequantizing the real model takes a few seconds.
    static var sharedModel: TransformerModel?

    func model() throws -> TransformerModel {
        if let model = Self.sharedModel { return model }
        let model = try TransformerModel(path: try Fixtures.requireRealModel(), threads: 2)
        Self.sharedModel = model
        return model
    }

    func checkPrompt(_ name: String) throws {
        let model = try model()
        let (golden, expectedLast) = try Self.golden(name)
        XCTAssertEqual(golden.vocabularySize, model.config.vocabularySize)
        let positions = golden.checkpoints.map(\.position)
        let logits = try model.prefill(tokens: golden.tokens, cache: model.makeCache(), policy: nil, logitPositions: positions)

        XCTAssertEqual(logits.last!.count, expectedLast.count)
        XCTAssertLessThan(maxAbsoluteDifference(logits.last!, expectedLast), Self.tolerance, "\(name) last-position logits")
        for (index, checkpoint) in golden.checkpoints.enumerated() {
            let row = logits[index]
            let actual = checkpoint.tokens.map { row[$0] }
            XCTAssertLessThan(maxAbsoluteDifference(actual, checkpoint.logits), Self.tolerance,
                              "\(name) top-\(checkpoint.tokens.count) logits at position \(checkpoint.position)")
            // The argmax must agree unless the reference's top two are within the tolerance of each other.
            if checkpoint.logits[0] - checkpoint.logits[1] > 2 * Self.tolerance {
                XCTAssertEqual(argmax(row), checkpoint.tokens[0], "\(name) argmax at position \(checkpoint.position)")
            }
        }
    }

    func testChatPromptLogits() throws {
        try checkPrompt("smollm2-chat")
    }

    func testEssayPromptLogits() throws {
        try checkPrompt("smollm2-essays")
    }

    func testGreedyTokensMatch() throws {
        let model = try model()
        for name in ["smollm2-chat", "smollm2-essays"] {
            let (golden, _) = try Self.golden(name)
            let generator = Generator(model: model)
            let result = try generator.generate(prompt: golden.tokens, maxNewTokens: golden.greedy.count, stopTokens: [])
            XCTAssertEqual(result.tokens, golden.greedy, "\(name) greedy tokens")
            XCTAssertEqual(result.stopReason, .maxNewTokens)
        }
    }

    /// Decoding the last prompt token after a prefill of the rest gives the logits of a full prefill.
    func testDecodeAgreesWithPrefill() throws {
        let model = try model()
        let (golden, expectedLast) = try Self.golden("smollm2-chat")
        let cache = model.makeCache()
        _ = try model.prefill(tokens: Array(golden.tokens.dropLast()), cache: cache, policy: nil)
        let logits = try model.decode(token: golden.tokens.last!, cache: cache, policy: nil)
        XCTAssertLessThan(maxAbsoluteDifference(Array(logits), expectedLast), Self.tolerance)
    }
}

private func argmax(_ row: [Float]) -> Int {
    var best = 0
    for i in row.indices where row[i] > row[best] { best = i }
    return best
}
