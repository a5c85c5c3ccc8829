import Foundation
import XCTest
@testable import Report

/// Writes the sample charts to the temporary directory so a person can look at them, and checks that
/// the written files decode and match the in-memory renders.
final class SampleRenderTests: XCTestCase {
    func testSampleHeatmapWritesFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvfactory-report-samples").path
        let pngPath = directory + "/heatmap.png"
        let svgPath = directory + "/heatmap.svg"
        try Heatmap.write(SampleCharts.heatmap, pngPath: pngPath, svgPath: svgPath)

        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: pngPath)))
        XCTAssertEqual(written, try Heatmap.png(SampleCharts.heatmap))
        let svg = try String(contentsOfFile: svgPath, encoding: .utf8)
        XCTAssertEqual(svg, try Heatmap.svg(SampleCharts.heatmap))
        XCTAssertNoThrow(try PNGTestDecoder.decode(written))
    }

    func testSampleSweepWritesFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvfactory-report-samples").path
        let pngPath = directory + "/sweep.png"
        let svgPath = directory + "/sweep.svg"
        try LineChart.write(SampleCharts.sweep, pngPath: pngPath, svgPath: svgPath)

        let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: pngPath)))
        XCTAssertEqual(written, try LineChart.png(SampleCharts.sweep))
        let svg = try String(contentsOfFile: svgPath, encoding: .utf8)
        XCTAssertEqual(svg, try LineChart.svg(SampleCharts.sweep))
        XCTAssertNoThrow(try PNGTestDecoder.decode(written))
    }
}
