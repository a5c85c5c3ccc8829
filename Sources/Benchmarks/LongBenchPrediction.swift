import Foundation

/// One LongBench prediction line as KVCache-Factory's runner writes it, plus the memory and
/// timing of the generation.
public struct LongBenchPrediction: Sendable, Equatable {
    public var record: LongBenchRecord
    /// The filled template before truncation and chat wrapping.
    public var prompt: String
    /// The generated text, decoded without special tokens.
    public var prediction: String
    /// KV-cache bytes held at the end of the generation.
    public var kvCacheBytes: Int
    /// Wall time of the prompt's forward pass, in seconds.
    public var prefillSeconds: Double
    /// Wall time of the decode steps after the first token, in seconds.
    public var decodeSeconds: Double

    public init(record: LongBenchRecord, prompt: String, prediction: String, kvCacheBytes: Int,
                prefillSeconds: Double, decodeSeconds: Double) {
        self.record = record
        self.prompt = prompt
        self.prediction = prediction
        self.kvCacheBytes = kvCacheBytes
        self.prefillSeconds = prefillSeconds
        self.decodeSeconds = decodeSeconds
    }

    /// Formats the prediction as one JSON line, as Python's `json.dumps` formats it (", " and ": "
    /// separators, non-ASCII escaped as \uXXXX), with the reference's fields in its order and the
    /// extra fields `kv_cache_bytes`, `prefill_s` and `decode_s` after them.
    public func jsonLine() -> String {
        var json = PythonJSON()
        json.beginObject()
        json.key("prompt"); json.string(prompt)
        json.key("input"); json.string(record.input)
        json.key("context"); json.string(record.context)
        json.key("answers"); json.strings(record.answers)
        json.key("pred"); json.string(prediction)
        json.key("length"); json.integer(record.length)
        json.key("dataset"); json.string(record.dataset)
        json.key("language"); json.string(record.language)
        json.key("all_classes")
        if let classes = record.allClasses { json.strings(classes) } else { json.null() }
        json.key("_id"); json.string(record.id)
        json.key("kv_cache_bytes"); json.integer(kvCacheBytes)
        json.key("prefill_s"); json.double(prefillSeconds)
        json.key("decode_s"); json.double(decodeSeconds)
        json.endObject()
        return json.text
    }
}

extension LongBenchPrediction: Decodable {
    /// Reads a line written by `jsonLine`; other fields, such as those a results journal adds, are ignored.
    public init(from decoder: Decoder) throws {
        let fields = try RecordFields(decoder)
        record = try LongBenchRecord(from: decoder)
        prompt = try fields.string("prompt")
        prediction = try fields.string("pred")
        kvCacheBytes = try fields.integer("kv_cache_bytes")
        prefillSeconds = try fields.double("prefill_s")
        decodeSeconds = try fields.double("decode_s")
    }

    /// Decodes one line; errors name `path` and `line`.
    public static func decode(_ line: Data, path: String, line lineNumber: Int) throws -> LongBenchPrediction {
        try decodeLine(Self.self, line, path: path, line: lineNumber)
    }
}

/// Decodes one JSON line as `Record`, turning field problems into errors that name `path` and `line`.
func decodeLine<Record: Decodable>(_ type: Record.Type, _ line: Data, path: String, line lineNumber: Int) throws -> Record {
    do {
        return try JSONDecoder().decode(Record.self, from: line)
    } catch let issue as FieldIssue {
        switch issue {
        case .missing(let field):
            throw BenchmarkError.missingField(path: path, line: lineNumber, field: field)
        case .wrongType(let field, let expected):
            throw BenchmarkError.invalidField(path: path, line: lineNumber, field: field, expected: expected)
        }
    } catch {
        throw BenchmarkError.malformedLine(path: path, line: lineNumber, detail: "not a JSON object with the prediction fields")
    }
}

/// The fields of a prediction line that a run reads back: the sample id and what the running
/// score needs.
public struct LongBenchPredictionSummary: Decodable, Sendable, Equatable {
    public var id: String
    public var dataset: String
    public var prediction: String
    public var answers: [String]
    public var allClasses: [String]?

    public init(from decoder: Decoder) throws {
        let fields = try RecordFields(decoder)
        id = try fields.string("_id")
        dataset = try fields.string("dataset")
        prediction = try fields.string("pred")
        answers = try fields.strings("answers")
        allClasses = try fields.nullableStrings("all_classes")
    }

    /// Decodes one prediction line; errors name `path` and `line`.
    public static func decode(_ line: Data, path: String, line lineNumber: Int) throws -> LongBenchPredictionSummary {
        try decodeLine(Self.self, line, path: path, line: lineNumber)
    }

    /// Scores the sample with its dataset's metric, from 0 to 1.
    public func score() throws -> Double {
        try LongBenchMetric.score(dataset: dataset, prediction: prediction, answers: answers, allClasses: allClasses)
    }
}

/// Writing of a finished `<dataset>/<Method>.json` prediction file.
public enum LongBenchPredictionFile {
    /// Writes `lines` (each without its newline) as a JSON Lines file, through a temporary file
    /// in the same folder renamed into place, so a reader never sees a partial file.
    public static func write(lines: [String], to path: String) throws {
        let url = URL(fileURLWithPath: path)
        var text = lines.joined(separator: "\n")
        if !lines.isEmpty { text += "\n" }
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw BenchmarkError.writeFailed(path: path, reason: error.localizedDescription)
        }
    }
}

/// A JSON writer that formats as Python's `json.dumps` with its default options.
struct PythonJSON {
    private(set) var text = ""
    private var needsComma = [Bool]()

    mutating func beginObject() {
        separate()
        text += "{"
        needsComma.append(false)
    }

    mutating func endObject() {
        text += "}"
        needsComma.removeLast()
    }

    /// Writes a key; the value written next belongs to it.
    mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        text += ": "
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = false }
    }

    mutating func string(_ value: String) {
        separate()
        appendQuoted(value)
        markWritten()
    }

    mutating func strings(_ values: [String]) {
        separate()
        text += "["
        text += values.map { Self.quoted($0) }.joined(separator: ", ")
        text += "]"
        markWritten()
    }

    mutating func integer(_ value: Int) {
        separate()
        text += String(value)
        markWritten()
    }

    /// Writes a finite number in its shortest round-trip form, as Python's `repr` does, and
    /// a non-finite one as Python writes it (NaN, Infinity).
    mutating func double(_ value: Double) {
        separate()
        if value.isNaN {
            text += "NaN"
        } else if value.isInfinite {
            text += value > 0 ? "Infinity" : "-Infinity"
        } else {
            text += "\(value)"
        }
        markWritten()
    }

    mutating func null() {
        separate()
        text += "null"
        markWritten()
    }

    private mutating func separate() {
        if needsComma.last == true { text += ", " }
    }

    private mutating func markWritten() {
        if !needsComma.isEmpty { needsComma[needsComma.count - 1] = true }
    }

    private mutating func appendQuoted(_ value: String) {
        text += Self.quoted(value)
    }

    /// Quotes `value` as `json.dumps` with `ensure_ascii=True`: every character outside
    /// printable ASCII becomes \uXXXX, with a surrogate pair above U+FFFF.
    static func quoted(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case " "..."~": result.unicodeScalars.append(scalar)
            default:
                if scalar.value > 0xFFFF {
                    let offset = scalar.value - 0x10000
                    result += hexEscape(0xD800 + (offset >> 10))
                    result += hexEscape(0xDC00 + (offset & 0x3FF))
                } else {
                    result += hexEscape(scalar.value)
                }
            }
        }
        return result + "\""
    }

    private static func hexEscape(_ unit: UInt32) -> String {
        let digits = String(unit, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
    }
}
