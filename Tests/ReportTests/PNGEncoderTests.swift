import XCTest
@testable import Report

final class PNGEncoderTests: XCTestCase {
    /// Returns pixels whose bytes vary in every direction, so rows pick different filters.
    private func patternPixels(width: Int, height: Int) -> [UInt8] {
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                pixels.append(UInt8((x * 37 + y * 11) & 0xFF))
                pixels.append(UInt8((x * x + y * 5) & 0xFF))
                pixels.append(UInt8(((x ^ y) * 29) & 0xFF))
            }
        }
        return pixels
    }

    func testRoundTripRestoresPixels() throws {
        let pixels = patternPixels(width: 13, height: 9)
        let png = try PNGEncoder.encode(width: 13, height: 9, rgb: pixels)
        let decoded = try PNGTestDecoder.decode(png)

        XCTAssertEqual(decoded.width, 13)
        XCTAssertEqual(decoded.height, 9)
        XCTAssertEqual(decoded.rgb, pixels)
    }

    func testRoundTripFlatAndSinglePixelImages() throws {
        let flat = [UInt8](repeating: 200, count: 40 * 3 * 3)
        XCTAssertEqual(try PNGTestDecoder.decode(try PNGEncoder.encode(width: 40, height: 3, rgb: flat)).rgb, flat)

        let single: [UInt8] = [12, 34, 56]
        XCTAssertEqual(try PNGTestDecoder.decode(try PNGEncoder.encode(width: 1, height: 1, rgb: single)).rgb, single)
    }

    func testChunkLayout() throws {
        let png = try PNGEncoder.encode(width: 4, height: 2, rgb: [UInt8](repeating: 7, count: 24))
        let decoded = try PNGTestDecoder.decode(png)

        XCTAssertEqual(Array(png[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertEqual(decoded.chunkTypes, ["IHDR", "IDAT", "IEND"])
        // Every PNG ends with the same IEND chunk: length 0, "IEND" and the CRC-32 ae426082.
        XCTAssertEqual(Array(png.suffix(12)), [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82])
    }

    func testEveryFilterRoundTrips() throws {
        // Rows chosen so the heuristic picks each filter at least once: flat rows favour Up or Sub,
        // ramps favour Sub, and 2-D patterns favour Paeth or Average.
        let width = 24
        let height = 12
        var pixels: [UInt8] = []
        for y in 0..<height {
            for x in 0..<width {
                let value: Int
                switch y % 4 {
                case 0: value = x * 10
                case 1: value = 128
                case 2: value = (x * y * 7) ^ (x << 2)
                default: value = x * 10 + y
                }
                pixels += [UInt8(value & 0xFF), UInt8((value * 3) & 0xFF), UInt8((255 - value) & 0xFF)]
            }
        }
        let filtered = PNGEncoder.filterScanlines(width: width, height: height, rgb: pixels)
        let filters = Set((0..<height).map { filtered[$0 * (width * 3 + 1)] })

        XCTAssertGreaterThanOrEqual(filters.count, 2)
        XCTAssertEqual(try PNGTestDecoder.decode(try PNGEncoder.encode(width: width, height: height, rgb: pixels)).rgb, pixels)
    }

    func testPaethPredictorPicksNearest() {
        XCTAssertEqual(PNGEncoder.paethPredictor(10, 20, 10), 20)
        XCTAssertEqual(PNGEncoder.paethPredictor(20, 10, 10), 20)
        XCTAssertEqual(PNGEncoder.paethPredictor(5, 5, 5), 5)
        XCTAssertEqual(PNGEncoder.paethPredictor(100, 50, 200), 50)
    }

    func testEncodeIsDeterministic() throws {
        let pixels = patternPixels(width: 31, height: 17)
        XCTAssertEqual(try PNGEncoder.encode(width: 31, height: 17, rgb: pixels),
                       try PNGEncoder.encode(width: 31, height: 17, rgb: pixels))
    }

    func testZeroSizeThrows() {
        XCTAssertThrowsError(try PNGEncoder.encode(width: 0, height: 5, rgb: [])) { error in
            XCTAssertEqual(error as? ReportError,
                           .invalidImageSize(width: 0, height: 5, reason: "both sides must be at least 1 pixel"))
        }
    }

    func testOversizedImageThrows() {
        XCTAssertThrowsError(try PNGEncoder.encode(width: RasterCanvas.maximumDimension + 1, height: 1, rgb: [])) { error in
            guard case .invalidImageSize = error as? ReportError else {
                return XCTFail("expected invalidImageSize, got \(error)")
            }
        }
    }

    func testPixelCountMismatchThrows() {
        XCTAssertThrowsError(try PNGEncoder.encode(width: 2, height: 2, rgb: [1, 2, 3])) { error in
            XCTAssertEqual(error as? ReportError, .pixelCountMismatch(width: 2, height: 2, bytes: 3))
            XCTAssertTrue("\(error)".contains("needs 12"))
        }
    }
}
