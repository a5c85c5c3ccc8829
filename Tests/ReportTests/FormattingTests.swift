import Foundation
import XCTest
@testable import Report

final class NumberFormattingTests: XCTestCase {
    func testFormatFixed() {
        XCTAssertEqual(formatFixed(0.85, decimals: 2), "0.85")
        XCTAssertEqual(formatFixed(1, decimals: 2), "1.00")
        XCTAssertEqual(formatFixed(0.125, decimals: 2), "0.13")
        XCTAssertEqual(formatFixed(-0.25, decimals: 2), "-0.25")
        XCTAssertEqual(formatFixed(-0.001, decimals: 2), "0.00")
        XCTAssertEqual(formatFixed(4096, decimals: 0), "4096")
        XCTAssertEqual(formatFixed(22.5, decimals: 1), "22.5")
        XCTAssertEqual(formatFixed(0.05, decimals: 2), "0.05")
    }

    func testSVGNumber() {
        XCTAssertEqual(SVGRenderer.number(12), "12")
        XCTAssertEqual(SVGRenderer.number(12.5), "12.5")
        XCTAssertEqual(SVGRenderer.number(0.04), "0.04")
        XCTAssertEqual(SVGRenderer.number(-3.456), "-3.46")
        XCTAssertEqual(SVGRenderer.number(-0.001), "0")
    }

    func testSVGEscape() {
        XCTAssertEqual(SVGRenderer.escape("a<b>&\"c\"'"), "a&lt;b&gt;&amp;&quot;c&quot;&apos;")
        XCTAssertEqual(SVGRenderer.escape("x\u{0}y\ty"), "x\u{FFFD}y y")
        XCTAssertEqual(SVGRenderer.escape("caf\u{00E9} \u{2713}"), "caf\u{00E9} \u{2713}")
    }
}

final class AxisTicksTests: XCTestCase {
    func testLogTicksOnPowersOfTwo() {
        let axis = AxisTicks.log2(values: [64, 128, 4096])

        XCTAssertEqual(axis.ticks.map(\.label), ["64", "128", "256", "512", "1024", "2048", "4096"])
        XCTAssertLessThan(axis.lower, 64)
        XCTAssertGreaterThan(axis.upper, 4096)
    }

    func testLogTicksThinOutOverWideRanges() {
        let axis = AxisTicks.log2(values: [1, 1_073_741_824])

        XCTAssertLessThanOrEqual(axis.ticks.count, 11)
        XCTAssertEqual(axis.ticks.first?.label, "1")
    }

    func testLogTicksBelowOne() {
        XCTAssertEqual(AxisTicks.log2(values: [0.25, 1]).ticks.map(\.label), ["0.25", "0.5", "1"])
    }

    func testLogTicksForOneValueUseIt() {
        XCTAssertEqual(AxisTicks.log2(values: [100]).ticks.map(\.label), ["100"])
    }

    func testLinearTicksOnUnitRange() {
        let axis = AxisTicks.linear(minimum: 0, maximum: 1)

        XCTAssertEqual(axis.ticks.map(\.label), ["0.00", "0.25", "0.50", "0.75", "1.00"])
        XCTAssertEqual(axis.lower, -0.05, accuracy: 1e-12)
        XCTAssertEqual(axis.upper, 1.05, accuracy: 1e-12)
    }

    func testLinearTicksForConstantValues() {
        let axis = AxisTicks.linear(minimum: 30, maximum: 30)

        XCTAssertLessThan(axis.lower, 30)
        XCTAssertGreaterThan(axis.upper, 30)
        XCTAssertTrue(axis.ticks.contains { $0.value == 30 })
    }

    func testLinearTicksEndAtHugeMagnitude() {
        // Here the tick index is near 1e16, where adding 1 no longer changes a Double.
        let axis = AxisTicks.linear(minimum: 1e18, maximum: 1e18 + 256, target: 5)

        XCTAssertLessThanOrEqual(axis.ticks.count, 24)
        XCTAssertFalse(axis.ticks.isEmpty)
    }

    func testLogTicksFarBelowOne() {
        let labels = AxisTicks.log2(values: [1.0 / 1024, 1.0 / 256]).ticks.map(\.label)

        XCTAssertEqual(labels, ["0.0009765625", "0.001953125", "0.00390625"])
    }

    func testLinearTicksStayInRange() {
        let axis = AxisTicks.linear(minimum: 20.1, maximum: 37.8, target: 8)

        for tick in axis.ticks {
            XCTAssertGreaterThanOrEqual(tick.value, axis.lower)
            XCTAssertLessThanOrEqual(tick.value, axis.upper)
        }
        XCTAssertEqual(axis.ticks.map(\.label), ["20.0", "22.5", "25.0", "27.5", "30.0", "32.5", "35.0", "37.5"])
    }

    func testScaleMapsEndsToPixels() {
        let scale = AxisScale(lower: 64, upper: 4096, logarithmic: true, pixelLower: 100, pixelUpper: 700)

        XCTAssertEqual(scale.pixel(64), 100, accuracy: 1e-9)
        XCTAssertEqual(scale.pixel(512), 400, accuracy: 1e-9)
        XCTAssertEqual(scale.pixel(4096), 700, accuracy: 1e-9)
    }
}

final class AtomicFileTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-atomic-\(UUID().uuidString)").path
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testWriteCreatesParentsAndLeavesNoTemporaryFile() throws {
        let path = directory + "/a/b/out.bin"
        try AtomicFile.write([1, 2, 3], to: path)

        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), [1, 2, 3])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory + "/a/b"), ["out.bin"])
    }

    func testWriteReplacesExistingFile() throws {
        let path = directory + "/out.bin"
        try AtomicFile.write([UInt8](repeating: 9, count: 100), to: path)
        try AtomicFile.write([4], to: path)

        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), [4])
    }

    func testWriteOverDirectoryThrows() throws {
        try FileManager.default.createDirectory(atPath: directory + "/taken", withIntermediateDirectories: true)
        XCTAssertThrowsError(try AtomicFile.write([1], to: directory + "/taken")) { error in
            guard case .writeFailed(let path, _) = error as? ReportError else {
                return XCTFail("expected writeFailed, got \(error)")
            }
            XCTAssertEqual(path, self.directory + "/taken")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["taken"])
    }

    func testWriteUnderRegularFileThrows() throws {
        try AtomicFile.write([1], to: directory + "/file")
        XCTAssertThrowsError(try AtomicFile.write([1], to: directory + "/file/child.png")) { error in
            guard case .writeFailed = error as? ReportError else {
                return XCTFail("expected writeFailed, got \(error)")
            }
        }
    }
}
