import XCTest
@testable import Benchmarks

final class RougeLTests: XCTestCase {
    private func words(_ count: Int, prefix: String = "w") -> String {
        (0..<count).map { "\(prefix)\($0)" }.joined(separator: " ")
    }

    func testBacktrackLimitMatchesMeasuredPython() throws {
        let golden = try MetricFixtures.longBench.get()
        XCTAssertEqual(RougeL.maxBacktrackSteps, golden.rougeBacktrackMaxSteps)
    }

    func testIdenticalSentenceAtLimitScoresOne() {
        let text = words(RougeL.maxBacktrackSteps)
        XCTAssertEqual(RougeL.fScore(hypothesis: text, reference: text), 2.0 * (1.0 / (2.0 + 1e-8)))
    }

    func testIdenticalSentenceOverLimitScoresZero() {
        let text = words(RougeL.maxBacktrackSteps + 1)
        XCTAssertEqual(RougeL.fScore(hypothesis: text, reference: text), 0)
    }

    func testOverLimitInOneSentencePairScoresZero() {
        let long = words(RougeL.maxBacktrackSteps + 1)
        XCTAssertEqual(RougeL.fScore(hypothesis: "w0 w1. " + long, reference: "w0 w1. " + long), 0)
        // Split by a period, the same words stay within the limit.
        let split = words(600) + ". " + words(600, prefix: "v")
        XCTAssertGreaterThan(RougeL.fScore(hypothesis: split, reference: split), 0.99)
    }

    func testVeryLongReferenceStaysBounded() {
        // 50,000 words in one sentence against a short hypothesis: the DP keeps only the
        // corner of the table, and the backtrack up the long side exceeds the limit.
        let reference = words(50_000)
        XCTAssertEqual(RougeL.fScore(hypothesis: "w0", reference: reference), 0)
        // A matching last word ends the path in one step.
        XCTAssertGreaterThan(RougeL.fScore(hypothesis: "w49999", reference: reference), 0)
    }

    func testEmptyAndPeriodOnlyTextsScoreZero() {
        XCTAssertEqual(RougeL.fScore(hypothesis: "", reference: "a b"), 0)
        XCTAssertEqual(RougeL.fScore(hypothesis: "...", reference: "a b"), 0)
        XCTAssertEqual(RougeL.fScore(hypothesis: "a b", reference: ". ."), 0)
    }

    func testWhitespacePieceIsOneEmptyWord() {
        XCTAssertEqual(RougeL.fScore(hypothesis: " ", reference: " "), 2.0 * (1.0 / (2.0 + 1e-8)))
    }

    func testLCSWordsFollowPackageTieBreak() {
        // Reference "a b", hypothesis "b a": at the corner the cell above is not larger than
        // the cell to the left, so the backtrack moves left and keeps "b", as the package does.
        let words = RougeL.lcsWords([0, 1], [1, 0], maxSteps: 10)
        XCTAssertEqual(words, [1])
    }
}
