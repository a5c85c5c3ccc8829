import ModelFormats
import XCTest
@testable import Modeling

final class LayerPartitionTests: XCTestCase {
    func realConfig() throws -> ModelConfig {
        try ModelConfig(gguf: try GGUFFile(path: try Fixtures.requireRealModel()))
    }

    // MARK: Balanced

    func testBalancedTwoStagesReal() throws {
        let config = try realConfig()
        let partition = try LayerPartition.balanced(config: config, stages: 2)
        // 19 layers on stage 0 weigh about as much as 11 layers plus the 113 MB LM head on stage 1.
        XCTAssertEqual(partition.description, "0-18,19-29")
        let bytes = partition.stageWeightBytes(config: config)
        let whole = LayerPartition.weightBytes(config: config, layers: 0..<config.blockCount)
        for stage in bytes {
            XCTAssertLessThanOrEqual(Double(stage), 0.65 * Double(whole), "stage bytes \(bytes) of \(whole)")
        }
    }

    func testBalancedMinimizesLargestStage() throws {
        let config = try realConfig()
        for stages in 1...6 {
            let partition = try LayerPartition.balanced(config: config, stages: stages)
            XCTAssertEqual(partition.stageCount, stages)
            let largest = partition.stageWeightBytes(config: config).max()!
            // Moving any boundary by one layer never lowers the largest stage.
            for boundary in 1..<stages {
                for shift in [-1, 1] {
                    var ranges = partition.ranges
                    let split = ranges[boundary].lowerBound + shift
                    guard split > ranges[boundary - 1].lowerBound, split < ranges[boundary].upperBound else { continue }
                    ranges[boundary - 1] = ranges[boundary - 1].lowerBound..<split
                    ranges[boundary] = split..<ranges[boundary].upperBound
                    let moved = LayerPartition(ranges: ranges).stageWeightBytes(config: config).max()!
                    XCTAssertGreaterThanOrEqual(moved, largest, "\(stages) stages, boundary \(boundary) moved by \(shift)")
                }
            }
        }
    }

    func testBalancedCoversEveryLayer() throws {
        let config = try realConfig()
        for stages in [1, 2, 3, 7, 29, 30] {
            let ranges = try LayerPartition.balanced(config: config, stages: stages).ranges
            XCTAssertEqual(ranges.count, stages)
            XCTAssertEqual(ranges.first?.lowerBound, 0)
            XCTAssertEqual(ranges.last?.upperBound, config.blockCount)
            for index in ranges.indices {
                XCTAssertFalse(ranges[index].isEmpty, "\(stages) stages: stage \(index) is empty")
                if index > 0 { XCTAssertEqual(ranges[index].lowerBound, ranges[index - 1].upperBound) }
            }
        }
    }

    func testBalancedEqualCostsTieBreak() {
        // Five equal layers on two stages: 3 + 2 and 2 + 3 both have a largest stage of 3, and earlier
        // stages take as many layers as fit.
        XCTAssertEqual(LayerPartition.balanced(costs: [1, 1, 1, 1, 1], stages: 2).ranges, [0..<3, 3..<5])
        XCTAssertEqual(LayerPartition.balanced(costs: [1, 1, 1, 1, 1], stages: 3).ranges, [0..<2, 2..<4, 4..<5])
    }

    func testBalancedHeavyLastLayer() {
        XCTAssertEqual(LayerPartition.balanced(costs: [1, 1, 1, 1, 10], stages: 2).ranges, [0..<4, 4..<5])
        XCTAssertEqual(LayerPartition.balanced(costs: [1, 1, 1, 1, 10], stages: 4).ranges, [0..<2, 2..<3, 3..<4, 4..<5])
    }

    func testBalancedOneStagePerLayer() {
        XCTAssertEqual(LayerPartition.balanced(costs: [5, 1, 7], stages: 3).ranges, [0..<1, 1..<2, 2..<3])
    }

    func testBalancedTooManyStages() throws {
        let config = try realConfig()
        XCTAssertThrowsError(try LayerPartition.balanced(config: config, stages: 31)) { error in
            XCTAssertEqual(error as? LayerPartitionError, .invalidStageCount(stages: 31, blockCount: 30))
            XCTAssertTrue("\(error)".contains("31"), "\(error)")
            XCTAssertTrue("\(error)".contains("30 layers"), "\(error)")
        }
        XCTAssertThrowsError(try LayerPartition.balanced(config: config, stages: 0)) { error in
            XCTAssertEqual(error as? LayerPartitionError, .invalidStageCount(stages: 0, blockCount: 30))
        }
    }

    // MARK: Parsing

    func testParseValid() throws {
        let partition = try LayerPartition.parse("0-14,15-29", blockCount: 30, stages: 2)
        XCTAssertEqual(partition.ranges, [0..<15, 15..<30])
        XCTAssertEqual(partition.description, "0-14,15-29")
    }

    func testParseSingleLayerStagesAndSpaces() throws {
        let partition = try LayerPartition.parse("0-0, 1-28 ,29-29", blockCount: 30, stages: 3)
        XCTAssertEqual(partition.ranges, [0..<1, 1..<29, 29..<30])
    }

    func testParseOneStage() throws {
        XCTAssertEqual(try LayerPartition.parse("0-29", blockCount: 30, stages: 1).ranges, [0..<30])
    }

    func testParseDescriptionRoundTrip() throws {
        let config = try realConfig()
        let balanced = try LayerPartition.balanced(config: config, stages: 3)
        XCTAssertEqual(try LayerPartition.parse(balanced.description, blockCount: 30, stages: 3), balanced)
    }

    func assertRejects(_ text: String, stages: Int = 2, _ expected: LayerPartitionError, mentions: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LayerPartition.parse(text, blockCount: 30, stages: stages), file: file, line: line) { error in
            XCTAssertEqual(error as? LayerPartitionError, expected, file: file, line: line)
            for word in mentions {
                XCTAssertTrue("\(error)".contains(word), "\"\(error)\" lacks \"\(word)\"", file: file, line: line)
            }
        }
    }

    func testParseRejectsWrongCount() {
        assertRejects("0-9,10-19,20-29", .rangeCountMismatch(ranges: 3, stages: 2, text: "0-9,10-19,20-29"),
                      mentions: ["3 ranges", "--pipeline_stages is 2"])
        assertRejects("0-29", .rangeCountMismatch(ranges: 1, stages: 2, text: "0-29"), mentions: ["has 1 range but"])
    }

    func testParseRejectsGap() {
        assertRejects("0-13,15-29", .gap(afterLayer: 13, nextStart: 15, text: "0-13,15-29"), mentions: ["layer 14"])
        assertRejects("0-10,15-29", .gap(afterLayer: 10, nextStart: 15, text: "0-10,15-29"), mentions: ["layers 11-14"])
    }

    func testParseRejectsOverlap() {
        assertRejects("0-15,15-29", .overlap(first: 15, last: 15, text: "0-15,15-29"), mentions: ["layer 15", "two stages"])
        assertRejects("0-20,10-29", .overlap(first: 10, last: 20, text: "0-20,10-29"), mentions: ["layers 10-20"])
    }

    func testParseRejectsLateStart() {
        assertRejects("1-14,15-29", .notStartingAtZero(first: 1, text: "1-14,15-29"), mentions: ["layer 1", "layer 0"])
        assertRejects("15-29,0-14", .notStartingAtZero(first: 15, text: "15-29,0-14"), mentions: ["layer 15"])
    }

    func testParseRejectsWrongEnd() {
        assertRejects("0-14,15-28", .notEndingAtLastLayer(last: 28, blockCount: 30, text: "0-14,15-28"),
                      mentions: ["layer 28", "29"])
        assertRejects("0-14,15-30", .notEndingAtLastLayer(last: 30, blockCount: 30, text: "0-14,15-30"),
                      mentions: ["layer 30", "29"])
    }

    func testParseRejectsReversed() {
        assertRejects("14-0,15-29", .reversedRange(first: 14, last: 0, text: "14-0,15-29"), mentions: ["14-0", "0-14"])
    }

    func testParseRejectsNonNumeric() {
        for (text, item) in [("0-a,15-29", "0-a"), ("0-14;15-29", "0-14;15-29"), ("", ""), ("0-14,", ""),
                             ("0:14,15-29", "0:14"), ("-1-14,15-29", "-1-14"), ("0-14-20,21-29", "0-14-20"),
                             ("0,1-29", "0")] {
            assertRejects(text, .invalidRange(item: item, text: text), mentions: ["\"\(text)\"", "A-B"])
        }
    }

    func testParseRejectsTooManyStages() {
        assertRejects("0-29", stages: 31, .invalidStageCount(stages: 31, blockCount: 30), mentions: ["31", "30 layers"])
    }

    // MARK: Weight bytes

    func testWeightBytesReal() throws {
        let config = try realConfig()
        // SmolLM2-135M: 3,540,096 floats per layer; 49152 x 576 floats of tied embedding; 576 of final norm.
        let layer = 3_540_096 * 4
        let head = (49152 * 576 + 576) * 4
        XCTAssertEqual(LayerPartition.weightBytes(config: config, layers: 0..<30), 30 * layer + head)
        XCTAssertEqual(LayerPartition.weightBytes(config: config, layers: 0..<15), 15 * layer)
        XCTAssertEqual(LayerPartition.weightBytes(config: config, layers: 15..<30), 15 * layer + head)
        XCTAssertEqual(LayerPartition.weightBytes(config: config, layers: 3..<9), 6 * layer)
    }
}
