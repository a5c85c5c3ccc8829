import CZlib

/// Encodes 8-bit RGB pixels as a PNG file (ISO/IEC 15948): the signature, IHDR, one IDAT compressed
/// with zlib at level 9, and IEND. Every chunk carries zlib's CRC-32.
public enum PNGEncoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Returns the PNG bytes for `rgb`, which is row-major, top row first, three bytes per pixel.
    /// The same pixels always give the same bytes with the same zlib build.
    public static func encode(width: Int, height: Int, rgb: [UInt8]) throws -> [UInt8] {
        guard width > 0, height > 0 else {
            throw ReportError.invalidImageSize(width: width, height: height, reason: "both sides must be at least 1 pixel")
        }
        guard width <= RasterCanvas.maximumDimension, height <= RasterCanvas.maximumDimension else {
            throw ReportError.invalidImageSize(
                width: width, height: height,
                reason: "each side must be at most \(RasterCanvas.maximumDimension) pixels")
        }
        guard rgb.count == width * height * 3 else {
            throw ReportError.pixelCountMismatch(width: width, height: height, bytes: rgb.count)
        }

        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        // Bit depth 8, colour type 2 (truecolour), deflate, adaptive filtering, no interlace.
        header += [8, 2, 0, 0, 0]

        let compressed = try compress(filterScanlines(width: width, height: height, rgb: rgb))

        var output = signature
        appendChunk(type: "IHDR", data: header, to: &output)
        appendChunk(type: "IDAT", data: compressed, to: &output)
        appendChunk(type: "IEND", data: [], to: &output)
        return output
    }

    /// Prefixes every row with the filter that gives the smallest sum of absolute filtered bytes, the
    /// heuristic the PNG specification recommends for truecolour images. One pass per row computes all
    /// five filters.
    static func filterScanlines(width: Int, height: Int, rgb: [UInt8]) -> [UInt8] {
        let stride = width * 3
        let bytesPerPixel = 3
        var output = [UInt8](repeating: 0, count: height * (stride + 1))
        var candidates = [UInt8](repeating: 0, count: 5 * stride)
        let zeroRow = [UInt8](repeating: 0, count: stride)

        rgb.withUnsafeBufferPointer { pixelBuffer in
        zeroRow.withUnsafeBufferPointer { zeroBuffer in
        candidates.withUnsafeMutableBufferPointer { candidateBuffer in
        output.withUnsafeMutableBufferPointer { outputBuffer in
            let pixels = pixelBuffer.baseAddress!
            let filtered = candidateBuffer.baseAddress!
            for y in 0..<height {
                let row = pixels + y * stride
                let above = y == 0 ? zeroBuffer.baseAddress! : pixels + (y - 1) * stride
                var costNone = 0, costSub = 0, costUp = 0, costAverage = 0, costPaeth = 0
                for i in 0..<stride {
                    let x = Int(row[i])
                    let a = i >= bytesPerPixel ? Int(row[i - bytesPerPixel]) : 0
                    let b = Int(above[i])
                    let c = i >= bytesPerPixel ? Int(above[i - bytesPerPixel]) : 0
                    let none = UInt8(x)
                    let sub = UInt8(truncatingIfNeeded: x - a)
                    let up = UInt8(truncatingIfNeeded: x - b)
                    let average = UInt8(truncatingIfNeeded: x - ((a + b) >> 1))
                    let paeth = UInt8(truncatingIfNeeded: x - paethPredictor(a, b, c))
                    filtered[i] = none
                    filtered[stride + i] = sub
                    filtered[2 * stride + i] = up
                    filtered[3 * stride + i] = average
                    filtered[4 * stride + i] = paeth
                    costNone += signedMagnitude(none)
                    costSub += signedMagnitude(sub)
                    costUp += signedMagnitude(up)
                    costAverage += signedMagnitude(average)
                    costPaeth += signedMagnitude(paeth)
                }
                let costs = [costNone, costSub, costUp, costAverage, costPaeth]
                // The lowest cost wins, and the lower filter number breaks ties.
                var best = 0
                for filter in 1..<5 where costs[filter] < costs[best] {
                    best = filter
                }
                let destination = outputBuffer.baseAddress! + y * (stride + 1)
                destination[0] = UInt8(best)
                (destination + 1).update(from: filtered + best * stride, count: stride)
            }
        }
        }
        }
        }
        return output
    }

    /// Returns |byte| with the byte read as a signed value, so 255 costs 1 like -1.
    @inline(__always)
    static func signedMagnitude(_ byte: UInt8) -> Int {
        byte < 128 ? Int(byte) : 256 - Int(byte)
    }

    static func paethPredictor(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let estimate = a + b - c
        let distanceA = abs(estimate - a)
        let distanceB = abs(estimate - b)
        let distanceC = abs(estimate - c)
        if distanceA <= distanceB && distanceA <= distanceC { return a }
        if distanceB <= distanceC { return b }
        return c
    }

    static func compress(_ data: [UInt8]) throws -> [UInt8] {
        var capacity = compressBound(uLong(data.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let code = output.withUnsafeMutableBufferPointer { destination in
            data.withUnsafeBufferPointer { source in
                compress2(destination.baseAddress, &capacity, source.baseAddress, uLong(source.count), 9)
            }
        }
        guard code == Z_OK else {
            throw ReportError.compressionFailed(function: "compress2", code: code)
        }
        output.removeLast(output.count - Int(capacity))
        return output
    }

    /// Appends length, type, data and the CRC-32 of type and data, the layout of every PNG chunk.
    static func appendChunk(type: String, data: [UInt8], to output: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        output.appendBigEndian(UInt32(data.count))
        output += typeBytes
        output += data
        var crc = typeBytes.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        crc = data.withUnsafeBufferPointer { crc32(crc, $0.baseAddress, uInt($0.count)) }
        output.appendBigEndian(UInt32(truncatingIfNeeded: crc))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8((value >> 16) & 0xFF))
        append(UInt8((value >> 8) & 0xFF))
        append(UInt8(value & 0xFF))
    }
}
