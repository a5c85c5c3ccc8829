import XCTest
@testable import Report

final class ColormapTests: XCTestCase {
    func testEndpointsAndMiddle() {
        let map = Colormap.redYellowGreen
        XCTAssertEqual(map.color(at: 0), RGB(hex: 0xF0496E))
        XCTAssertEqual(map.color(at: 0.5), RGB(hex: 0xEBB839))
        XCTAssertEqual(map.color(at: 1), RGB(hex: 0x0CD79F))
    }

    func testOutOfRangeClamps() {
        let map = Colormap.redYellowGreen
        XCTAssertEqual(map.color(at: -3), map.color(at: 0))
        XCTAssertEqual(map.color(at: 7), map.color(at: 1))
    }

    func testQuarterMixesRedAndYellow() {
        // Halfway from F0496E to EBB839, each channel rounded half up.
        XCTAssertEqual(Colormap.redYellowGreen.color(at: 0.25), RGB(238, 129, 84))
    }

    func testHexString() {
        XCTAssertEqual(RGB(hex: 0x0CD79F).hexString, "#0cd79f")
        XCTAssertEqual(RGB(0, 0, 0).hexString, "#000000")
    }
}

final class BitmapFontTests: XCTestCase {
    func testSheetHasAllPrintableASCII() {
        XCTAssertEqual(BitmapFont.glyphs.count, 96)
        XCTAssertTrue(BitmapFont.glyphs.allSatisfy { $0.count == BitmapFont.rowCount })
        XCTAssertEqual(BitmapFont.rows(for: " "), [UInt8](repeating: 0, count: 9))
    }

    func testVisibleGlyphsAreDistinct() {
        var seen: [[UInt8]: Character] = [:]
        for code in 33...126 {
            let character = Character(Unicode.Scalar(UInt8(code)))
            let rows = BitmapFont.rows(for: character)
            XCTAssertTrue(rows.contains { $0 != 0 }, "glyph \(character) is empty")
            XCTAssertNil(seen[rows], "glyph \(character) equals glyph \(seen[rows].map(String.init) ?? "")")
            seen[rows] = character
        }
    }

    func testDescendersOnlyBelowBaseline() {
        for character in "gjpqy" {
            XCTAssertNotEqual(BitmapFont.rows(for: character)[8], 0, "\(character) lacks a descender")
        }
        for character in "ABCxyz0123".filter({ !"gjpqy".contains($0) }) {
            XCTAssertEqual(BitmapFont.rows(for: character)[8], 0, "\(character) reaches the last row")
        }
    }

    func testLetterAShape() {
        XCTAssertEqual(BitmapFont.rows(for: "A"), [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001, 0, 0])
    }

    func testWidthScales() {
        XCTAssertEqual(BitmapFont.width(of: "", scale: 2), 0)
        XCTAssertEqual(BitmapFont.width(of: "A", scale: 1), 5)
        XCTAssertEqual(BitmapFont.width(of: "0.85", scale: 2), 46)
    }

    func testDisplayTextTransliterates() {
        XCTAssertEqual(BitmapFont.displayText("plain"), "plain")
        XCTAssertEqual(BitmapFont.displayText("a\u{2014}b \u{201C}q\u{201D} 3\u{00D7}4\u{2026}"), "a-b \"q\" 3x4...")
        XCTAssertEqual(BitmapFont.displayText("caf\u{00E9}"), "cafe")
        XCTAssertEqual(BitmapFont.rows(for: Character(BitmapFont.displayText("\u{2713}"))),
                       BitmapFont.glyphs[BitmapFont.fallbackIndex])
    }

    func testNonASCIIWidthMatchesDrawnText() {
        XCTAssertEqual(BitmapFont.width(of: "x\u{2026}", scale: 1), BitmapFont.width(of: "x...", scale: 1))
    }
}

final class RasterCanvasTests: XCTestCase {
    private let ink = RGB(10, 20, 30)

    /// Returns the set pixels of a canvas as (x, y) pairs.
    private func inkedPixels(_ canvas: RasterCanvas) -> Set<[Int]> {
        var result = Set<[Int]>()
        for y in 0..<canvas.height {
            for x in 0..<canvas.width where canvas.pixel(x: x, y: y) == ink {
                result.insert([x, y])
            }
        }
        return result
    }

    func testTextDrawsGlyphPixels() throws {
        var canvas = try RasterCanvas(width: 20, height: 20, background: .white)
        canvas.draw(TextItem(text: "A", position: Point(x: 2, y: 3), size: 1, color: ink, anchor: .start, alignment: .top))
        let rows = BitmapFont.rows(for: "A")

        for row in 0..<9 {
            for column in 0..<5 {
                let expected = rows[row] & (0x10 >> UInt8(column)) != 0
                XCTAssertEqual(canvas.pixel(x: 2 + column, y: 3 + row) == ink, expected, "pixel (\(column), \(row))")
            }
        }
    }

    func testScaledTextUsesBlocks() throws {
        var canvas = try RasterCanvas(width: 30, height: 30, background: .white)
        canvas.draw(TextItem(text: "I", position: Point(x: 0, y: 0), size: 3, color: ink, anchor: .start, alignment: .top))

        // "I" has 11 pixels, three of them in its top row, so the top 3x3 blocks cover columns 3 to 11.
        XCTAssertEqual(canvas.pixel(x: 3, y: 0), ink)
        XCTAssertEqual(canvas.pixel(x: 11, y: 2), ink)
        XCTAssertEqual(canvas.pixel(x: 2, y: 0), .white)
        XCTAssertEqual(inkedPixels(canvas).count, 11 * 9)
    }

    func testRotatedTextIsQuarterTurn() throws {
        var flat = try RasterCanvas(width: 40, height: 40, background: .white)
        flat.draw(TextItem(text: "Fg", position: Point(x: 0, y: 0), size: 1, color: ink, anchor: .start, alignment: .top))
        var turned = try RasterCanvas(width: 40, height: 40, background: .white)
        turned.draw(TextItem(text: "Fg", position: Point(x: 5, y: 30), size: 1, color: ink, anchor: .start,
                             alignment: .top, rotated: true))

        // Turning a quarter counterclockwise maps text pixel (x, y) to (5 + y, 30 - 1 - x).
        let expected = Set(inkedPixels(flat).map { [5 + $0[1], 29 - $0[0]] })
        XCTAssertEqual(inkedPixels(turned), expected)
        XCTAssertFalse(expected.isEmpty)
    }

    func testAnchorsPlaceText() throws {
        var canvas = try RasterCanvas(width: 60, height: 20, background: .white)
        canvas.draw(TextItem(text: "HH", position: Point(x: 30, y: 10), size: 1, color: ink, anchor: .middle, alignment: .middle))
        let xs = inkedPixels(canvas).map { $0[0] }
        let ys = inkedPixels(canvas).map { $0[1] }

        // "HH" is 11 pixels wide and 7 high, so its box starts half of each before the anchor.
        XCTAssertEqual(xs.min(), 25)
        XCTAssertEqual(xs.max(), 35)
        XCTAssertEqual(ys.min(), 7)
        XCTAssertEqual(ys.max(), 13)
    }

    func testFillRectCoversPixelCentres() throws {
        var canvas = try RasterCanvas(width: 10, height: 10, background: .white)
        canvas.fill(Rect(x: 2, y: 3, width: 4, height: 2), color: ink)

        XCTAssertEqual(inkedPixels(canvas), Set([[2, 3], [3, 3], [4, 3], [5, 3], [2, 4], [3, 4], [4, 4], [5, 4]]))
    }

    func testThickLineCoversItsWidth() throws {
        var canvas = try RasterCanvas(width: 20, height: 20, background: .white)
        canvas.stroke([Point(x: 2, y: 10), Point(x: 18, y: 10)], lineWidth: 4, color: ink, dash: [])

        for y in 8...11 {
            XCTAssertEqual(canvas.pixel(x: 10, y: y), ink, "row \(y)")
        }
        XCTAssertEqual(canvas.pixel(x: 10, y: 6), .white)
        XCTAssertEqual(canvas.pixel(x: 10, y: 13), .white)
    }

    func testDiagonalLineIsAntialiased() throws {
        var canvas = try RasterCanvas(width: 20, height: 20, background: .white)
        canvas.stroke([Point(x: 2, y: 2), Point(x: 18, y: 12)], lineWidth: 1.5, color: ink, dash: [])
        var partial = 0
        for y in 0..<20 {
            for x in 0..<20 {
                let pixel = canvas.pixel(x: x, y: y)
                if pixel != ink && pixel != .white { partial += 1 }
            }
        }
        XCTAssertGreaterThan(partial, 10)
    }

    func testDashedLineHasGaps() throws {
        var canvas = try RasterCanvas(width: 60, height: 5, background: .white)
        canvas.stroke([Point(x: 0, y: 2.5), Point(x: 60, y: 2.5)], lineWidth: 1, color: ink, dash: [6, 4])
        let row = (0..<60).map { canvas.pixel(x: $0, y: 2) == ink }

        XCTAssertTrue(row[2])
        XCTAssertFalse(row[8])
        XCTAssertTrue(row[12])
        XCTAssertFalse(row[18])
    }

    func testDrawingOutsideCanvasIsClipped() throws {
        var canvas = try RasterCanvas(width: 8, height: 8, background: .white)
        canvas.fill(Rect(x: -20, y: -20, width: 100, height: 100), color: ink)
        canvas.stroke([Point(x: -50, y: -50), Point(x: 50, y: 50)], lineWidth: 3, color: .black, dash: [])
        canvas.draw(TextItem(text: "WWW", position: Point(x: -5, y: 6), size: 2, color: .black))
        canvas.fillCircle(center: Point(x: 9, y: 9), radius: 3, color: .black)

        XCTAssertEqual(canvas.pixels.count, 8 * 8 * 3)
    }

    func testPolygonMarkerFillsCentre() throws {
        for shape in MarkerShape.allCases {
            var canvas = try RasterCanvas(width: 21, height: 21, background: .white)
            if let vertices = shape.vertices(center: Point(x: 10.5, y: 10.5), size: 11) {
                canvas.fillPolygon(vertices, color: ink)
            } else {
                canvas.fillCircle(center: Point(x: 10.5, y: 10.5), radius: 5.5, color: ink)
            }
            XCTAssertEqual(canvas.pixel(x: 10, y: 10), ink, "\(shape)")
            XCTAssertEqual(canvas.pixel(x: 0, y: 0), .white, "\(shape)")
        }
    }

    func testOversizedCanvasThrows() {
        XCTAssertThrowsError(try RasterCanvas(width: 10_000, height: 10_000, background: .white)) { error in
            guard case .invalidImageSize(let width, let height, _) = error as? ReportError else {
                return XCTFail("expected invalidImageSize, got \(error)")
            }
            XCTAssertEqual(width, 10_000)
            XCTAssertEqual(height, 10_000)
        }
    }
}
