/// Conversions between Float32 and the two 16-bit float formats of model files and activation exchange:
/// IEEE 754 binary16 (FP16: 1 sign, 5 exponent, 10 mantissa bits) and bfloat16 (BF16: the upper 16 bits
/// of a Float32).
///
/// Widening to Float32 is exact. Narrowing rounds to nearest, ties to even, and overflows to infinity.
/// Each format has a scalar function, written for clarity and used as the reference, and a bulk
/// function over buffers written with SIMD types. Tests check that both give the same bits.
///
/// Buffers of 16-bit values are raw pointers to little-endian bytes because the values come from or go
/// to files and network messages, which are little-endian, and need no alignment.
public enum HalfFloat {

    // MARK: - Scalar FP16

    /// Widens FP16 bits to Float32.
    ///
    /// A NaN keeps its sign and payload bits unchanged, so a signaling NaN stays signaling. NumPy's
    /// `float16` to `float32` cast does the same, while Swift's `Float(Float16)` sets the quiet bit.
    @inlinable
    public static func fp16ToFloat(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x03FF)

        switch exponent {
        case 0:
            // Zero or subnormal: the value is mantissa * 2^-24, which the product below gives exactly.
            let magnitude = Float(mantissa) * 0x1p-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        case 0x1F:
            // Infinity (mantissa 0) or NaN.
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        default:
            // Rebias the exponent from 15 to 127.
            return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
        }
    }

    /// Narrows a Float32 to FP16 bits, rounding to nearest with ties to even.
    ///
    /// Magnitudes of 65520 and above become infinity, and magnitudes of 2^-25 and below become zero.
    /// A NaN becomes a quiet NaN that keeps the sign and the upper mantissa bits, as Swift's `Float16(_:)`
    /// does.
    @inlinable
    public static func floatToFP16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: bits >> 16) & 0x8000
        let magnitude = bits & 0x7FFF_FFFF

        if magnitude > 0x7F80_0000 {
            return sign | 0x7E00 | UInt16(truncatingIfNeeded: magnitude >> 13) & 0x03FF
        }
        if magnitude >= 0x4780_0000 {
            // 65536 and above, and infinity.
            return sign | 0x7C00
        }
        if magnitude >= 0x3880_0000 {
            // Normal FP16 range. Rounding adds just under half a unit in the last place, plus one when the
            // kept part is odd. A carry out of the mantissa raises the exponent, so 65520 becomes infinity.
            let keptIsOdd = (magnitude >> 13) & 1
            let rounded = magnitude + 0x0FFF + keptIsOdd
            return sign | UInt16(truncatingIfNeeded: (rounded - (112 << 23)) >> 13)
        }

        // Subnormal FP16 range: the result is the value in units of 2^-24, rounded to an integer.
        let biasedExponent = magnitude >> 23
        let shift = 126 - biasedExponent
        if shift > 24 {
            return sign
        }
        let significand = (magnitude & 0x007F_FFFF) | 0x0080_0000
        var result = significand >> shift
        let remainder = significand & ((1 << shift) - 1)
        let half = UInt32(1) << (shift - 1)
        if remainder > half || (remainder == half && result & 1 == 1) {
            result += 1
        }
        return sign | UInt16(truncatingIfNeeded: result)
    }

    // MARK: - Scalar BF16

    /// Widens BF16 bits to Float32 exactly, NaN payloads included.
    @inlinable
    public static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Narrows a Float32 to BF16 bits, rounding to nearest with ties to even.
    ///
    /// A NaN becomes a quiet NaN that keeps the sign and the upper payload bits. This is the rule of
    /// ggml's `ggml_compute_fp32_to_bf16` and of `gguf.quants.BF16` in the `gguf` Python package.
    @inlinable
    public static func floatToBF16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if bits & 0x7FFF_FFFF > 0x7F80_0000 {
            return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
        }
        let keptIsOdd = (bits >> 16) & 1
        // The sum cannot overflow: the largest non-NaN input, 0xFF80_0000, leaves ample room.
        return UInt16(truncatingIfNeeded: (bits + 0x7FFF + keptIsOdd) >> 16)
    }

    // MARK: - Bulk FP16

    /// Widens `count` FP16 values at `source` into `destination`, with the same results as `fp16ToFloat`.
    public static func convertFP16ToFloat(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>,
                                          count: Int) {
        let output = UnsafeMutableRawPointer(destination)
        var index = 0
        while index + 8 <= count {
            let halves = source.loadUnaligned(fromByteOffset: index * 2, as: SIMD8<UInt16>.self)
            output.storeBytes(of: fp16ToFloat(halves), toByteOffset: index * 4, as: SIMD8<Float>.self)
            index += 8
        }
        while index < count {
            destination[index] = fp16ToFloat(source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
            index += 1
        }
    }

    /// Narrows `count` floats at `source` into FP16 values at `destination`, with the same results as
    /// `floatToFP16`.
    public static func convertFloatToFP16(_ source: UnsafePointer<Float>, into destination: UnsafeMutableRawPointer,
                                          count: Int) {
        let input = UnsafeRawPointer(source)
        var index = 0
        while index + 8 <= count {
            let values = input.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
            destination.storeBytes(of: floatToFP16(values), toByteOffset: index * 2, as: SIMD8<UInt16>.self)
            index += 8
        }
        while index < count {
            destination.storeBytes(of: floatToFP16(source[index]), toByteOffset: index * 2, as: UInt16.self)
            index += 1
        }
    }

    // MARK: - Bulk BF16

    /// Widens `count` BF16 values at `source` into `destination`.
    public static func convertBF16ToFloat(_ source: UnsafeRawPointer, into destination: UnsafeMutablePointer<Float>,
                                          count: Int) {
        let output = UnsafeMutableRawPointer(destination)
        var index = 0
        while index + 8 <= count {
            let halves = source.loadUnaligned(fromByteOffset: index * 2, as: SIMD8<UInt16>.self)
            let widened = widen(halves) &<< 16
            output.storeBytes(of: widened, toByteOffset: index * 4, as: SIMD8<UInt32>.self)
            index += 8
        }
        while index < count {
            destination[index] = bf16ToFloat(source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
            index += 1
        }
    }

    /// Narrows `count` floats at `source` into BF16 values at `destination`, with the same results as
    /// `floatToBF16`.
    public static func convertFloatToBF16(_ source: UnsafePointer<Float>, into destination: UnsafeMutableRawPointer,
                                          count: Int) {
        let input = UnsafeRawPointer(source)
        var index = 0
        while index + 8 <= count {
            let values = input.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
            destination.storeBytes(of: floatToBF16(values), toByteOffset: index * 2, as: SIMD8<UInt16>.self)
            index += 8
        }
        while index < count {
            destination.storeBytes(of: floatToBF16(source[index]), toByteOffset: index * 2, as: UInt16.self)
            index += 1
        }
    }

    // MARK: - SIMD lanes
    //
    // The lane functions choose between cases with all-ones or all-zero integer masks built by
    // arithmetic. Lane comparisons with `replacing(with:where:)` made the bulk conversions over ten
    // times slower in Swift 6.3 release builds on x86-64.

    /// Widens eight FP16 values with the results of `fp16ToFloat`.
    @inlinable
    public static func fp16ToFloat(_ halves: SIMD8<UInt16>) -> SIMD8<Float> {
        let bits = widen(halves)
        let sign = (bits & 0x8000) &<< 16
        let exponentField = bits & 0x7C00
        // All ones in lanes whose exponent field is 0 (zero or subnormal) or 31 (infinity or NaN).
        let isSubnormal = 0 &- ((exponentField &- 1) &>> 31)
        let isSpecial = 0 &- ((exponentField &+ 0x0400) &>> 15)

        // Moving exponent and mantissa up by 13 bits and adding 112 to the exponent rebiases normal
        // numbers. Special values get 112 more, which sets the exponent field to all ones.
        let shifted = (bits & 0x7FFF) &<< 13
        let rebiased = shifted &+ (112 << 23) &+ (isSpecial & (112 << 23))

        // A subnormal m * 2^-24 is computed as (1 + m / 1024) * 2^-14 - 2^-14, which is exact.
        let onePlusFraction = unsafeBitCast(shifted &+ (113 << 23), to: SIMD8<Float>.self)
        let subnormal = unsafeBitCast(onePlusFraction - 0x1p-14, to: SIMD8<UInt32>.self)

        let magnitude = (rebiased & ~isSubnormal) | (subnormal & isSubnormal)
        return unsafeBitCast(sign | magnitude, to: SIMD8<Float>.self)
    }

    /// Narrows eight floats to FP16 with the results of `floatToFP16`.
    ///
    /// The subnormal case avoids per-lane variable shifts. Adding 0.5 to a magnitude below 2^-14 makes
    /// the float adder round it to a multiple of 2^-24 with ties to even. The low mantissa bits of the
    /// sum are then the FP16 subnormal. Float32 inputs that are themselves subnormal give zero either
    /// way, also when the processor flushes subnormals to zero.
    @inlinable
    public static func floatToFP16(_ values: SIMD8<Float>) -> SIMD8<UInt16> {
        let bits = unsafeBitCast(values, to: SIMD8<UInt32>.self)
        let sign = (bits &>> 16) & 0x8000
        let magnitude = bits & 0x7FFF_FFFF
        // All ones in lanes where the magnitude is below 2^-14, at least 65536, or NaN. The magnitude
        // is below 2^31, so the sign bit of a wrapped difference shows which operand is larger.
        let isSubnormal = 0 &- ((magnitude &- 0x3880_0000) &>> 31)
        let isOverflow = 0 &- (1 &- ((magnitude &- 0x4780_0000) &>> 31))
        let isNaN = 0 &- ((0x7F80_0000 &- magnitude) &>> 31)

        let keptIsOdd = (magnitude &>> 13) & 1
        let normal = ((magnitude &+ 0x0FFF &+ keptIsOdd) &- (112 << 23)) &>> 13
        let shifted = unsafeBitCast(magnitude, to: SIMD8<Float>.self) + 0.5
        let subnormal = unsafeBitCast(shifted, to: SIMD8<UInt32>.self) &- (0.5 as Float).bitPattern
        let nan = 0x7E00 | ((magnitude &>> 13) & 0x03FF)

        var result = (normal & ~isSubnormal) | (subnormal & isSubnormal)
        result = (result & ~isOverflow) | (0x7C00 & isOverflow)
        result = (result & ~isNaN) | (nan & isNaN)
        return narrow(sign | result)
    }

    /// Narrows eight floats to BF16 with the results of `floatToBF16`.
    @inlinable
    public static func floatToBF16(_ values: SIMD8<Float>) -> SIMD8<UInt16> {
        let bits = unsafeBitCast(values, to: SIMD8<UInt32>.self)
        let isNaN = 0 &- ((0x7F80_0000 &- (bits & 0x7FFF_FFFF)) &>> 31)
        let rounded = (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16
        let quieted = (bits &>> 16) | 0x0040
        return narrow((rounded & ~isNaN) | (quieted & isNaN))
    }

    // The lane loops below compile to inline vector code, while the standard library's
    // `init(truncatingIfNeeded:)` between SIMD types calls out of line (Swift 6.3).

    @inlinable @inline(__always)
    static func widen(_ values: SIMD8<UInt16>) -> SIMD8<UInt32> {
        var result = SIMD8<UInt32>()
        for lane in 0..<8 {
            result[lane] = UInt32(values[lane])
        }
        return result
    }

    /// Keeps the low 16 bits of each lane.
    @inlinable @inline(__always)
    static func narrow(_ values: SIMD8<UInt32>) -> SIMD8<UInt16> {
        var result = SIMD8<UInt16>()
        for lane in 0..<8 {
            result[lane] = UInt16(truncatingIfNeeded: values[lane])
        }
        return result
    }
}
