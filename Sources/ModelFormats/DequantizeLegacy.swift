import TensorKernels

/// Fast dequantization of the 32-element block types Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0.
///
/// Each block is handled as two 16-lane halves: elements 0..<16 and 16..<32. The layouts and formulas
/// are documented on the matching functions of `ReferenceKernels`. The arithmetic per element is the
/// same as there, so results are bit-identical.
enum LegacyKernels {

    static func q4_0(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let input = source + block * 18
            let output = destination + block * 32
            let d = SIMDLanes.fp16(input, at: 0)
            let quants = input.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)

            // q - 8 is exact in Float, so subtracting after the conversion matches d * Float(q - 8).
            SIMDLanes.store((SIMDLanes.float(quants & 0x0F) - 8) * d, output)
            SIMDLanes.store((SIMDLanes.float(quants &>> 4) - 8) * d, output + 16)
        }
    }

    static func q4_1(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let input = source + block * 20
            let output = destination + block * 32
            let d = SIMDLanes.fp16(input, at: 0)
            let m = SIMDLanes.fp16(input, at: 2)
            let quants = input.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)

            SIMDLanes.store(SIMDLanes.float(quants & 0x0F) * d + m, output)
            SIMDLanes.store(SIMDLanes.float(quants &>> 4) * d + m, output + 16)
        }
    }

    static func q5_0(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let input = source + block * 22
            let output = destination + block * 32
            let d = SIMDLanes.fp16(input, at: 0)
            let highBits = UInt32(littleEndian: input.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
            let quants = input.loadUnaligned(fromByteOffset: 6, as: SIMD16<UInt8>.self)

            // q - 16 is exact in Float, so subtracting after the conversion matches d * Float(q - 16).
            let low = (quants & 0x0F) | fifthBits(highBits, firstElement: 0)
            let high = (quants &>> 4) | fifthBits(highBits, firstElement: 16)
            SIMDLanes.store((SIMDLanes.float(low) - 16) * d, output)
            SIMDLanes.store((SIMDLanes.float(high) - 16) * d, output + 16)
        }
    }

    static func q5_1(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let input = source + block * 24
            let output = destination + block * 32
            let d = SIMDLanes.fp16(input, at: 0)
            let m = SIMDLanes.fp16(input, at: 2)
            let highBits = UInt32(littleEndian: input.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            let quants = input.loadUnaligned(fromByteOffset: 8, as: SIMD16<UInt8>.self)

            let low = (quants & 0x0F) | fifthBits(highBits, firstElement: 0)
            let high = (quants &>> 4) | fifthBits(highBits, firstElement: 16)
            SIMDLanes.store(SIMDLanes.float(low) * d + m, output)
            SIMDLanes.store(SIMDLanes.float(high) * d + m, output + 16)
        }
    }

    static func q8_0(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let input = source + block * 34
            let output = destination + block * 32
            let d = SIMDLanes.fp16(input, at: 0)
            let first = input.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
            let second = input.loadUnaligned(fromByteOffset: 18, as: SIMD16<UInt8>.self)

            SIMDLanes.store(SIMDLanes.signedFloat(first) * d, output)
            SIMDLanes.store(SIMDLanes.signedFloat(second) * d, output + 16)
        }
    }

    /// Returns the fifth bits of elements `firstElement ..< firstElement + 16` as 16 or 0, from the 32-bit
    /// word whose bit i belongs to element i.
    @inline(__always)
    private static func fifthBits(_ highBits: UInt32, firstElement: UInt32) -> SIMD16<UInt8> {
        let word = highBits >> firstElement
        let bytes = SIMD16<UInt8>(lowHalf: SIMD8(repeating: UInt8(truncatingIfNeeded: word)),
                                  highHalf: SIMD8(repeating: UInt8(truncatingIfNeeded: word >> 8)))
        return SIMDLanes.bitsAsValue(bytes & SIMDLanes.laneBits, value: 16)
    }
}

/// Small SIMD helpers shared by the fast kernels.
enum SIMDLanes {
    /// 1 << (lane % 8): selects bit j of a byte in lanes j and j + 8.
    static let laneBits = SIMD16<UInt8>(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128)

    @inline(__always)
    static func fp16(_ base: UnsafeRawPointer, at offset: Int) -> Float {
        HalfFloat.fp16ToFloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }

    /// Maps lanes that are 0 to 0 and lanes that have one bit set to `value`, which must be a power of
    /// two up to 128. Integer arithmetic replaces a lane comparison with `replacing(with:where:)`,
    /// which made the Q5 kernels over ten times slower in Swift 6.3 release builds on x86-64.
    @inline(__always)
    static func bitsAsValue(_ singleBits: SIMD16<UInt8>, value: UInt8) -> SIMD16<UInt8> {
        // A nonzero lane is at most 0x80, so adding 0x7F sets bit 7 exactly for nonzero lanes.
        ((singleBits &+ 0x7F) & 0x80) &>> UInt8(7 - value.trailingZeroBitCount)
    }

    /// Converts 16 bytes to floats. The lane loop compiles to inline vector code, while the standard
    /// library's `SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded:))` calls out of line (Swift 6.3).
    @inline(__always)
    static func float(_ values: SIMD16<UInt8>) -> SIMD16<Float> {
        var result = SIMD16<Float>()
        for lane in 0..<16 {
            result[lane] = Float(values[lane])
        }
        return result
    }

    /// Converts bytes read as two's-complement Int8 values. Flipping the sign bit gives value + 128 as an
    /// unsigned byte, so the unsigned conversion applies, and subtracting 128 afterwards is exact.
    @inline(__always)
    static func signedFloat(_ values: SIMD16<UInt8>) -> SIMD16<Float> {
        float(values ^ 0x80) - 128
    }

    /// Stores 16 floats at `destination`, which needs no alignment.
    @inline(__always)
    static func store(_ values: SIMD16<Float>, _ destination: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(destination).storeBytes(of: values, as: SIMD16<Float>.self)
    }
}
