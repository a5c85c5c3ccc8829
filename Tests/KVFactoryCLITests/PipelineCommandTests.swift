import Foundation
import XCTest

/// Pipeline parallelism through the release binary: the same predictions whatever the ranks and stages,
/// the stage split and activation traffic in run_meta.json, a killed stage, and bad pipeline options.
final class PipelineCommandTests: CLITestCase {
    /// Four cells of 800 and 1000 tokens.
    private static let grid = ["--s_len", "800", "--e_len", "1000", "--step", "200", "--depth_intervals", "2"]
    private static let cellIDs: Set<String> = ["len_800_depth_0", "len_800_depth_100", "len_1000_depth_0", "len_1000_depth_100"]
    private static let longBenchData = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/data/longbench")

    private func needle(_ save: URL, method: String = "snapkv", _ extra: [String] = []) -> [String] {
        ["needle"] + Self.grid + ["--method", method, "--max_capacity_prompt", "96", "--save_dir", save.path] + extra
    }

    /// Runs `arguments` on `ranks` ranks (alone when nil) and returns the responses by cell id.
    private func needleResponses(ranks: Int?, _ arguments: [String], save: URL) throws -> [String: String] {
        let run = try launch(ranks: ranks, arguments)
        XCTAssertEqual(finish(run), 0, "\(arguments): \(run.standardError)")
        let found = try responses(save)
        XCTAssertEqual(Set(found.keys), Self.cellIDs, "\(arguments)")
        return found
    }

    private func pipelineMetadata(_ save: URL) throws -> [String: Any] {
        let meta = try jsonObject(save.appendingPathComponent("run_meta.json"))
        return try XCTUnwrap(meta["pipeline"] as? [String: Any], "run_meta.json has no pipeline block")
    }

    // MARK: Determinism

    func testNeedleTopologiesGiveSamePredictions() throws {
        let topologies: [(name: String, ranks: Int?, extra: [String])] = [
            ("N1", nil, []),
            ("N2-S1", 2, []),
            ("N2-S2", 2, ["--pipeline_stages", "2"]),
            ("N4-S2", 4, ["--pipeline_stages", "2"]),
        ]
        var predictions: [String: [String: String]] = [:]
        for topology in topologies {
            let save = directory.appendingPathComponent(topology.name)
            predictions[topology.name] = try needleResponses(ranks: topology.ranks, needle(save, topology.extra), save: save)
        }
        for topology in topologies.dropFirst() {
            XCTAssertEqual(predictions[topology.name], predictions["N1"], topology.name)
        }

        let pipeline = try pipelineMetadata(directory.appendingPathComponent("N4-S2"))
        XCTAssertEqual(pipeline["stages"] as? Int, 2)
        XCTAssertEqual(pipeline["replicas"] as? Int, 2)
        XCTAssertEqual(pipeline["activation_dtype"] as? String, "fp32")
        XCTAssertGreaterThan(pipeline["activation_bytes_raw"] as? Int ?? 0, 0)
        XCTAssertGreaterThan(pipeline["activation_bytes_sent"] as? Int ?? 0, 0)
        XCTAssertNotNil(pipeline["activation_compression_ratio"] as? Double)
        XCTAssertNotNil(pipeline["activation_compression_seconds"] as? Double)
        let single = try jsonObject(directory.appendingPathComponent("N2-S1/run_meta.json"))
        XCTAssertNil(single["pipeline"], "one stage records no pipeline block")
    }

    /// PyramidKV's budgets follow the global layer index, so an uneven split must not change them.
    func testUnevenSplitKeepsGlobalLayerPolicy() throws {
        let single = directory.appendingPathComponent("single")
        let expected = try needleResponses(ranks: nil, needle(single, method: "pyramidkv"), save: single)
        let split = directory.appendingPathComponent("split")
        let found = try needleResponses(ranks: 2, needle(split, method: "pyramidkv", ["--pipeline_stages", "2", "--layer_split", "0-7,8-29"]),
                                        save: split)
        XCTAssertEqual(found, expected)
        XCTAssertEqual(try pipelineMetadata(split)["layer_split"] as? String, "0-7,8-29")
        let singleBytes = try records(single).compactMap { $0["kv_cache_bytes"] as? Int }.sorted()
        let splitBytes = try records(split).compactMap { $0["kv_cache_bytes"] as? Int }.sorted()
        XCTAssertEqual(splitBytes, singleBytes, "the cache bytes of all stages add up to a single rank's")
    }

    func testLongBenchTopologiesGiveSamePredictions() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: Self.longBenchData.appendingPathComponent("samsum.jsonl").path),
                          "LongBench data not found at \(Self.longBenchData.path)")
        func predictions(ranks: Int?, _ extra: [String], name: String) throws -> [String] {
            let save = directory.appendingPathComponent(name)
            let run = try launch(ranks: ranks, ["longbench", "--datasets", "samsum", "--max_num_examples", "2", "--max_length", "1000",
                                                "--data_dir", Self.longBenchData.path, "--method", "snapkv",
                                                "--max_capacity_prompts", "96", "--save_dir", save.path] + extra)
            XCTAssertEqual(finish(run), 0, run.standardError)
            let file = save.appendingPathComponent("smollm2-135m-instruct.q4_1_96/samsum/SnapKV.json")
            let text = try String(contentsOf: file, encoding: .utf8)
            return try text.split(separator: "\n").map { line in
                let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                return try XCTUnwrap(object["pred"] as? String)
            }
        }
        let single = try predictions(ranks: nil, [], name: "N1")
        XCTAssertEqual(single.count, 2)
        XCTAssertEqual(try predictions(ranks: 2, [], name: "N2-S1"), single)
        XCTAssertEqual(try predictions(ranks: 2, ["--pipeline_stages", "2"], name: "N2-S2"), single)
        XCTAssertEqual(try predictions(ranks: 4, ["--pipeline_stages", "2"], name: "N4-S2"), single)
    }

    func testBFloat16ActivationsRecorded() throws {
        let save = directory.appendingPathComponent("bf16")
        _ = try needleResponses(ranks: 2, needle(save, ["--pipeline_stages", "2", "--activation_dtype", "bf16"]), save: save)
        let pipeline = try pipelineMetadata(save)
        XCTAssertEqual(pipeline["activation_dtype"] as? String, "bf16")
        let raw = try XCTUnwrap(pipeline["activation_bytes_raw"] as? Int)
        let sent = try XCTUnwrap(pipeline["activation_bytes_sent"] as? Int)
        XCTAssertLessThan(Double(sent), 0.6 * Double(raw), "bf16 halves the bytes before zstd")
        let meta = try jsonObject(save.appendingPathComponent("run_meta.json"))
        let options = try XCTUnwrap(meta["result_options"] as? [String: Any])
        XCTAssertEqual(options["activation_dtype"] as? String, "bf16", "lossy activations are part of the options hash")
    }

    // MARK: Faults

    func testKilledStageEndsJobThenResumes() throws {
        let save = directory.appendingPathComponent("killed")
        let arguments = needle(save, ["--pipeline_stages", "2"])
        let first = try launch(ranks: 2, arguments)
        XCTAssertTrue(waitUntil(timeout: 300) { ((try? records(save).count) ?? 0) >= 1 },
                      "no cell finished: \(first.standardError)")
        let meta = try jsonObject(save.appendingPathComponent("run_meta.json"))
        let ranks = try XCTUnwrap((meta["world"] as? [String: Any])?["ranks"] as? [[String: Any]])
        let pid = try XCTUnwrap(ranks.first { $0["rank"] as? Int == 1 }?["pid"] as? Int)
        XCTAssertEqual(kill(pid_t(pid), SIGKILL), 0)
        let killed = Date()
        let status = finish(first, timeout: 60)
        XCTAssertNotNil(status, "mpirun still runs 60 s after stage 1 was killed")
        XCTAssertLessThan(Date().timeIntervalSince(killed), 30)
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(first.standardError.contains("rank 1"), "the message names the killed rank: \(first.standardError)")

        let before = try records(save).compactMap { $0["id"] as? String }
        XCTAssertLessThan(before.count, Self.cellIDs.count, "the run finished before the kill")
        let second = try launch(ranks: 2, arguments)
        XCTAssertEqual(finish(second), 0, second.standardError)
        let after = try records(save).compactMap { $0["id"] as? String }
        XCTAssertEqual(Array(after.prefix(before.count)), before, "records written before the kill stay as they were")
        XCTAssertEqual(Set(after), Self.cellIDs)
        XCTAssertEqual(after.count, Self.cellIDs.count)
    }

    func testHungStageEndsJob() throws {
        let save = directory.appendingPathComponent("hung")
        let run = try launch(ranks: 2, needle(save, ["--pipeline_stages", "2"]), environment: ["KVFACTORY_HEARTBEAT_TIMEOUT": "5"])
        XCTAssertTrue(waitUntil(timeout: 300) { ((try? records(save).count) ?? 0) >= 1 },
                      "no cell finished: \(run.standardError)")
        let meta = try jsonObject(save.appendingPathComponent("run_meta.json"))
        let ranks = try XCTUnwrap((meta["world"] as? [String: Any])?["ranks"] as? [[String: Any]])
        let pid = try XCTUnwrap(ranks.first { $0["rank"] as? Int == 1 }?["pid"] as? Int)
        XCTAssertEqual(kill(pid_t(pid), SIGSTOP), 0)
        defer { kill(pid_t(pid), SIGKILL) }
        let stopped = Date()
        let status = finish(run, timeout: 60)
        XCTAssertNotNil(status, "mpirun still runs 60 s after stage 1 stopped")
        XCTAssertNotEqual(status, 0)
        XCTAssertLessThan(Date().timeIntervalSince(stopped), 30)
        XCTAssertTrue(run.standardError.contains("rank 1 (stage 1 of replica 0) sent no pipeline heartbeat"), run.standardError)
        XCTAssertGreaterThanOrEqual(try records(save).count, 1, "records written before the hang stay")
    }

    // MARK: Bad input

    func testStagesNotDividingRanksRejected() throws {
        let save = directory.appendingPathComponent("bad")
        let errors = try rejected(needle(save, ["--pipeline_stages", "3"]), ranks: 2)
        XCTAssertTrue(errors.contains("--pipeline_stages 3 does not divide the 2 MPI ranks"), errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: save.path))
    }

    func testBadLayerSplitRejected() throws {
        let save = directory.appendingPathComponent("bad")
        let errors = try rejected(needle(save, ["--pipeline_stages", "2", "--layer_split", "0-9,12-29"]), ranks: 2)
        XCTAssertTrue(errors.contains("0-9,12-29"), errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: save.path))
    }

    func testLayerSplitWithoutStagesRejected() throws {
        let save = directory.appendingPathComponent("bad")
        let errors = try rejected(needle(save, ["--layer_split", "0-14,15-29"]))
        XCTAssertTrue(errors.contains("--layer_split needs --pipeline_stages 2 or more"), errors)
    }

    func testPipelineOptionInJobFileRejected() throws {
        let job = directory.appendingPathComponent("job.json")
        try Data(#"{"benchmark": "needle", "save_dir": "x", "settings": {"s_len": 800, "e_len": 800}, "options": {"pipeline_stages": 2}, "grid": {"methods": ["snapkv"], "budgets": [64]}}"#.utf8).write(to: job)
        let errors = try rejected(["sweep", job.path])
        XCTAssertTrue(errors.contains("unknown option --pipeline_stages"), errors)
        XCTAssertTrue(errors.contains("pass them on the sweep command line"), errors)
    }

    func testActivationDtypeWithoutStagesRejected() throws {
        let save = directory.appendingPathComponent("bad")
        let errors = try rejected(needle(save, ["--activation_dtype", "bf16"]))
        XCTAssertTrue(errors.contains("--activation_dtype needs --pipeline_stages 2 or more"), errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: save.path))
    }

    func testUnknownActivationDtypeRejected() throws {
        let save = directory.appendingPathComponent("bad")
        let errors = try rejected(needle(save, ["--pipeline_stages", "2", "--activation_dtype", "fp8"]), ranks: 2)
        XCTAssertTrue(errors.contains("--activation_dtype 'fp8' is unknown; use fp32, bf16 or fp16"), errors)
    }
}
