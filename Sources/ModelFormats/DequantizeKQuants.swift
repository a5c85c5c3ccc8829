/// Fast dequantization of the 256-element k-quant super-blocks Q2_K, Q3_K, Q4_K, Q5_K and Q6_K.
///
/// The kernels read 16 bytes of packed quants at a time and unpack every bit field of them with
/// constant shifts. A shift by a loop variable would make the compiler fall back to scalar code,
/// because x86 has no byte-lane shift. Each 16-lane run of output shares one sub-block scale.
///
/// The layouts and formulas are documented on the matching functions of `ReferenceKernels`. The
/// arithmetic per element is the same as there, so results are bit-identical.
enum KQuantKernels {

    static func q2_K(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let input = source + block * 84
            let output = destination + block * 256
            let d = SIMDLanes.fp16(input, at: 80)
            let dmin = SIMDLanes.fp16(input, at: 82)

            // Bytes 16 + 32h + 16p ..< +16 hold bit groups g = 0...3 of run 8h + 2g + p, where run k
            // is elements 16k ..< 16k + 16.
            for half in 0..<2 {
                for part in 0..<2 {
                    let bytes = input.loadUnaligned(fromByteOffset: 16 + half * 32 + part * 16, as: SIMD16<UInt8>.self)
                    let firstRun = half * 8 + part
                    q2_KRun(bytes & 3, input, d, dmin, run: firstRun, output)
                    q2_KRun((bytes &>> 2) & 3, input, d, dmin, run: firstRun + 2, output)
                    q2_KRun((bytes &>> 4) & 3, input, d, dmin, run: firstRun + 4, output)
                    q2_KRun(bytes &>> 6, input, d, dmin, run: firstRun + 6, output)
                }
            }
        }
    }

    @inline(__always)
    private static func q2_KRun(_ q: SIMD16<UInt8>, _ input: UnsafeRawPointer, _ d: Float, _ dmin: Float, run: Int,
                                _ output: UnsafeMutablePointer<Float>) {
        let factors = input.load(fromByteOffset: run, as: UInt8.self)
        let scale = d * Float(factors & 0x0F)
        let minimum = dmin * Float(factors >> 4)
        SIMDLanes.store(SIMDLanes.float(q) * scale - minimum, output + run * 16)
    }

    static func q3_K(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let input = source + block * 110
            let output = destination + block * 256
            let d = SIMDLanes.fp16(input, at: 108)

            // The low two bits are laid out as in Q2_K, from offset 32. The third bit of run
            // 8h + 2g + p is bit 4h + g of mask bytes 16p ..< 16p + 16.
            for half in 0..<2 {
                for part in 0..<2 {
                    let bytes = input.loadUnaligned(fromByteOffset: 32 + half * 32 + part * 16, as: SIMD16<UInt8>.self)
                    let masks = input.loadUnaligned(fromByteOffset: part * 16, as: SIMD16<UInt8>.self)
                    let firstRun = half * 8 + part
                    q3_KRun(bytes & 3, masks, input, d, run: firstRun, maskBit: 4 * half, output)
                    q3_KRun((bytes &>> 2) & 3, masks, input, d, run: firstRun + 2, maskBit: 4 * half + 1, output)
                    q3_KRun((bytes &>> 4) & 3, masks, input, d, run: firstRun + 4, maskBit: 4 * half + 2, output)
                    q3_KRun(bytes &>> 6, masks, input, d, run: firstRun + 6, maskBit: 4 * half + 3, output)
                }
            }
        }
    }

    /// With the third bit as 4 or 0, q = (low | bit) - 4, and the subtraction after the conversion is exact.
    @inline(__always)
    private static func q3_KRun(_ low: SIMD16<UInt8>, _ masks: SIMD16<UInt8>, _ input: UnsafeRawPointer, _ d: Float,
                                run: Int, maskBit: Int, _ output: UnsafeMutablePointer<Float>) {
        let third = SIMDLanes.bitsAsValue(masks & UInt8(1 << maskBit), value: 4)
        let q = SIMDLanes.float(low | third) - 4
        let scale = d * Float(ReferenceKernels.q3_KScale(BlockReader(base: input), at: 96, subBlock: run))
        SIMDLanes.store(q * scale, output + run * 16)
    }

    static func q4_K(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let input = source + block * 144
            let output = destination + block * 256
            let d = SIMDLanes.fp16(input, at: 0)
            let dmin = SIMDLanes.fp16(input, at: 2)

            // Bytes 16 + 32c ..< 16 + 32c + 32 hold sub-block 2c in their low nibbles and 2c + 1 in
            // their high nibbles.
            for chunk in 0..<4 {
                let (lowScale, lowMinimum) = q4_KFactors(input, d, dmin, subBlock: 2 * chunk)
                let (highScale, highMinimum) = q4_KFactors(input, d, dmin, subBlock: 2 * chunk + 1)
                for part in 0..<2 {
                    let bytes = input.loadUnaligned(fromByteOffset: 16 + chunk * 32 + part * 16, as: SIMD16<UInt8>.self)
                    let lowOutput = output + chunk * 64 + part * 16
                    SIMDLanes.store(SIMDLanes.float(bytes & 0x0F) * lowScale - lowMinimum, lowOutput)
                    SIMDLanes.store(SIMDLanes.float(bytes &>> 4) * highScale - highMinimum, lowOutput + 32)
                }
            }
        }
    }

    static func q5_K(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let input = source + block * 176
            let output = destination + block * 256
            let d = SIMDLanes.fp16(input, at: 0)
            let dmin = SIMDLanes.fp16(input, at: 2)

            // Nibbles as in Q4_K, from offset 48. The fifth bit of sub-block j is bit j of the 32
            // bytes at offset 16.
            for chunk in 0..<4 {
                let (lowScale, lowMinimum) = q4_KFactors(input, d, dmin, subBlock: 2 * chunk)
                let (highScale, highMinimum) = q4_KFactors(input, d, dmin, subBlock: 2 * chunk + 1)
                let lowBit = UInt8(1 << (2 * chunk))
                let highBit = UInt8(1 << (2 * chunk + 1))
                for part in 0..<2 {
                    let bytes = input.loadUnaligned(fromByteOffset: 48 + chunk * 32 + part * 16, as: SIMD16<UInt8>.self)
                    let fifthBits = input.loadUnaligned(fromByteOffset: 16 + part * 16, as: SIMD16<UInt8>.self)
                    let low = (bytes & 0x0F) | SIMDLanes.bitsAsValue(fifthBits & lowBit, value: 16)
                    let high = (bytes &>> 4) | SIMDLanes.bitsAsValue(fifthBits & highBit, value: 16)
                    let lowOutput = output + chunk * 64 + part * 16
                    SIMDLanes.store(SIMDLanes.float(low) * lowScale - lowMinimum, lowOutput)
                    SIMDLanes.store(SIMDLanes.float(high) * highScale - highMinimum, lowOutput + 32)
                }
            }
        }
    }

    /// Sub-block `j` scale d * sc and minimum dmin * mn of Q4_K and Q5_K.
    @inline(__always)
    private static func q4_KFactors(_ input: UnsafeRawPointer, _ d: Float, _ dmin: Float,
                                    subBlock j: Int) -> (scale: Float, minimum: Float) {
        let (scale, minimum) = ReferenceKernels.scaleAndMinimum(BlockReader(base: input), at: 4, subBlock: j)
        return (d * Float(scale), dmin * Float(minimum))
    }

    static func q6_K(_ source: UnsafeRawPointer, blocks: Int, into destination: UnsafeMutablePointer<Float>) {
        for block in 0..<blocks {
            let input = source + block * 210
            let output = destination + block * 256
            let d = SIMDLanes.fp16(input, at: 208)

            // For half h and part p, run 8h + 2g + p (group g = 0...3) takes its low nibble from the
            // low (g < 2) or high (g >= 2) half of bytes 64h + 32 * (g % 2) + 16p, and its high two
            // bits from bits 2g..2g+1 of bytes 128 + 32h + 16p.
            for half in 0..<2 {
                for part in 0..<2 {
                    let lowEven = input.loadUnaligned(fromByteOffset: half * 64 + part * 16, as: SIMD16<UInt8>.self)
                    let lowOdd = input.loadUnaligned(fromByteOffset: half * 64 + 32 + part * 16, as: SIMD16<UInt8>.self)
                    let high = input.loadUnaligned(fromByteOffset: 128 + half * 32 + part * 16, as: SIMD16<UInt8>.self)
                    let firstRun = half * 8 + part
                    q6_KRun((lowEven & 0x0F) | (high & 0x03) &<< 4, input, d, run: firstRun, output)
                    q6_KRun((lowOdd & 0x0F) | (high & 0x0C) &<< 2, input, d, run: firstRun + 2, output)
                    q6_KRun((lowEven &>> 4) | (high & 0x30), input, d, run: firstRun + 4, output)
                    q6_KRun((lowOdd &>> 4) | (high & 0xC0) &>> 2, input, d, run: firstRun + 6, output)
                }
            }
        }
    }

    /// q - 32 is exact in Float, so subtracting after the conversion matches Float(q - 32).
    @inline(__always)
    private static func q6_KRun(_ q: SIMD16<UInt8>, _ input: UnsafeRawPointer, _ d: Float, run: Int,
                                _ output: UnsafeMutablePointer<Float>) {
        let scale = d * Float(input.load(fromByteOffset: 192 + run, as: Int8.self))
        SIMDLanes.store((SIMDLanes.float(q) - 32) * scale, output + run * 16)
    }
}
