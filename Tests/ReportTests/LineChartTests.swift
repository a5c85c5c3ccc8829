import XCTest
@testable import Report

final class LineChartTests: XCTestCase {
    private func markers(in scene: Scene) -> [(shape: MarkerShape, center: Point, fill: RGB)] {
        scene.elements.compactMap { element in
            if case .marker(let shape, let center, _, let fill) = element { return (shape, center, fill) }
            return nil
        }
    }

    private func strokes(in scene: Scene) -> [(points: [Point], color: RGB, dash: [Double])] {
        scene.elements.compactMap { element in
            if case .stroke(let points, _, let color, let dash) = element { return (points, color, dash) }
            return nil
        }
    }

    func testPNGDimensionsMatchLayout() throws {
        let scene = try LineChart.scene(SampleCharts.sweep)
        let decoded = try PNGTestDecoder.decode(try LineChart.png(SampleCharts.sweep))

        XCTAssertEqual(decoded.width, scene.width)
        XCTAssertEqual(decoded.height, scene.height)
    }

    func testMarkersHaveSeriesColours() throws {
        let scene = try LineChart.scene(SampleCharts.sweep)
        let decoded = try PNGTestDecoder.decode(try LineChart.png(SampleCharts.sweep))
        let plotted = markers(in: scene)

        // Seven points for each of four series, plus one legend marker per series.
        XCTAssertEqual(plotted.count, 4 * 7 + 4)
        for marker in plotted {
            let pixel = decoded.rgb(atX: Int(marker.center.x), y: Int(marker.center.y))
            XCTAssertTrue(LineChart.palette.prefix(4).contains(pixel), "marker at \(marker.center) shows \(pixel)")
        }
        let snapKV = plotted.filter { $0.fill == LineChart.palette[0] }
        XCTAssertTrue(snapKV.allSatisfy { $0.shape == .circle })
        let pyramidKV = plotted.filter { $0.fill == LineChart.palette[1] }
        XCTAssertTrue(pyramidKV.allSatisfy { $0.shape == .square })
    }

    func testHigherScoreIsHigherOnImage() throws {
        let scene = try LineChart.scene(SampleCharts.sweep)
        let snapKV = markers(in: scene).filter { $0.fill == LineChart.palette[0] }.prefix(7)
        let ys = snapKV.map(\.center.y)
        let xs = snapKV.map(\.center.x)

        // SnapKV's scores rise with the budget, so its markers go right and up.
        XCTAssertEqual(xs, xs.sorted())
        XCTAssertEqual(ys, ys.sorted(by: >))
    }

    func testBudgetsAreEvenlySpacedOnLogScale() throws {
        let scene = try LineChart.scene(SampleCharts.sweep)
        let xs = markers(in: scene).filter { $0.fill == LineChart.palette[0] }.prefix(7).map(\.center.x)
        let gaps = zip(xs.dropFirst(), xs).map { $0 - $1 }

        for gap in gaps {
            XCTAssertEqual(gap, gaps[0], accuracy: 1e-9)
        }
    }

    func testFullKVLineIsDashed() throws {
        let scene = try LineChart.scene(SampleCharts.sweep)
        let decoded = try PNGTestDecoder.decode(try LineChart.png(SampleCharts.sweep))
        let reference = try XCTUnwrap(strokes(in: scene).first { !$0.dash.isEmpty })
        let y = Int(reference.points[0].y)
        let x0 = Int(reference.points[0].x) + 2
        let x1 = Int(reference.points[1].x) - 2

        var dark = 0
        var light = 0
        for x in x0..<x1 {
            let pixel = decoded.rgb(atX: x, y: y)
            if pixel.red < 80 && pixel.green < 80 && pixel.blue < 80 { dark += 1 }
            if pixel.red > 200 && pixel.green > 200 && pixel.blue > 200 { light += 1 }
        }
        XCTAssertGreaterThan(dark, (x1 - x0) / 3)
        XCTAssertGreaterThan(light, (x1 - x0) / 8)
        XCTAssertEqual(reference.color, LineChart.referencePalette[0])
    }

    func testTitleAreaHasDarkText() throws {
        let decoded = try PNGTestDecoder.decode(try LineChart.png(SampleCharts.sweep))
        let top = ChartLayout.margin

        XCTAssertGreaterThan(decoded.darkPixelCount(x0: 0, y0: top, x1: decoded.width, y1: top + 27), 500)
        XCTAssertEqual(decoded.darkPixelCount(x0: 0, y0: 0, x1: decoded.width, y1: top), 0)
    }

    func testSVGIsWellFormedWithLegend() throws {
        let summary = try SVGSummary.parse(try LineChart.svg(SampleCharts.sweep))

        XCTAssertEqual(summary.title, SampleCharts.sweep.title)
        for name in ["SnapKV", "PyramidKV", "H2O", "StreamingLLM", "FullKV"] {
            XCTAssertTrue(summary.texts.contains(name), "legend lacks \(name)")
        }
        for label in ["64", "128", "256", "512", "1024", "2048", "4096"] {
            XCTAssertTrue(summary.texts.contains(label), "x axis lacks \(label)")
        }
        XCTAssertTrue(summary.texts.contains("KV budget (tokens)"))
        XCTAssertTrue(summary.texts.contains("Average score"))
        // Four series lines and one reference line in the plot, the same again in the legend.
        XCTAssertEqual(summary.elementCounts["polyline"], 10)
    }

    func testRendersAreDeterministic() throws {
        XCTAssertEqual(try LineChart.png(SampleCharts.sweep), try LineChart.png(SampleCharts.sweep))
        XCTAssertEqual(try LineChart.svg(SampleCharts.sweep), try LineChart.svg(SampleCharts.sweep))
    }

    func testPointOrderDoesNotChangeOutput() throws {
        var shuffled = SampleCharts.sweep
        shuffled.series[0].points.reverse()
        XCTAssertEqual(try LineChart.png(shuffled), try LineChart.png(SampleCharts.sweep))
    }

    func testTextDoesNotOverlap() throws {
        var many: [(name: String, points: [(x: Double, y: Double)])] = []
        for index in 0..<12 {
            many.append((name: "Method number \(index)", points: (0..<5).map { (x: Double($0) * 0.25, y: Double(index) - Double($0)) }))
        }
        let linear = LineChartData(title: "Linear axis", xAxisTitle: "Fraction", yAxisTitle: "Delta",
                                   series: many, horizontalLines: [(name: "Zero", y: 0)], logScaleX: false)
        let onePoint = LineChartData(title: "One point", series: [(name: "SnapKV", points: [(x: 128, y: 31.25)])],
                                     horizontalLines: [(name: "FullKV", y: 31.25)])

        for data in [SampleCharts.sweep, linear, onePoint] {
            XCTAssertEqual(SceneChecks.layoutProblems(in: try LineChart.scene(data)), [], "layout of \"\(data.title)\"")
        }
    }

    func testNoPointsThrows() {
        let data = LineChartData(title: "t", series: [], horizontalLines: [(name: "FullKV", y: 30)])
        XCTAssertThrowsError(try LineChart.png(data)) { error in
            guard case .emptyData(let chart, _) = error as? ReportError else {
                return XCTFail("expected emptyData, got \(error)")
            }
            XCTAssertEqual(chart, "line chart")
        }
    }

    func testNonFiniteScoreThrows() {
        var data = SampleCharts.sweep
        data.series[2].points[3].y = .infinity
        XCTAssertThrowsError(try LineChart.svg(data)) { error in
            guard case .nonFiniteValue(let location, _) = error as? ReportError else {
                return XCTFail("expected nonFiniteValue, got \(error)")
            }
            XCTAssertEqual(location, "series \"H2O\" point 3 y")
        }
    }

    func testNonPositiveBudgetOnLogScaleThrows() {
        var data = SampleCharts.sweep
        data.series[0].points[0].x = 0
        XCTAssertThrowsError(try LineChart.png(data)) { error in
            guard case .invalidValue(_, let value, let reason) = error as? ReportError else {
                return XCTFail("expected invalidValue, got \(error)")
            }
            XCTAssertEqual(value, 0)
            XCTAssertTrue(reason.contains("logScaleX"))
        }
        data.logScaleX = false
        XCTAssertNoThrow(try LineChart.png(data))
    }

    func testNonFiniteReferenceLineThrows() {
        var data = SampleCharts.sweep
        data.horizontalLines[0].y = .nan
        XCTAssertThrowsError(try LineChart.png(data)) { error in
            guard case .nonFiniteValue(let location, _) = error as? ReportError else {
                return XCTFail("expected nonFiniteValue, got \(error)")
            }
            XCTAssertEqual(location, "horizontal line \"FullKV\" y")
        }
    }
}
