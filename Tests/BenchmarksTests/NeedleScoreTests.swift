import XCTest
@testable import Benchmarks

final class NeedleScoreTests: XCTestCase {
    private static let golden = Result { try MetricFixtures.load(MetricFixtures.Needle.self, "needle_scores.json") }

    func testRouge1MatchesRougeScorePackage() throws {
        let golden = try Self.golden.get()
        XCTAssertGreaterThanOrEqual(golden.cases.count, 20)
        for item in golden.cases {
            XCTAssertEqual(NeedleScore.rouge1F(response: item.response, needle: golden.needle), item.rouge1F, shown(item.response))
        }
    }

    func testRunnerScoreMatchesReference() throws {
        let golden = try Self.golden.get()
        for item in golden.cases {
            XCTAssertEqual(NeedleScore.runnerScore(response: item.response, needle: golden.needle), item.runnerScore, shown(item.response))
        }
    }

    func testRecallMatchesVisualiser() throws {
        let golden = try Self.golden.get()
        for item in golden.cases {
            XCTAssertEqual(NeedleScore.recall(response: item.response, expectedAnswer: golden.expectedAnswer), item.recall, shown(item.response))
        }
    }

    func testRouge1OtherPairs() throws {
        for pair in try Self.golden.get().pairs {
            XCTAssertEqual(NeedleScore.rouge1F(response: pair.prediction, needle: pair.target), pair.rouge1F,
                           "\(shown(pair.target)) vs \(shown(pair.prediction))")
        }
    }

    func testTokensMatchRougeScoreTokenizer() throws {
        for item in try Self.golden.get().tokenize {
            XCTAssertEqual(NeedleScore.tokens(of: item.text), item.tokens, shown(item.text))
        }
    }

    func testRecallKeepsPunctuationAttached() {
        // "day." is one word of the expected answer, so "day" does not count.
        XCTAssertEqual(NeedleScore.recall(response: "sunny day", expectedAnswer: "sunny day."), 0.5)
        XCTAssertEqual(NeedleScore.recall(response: "anything", expectedAnswer: "  "), 0)
    }
}
