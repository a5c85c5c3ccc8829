import TensorKernels

/// Scalar reference dequantization: one element at a time, each computed from the byte and bit
/// positions that the block layout assigns to it. It is written for reading and checking, not for speed.
///
/// Block layouts are those of ggml (`ggml-common.h`) as decoded by `gguf.quants` in the `gguf` Python
/// package. In the formulas, `d` is the block scale, `m` the block minimum, `q` the quantized integer
/// and `sc`/`mn` the sub-block scale and minimum factors. Offsets are in bytes from the block start.
enum ReferenceKernels {

    /// Dequantizes one block of `type` at `block` into `type.blockSize` floats at `output`.
    static func dequantizeBlock(_ type: GGMLType, _ block: UnsafeRawPointer,
                                into output: UnsafeMutablePointer<Float>) throws {
        let bytes = BlockReader(base: block)

        switch type {
        case .f32:
            output[0] = Float(bitPattern: bytes.uint32(at: 0))
        case .f16:
            output[0] = HalfFloat.fp16ToFloat(bytes.uint16(at: 0))
        case .bf16:
            output[0] = HalfFloat.bf16ToFloat(bytes.uint16(at: 0))
        case .q4_0:
            q4_0(bytes, output)
        case .q4_1:
            q4_1(bytes, output)
        case .q5_0:
            q5_0(bytes, output)
        case .q5_1:
            q5_1(bytes, output)
        case .q8_0:
            q8_0(bytes, output)
        case .q2_K:
            q2_K(bytes, output)
        case .q3_K:
            q3_K(bytes, output)
        case .q4_K:
            q4_K(bytes, output)
        case .q5_K:
            q5_K(bytes, output)
        case .q6_K:
            q6_K(bytes, output)
        default:
            throw DequantizationError.unsupportedType(type, tensor: nil)
        }
    }

    // MARK: - 32-element blocks

    /// Q4_0, 18 bytes: d (FP16) at 0, then 16 bytes of 4-bit q. Element i < 16 is the low nibble of
    /// byte i, element i >= 16 the high nibble of byte i - 16. x = d * (q - 8).
    private static func q4_0(_ bytes: BlockReader, _ output: UnsafeMutablePointer<Float>) {
        let d = bytes.fp16(at: 0)
        for i in 0..<32 {
            let q = nibble32(bytes, quantsAt: 2, element: i)
            output[i] = d * Float(q - 8)
        }
    }

    /// Q4_1, 20 bytes: d (FP16) at 0, m (FP16) at 2, then 16 bytes of 4-bit q as in Q4_0. x = d * q + m.
    private static func q4_1(_ bytes: BlockReader, _ output: UnsafeMutablePointer<Float>) {
        let d = bytes.fp16(at: 0)
        let m = bytes.fp16(at: 2)
        for i in 0..<32 {
            let q = nibble32(bytes, quantsAt: 4, element: i)
            output[i] = d * Float(q) + m
        }
    }

    /// Q5_0, 22 bytes: d (FP16) at 0, a 32-bit little-endian word of fifth bits at 2 (bit i belongs to
    /// element i), then 16 bytes of low nibbles as in Q4_0. x = d * (q - 16).
    private static func q5_0(_ bytes: BlockReader, _ output: UnsafeMutablePointer<Float>) {
        let d = bytes.fp16(at: 0)
        let highBits = bytes.uint32(at: 2)
        for i in 0..<32 {
            let q = nibble32(bytes, quantsAt: 6, element: i) | Int((highBits >> i) & 1) << 4
            output[i] = d * Float(q - 16)
        }
    }

    /// Q5_1, 24 bytes: d (FP16) at 0, m (FP16) at 2, fifth bits at 4, low nibbles at 8. x = d * q + m.
    private static func q5_1(_ bytes: BlockReader, _ output: UnsafeMutablePointer<Float>) {
        let d = bytes.fp16(at: 0)
        let m = bytes.fp16(at: 2)
        let highBits = bytes.uint32(at: 4)
        for i in 0..<32 {
            let q = nibble32(bytes, quantsAt: 8, element: i) | Int((highBits >> i) & 1) << 4
            output[i] = d * Float(q) + m
        }
    }

    /// Q8_0, 34 bytes: d (FP16) at 0, then 32 signed bytes q. x = q * d.
    private static func q8_0(_ bytes: BlockReader, _ output: UnsafeMutablePointer<Float>) {
        let d = bytes.fp16(at: 0)
        for i in 0..<32 {
            output[i] = Float(bytes.int8(at: 2 + i)) * d
        }
    }

    /// Returns the 4-bit value of element `i` in the 32-element nibble layout of Q4_0, Q4_1, Q5_0 and Q5_1.
    private static func nibble32(_ bytes: BlockReader, quantsAt offset: Int, element i: Int) -> Int {
        let byte = bytes.uint8(at: offset + i % 16)
        return Int(i < 16 ? byte & 0x0F : byte >> 4)
    }

    // MARK: - 256-element super-blocks (k-quants)

    /// Q2_K, 84 bytes: 16 bytes of sub-block factors at 0 (low nibble sc, high nibble mn, one byte per 16
    /// elements), 64 bytes of 2-bit q at 16, d (FP16) at 80, dmin (FP16) at 82.
    /// Element i lies in half h = i / 128. Within the half, group g = (i % 128) / 32 takes bits 2g..2g+1
    /// of byte 16 + 32h + i % 32. x = (d * sc) * q - (dmin * mn).
    private static func q2_K(_ bytes: BlockReader, _ output: UnsafeMutablePointer<Float>) {
        let d = bytes.fp16(at: 80)
        let dmin = bytes.fp16(at: 82)
        for i in 0..<256 {
            let half = i / 128
            let group = (i % 128) / 32
            let q = (bytes.uint8(at: 16 + half * 32 + i % 32) >> (2 * group)) & 3
            let factors = bytes.uint8(at: i / 16)
            let scale = d * Float(factors & 0x0F)
            let minimum = dmin * Float(factors >> 4)
            output[i] = scale * Float(q) - minimum
        }
    }

    /// Q3_K, 110 bytes: 32 bytes of high-bit masks at 0, 64 bytes of 2-bit low parts at 32, 12 bytes
    /// of 6-bit sub-block scales at 96, d (FP16) at 108.
    /// The low two bits of element i sit as in Q2_K (from offset 32). Its third bit is bit i / 32 of
    /// mask byte i % 32, and a clear bit subtracts 4, so q runs from -4 to 3.
    /// Scale j (one per 16 elements) has its low four bits in the low (j < 8) or high (j >= 8) nibble
    /// of byte 96 + j % 8, and its high two bits at bits 2 * (j / 4) of byte 104 + j % 4. x = (d * (sc - 32)) * q.
    private static func q3_K(_ bytes: BlockReader, _ output: UnsafeMutablePointer<Float>) {
        let d = bytes.fp16(at: 108)
        for i in 0..<256 {
            let half = i / 128
            let group = (i % 128) / 32
            let low = Int((bytes.uint8(at: 32 + half * 32 + i % 32) >> (2 * group)) & 3)
            let highBitSet = (bytes.uint8(at: i % 32) >> (i / 32)) & 1 == 1
            let q = low - (highBitSet ? 0 : 4)

            let scale = q3_KScale(bytes, at: 96, subBlock: i / 16)

            output[i] = (d * Float(scale)) * Float(q)
        }
    }

    /// Returns the signed scale of sub-block `j` (0 to 15) of Q3_K, from the 12 bytes at `offset`.
    static func q3_KScale(_ bytes: BlockReader, at offset: Int, subBlock j: Int) -> Int {
        let lowByte = bytes.uint8(at: offset + j % 8)
        let low = j < 8 ? lowByte & 0x0F : lowByte >> 4
        let high = (bytes.uint8(at: offset + 8 + j % 4) >> (2 * (j / 4))) & 3
        return Int(low | high << 4) - 32
    }

    /// Q4_K, 144 bytes: d (FP16) at 0, dmin (FP16) at 2, 12 bytes of packed 6-bit scales and minimums
    /// at 4 (see `scaleAndMinimum`), 128 bytes of 4-bit q at 16.
    /// Element i lies in chunk c = i / 64 of 32 bytes. The chunk's first 32 elements take the low nibbles
    /// of bytes 16 + 32c ..< 16 + 32c + 32 and the next 32 the high nibbles. Sub-block j = i / 32.
    /// x = (d * sc) * q - (dmin * mn).
    private static func q4_K(_ bytes: BlockReader, _ output: UnsafeMutablePointer<Float>) {
        let d = bytes.fp16(at: 0)
        let dmin = bytes.fp16(at: 2)
        for i in 0..<256 {
            let q = nibble256(bytes, quantsAt: 16, element: i)
            let (scale, minimum) = scaleAndMinimum(bytes, at: 4, subBlock: i / 32)
            output[i] = (d * Float(scale)) * Float(q) - (dmin * Float(minimum))
        }
    }

    /// Q5_K, 176 bytes: as Q4_K, with 32 bytes of fifth bits at 16 and the nibbles at 48. The fifth bit
    /// of element i is bit i / 32 of byte 16 + i % 32. x = (d * sc) * q - (dmin * mn).
    private static func q5_K(_ bytes: BlockReader, _ output: UnsafeMutablePointer<Float>) {
        let d = bytes.fp16(at: 0)
        let dmin = bytes.fp16(at: 2)
        for i in 0..<256 {
            let high = Int((bytes.uint8(at: 16 + i % 32) >> (i / 32)) & 1)
            let q = nibble256(bytes, quantsAt: 48, element: i) | high << 4
            let (scale, minimum) = scaleAndMinimum(bytes, at: 4, subBlock: i / 32)
            output[i] = (d * Float(scale)) * Float(q) - (dmin * Float(minimum))
        }
    }

    /// Q6_K, 210 bytes: 128 bytes of low nibbles at 0, 64 bytes of 2-bit high parts at 128, 16 signed
    /// sub-block scales at 192 (one per 16 elements), d (FP16) at 208.
    /// Element i lies in half h = i / 128, at r = i % 128 within it. Its low nibble is the low (r < 64)
    /// or high (r >= 64) nibble of byte 64h + r % 64. Its high part is bits 2g..2g+1, with g = r / 32,
    /// of byte 128 + 32h + r % 32. x = (d * sc) * (q - 32).
    private static func q6_K(_ bytes: BlockReader, _ output: UnsafeMutablePointer<Float>) {
        let d = bytes.fp16(at: 208)
        for i in 0..<256 {
            let half = i / 128
            let r = i % 128
            let lowByte = bytes.uint8(at: half * 64 + r % 64)
            let low = r < 64 ? lowByte & 0x0F : lowByte >> 4
            let high = (bytes.uint8(at: 128 + half * 32 + r % 32) >> (2 * (r / 32))) & 3
            let q = Int(low | high << 4) - 32
            let scale = bytes.int8(at: 192 + i / 16)
            output[i] = (d * Float(scale)) * Float(q)
        }
    }

    /// Returns the 4-bit value of element `i` in the 256-element nibble layout of Q4_K and Q5_K.
    private static func nibble256(_ bytes: BlockReader, quantsAt offset: Int, element i: Int) -> Int {
        let chunk = i / 64
        let byte = bytes.uint8(at: offset + chunk * 32 + i % 32)
        return Int(i % 64 < 32 ? byte & 0x0F : byte >> 4)
    }

    /// Returns the 6-bit scale and minimum factors of sub-block `j` (0 to 7) of Q4_K and Q5_K, packed in
    /// 12 bytes.
    /// For j < 4, the scale is the low six bits of byte j and the minimum those of byte 4 + j.
    /// For j >= 4, the low four bits come from the low (scale) or high (minimum) nibble of byte 4 + j,
    /// and the high two bits from the top two bits of byte j - 4 (scale) or byte j (minimum).
    static func scaleAndMinimum(_ bytes: BlockReader, at offset: Int,
                                subBlock j: Int) -> (scale: UInt8, minimum: UInt8) {
        if j < 4 {
            return (bytes.uint8(at: offset + j) & 0x3F, bytes.uint8(at: offset + 4 + j) & 0x3F)
        }
        let packed = bytes.uint8(at: offset + 4 + j)
        let scale = (packed & 0x0F) | (bytes.uint8(at: offset + j - 4) >> 6) << 4
        let minimum = (packed >> 4) | (bytes.uint8(at: offset + j) >> 6) << 4
        return (scale, minimum)
    }
}

/// Little-endian reads at byte offsets from an unaligned base address.
struct BlockReader {
    let base: UnsafeRawPointer

    @inline(__always)
    func uint8(at offset: Int) -> UInt8 {
        base.load(fromByteOffset: offset, as: UInt8.self)
    }

    @inline(__always)
    func int8(at offset: Int) -> Int8 {
        base.load(fromByteOffset: offset, as: Int8.self)
    }

    @inline(__always)
    func uint16(at offset: Int) -> UInt16 {
        UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    func uint32(at offset: Int) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    func fp16(at offset: Int) -> Float {
        HalfFloat.fp16ToFloat(uint16(at: offset))
    }
}
