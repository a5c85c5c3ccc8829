import Foundation
import XCTest

/// Runs the release binary, alone and under mpirun on this machine (shared memory only), on small needle
/// sweeps with the real model and essays. The tests cover sharding, identical predictions across rank
/// counts, resume after a killed rank, option checks on resume, the output files and bad input.
final class NeedleCommandTests: CLITestCase {
    /// Two lengths of about 1000 tokens and three depths: six cells.
    private static let smallGrid = ["--s_len", "800", "--e_len", "1000", "--step", "200", "--depth_intervals", "3"]
    private static let cellIDs: Set<String> = ["len_800_depth_0", "len_800_depth_50", "len_800_depth_100",
                                               "len_1000_depth_0", "len_1000_depth_50", "len_1000_depth_100"]

    private func needle(_ saveDirectory: URL, _ extra: [String] = []) -> [String] {
        ["needle"] + Self.smallGrid + ["--method", "snapkv", "--max_capacity_prompt", "64", "--save_dir", saveDirectory.path] + extra
    }

    // MARK: Sharding and reproducibility

    func testRankCountsCoverCellsOnceWithSamePredictions() throws {
        var predictions: [Int: [String: String]] = [:]
        for ranks in 1...3 {
            let save = directory.appendingPathComponent("ranks-\(ranks)")
            let run = try launch(ranks: ranks == 1 ? nil : ranks, needle(save))
            XCTAssertEqual(finish(run), 0, "ranks \(ranks): \(run.standardError)")

            let ids = try records(save).compactMap { $0["id"] as? String }
            XCTAssertEqual(ids.count, Self.cellIDs.count, "ranks \(ranks): \(ids)")
            XCTAssertEqual(Set(ids), Self.cellIDs, "ranks \(ranks)")
            let meta = try jsonObject(save.appendingPathComponent("run_meta.json"))
            XCTAssertEqual((meta["world"] as? [String: Any])?["size"] as? Int, ranks)
            predictions[ranks] = try responses(save)
        }
        XCTAssertEqual(predictions[1], predictions[2])
        XCTAssertEqual(predictions[1], predictions[3])
    }

    // MARK: Outputs

    func testOutputFilesHaveDocumentedFields() throws {
        let save = directory.appendingPathComponent("outputs")
        let run = try launch(ranks: nil, ["needle", "--s_len", "800", "--e_len", "800", "--depth_intervals", "2",
                                          "--method", "full", "--save_dir", save.path])
        XCTAssertEqual(finish(run), 0, run.standardError)

        let record = try XCTUnwrap(try records(save).first)
        for field in ["context_length", "depth_percent", "needle", "model_response", "score", "recall", "method",
                      "max_capacity_prompt", "kv_cache_bytes", "test_duration_seconds"] {
            XCTAssertNotNil(record[field], "results.jsonl lacks \(field)")
        }
        XCTAssertEqual(record["method"] as? String, "fullkv")

        let cell = try jsonObject(save.appendingPathComponent("cells/len_800_depth_0.json"))
        for field in ["model", "context_length", "depth_percent", "version", "needle", "model_response", "score",
                      "test_duration_seconds", "test_timestamp_utc", "recall"] {
            XCTAssertNotNil(cell[field], "cell file lacks \(field)")
        }

        let summary = try jsonObject(save.appendingPathComponent("summary.json"))
        for field in ["mean_recall", "mean_score", "by_length", "by_depth", "scores"] {
            XCTAssertNotNil(summary[field], "summary.json lacks \(field)")
        }
        XCTAssertEqual((summary["by_depth"] as? [Any])?.count, 2)

        let png = try Data(contentsOf: save.appendingPathComponent("heatmap.png"))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let svg = try String(contentsOf: save.appendingPathComponent("heatmap.svg"), encoding: .utf8)
        XCTAssertTrue(svg.contains("FullKV"), "the SVG title names the method")

        let meta = try jsonObject(save.appendingPathComponent("run_meta.json"))
        for field in ["git_commit", "arguments", "options_hash", "result_options", "model", "versions", "world",
                      "started_at", "finished_at", "wall_seconds"] {
            XCTAssertNotNil(meta[field], "run_meta.json lacks \(field)")
        }
        let model = try XCTUnwrap(meta["model"] as? [String: Any])
        XCTAssertEqual(model["file_name"] as? String, "SmolLM2-135M-Instruct.Q4_1.gguf")
        XCTAssertEqual((model["sha256"] as? String)?.count, 64)
        XCTAssertTrue(run.standardOutput.contains("heatmap.png"), run.standardOutput)
    }

    // MARK: Resume

    func testKilledRankThenResumeCompletesCells() throws {
        let save = directory.appendingPathComponent("killed")
        let first = try launch(ranks: 2, needle(save))
        XCTAssertTrue(waitUntil(timeout: 300) { ((try? records(save).count) ?? 0) >= 1 },
                      "no cell finished: \(first.standardError)")
        let meta = try jsonObject(save.appendingPathComponent("run_meta.json"))
        let ranks = try XCTUnwrap((meta["world"] as? [String: Any])?["ranks"] as? [[String: Any]])
        let pid = try XCTUnwrap(ranks.first { $0["rank"] as? Int == 1 }?["pid"] as? Int)
        XCTAssertEqual(kill(pid_t(pid), SIGKILL), 0)
        let status = finish(first, timeout: 60)
        XCTAssertNotNil(status, "mpirun still runs 60 s after rank 1 was killed")
        XCTAssertNotEqual(status, 0)

        let before = try records(save).compactMap { $0["id"] as? String }
        XCTAssertLessThan(before.count, Self.cellIDs.count, "the run finished before the kill")
        // A torn last line, as a crash during a write leaves it, is discarded on resume.
        let handle = try FileHandle(forWritingTo: save.appendingPathComponent("results.jsonl"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"id\": \"len_1000_de".utf8))
        try handle.close()

        let second = try launch(ranks: 2, needle(save))
        XCTAssertEqual(finish(second), 0, second.standardError)
        XCTAssertTrue(second.standardError.contains("discarded a torn last line"), second.standardError)
        let after = try records(save).compactMap { $0["id"] as? String }
        XCTAssertEqual(Array(after.prefix(before.count)), before)
        XCTAssertEqual(after.count, Self.cellIDs.count, "\(after)")
        XCTAssertEqual(Set(after), Self.cellIDs)
        let meta2 = try jsonObject(save.appendingPathComponent("run_meta.json"))
        XCTAssertEqual((meta2["earlier_sessions"] as? [Any])?.count, 1)
    }

    func testResumeWithChangedOptionsRejected() throws {
        let save = directory.appendingPathComponent("changed")
        let base = ["needle", "--s_len", "800", "--e_len", "800", "--depth_intervals", "1", "--method", "snapkv",
                    "--save_dir", save.path]
        let first = try launch(ranks: nil, base + ["--max_capacity_prompt", "64"])
        XCTAssertEqual(finish(first), 0, first.standardError)

        let second = try launch(ranks: nil, base + ["--max_capacity_prompt", "96"])
        XCTAssertEqual(finish(second), 1, second.standardError)
        XCTAssertTrue(second.standardError.contains("max_capacity_prompts: '64' -> '96'"), second.standardError)
        XCTAssertEqual(try records(save).count, 1)
    }

    // MARK: Sweep

    func testSweepWritesOneDirectoryPerRun() throws {
        let job = directory.appendingPathComponent("job.json")
        let save = directory.appendingPathComponent("sweep")
        let text = """
            {"benchmark": "needle", "save_dir": "\(save.path)",
             "settings": {"s_len": 800, "e_len": 800, "depth_intervals": 2},
             "grid": {"methods": ["full", "streamingllm"], "budgets": [64]}}
            """
        try Data(text.utf8).write(to: job)
        let run = try launch(ranks: 2, ["sweep", job.path])
        XCTAssertEqual(finish(run), 0, run.standardError)
        for name in ["fullkv_full", "streamingllm_64"] {
            let ids = try records(save.appendingPathComponent(name)).compactMap { $0["id"] as? String }
            XCTAssertEqual(Set(ids), ["len_800_depth_0", "len_800_depth_100"], name)
            XCTAssertTrue(FileManager.default.fileExists(atPath: save.appendingPathComponent("\(name)/heatmap.png").path), name)
        }
        let record = try XCTUnwrap(try records(save.appendingPathComponent("streamingllm_64")).first)
        XCTAssertEqual(record["max_capacity_prompt"] as? Int, 64)
    }

    // MARK: Bad input

    func testStartAboveEndRejected() throws {
        let save = directory.appendingPathComponent("bad")
        let errors = try rejected(["needle", "--s_len", "2000", "--e_len", "1000", "--save_dir", save.path], ranks: 2)
        XCTAssertTrue(errors.contains("--s_len is above --e_len"), errors)
        XCTAssertEqual(errors.components(separatedBy: "--s_len is above").count, 2, "one message, not one per rank")
        XCTAssertFalse(FileManager.default.fileExists(atPath: save.path))
    }

    func testMissingHaystackRejected() throws {
        let save = directory.appendingPathComponent("bad")
        let missing = directory.appendingPathComponent("no-essays").path
        let errors = try rejected(["needle", "--s_len", "800", "--e_len", "800", "--haystack_dir", missing, "--save_dir", save.path])
        XCTAssertTrue(errors.contains("haystack directory not found: \(missing)"), errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: save.path))
    }

    func testEmptyHaystackRejected() throws {
        let save = directory.appendingPathComponent("bad")
        let empty = directory.appendingPathComponent("empty-essays")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let errors = try rejected(["needle", "--s_len", "800", "--e_len", "800", "--haystack_dir", empty.path, "--save_dir", save.path])
        XCTAssertTrue(errors.contains("contains no non-empty .txt files"), errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: save.path))
    }

    func testLengthBeyondModelContextRejected() throws {
        let save = directory.appendingPathComponent("bad")
        let errors = try rejected(["needle", "--s_len", "1000", "--e_len", "9000", "--step", "8000", "--save_dir", save.path], ranks: 2)
        XCTAssertTrue(errors.contains("--e_len 9000 exceeds the context length"), errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: save.path))
    }

    func testMissingHeadTableRejected() throws {
        let save = directory.appendingPathComponent("bad")
        let table = directory.appendingPathComponent("no-table.json").path
        let errors = try rejected(["needle", "--s_len", "800", "--e_len", "800", "--method", "headkv", "--head_path", table,
                                   "--save_dir", save.path])
        XCTAssertTrue(errors.contains("head-score table not found: \(table)"), errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: save.path))
    }

    func testMalformedJobFileRejected() throws {
        let job = directory.appendingPathComponent("job.json")
        try Data(#"{"benchmark": "needle", "save_dir": "x", "grid": {"methods": ["snapkv"], "budgets": ["big"]}}"#.utf8).write(to: job)
        let errors = try rejected(["sweep", job.path])
        XCTAssertTrue(errors.contains("grid.budgets: budget \"big\" is not a positive integer"), errors)
    }

    func testUnknownJobFieldRejected() throws {
        let job = directory.appendingPathComponent("job.json")
        try Data(#"{"benchmark": "needle", "save_dir": "x", "run": []}"#.utf8).write(to: job)
        let errors = try rejected(["sweep", job.path])
        XCTAssertTrue(errors.contains("unknown field \"run\""), errors)
    }

    func testShippedJobFileValid() throws {
        let run = try launch(ranks: nil, ["sweep", "jobs/needle-smollm2.json", "--dry_run"])
        XCTAssertEqual(finish(run), 0, run.standardError)
        XCTAssertTrue(run.standardOutput.contains("3 runs, 60 cells"), run.standardOutput)
        for name in ["fullkv_full", "snapkv_128", "streamingllm_128"] {
            XCTAssertTrue(run.standardOutput.contains("results/needle-smollm2/\(name):"), run.standardOutput)
        }
    }
}
