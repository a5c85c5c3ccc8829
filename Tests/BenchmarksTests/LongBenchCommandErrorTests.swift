import Foundation
import XCTest

/// Bad input to `kvfactory longbench` and `kvfactory score`: each gets a clear error, and no result file
/// is left behind.
final class LongBenchCommandErrorTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("longbench-errors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func write(_ text: String, to path: String) throws {
        let url = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }

    private let config = """
        {"hotpotqa": "Passages: {context}\\nQuestion: {input}\\nAnswer:"}
        """
    private let maxLengths = #"{"hotpotqa": 32}"#
    private let validLine = #"{"input": "Q", "context": "C", "answers": ["A"], "length": 1, "dataset": "hotpotqa", "language": "en", "all_classes": null, "_id": "x1"}"#

    private func longbench(_ extra: [String]) throws -> KVFactoryProcess.Output {
        _ = try LongBenchFixtures.tokenizer()
        return try KVFactoryProcess.run(["longbench", "--method", "snapkv", "--save_dir", "out", "--data_dir", "data",
                                         "--model_path", LongBenchFixtures.modelPath] + extra, in: directory)
    }

    private func assertNoOutput(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path),
                       "the run created \(directory.appendingPathComponent("out").path)", file: file, line: line)
    }

    func testUnknownDatasetRejected() throws {
        try write(validLine + "\n", to: "data/hotpotqa.jsonl")
        let result = try longbench(["--datasets", "hotpotqa,hotpot_qa"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.standardError.contains("unknown LongBench dataset \"hotpot_qa\""), result.standardError)
        assertNoOutput()
    }

    func testMalformedLineNamesFileAndLine() throws {
        try write(config, to: "data/config/dataset2prompt.json")
        try write(maxLengths, to: "data/config/dataset2maxlen.json")
        try write(validLine + "\n{\"input\": \"Q\", \"context\": \n", to: "data/hotpotqa.jsonl")
        let result = try longbench(["--datasets", "hotpotqa"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("data/hotpotqa.jsonl:2: invalid JSON line"), result.standardError)
        assertNoOutput()
    }

    func testMissingFieldNamesLine() throws {
        try write(config, to: "data/config/dataset2prompt.json")
        try write(maxLengths, to: "data/config/dataset2maxlen.json")
        try write(validLine + "\n" + validLine.replacingOccurrences(of: #""_id": "x1""#, with: #""id": "x2""#) + "\n",
                  to: "data/hotpotqa.jsonl")
        let result = try longbench(["--datasets", "hotpotqa"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("data/hotpotqa.jsonl:2: missing field \"_id\""), result.standardError)
        assertNoOutput()
    }

    func testMissingConfigRejected() throws {
        try write(validLine + "\n", to: "data/hotpotqa.jsonl")
        let result = try longbench(["--datasets", "hotpotqa"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("file not found: "), result.standardError)
        XCTAssertTrue(result.standardError.contains("config/dataset2prompt.json"), result.standardError)
        assertNoOutput()
    }

    func testDatasetMissingFromConfigRejected() throws {
        try write(#"{"qasper": "{context}{input}"}"#, to: "data/config/dataset2prompt.json")
        try write(maxLengths, to: "data/config/dataset2maxlen.json")
        try write(validLine + "\n", to: "data/hotpotqa.jsonl")
        let result = try longbench(["--datasets", "hotpotqa"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("no prompt template for dataset \"hotpotqa\""), result.standardError)
        assertNoOutput()
    }

    func testMaxLengthBeyondContextRejected() throws {
        try write(config, to: "data/config/dataset2prompt.json")
        try write(maxLengths, to: "data/config/dataset2maxlen.json")
        try write(validLine + "\n", to: "data/hotpotqa.jsonl")
        let result = try longbench(["--datasets", "hotpotqa", "--max_length", "9000"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.standardError.contains("--max_length 9000 does not fit the context length"), result.standardError)
        assertNoOutput()
    }

    func testScoreRejectsMissingField() throws {
        let line = #"{"pred": "A", "answers": ["A"], "all_classes": null, "_id": "x1"}"#
        try write(line + "\n" + line.replacingOccurrences(of: #""pred": "A", "#, with: "") + "\n", to: "run/hotpotqa/SnapKV.json")
        let result = try KVFactoryProcess.run(["score", "--results_dir", "run"], in: directory)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("run/hotpotqa/SnapKV.json:2: missing field \"pred\""), result.standardError)
        XCTAssertTrue(result.standardError.contains("nothing was written"), result.standardError)
        XCTAssertEqual(KVFactoryProcess.files(under: directory.appendingPathComponent("run")), ["hotpotqa/SnapKV.json"])
    }

    func testScoreRejectsEmptyFolder() throws {
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("run"), withIntermediateDirectories: true)
        let result = try KVFactoryProcess.run(["score", "--results_dir", "run"], in: directory)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("no prediction file found"), result.standardError)
    }
}
