import Foundation
import XCTest

/// Launches the release kvfactory binary, alone or under mpirun on this machine, in a fresh temporary
/// directory per test, and reads what it wrote. Skips when the binary, the model or the essays are missing.
class CLITestCase: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binary = repositoryRoot.appendingPathComponent(".build/release/kvfactory")
    static let modelPath = repositoryRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    static let essaysDirectory = repositoryRoot.appendingPathComponent("data/PaulGrahamEssays").path

    var directory: URL!
    var processes: [Process] = []

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Self.binary.path),
                          "\(Self.binary.path) is not built; run 'swift build -c release' first")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: Self.modelPath), "run scripts/setup.sh to install the model")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: Self.essaysDirectory), "run scripts/setup.sh to install the essays")
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvfactory-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    // MARK: Helpers

    struct Launch {
        let process: Process
        let output: URL
        let errors: URL

        var standardOutput: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        var standardError: String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }
    }

    func mpirun() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for entry in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(entry)).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw XCTSkip("mpirun not found on PATH; install Open MPI with scripts/setup.sh")
    }

    /// Starts kvfactory with `ranks` processes under mpirun, or alone when `ranks` is nil.
    func launch(ranks: Int?, _ arguments: [String], environment extra: [String: String] = [:]) throws -> Launch {
        let process = Process()
        if let ranks {
            process.executableURL = try mpirun()
            process.arguments = ["--allow-run-as-root", "--oversubscribe", "--bind-to", "none",
                                 "--mca", "btl", "self,vader", "--mca", "oob_tcp_if_include", "lo",
                                 "-np", String(ranks), Self.binary.path] + arguments
        } else {
            process.executableURL = Self.binary
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        for name in ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "KVFACTORY_MODEL"] { environment[name] = nil }
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.currentDirectoryURL = Self.repositoryRoot

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

    func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }

    /// Waits for the process to end and returns its exit status, or nil after `timeout` seconds.
    func finish(_ launch: Launch, timeout: Double = 600) -> Int32? {
        guard waitUntil(timeout: timeout, { !launch.process.isRunning }) else { return nil }
        return launch.process.terminationStatus
    }

    func records(_ saveDirectory: URL) throws -> [[String: Any]] {
        let url = saveDirectory.appendingPathComponent("results.jsonl")
        guard let data = try? Data(contentsOf: url) else { return [] }
        let complete = data.prefix(through: data.lastIndex(of: UInt8(ascii: "\n")) ?? -1)
        return try complete.split(separator: UInt8(ascii: "\n")).map { line in
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        }
    }

    func responses(_ saveDirectory: URL) throws -> [String: String] {
        var result: [String: String] = [:]
        for record in try records(saveDirectory) {
            result[try XCTUnwrap(record["id"] as? String)] = record["model_response"] as? String
        }
        return result
    }

    func jsonObject(_ url: URL) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any], url.path)
    }

    /// Runs a command that must fail before any work and returns its standard error.
    func rejected(_ arguments: [String], status expected: Int32 = 2, ranks: Int? = nil,
                  file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let run = try launch(ranks: ranks, arguments)
        XCTAssertEqual(finish(run, timeout: 120), expected, run.standardError, file: file, line: line)
        return run.standardError
    }
}
