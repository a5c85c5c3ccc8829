import Foundation
import ModelFormats
import Tokenization
import XCTest

/// Paths and golden values of the LongBench protocol tests. The goldens are written by
/// scripts/golden/make_longbench_fixtures.py from CPython 3.11, its `json` module and
/// Hugging Face `transformers`.
enum LongBenchFixtures {
    static let directory = MetricFixtures.repositoryRoot.appendingPathComponent("Tests/Fixtures/longbench")
    static let modelPath = MetricFixtures.repositoryRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path

    /// The official data next to the repository (`../shared/data/longbench`), or $LONGBENCH_DIR.
    static var dataDirectory: String {
        if let path = ProcessInfo.processInfo.environment["LONGBENCH_DIR"] { return path }
        return MetricFixtures.repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data/longbench").path
    }

    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: directory.appendingPathComponent(name)))
    }

    private static let tokenizerResult = Result { try Tokenizer(gguf: GGUFFile(path: modelPath)) }

    /// Returns the SmolLM2 tokenizer, or throws a skip when the model is not installed.
    static func tokenizer() throws -> Tokenizer {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw XCTSkip("model not found at \(modelPath); run scripts/setup.sh")
        }
        return try tokenizerResult.get()
    }

    /// Returns the data folder, or throws a skip naming it when it is absent.
    static func requireData() throws -> String {
        let directory = dataDirectory
        guard FileManager.default.fileExists(atPath: directory + "/config/dataset2prompt.json") else {
            throw XCTSkip("LongBench data not found at \(directory)")
        }
        return directory
    }

    /// FNV-1a, 64 bits.
    static func fnv1a64(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var value: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x100_0000_01B3
        }
        return value
    }

    /// Sum of (position + 1) * id modulo 2^61 - 1, as the fixture script computes it.
    static func idChecksum(_ ids: [Int]) -> Int {
        let modulus = (1 << 61) - 1
        var sum = 0
        for (position, id) in ids.enumerated() {
            sum = (sum + (position + 1) * id % modulus) % modulus
        }
        return sum
    }
}
