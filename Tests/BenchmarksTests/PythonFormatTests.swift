import XCTest
@testable import Benchmarks

final class PythonFormatTests: XCTestCase {
    private let values = ["context": "CTX {input} }{", "input": "Q?"]

    /// The golden cases use the same values as the script. Fields with a conversion, spec,
    /// attribute or index are outside the supported subset, so they must throw instead.
    func testFormatMatchesPython() throws {
        for golden in try MetricFixtures.longBench.get().format {
            let label = shown(golden.template)
            do {
                let output = try PythonFormat.format(golden.template, values)
                XCTAssertEqual(output, golden.expected, label)
            } catch let error as PythonFormatError {
                switch error {
                case .singleClosingBrace, .unmatchedOpeningBrace:
                    XCTAssertEqual(golden.error, "ValueError", label)
                case .missingKey:
                    XCTAssertEqual(golden.error, "KeyError", label)
                case .positionalField:
                    XCTAssertEqual(golden.error, "IndexError", label)
                case .unsupportedField:
                    XCTAssertTrue(golden.template.contains("!") || golden.template.contains(":")
                                  || golden.template.contains(".") || golden.template.contains("["), label)
                }
            }
        }
    }

    func testValuesAreNotReparsed() throws {
        XCTAssertEqual(try PythonFormat.format("<{context}>", ["context": "{input}"]), "<{input}>")
    }

    func testErrorsNamePositionAndKey() {
        XCTAssertThrowsError(try PythonFormat.format("ab}c", values)) { error in
            XCTAssertEqual(error as? PythonFormatError, .singleClosingBrace(position: 2))
        }
        XCTAssertThrowsError(try PythonFormat.format("{question}", values)) { error in
            XCTAssertTrue("\(error)".contains("{question}"), "\(error)")
        }
    }

    func testRealTemplatesFormat() throws {
        let configDirectory = MetricFixtures.longBenchDirectory
        guard FileManager.default.fileExists(atPath: configDirectory + "/config/dataset2prompt.json") else {
            throw XCTSkip("LongBench config not found under \(configDirectory)")
        }
        let config = try LongBenchConfig.load(dataDirectory: configDirectory)
        for (dataset, template) in config.promptTemplates {
            let prompt = try PythonFormat.format(template, ["context": "<C>", "input": "<I>"])
            XCTAssertTrue(prompt.contains("<C>"), dataset)
            XCTAssertFalse(prompt.contains("{context}"), dataset)
        }
    }
}
