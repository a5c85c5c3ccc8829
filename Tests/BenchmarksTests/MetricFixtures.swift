import Foundation
import XCTest

/// Golden values written by scripts/golden/make_metric_fixtures.py from the PyPI packages
/// `rouge`, `fuzzywuzzy` + `python-Levenshtein`, `rouge-score` and `nltk`.
enum MetricFixtures {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let directory = repositoryRoot.appendingPathComponent("Tests/Fixtures/metrics")

    /// The LongBench data folder used by the data tests, when it exists on this machine.
    static let longBenchDirectory = ProcessInfo.processInfo.environment["LONGBENCH_DIR"] ?? "/work/shared/data/longbench"

    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        let url = directory.appendingPathComponent(name)
        let data = try Data(contentsOf: url)
        return try JSONDecoder().decode(T.self, from: data)
    }

    struct MetricCase: Decodable {
        var prediction: String
        var groundTruth: String
        var allClasses: [String]?
        var expected: Double?
        var error: String?

        enum CodingKeys: String, CodingKey {
            case prediction
            case groundTruth = "ground_truth"
            case allClasses = "all_classes"
            case expected
            case error
        }
    }

    struct DatasetCase: Decodable {
        var dataset: String
        var predictions: [String]
        var answers: [[String]]
        var allClasses: [String]?
        var expected: Double

        enum CodingKeys: String, CodingKey {
            case dataset, predictions, answers, expected
            case allClasses = "all_classes"
        }
    }

    struct FormatCase: Decodable {
        var template: String
        var expected: String?
        var error: String?
    }

    struct LongBench: Decodable {
        var rougeBacktrackMaxSteps: Int
        var qaF1: [MetricCase]
        var rougeL: [MetricCase]
        var classification: [MetricCase]
        var retrieval: [MetricCase]
        var retrievalZh: [MetricCase]
        var count: [MetricCase]
        var codeSim: [MetricCase]
        var datasetScores: [DatasetCase]
        var format: [FormatCase]

        enum CodingKeys: String, CodingKey {
            case rougeBacktrackMaxSteps = "rouge_backtrack_max_steps"
            case qaF1 = "qa_f1"
            case rougeL = "rouge_l"
            case classification, retrieval, count, format
            case retrievalZh = "retrieval_zh"
            case codeSim = "code_sim"
            case datasetScores = "dataset_scores"
        }
    }

    struct PythonSemantics: Decodable {
        struct LowerText: Decodable {
            var text: String
            var expected: String
        }
        struct RoundCase: Decodable {
            var value: Double
            var expected: Double
        }
        struct LowerEntry: Decodable {
            var codePoint: UInt32
            var lowered: [UInt32]

            init(from decoder: Decoder) throws {
                var container = try decoder.unkeyedContainer()
                codePoint = try container.decode(UInt32.self)
                lowered = try container.decode([UInt32].self)
            }
        }

        var pythonVersion: String
        var unicodeVersion: String
        var assigned: [[UInt32]]
        var decimalDigits: [[UInt32]]
        var wordCharacters: [[UInt32]]
        var whitespace: [UInt32]
        var lowercase: [LowerEntry]
        var lowerTexts: [LowerText]
        var round2: [RoundCase]

        enum CodingKeys: String, CodingKey {
            case assigned, whitespace, lowercase, round2
            case pythonVersion = "python_version"
            case unicodeVersion = "unicode_version"
            case decimalDigits = "decimal_digits"
            case wordCharacters = "word_characters"
            case lowerTexts = "lower_texts"
        }
    }

    struct Needle: Decodable {
        struct ResponseCase: Decodable {
            var response: String
            var rouge1F: Double
            var runnerScore: Double
            var recall: Double

            enum CodingKeys: String, CodingKey {
                case response, recall
                case rouge1F = "rouge1_f"
                case runnerScore = "runner_score"
            }
        }
        struct PairCase: Decodable {
            var target: String
            var prediction: String
            var rouge1F: Double

            enum CodingKeys: String, CodingKey {
                case target, prediction
                case rouge1F = "rouge1_f"
            }
        }
        struct TokenizeCase: Decodable {
            var text: String
            var tokens: [String]
        }

        var needle: String
        var expectedAnswer: String
        var cases: [ResponseCase]
        var pairs: [PairCase]
        var tokenize: [TokenizeCase]

        enum CodingKeys: String, CodingKey {
            case needle, cases, pairs, tokenize
            case expectedAnswer = "expected_answer"
        }
    }

    struct PorterStems: Decodable {
        var nltkVersion: String
        var mode: String
        var pairs: [[String]]

        enum CodingKeys: String, CodingKey {
            case mode, pairs
            case nltkVersion = "nltk_version"
        }
    }

    static let longBench = Result { try load(LongBench.self, "longbench_metrics.json") }
}

/// Returns a short, printable form of a test input for failure messages.
func shown(_ text: String, limit: Int = 60) -> String {
    let escaped = text.debugDescription
    return escaped.count > limit ? String(escaped.prefix(limit)) + "…(\(text.unicodeScalars.count) code points)" : escaped
}
