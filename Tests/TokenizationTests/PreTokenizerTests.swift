import XCTest
@testable import Tokenization

final class PreTokenizerTests: XCTestCase {
    private func pieces(_ text: String, _ rules: [SplitRule]) -> [String] {
        let scalars = text.unicodeScalars.map(\.value)
        let classes = scalars.map { ScalarClass.of($0).rawValue }
        let ends = scalars.withUnsafeBufferPointer { scalarBuffer in
            classes.withUnsafeBufferPointer { classBuffer in
                PreTokenizer(rules: rules).split(scalars: scalarBuffer, classes: classBuffer)
            }
        }
        var result: [String] = []
        var start = 0
        for end in ends.map(Int.init) {
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: scalars[start..<end].compactMap(Unicode.Scalar.init))
            result.append(String(piece))
            start = end
        }
        return result
    }

    private let smolLM: [SplitRule] = [.isolateEachNumber, .gpt2]
    private let llama3: [SplitRule] = [.llama3(maxDigits: 3)]
    private let qwen2: [SplitRule] = [.llama3(maxDigits: 1)]

    func testEmptyTextHasNoPieces() {
        XCTAssertEqual(pieces("", [.gpt2]), [])
        XCTAssertEqual(pieces("", llama3), [])
    }

    func testGPT2Words() {
        XCTAssertEqual(pieces("Hello world's  end", [.gpt2]), ["Hello", " world", "'s", " ", " end"])
    }

    func testGPT2ContractionsAreCaseSensitive() {
        XCTAssertEqual(pieces("I'M you're", [.gpt2]), ["I", "'", "M", " you", "'re"])
    }

    func testGPT2TrailingWhitespaceStaysWhole() {
        XCTAssertEqual(pieces("a  ", [.gpt2]), ["a", "  "])
        XCTAssertEqual(pieces("a \n\t b", [.gpt2]), ["a", " \n\t", " b"])
    }

    func testGPT2PunctuationAndNumbers() {
        XCTAssertEqual(pieces("x = 42;// done", [.gpt2]), ["x", " =", " 42", ";//", " done"])
    }

    func testGPT2UnicodeLettersAndSpaces() {
        XCTAssertEqual(pieces("日本語 テスト", [.gpt2]), ["日本語", " テスト"])
        XCTAssertEqual(pieces("a\u{3000}b", [.gpt2]), ["a", "\u{3000}", "b"])
    }

    func testSmolLMSplitsEveryDigit() {
        XCTAssertEqual(pieces("On  26", smolLM), ["On", "  ", "2", "6"])
        XCTAssertEqual(pieces("x2024y", smolLM), ["x", "2", "0", "2", "4", "y"])
    }

    func testSmolLMSplitsNonASCIIDigits() {
        XCTAssertEqual(pieces("٣٤٥ ²", smolLM), ["٣", "٤", "٥", " ", "²"])
    }

    func testLlama3GroupsDigitsInThrees() {
        XCTAssertEqual(pieces("1234567", llama3), ["123", "456", "7"])
        XCTAssertEqual(pieces("On  26", llama3), ["On", " ", " ", "26"])
    }

    func testLlama3ContractionsIgnoreCase() {
        XCTAssertEqual(pieces("I'M WE'LL", llama3), ["I", "'M", " WE", "'LL"])
    }

    func testLlama3LetterPrefix() {
        // One non-letter, non-digit scalar other than a line break joins the letters after it.
        XCTAssertEqual(pieces("(hello)\tworld", llama3), ["(hello", ")", "\tworld"])
    }

    func testLlama3LineBreaks() {
        XCTAssertEqual(pieces("Hello\n\nworld", llama3), ["Hello", "\n\n", "world"])
        XCTAssertEqual(pieces("  \n  x", llama3), ["  \n", " ", " x"])
        XCTAssertEqual(pieces("a.\r\n", llama3), ["a", ".\r\n"])
    }

    func testQwen2SplitsEveryDigit() {
        XCTAssertEqual(pieces("12345", qwen2), ["1", "2", "3", "4", "5"])
    }

    func testDefaultPatternChain() {
        let rules: [SplitRule] = [.isolatePunctuationRuns, .gpt2, .isolateNumberRuns, .isolateDigitTriples]
        XCTAssertEqual(pieces("a+b=1234567", rules), ["a", "+", "b", "=", "123", "456", "7"])
        XCTAssertEqual(pieces("x `y`", rules), ["x", " `", "y", "`"])
    }
}
