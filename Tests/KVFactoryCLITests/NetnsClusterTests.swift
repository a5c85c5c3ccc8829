import Foundation
import XCTest

/// Runs the release binary on two simulated hosts: scripts/netns-cluster.sh puts each rank in its own network
/// namespace, so the ranks talk over TCP through a bridge as on a real cluster. The tests that create
/// namespaces skip unless they run as root on a kernel that permits network namespaces.
final class NetnsClusterTests: XCTestCase {
    private static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private static let script = repositoryRoot.appendingPathComponent("scripts/netns-cluster.sh")
    private static let binary = repositoryRoot.appendingPathComponent(".build/release/kvfactory")
    private static let modelPath = repositoryRoot.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
    private static let essaysDirectory = repositoryRoot.appendingPathComponent("data/PaulGrahamEssays").path

    /// Two cells of about 800 tokens each.
    private static let grid = ["--s_len", "800", "--e_len", "800", "--depth_intervals", "2"]
    private static let cellIDs: Set<String> = ["len_800_depth_0", "len_800_depth_100"]
    private static let namespacePrefix = "kvf-node"

    private var directory: URL!
    private var processes: [Process] = []
    /// Set once a test has started a cluster, so that tearDown removes it if the script could not.
    private var clusterStarted = false

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("netns-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for process in processes where process.isRunning {
            // SIGTERM lets the script stop mpirun and remove the namespaces itself.
            process.terminate()
            process.waitUntilExit()
        }
        if clusterStarted, !((try? namespaces()) ?? []).isEmpty {
            _ = try? runToEnd(Self.script, ["down"], timeout: 60)
        }
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    // MARK: Helpers

    private struct Outcome {
        let status: Int32
        let standardOutput: String
        let standardError: String
    }

    private var stateDirectory: URL { directory.appendingPathComponent("cluster-state") }

    /// Runs `executable` to its end from the repository root and returns its status and output, or fails
    /// the test after `timeout` seconds.
    private func runToEnd(_ executable: URL, _ arguments: [String], timeout: Double = 600) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        for name in ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "KVFACTORY_MODEL"] { environment[name] = nil }
        environment["KVF_NETNS_STATE_DIR"] = stateDirectory.path
        process.environment = environment
        process.currentDirectoryURL = Self.repositoryRoot

        // Files rather than pipes, so that a chatty child never blocks on a full pipe buffer.
        let stamp = UUID().uuidString
        let output = directory.appendingPathComponent("stdout-\(stamp).txt")
        let errors = directory.appendingPathComponent("stderr-\(stamp).txt")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        processes.append(process)

        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(100_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            XCTFail("\(executable.lastPathComponent) \(arguments.joined(separator: " ")) timed out after \(timeout) s")
        }
        return Outcome(status: process.terminationStatus,
                       standardOutput: (try? String(contentsOf: output, encoding: .utf8)) ?? "",
                       standardError: (try? String(contentsOf: errors, encoding: .utf8)) ?? "")
    }

    private func tool(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin"
        for entry in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] {
            let candidate = URL(fileURLWithPath: entry).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// Returns the names of this project's namespaces that exist now.
    private func namespaces() throws -> [String] {
        let ip = try XCTUnwrap(tool("ip"), "ip not found")
        let listing = try runToEnd(ip, ["netns", "list"], timeout: 30)
        return listing.standardOutput.split(separator: "\n")
            .compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0.hasPrefix(Self.namespacePrefix) }
    }

    /// Skips unless this process may create network namespaces, by creating and deleting one.
    private func requireNamespaces() throws {
        try XCTSkipUnless(getuid() == 0, "network namespaces need root; run the tests as root to include this test")
        let ip = try XCTUnwrap(tool("ip"), "")
        guard tool("mpirun") != nil else { throw XCTSkip("mpirun not found on PATH; install Open MPI with scripts/setup.sh") }

        let probe = "kvf-probe-\(getpid())"
        let created = try runToEnd(ip, ["netns", "add", probe], timeout: 30)
        guard created.status == 0 else {
            throw XCTSkip("cannot create a network namespace here: \(created.standardError.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        _ = try runToEnd(ip, ["netns", "delete", probe], timeout: 30)
        let existing = try namespaces()
        try XCTSkipUnless(existing.isEmpty, "a netns cluster is already up (\(existing)); run 'scripts/netns-cluster.sh down' first")
        clusterStarted = true
    }

    private func requireBinaryAndData() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: Self.binary.path),
                          "\(Self.binary.path) is not built; run 'swift build -c release' first")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: Self.modelPath), "run scripts/setup.sh to install the model")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: Self.essaysDirectory), "run scripts/setup.sh to install the essays")
    }

    private func needle(_ saveDirectory: URL) -> [String] {
        ["needle"] + Self.grid + ["--method", "snapkv", "--max_capacity_prompt", "128", "--threads", "1",
                                  "--save_dir", saveDirectory.path]
    }

    private func records(_ saveDirectory: URL) throws -> [[String: Any]] {
        let data = try Data(contentsOf: saveDirectory.appendingPathComponent("results.jsonl"))
        return try data.split(separator: UInt8(ascii: "\n")).map { line in
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        }
    }

    private func responses(_ saveDirectory: URL) throws -> [String: String] {
        var result: [String: String] = [:]
        for record in try records(saveDirectory) {
            result[try XCTUnwrap(record["id"] as? String)] = record["model_response"] as? String
        }
        return result
    }

    private func assertClusterRemoved(file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try namespaces(), [], "namespaces left after run", file: file, line: line)
        let ip = try XCTUnwrap(tool("ip"))
        let bridge = try runToEnd(ip, ["link", "show", "kvf-br0"], timeout: 30)
        XCTAssertNotEqual(bridge.status, 0, "bridge kvf-br0 left after run", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stateDirectory.path), "state directory left after run",
                       file: file, line: line)
    }

    // MARK: Cluster runs

    func testPipelineAcrossNamespacesMatchesSingleProcess() throws {
        try requireBinaryAndData()
        try requireNamespaces()

        let single = directory.appendingPathComponent("single")
        let alone = try runToEnd(Self.binary, needle(single))
        XCTAssertEqual(alone.status, 0, alone.standardError)

        let distributed = directory.appendingPathComponent("cluster")
        let arguments = ["run", "-N", "2", "--", "-np", "2", Self.binary.path] + needle(distributed) + ["--pipeline_stages", "2"]
        let cluster = try runToEnd(Self.script, arguments)
        XCTAssertEqual(cluster.status, 0, cluster.standardError)
        XCTAssertTrue(cluster.standardError.contains("rank 1: replica 0 stage 1 of 2"), cluster.standardError)

        let ids = try records(distributed).compactMap { $0["id"] as? String }
        XCTAssertEqual(ids.count, Self.cellIDs.count, "\(ids)")
        XCTAssertEqual(Set(ids), Self.cellIDs)
        XCTAssertEqual(try responses(distributed), try responses(single))

        // Each rank reports the host name of its namespace, which the agent sets.
        let meta = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: distributed.appendingPathComponent("run_meta.json"))) as? [String: Any])
        let hosts = try XCTUnwrap((meta["world"] as? [String: Any])?["hosts"] as? [String: Any])
        XCTAssertEqual(Set(hosts.keys), ["kvf-node0", "kvf-node1"])
        try assertClusterRemoved()
    }

    func testFailedJobKeepsStatusAndTearsDown() throws {
        try requireNamespaces()
        let failed = try runToEnd(Self.script, ["run", "--", "-np", "2", "/bin/sh", "-c", "exit 3"], timeout: 120)
        XCTAssertEqual(failed.status, 3, failed.standardError)
        try assertClusterRemoved()

        let down = try runToEnd(Self.script, ["down"], timeout: 60)
        XCTAssertEqual(down.status, 0, "down without a cluster: \(down.standardError)")
    }

    func testRankAddressesOnlyOwnNamespace() throws {
        try requireNamespaces()
        let listing = try runToEnd(Self.script, ["run", "--", "-np", "2", "/bin/sh", "-c",
                                                 "echo $(hostname) $(ip -4 -o addr show | awk '{print $4}' | tr '\\n' ' ')"],
                                   timeout: 120)
        XCTAssertEqual(listing.status, 0, listing.standardError)
        // Each line is "HOST 127.0.0.1/8 ADDRESS/LENGTH", with the subnet that KVF_NETNS_SUBNET sets.
        let lines = listing.standardOutput.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }.sorted {
            $0.first ?? "" < $1.first ?? ""
        }
        XCTAssertEqual(lines.count, 2, listing.standardOutput)
        XCTAssertEqual(lines.map { $0.first }, ["kvf-node0", "kvf-node1"])
        XCTAssertEqual(lines.map { $0.count }, [3, 3], "one address besides loopback: \(listing.standardOutput)")
        XCTAssertEqual(lines.map { $0.dropFirst().first }, ["127.0.0.1/8", "127.0.0.1/8"])
        XCTAssertNotEqual(lines.first?.last, lines.last?.last, "each namespace has its own address")
        try assertClusterRemoved()
    }

    // MARK: Bad input

    func testBadArgumentsRejected() throws {
        let cases: [([String], String)] = [
            (["up", "0"], "invalid node count '0'"),
            (["up", "abc"], "invalid node count 'abc'"),
            (["up", "2", "0"], "invalid slot count '0'"),
            (["frobnicate"], "unknown command 'frobnicate'"),
            (["run", "-np", "2", "hostname"], "unknown run option '-np'"),
            (["run", "--"], "run needs mpirun arguments after --"),
            (["down", "now"], "down takes no arguments"),
        ]
        for (arguments, message) in cases {
            let outcome = try runToEnd(Self.script, arguments, timeout: 30)
            XCTAssertNotEqual(outcome.status, 0, "\(arguments)")
            XCTAssertTrue(outcome.standardError.contains(message), "\(arguments): \(outcome.standardError)")
        }
    }

    func testOverlappingSubnetRejected() throws {
        try requireNamespaces()
        // 127.0.0.0/8 is on lo on every Linux host, so this subnet always overlaps an address in use.
        let process = try runToEnd(URL(fileURLWithPath: "/usr/bin/env"),
                                   ["KVF_NETNS_SUBNET=127.1.0.0/24", Self.script.path, "up", "2"], timeout: 30)
        XCTAssertEqual(process.status, 1, process.standardError)
        XCTAssertTrue(process.standardError.contains("overlaps 127.0.0.1/8"), process.standardError)
        try assertClusterRemoved()
    }
}
