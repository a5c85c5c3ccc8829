import Foundation
import XCTest
@testable import KVPolicies

final class ScoreMathTests: XCTestCase {
    func testTopIndicesTiesGoToLowerPosition() {
        let scores: [Float] = [1, 3, 2, 3, 0, 3]
        XCTAssertEqual(ScoreMath.topIndices(scores, count: 2), [1, 3])
        XCTAssertEqual(ScoreMath.topIndices(scores, count: 4), [1, 3, 5, 2])
    }

    func testTopIndicesRanksNaNLast() {
        let scores: [Float] = [.nan, -.infinity, -5, .nan, 0]
        XCTAssertEqual(ScoreMath.topIndices(scores, count: 3), [4, 2, 1])
    }

    func testTopIndicesTreatsSignedZerosAsEqual() {
        XCTAssertEqual(ScoreMath.topIndices([-0.0, 0.0, -1], count: 1), [0])
    }

    func testTopIndicesPartialMatchesFullSort() {
        var random = TestRandom(seed: 3)
        for trial in 0..<20 {
            // Coarse values force many ties.
            let scores = (0..<1000).map { _ in Float(Int(random.symmetric() * 50)) }
            let expected = Array((0..<1000).sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(37 + trial))
            XCTAssertEqual(ScoreMath.topIndices(scores, count: 37 + trial), expected, "trial \(trial)")
        }
    }

    func testMaxPoolKeepsLength() {
        let pooled = ScoreMath.pool([0, 0, 5, 0, 0, 0, 3, 0], kernel: 3, mode: .maxpool)
        XCTAssertEqual(pooled, [0, 5, 5, 5, 0, 3, 3, 3])
    }

    func testAvgPoolCountsPadding() {
        // Edges divide by the full kernel: (1 + 2) / 3 at index 0.
        let pooled = ScoreMath.pool([1, 2, 3, 4], kernel: 3, mode: .avgpool)
        XCTAssertEqual(pooled, [1, 2, 3, 7.0 / 3])
    }

    func testGroupReductions() {
        let cache = LayerCache(layer: 0, granularity: .kvHead, queryHeads: 4, kvHeads: 2, headDim: 1)
        let rows: [[Float]] = [[1, 4], [3, 0], [2, 2], [6, -2]]
        XCTAssertEqual(ScoreMath.reduceGroups(rows, cache: cache, aggregation: .mean), [[2, 2], [4, 0]])
        XCTAssertEqual(ScoreMath.reduceGroups(rows, cache: cache, aggregation: .max), [[3, 4], [6, 2]])
        XCTAssertEqual(ScoreMath.reduceGroups(rows, cache: cache, aggregation: .sum), [[4, 4], [8, 0]])
        let queryHeadCache = LayerCache(layer: 0, granularity: .queryHead, queryHeads: 4, kvHeads: 2, headDim: 1)
        XCTAssertEqual(ScoreMath.reduceGroups(rows, cache: queryHeadCache, aggregation: .max), rows)
    }

    func testExpAccuracy() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let exact = Foundation.exp(Double(x))
            worst = max(worst, Float(abs(Double(ScoreMath.exp(x)) - exact) / exact))
            x += 0.0173
        }
        XCTAssertLessThan(worst, 4e-7)
        XCTAssertEqual(ScoreMath.exp(-.infinity), 0)
        XCTAssertEqual(ScoreMath.exp(-100), 0)
        XCTAssertEqual(ScoreMath.exp(0), 1)
    }

    func testSoftmaxSumsToOne() {
        var row: [Float] = (0..<19).map { Float($0) * 0.37 - 3 }
        row.withUnsafeMutableBufferPointer { ScoreMath.softmaxInPlace($0.baseAddress!, count: 19) }
        XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertGreaterThan(row[18], row[17])
    }
}
