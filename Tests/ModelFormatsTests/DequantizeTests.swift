import Foundation
import XCTest
@testable import ModelFormats

final class DequantizeTests: XCTestCase {

    // MARK: - Golden values from gguf.quants

    func testF32MatchesGolden() throws { try checkGolden(.f32) }
    func testF16MatchesGolden() throws { try checkGolden(.f16) }
    func testBF16MatchesGolden() throws { try checkGolden(.bf16) }
    func testQ4_0MatchesGolden() throws { try checkGolden(.q4_0) }
    func testQ4_1MatchesGolden() throws { try checkGolden(.q4_1) }
    func testQ5_0MatchesGolden() throws { try checkGolden(.q5_0) }
    func testQ5_1MatchesGolden() throws { try checkGolden(.q5_1) }
    func testQ8_0MatchesGolden() throws { try checkGolden(.q8_0) }
    func testQ2_KMatchesGolden() throws { try checkGolden(.q2_K) }
    func testQ3_KMatchesGolden() throws { try checkGolden(.q3_K) }
    func testQ4_KMatchesGolden() throws { try checkGolden(.q4_K) }
    func testQ5_KMatchesGolden() throws { try checkGolden(.q5_K) }
    func testQ6_KMatchesGolden() throws { try checkGolden(.q6_K) }

    func testEveryDequantizableTypeHasFixture() throws {
        let dequantizable = GGMLType.allCases.filter(\.isDequantizable)
        XCTAssertEqual(dequantizable.count, 13)
        for type in dequantizable {
            let file = try QuantFixtures.load(QuantFixtures.TypeFile.self, "\(type.name.lowercased()).json")
            XCTAssertEqual(file.type, type.name)
            XCTAssertFalse(file.cases.isEmpty, "\(type.name) fixture has no cases")
        }
    }

    /// Runs every case of the type's fixture through the fast path, the reference path and the
    /// `[Float]` convenience, and requires the exact bits that `gguf.quants.dequantize` produced.
    private func checkGolden(_ type: GGMLType, file: StaticString = #filePath, line: UInt = #line) throws {
        let fixture = try QuantFixtures.load(QuantFixtures.TypeFile.self, "\(type.name.lowercased()).json")
        XCTAssertEqual(fixture.type, type.name, file: file, line: line)

        for testCase in fixture.cases {
            let bytes = try QuantFixtures.bytes(testCase.bytes)
            let expected = try QuantFixtures.uint32s(testCase.expected)
            XCTAssertEqual(expected.count, testCase.count, "\(type.name) \(testCase.name)", file: file, line: line)
            XCTAssertEqual(try Dequantizer.byteCount(of: type, count: testCase.count), bytes.count,
                           "\(type.name) \(testCase.name)", file: file, line: line)

            let fast = try runFast(type, bytes, count: testCase.count)
            let reference = try runReference(type, bytes, count: testCase.count)
            let returned = try bytes.withUnsafeBytes { try Dequantizer.dequantize(type, bytes: $0, count: testCase.count) }

            XCTAssertEqual(bitMismatches(fast, expected), [], "\(type.name) \(testCase.name): fast path",
                           file: file, line: line)
            XCTAssertEqual(bitMismatches(reference, expected), [], "\(type.name) \(testCase.name): reference",
                           file: file, line: line)
            XCTAssertEqual(bitMismatches(returned, expected), [], "\(type.name) \(testCase.name): [Float] result",
                           file: file, line: line)
        }
    }

    // MARK: - Fast path against reference

    /// Random bytes, scale fields included, so this also covers infinite and NaN scales. A block is
    /// placed at an odd address to check that no kernel relies on alignment.
    func testFastMatchesReferenceOnRandomBytes() throws {
        var generator = SplitMix64(seed: 7)
        for type in GGMLType.allCases where type.isDequantizable {
            let count = type.blockSize == 1 ? 4099 : type.blockSize * 37
            let byteCount = try Dequantizer.byteCount(of: type, count: count)
            let bytes = (0..<byteCount + 1).map { _ in UInt8(truncatingIfNeeded: generator.next()) }

            try bytes.withUnsafeBytes { buffer in
                let unaligned = buffer.baseAddress! + 1
                var fast = [Float](repeating: 0, count: count)
                var reference = [Float](repeating: 0, count: count)
                try Dequantizer.dequantize(type, from: unaligned, count: count, into: &fast)
                try Dequantizer.dequantizeReference(type, from: unaligned, count: count, into: &reference)

                XCTAssertEqual(bitMismatches(fast, reference.map(\.bitPattern)), [], "\(type.name)")
            }
        }
    }

    func testConcurrentMatchesSingleThread() throws {
        var generator = SplitMix64(seed: 11)
        for type in [GGMLType.q4_1, .q8_0, .q6_K, .f16] {
            let count = type.blockSize * 1024
            let byteCount = try Dequantizer.byteCount(of: type, count: count)
            let bytes = (0..<byteCount).map { _ in UInt8(truncatingIfNeeded: generator.next() & 0x3F3F) }

            let single = try bytes.withUnsafeBytes { try Dequantizer.dequantize(type, bytes: $0, count: count) }
            var concurrent = [Float](repeating: 0, count: count)
            try bytes.withUnsafeBytes { buffer in
                try Dequantizer.dequantizeConcurrently(type, from: buffer.baseAddress!, count: count, into: &concurrent,
                                                       minimumElementsPerTask: 1000)
            }

            XCTAssertEqual(bitMismatches(concurrent, single.map(\.bitPattern)), [], "\(type.name)")
        }
    }

    // MARK: - Errors

    func testUnsupportedTypeNamesType() throws {
        let unsupported: [GGMLType] = [.iq2_xxs, .q8_K, .q8_1, .iq4_nl, .i32, .f64, .tq2_0]
        let bytes = [UInt8](repeating: 0, count: 4096)
        var output = [Float](repeating: 0, count: 256)

        for type in unsupported {
            let count = type.blockSize
            XCTAssertThrowsError(try bytes.withUnsafeBytes {
                try Dequantizer.dequantize(type, from: $0.baseAddress!, count: count, into: &output)
            }) { error in
                XCTAssertEqual(error as? DequantizationError, .unsupportedType(type, tensor: nil))
                XCTAssertTrue("\(error)".contains(type.name), "message lacks the type name: \(error)")
                XCTAssertTrue("\(error)".contains("Q4_1"), "message lacks the supported types: \(error)")
            }
            XCTAssertThrowsError(try bytes.withUnsafeBytes {
                try Dequantizer.dequantizeReference(type, from: $0.baseAddress!, count: count, into: &output)
            }) { error in
                XCTAssertEqual(error as? DequantizationError, .unsupportedType(type, tensor: nil))
            }
        }
    }

    func testUnsupportedTypeMessage() {
        let error = DequantizationError.unsupportedType(.iq2_xxs, tensor: "blk.0.ffn_up.weight")
        XCTAssertEqual(error.description,
                       "cannot dequantize tensor blk.0.ffn_up.weight of type IQ2_XXS because the type is not supported. "
                       + "Supported types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K. "
                       + "Convert or re-quantize the model to one of them.")
    }

    func testNamingAddsTensorName() {
        let error = DequantizationError.invalidCount(.q4_1, count: 33, tensor: nil).naming(tensor: "output.weight")
        XCTAssertEqual(error, .invalidCount(.q4_1, count: 33, tensor: "output.weight"))
        XCTAssertTrue(error.description.contains("output.weight"))
    }

    func testCountNotMultipleOfBlockThrows() {
        var output = [Float](repeating: 0, count: 64)
        let bytes = [UInt8](repeating: 0, count: 64)

        XCTAssertThrowsError(try bytes.withUnsafeBytes {
            try Dequantizer.dequantize(.q4_1, from: $0.baseAddress!, count: 33, into: &output)
        }) { error in
            XCTAssertEqual(error as? DequantizationError, .invalidCount(.q4_1, count: 33, tensor: nil))
            XCTAssertTrue("\(error)".contains("not a multiple of the Q4_1 block size 32"), "\(error)")
        }
    }

    func testNegativeCountThrows() {
        XCTAssertThrowsError(try Dequantizer.byteCount(of: .f16, count: -2)) { error in
            XCTAssertEqual(error as? DequantizationError, .invalidCount(.f16, count: -2, tensor: nil))
            XCTAssertTrue("\(error)".contains("is negative"), "\(error)")
        }
    }

    func testOverflowingCountThrows() {
        XCTAssertThrowsError(try Dequantizer.byteCount(of: .f32, count: Int.max)) { error in
            XCTAssertEqual(error as? DequantizationError, .invalidCount(.f32, count: Int.max, tensor: nil))
            XCTAssertTrue("\(error)".contains("needs more bytes than memory can address"), "\(error)")
        }
    }

    func testBufferSizeMismatchThrows() {
        let bytes = [UInt8](repeating: 0, count: 41)
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try Dequantizer.dequantize(.q4_1, bytes: $0, count: 64) }) { error in
            XCTAssertEqual(error as? DequantizationError,
                           .sizeMismatch(.q4_1, count: 64, expectedBytes: 40, actualBytes: 41, tensor: nil))
            XCTAssertTrue("\(error)".contains("64 elements need 40 bytes but the buffer has 41"), "\(error)")
        }
    }

    func testZeroCountReturnsEmpty() throws {
        let result = try [UInt8]().withUnsafeBytes { try Dequantizer.dequantize(.q6_K, bytes: $0, count: 0) }
        XCTAssertEqual(result, [])
    }

    func testByteCountPerType() throws {
        XCTAssertEqual(try Dequantizer.byteCount(of: .f32, count: 3), 12)
        XCTAssertEqual(try Dequantizer.byteCount(of: .bf16, count: 3), 6)
        XCTAssertEqual(try Dequantizer.byteCount(of: .q4_1, count: 576), 18 * 20)
        XCTAssertEqual(try Dequantizer.byteCount(of: .q8_0, count: 64), 68)
        XCTAssertEqual(try Dequantizer.byteCount(of: .q6_K, count: 512), 420)
    }
}

/// A small seeded generator so random-input tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func runFast(_ type: GGMLType, _ bytes: [UInt8], count: Int) throws -> [Float] {
    var output = [Float](repeating: .nan, count: count)
    try bytes.withUnsafeBytes { try Dequantizer.dequantize(type, from: $0.baseAddress!, count: count, into: &output) }
    return output
}

func runReference(_ type: GGMLType, _ bytes: [UInt8], count: Int) throws -> [Float] {
    var output = [Float](repeating: .nan, count: count)
    try bytes.withUnsafeBytes {
        try Dequantizer.dequantizeReference(type, from: $0.baseAddress!, count: count, into: &output)
    }
    return output
}

// MARK: - Fixture loading

/// Golden data written by scripts/golden/make_quant_fixtures.py from the `gguf` Python package.
enum QuantFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures/quants")

    struct Case: Decodable {
        let name: String
        let count: Int
        let bytes: String
        let expected: String
    }

    struct TypeFile: Decodable {
        let type: String
        let cases: [Case]
    }

    struct Tensor: Decodable {
        let name: String
        let type: String
        let offset: Int
        let count: Int
        let byteCount: Int
        let indices: String
        let expected: String
    }

    struct ModelFile: Decodable {
        let model: String
        let fileSize: Int
        let tensors: [Tensor]
    }

    static func load<T: Decodable>(_ type: T.Type, _ fileName: String) throws -> T {
        let data = try Data(contentsOf: directory.appendingPathComponent(fileName))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(T.self, from: data)
    }

    static func bytes(_ base64: String) throws -> [UInt8] {
        let data = try XCTUnwrap(Data(base64Encoded: base64), "fixture field is not valid base64")
        return [UInt8](data)
    }

    /// Decodes base64 of little-endian 4-byte values into their bit patterns.
    static func uint32s(_ base64: String) throws -> [UInt32] {
        let raw = try bytes(base64)
        return stride(from: 0, to: raw.count, by: 4).map { start in
            raw[start..<start + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        }
    }

    static func int64s(_ base64: String) throws -> [Int] {
        let raw = try bytes(base64)
        return stride(from: 0, to: raw.count, by: 8).map { start in
            Int(raw[start..<start + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        }
    }
}

/// Returns descriptions of up to `limit` positions where the bit patterns of `actual` and `expected`
/// differ, or an empty array when all are equal.
func bitMismatches(_ actual: [Float], _ expected: [UInt32], limit: Int = 4) -> [String] {
    guard actual.count == expected.count else {
        return ["\(actual.count) values, expected \(expected.count)"]
    }
    var mismatches: [String] = []
    for index in actual.indices where actual[index].bitPattern != expected[index] {
        let got = String(actual[index].bitPattern, radix: 16)
        let want = String(expected[index], radix: 16)
        mismatches.append("[\(index)] \(actual[index]) (0x\(got)), expected \(Float(bitPattern: expected[index])) (0x\(want))")
        if mismatches.count == limit {
            break
        }
    }
    return mismatches
}
