import Foundation
import ModelFormats
import XCTest
@testable import Tokenization

/// Paths of the model, the essays, the golden fixtures and the downloaded vocab files.
enum TestResources {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let modelPath = repositoryRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    static let essaysDirectory = repositoryRoot.appendingPathComponent("data/PaulGrahamEssays")
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/Fixtures/tokenizer")
    static let vocabDirectory = repositoryRoot.appendingPathComponent("vocab-fixtures")

    /// Returns the SmolLM2 tokenizer, built once for all tests.
    static func smolLM2() throws -> Tokenizer {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: modelPath), "run scripts/setup.sh to install the model")
        return try smolLM2Tokenizer.get()
    }

    private static let smolLM2Tokenizer = Result(catching: { try Tokenizer(gguf: GGUFFile(path: modelPath)) })

    /// Returns the path of a llama.cpp vocab file, or skips the test when scripts/fetch-vocab-fixtures.sh has not run.
    static func vocabFile(_ name: String) throws -> String {
        let path = vocabDirectory.appendingPathComponent(name).path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path),
                          "\(name) is missing; run scripts/fetch-vocab-fixtures.sh to download the llama.cpp vocab files")
        return path
    }

    /// Reads the essays in file-name order and joins them with no separator.
    static func essays() throws -> String {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: essaysDirectory.path)) ?? []
        let files = names.filter { $0.hasSuffix(".txt") }.sorted()
        try XCTSkipIf(files.isEmpty, "no essays in \(essaysDirectory.path); run scripts/setup.sh")
        return try files.map { try String(contentsOf: essaysDirectory.appendingPathComponent($0), encoding: .utf8) }.joined()
    }

    /// FNV-1a (64-bit) over ids as little-endian 32-bit integers, in hexadecimal, as the fixture script computes it.
    static func fnv1a64(_ ids: [Int]) -> String {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        for id in ids {
            for shift in stride(from: 0, to: 32, by: 8) {
                value = (value ^ UInt64((UInt32(truncatingIfNeeded: id) >> UInt32(shift)) & 0xFF)) &* 0x100_0000_01B3
            }
        }
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func decodeFixture<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let data = try Data(contentsOf: fixtures.appendingPathComponent(name))
        return try JSONDecoder().decode(type, from: data)
    }
}

/// `Tests/Fixtures/tokenizer/smollm2.json`, written by scripts/golden/make_token_fixtures.py.
struct ModelFixture: Decodable {
    struct Case: Decodable {
        let name: String
        let text: String
        let ids: [Int]
        let idsWithoutSpecialParsing: [Int]
        let decoded: String
        let decodedSkippingSpecial: String

        enum CodingKeys: String, CodingKey {
            case name, text, ids, decoded
            case idsWithoutSpecialParsing = "ids_without_special_parsing"
            case decodedSkippingSpecial = "decoded_skipping_special"
        }
    }

    let vocabularySize: Int
    let bosTokenId: Int
    let eosTokenId: Int
    let addBOS: Bool
    let addEOS: Bool
    struct Essays: Decodable {
        let bytes: Int
        let tokenCount: Int
        let idsFNV1a64: String

        enum CodingKeys: String, CodingKey {
            case bytes
            case tokenCount = "token_count"
            case idsFNV1a64 = "ids_fnv1a64"
        }
    }

    let endOfGenerationIds: [Int]
    let cases: [Case]
    /// Count and hash of the ids of all the essays.
    let essays: Essays

    enum CodingKeys: String, CodingKey {
        case cases, essays
        case vocabularySize = "vocabulary_size"
        case bosTokenId = "bos_token_id"
        case eosTokenId = "eos_token_id"
        case addBOS = "add_bos"
        case addEOS = "add_eos"
        case endOfGenerationIds = "end_of_generation_ids"
    }
}

/// `Tests/Fixtures/tokenizer/vocab-files.json`, written by scripts/golden/make_token_fixtures.py.
struct VocabFilesFixture: Decodable {
    struct Case: Decodable {
        let name: String
        let text: String
        let ids: [Int]
        let idsWithoutSpecialParsing: [Int]

        enum CodingKeys: String, CodingKey {
            case name, text, ids
            case idsWithoutSpecialParsing = "ids_without_special_parsing"
        }
    }

    struct Vocabulary: Decodable {
        let file: String
        let preOverride: String?
        let addBOS: Bool
        let addEOS: Bool
        let cases: [Case]

        enum CodingKeys: String, CodingKey {
            case file, cases
            case preOverride = "pre_override"
            case addBOS = "add_bos"
            case addEOS = "add_eos"
        }
    }

    let vocabularies: [Vocabulary]
}

/// Writes small GGUF files with tokenizer metadata, so tests control every key.
struct TokenizerFileBuilder {
    enum Value {
        case string(String)
        case strings([String])
        case int32s([Int32])
        case float32s([Float])
        case uint32(UInt32)
        case bool(Bool)
    }

    var entries: [(String, Value)] = []

    /// Starts a byte-level BPE vocabulary of the 256 byte characters, then `extraTokens`, with `merges`.
    static func bytePair(pre: String?, extraTokens: [String] = [], merges: [String] = [],
                         types: [Int32]? = nil) -> TokenizerFileBuilder {
        let byteTokens = (0..<256).map { String(decoding: ByteLevel.encode([UInt8($0)]), as: UTF8.self) }
        let tokens = byteTokens + extraTokens
        var builder = TokenizerFileBuilder()
        builder.entries.append(("tokenizer.ggml.model", .string("gpt2")))
        if let pre { builder.entries.append(("tokenizer.ggml.pre", .string(pre))) }
        builder.entries.append(("tokenizer.ggml.tokens", .strings(tokens)))
        builder.entries.append(("tokenizer.ggml.token_type", .int32s(types ?? [Int32](repeating: 1, count: tokens.count))))
        builder.entries.append(("tokenizer.ggml.merges", .strings(merges)))
        return builder
    }

    mutating func set(_ key: String, _ value: Value) {
        entries.removeAll { $0.0 == key }
        entries.append((key, value))
    }

    func write(name: String) throws -> String {
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        func appendString(_ text: String) {
            append(UInt64(text.utf8.count))
            bytes.append(contentsOf: Array(text.utf8))
        }

        bytes.append(contentsOf: Array("GGUF".utf8))
        append(UInt32(3))
        append(UInt64(0))
        append(UInt64(entries.count + 1))
        appendString("general.architecture")
        append(UInt32(8))
        appendString("llama")
        for (key, value) in entries {
            appendString(key)
            switch value {
            case .string(let text):
                append(UInt32(8)); appendString(text)
            case .strings(let texts):
                append(UInt32(9)); append(UInt32(8)); append(UInt64(texts.count))
                texts.forEach(appendString)
            case .int32s(let values):
                append(UInt32(9)); append(UInt32(5)); append(UInt64(values.count))
                values.forEach { append($0) }
            case .float32s(let values):
                append(UInt32(9)); append(UInt32(6)); append(UInt64(values.count))
                values.forEach { append($0.bitPattern) }
            case .uint32(let value):
                append(UInt32(4)); append(value)
            case .bool(let flag):
                append(UInt32(7)); bytes.append(flag ? 1 : 0)
            }
        }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvfactory-tokenizer-tests", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func tokenizer(name: String) throws -> Tokenizer {
        try Tokenizer(gguf: GGUFFile(path: write(name: name)))
    }
}
