import Foundation
import XCTest
@testable import KVPolicies

/// Selections from scripts/golden/make_policy_fixtures.py, which implements the reference formulas in numpy.
final class GoldenSelectionTests: XCTestCase {
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
            let kept_positions: [[Int]]
        }
        let tensors: [String: TensorSet]
        let cases: [Case]
    }

    func testGoldenSelectionsMatch() throws {
        let url = fixturesDirectory.appendingPathComponent("policies/selections.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 20)
        var methods = Set<String>()
        for testCase in fixture.cases {
            let tensors = try XCTUnwrap(fixture.tensors[testCase.tensors], testCase.name)
            let parsed = try options(testCase.flags)
            methods.insert(parsed.method)
            let result = try probeCompression(method: parsed, layer: testCase.layer, layerCount: testCase.layer_count,
                                              q: tensors.q.probeTensor, k: tensors.k.probeTensor, v: tensors.v.probeTensor)
            XCTAssertEqual(result.keptPositions, testCase.kept_positions, testCase.name)
        }
        XCTAssertEqual(methods, ["snapkv", "pyramidkv", "h2o", "streamingllm", "l2norm", "adakv"])
    }
}
