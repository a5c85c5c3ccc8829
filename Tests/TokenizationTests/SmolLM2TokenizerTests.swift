import XCTest
@testable import Tokenization

/// The real model's tokenizer (`tokenizer.ggml.pre = smollm`) against llama.cpp's token ids.
final class SmolLM2TokenizerTests: XCTestCase {
    private func fixture() throws -> ModelFixture {
        try TestResources.decodeFixture(ModelFixture.self, "smollm2.json")
    }

    func testMetadataMatchesLlamaCpp() throws {
        let tokenizer = try TestResources.smolLM2()
        let fixture = try fixture()
        XCTAssertEqual(tokenizer.vocabularySize, fixture.vocabularySize)
        XCTAssertEqual(tokenizer.bosTokenId, fixture.bosTokenId)
        XCTAssertEqual(tokenizer.eosTokenId, fixture.eosTokenId)
        XCTAssertEqual(tokenizer.addBOS, fixture.addBOS)
        XCTAssertEqual(tokenizer.addEOS, fixture.addEOS)
        XCTAssertEqual(tokenizer.preTokenizerName, "smollm")
    }

    func testEncodeMatchesLlamaCpp() throws {
        let tokenizer = try TestResources.smolLM2()
        for testCase in try fixture().cases {
            XCTAssertEqual(tokenizer.encode(testCase.text), testCase.ids, "case '\(testCase.name)'")
        }
    }

    func testEncodeWithoutSpecialParsingMatchesLlamaCpp() throws {
        let tokenizer = try TestResources.smolLM2()
        for testCase in try fixture().cases {
            XCTAssertEqual(tokenizer.encode(testCase.text, parseSpecial: false), testCase.idsWithoutSpecialParsing,
                           "case '\(testCase.name)'")
        }
    }

    func testDecodeMatchesLlamaCpp() throws {
        let tokenizer = try TestResources.smolLM2()
        for testCase in try fixture().cases {
            XCTAssertEqual(tokenizer.decode(testCase.ids), testCase.decoded, "case '\(testCase.name)'")
            XCTAssertEqual(tokenizer.decode(testCase.ids, skipSpecialTokens: true), testCase.decodedSkippingSpecial,
                           "case '\(testCase.name)'")
        }
    }

    func testDecodeInvertsEncode() throws {
        let tokenizer = try TestResources.smolLM2()
        for testCase in try fixture().cases {
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(testCase.text)), testCase.text, "case '\(testCase.name)'")
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(testCase.text, parseSpecial: false)), testCase.text,
                           "case '\(testCase.name)'")
        }
    }

    func testDigitsSplitBeforeGPT2Pattern() throws {
        let tokenizer = try TestResources.smolLM2()
        let ids = tokenizer.encode("On  26")
        let pieces = ids.map { String(decoding: tokenizer.tokenBytes($0), as: UTF8.self) }
        XCTAssertEqual(pieces, ["On", "  ", "2", "6"])
    }

    func testSpecialTokenIsOneId() throws {
        let tokenizer = try TestResources.smolLM2()
        XCTAssertEqual(tokenizer.encode("<|im_start|>"), [1])
        XCTAssertEqual(tokenizer.tokenId("<|im_start|>"), 1)
        XCTAssertEqual(tokenizer.tokenText(2), "<|im_end|>")
        XCTAssertTrue(tokenizer.isSpecialToken(2))
        XCTAssertFalse(tokenizer.isSpecialToken(tokenizer.tokenId("Hello") ?? 0))
    }

    func testSpecialTokenAsPlainText() throws {
        let tokenizer = try TestResources.smolLM2()
        let ids = tokenizer.encode("<|im_start|>", parseSpecial: false)
        XCTAssertGreaterThan(ids.count, 1)
        XCTAssertFalse(ids.contains(1))
    }

    func testStopTokens() throws {
        let tokenizer = try TestResources.smolLM2()
        // EOS is <|im_end|> (2); <|endoftext|> (0) also ends generation.
        XCTAssertEqual(tokenizer.stopTokenIds, [0, 2])
        for id in tokenizer.stopTokenIds {
            XCTAssertTrue(try fixture().endOfGenerationIds.contains(id), "stop token \(id) is not end-of-generation in llama.cpp")
        }
    }

    func testTokenTextAndBytes() throws {
        let tokenizer = try TestResources.smolLM2()
        let id = try XCTUnwrap(tokenizer.tokenId("Ġthe"))
        XCTAssertEqual(tokenizer.tokenText(id), "Ġthe")
        XCTAssertEqual(tokenizer.tokenBytes(id), Array(" the".utf8))
        XCTAssertEqual(tokenizer.tokenBytes(1), Array("<|im_start|>".utf8))
        XCTAssertEqual(tokenizer.tokenText(-1), "")
        XCTAssertEqual(tokenizer.tokenBytes(tokenizer.vocabularySize), [])
        XCTAssertNil(tokenizer.tokenId("no such token text"))
    }

    func testDecodeIgnoresOutOfRangeIds() throws {
        let tokenizer = try TestResources.smolLM2()
        let ids = tokenizer.encode("Hello world")
        XCTAssertEqual(tokenizer.decode([-5] + ids + [tokenizer.vocabularySize, 1 << 40]), "Hello world")
    }

    func testStreamingDecoderMatchesDecode() throws {
        let tokenizer = try TestResources.smolLM2()
        for testCase in try fixture().cases {
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            var streamed = ""
            for id in testCase.ids {
                let piece = decoder.append(id)
                XCTAssertFalse(piece.contains("\u{FFFD}"), "case '\(testCase.name)' streamed a partial character")
                streamed += piece
            }
            streamed += decoder.finish()
            XCTAssertEqual(streamed, tokenizer.decode(testCase.ids), "case '\(testCase.name)'")
        }
    }

    func testStreamingDecoderHoldsPartialCharacter() throws {
        let tokenizer = try TestResources.smolLM2()
        // The emoji is split over several byte-level tokens; no token but the last completes it.
        let ids = tokenizer.encode("🦙")
        XCTAssertGreaterThan(ids.count, 1)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        for id in ids.dropLast() {
            XCTAssertEqual(decoder.append(id), "")
        }
        XCTAssertEqual(decoder.append(ids.last!), "🦙")
        XCTAssertEqual(decoder.finish(), "")
    }

    func testEssaysMatchLlamaCpp() throws {
        let tokenizer = try TestResources.smolLM2()
        let essays = try TestResources.essays()
        let expected = try fixture().essays
        XCTAssertEqual(essays.utf8.count, expected.bytes, "the essays differ from those the fixture was made from")
        let ids = tokenizer.encode(essays)
        XCTAssertEqual(ids.count, expected.tokenCount)
        XCTAssertEqual(TestResources.fnv1a64(ids), expected.idsFNV1a64)
    }

    func testEssaysRoundTrip() throws {
        let tokenizer = try TestResources.smolLM2()
        let essays = try TestResources.essays()
        let ids = tokenizer.encode(essays)
        XCTAssertEqual(tokenizer.decode(ids), essays)
        // About 4.3 characters per token for English prose with this vocabulary.
        XCTAssertGreaterThan(ids.count, essays.utf8.count / 6)
        XCTAssertLessThan(ids.count, essays.utf8.count / 3)
    }
}
