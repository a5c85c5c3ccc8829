import Foundation
import XCTest
@testable import Benchmarks

final class ScoreReportTests: XCTestCase {
    private var resultsDirectory: URL!

    override func setUpWithError() throws {
        resultsDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("longbench-results-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: resultsDirectory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: resultsDirectory)
    }

    /// Writes predictions as the reference runner does: JSONL with the record fields.
    @discardableResult
    private func writePredictions(dataset: String, file: String, predictions: [String], answers: [[String]],
                                  allClasses: [String]? = nil) throws -> String {
        let folder = resultsDirectory.appendingPathComponent(dataset)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var lines = [String]()
        for (index, (prediction, truths)) in zip(predictions, answers).enumerated() {
            let record: [String: Any] = [
                "prompt": "p", "input": "", "context": "", "answers": truths, "pred": prediction,
                "length": 100 + index, "dataset": dataset, "language": "en",
                "all_classes": allClasses.map { $0 as Any } ?? NSNull(), "_id": "id\(index)",
            ]
            let data = try JSONSerialization.data(withJSONObject: record)
            lines.append(String(decoding: data, as: UTF8.self))
        }
        let path = folder.appendingPathComponent(file).path
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func writeRaw(dataset: String, file: String, _ text: String) throws -> String {
        let folder = resultsDirectory.appendingPathComponent(dataset)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent(file).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    private var resultFilesExist: Bool {
        let manager = FileManager.default
        return manager.fileExists(atPath: resultsDirectory.appendingPathComponent("results.json").path)
            || manager.fileExists(atPath: resultsDirectory.appendingPathComponent("results.csv").path)
    }

    func testGoldenDatasetScoresThroughFiles() throws {
        let golden = try MetricFixtures.longBench.get()
        for item in golden.datasetScores {
            try writePredictions(dataset: item.dataset, file: "SnapKV.json", predictions: item.predictions,
                                 answers: item.answers, allClasses: item.allClasses)
        }
        let report = try ScoreReport.scoreResultsDirectory(resultsDirectory.path)
        let snapKV = try XCTUnwrap(report.methods.first)
        XCTAssertEqual(snapKV.method, "SnapKV")
        for item in golden.datasetScores {
            XCTAssertEqual(snapKV.datasetScores[item.dataset], item.expected, item.dataset)
        }
        XCTAssertEqual(snapKV.datasetsAveraged, golden.datasetScores.count)
    }

    func testMethodsMatchCaseInsensitively() throws {
        try writePredictions(dataset: "hotpotqa", file: "snapkv.json", predictions: ["Paris"], answers: [["Paris"]])
        try writePredictions(dataset: "hotpotqa", file: "FULLKV.json", predictions: ["London"], answers: [["Paris"]])
        try writePredictions(dataset: "hotpotqa", file: "random.json", predictions: ["x"], answers: [["Paris"]])
        try writePredictions(dataset: "qasper", file: "SnapKV.json", predictions: ["yes", "no"], answers: [["yes"], ["yes"]])

        let report = try ScoreReport.scoreResultsDirectory(resultsDirectory.path)
        XCTAssertEqual(report.methods.map(\.method), ["FullKV", "SnapKV"])
        XCTAssertEqual(report.datasets, ["qasper", "hotpotqa"])
        XCTAssertEqual(report.methods[1].datasetScores, ["hotpotqa": 100.0, "qasper": 50.0])
        XCTAssertEqual(report.methods[1].average, 75.0)
        XCTAssertEqual(report.methods[1].datasetsAveraged, 2)
        XCTAssertEqual(report.methods[0].datasetScores, ["hotpotqa": 0.0])
        XCTAssertTrue(report.ignoredPaths.contains { $0.hasSuffix("hotpotqa/random.json") }, "\(report.ignoredPaths)")
    }

    func testWriteProducesJSONAndCSV() throws {
        try writePredictions(dataset: "hotpotqa", file: "SnapKV.json", predictions: ["Paris", "Rome"], answers: [["Paris"], ["Paris"]])
        try writePredictions(dataset: "passage_count", file: "SnapKV.json", predictions: ["3"], answers: [["3"]])
        try writePredictions(dataset: "passage_count", file: "H2O.json", predictions: ["4"], answers: [["3"]])
        let report = try ScoreReport.scoreResultsDirectory(resultsDirectory.path)
        try report.write(to: resultsDirectory.path)

        let jsonData = try Data(contentsOf: resultsDirectory.appendingPathComponent("results.json"))
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: jsonData) as? [String: [String: Double]])
        XCTAssertEqual(json["SnapKV"]?["hotpotqa"], 50.0)
        XCTAssertEqual(json["SnapKV"]?["passage_count"], 100.0)
        XCTAssertEqual(json["SnapKV"]?["average"], 75.0)
        XCTAssertEqual(json["SnapKV"]?["datasets_averaged"], 2)
        XCTAssertEqual(json["H2O"]?["passage_count"], 0.0)
        XCTAssertNil(json["H2O"]?["hotpotqa"])

        let csv = try String(contentsOf: resultsDirectory.appendingPathComponent("results.csv"), encoding: .utf8)
        XCTAssertEqual(csv, """
            method,hotpotqa,passage_count,average,datasets_averaged
            SnapKV,50.0,100.0,75.0,2
            H2O,,0.0,0.0,1

            """)
    }

    func testMissingFieldFailsWithoutWriting() throws {
        try writePredictions(dataset: "hotpotqa", file: "SnapKV.json", predictions: ["Paris"], answers: [["Paris"]])
        let path = try writeRaw(dataset: "qasper", file: "SnapKV.json",
                                #"{"pred": "yes", "answers": ["yes"], "all_classes": null}"# + "\n" + #"{"answers": ["yes"], "all_classes": null}"# + "\n")
        XCTAssertThrowsError(try ScoreReport.scoreResultsDirectory(resultsDirectory.path)) { error in
            XCTAssertEqual(error as? BenchmarkError, .missingField(path: path, line: 2, field: "pred"))
            XCTAssertTrue("\(error)".contains("\(path):2"), "\(error)")
        }
        XCTAssertFalse(resultFilesExist)
    }

    func testMissingClassListFieldIsRejected() throws {
        let path = try writeRaw(dataset: "hotpotqa", file: "SnapKV.json", #"{"pred": "yes", "answers": ["yes"]}"# + "\n")
        XCTAssertThrowsError(try ScoreReport.scoreResultsDirectory(resultsDirectory.path)) { error in
            XCTAssertEqual(error as? BenchmarkError, .missingField(path: path, line: 1, field: "all_classes"))
        }
    }

    func testMalformedLineIsReportedWithLine() throws {
        let path = try writeRaw(dataset: "hotpotqa", file: "SnapKV.json",
                                #"{"pred": "yes", "answers": ["yes"], "all_classes": null}"# + "\n" + #"{"pred": "yes", "answ"# + "\n")
        XCTAssertThrowsError(try ScoreReport.scoreResultsDirectory(resultsDirectory.path)) { error in
            guard case .malformedLine(let errorPath, let line, _)? = error as? BenchmarkError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(errorPath, path)
            XCTAssertEqual(line, 2)
        }
        XCTAssertFalse(resultFilesExist)
    }

    func testEmptyPredictionFileIsRejected() throws {
        let path = try writeRaw(dataset: "hotpotqa", file: "SnapKV.json", "\n")
        XCTAssertThrowsError(try ScoreReport.scoreResultsDirectory(resultsDirectory.path)) { error in
            XCTAssertEqual(error as? BenchmarkError, .emptyFile(path: path))
        }
    }

    func testJiebaDatasetFolderIsRejected() throws {
        try writePredictions(dataset: "hotpotqa", file: "SnapKV.json", predictions: ["Paris"], answers: [["Paris"]])
        try writePredictions(dataset: "dureader", file: "SnapKV.json", predictions: ["北京"], answers: [["北京"]])
        XCTAssertThrowsError(try ScoreReport.scoreResultsDirectory(resultsDirectory.path)) { error in
            XCTAssertTrue("\(error)".contains("not supported yet"), "\(error)")
            XCTAssertTrue("\(error)".contains("dureader"), "\(error)")
        }
    }

    func testDuplicateMethodFilesAreRejected() throws {
        try writePredictions(dataset: "hotpotqa", file: "SnapKV.json", predictions: ["Paris"], answers: [["Paris"]])
        try writePredictions(dataset: "hotpotqa", file: "snapkv.json", predictions: ["Paris"], answers: [["Paris"]])
        XCTAssertThrowsError(try ScoreReport.scoreResultsDirectory(resultsDirectory.path)) { error in
            guard case .duplicateMethodFiles(_, let method, let files)? = error as? BenchmarkError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(method, "SnapKV")
            XCTAssertEqual(files.count, 2)
        }
    }

    func testRetrievalWithoutParagraphNamesLine() throws {
        let path = try writePredictions(dataset: "passage_retrieval_en", file: "SnapKV.json",
                                        predictions: ["Paragraph 1", "Paragraph 2"], answers: [["Paragraph 1"], ["two"]])
        XCTAssertThrowsError(try ScoreReport.scoreResultsDirectory(resultsDirectory.path)) { error in
            guard case .scoringFailed(let errorPath, let line, _)? = error as? BenchmarkError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(errorPath, path)
            XCTAssertEqual(line, 2)
        }
    }

    func testDirectoryWithoutPredictionsIsRejected() throws {
        XCTAssertThrowsError(try ScoreReport.scoreResultsDirectory(resultsDirectory.path)) { error in
            XCTAssertTrue("\(error)".contains("no prediction file found"), "\(error)")
        }
        XCTAssertThrowsError(try ScoreReport.scoreResultsDirectory(resultsDirectory.path + "/absent")) { error in
            guard case .fileNotFound? = error as? BenchmarkError else {
                return XCTFail("unexpected error \(error)")
            }
        }
    }

    func testClassesComeFromLastLine() throws {
        // eval.py keeps the class list of the last line read for the whole dataset.
        let folder = resultsDirectory.appendingPathComponent("trec")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let text = #"{"pred": "City", "answers": ["City"], "all_classes": null}"# + "\n"
            + #"{"pred": "City", "answers": ["City"], "all_classes": ["City", "Country"]}"# + "\n"
        try Data(text.utf8).write(to: folder.appendingPathComponent("CAM.json"))
        let report = try ScoreReport.scoreResultsDirectory(resultsDirectory.path)
        XCTAssertEqual(report.methods.first?.datasetScores["trec"], 100.0)
    }
}
