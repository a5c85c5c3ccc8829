@testable import Cluster
import XCTest

final class ActivationCodecTests: XCTestCase {
    /// Activation-like data: a few smooth waves per channel plus small deterministic noise.
    private func smoothValues(count: Int) -> [Float] {
        var state: UInt32 = 12345
        return (0..<count).map { index in
            state = state &* 1_664_525 &+ 1_013_904_223
            let noise = Float(state >> 8) / Float(1 << 24) - 0.5
            let position = Float(index)
            return 2 * sin(position * 0.01) + 0.5 * cos(position * 0.003) + 0.01 * noise
        }
    }

    private let specialValues: [Float] = [0, -0, 1, -1, .infinity, -.infinity, .leastNonzeroMagnitude,
                                          .greatestFiniteMagnitude, 1e-40, -3.5e-39, 65504, 65520, 1e-8, 6e-8]

    func testFP32RoundTripIsExact() throws {
        for compression in ActivationCompression.allCases {
            let codec = try ActivationCodec(encoding: .fp32, compression: compression)
            let values = smoothValues(count: 4099) + specialValues + [.nan]
            let decoded = try codec.decode(try codec.encode(values))
            XCTAssertEqual(decoded.count, values.count)
            XCTAssertEqual(decoded.map(\.bitPattern), values.map(\.bitPattern), "\(compression)")
        }
    }

    func testBF16ErrorBound() throws {
        let codec = try ActivationCodec(encoding: .bf16)
        let values = smoothValues(count: 10_000)
        let decoded = try codec.decode(try codec.encode(values))
        for (value, result) in zip(values, decoded) where value != 0 {
            XCTAssertLessThanOrEqual(abs(result - value), abs(value) * 0x1p-8, "\(value) -> \(result)")
        }
    }

    func testFP16ErrorBound() throws {
        let codec = try ActivationCodec(encoding: .fp16)
        let values = smoothValues(count: 10_000)
        let decoded = try codec.decode(try codec.encode(values))
        for (value, result) in zip(values, decoded) {
            // Relative bound 2^-11 for normal halves, absolute half a subnormal step (2^-25) below them.
            XCTAssertLessThanOrEqual(abs(result - value), max(abs(value) * 0x1p-11, 0x1p-25), "\(value) -> \(result)")
        }
    }

    func testFP16DecodeMatchesFloat16ForAllBitPatterns() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = floatFromFloat16(bits)
            if expected.isNaN {
                XCTAssertTrue(actual.isNaN, "bits \(bits)")
            } else {
                XCTAssertEqual(actual.bitPattern, expected.bitPattern, "bits \(bits)")
            }
        }
    }

    func testFP16EncodeMatchesFloat16Rounding() {
        // Every half value, the midpoints next to it (ties) and random floats over the whole range.
        var samples: [Float] = specialValues
        for bits in stride(from: UInt16(0), to: 0x7C00, by: 1) {
            let value = Float(Float16(bitPattern: bits))
            let next = Float(Float16(bitPattern: bits + 1))
            samples += [value, (value + next) / 2, value.nextUp, value.nextDown, -value]
        }
        var state: UInt32 = 7
        for _ in 0..<200_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            samples.append(Float(bitPattern: state))
        }
        for value in samples where !value.isNaN {
            XCTAssertEqual(float16Bits(value), Float16(value).bitPattern, "value \(value)")
        }
        XCTAssertTrue(floatFromFloat16(float16Bits(.nan)).isNaN)
    }

    func testBF16RoundsTiesToEven() {
        // 1 + 2^-8 lies halfway between the bfloat16 values 1 and 1 + 2^-7; the even one is 1.
        XCTAssertEqual(floatFromBFloat16(bfloat16Bits(1 + 0x1p-8)), 1)
        // 1 + 3 * 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6; the even one is 1 + 2^-6.
        XCTAssertEqual(floatFromBFloat16(bfloat16Bits(1 + 3 * 0x1p-8)), 1 + 0x1p-6)
        XCTAssertEqual(floatFromBFloat16(bfloat16Bits(1 + 0x1p-8 + 0x1p-20)), 1 + 0x1p-7)
        XCTAssertEqual(floatFromBFloat16(bfloat16Bits(.greatestFiniteMagnitude)), .infinity)
        XCTAssertTrue(floatFromBFloat16(bfloat16Bits(.nan)).isNaN)
    }

    func testShuffleZstdRatioOnSmoothData() throws {
        let values = smoothValues(count: 64 * 1024)
        let plain = try ActivationCodec(encoding: .fp32, compression: .none)
        let zstd = try ActivationCodec(encoding: .fp32, compression: .zstd)
        let plainSize = try plain.encode(values).count
        let zstdSize = try zstd.encode(values).count
        XCTAssertEqual(plainSize, 16 + 4 * values.count)
        XCTAssertLessThan(Double(zstdSize), 0.85 * Double(plainSize), "fp32 zstd \(zstdSize) vs \(plainSize)")

        let bf16 = try ActivationCodec(encoding: .bf16, compression: .zstd)
        let bf16Size = try bf16.encode(values).count
        XCTAssertLessThan(Double(bf16Size), 0.35 * Double(plainSize), "bf16 zstd \(bf16Size) vs \(plainSize)")
    }

    func testStatsCountBytesAndMessages() throws {
        let codec = try ActivationCodec(encoding: .fp16, compression: .zstd)
        let frame = try codec.encode(smoothValues(count: 1000))
        _ = try codec.decode(frame)
        XCTAssertEqual(codec.stats.encodedMessages, 1)
        XCTAssertEqual(codec.stats.decodedMessages, 1)
        XCTAssertEqual(codec.stats.rawBytes, 4000)
        XCTAssertEqual(codec.stats.sentBytes, frame.count)
        XCTAssertGreaterThan(codec.stats.compressionRatio, 2)
        codec.resetStats()
        XCTAssertEqual(codec.stats, ActivationCodecStats())
    }

    func testEmptyArrayRoundTrip() throws {
        for compression in ActivationCompression.allCases {
            let codec = try ActivationCodec(encoding: .bf16, compression: compression)
            XCTAssertEqual(try codec.decode(try codec.encode([Float]())), [])
        }
    }

    func testAnyCodecDecodesAnyFrame() throws {
        let values = smoothValues(count: 300)
        let frame = try ActivationCodec(encoding: .fp16, compression: .zstd).encode(values)
        let decoded = try ActivationCodec(encoding: .fp32, compression: .none).decode(frame)
        XCTAssertEqual(decoded.count, 300)
        XCTAssertEqual(decoded[10], floatFromFloat16(float16Bits(values[10])))
    }

    func testInvalidLevelRejected() {
        XCTAssertThrowsError(try ActivationCodec(level: 99)) { error in
            guard case .invalidLevel(let level, _) = error as? ActivationCodecError else {
                return XCTFail("expected invalidLevel, got \(error)")
            }
            XCTAssertEqual(level, 99)
        }
    }

    func testCorruptFramesRejected() throws {
        let codec = try ActivationCodec()
        let frame = try codec.encode(smoothValues(count: 100))

        XCTAssertThrowsError(try codec.decode(Array(frame.prefix(10))))
        var badMagic = frame
        badMagic[0] = 0
        XCTAssertThrowsError(try codec.decode(badMagic))
        var badEncoding = frame
        badEncoding[3] = 9
        XCTAssertThrowsError(try codec.decode(badEncoding))
        var hugeCount = frame
        hugeCount[15] = 0x7F
        XCTAssertThrowsError(try codec.decode(hugeCount))
        var wrongCount = frame
        wrongCount[8] = 101
        XCTAssertThrowsError(try codec.decode(wrongCount))
        XCTAssertThrowsError(try codec.decode(Array(frame.dropLast(5))))
    }

    func testOutputCountMismatchRejected() throws {
        let codec = try ActivationCodec()
        let frame = try codec.encode([1, 2, 3])
        var output = [Float](repeating: 0, count: 4)
        XCTAssertThrowsError(try output.withUnsafeMutableBufferPointer { try codec.decode(frame, into: $0) }) { error in
            XCTAssertEqual(error as? ActivationCodecError, .countMismatch(frame: 3, output: 4))
        }
    }
}
