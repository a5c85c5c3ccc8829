import Foundation
import XCTest
@testable import KVPolicies

/// CAM (with the same SplitMix64 draws) and merging, from scripts/golden/make_policy_fixtures.py.
final class GoldenTransformTests: XCTestCase {
    private struct Fixture: Decodable {
        struct Tensor: Decodable {
            let shape: [Int]
            let sixty_fourths: [Int]
            var probeTensor: ProbeTensor { ProbeTensor(shape: shape, values: sixty_fourths.map { Float($0) / 64 }) }
        }
        struct TensorSet: Decodable {
            let q: Tensor
            let k: Tensor
            let v: Tensor
        }
        struct Case: Decodable {
            let name: String
            let tensors: String
            let flags: [String]
            let layer: Int
            let layer_count: Int
            let sample_id: UInt64
            let kept_positions: [[Int]]
            let keys: [[Double]]
            let values: [[Double]]
        }
        let tensors: [String: TensorSet]
        let cases: [Case]
    }

    func testGoldenTransformsMatch() throws {
        let url = fixturesDirectory.appendingPathComponent("policies/transforms.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(fixture.cases.count, 6)
        for testCase in fixture.cases {
            let tensors = try XCTUnwrap(fixture.tensors[testCase.tensors], testCase.name)
            let result = try probeCompression(method: options(testCase.flags), layer: testCase.layer, layerCount: testCase.layer_count,
                                              q: tensors.q.probeTensor, k: tensors.k.probeTensor, v: tensors.v.probeTensor,
                                              sampleID: testCase.sample_id)
            XCTAssertEqual(result.keptPositions, testCase.kept_positions, testCase.name)
            for head in testCase.keys.indices {
                XCTAssertEqual(result.keys[head].count, testCase.keys[head].count, "\(testCase.name) head \(head)")
                XCTAssertEqual(result.values[head].count, testCase.values[head].count, "\(testCase.name) head \(head)")
                let keyError = zip(result.keys[head], testCase.keys[head]).map { abs(Double($0) - $1) }.max() ?? 0
                let valueError = zip(result.values[head], testCase.values[head]).map { abs(Double($0) - $1) }.max() ?? 0
                XCTAssertLessThan(keyError, 1e-4, "\(testCase.name) head \(head) keys")
                XCTAssertLessThan(valueError, 1e-4, "\(testCase.name) head \(head) values")
            }
        }
    }
}
