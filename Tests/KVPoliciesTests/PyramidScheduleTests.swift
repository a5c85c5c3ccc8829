import XCTest
@testable import KVPolicies

final class PyramidScheduleTests: XCTestCase {
    private let longPrompt = 100_000

    private func counts(budget: Int, layerCount: Int = 32, promptLength: Int? = nil) -> [Int] {
        (0..<layerCount).map {
            PyramidSchedule.selectionCount(layer: $0, layerCount: layerCount, promptLength: promptLength ?? longPrompt,
                                           budget: budget, window: 8, beta: 20)
        }
    }

    /// L = 32, w = 8: layer 0, layer 31 and the mean of the selected counts (window excluded).
    func testReferenceTable() {
        let table: [(budget: Int, first: Int, last: Int, steps: Int, mean: Double)] = [
            (64, 110, 17, 3, 63.5),
            (128, 234, 17, 7, 125.5),
            (512, 983, 53, 30, 518),
            (2048, 3978, 103, 125, 2040.5),
        ]
        for row in table {
            let schedule = counts(budget: row.budget)
            XCTAssertEqual(schedule.first, row.first, "B=\(row.budget) layer 0")
            XCTAssertEqual(schedule.last, row.last, "B=\(row.budget) layer 31")
            XCTAssertEqual(schedule[0] - schedule[1], row.steps, "B=\(row.budget) steps")
            XCTAssertEqual(Double(schedule.reduce(0, +)) / 32, row.mean, "B=\(row.budget) mean")
        }
    }

    func testBranchByPromptLength() {
        // n < B: whole; B <= n < 2(B - w): uniform; n >= 2(B - w): pyramid.
        XCTAssertEqual(PyramidSchedule.branch(promptLength: 63, budget: 64, window: 8), .uncompressed)
        XCTAssertEqual(PyramidSchedule.branch(promptLength: 64, budget: 64, window: 8), .uniform)
        XCTAssertEqual(PyramidSchedule.branch(promptLength: 111, budget: 64, window: 8), .uniform)
        XCTAssertEqual(PyramidSchedule.branch(promptLength: 112, budget: 64, window: 8), .pyramid)
        XCTAssertEqual(PyramidSchedule.branch(promptLength: 511, budget: 512, window: 8), .uncompressed)
        XCTAssertEqual(PyramidSchedule.branch(promptLength: 1007, budget: 512, window: 8), .uniform)
        XCTAssertEqual(PyramidSchedule.branch(promptLength: 1008, budget: 512, window: 8), .pyramid)
        XCTAssertEqual(PyramidSchedule.branch(promptLength: 3000, budget: 2048, window: 8), .uniform)
        XCTAssertEqual(PyramidSchedule.branch(promptLength: 4080, budget: 2048, window: 8), .pyramid)
    }

    func testUniformBranchKeepsBudget() {
        // B = 2048 at n = 3000 computes a clamp but takes the uniform branch: every layer selects B - w.
        XCTAssertEqual(Set(counts(budget: 2048, promptLength: 3000)), [2040])
        XCTAssertEqual(Set(counts(budget: 512, layerCount: 30, promptLength: 1000)), [504])
    }

    func testClampAppliesNearBranchStart() {
        // B = 64 at n = 115: max 110 >= n - w = 107, so max = 107, min = 112 - 107 = 5, steps = 102 / 31 = 3.
        let schedule = counts(budget: 64, promptLength: 115)
        XCTAssertEqual(schedule[0], 107)
        XCTAssertEqual(schedule[31], 107 - 31 * 3)
    }

    func testThirtyLayerSchedule() {
        // SmolLM2's 30 layers at n = 3000, B = 512; kept tokens include the 8-token window.
        let kept = counts(budget: 512, layerCount: 30, promptLength: 3000).map { $0 + 8 }
        XCTAssertEqual(kept.first, 991)
        XCTAssertEqual(kept.last, 34)
        XCTAssertEqual(Double(kept.reduce(0, +)) / 30, 512.5)
    }

    func testPolicyAppliesLayerCounts() throws {
        let input = LayerInput.random(queryHeads: 2, kvHeads: 1, tokens: 200, headDim: 8, seed: 7)
        let parsed = try options(["--method", "PyramidKV", "--max_capacity_prompts", "40"])
        for layer in [0, 5, 9] {
            let result = try input.probe(parsed, layer: layer, layerCount: 10)
            let expected = PyramidSchedule.selectionCount(layer: layer, layerCount: 10, promptLength: 200, budget: 40, window: 8, beta: 20) + 8
            XCTAssertEqual(result.keptPositions.map(\.count), [expected, expected], "layer \(layer)")
        }
    }

    func testBetaOptionChangesSchedule() {
        let beta20 = PyramidSchedule.selectionCount(layer: 31, layerCount: 32, promptLength: longPrompt, budget: 512, window: 8, beta: 20)
        let beta5 = PyramidSchedule.selectionCount(layer: 31, layerCount: 32, promptLength: longPrompt, budget: 512, window: 8, beta: 5)
        // beta 5: min = 100, max = 908, steps = 808 / 31 = 26, last = 908 - 806 = 102.
        XCTAssertEqual(beta20, 53)
        XCTAssertEqual(beta5, 102)
    }
}
