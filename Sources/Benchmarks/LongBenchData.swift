import Foundation

/// One LongBench v1 sample, as stored in the official `<dataset>.jsonl` files.
public struct LongBenchRecord: Decodable, Equatable, Sendable {
    /// The question; empty for tasks without one (gov_report, passage_count, lcc, ...).
    public var input: String
    public var context: String
    public var answers: [String]
    /// LongBench's length of the sample in words (characters for Chinese), not tokens.
    public var length: Int
    public var dataset: String
    public var language: String
    /// The class names of the classification tasks (trec, lsht); nil for the others.
    public var allClasses: [String]?
    public var id: String

    public init(input: String, context: String, answers: [String], length: Int, dataset: String,
                language: String, allClasses: [String]?, id: String) {
        self.input = input
        self.context = context
        self.answers = answers
        self.length = length
        self.dataset = dataset
        self.language = language
        self.allClasses = allClasses
        self.id = id
    }

    public init(from decoder: Decoder) throws {
        let fields = try RecordFields(decoder)
        input = try fields.string("input")
        context = try fields.string("context")
        answers = try fields.strings("answers")
        length = try fields.integer("length")
        dataset = try fields.string("dataset")
        language = try fields.string("language")
        allClasses = try fields.nullableStrings("all_classes")
        id = try fields.string("_id")
    }
}

/// Reading of LongBench dataset files.
public enum LongBenchDataset {
    /// The 16 English LongBench v1 tasks, in the reference order.
    public static let englishDatasets = [
        "narrativeqa", "qasper", "multifieldqa_en", "hotpotqa", "2wikimqa", "musique",
        "gov_report", "qmsum", "multi_news", "trec", "triviaqa", "samsum",
        "passage_count", "passage_retrieval_en", "lcc", "repobench-p",
    ]

    /// The Chinese LongBench v1 tasks.
    public static let chineseDatasets = ["multifieldqa_zh", "dureader", "vcsum", "lsht", "passage_retrieval_zh"]

    /// Reads a dataset file (JSON Lines), validating every line.
    public static func load(path: String) throws -> [LongBenchRecord] {
        try JSONLines.read(LongBenchRecord.self, path: path,
                           missingFileHint: "download the LongBench data (data.zip of THUDM/LongBench) and pass its folder")
    }

    /// Reads `<dataDirectory>/<dataset>.jsonl`.
    public static func load(dataset: String, dataDirectory: String) throws -> [LongBenchRecord] {
        try load(path: path(dataset: dataset, dataDirectory: dataDirectory))
    }

    public static func path(dataset: String, dataDirectory: String) -> String {
        URL(fileURLWithPath: dataDirectory).appendingPathComponent(dataset + ".jsonl").path
    }
}

/// The official LongBench prompt templates and generation lengths, read from
/// `<dataDirectory>/config/dataset2prompt.json` and `dataset2maxlen.json`.
public struct LongBenchConfig: Equatable, Sendable {
    /// Prompt template per dataset, with `{context}` and `{input}` fields.
    public var promptTemplates: [String: String]
    /// Maximum number of new tokens per dataset.
    public var maxNewTokens: [String: Int]
    public var promptPath: String
    public var maxLengthPath: String

    public static func load(dataDirectory: String) throws -> LongBenchConfig {
        let configDirectory = URL(fileURLWithPath: dataDirectory).appendingPathComponent("config")
        let promptPath = configDirectory.appendingPathComponent("dataset2prompt.json").path
        let maxLengthPath = configDirectory.appendingPathComponent("dataset2maxlen.json").path
        return LongBenchConfig(
            promptTemplates: try readObject([String: String].self, path: promptPath, expected: "an object of dataset name to template string"),
            maxNewTokens: try readObject([String: Int].self, path: maxLengthPath, expected: "an object of dataset name to integer token count"),
            promptPath: promptPath,
            maxLengthPath: maxLengthPath)
    }

    public func promptTemplate(for dataset: String) throws -> String {
        guard let template = promptTemplates[dataset] else {
            throw BenchmarkError.invalidConfig(path: promptPath, detail: "no prompt template for dataset \"\(dataset)\"")
        }
        return template
    }

    public func maxNewTokens(for dataset: String) throws -> Int {
        guard let count = maxNewTokens[dataset] else {
            throw BenchmarkError.invalidConfig(path: maxLengthPath, detail: "no max length for dataset \"\(dataset)\"")
        }
        guard count > 0 else {
            throw BenchmarkError.invalidConfig(path: maxLengthPath, detail: "max length \(count) of dataset \"\(dataset)\" is not positive")
        }
        return count
    }

    /// Fills the dataset's template with the record's context and input, as `str.format` does.
    public func prompt(for record: LongBenchRecord) throws -> String {
        try PythonFormat.format(promptTemplate(for: record.dataset), ["context": record.context, "input": record.input])
    }

    private static func readObject<T: Decodable>(_ type: T.Type, path: String, expected: String) throws -> T {
        guard FileManager.default.fileExists(atPath: path) else {
            throw BenchmarkError.fileNotFound(
                path: path, hint: "copy config/\(URL(fileURLWithPath: path).lastPathComponent) from the LongBench repository next to the data files")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw BenchmarkError.unreadable(path: path, reason: error.localizedDescription)
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw BenchmarkError.invalidConfig(path: path, detail: "expected \(expected)")
        }
    }
}
