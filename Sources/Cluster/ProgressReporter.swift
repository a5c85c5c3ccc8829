import Foundation

/// Writes a progress line such as "cells 12/60 (20.0%) elapsed 1m02s, ETA 4m10s" to stderr.
///
/// On a terminal the line is redrawn in place with a carriage return at most every
/// `terminalInterval` seconds. Otherwise, as in log files, a full line is written at most every
/// `logInterval` seconds. The last item always produces a line. The ETA assumes that the remaining
/// cost runs at the rate of this run so far, in cost units per second, because items run in order
/// of decreasing cost and a count-based rate would overestimate the time left. Thread-safe.
public final class ProgressReporter: @unchecked Sendable {
    public let label: String
    public let total: Int
    public let isTerminal: Bool
    public var terminalInterval = 0.25
    public var logInterval = 10.0
    /// Text appended to the line, such as running scores; called under the reporter's lock on every
    /// redraw. Set it before the first `record`.
    public var detail: (() -> String)?

    private var done: Int
    private var failed = 0
    private let totalCost: Double
    private var doneCost: Double
    private var costThisRun = 0.0
    private let start: Double
    private var lastDraw = -Double.infinity
    private let clock: () -> Double
    private let sink: (String) -> Void
    private let lock = NSLock()

    /// - Parameters:
    ///   - total: Items in the whole run, including `alreadyDone`.
    ///   - alreadyDone: Items completed by an earlier run and skipped now.
    ///   - totalCost: Sum of the costs of all `total` items; nil counts every item as cost 1.
    ///   - alreadyDoneCost: Sum of the costs of the `alreadyDone` items.
    ///   - isTerminal: Whether stderr is a terminal; nil uses isatty(2).
    ///   - clock: Monotonic seconds; nil uses CLOCK_MONOTONIC.
    ///   - sink: Receives the text to write; stderr by default.
    public init(label: String = "cells", total: Int, alreadyDone: Int = 0, totalCost: Double? = nil,
                alreadyDoneCost: Double? = nil, isTerminal: Bool? = nil,
                clock: (() -> Double)? = nil, sink: ((String) -> Void)? = nil) {
        self.label = label
        self.total = total
        self.done = alreadyDone
        self.totalCost = totalCost ?? Double(total)
        self.doneCost = alreadyDoneCost ?? (totalCost == nil ? Double(alreadyDone) : 0)
        self.isTerminal = isTerminal ?? (isatty(2) != 0)
        self.clock = clock ?? monotonicSeconds
        self.sink = sink ?? { writeStandardError($0) }
        start = self.clock()
    }

    /// Counts one finished item of the given cost and redraws the line if the interval has passed.
    public func record(cost: Double = 1, failed itemFailed: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        done += 1
        doneCost += cost
        costThisRun += cost
        if itemFailed { failed += 1 }

        let now = clock()
        let interval = isTerminal ? terminalInterval : logInterval
        guard done >= total || now - lastDraw >= interval else { return }
        lastDraw = now
        draw(now: now, final: done >= total)
    }

    /// Writes the current line and ends it, for a run that stops before every item is done.
    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        if done < total { draw(now: clock(), final: true) }
    }

    /// The current progress text, without a line ending.
    public var line: String {
        lock.lock()
        defer { lock.unlock() }
        return format(now: clock())
    }

    private func draw(now: Double, final: Bool) {
        let text = format(now: now)
        if isTerminal {
            // Erase to the end of the line, since the previous text may have been longer.
            sink("\r" + text + "\u{1B}[K" + (final ? "\n" : ""))
        } else {
            sink(text + "\n")
        }
    }

    private func format(now: Double) -> String {
        let elapsed = now - start
        let percent = total > 0 ? 100 * Double(done) / Double(total) : 100
        var text = "\(label) \(done)/\(total) (\(String(format: "%.1f", percent))%) elapsed \(Self.duration(elapsed))"
        if done >= total {
            text += ", done"
        } else if costThisRun > 0 && elapsed > 0 {
            let remaining = max(totalCost - doneCost, 0)
            text += ", ETA \(Self.duration(remaining * elapsed / costThisRun))"
        } else {
            text += ", ETA unknown"
        }
        if failed > 0 { text += ", \(failed) failed" }
        if let detail {
            let extra = detail()
            if !extra.isEmpty { text += "; " + extra }
        }
        return text
    }

    /// Formats seconds as "42s", "4m10s" or "2h05m".
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "unknown" }
        let whole = Int(seconds.rounded())
        if whole < 60 { return "\(whole)s" }
        if whole < 3600 { return "\(whole / 60)m" + String(format: "%02ds", whole % 60) }
        return "\(whole / 3600)h" + String(format: "%02dm", (whole % 3600) / 60)
    }
}
