import ModelFormats
import XCTest
@testable import Tokenization

/// Tokenizers built from small GGUF files written by the tests, for rules that real vocabularies
/// rarely isolate and for bad metadata.
final class SyntheticVocabularyTests: XCTestCase {
    /// Byte-level token id of an ASCII character in `TokenizerFileBuilder.bytePair` vocabularies.
    private func byte(_ character: Character) -> Int { Int(character.asciiValue!) }

    func testMergesApplyInRankOrder() throws {
        let tokenizer = try TokenizerFileBuilder.bytePair(pre: "gpt-2", extraTokens: ["ab", "bc", "abc"],
                                                          merges: ["a b", "b c", "ab c"])
            .tokenizer(name: "merge-order.gguf")
        // "a b" (rank 0) beats "b c" (rank 1), then "ab c" joins the rest.
        XCTAssertEqual(tokenizer.encode("abc"), [258])
        XCTAssertEqual(tokenizer.encode("bc"), [257])
        XCTAssertEqual(tokenizer.encode("cab"), [byte("c"), 256])
    }

    func testEqualRanksMergeLeftmostFirst() throws {
        let tokenizer = try TokenizerFileBuilder.bytePair(pre: "gpt-2", extraTokens: ["aa"], merges: ["a a"])
            .tokenizer(name: "leftmost.gguf")
        XCTAssertEqual(tokenizer.encode("aaa"), [256, byte("a")])
        XCTAssertEqual(tokenizer.encode("aaaa"), [256, 256])
    }

    func testMergeOutsideVocabularyFallsBackToBytes() throws {
        // llama.cpp looks each byte up as a one-byte token when a merge makes a string outside the vocabulary.
        let tokenizer = try TokenizerFileBuilder.bytePair(pre: "gpt-2", merges: ["x y"]).tokenizer(name: "outside.gguf")
        XCTAssertEqual(tokenizer.encode("xy"), [byte("x"), byte("y")])
    }

    func testLongerSpecialTokenWinsOverlap() throws {
        // "ab" is user-defined (found always), "bcd" is control (found only when parsing special tokens).
        var types = [Int32](repeating: 1, count: 256)
        types += [4, 3]
        let tokenizer = try TokenizerFileBuilder.bytePair(pre: "gpt-2", extraTokens: ["ab", "bcd"], types: types)
            .tokenizer(name: "overlap.gguf")
        XCTAssertEqual(tokenizer.encode("abcd"), [byte("a"), 257])
        XCTAssertEqual(tokenizer.encode("abcd", parseSpecial: false), [256, byte("c"), byte("d")])
        XCTAssertEqual(tokenizer.encode("abab"), [256, 256])
    }

    func testSpecialTokensAddedAsMetadataSays() throws {
        var types = [Int32](repeating: 1, count: 256)
        types += [3, 3]
        var builder = TokenizerFileBuilder.bytePair(pre: "smollm", extraTokens: ["<s>", "</s>"], types: types)
        builder.set("tokenizer.ggml.bos_token_id", .uint32(256))
        builder.set("tokenizer.ggml.eos_token_id", .uint32(257))
        builder.set("tokenizer.ggml.add_bos_token", .bool(true))
        builder.set("tokenizer.ggml.add_eos_token", .bool(true))
        let tokenizer = try builder.tokenizer(name: "bos-eos.gguf")
        XCTAssertTrue(tokenizer.addBOS)
        XCTAssertTrue(tokenizer.addEOS)
        XCTAssertEqual(tokenizer.encode("a"), [256, byte("a"), 257])
        XCTAssertEqual(tokenizer.encode("a", addSpecialTokens: false), [byte("a")])
        XCTAssertEqual(tokenizer.decode([256, byte("a"), 257]), "<s>a</s>")
        XCTAssertEqual(tokenizer.decode([256, byte("a"), 257], skipSpecialTokens: true), "a")
        XCTAssertEqual(tokenizer.stopTokenIds, [257])
    }

    func testMissingPreTokenizerUsesDefault() throws {
        let tokenizer = try TokenizerFileBuilder.bytePair(pre: nil).tokenizer(name: "no-pre.gguf")
        XCTAssertEqual(tokenizer.preTokenizerName, "default")
        XCTAssertFalse(tokenizer.addBOS)
        XCTAssertNil(tokenizer.bosTokenId)
    }

    /// Builds a SentencePiece tokenizer of `<unk>`, `<s>`, `</s>`, the 256 byte tokens, then the given pieces.
    private func sentencePiece(_ pieces: [(String, Float)], name: String) throws -> Tokenizer {
        let byteNames = (0..<256).map { String(format: "<0x%02X>", $0) }
        var builder = TokenizerFileBuilder()
        builder.set("tokenizer.ggml.model", .string("llama"))
        builder.set("tokenizer.ggml.tokens", .strings(["<unk>", "<s>", "</s>"] + byteNames + pieces.map(\.0)))
        builder.set("tokenizer.ggml.scores", .float32s([0, 0, 0] + [Float](repeating: 0, count: 256) + pieces.map(\.1)))
        builder.set("tokenizer.ggml.token_type",
                    .int32s([2, 3, 3] + [Int32](repeating: 6, count: 256) + [Int32](repeating: 1, count: pieces.count)))
        return try builder.tokenizer(name: name)
    }

    func testSentencePieceMergesByScore() throws {
        let tokenizer = try sentencePiece([("▁", -5), ("a", -5), ("b", -5), ("▁a", -1), ("ab", -0.5), ("▁ab", -2)],
                                          name: "spm-score.gguf")
        let spaceAB = try XCTUnwrap(tokenizer.tokenId("▁ab"))
        // "ab" (-0.5) merges before "▁a" (-1); then "▁" + "ab" makes "▁ab".
        XCTAssertEqual(tokenizer.encode("ab"), [1, spaceAB])
        XCTAssertEqual(tokenizer.decode([1, spaceAB], skipSpecialTokens: true), "ab")
    }

    func testSentencePieceByteFallbackAndSpaces() throws {
        let tokenizer = try sentencePiece([("▁", -5), ("a", -5), ("▁a", -1)], name: "spm-bytes.gguf")
        let space = try XCTUnwrap(tokenizer.tokenId("▁"))
        let spaceA = try XCTUnwrap(tokenizer.tokenId("▁a"))
        let byteC = try XCTUnwrap(tokenizer.tokenId("<0x63>"))
        XCTAssertEqual(tokenizer.encode("c a", addSpecialTokens: false), [space, byteC, spaceA])
        XCTAssertEqual(tokenizer.decode([space, byteC, spaceA]), "c a")
        XCTAssertEqual(tokenizer.tokenBytes(byteC), [0x63])
        XCTAssertEqual(tokenizer.unknownTokenId, 0)
    }

    private func assertError(_ builder: TokenizerFileBuilder, _ expected: TokenizerError, name: String,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let gguf = try GGUFFile(path: builder.write(name: name))
        XCTAssertThrowsError(try Tokenizer(gguf: gguf), file: file, line: line) { error in
            XCTAssertEqual(error as? TokenizerError, expected, file: file, line: line)
            XCTAssertFalse(String(describing: error).isEmpty, file: file, line: line)
        }
    }

    func testUnsupportedModelIsRejected() throws {
        var builder = TokenizerFileBuilder.bytePair(pre: "gpt-2")
        builder.set("tokenizer.ggml.model", .string("bert"))
        try assertError(builder, .unsupportedModel("bert"), name: "bert.gguf")
    }

    func testUnsupportedPreTokenizerIsRejected() throws {
        try assertError(TokenizerFileBuilder.bytePair(pre: "tekken"), .unsupportedPreTokenizer("tekken"), name: "tekken.gguf")
        XCTAssertTrue(TokenizerError.unsupportedPreTokenizer("tekken").description.contains("smollm"))
    }

    func testMissingKeysAreRejected() throws {
        var builder = TokenizerFileBuilder.bytePair(pre: "gpt-2")
        builder.entries.removeAll { $0.0 == "tokenizer.ggml.merges" }
        try assertError(builder, .missingMetadata(key: "tokenizer.ggml.merges"), name: "no-merges.gguf")

        try assertError(TokenizerFileBuilder(), .missingMetadata(key: "tokenizer.ggml.model"), name: "no-model.gguf")

        var noTokens = TokenizerFileBuilder()
        noTokens.set("tokenizer.ggml.model", .string("llama"))
        try assertError(noTokens, .missingMetadata(key: "tokenizer.ggml.tokens"), name: "no-tokens.gguf")
    }

    func testInvalidMetadataIsRejected() throws {
        var shortTypes = TokenizerFileBuilder.bytePair(pre: "gpt-2")
        shortTypes.set("tokenizer.ggml.token_type", .int32s([1, 1]))
        try assertError(shortTypes, .invalidMetadata(key: "tokenizer.ggml.token_type", detail: "2 types for 256 tokens"),
                        name: "short-types.gguf")

        var badBOS = TokenizerFileBuilder.bytePair(pre: "gpt-2")
        badBOS.set("tokenizer.ggml.bos_token_id", .uint32(300))
        try assertError(badBOS, .invalidMetadata(key: "tokenizer.ggml.bos_token_id",
                                                 detail: "token id 300 is outside the vocabulary of 256 tokens"),
                        name: "bad-bos.gguf")

        var noBOS = TokenizerFileBuilder.bytePair(pre: "gpt-2")
        noBOS.set("tokenizer.ggml.add_bos_token", .bool(true))
        try assertError(noBOS, .invalidMetadata(key: "tokenizer.ggml.add_bos_token",
                                                detail: "BOS is to be added but tokenizer.ggml.bos_token_id is missing"),
                        name: "no-bos.gguf")

        var wrongType = TokenizerFileBuilder.bytePair(pre: "gpt-2")
        wrongType.set("tokenizer.ggml.tokens", .int32s([1, 2, 3]))
        try assertError(wrongType, .invalidMetadata(key: "tokenizer.ggml.tokens", detail: "expected an array of strings"),
                        name: "int-tokens.gguf")

        var empty = TokenizerFileBuilder.bytePair(pre: "gpt-2")
        empty.set("tokenizer.ggml.tokens", .strings([]))
        empty.set("tokenizer.ggml.token_type", .int32s([]))
        try assertError(empty, .invalidMetadata(key: "tokenizer.ggml.tokens", detail: "the vocabulary is empty"),
                        name: "empty-vocabulary.gguf")
    }
}
