import XCTest
@testable import Benchmarks

final class EditSimilarityTests: XCTestCase {
    /// Plain O(n·m) LCS, the reference for the bit-parallel version.
    private func naiveLCS(_ first: [Unicode.Scalar], _ second: [Unicode.Scalar]) -> Int {
        var previous = [Int](repeating: 0, count: second.count + 1)
        for a in first {
            var current = [0]
            for (j, b) in second.enumerated() {
                current.append(a == b ? previous[j] + 1 : max(previous[j + 1], current[j]))
            }
            previous = current
        }
        return previous[second.count]
    }

    func testBitParallelLCSMatchesNaive() {
        var generator = SplitMix64(seed: 7)
        let alphabet: [Unicode.Scalar] = ["a", "b", "c", "é", "😀", " "]
        for trial in 0..<300 {
            let first = (0..<Int.random(in: 0...150, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            let second = (0..<Int.random(in: 0...150, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            XCTAssertEqual(EditSimilarity.lcsLength(first, second), naiveLCS(first, second), "trial \(trial)")
        }
    }

    func testRatioRoundsHalfToEven() {
        XCTAssertEqual(EditSimilarity.fuzzRatio("abcdefgh", "aXXXXXXX"), 12)
        XCTAssertEqual(EditSimilarity.fuzzRatio("abcdefgh", "abcXXXXX"), 38)
        XCTAssertEqual(EditSimilarity.fuzzRatio("abcdefgh", "abcdeXXX"), 62)
    }

    func testRatioOfEmptyStrings() {
        XCTAssertEqual(EditSimilarity.fuzzRatio("", ""), 100)
        XCTAssertEqual(EditSimilarity.fuzzRatio("", "x"), 0)
        XCTAssertEqual(EditSimilarity.fuzzRatio("x", ""), 0)
    }

    func testRatioCountsCodePoints() {
        // Precomposed "é" is one code point, decomposed "é" two; Swift would call them equal.
        XCTAssertEqual(EditSimilarity.fuzzRatio("caf\u{E9}", "cafe\u{301}"), 67)
    }

    func testCodeLineSkipsCommentsAndURLs() {
        let prediction = "\n\n# comment\nurl = 'http://host'\n```\nx = 1\ny = 2"
        XCTAssertEqual(PythonText.string(EditSimilarity.firstCodeLine(of: PythonText.scalars(prediction))), "x = 1")
        XCTAssertEqual(EditSimilarity.codeScore(prediction: prediction, groundTruth: "x = 1"), 1)
    }

    func testCodeLineEmptyForOnlyComments() {
        XCTAssertEqual(EditSimilarity.firstCodeLine(of: PythonText.scalars("# a\n// b")), [])
        XCTAssertEqual(EditSimilarity.codeScore(prediction: "# a\n// b", groundTruth: "x"), 0)
    }

    func testLongLinesUseSeveralBlocks() {
        let line = String(repeating: "abcdefghij", count: 500)
        let edited = String(line.dropLast(10)) + "XXXXXXXXXX"
        // LCS 4990 of 5000 + 5000 code points: 99.8, which rounds to 100.
        XCTAssertEqual(EditSimilarity.fuzzRatio(line, edited), 100)
        XCTAssertEqual(EditSimilarity.lcsLength(PythonText.scalars(line), PythonText.scalars(edited)), 4990)
    }
}

/// A small seeded generator, so that random tests repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
