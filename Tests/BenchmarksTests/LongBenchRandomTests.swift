import XCTest
@testable import Benchmarks

final class LongBenchRandomTests: XCTestCase {
    private struct RawCase: Decodable {
        var seed: Int
        var outputs: [UInt32]
    }

    private struct SequenceCase: Decodable {
        var seed: Int
        var calls: [[Int]]
        var samples: [[Int]]
    }

    private struct Fixture: Decodable {
        var getrandbits32: [RawCase]
        var sample_sequences: [SequenceCase]
    }

    func testOutputsMatchCPython() throws {
        let fixture = try LongBenchFixtures.load(Fixture.self, "python_random.json")
        for entry in fixture.getrandbits32 {
            var generator = PythonRandom(seed: entry.seed)
            let outputs = (0..<entry.outputs.count).map { _ in generator.nextUInt32() }
            XCTAssertEqual(outputs, entry.outputs, "seed \(entry.seed)")
        }
    }

    func testSampleSequencesMatchCPython() throws {
        let fixture = try LongBenchFixtures.load(Fixture.self, "python_random.json")
        for entry in fixture.sample_sequences {
            var generator = PythonRandom(seed: entry.seed)
            for (call, expected) in zip(entry.calls, entry.samples) {
                let sample = generator.sample(populationSize: call[0], count: call[1])
                XCTAssertEqual(sample, expected, "seed \(entry.seed), sample(range(\(call[0])), \(call[1]))")
            }
        }
    }

    func testRandomBelowStaysInRange() {
        var generator = PythonRandom(seed: 3)
        for bound in [1, 2, 3, 7, 200, 1 << 20] {
            for _ in 0..<200 {
                let value = generator.randomBelow(bound)
                XCTAssertGreaterThanOrEqual(value, 0)
                XCTAssertLessThan(value, bound)
            }
        }
    }
}
