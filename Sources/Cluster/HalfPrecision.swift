// Conversions between Float and the 16-bit formats bfloat16 and IEEE 754 binary16 (fp16), rounding to
// nearest with ties to even. NaN stays NaN (quiet) and values beyond the 16-bit range become infinity.

/// Returns the bfloat16 bits nearest to `value`: the upper 16 bits of the float, rounded.
@inline(__always)
func bfloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
    // Adding 0x7FFF plus the lowest kept bit rounds to nearest with ties to even. A carry into the
    // exponent gives the correct result, including overflow to infinity.
    let rounding = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

@inline(__always)
func floatFromBFloat16(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Returns the binary16 bits nearest to `value`, with subnormal results where binary16 has them.
@inline(__always)
func float16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
    let exponent = Int((bits >> 23) & 0xFF)
    let mantissa = bits & 0x7F_FFFF

    if exponent == 0xFF {
        return sign | 0x7C00 | (mantissa != 0 ? 0x0200 | UInt16(truncatingIfNeeded: mantissa >> 13) : 0)
    }
    // Exponent rebiased from 127 to 15.
    let halfExponent = exponent - 127 + 15
    if halfExponent >= 31 { return sign | 0x7C00 }

    if halfExponent <= 0 {
        // The result is subnormal or zero: the 24-bit significand shifted right by 14 - halfExponent.
        // Shifts beyond 24 leave less than half of the smallest subnormal, which rounds to zero.
        let shift = 14 - halfExponent
        guard shift <= 24 else { return sign }
        let significand = mantissa | 0x80_0000
        var result = significand >> UInt32(shift)
        let remainder = significand & ((1 << UInt32(shift)) - 1)
        let half = UInt32(1) << UInt32(shift - 1)
        if remainder > half || (remainder == half && result & 1 == 1) { result += 1 }
        // A carry to 0x400 is the smallest normal number, which has exactly these bits.
        return sign | UInt16(result)
    }

    var result = UInt32(halfExponent) << 10 | mantissa >> 13
    let remainder = mantissa & 0x1FFF
    if remainder > 0x1000 || (remainder == 0x1000 && result & 1 == 1) { result += 1 }
    // A carry out of the mantissa raises the exponent, and past the largest finite value gives 0x7C00.
    return sign | UInt16(result)
}

@inline(__always)
func floatFromFloat16(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0 {
        // Zero or subnormal: mantissa × 2^-24, exact in Float.
        let magnitude = Float(mantissa) * 0x1p-24
        return Float(bitPattern: magnitude.bitPattern | sign)
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
    return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
}
