import Foundation
import XCTest
@testable import TensorKernels

final class HalfFloatTests: XCTestCase {

    // MARK: - FP16 to Float32

    /// All 65536 FP16 bit patterns against Swift's `Float16`, which converts in hardware or compiler-rt.
    /// NaNs are compared by their own rule, because `Float16` sets the quiet bit and this package keeps
    /// the payload as NumPy does.
    func testFP16ToFloatAllPatterns() {
        for bits in 0...UInt16.max {
            let value = HalfFloat.fp16ToFloat(bits)
            let half = Float16(bitPattern: bits)
            if half.isNaN {
                let expected = UInt32(bits & 0x8000) << 16 | 0x7F80_0000 | UInt32(bits & 0x03FF) << 13
                XCTAssertEqual(value.bitPattern, expected, "FP16 0x\(String(bits, radix: 16))")
            } else {
                XCTAssertEqual(value.bitPattern, Float(half).bitPattern, "FP16 0x\(String(bits, radix: 16))")
            }
        }
    }

    func testBulkFP16ToFloatMatchesScalar() {
        // 65536 patterns plus 3, so the scalar tail after the 8-lane loop also runs.
        let halves = (0...UInt16.max).map { $0 } + [0x3C00, 0x7E00, 0x0001]
        var output = [Float](repeating: 0, count: halves.count)
        halves.withUnsafeBytes { HalfFloat.convertFP16ToFloat($0.baseAddress!, into: &output, count: halves.count) }

        var mismatches = 0
        for (index, bits) in halves.enumerated() where output[index].bitPattern != HalfFloat.fp16ToFloat(bits).bitPattern {
            mismatches += 1
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testFP16SpecialValues() {
        XCTAssertEqual(HalfFloat.fp16ToFloat(0x3C00), 1.0)
        XCTAssertEqual(HalfFloat.fp16ToFloat(0xC000), -2.0)
        XCTAssertEqual(HalfFloat.fp16ToFloat(0x7BFF), 65504.0)
        XCTAssertEqual(HalfFloat.fp16ToFloat(0x0001), 0x1p-24)
        XCTAssertEqual(HalfFloat.fp16ToFloat(0x03FF), 1023 * 0x1p-24)
        XCTAssertEqual(HalfFloat.fp16ToFloat(0x8000).bitPattern, 0x8000_0000)
        XCTAssertEqual(HalfFloat.fp16ToFloat(0x7C00), .infinity)
        XCTAssertEqual(HalfFloat.fp16ToFloat(0xFC00), -.infinity)
        XCTAssertEqual(HalfFloat.fp16ToFloat(0x7C01).bitPattern, 0x7F80_2000, "a signaling NaN stays signaling")
    }

    // MARK: - Float32 to FP16

    /// Float32 patterns spread over the whole range, every exponent and the edges of every rounding
    /// case, against `Float16(_:)`, which rounds to nearest with ties to even.
    func testFloatToFP16AgainstFloat16() {
        var checked = 0
        var mismatches: [String] = []
        for bits in floatPatterns() {
            let value = Float(bitPattern: bits)
            let expected = Float16(value).bitPattern
            let actual = HalfFloat.floatToFP16(value)
            checked += 1
            if actual != expected && mismatches.count < 4 {
                mismatches.append("\(value) (0x\(String(bits, radix: 16))): 0x\(String(actual, radix: 16)), "
                                  + "expected 0x\(String(expected, radix: 16))")
            }
        }
        XCTAssertGreaterThan(checked, 1_000_000)
        XCTAssertEqual(mismatches, [])
    }

    func testBulkFloatToFP16MatchesScalar() {
        // Fewer patterns than the scalar test, because the SIMD code is slow in debug builds.
        let values = floatPatterns(samplesPerExponent: 20, strideStep: 40_009).map { Float(bitPattern: $0) }
        var output = [UInt16](repeating: 0, count: values.count)
        output.withUnsafeMutableBytes { HalfFloat.convertFloatToFP16(values, into: $0.baseAddress!, count: values.count) }

        let mismatches = values.indices.filter { output[$0] != HalfFloat.floatToFP16(values[$0]) }
        XCTAssertEqual(mismatches.prefix(4).map { "\(values[$0]) (0x\(String(values[$0].bitPattern, radix: 16)))" }, [])
    }

    func testFloatToFP16Rounding() {
        XCTAssertEqual(HalfFloat.floatToFP16(65504), 0x7BFF)
        XCTAssertEqual(HalfFloat.floatToFP16(65519.996), 0x7BFF, "just below the midpoint to 65536 rounds down")
        XCTAssertEqual(HalfFloat.floatToFP16(65520), 0x7C00, "the midpoint rounds to even, which is infinity")
        XCTAssertEqual(HalfFloat.floatToFP16(-1e9), 0xFC00)
        XCTAssertEqual(HalfFloat.floatToFP16(1 + 0x1p-11), 0x3C00, "a tie rounds to the even mantissa")
        XCTAssertEqual(HalfFloat.floatToFP16(1 + 3 * 0x1p-11), 0x3C02, "a tie rounds to the even mantissa")
        XCTAssertEqual(HalfFloat.floatToFP16(0x1p-25), 0x0000, "half the smallest subnormal ties to zero")
        XCTAssertEqual(HalfFloat.floatToFP16(0x1.000002p-25), 0x0001)
        XCTAssertEqual(HalfFloat.floatToFP16(3 * 0x1p-25), 0x0002, "1.5 units tie to 2")
        XCTAssertEqual(HalfFloat.floatToFP16(-0.0), 0x8000)
        XCTAssertEqual(HalfFloat.floatToFP16(Float(bitPattern: 0x7F80_0001)), 0x7E00, "NaN becomes quiet")
        XCTAssertEqual(HalfFloat.floatToFP16(Float(bitPattern: 0xFFC0_2000)), 0xFE01, "NaN keeps sign and payload")
    }

    /// Float32 to FP16 narrowing recorded from NumPy's `astype(float16)`.
    func testFloatToFP16MatchesNumPy() throws {
        let fixture = try RoundingFixture.load()
        let floats = try RoundingFixture.floats(fixture.fp16.floats)
        let expected = try RoundingFixture.halves(fixture.fp16.expected)
        XCTAssertEqual(floats.count, expected.count)

        var bulk = [UInt16](repeating: 0, count: floats.count)
        bulk.withUnsafeMutableBytes { HalfFloat.convertFloatToFP16(floats, into: $0.baseAddress!, count: floats.count) }
        XCTAssertEqual(floats.map(HalfFloat.floatToFP16), expected)
        XCTAssertEqual(bulk, expected)
    }

    // MARK: - BF16

    func testBF16ToFloatAllPatterns() {
        let halves = (0...UInt16.max).map { $0 } + [0x3F80]
        var output = [Float](repeating: 0, count: halves.count)
        halves.withUnsafeBytes { HalfFloat.convertBF16ToFloat($0.baseAddress!, into: &output, count: halves.count) }

        let scalarMismatches = halves.filter { HalfFloat.bf16ToFloat($0).bitPattern != UInt32($0) << 16 }
        let bulkMismatches = halves.indices.filter { output[$0].bitPattern != UInt32(halves[$0]) << 16 }
        XCTAssertEqual(scalarMismatches, [])
        XCTAssertEqual(bulkMismatches, [])
    }

    /// Float32 to BF16 narrowing recorded from `gguf.quants.quantize(..., BF16)`, NaNs included.
    func testFloatToBF16MatchesGGUF() throws {
        let fixture = try RoundingFixture.load()
        let floats = try RoundingFixture.floats(fixture.bf16.floats)
        let expected = try RoundingFixture.halves(fixture.bf16.expected)
        XCTAssertEqual(floats.count, expected.count)

        var bulk = [UInt16](repeating: 0, count: floats.count)
        bulk.withUnsafeMutableBytes { HalfFloat.convertFloatToBF16(floats, into: $0.baseAddress!, count: floats.count) }
        XCTAssertEqual(floats.map(HalfFloat.floatToBF16), expected)
        XCTAssertEqual(bulk, expected)
    }

    func testBulkFloatToBF16MatchesScalar() {
        // Fewer patterns than the scalar test, because the SIMD code is slow in debug builds.
        let values = floatPatterns(samplesPerExponent: 20, strideStep: 40_009).map { Float(bitPattern: $0) }
        var output = [UInt16](repeating: 0, count: values.count)
        output.withUnsafeMutableBytes { HalfFloat.convertFloatToBF16(values, into: $0.baseAddress!, count: values.count) }

        let mismatches = values.indices.filter { output[$0] != HalfFloat.floatToBF16(values[$0]) }
        XCTAssertEqual(mismatches.prefix(4).map { "0x\(String(values[$0].bitPattern, radix: 16))" }, [])
    }

    func testFloatToBF16Rounding() {
        XCTAssertEqual(HalfFloat.floatToBF16(1), 0x3F80)
        XCTAssertEqual(HalfFloat.floatToBF16(1 + 0x1p-8), 0x3F80, "a tie rounds to the even mantissa")
        XCTAssertEqual(HalfFloat.floatToBF16(1 + 3 * 0x1p-8), 0x3F82, "a tie rounds to the even mantissa")
        XCTAssertEqual(HalfFloat.floatToBF16(.greatestFiniteMagnitude), 0x7F80, "rounds up to infinity")
        XCTAssertEqual(HalfFloat.floatToBF16(-.infinity), 0xFF80)
        XCTAssertEqual(HalfFloat.floatToBF16(Float(bitPattern: 0x7F80_0001)), 0x7FC0, "NaN becomes quiet")
    }

    // MARK: - Helpers

    /// Returns Float32 bit patterns for rounding tests. For each sign and exponent, random upper mantissa
    /// bits are joined to low bits at the edges of the FP16 rounding step (low 13 bits) and of the BF16
    /// rounding step (low 16 bits). A stride through all patterns, a few NaNs and range boundaries follow.
    /// The defaults give about 1.6 million patterns.
    private func floatPatterns(samplesPerExponent: Int = 100, strideStep: UInt32 = 4099) -> [UInt32] {
        let fp16Tails: [UInt32] = [0, 1, 0x0FFF, 0x1000, 0x1001, 0x1FFF]
        let bf16Tails: [UInt32] = [0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x0000]
        var patterns: [UInt32] = []
        var random = UInt32(12345)
        for sign in [UInt32(0), 0x8000_0000] {
            for exponent in UInt32(0)...255 {
                for _ in 0..<samplesPerExponent {
                    // A linear congruential generator, whose upper bits are the most random ones.
                    random = random &* 1_664_525 &+ 1_013_904_223
                    let mantissa = random >> 9
                    for tail in fp16Tails {
                        patterns.append(sign | exponent << 23 | (mantissa & ~0x1FFF) | tail)
                    }
                    for tail in bf16Tails {
                        patterns.append(sign | exponent << 23 | (mantissa & ~0xFFFF) | tail)
                    }
                }
            }
        }
        patterns += stride(from: UInt32(0), to: UInt32.max - strideStep, by: Int(strideStep))
        patterns += [0x7FC0_0000, 0xFFFF_FFFF, 0x7F80_0001, 0x477F_F000, 0x477F_EFFF, 0x3880_0000, 0x387F_FFFF]
        return patterns
    }
}

/// rounding.json, written by scripts/golden/make_quant_fixtures.py.
private struct RoundingFixture: Decodable {
    struct Direction: Decodable {
        let floats: String
        let expected: String
    }

    let fp16: Direction
    let bf16: Direction

    static func load() throws -> RoundingFixture {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Fixtures/quants/rounding.json")
        return try JSONDecoder().decode(RoundingFixture.self, from: Data(contentsOf: url))
    }

    static func floats(_ base64: String) throws -> [Float] {
        let data = try XCTUnwrap(Data(base64Encoded: base64))
        return stride(from: 0, to: data.count, by: 4).map { start in
            let bytes = data[data.startIndex + start..<data.startIndex + start + 4]
            return Float(bitPattern: bytes.reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        }
    }

    static func halves(_ base64: String) throws -> [UInt16] {
        let data = try XCTUnwrap(Data(base64Encoded: base64))
        return stride(from: 0, to: data.count, by: 2).map { start in
            UInt16(data[data.startIndex + start]) | UInt16(data[data.startIndex + start + 1]) << 8
        }
    }
}
