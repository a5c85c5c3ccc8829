import Foundation
import XCTest
@testable import Benchmarks

final class LongBenchDataTests: XCTestCase {
    private var temporaryDirectory: URL!

    override func setUpWithError() throws {
        temporaryDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("longbench-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporaryDirectory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: temporaryDirectory)
    }

    private func writeFile(_ name: String, _ text: String) throws -> String {
        let url = temporaryDirectory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    private let validLine = #"{"input": "Q", "context": "C", "answers": ["A"], "length": 12, "dataset": "hotpotqa", "language": "en", "all_classes": null, "_id": "x1"}"#

    func testRealDatasetsLoad() throws {
        let directory = MetricFixtures.longBenchDirectory
        guard FileManager.default.fileExists(atPath: directory) else {
            throw XCTSkip("LongBench data not found at \(directory)")
        }
        var missing = [String]()
        for dataset in LongBenchDataset.englishDatasets {
            let path = LongBenchDataset.path(dataset: dataset, dataDirectory: directory)
            guard FileManager.default.fileExists(atPath: path) else {
                missing.append(dataset)
                continue
            }
            let records = try LongBenchDataset.load(path: path)
            XCTAssertEqual(records.count, dataset == "multifieldqa_en" ? 150 : 200, dataset)
            XCTAssertTrue(records.allSatisfy { $0.dataset == dataset }, dataset)
            XCTAssertTrue(records.allSatisfy { $0.language == "en" }, dataset)
            XCTAssertTrue(records.allSatisfy { !$0.answers.isEmpty }, dataset)
            XCTAssertTrue(records.allSatisfy { $0.id.count == 48 }, dataset)
        }
        if !missing.isEmpty {
            print("LongBench datasets not present in \(directory): \(missing.joined(separator: ", "))")
        }
        XCTAssertLessThan(missing.count, LongBenchDataset.englishDatasets.count, "no English dataset found in \(directory)")
    }

    func testRealConfigLoads() throws {
        let directory = MetricFixtures.longBenchDirectory
        guard FileManager.default.fileExists(atPath: directory + "/config") else {
            throw XCTSkip("LongBench config not found under \(directory)")
        }
        let config = try LongBenchConfig.load(dataDirectory: directory)
        XCTAssertEqual(try config.maxNewTokens(for: "gov_report"), 512)
        XCTAssertEqual(try config.maxNewTokens(for: "hotpotqa"), 32)
        for dataset in LongBenchDataset.englishDatasets {
            XCTAssertNoThrow(try config.promptTemplate(for: dataset), dataset)
        }
        // The reference keeps the older narrativeqa template with "asconcisely".
        XCTAssertTrue(try config.promptTemplate(for: "narrativeqa").contains("asconcisely"))
    }

    func testRealPromptFormats() throws {
        let directory = MetricFixtures.longBenchDirectory
        let path = LongBenchDataset.path(dataset: "hotpotqa", dataDirectory: directory)
        guard FileManager.default.fileExists(atPath: path), FileManager.default.fileExists(atPath: directory + "/config") else {
            throw XCTSkip("hotpotqa or the LongBench config not found under \(directory)")
        }
        let record = try XCTUnwrap(try LongBenchDataset.load(path: path).first)
        let prompt = try LongBenchConfig.load(dataDirectory: directory).prompt(for: record)
        XCTAssertTrue(prompt.hasSuffix("Question: \(record.input)\nAnswer:"))
        XCTAssertTrue(prompt.contains(record.context))
    }

    func testValidLineLoads() throws {
        let path = try writeFile("valid.jsonl", validLine + "\n\n" + validLine.replacingOccurrences(of: "null", with: #"["a", "b"]"#) + "\n")
        let records = try LongBenchDataset.load(path: path)
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records[0].allClasses, nil)
        XCTAssertEqual(records[1].allClasses, ["a", "b"])
        XCTAssertEqual(records[0].length, 12)
        XCTAssertEqual(records[0].id, "x1")
    }

    func testMissingFieldNamesFileLineAndField() throws {
        let broken = validLine.replacingOccurrences(of: #""context": "C", "#, with: "")
        let path = try writeFile("missing.jsonl", validLine + "\n" + broken + "\n")
        XCTAssertThrowsError(try LongBenchDataset.load(path: path)) { error in
            XCTAssertEqual(error as? BenchmarkError, .missingField(path: path, line: 2, field: "context"))
        }
    }

    func testWrongTypeNamesField() throws {
        let broken = validLine.replacingOccurrences(of: #""length": 12"#, with: #""length": "12""#)
        let path = try writeFile("type.jsonl", broken)
        XCTAssertThrowsError(try LongBenchDataset.load(path: path)) { error in
            XCTAssertEqual(error as? BenchmarkError, .invalidField(path: path, line: 1, field: "length", expected: "an integer"))
        }
    }

    func testMalformedLineNamesFileAndLine() throws {
        let path = try writeFile("malformed.jsonl", validLine + "\n" + validLine + "\n{\"input\": \n")
        XCTAssertThrowsError(try LongBenchDataset.load(path: path)) { error in
            guard case .malformedLine(let errorPath, let line, _)? = error as? BenchmarkError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(errorPath, path)
            XCTAssertEqual(line, 3)
        }
    }

    func testNonObjectLineIsMalformed() throws {
        let path = try writeFile("array.jsonl", "[1, 2]\n")
        XCTAssertThrowsError(try LongBenchDataset.load(path: path)) { error in
            XCTAssertTrue("\(error)".contains("not a JSON object"), "\(error)")
        }
    }

    func testMissingDatasetFileIsNamed() {
        let path = temporaryDirectory.appendingPathComponent("trec.jsonl").path
        XCTAssertThrowsError(try LongBenchDataset.load(dataset: "trec", dataDirectory: temporaryDirectory.path)) { error in
            guard case .fileNotFound(let errorPath, _)? = error as? BenchmarkError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(errorPath, path)
        }
    }

    func testMissingConfigFileIsNamed() throws {
        _ = try writeFile("config/dataset2prompt.json", #"{"hotpotqa": "{context} {input}"}"#)
        XCTAssertThrowsError(try LongBenchConfig.load(dataDirectory: temporaryDirectory.path)) { error in
            guard case .fileNotFound(let path, _)? = error as? BenchmarkError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(path.hasSuffix("config/dataset2maxlen.json"), path)
        }
    }

    func testInvalidConfigIsRejected() throws {
        _ = try writeFile("config/dataset2prompt.json", #"{"hotpotqa": "{context} {input}"}"#)
        _ = try writeFile("config/dataset2maxlen.json", #"{"hotpotqa": "32"}"#)
        XCTAssertThrowsError(try LongBenchConfig.load(dataDirectory: temporaryDirectory.path)) { error in
            guard case .invalidConfig(let path, _)? = error as? BenchmarkError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertTrue(path.hasSuffix("dataset2maxlen.json"), path)
        }
    }

    func testConfigLookupOfUnknownDataset() throws {
        _ = try writeFile("config/dataset2prompt.json", #"{"hotpotqa": "{context} {input}"}"#)
        _ = try writeFile("config/dataset2maxlen.json", #"{"hotpotqa": 32}"#)
        let config = try LongBenchConfig.load(dataDirectory: temporaryDirectory.path)
        XCTAssertEqual(try config.maxNewTokens(for: "hotpotqa"), 32)
        XCTAssertThrowsError(try config.promptTemplate(for: "trec"))
        XCTAssertThrowsError(try config.maxNewTokens(for: "trec"))
    }
}
