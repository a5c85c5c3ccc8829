import Foundation

/// Reading of JSON Lines files (one JSON object per line) into typed records, with errors
/// that name the file, the 1-based line and the field.
enum JSONLines {
    /// Decodes every line of the file at `path` as `Record`. Lines holding only whitespace are
    /// skipped; any other line that is not a valid record throws.
    static func read<Record: Decodable>(_ type: Record.Type, path: String, missingFileHint: String) throws -> [Record] {
        try readNumbered(type, path: path, missingFileHint: missingFileHint).map(\.record)
    }

    /// Like `read`, with the 1-based line number of each record.
    static func readNumbered<Record: Decodable>(_ type: Record.Type, path: String,
                                                missingFileHint: String) throws -> [(line: Int, record: Record)] {
        guard FileManager.default.fileExists(atPath: path) else {
            throw BenchmarkError.fileNotFound(path: path, hint: missingFileHint)
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw BenchmarkError.unreadable(path: path, reason: error.localizedDescription)
        }

        let decoder = JSONDecoder()
        var records = [(line: Int, record: Record)]()
        for (lineNumber, line) in lines(of: data) where !isBlank(line) {
            do {
                records.append((lineNumber, try decoder.decode(Record.self, from: line)))
            } catch let issue as FieldIssue {
                switch issue {
                case .missing(let field):
                    throw BenchmarkError.missingField(path: path, line: lineNumber, field: field)
                case .wrongType(let field, let expected):
                    throw BenchmarkError.invalidField(path: path, line: lineNumber, field: field, expected: expected)
                }
            } catch let error as DecodingError {
                throw BenchmarkError.malformedLine(path: path, line: lineNumber, detail: describe(error))
            }
        }
        return records
    }

    /// Splits the file at "\n" bytes (found with memchr), numbering lines from 1. A final
    /// newline does not start another line.
    private static func lines(of data: Data) -> [(Int, Data)] {
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> [(Int, Data)] in
            guard let base = buffer.baseAddress, buffer.count > 0 else {
                return []
            }
            var result = [(Int, Data)]()
            var start = 0
            while start < buffer.count {
                let end: Int
                if let newline = memchr(base + start, 0x0A, buffer.count - start) {
                    end = UnsafeRawPointer(newline) - base
                } else {
                    end = buffer.count
                }
                result.append((result.count + 1, Data(bytes: base + start, count: end - start)))
                start = end + 1
            }
            return result
        }
    }

    /// Whether a line holds only spaces, tabs and carriage returns.
    private static func isBlank(_ line: Data) -> Bool {
        line.withUnsafeBytes { buffer in
            !buffer.contains { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .typeMismatch(_, let context) where context.codingPath.isEmpty:
            return "the line is not a JSON object"
        case .dataCorrupted(let context):
            let underlying = context.underlyingError.map { " (\($0.localizedDescription))" } ?? ""
            return context.debugDescription + underlying
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context):
            return context.debugDescription
        @unknown default:
            return String(describing: error)
        }
    }
}

/// A field problem found while decoding one record; `JSONLines` adds the file and line.
enum FieldIssue: Error {
    case missing(field: String)
    case wrongType(field: String, expected: String)
}

/// A JSON object key given by name.
struct FieldKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }

    init(_ name: String) {
        stringValue = name
    }

    init?(stringValue: String) {
        self.stringValue = stringValue
    }

    init?(intValue: Int) {
        nil
    }
}

/// Typed access to the fields of one JSON object, throwing `FieldIssue`.
struct RecordFields {
    let container: KeyedDecodingContainer<FieldKey>

    init(_ decoder: Decoder) throws {
        container = try decoder.container(keyedBy: FieldKey.self)
    }

    func contains(_ name: String) -> Bool {
        container.contains(FieldKey(name))
    }

    func string(_ name: String) throws -> String {
        try required(name, String.self, expected: "a string")
    }

    func integer(_ name: String) throws -> Int {
        try required(name, Int.self, expected: "an integer")
    }

    func double(_ name: String) throws -> Double {
        try required(name, Double.self, expected: "a number")
    }

    func strings(_ name: String) throws -> [String] {
        try required(name, [String].self, expected: "a list of strings")
    }

    /// A field that must be present but may be null.
    func nullableStrings(_ name: String) throws -> [String]? {
        let key = FieldKey(name)
        guard container.contains(key) else {
            throw FieldIssue.missing(field: name)
        }
        if (try? container.decodeNil(forKey: key)) == true {
            return nil
        }
        return try required(name, [String].self, expected: "null or a list of strings")
    }

    private func required<T: Decodable>(_ name: String, _ type: T.Type, expected: String) throws -> T {
        let key = FieldKey(name)
        guard container.contains(key) else {
            throw FieldIssue.missing(field: name)
        }
        do {
            return try container.decode(T.self, forKey: key)
        } catch {
            throw FieldIssue.wrongType(field: name, expected: expected)
        }
    }
}
