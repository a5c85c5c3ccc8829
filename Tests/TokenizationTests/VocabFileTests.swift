import Foundation
import ModelFormats
import XCTest
@testable import Tokenization

/// Other pre-tokenizers and SentencePiece, on llama.cpp's vocab-only files (scripts/fetch-vocab-fixtures.sh).
final class VocabFileTests: XCTestCase {
    /// Vocab files whose model and pre-tokenizer this package supports, with llama.cpp's `.inp`/`.out` pairs.
    static let supportedFiles = [
        "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf", "ggml-vocab-starcoder.gguf",
        "ggml-vocab-refact.gguf", "ggml-vocab-mpt.gguf", "ggml-vocab-command-r.gguf", "ggml-vocab-llama-spm.gguf",
        "ggml-vocab-phi-3.gguf",
    ]

    private static var cache: [String: Tokenizer] = [:]
    private static let cacheLock = NSLock()

    /// Returns a vocab file's tokenizer, optionally with another pre-tokenizer. Each is built once.
    private func tokenizer(_ file: String, preOverride: String? = nil) throws -> Tokenizer {
        let path = try TestResources.vocabFile(file)
        let key = file + "|" + (preOverride ?? "")
        Self.cacheLock.lock()
        defer { Self.cacheLock.unlock() }
        if let cached = Self.cache[key] { return cached }
        var configuration = try TokenizerConfiguration(gguf: GGUFFile(path: path))
        if let preOverride {
            configuration.kind = .bytePair(preTokenizer: preOverride, entry: try PreTokenizerCatalog.entry(named: preOverride))
        }
        let tokenizer = Tokenizer(configuration: configuration)
        Self.cache[key] = tokenizer
        return tokenizer
    }

    /// llama.cpp's test pairs: inputs separated by `__ggml_vocab_test__` lines, one line of ids per input.
    private func testPairs(_ file: String) throws -> [(text: String, ids: [Int])] {
        let base = TestResources.vocabDirectory.appendingPathComponent(file)
        let input = try String(contentsOf: base.appendingPathExtension("inp"), encoding: .utf8)
        let output = try String(contentsOf: base.appendingPathExtension("out"), encoding: .utf8)
        var texts = input.components(separatedBy: "\n__ggml_vocab_test__\n")
        if texts.last == "" { texts.removeLast() }
        var lines = output.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        XCTAssertEqual(texts.count, lines.count, "\(file): inputs and outputs differ in number")
        return zip(texts, lines).map { text, line in
            (text, line.split(separator: " ").compactMap { Int($0) })
        }
    }

    func testLlamaCppTestPairs() throws {
        _ = try TestResources.vocabFile("ggml-vocab-gpt-2.gguf")
        for file in Self.supportedFiles {
            let tokenizer = try tokenizer(file)
            for (index, pair) in try testPairs(file).enumerated() {
                XCTAssertEqual(tokenizer.encode(pair.text, addSpecialTokens: false, parseSpecial: false), pair.ids,
                               "\(file) input \(index): \(pair.text.debugDescription)")
            }
        }
    }

    func testLlamaCppTestPairsRoundTrip() throws {
        _ = try TestResources.vocabFile("ggml-vocab-gpt-2.gguf")
        for file in Self.supportedFiles {
            let tokenizer = try tokenizer(file)
            for (index, pair) in try testPairs(file).enumerated() {
                XCTAssertEqual(tokenizer.decode(pair.ids), pair.text, "\(file) input \(index)")
            }
        }
    }

    func testGoldenCases() throws {
        let fixture = try TestResources.decodeFixture(VocabFilesFixture.self, "vocab-files.json")
        _ = try TestResources.vocabFile("ggml-vocab-gpt-2.gguf")
        for vocabulary in fixture.vocabularies {
            let tokenizer = try tokenizer(vocabulary.file, preOverride: vocabulary.preOverride)
            let label = vocabulary.file + (vocabulary.preOverride.map { " as \($0)" } ?? "")
            XCTAssertEqual(tokenizer.addBOS, vocabulary.addBOS, label)
            XCTAssertEqual(tokenizer.addEOS, vocabulary.addEOS, label)
            for testCase in vocabulary.cases {
                XCTAssertEqual(tokenizer.encode(testCase.text), testCase.ids, "\(label) case '\(testCase.name)'")
                XCTAssertEqual(tokenizer.encode(testCase.text, addSpecialTokens: false, parseSpecial: false),
                               testCase.idsWithoutSpecialParsing, "\(label) case '\(testCase.name)' as plain text")
            }
        }
    }

    func testGoldenCasesRoundTrip() throws {
        let fixture = try TestResources.decodeFixture(VocabFilesFixture.self, "vocab-files.json")
        _ = try TestResources.vocabFile("ggml-vocab-gpt-2.gguf")
        for vocabulary in fixture.vocabularies {
            let tokenizer = try tokenizer(vocabulary.file, preOverride: vocabulary.preOverride)
            for testCase in vocabulary.cases {
                XCTAssertEqual(tokenizer.decode(testCase.idsWithoutSpecialParsing), testCase.text,
                               "\(vocabulary.file) case '\(testCase.name)'")
            }
        }
    }

    func testEveryTokenRoundTrips() throws {
        // llama.cpp's own check: the text of each normal token encodes back to text that decodes the same.
        for file in ["ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf", "ggml-vocab-llama-spm.gguf"] {
            let tokenizer = try tokenizer(file)
            var failures = 0
            for id in stride(from: 0, to: tokenizer.vocabularySize, by: 7) where !tokenizer.isSpecialToken(id) {
                let bytes = tokenizer.tokenBytes(id)
                guard let text = String(validating: bytes, as: UTF8.self) else { continue }
                if tokenizer.decode(tokenizer.encode(text, addSpecialTokens: false)) != text { failures += 1 }
            }
            XCTAssertEqual(failures, 0, "\(file): tokens whose text does not round-trip")
        }
    }

    func testEveryScalarRoundTrips() throws {
        // Each Unicode scalar alone, as llama.cpp's tokenizer test does, sampled to keep the debug build fast.
        for file in ["ggml-vocab-llama-bpe.gguf", "ggml-vocab-llama-spm.gguf"] {
            let tokenizer = try tokenizer(file)
            var failures: [UInt32] = []
            for value in stride(from: UInt32(0), to: 0x11_0000, by: 37) {
                guard let scalar = Unicode.Scalar(value) else { continue }
                let text = String(Character(scalar))
                if tokenizer.decode(tokenizer.encode(text, addSpecialTokens: false)) != text { failures.append(value) }
            }
            XCTAssertEqual(failures, [], file)
        }
    }

    func testLlama3SkipsMergesForWholeWords() throws {
        let tokenizer = try tokenizer("ggml-vocab-llama-bpe.gguf")
        // A word present in the vocabulary is one token even where rank-ordered merges would split it.
        for id in stride(from: 1000, to: 128_000, by: 997) {
            let text = String(decoding: tokenizer.tokenBytes(id), as: UTF8.self)
            guard text.utf8.count > 1, tokenizer.encode(text, addSpecialTokens: false).count == 1 else { continue }
            XCTAssertEqual(tokenizer.encode(text, addSpecialTokens: false), [id], text.debugDescription)
        }
    }

    func testSentencePieceAddsSpacePrefixAfterSpecialToken() throws {
        let tokenizer = try tokenizer("ggml-vocab-llama-spm.gguf")
        let ids = tokenizer.encode("Hi</s>Hi")
        let hi = try XCTUnwrap(tokenizer.tokenId("▁Hi"))
        XCTAssertEqual(ids, [1, hi, 2, hi])
        XCTAssertEqual(tokenizer.decode(ids), "<s>Hi</s>Hi")
        XCTAssertEqual(tokenizer.decode(ids, skipSpecialTokens: true), "HiHi")
    }

    func testSentencePieceMergesStayWithinWords() throws {
        // Llama 2 has no vocabulary string with `▁` after another character, so words merge (and cache) alone.
        let tokenizer = try tokenizer("ggml-vocab-llama-spm.gguf")
        guard case .sentencePiece(let model) = tokenizer.model else { return XCTFail("expected a SentencePiece model") }
        XCTAssertTrue(model.mergesStayWithinWords)
    }

    func testSentencePieceByteFallback() throws {
        let tokenizer = try tokenizer("ggml-vocab-llama-spm.gguf")
        // U+1F999 (llama emoji) has no vocabulary entry, so it becomes its four UTF-8 bytes.
        let ids = tokenizer.encode("🦙", addSpecialTokens: false)
        let expected = ["▁", "<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"].compactMap { tokenizer.tokenId($0) }
        XCTAssertEqual(ids, expected)
        XCTAssertEqual(tokenizer.decode(ids), "🦙")
    }

    func testUnsupportedVocabFilesRaiseTypedErrors() throws {
        let cases: [(String, TokenizerError)] = [
            ("ggml-vocab-bert-bge.gguf", .unsupportedModel("bert")),
            ("ggml-vocab-falcon.gguf", .unsupportedPreTokenizer("falcon")),
            ("ggml-vocab-deepseek-llm.gguf", .unsupportedPreTokenizer("deepseek-llm")),
            ("ggml-vocab-gemma-4.gguf", .unsupportedModel("gemma4")),
        ]
        for (file, expected) in cases {
            let gguf = try GGUFFile(path: TestResources.vocabFile(file))
            XCTAssertThrowsError(try Tokenizer(gguf: gguf), file) { error in
                XCTAssertEqual(error as? TokenizerError, expected, file)
            }
        }
    }
}
