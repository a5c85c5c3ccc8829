import CZstd
import Foundation

/// The number format in which activations travel between ranks.
public enum ActivationEncoding: String, CaseIterable, Sendable {
    /// Lossless.
    case fp32
    /// bfloat16: the float's exponent range with 8 significant bits (relative error at most 2^-9).
    case bf16
    /// IEEE binary16: 11 significant bits (relative error at most 2^-12) for magnitudes 2^-14 to 65504.
    case fp16

    public var bytesPerValue: Int { self == .fp32 ? 4 : 2 }

    var code: UInt8 {
        switch self {
        case .fp32: return 0
        case .bf16: return 1
        case .fp16: return 2
        }
    }
}

/// Compression applied to the encoded activations.
public enum ActivationCompression: String, CaseIterable, Sendable {
    case none
    /// Byte shuffle, then Zstandard. The shuffle groups byte k of every value together, so the slowly
    /// varying sign and exponent bytes of neighbouring values form long, compressible runs.
    case zstd

    var code: UInt8 { self == .none ? 0 : 1 }
}

/// Errors of `ActivationCodec`.
public enum ActivationCodecError: Error, CustomStringConvertible, Equatable {
    case invalidLevel(Int32, range: ClosedRange<Int32>)
    case invalidFrame(reason: String)
    case countMismatch(frame: Int, output: Int)
    case zstdFailed(function: String, message: String)

    public var description: String {
        switch self {
        case .invalidLevel(let level, let range):
            return "zstd level \(level) is out of range; use --zstd_level in \(range.lowerBound)...\(range.upperBound)"
        case .invalidFrame(let reason):
            return "invalid activation frame: \(reason); every rank must run the same kvfactory build"
        case .countMismatch(let frame, let output):
            return "activation frame holds \(frame) values but the receiving buffer has room for \(output)"
        case .zstdFailed(let function, let message):
            return "\(function) failed: \(message)"
        }
    }
}

/// Byte counts and times of an `ActivationCodec`.
public struct ActivationCodecStats: Sendable, Equatable {
    public var encodedMessages = 0
    /// Size of the encoded arrays as fp32, 4 bytes per value.
    public var rawBytes = 0
    /// Size of the frames produced, headers included.
    public var sentBytes = 0
    public var encodeSeconds = 0.0
    public var decodedMessages = 0
    public var decodeSeconds = 0.0

    /// rawBytes / sentBytes; 1 before anything was encoded.
    public var compressionRatio: Double { sentBytes > 0 ? Double(rawBytes) / Double(sentBytes) : 1 }
}

/// Encodes float arrays into self-describing frames for sending between ranks, and decodes them.
///
/// Frame layout, little-endian: the magic bytes "KA", format version 1, encoding code, compression
/// code, three zero bytes, the value count as UInt64, then the body. The body is the values in the
/// frame's encoding, or for zstd one Zstandard frame of the byte-shuffled values. Decoding reads the
/// encoding and compression from the frame, so any codec decodes any frame. One codec per thread:
/// it reuses its scratch buffers and compression contexts.
public final class ActivationCodec {
    public static let defaultZstdLevel: Int32 = 3
    static let headerSize = 16
    static let magic: [UInt8] = [0x4B, 0x41]
    static let formatVersion: UInt8 = 1

    public let encoding: ActivationEncoding
    public let compression: ActivationCompression
    public let level: Int32
    public private(set) var stats = ActivationCodecStats()

    private let compressionContext: OpaquePointer
    private let decompressionContext: OpaquePointer
    /// Scratch space for the byte-shuffled values.
    private var planes: [UInt8] = []

    public static var levelRange: ClosedRange<Int32> { ZSTD_minCLevel()...ZSTD_maxCLevel() }

    public init(encoding: ActivationEncoding = .fp32, compression: ActivationCompression = .zstd,
                level: Int32 = ActivationCodec.defaultZstdLevel) throws {
        guard Self.levelRange.contains(level) else { throw ActivationCodecError.invalidLevel(level, range: Self.levelRange) }
        guard let cctx = ZSTD_createCCtx(), let dctx = ZSTD_createDCtx() else {
            throw ActivationCodecError.zstdFailed(function: "ZSTD_createCCtx", message: "out of memory")
        }
        self.encoding = encoding
        self.compression = compression
        self.level = level
        compressionContext = cctx
        decompressionContext = dctx
    }

    deinit {
        ZSTD_freeCCtx(compressionContext)
        ZSTD_freeDCtx(decompressionContext)
    }

    public func resetStats() {
        stats = ActivationCodecStats()
    }

    // MARK: Encoding

    public func encode(_ values: [Float]) throws -> [UInt8] {
        try values.withUnsafeBufferPointer { try encode($0) }
    }

    /// Returns one frame holding `values` in this codec's encoding and compression.
    public func encode(_ values: UnsafeBufferPointer<Float>) throws -> [UInt8] {
        let begin = monotonicSeconds()
        let bodyBytes = values.count * encoding.bytesPerValue
        guard bodyBytes <= Int(Int32.max) else {
            throw ActivationCodecError.invalidFrame(reason: "\(values.count) values exceed the 2 GiB frame limit")
        }

        let maximumBody = compression == .zstd ? ZSTD_compressBound(bodyBytes) : bodyBytes
        var frame = header(count: values.count, capacity: Self.headerSize + maximumBody)
        switch compression {
        case .none:
            frame.append(contentsOf: repeatElement(0, count: bodyBytes))
            frame.withUnsafeMutableBytes { raw in
                Self.pack(values, encoding: encoding, into: UnsafeMutableRawBufferPointer(rebasing: raw[Self.headerSize...]))
            }
        case .zstd:
            Self.ensureCapacity(&planes, bodyBytes)
            planes.withUnsafeMutableBytes { Self.packPlanes(values, encoding: encoding, into: $0) }
            let bound = maximumBody
            frame.append(contentsOf: repeatElement(0, count: bound))
            let written = frame.withUnsafeMutableBytes { target in
                planes.withUnsafeBytes { source in
                    ZSTD_compressCCtx(compressionContext, target.baseAddress! + Self.headerSize, bound,
                                      source.baseAddress!, bodyBytes, level)
                }
            }
            try Self.checkZstd("ZSTD_compressCCtx", written)
            frame.removeLast(bound - written)
        }

        stats.encodedMessages += 1
        stats.rawBytes += values.count * 4
        stats.sentBytes += frame.count
        stats.encodeSeconds += monotonicSeconds() - begin
        return frame
    }

    private func header(count: Int, capacity: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(capacity)
        bytes += Self.magic + [Self.formatVersion, encoding.code, compression.code, 0, 0, 0]
        withUnsafeBytes(of: UInt64(count).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    // MARK: Decoding

    /// Returns the number of values in `frame`, after checking its header.
    public static func valueCount(of frame: [UInt8]) throws -> Int {
        try FrameHeader(frame).count
    }

    public func decode(_ frame: [UInt8]) throws -> [Float] {
        let count = try Self.valueCount(of: frame)
        var values = [Float](repeating: 0, count: count)
        try values.withUnsafeMutableBufferPointer { try decode(frame, into: $0) }
        return values
    }

    /// Decodes `frame` into `output`, whose count must equal the frame's value count.
    public func decode(_ frame: [UInt8], into output: UnsafeMutableBufferPointer<Float>) throws {
        let begin = monotonicSeconds()
        let header = try FrameHeader(frame)
        guard header.count == output.count else {
            throw ActivationCodecError.countMismatch(frame: header.count, output: output.count)
        }
        let bodyBytes = header.count * header.encoding.bytesPerValue
        let body = frame.count - Self.headerSize

        switch header.compression {
        case .none:
            guard body == bodyBytes else {
                throw ActivationCodecError.invalidFrame(reason: "body has \(body) bytes, expected \(bodyBytes)")
            }
            frame.withUnsafeBytes { raw in
                Self.restore(UnsafeRawBufferPointer(rebasing: raw[Self.headerSize...]), encoding: header.encoding,
                             into: output)
            }
        case .zstd:
            let contentSize = frame.withUnsafeBytes { raw in
                ZSTD_getFrameContentSize(raw.baseAddress! + Self.headerSize, body)
            }
            guard contentSize == UInt64(bodyBytes) else {
                throw ActivationCodecError.invalidFrame(reason: "zstd content size \(contentSize) differs from the "
                    + "\(bodyBytes) bytes of \(header.count) values")
            }
            Self.ensureCapacity(&planes, bodyBytes)
            let produced = frame.withUnsafeBytes { source in
                planes.withUnsafeMutableBytes { target in
                    ZSTD_decompressDCtx(decompressionContext, target.baseAddress!, bodyBytes,
                                        source.baseAddress! + Self.headerSize, body)
                }
            }
            try Self.checkZstd("ZSTD_decompressDCtx", produced)
            guard produced == bodyBytes else {
                throw ActivationCodecError.invalidFrame(reason: "zstd produced \(produced) bytes, expected \(bodyBytes)")
            }
            planes.withUnsafeBytes { Self.unpackPlanes($0, encoding: header.encoding, into: output) }
        }

        stats.decodedMessages += 1
        stats.decodeSeconds += monotonicSeconds() - begin
    }

    private static func restore(_ source: UnsafeRawBufferPointer, encoding: ActivationEncoding,
                                into output: UnsafeMutableBufferPointer<Float>) {
        switch encoding {
        case .fp32:
            for index in 0..<output.count {
                output[index] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * index,
                                                                                             as: UInt32.self)))
            }
        case .bf16:
            for index in 0..<output.count {
                output[index] = floatFromBFloat16(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * index,
                                                                                             as: UInt16.self)))
            }
        case .fp16:
            for index in 0..<output.count {
                output[index] = floatFromFloat16(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * index,
                                                                                           as: UInt16.self)))
            }
        }
    }

    // MARK: Packing

    /// Returns the encoded bits of value `index` in the low bits of a UInt32.
    @inline(__always)
    private static func encodedBits(_ values: UnsafeBufferPointer<Float>, _ index: Int,
                                    _ encoding: ActivationEncoding) -> UInt32 {
        switch encoding {
        case .fp32: return values[index].bitPattern
        case .bf16: return UInt32(bfloat16Bits(values[index]))
        case .fp16: return UInt32(float16Bits(values[index]))
        }
    }

    /// Writes the encoded values one after another, little-endian.
    static func pack(_ values: UnsafeBufferPointer<Float>, encoding: ActivationEncoding,
                     into target: UnsafeMutableRawBufferPointer) {
        let width = encoding.bytesPerValue
        for index in 0..<values.count {
            let bits = encodedBits(values, index, encoding)
            if width == 4 {
                target.storeBytes(of: bits.littleEndian, toByteOffset: 4 * index, as: UInt32.self)
            } else {
                target.storeBytes(of: UInt16(truncatingIfNeeded: bits).littleEndian, toByteOffset: 2 * index,
                                  as: UInt16.self)
            }
        }
    }

    /// Writes the encoded values byte-shuffled: byte b (little-endian) of value i goes to b * count + i.
    static func packPlanes(_ values: UnsafeBufferPointer<Float>, encoding: ActivationEncoding,
                           into target: UnsafeMutableRawBufferPointer) {
        let count = values.count
        guard count > 0 else { return }
        let bytes = target.bindMemory(to: UInt8.self).baseAddress!
        if encoding.bytesPerValue == 4 {
            for index in 0..<count {
                let bits = encodedBits(values, index, encoding)
                bytes[index] = UInt8(truncatingIfNeeded: bits)
                bytes[count + index] = UInt8(truncatingIfNeeded: bits >> 8)
                bytes[2 * count + index] = UInt8(truncatingIfNeeded: bits >> 16)
                bytes[3 * count + index] = UInt8(truncatingIfNeeded: bits >> 24)
            }
        } else {
            for index in 0..<count {
                let bits = encodedBits(values, index, encoding)
                bytes[index] = UInt8(truncatingIfNeeded: bits)
                bytes[count + index] = UInt8(truncatingIfNeeded: bits >> 8)
            }
        }
    }

    /// Reverses `packPlanes`.
    static func unpackPlanes(_ source: UnsafeRawBufferPointer, encoding: ActivationEncoding,
                             into output: UnsafeMutableBufferPointer<Float>) {
        let count = output.count
        guard count > 0 else { return }
        let bytes = source.bindMemory(to: UInt8.self).baseAddress!
        switch encoding {
        case .fp32:
            for index in 0..<count {
                let bits = UInt32(bytes[index]) | UInt32(bytes[count + index]) << 8
                    | UInt32(bytes[2 * count + index]) << 16 | UInt32(bytes[3 * count + index]) << 24
                output[index] = Float(bitPattern: bits)
            }
        case .bf16:
            for index in 0..<count {
                output[index] = floatFromBFloat16(UInt16(bytes[index]) | UInt16(bytes[count + index]) << 8)
            }
        case .fp16:
            for index in 0..<count {
                output[index] = floatFromFloat16(UInt16(bytes[index]) | UInt16(bytes[count + index]) << 8)
            }
        }
    }

    // MARK: Helpers

    private static func ensureCapacity(_ buffer: inout [UInt8], _ count: Int) {
        // One spare byte keeps baseAddress non-nil for empty arrays of values.
        if buffer.count < count + 1 { buffer = [UInt8](repeating: 0, count: count + 1) }
    }

    private static func checkZstd(_ function: String, _ result: Int) throws {
        if ZSTD_isError(result) != 0 {
            throw ActivationCodecError.zstdFailed(function: function, message: String(cString: ZSTD_getErrorName(result)))
        }
    }
}

/// The checked header of an activation frame.
private struct FrameHeader {
    let encoding: ActivationEncoding
    let compression: ActivationCompression
    let count: Int

    init(_ frame: [UInt8]) throws {
        guard frame.count >= ActivationCodec.headerSize else {
            throw ActivationCodecError.invalidFrame(reason: "\(frame.count) bytes is shorter than the 16-byte header")
        }
        guard Array(frame[0..<2]) == ActivationCodec.magic else {
            throw ActivationCodecError.invalidFrame(reason: "missing the magic bytes 'KA'")
        }
        guard frame[2] == ActivationCodec.formatVersion else {
            throw ActivationCodecError.invalidFrame(reason: "format version \(frame[2]) is not supported")
        }
        guard let encoding = ActivationEncoding.allCases.first(where: { $0.code == frame[3] }) else {
            throw ActivationCodecError.invalidFrame(reason: "unknown encoding code \(frame[3])")
        }
        guard let compression = ActivationCompression.allCases.first(where: { $0.code == frame[4] }) else {
            throw ActivationCodecError.invalidFrame(reason: "unknown compression code \(frame[4])")
        }
        let count = frame[8..<16].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard count <= UInt64(Int32.max) / UInt64(encoding.bytesPerValue) else {
            throw ActivationCodecError.invalidFrame(reason: "value count \(count) exceeds the 2 GiB frame limit")
        }
        self.encoding = encoding
        self.compression = compression
        self.count = Int(count)
    }
}
