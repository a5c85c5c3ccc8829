@testable import Cluster
import XCTest

final class ProgressReporterTests: XCTestCase {
    private final class Clock {
        var now = 100.0
    }

    func testDurationFormat() {
        XCTAssertEqual(ProgressReporter.duration(42), "42s")
        XCTAssertEqual(ProgressReporter.duration(62), "1m02s")
        XCTAssertEqual(ProgressReporter.duration(250), "4m10s")
        XCTAssertEqual(ProgressReporter.duration(7500), "2h05m")
        XCTAssertEqual(ProgressReporter.duration(.infinity), "unknown")
    }

    func testLineFormatWithETA() {
        let clock = Clock()
        let reporter = ProgressReporter(total: 60, isTerminal: false, clock: { clock.now }, sink: { _ in })
        XCTAssertEqual(reporter.line, "cells 0/60 (0.0%) elapsed 0s, ETA unknown")
        for _ in 0..<12 { reporter.record() }
        clock.now += 62
        XCTAssertEqual(reporter.line, "cells 12/60 (20.0%) elapsed 1m02s, ETA 4m08s")
    }

    func testETAUsesCost() {
        let clock = Clock()
        // Two items of cost 3 and 1; the expensive one took 30 s, so the cheap one needs about 10 s.
        let reporter = ProgressReporter(total: 2, totalCost: 4, isTerminal: false, clock: { clock.now }, sink: { _ in })
        clock.now += 30
        reporter.record(cost: 3)
        XCTAssertEqual(reporter.line, "cells 1/2 (50.0%) elapsed 30s, ETA 10s")
    }

    func testResumedRunCountsEarlierItems() {
        let reporter = ProgressReporter(total: 10, alreadyDone: 4, isTerminal: false, sink: { _ in })
        XCTAssertTrue(reporter.line.hasPrefix("cells 4/10 (40.0%)"), reporter.line)
    }

    func testLogOutputRateLimited() {
        let clock = Clock()
        var output: [String] = []
        let reporter = ProgressReporter(total: 5, isTerminal: false, clock: { clock.now }, sink: { output.append($0) })
        reporter.logInterval = 10
        reporter.record()
        clock.now += 1
        reporter.record()
        clock.now += 10
        reporter.record()
        reporter.record(failed: true)
        reporter.record()
        XCTAssertEqual(output.count, 3)
        XCTAssertTrue(output.allSatisfy { $0.hasSuffix("\n") })
        XCTAssertFalse(output.contains { $0.contains("\r") })
        XCTAssertEqual(output.last, "cells 5/5 (100.0%) elapsed 11s, done, 1 failed\n")
    }

    func testTerminalOutputRedrawsInPlace() {
        var output: [String] = []
        let reporter = ProgressReporter(total: 1, isTerminal: true, sink: { output.append($0) })
        reporter.record()
        XCTAssertEqual(output.count, 1)
        XCTAssertTrue(output[0].hasPrefix("\rcells 1/1 (100.0%)"), output[0])
        XCTAssertTrue(output[0].hasSuffix("\u{1B}[K\n"), output[0])
    }

    func testFinishWritesStoppedRun() {
        var output: [String] = []
        let reporter = ProgressReporter(total: 3, isTerminal: false, sink: { output.append($0) })
        reporter.record()
        reporter.finish()
        XCTAssertEqual(output.count, 2)
        XCTAssertTrue(output[1].hasPrefix("cells 1/3"), output[1])
    }
}
