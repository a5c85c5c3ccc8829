import Foundation
import XCTest
@testable import Benchmarks

final class LongBenchPredictionTests: XCTestCase {
    private struct DumpCase: Decodable {
        struct Record: Decodable {
            var prompt: String
            var input: String
            var context: String
            var answers: [String]
            var pred: String
            var length: Int
            var dataset: String
            var language: String
            var all_classes: [String]?
            var _id: String
            var kv_cache_bytes: Int
            var prefill_s: Double
            var decode_s: Double
        }

        var record: Record
        var line: String
    }

    private struct DumpFixture: Decodable {
        var cases: [DumpCase]
    }

    func testLineMatchesPythonJSONDumps() throws {
        let fixture = try LongBenchFixtures.load(DumpFixture.self, "json_dumps.json")
        XCTAssertEqual(fixture.cases.count, 2)
        for entry in fixture.cases {
            let fields = entry.record
            let record = LongBenchRecord(input: fields.input, context: fields.context, answers: fields.answers,
                                         length: fields.length, dataset: fields.dataset, language: fields.language,
                                         allClasses: fields.all_classes, id: fields._id)
            let prediction = LongBenchPrediction(record: record, prompt: fields.prompt, prediction: fields.pred,
                                                 kvCacheBytes: fields.kv_cache_bytes, prefillSeconds: fields.prefill_s,
                                                 decodeSeconds: fields.decode_s)
            XCTAssertEqual(prediction.jsonLine(), entry.line)
        }
    }

    func testSummaryDecodesLine() throws {
        let record = LongBenchRecord(input: "Q", context: "C", answers: ["Paris"], length: 3, dataset: "hotpotqa",
                                     language: "en", allClasses: nil, id: "id-1")
        let line = LongBenchPrediction(record: record, prompt: "P", prediction: "Paris", kvCacheBytes: 10,
                                       prefillSeconds: 0.5, decodeSeconds: 0.25).jsonLine()
        let summary = try LongBenchPredictionSummary.decode(Data(line.utf8), path: "p.json", line: 1)
        XCTAssertEqual(summary.id, "id-1")
        XCTAssertEqual(summary.dataset, "hotpotqa")
        XCTAssertEqual(summary.prediction, "Paris")
        XCTAssertEqual(try summary.score(), 1)
    }

    func testSummaryNamesMissingField() {
        let line = Data(#"{"pred": "x", "answers": ["y"], "all_classes": null, "dataset": "hotpotqa"}"#.utf8)
        XCTAssertThrowsError(try LongBenchPredictionSummary.decode(line, path: "run/p.json", line: 7)) { error in
            XCTAssertEqual(error as? BenchmarkError, .missingField(path: "run/p.json", line: 7, field: "_id"))
        }
    }

    func testSummaryRejectsMalformedLine() {
        XCTAssertThrowsError(try LongBenchPredictionSummary.decode(Data("{\"_id\": ".utf8), path: "p.json", line: 2)) { error in
            guard case .malformedLine(let path, let line, _) = error as? BenchmarkError else {
                return XCTFail("expected malformedLine, got \(error)")
            }
            XCTAssertEqual(path, "p.json")
            XCTAssertEqual(line, 2)
        }
    }

    func testFileWriteReplacesWholeFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("longbench-pred-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("hotpotqa/SnapKV.json").path

        try LongBenchPredictionFile.write(lines: ["{\"a\": 1}", "{\"a\": 2}", "{\"a\": 3}"], to: path)
        try LongBenchPredictionFile.write(lines: ["{\"a\": 4}"], to: path)

        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "{\"a\": 4}\n")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("hotpotqa").path)
        XCTAssertEqual(leftovers, ["SnapKV.json"])
    }
}
