import XCTest
@testable import Benchmarks

final class LongBenchMetricTests: XCTestCase {
    private func fixture() throws -> MetricFixtures.LongBench {
        try MetricFixtures.longBench.get()
    }

    /// Checks every golden case of `metric`; cases where Python raises must throw.
    private func checkGolden(_ cases: [MetricFixtures.MetricCase], _ metric: LongBenchMetric,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertGreaterThanOrEqual(cases.count, 6, file: file, line: line)
        for (index, golden) in cases.enumerated() {
            let label = "case \(index): prediction \(shown(golden.prediction)), ground truth \(shown(golden.groundTruth))"
            do {
                let score = try metric.score(prediction: golden.prediction, groundTruth: golden.groundTruth,
                                             allClasses: golden.allClasses)
                if let expected = golden.expected {
                    XCTAssertEqual(score, expected, label, file: file, line: line)
                } else {
                    XCTFail("\(label): expected \(golden.error ?? "an error"), got \(score)", file: file, line: line)
                }
            } catch {
                XCTAssertNotNil(golden.error, "\(label): unexpected error \(error)", file: file, line: line)
            }
        }
    }

    func testQAF1MatchesGolden() throws {
        checkGolden(try fixture().qaF1, .qaF1)
    }

    func testRougeLMatchesGolden() throws {
        checkGolden(try fixture().rougeL, .rougeL)
    }

    func testClassificationMatchesGolden() throws {
        checkGolden(try fixture().classification, .classification)
    }

    func testRetrievalMatchesGolden() throws {
        checkGolden(try fixture().retrieval, .retrieval)
    }

    func testChineseRetrievalMatchesGolden() throws {
        checkGolden(try fixture().retrievalZh, .retrievalChinese)
    }

    func testCountMatchesGolden() throws {
        checkGolden(try fixture().count, .count)
    }

    func testCodeSimilarityMatchesGolden() throws {
        checkGolden(try fixture().codeSim, .codeSimilarity)
    }

    func testGoldenCaseCounts() throws {
        let golden = try fixture()
        for (name, cases) in [("qa_f1", golden.qaF1), ("rouge_l", golden.rougeL), ("classification", golden.classification),
                              ("retrieval", golden.retrieval), ("count", golden.count), ("code_sim", golden.codeSim)] {
            XCTAssertGreaterThanOrEqual(cases.count, 20, name)
        }
    }

    func testDatasetScoresMatchEvalScript() throws {
        for golden in try fixture().datasetScores {
            var total = 0.0
            for (prediction, answers) in zip(golden.predictions, golden.answers) {
                total += try LongBenchMetric.score(dataset: golden.dataset, prediction: prediction,
                                                   answers: answers, allClasses: golden.allClasses)
            }
            let score = PythonText.round(100 * total / Double(golden.predictions.count), digits: 2)
            XCTAssertEqual(score, golden.expected, golden.dataset)
        }
    }

    func testFirstLineCutAppliesToFewShotTasks() throws {
        let prediction = "\n\nParis\nLondon"
        XCTAssertEqual(try LongBenchMetric.score(dataset: "triviaqa", prediction: prediction, answers: ["Paris"], allClasses: nil), 1)
        // hotpotqa keeps both lines, so precision halves.
        let uncut = try LongBenchMetric.score(dataset: "hotpotqa", prediction: prediction, answers: ["Paris"], allClasses: nil)
        XCTAssertEqual(uncut, 2.0 / 3.0, accuracy: 1e-12)
    }

    func testScoreTakesMaximumOverAnswers() throws {
        let score = try LongBenchMetric.score(dataset: "hotpotqa", prediction: "blue whale",
                                              answers: ["whale", "blue whale", "shark"], allClasses: nil)
        XCTAssertEqual(score, 1)
        let none = try LongBenchMetric.score(dataset: "hotpotqa", prediction: "blue whale", answers: [], allClasses: nil)
        XCTAssertEqual(none, 0)
    }

    func testJiebaDatasetsAreRejected() {
        for dataset in ["multifieldqa_zh", "dureader", "vcsum"] {
            XCTAssertThrowsError(try LongBenchMetric.score(dataset: dataset, prediction: "答案", answers: ["答案"], allClasses: nil)) { error in
                XCTAssertTrue("\(error)".contains("not supported yet"), "\(error)")
                XCTAssertTrue("\(error)".contains(dataset), "\(error)")
            }
        }
    }

    func testChineseTasksWithoutJiebaAreScored() throws {
        let lsht = try LongBenchMetric.score(dataset: "lsht", prediction: "体育\n财经", answers: ["体育"], allClasses: ["体育", "财经"])
        XCTAssertEqual(lsht, 1)
        let retrieval = try LongBenchMetric.score(dataset: "passage_retrieval_zh", prediction: "段落3", answers: ["段落3"], allClasses: nil)
        XCTAssertEqual(retrieval, 1)
    }

    func testUnknownDatasetIsRejected() {
        XCTAssertThrowsError(try LongBenchMetric.score(dataset: "qasper_e", prediction: "x", answers: ["x"], allClasses: nil)) { error in
            XCTAssertEqual(error as? BenchmarkError, .unknownDataset(name: "qasper_e", known: LongBenchMetric.datasetMetrics.keys.sorted()))
        }
    }

    func testClassificationWithoutClassesThrows() {
        XCTAssertThrowsError(try LongBenchMetric.score(dataset: "trec", prediction: "City", answers: ["City"], allClasses: nil)) { error in
            XCTAssertEqual(error as? BenchmarkError, .missingClasses(metric: "classification"))
        }
    }

    func testRetrievalWithoutParagraphNumberThrows() {
        XCTAssertThrowsError(try LongBenchMetric.retrieval.score(prediction: "1", groundTruth: "Paragraph", allClasses: nil))
    }

    func testEveryEnglishDatasetHasSupportedMetric() throws {
        for dataset in LongBenchDataset.englishDatasets {
            XCTAssertTrue(try LongBenchMetric.metric(forDataset: dataset).isSupported, dataset)
        }
    }
}
