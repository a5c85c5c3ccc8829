import XCTest
@testable import Benchmarks

final class PythonTextTests: XCTestCase {
    private static let semantics = Result { try MetricFixtures.load(MetricFixtures.PythonSemantics.self, "python_semantics.json") }

    private func contains(_ ranges: [[UInt32]], _ value: UInt32) -> Bool {
        var low = 0
        var high = ranges.count - 1
        while low <= high {
            let middle = (low + high) / 2
            if value < ranges[middle][0] {
                high = middle - 1
            } else if value > ranges[middle][1] {
                low = middle + 1
            } else {
                return true
            }
        }
        return false
    }

    /// Code points that both Python's Unicode data and the Swift runtime's classify: assigned
    /// in Python's version (the runtime's is the same or newer).
    private func comparableScalars(_ semantics: MetricFixtures.PythonSemantics) -> [Unicode.Scalar] {
        semantics.assigned.flatMap { $0[0]...$0[1] }.compactMap(Unicode.Scalar.init)
    }

    func testDecimalDigitsMatchPythonRegex() throws {
        let semantics = try Self.semantics.get()
        var mismatches = [String]()
        for scalar in comparableScalars(semantics)
        where PythonText.isDecimalDigit(scalar) != contains(semantics.decimalDigits, scalar.value) {
            mismatches.append(String(scalar.value, radix: 16))
        }
        XCTAssertEqual(mismatches, [], "Python \(semantics.pythonVersion), Unicode \(semantics.unicodeVersion)")
    }

    func testWordCharactersMatchPythonRegex() throws {
        let semantics = try Self.semantics.get()
        var mismatches = [String]()
        for scalar in comparableScalars(semantics)
        where PythonText.isWordCharacter(scalar) != contains(semantics.wordCharacters, scalar.value) {
            mismatches.append(String(scalar.value, radix: 16))
        }
        XCTAssertEqual(mismatches, [], "Python \(semantics.pythonVersion), Unicode \(semantics.unicodeVersion)")
    }

    func testWhitespaceMatchesPythonIsSpace() throws {
        let semantics = try Self.semantics.get()
        let expected = Set(semantics.whitespace)
        let actual = Set((0...0x10FFFF).compactMap(Unicode.Scalar.init).filter(PythonText.isWhitespace).map(\.value))
        XCTAssertEqual(actual, expected)
    }

    func testLowercaseMatchesPythonLower() throws {
        let semantics = try Self.semantics.get()
        let expected = Dictionary(uniqueKeysWithValues: semantics.lowercase.map { ($0.codePoint, $0.lowered) })
        var mismatches = [String]()
        for scalar in comparableScalars(semantics) where scalar.value != 0x03A3 {
            let lowered = PythonText.lowercased([scalar]).map(\.value)
            if lowered != (expected[scalar.value] ?? [scalar.value]) {
                mismatches.append(String(scalar.value, radix: 16))
            }
        }
        XCTAssertEqual(mismatches, [], "Python \(semantics.pythonVersion), Unicode \(semantics.unicodeVersion)")
    }

    func testFinalSigmaMatchesPython() throws {
        for golden in try Self.semantics.get().lowerTexts {
            XCTAssertEqual(PythonText.string(PythonText.lowercased(golden.text)), golden.expected, shown(golden.text))
        }
    }

    func testRoundMatchesPython() throws {
        for golden in try Self.semantics.get().round2 {
            XCTAssertEqual(PythonText.round(golden.value, digits: 2), golden.expected, "round(\(golden.value), 2)")
        }
    }

    func testSplitWhitespaceDropsEmptyWords() {
        XCTAssertEqual(PythonText.splitWhitespace(PythonText.scalars("  a\u{3000}b\t\n c  ")).map(PythonText.string), ["a", "b", "c"])
        XCTAssertEqual(PythonText.splitWhitespace(PythonText.scalars(" \u{1C} ")).count, 0)
    }

    func testSplitKeepsEmptyPieces() {
        let pieces = PythonText.split(PythonText.scalars(".a..b."), separator: ".").map(PythonText.string)
        XCTAssertEqual(pieces, ["", "a", "", "b", ""])
    }

    func testContainsComparesCodePoints() {
        // Swift's String.contains would treat precomposed and decomposed "é" as equal.
        XCTAssertFalse(PythonText.contains(PythonText.scalars("caf\u{E9}"), PythonText.scalars("e\u{301}")))
        XCTAssertTrue(PythonText.contains(PythonText.scalars("cafe\u{301}"), PythonText.scalars("e")))
        XCTAssertTrue(PythonText.contains(PythonText.scalars("abc"), []))
    }

    func testFirstNumberFindsLaterMatch() {
        let text = PythonText.scalars("Paragraph x, Paragraph ٤٢ and Paragraph 7")
        let number = PythonText.firstNumber(after: PythonText.scalars("Paragraph "), in: text)
        XCTAssertEqual(number.map(PythonText.string), "٤٢")
        XCTAssertNil(PythonText.firstNumber(after: PythonText.scalars("Paragraph "), in: PythonText.scalars("Paragraph ")))
    }
}
