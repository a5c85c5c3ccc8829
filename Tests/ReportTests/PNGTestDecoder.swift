import CZlib
import XCTest

/// A decoded 8-bit RGB PNG, read by a strict decoder that checks what the encoder promises.
struct DecodedPNG {
    var width: Int
    var height: Int
    /// Chunk types in file order.
    var chunkTypes: [String]
    var rgb: [UInt8]

    func pixel(_ x: Int, _ y: Int) -> [UInt8] {
        let offset = (y * width + x) * 3
        return Array(rgb[offset..<(offset + 3)])
    }
}

enum PNGTestDecoderError: Error, Equatable {
    case badSignature
    case truncated(offset: Int)
    case badCRC(chunk: String)
    case unsupportedHeader([UInt8])
    case inflateFailed(code: Int32)
    case badFilter(row: Int, filter: UInt8)
    case sizeMismatch(expected: Int, actual: Int)
}

/// Decodes truecolour, 8-bit, non-interlaced PNGs: checks the signature and every chunk CRC with zlib's
/// `crc32`, inflates the IDAT data with zlib's `uncompress` and undoes the five scanline filters.
enum PNGTestDecoder {
    static func decode(_ bytes: [UInt8]) throws -> DecodedPNG {
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else { throw PNGTestDecoderError.badSignature }

        var offset = 8
        var types: [String] = []
        var header: [UInt8] = []
        var compressed: [UInt8] = []
        while offset < bytes.count {
            guard offset + 12 <= bytes.count else { throw PNGTestDecoderError.truncated(offset: offset) }
            let length = Int(readUInt32(bytes, offset))
            guard offset + 12 + length <= bytes.count else { throw PNGTestDecoderError.truncated(offset: offset) }
            let typeBytes = Array(bytes[(offset + 4)..<(offset + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            let body = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            let storedCRC = readUInt32(bytes, offset + 8 + length)
            let computed = (typeBytes + body).withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
            guard UInt32(computed) == storedCRC else { throw PNGTestDecoderError.badCRC(chunk: type) }
            types.append(type)
            if type == "IHDR" { header = body }
            if type == "IDAT" { compressed += body }
            offset += 12 + length
        }

        guard header.count == 13 else { throw PNGTestDecoderError.unsupportedHeader(header) }
        let width = Int(readUInt32(header, 0))
        let height = Int(readUInt32(header, 4))
        guard Array(header[8..<13]) == [8, 2, 0, 0, 0] else { throw PNGTestDecoderError.unsupportedHeader(header) }

        let stride = width * 3
        let expected = height * (stride + 1)
        var filtered = [UInt8](repeating: 0, count: expected)
        var size = uLongf(expected)
        let code = filtered.withUnsafeMutableBufferPointer { destination in
            compressed.withUnsafeBufferPointer { source in
                uncompress(destination.baseAddress, &size, source.baseAddress, uLong(source.count))
            }
        }
        guard code == Z_OK else { throw PNGTestDecoderError.inflateFailed(code: code) }
        guard Int(size) == expected else { throw PNGTestDecoderError.sizeMismatch(expected: expected, actual: Int(size)) }

        var rgb = [UInt8](repeating: 0, count: height * stride)
        for y in 0..<height {
            let filter = filtered[y * (stride + 1)]
            for i in 0..<stride {
                let raw = Int(filtered[y * (stride + 1) + 1 + i])
                let a = i >= 3 ? Int(rgb[y * stride + i - 3]) : 0
                let b = y > 0 ? Int(rgb[(y - 1) * stride + i]) : 0
                let c = (i >= 3 && y > 0) ? Int(rgb[(y - 1) * stride + i - 3]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = b
                case 3: predictor = (a + b) / 2
                case 4:
                    let p = a + b - c
                    let pa = abs(p - a), pb = abs(p - b), pc = abs(p - c)
                    predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
                default:
                    throw PNGTestDecoderError.badFilter(row: y, filter: filter)
                }
                rgb[y * stride + i] = UInt8((raw + predictor) & 0xFF)
            }
        }
        return DecodedPNG(width: width, height: height, chunkTypes: types, rgb: rgb)
    }

    private static func readUInt32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }
}
