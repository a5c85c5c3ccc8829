import XCTest
@testable import Benchmarks

final class PorterStemmerTests: XCTestCase {
    func testStemsMatchNLTK() throws {
        let golden = try MetricFixtures.load(MetricFixtures.PorterStems.self, "porter_stems.json")
        XCTAssertEqual(golden.mode, "NLTK_EXTENSIONS")
        XCTAssertGreaterThan(golden.pairs.count, 3000)
        var mismatches = [String]()
        for pair in golden.pairs where PorterStemmer.stem(pair[0]) != pair[1] {
            mismatches.append("\(pair[0]) -> \(PorterStemmer.stem(pair[0])), NLTK \(golden.nltkVersion): \(pair[1])")
        }
        XCTAssertEqual(mismatches, [])
    }

    func testIrregularFormsAndShortWords() {
        XCTAssertEqual(PorterStemmer.stem("skies"), "sky")
        XCTAssertEqual(PorterStemmer.stem("dying"), "die")
        XCTAssertEqual(PorterStemmer.stem("is"), "is")
        XCTAssertEqual(PorterStemmer.stem("AS"), "as")
    }

    func testClassicExamples() {
        XCTAssertEqual(PorterStemmer.stem("caresses"), "caress")
        XCTAssertEqual(PorterStemmer.stem("relational"), "relat")
        XCTAssertEqual(PorterStemmer.stem("hopping"), "hop")
        XCTAssertEqual(PorterStemmer.stem("happy"), "happi")
        XCTAssertEqual(PorterStemmer.stem("enjoy"), "enjoy")
    }

    func testMeasure() {
        XCTAssertEqual(PorterStemmer.measure(Array("tree".unicodeScalars)), 0)
        XCTAssertEqual(PorterStemmer.measure(Array("trouble".unicodeScalars)), 1)
        XCTAssertEqual(PorterStemmer.measure(Array("troubles".unicodeScalars)), 2)
    }
}
