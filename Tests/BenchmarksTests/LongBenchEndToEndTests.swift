import Foundation
import XCTest
@testable import Benchmarks

/// Runs `kvfactory longbench` and `kvfactory score` on the default model and the official data: two samples
/// of two datasets, then a resume, then the scores.
final class LongBenchEndToEndTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("longbench-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testGenerateResumeAndScore() throws {
        _ = try LongBenchFixtures.tokenizer()
        let dataDirectory = try LongBenchFixtures.requireData()
        let datasets = ["hotpotqa", "triviaqa"]
        for dataset in datasets where !FileManager.default.fileExists(atPath: "\(dataDirectory)/\(dataset).jsonl") {
            throw XCTSkip("\(dataset).jsonl is absent from \(dataDirectory)")
        }
        // A short --max_length keeps the test fast in debug builds; hotpotqa gets the chat template,
        // triviaqa does not.
        let arguments = ["longbench", "--method", "snapkv", "--max_capacity_prompts", "64", "--datasets", datasets.joined(separator: ","),
                         "--max_num_examples", "2", "--max_length", "256", "--data_dir", dataDirectory, "--save_dir", "out",
                         "--model_path", LongBenchFixtures.modelPath, "--dtype", "float16"]

        let first = try KVFactoryProcess.run(arguments, in: directory)
        XCTAssertEqual(first.status, 0, first.standardError)
        XCTAssertTrue(first.standardError.contains("--dtype float16 has no effect"), first.standardError)
        XCTAssertTrue(first.standardOutput.contains("4 samples generated now, 0 recorded before"), first.standardOutput)

        let run = directory.appendingPathComponent("out/smollm2-135m-instruct.q4_1_64")
        XCTAssertEqual(KVFactoryProcess.files(under: run), [
            "hotpotqa/SnapKV.json", "runs/SnapKV/results.jsonl", "runs/SnapKV/run_meta.json", "runs/SnapKV/run_options.json",
            "triviaqa/SnapKV.json",
        ])
        let records = try LongBenchDataset.load(dataset: "hotpotqa", dataDirectory: dataDirectory)
        let hotpotPath = run.appendingPathComponent("hotpotqa/SnapKV.json").path
        let lines = try String(contentsOfFile: hotpotPath, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for (line, record) in zip(lines, records) {
            let prediction = try LongBenchPrediction.decode(Data(line.utf8), path: hotpotPath, line: 1)
            XCTAssertEqual(prediction.record, record)
            XCTAssertFalse(prediction.prediction.isEmpty)
            XCTAssertGreaterThan(prediction.kvCacheBytes, 0)
            XCTAssertGreaterThan(prediction.prefillSeconds, 0)
            XCTAssertEqual(String(line), prediction.jsonLine())
        }
        let meta = try String(contentsOf: run.appendingPathComponent("runs/SnapKV/run_meta.json"), encoding: .utf8)
        XCTAssertTrue(meta.contains("\"chat_template\" : \"auto\""), meta)
        XCTAssertTrue(meta.contains("\"max_length\" : \"256\""), meta)
        let before = try Data(contentsOf: URL(fileURLWithPath: hotpotPath))

        let second = try KVFactoryProcess.run(arguments, in: directory)
        XCTAssertEqual(second.status, 0, second.standardError)
        XCTAssertTrue(second.standardOutput.contains("0 samples generated now, 4 recorded before"), second.standardOutput)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: hotpotPath)), before)

        let score = try KVFactoryProcess.run(["score", "--results_dir", run.path], in: directory)
        XCTAssertEqual(score.status, 0, score.standardError)
        XCTAssertTrue(score.standardOutput.contains("hotpotqa"), score.standardOutput)
        XCTAssertTrue(score.standardOutput.contains("SnapKV"), score.standardOutput)
        XCTAssertEqual(score.standardError, "")
        let report = try ScoreReport.scoreResultsDirectory(run.path)
        XCTAssertEqual(report.datasets, datasets)
        XCTAssertEqual(report.methods.map(\.method), ["SnapKV"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("results.json").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("results.csv").path))
    }

    func testSweepWritesAggregate() throws {
        _ = try LongBenchFixtures.tokenizer()
        let dataDirectory = try LongBenchFixtures.requireData()
        guard FileManager.default.fileExists(atPath: "\(dataDirectory)/samsum.jsonl") else {
            throw XCTSkip("samsum.jsonl is absent from \(dataDirectory)")
        }
        let job = """
            {"benchmark": "longbench", "save_dir": "sweep", "model_path": "\(LongBenchFixtures.modelPath)",
             "settings": {"datasets": "samsum", "max_num_examples": 10},
             "grid": {"methods": ["fullkv", "streamingllm"], "budgets": [32, 64]}}
            """
        try Data(job.utf8).write(to: directory.appendingPathComponent("job.json"))

        let result = try KVFactoryProcess.run(["sweep", "job.json", "--data_dir", dataDirectory, "--max_num_examples", "1",
                                               "--max_length", "200"], in: directory)
        XCTAssertEqual(result.status, 0, result.standardError)

        let sweep = directory.appendingPathComponent("sweep")
        let files = KVFactoryProcess.files(under: sweep)
        for expected in ["smollm2-135m-instruct.q4_1_full/samsum/FullKV.json", "smollm2-135m-instruct.q4_1_32/samsum/StreamingLLM.json",
                         "smollm2-135m-instruct.q4_1_64/samsum/StreamingLLM.json", "sweep.png", "sweep.svg", "sweep_results.csv",
                         "sweep_results.md"] {
            XCTAssertTrue(files.contains(expected), "\(expected) missing from \(files)")
        }
        let csv = try String(contentsOf: sweep.appendingPathComponent("sweep_results.csv"), encoding: .utf8)
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        XCTAssertEqual(rows.first, ["method", "budget", "samsum", "average"])
        XCTAssertEqual(rows.dropFirst().map { "\($0[0]) \($0[1])" }, ["FullKV full", "StreamingLLM 32", "StreamingLLM 64"])
        for row in rows.dropFirst() {
            XCTAssertEqual(row[2], row[3], "one dataset: the average is its score")
        }
        let lines = try String(contentsOf: sweep.appendingPathComponent("smollm2-135m-instruct.q4_1_full/samsum/FullKV.json"),
                               encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "--max_num_examples on the command line overrides the job's 10")
    }
}
