import Foundation
import XCTest

/// Runs the cluster-selftest program under mpirun on this machine (shared memory only) and checks the
/// results journal it writes: coverage for 1, 2 and 3 ranks, and resume after a rank is killed or hangs.
final class MultiRankTests: XCTestCase {
    private var directory: URL!
    private var processes: [Process] = []

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("multirank-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for process in processes where process.isRunning { process.terminate() }
        // Ranks left behind by a failed test are stopped by their recorded pids.
        let pidDirectory = directory.appendingPathComponent("save/pids")
        for name in (try? FileManager.default.contentsOfDirectory(atPath: pidDirectory.path)) ?? [] {
            if let text = try? String(contentsOf: pidDirectory.appendingPathComponent(name), encoding: .utf8),
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(pid, SIGCONT)
                kill(pid, SIGKILL)
            }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    private var saveDirectory: URL { directory.appendingPathComponent("save") }

    // MARK: Helpers

    private struct MissingTool: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    private struct Launch {
        let process: Process
        let output: URL
        let errors: URL

        var standardOutput: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        var standardError: String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }
    }

    private func selfTestBinary() throws -> URL {
        let candidates = [
            Bundle.main.executableURL?.deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            Bundle(for: Self.self).bundleURL.deletingLastPathComponent(),
        ].compactMap { $0 }
        for directory in candidates {
            let binary = directory.appendingPathComponent("cluster-selftest")
            if FileManager.default.isExecutableFile(atPath: binary.path) { return binary }
        }
        throw MissingTool(message: "cluster-selftest was not found next to the test bundle in "
            + "\(candidates.map(\.path)); build it with 'swift build --product cluster-selftest'")
    }

    private func mpirun() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw MissingTool(message: "mpirun not found on PATH; install Open MPI with scripts/setup.sh "
            + "(Debian package openmpi-bin)")
    }

    /// Starts the self-test with `ranks` processes under mpirun, or alone when `ranks` is nil.
    private func launch(ranks: Int?, _ arguments: [String]) throws -> Launch {
        let binary = try selfTestBinary()
        let process = Process()
        let selfTestArguments = ["--save-dir", saveDirectory.path] + arguments
        if let ranks {
            process.executableURL = try mpirun()
            process.arguments = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                                 "--mca", "btl", "self,vader", "--mca", "oob_tcp_if_include", "lo",
                                 "-np", String(ranks), binary.path] + selfTestArguments
        } else {
            process.executableURL = binary
            process.arguments = selfTestArguments
        }
        var environment = ProcessInfo.processInfo.environment
        for name in ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"] { environment[name] = nil }
        process.environment = environment

        let stamp = UUID().uuidString
        let output = directory.appendingPathComponent("stdout-\(stamp).txt")
        let errors = directory.appendingPathComponent("stderr-\(stamp).txt")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        processes.append(process)
        return Launch(process: process, output: output, errors: errors)
    }

    /// Waits until `condition` holds, polling every 50 ms; returns false after `timeout` seconds.
    private func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    private func finish(_ launch: Launch, timeout: Double = 120) -> Int32? {
        guard waitUntil(timeout: timeout, { !launch.process.isRunning }) else { return nil }
        return launch.process.terminationStatus
    }

    /// Ids of the complete lines of the journal, in file order.
    private func journalIDs() throws -> [String] {
        let url = saveDirectory.appendingPathComponent("results.jsonl")
        guard let data = try? Data(contentsOf: url) else { return [] }
        var ids: [String] = []
        let complete = data.prefix(through: data.lastIndex(of: UInt8(ascii: "\n")) ?? -1)
        for line in complete.split(separator: UInt8(ascii: "\n")) {
            let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            ids.append(try XCTUnwrap(object?["id"] as? String))
        }
        return ids
    }

    private func rankPID(_ rank: Int) -> Int32? {
        let url = saveDirectory.appendingPathComponent("pids/rank-\(rank).pid")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private func expectedIDs(_ count: Int) -> Set<String> {
        Set((0..<count).map { String(format: "item-%04d", $0) })
    }

    // MARK: Tests

    func testAloneCoversEveryItemOnce() throws {
        let run = try launch(ranks: nil, ["--items", "15", "--sleep-ms", "5"])
        XCTAssertEqual(finish(run), 0, run.standardError)
        let ids = try journalIDs()
        XCTAssertEqual(ids.count, 15)
        XCTAssertEqual(Set(ids), expectedIDs(15))
        XCTAssertTrue(run.standardOutput.contains("ranks 1,"), run.standardOutput)
    }

    func testRanksCoverEveryItemOnce() throws {
        for ranks in 1...3 {
            try? FileManager.default.removeItem(at: saveDirectory)
            let run = try launch(ranks: ranks, ["--items", "24", "--sleep-ms", "30", "--fail-every", "5"])
            XCTAssertEqual(finish(run), 0, "ranks \(ranks): \(run.standardError)")

            let ids = try journalIDs()
            XCTAssertEqual(ids.count, 24, "ranks \(ranks)")
            XCTAssertEqual(Set(ids), expectedIDs(24), "ranks \(ranks)")
            XCTAssertTrue(run.standardOutput.contains("ranks \(ranks), ran 24 items (19 succeeded, 5 failed)"),
                          run.standardOutput)
        }
    }

    func testKilledWorkerEndsJobAndResumes() throws {
        let arguments = ["--items", "40", "--sleep-ms", "200"]
        let first = try launch(ranks: 3, arguments)
        // Every rank writes its pid file before the collective start of the scheduler, so once results
        // arrive all pid files exist.
        XCTAssertTrue(waitUntil(timeout: 60) { ((try? journalIDs().count) ?? 0) >= 6 },
                      "the run did not start: \(first.standardError)")
        let pid = try XCTUnwrap(rankPID(1))

        let killed = Date()
        XCTAssertEqual(kill(pid, SIGKILL), 0)
        let status = finish(first, timeout: 30)
        let seconds = Date().timeIntervalSince(killed)
        XCTAssertNotNil(status, "mpirun still runs 30 s after a rank was killed")
        XCTAssertNotEqual(status, 0)
        XCTAssertLessThan(seconds, 10)
        XCTAssertTrue(first.standardError.contains("rank 1"), first.standardError)

        let before = try journalIDs()
        XCTAssertLessThan(before.count, 40, "the run finished before the kill")
        let second = try launch(ranks: 2, arguments)
        XCTAssertEqual(finish(second), 0, second.standardError)
        let after = try journalIDs()
        XCTAssertEqual(Array(after.prefix(before.count)), before)
        XCTAssertEqual(after.count, 40)
        XCTAssertEqual(Set(after), expectedIDs(40))
    }

    func testKilledCoordinatorEndsJobAndResumes() throws {
        let arguments = ["--items", "30", "--sleep-ms", "200"]
        let first = try launch(ranks: 2, arguments)
        XCTAssertTrue(waitUntil(timeout: 60) { ((try? journalIDs().count) ?? 0) >= 4 },
                      "the run did not start: \(first.standardError)")
        let pid = try XCTUnwrap(rankPID(0))

        let killed = Date()
        XCTAssertEqual(kill(pid, SIGKILL), 0)
        let status = finish(first, timeout: 30)
        XCTAssertNotNil(status, "mpirun still runs 30 s after rank 0 was killed")
        XCTAssertNotEqual(status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(killed), 10)
        XCTAssertTrue(first.standardError.contains("rank 0"), first.standardError)

        let before = try journalIDs()
        let second = try launch(ranks: 3, arguments)
        XCTAssertEqual(finish(second), 0, second.standardError)
        let after = try journalIDs()
        XCTAssertEqual(Array(after.prefix(before.count)), before)
        XCTAssertEqual(after.count, 30)
        XCTAssertEqual(Set(after), expectedIDs(30))
    }

    func testHungWorkerEndsJobAfterHeartbeatTimeout() throws {
        let arguments = ["--items", "60", "--sleep-ms", "200", "--heartbeat-timeout", "3"]
        let first = try launch(ranks: 3, arguments)
        XCTAssertTrue(waitUntil(timeout: 60) { ((try? journalIDs().count) ?? 0) >= 3 },
                      "the run did not start: \(first.standardError)")
        let pid = try XCTUnwrap(rankPID(2))

        let stopped = Date()
        XCTAssertEqual(kill(pid, SIGSTOP), 0)
        let status = finish(first, timeout: 30)
        let seconds = Date().timeIntervalSince(stopped)
        kill(pid, SIGCONT)
        XCTAssertNotNil(status, "mpirun still runs 30 s after a rank was stopped")
        XCTAssertNotEqual(status, 0)
        XCTAssertGreaterThanOrEqual(seconds, 3)
        XCTAssertLessThan(seconds, 10)
        XCTAssertTrue(first.standardError.contains("rank 2 sent no message"), first.standardError)

        let second = try launch(ranks: 2, arguments)
        XCTAssertEqual(finish(second), 0, second.standardError)
        let ids = try journalIDs()
        XCTAssertEqual(ids.count, 60)
        XCTAssertEqual(Set(ids), expectedIDs(60))
    }

    func testChangedOptionsRejectedOnResume() throws {
        let first = try launch(ranks: 2, ["--items", "4", "--sleep-ms", "1"])
        XCTAssertEqual(finish(first), 0, first.standardError)

        let second = try launch(ranks: 2, ["--items", "4", "--variant", "longer-prompts"])
        let status = finish(second)
        XCTAssertNotNil(status)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(second.standardError.contains("variant: 'default' -> 'longer-prompts'"), second.standardError)
        XCTAssertEqual(try journalIDs().count, 4)
    }
}
