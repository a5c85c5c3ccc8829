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
            let lanes = SIMD8<Float>(x, x + 0.01, x + 0.02, x + 0.03, x + 0.04, x + 0.05, x + 0.06, x + 0.07)
            let result = ScoreMath.exp8(lanes)
            for lane in 0..<8 {
                let exact = Foundation.exp(Double(lanes[lane]))
                worst = max(worst, Float(abs(Double(result[lane]) - exact) / exact))
            }
            x += 0.173
        }
        XCTAssertLessThan(worst, 4e-7)
        XCTAssertEqual(ScoreMath.exp8(SIMD8(repeating: -.infinity)), SIMD8(repeating: 0))
        XCTAssertEqual(ScoreMath.exp8(SIMD8(repeating: -100)), SIMD8(repeating: 0))
    }

    func testSoftmaxSumsToOne() {
        var row: [Float] = (0..<19).map { Float($0) * 0.37 - 3 }
        row.withUnsafeMutableBufferPointer { ScoreMath.softmaxInPlace($0.baseAddress!, count: 19) }
        XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertGreaterThan(row[18], row[17])
    }
}
