import Foundation
import TensorKernels
import XCTest
@testable import KVPolicies

/// H2O's blockwise accumulated attention against a direct computation over the whole causal matrix.
final class AccumulatedAttentionTests: XCTestCase {
    /// 300 tokens: two full blocks of 128 query rows and a partial one.
    let input = LayerInput.random(queryHeads: 9, kvHeads: 3, tokens: 300, headDim: 16, seed: 7)

    func columnSums(granularity: CacheGranularity) -> [[Float]] {
        let cache = input.makeCache(layer: 0, granularity: granularity)
        let queries = input.transformerQueries
        return queries.withUnsafeBufferPointer { buffer in
            let state = PrefillLayerState(layer: 0, layerCount: 1, promptLength: input.tokens, queryHeads: 9, kvHeads: 3,
                                          headDim: 16, queries: buffer.baseAddress!, cache: cache)
            return AccumulatedAttentionScorer.columnSums(state)
        }
    }

    /// Column sums of the causal softmax of one query head, in double precision, one row at a time.
    func directColumnSums(queryHead: Int) -> [Double] {
        let n = input.tokens, d = input.headDim
        let kvHead = queryHead / 3
        var sums = [Double](repeating: 0, count: n)
        for row in 0..<n {
            var logits = [Double](repeating: 0, count: row + 1)
            for key in 0...row {
                var dot = 0.0
                for channel in 0..<d {
                    dot += Double(input.q[(queryHead * n + row) * d + channel]) * Double(input.k[(kvHead * n + key) * d + channel])
                }
                logits[key] = dot / Double(d).squareRoot()
            }
            let maximum = logits.max()!
            let exponentials = logits.map { Foundation.exp($0 - maximum) }
            let total = exponentials.reduce(0, +)
            for key in 0...row { sums[key] += exponentials[key] / total }
        }
        return sums
    }

    func testColumnSumsMatchDirectComputation() {
        for granularity in CacheGranularity.allCases {
            let sums = columnSums(granularity: granularity)
            XCTAssertEqual(sums.count, 9)
            for queryHead in 0..<9 {
                let expected = directColumnSums(queryHead: queryHead)
                for key in 0..<input.tokens {
                    XCTAssertEqual(Double(sums[queryHead][key]), expected[key], accuracy: 1e-4 * max(1, expected[key]),
                                   "\(granularity.rawValue) head \(queryHead) key \(key)")
                }
            }
        }
    }

    func testColumnSumsIndependentOfThreadCount() {
        let previous = Threading.blasThreads
        defer { Threading.setBLASThreads(previous) }
        Threading.setBLASThreads(1)
        let single = columnSums(granularity: .queryHead)
        Threading.setBLASThreads(3)
        let several = columnSums(granularity: .queryHead)
        XCTAssertEqual(single, several)
    }
}
