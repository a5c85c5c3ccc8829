import XCTest
@testable import Report

final class HeatmapTests: XCTestCase {
    private let red = Colormap.redYellowGreen.color(at: 0)
    private let green = Colormap.redYellowGreen.color(at: 1)

    /// A dense grid like a long needle sweep: 21 depths by 60 lengths.
    private var denseData: HeatmapData {
        var values: [[Double?]] = []
        for row in 0..<21 {
            var line: [Double?] = []
            for column in 0..<60 {
                line.append(Double((row * 7 + column * 3) % 11) / 10)
            }
            values.append(line)
        }
        return HeatmapData(title: "Dense grid", rowLabels: (0...20).map { String($0 * 5) },
                           columnLabels: (0..<60).map { String(1000 + $0 * 2000) }, values: values)
    }

    func testPNGDimensionsMatchLayout() throws {
        let scene = try Heatmap.scene(SampleCharts.heatmap)
        let decoded = try PNGTestDecoder.decode(try Heatmap.png(SampleCharts.heatmap))

        XCTAssertEqual(decoded.width, scene.width)
        XCTAssertEqual(decoded.height, scene.height)
        XCTAssertGreaterThan(decoded.width, 400)
        XCTAssertGreaterThan(decoded.height, 300)
    }

    func testCellColoursFollowValues() throws {
        let scene = try Heatmap.scene(SampleCharts.heatmap)
        let decoded = try PNGTestDecoder.decode(try Heatmap.png(SampleCharts.heatmap))
        // The sample has one 0 at (row 2, column 3) and a 1 at (row 0, column 0), drawn first.
        let redCells = SceneChecks.filledRects(in: scene, color: red)
        let greenCells = SceneChecks.filledRects(in: scene, color: green)
        XCTAssertEqual(redCells.count, 1)
        XCTAssertGreaterThanOrEqual(greenCells.count, 1)
        let redCell = try XCTUnwrap(redCells.first)
        let greenCell = try XCTUnwrap(greenCells.first)

        // Sample a few pixels inside each cell, away from the grid line and the centred value text.
        XCTAssertEqual(decoded.rgb(atX: Int(redCell.x) + 3, y: Int(redCell.y) + 3), red)
        XCTAssertEqual(decoded.rgb(atX: Int(redCell.maxX) - 3, y: Int(redCell.maxY) - 3), red)
        XCTAssertEqual(decoded.rgb(atX: Int(greenCell.x) + 3, y: Int(greenCell.y) + 3), green)
        XCTAssertEqual(red, RGB(hex: 0xF0496E))
        XCTAssertEqual(green, RGB(hex: 0x0CD79F))
        XCTAssertGreaterThan(redCell.x, greenCell.x)
        XCTAssertGreaterThan(redCell.y, greenCell.y)
    }

    func testMissingCellIsHatchedGrey() throws {
        let scene = try Heatmap.scene(SampleCharts.heatmap)
        let decoded = try PNGTestDecoder.decode(try Heatmap.png(SampleCharts.heatmap))
        let hatched = scene.elements.compactMap { element -> Rect? in
            if case .hatchedRect(let rect, _, _) = element { return rect }
            return nil
        }
        XCTAssertEqual(hatched.count, 1)
        let cell = try XCTUnwrap(hatched.first)

        var colors = Set<RGB>()
        for y in (Int(cell.y) + 2)..<(Int(cell.maxY) - 1) {
            for x in (Int(cell.x) + 2)..<(Int(cell.maxX) - 1) {
                colors.insert(decoded.rgb(atX: x, y: y))
            }
        }
        XCTAssertEqual(colors, [Heatmap.missingBackground, Heatmap.missingStripe])
    }

    func testTitleAreaHasDarkText() throws {
        let decoded = try PNGTestDecoder.decode(try Heatmap.png(SampleCharts.heatmap))
        // The title's cap line is at the top margin and its capitals are 21 pixels high at scale 3.
        let top = ChartLayout.margin
        let titlePixels = decoded.darkPixelCount(x0: 0, y0: top, x1: decoded.width, y1: top + 27)
        let marginPixels = decoded.darkPixelCount(x0: 0, y0: 0, x1: decoded.width, y1: top)

        XCTAssertGreaterThan(titlePixels, 500)
        XCTAssertEqual(marginPixels, 0)
    }

    func testColorbarRunsRedToGreen() throws {
        let scene = try Heatmap.scene(SampleCharts.heatmap)
        let decoded = try PNGTestDecoder.decode(try Heatmap.png(SampleCharts.heatmap))
        let bar = try XCTUnwrap(scene.elements.compactMap { element -> Rect? in
            if case .verticalGradient(let rect, _) = element { return rect }
            return nil
        }.first)
        let x = Int(bar.x + bar.width / 2)

        XCTAssertEqual(decoded.rgb(atX: x, y: Int(bar.maxY) - 2), Colormap.redYellowGreen.color(at: 1.5 / bar.height))
        XCTAssertEqual(decoded.rgb(atX: x, y: Int(bar.y) + 1), Colormap.redYellowGreen.color(at: 1 - 1.5 / bar.height))
    }

    func testSVGIsWellFormedWithLabels() throws {
        let svg = try Heatmap.svg(SampleCharts.heatmap)
        let summary = try SVGSummary.parse(svg)
        let data = SampleCharts.heatmap

        XCTAssertEqual(summary.title, data.title)
        XCTAssertTrue(summary.texts.contains(data.title))
        for label in data.rowLabels + data.columnLabels {
            XCTAssertTrue(summary.texts.contains(label), "missing label \(label)")
        }
        XCTAssertTrue(summary.texts.contains("Context length (tokens)"))
        XCTAssertTrue(summary.texts.contains("Depth percent"))
        XCTAssertTrue(summary.texts.contains("Score"))
        XCTAssertTrue(summary.texts.contains("0.85"))
        XCTAssertEqual(summary.elementCounts["linearGradient"], 1)
        XCTAssertEqual(summary.elementCounts["pattern"], 1)
    }

    func testSVGSizeMatchesPNG() throws {
        let summary = try SVGSummary.parse(try Heatmap.svg(SampleCharts.heatmap))
        let decoded = try PNGTestDecoder.decode(try Heatmap.png(SampleCharts.heatmap))

        XCTAssertEqual(summary.rootAttributes["width"], String(decoded.width))
        XCTAssertEqual(summary.rootAttributes["height"], String(decoded.height))
    }

    func testSVGEscapesMarkupInLabels() throws {
        var data = SampleCharts.heatmap
        data.title = "A <b> & \"C\" 'D' \u{7} end"
        data.rowLabels[0] = "<0>"
        let summary = try SVGSummary.parse(try Heatmap.svg(data))

        XCTAssertEqual(summary.title, "A <b> & \"C\" 'D' \u{FFFD} end")
        XCTAssertTrue(summary.texts.contains("<0>"))
    }

    func testRendersAreDeterministic() throws {
        XCTAssertEqual(try Heatmap.png(SampleCharts.heatmap), try Heatmap.png(SampleCharts.heatmap))
        XCTAssertEqual(try Heatmap.svg(SampleCharts.heatmap), try Heatmap.svg(SampleCharts.heatmap))
        XCTAssertEqual(try Heatmap.png(denseData), try Heatmap.png(denseData))
    }

    func testTextDoesNotOverlap() throws {
        var longTitle = SampleCharts.heatmap
        longTitle.title = String(repeating: "A long title for one cell ", count: 4)
        longTitle.rowLabels = ["50"]
        longTitle.columnLabels = ["4000"]
        longTitle.values = [[0.5]]
        longTitle.separatorAfterColumn = nil

        for data in [SampleCharts.heatmap, denseData, longTitle] {
            let problems = SceneChecks.layoutProblems(in: try Heatmap.scene(data))
            XCTAssertEqual(problems, [], "layout of \"\(data.title)\"")
        }
    }

    func testDenseGridTurnsLabelsAndDropsValues() throws {
        let scene = try Heatmap.scene(denseData)
        let texts = SceneChecks.texts(in: scene)

        XCTAssertTrue(texts.filter { $0.text == "119000" }.allSatisfy(\.rotated))
        XCTAssertFalse(texts.contains { $0.text == "0.50" })
        XCTAssertLessThanOrEqual(scene.width, 2000)
    }

    func testValuesOutsideUnitRangeClampColours() throws {
        var data = SampleCharts.heatmap
        data.values[0][0] = 1.5
        data.values[0][1] = -0.25
        let scene = try Heatmap.scene(data)
        let texts = SceneChecks.texts(in: scene).map(\.text)

        XCTAssertTrue(texts.contains("1.50"))
        XCTAssertTrue(texts.contains("-0.25"))
        XCTAssertEqual(SceneChecks.filledRects(in: scene, color: red).count, 2)
    }

    func testEmptyValuesThrow() {
        let data = HeatmapData(title: "t", rowLabels: [], columnLabels: ["1000"], values: [])
        XCTAssertThrowsError(try Heatmap.png(data)) { error in
            XCTAssertEqual(error as? ReportError,
                           .emptyData(chart: "heatmap", detail: "values has no rows, so pass one row per needle depth"))
        }
        XCTAssertThrowsError(try Heatmap.svg(data))
    }

    func testNoColumnsThrows() {
        let data = HeatmapData(title: "t", rowLabels: ["0"], columnLabels: [], values: [[]])
        XCTAssertThrowsError(try Heatmap.png(data)) { error in
            XCTAssertTrue("\(error)".contains("there are no column labels"))
        }
    }

    func testRaggedRowThrows() {
        var data = SampleCharts.heatmap
        data.values[1] = [1.0, 0.5, 0.25]
        XCTAssertThrowsError(try Heatmap.png(data)) { error in
            XCTAssertEqual(error as? ReportError, .raggedRow(row: 1, count: 3, expected: 4))
            XCTAssertTrue("\(error)".contains("row 1 has 3 values"))
        }
    }

    func testRowLabelCountMismatchThrows() {
        var data = SampleCharts.heatmap
        data.rowLabels.removeLast()
        XCTAssertThrowsError(try Heatmap.svg(data)) { error in
            XCTAssertEqual(error as? ReportError, .labelCountMismatch(axis: "row", labels: 4, expected: 5))
        }
    }

    func testNonFiniteValueThrows() {
        var data = SampleCharts.heatmap
        data.values[3][2] = .nan
        XCTAssertThrowsError(try Heatmap.png(data)) { error in
            guard case .nonFiniteValue(let location, _) = error as? ReportError else {
                return XCTFail("expected nonFiniteValue, got \(error)")
            }
            XCTAssertEqual(location, "heatmap cell (row 3, column 2)")
        }
    }

    func testSeparatorOutOfRangeThrows() {
        var data = SampleCharts.heatmap
        data.separatorAfterColumn = 4
        XCTAssertThrowsError(try Heatmap.png(data)) { error in
            guard case .invalidValue(let location, let value, _) = error as? ReportError else {
                return XCTFail("expected invalidValue, got \(error)")
            }
            XCTAssertEqual(location, "separatorAfterColumn")
            XCTAssertEqual(value, 4)
        }
    }

    func testHugeTitleThrowsBeforeAllocating() {
        var data = SampleCharts.heatmap
        data.title = String(repeating: "x", count: 5000)
        XCTAssertThrowsError(try Heatmap.png(data)) { error in
            guard case .invalidImageSize = error as? ReportError else {
                return XCTFail("expected invalidImageSize, got \(error)")
            }
        }
    }

    func testWriteCreatesBothFiles() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("report-heatmap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Heatmap.write(SampleCharts.heatmap, pngPath: directory + "/img/heatmap.png", svgPath: directory + "/img/heatmap.svg")

        let png = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/img/heatmap.png")))
        XCTAssertEqual(png, try Heatmap.png(SampleCharts.heatmap))
        XCTAssertEqual(try String(contentsOfFile: directory + "/img/heatmap.svg", encoding: .utf8),
                       try Heatmap.svg(SampleCharts.heatmap))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory + "/img").sorted(),
                       ["heatmap.png", "heatmap.svg"])
    }

    func testWriteWithBadDataLeavesNoFiles() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("report-heatmap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var data = SampleCharts.heatmap
        data.values[0] = []

        XCTAssertThrowsError(try Heatmap.write(data, pngPath: directory + "/a.png", svgPath: directory + "/a.svg"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory))
    }
}
