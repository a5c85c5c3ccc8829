/// The `tojson` filter as Hugging Face defines it: Python's
/// `json.dumps(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
/// It differs from jinja2's own `tojson`, which escapes HTML characters.
struct PythonJSONEncoder {
    var ensureASCII = false
    /// The indentation per level; nil writes everything on one line.
    var indent: String?
    var itemSeparator: String
    var keySeparator = ": "
    var sortKeys = false

    init(indent: String?) {
        self.indent = indent
        // Python's default separators: ", " on one line, "," with indentation (no trailing spaces).
        itemSeparator = indent == nil ? ", " : ","
    }

    func encode(_ value: JinjaValue, line: Int) throws -> String {
        var output = ""
        try write(value, level: 0, into: &output, line: line)
        return output
    }

    private func write(_ value: JinjaValue, level: Int, into output: inout String, line: Int) throws {
        switch value {
        case .none:
            output += "null"
        case .boolean(let flag):
            output += flag ? "true" : "false"
        case .integer(let number):
            output += String(number)
        case .double(let number):
            if number.isNaN {
                output += "NaN"
            } else if number.isInfinite {
                output += number < 0 ? "-Infinity" : "Infinity"
            } else {
                output += PythonFormatting.floatRepresentation(number)
            }
        case .string(let text):
            writeString(text, into: &output)
        case .array(let items):
            guard !items.isEmpty else {
                output += "[]"
                return
            }
            output += "["
            for (position, item) in items.enumerated() {
                if position > 0 { output += itemSeparator }
                writeNewline(level: level + 1, into: &output)
                try write(item, level: level + 1, into: &output, line: line)
            }
            writeNewline(level: level, into: &output)
            output += "]"
        case .dictionary(let dictionary):
            guard !dictionary.isEmpty else {
                output += "{}"
                return
            }
            let pairs = sortKeys
                ? dictionary.pairs.sorted { $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars) }
                : dictionary.pairs
            output += "{"
            for (position, pair) in pairs.enumerated() {
                if position > 0 { output += itemSeparator }
                writeNewline(level: level + 1, into: &output)
                writeString(pair.key, into: &output)
                output += keySeparator
                try write(pair.value, level: level + 1, into: &output, line: line)
            }
            writeNewline(level: level, into: &output)
            output += "}"
        case .undefined:
            throw ChatTemplateError.undefinedValue("tojson got an undefined value", line: line)
        case .namespace, .callable:
            throw ChatTemplateError.typeMismatch("tojson cannot serialize a \(value.typeName) object", line: line)
        }
    }

    private func writeNewline(level: Int, into output: inout String) {
        guard let indent else { return }
        output += "\n"
        for _ in 0..<level {
            output += indent
        }
    }

    private func writeString(_ text: String, into output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            default:
                if scalar.value < 0x20 || (ensureASCII && scalar.value > 0x7E) {
                    appendEscaped(scalar, into: &output)
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output += "\""
    }

    /// Writes `\uXXXX` in lowercase hex, as a UTF-16 surrogate pair above U+FFFF (Python's form).
    private func appendEscaped(_ scalar: Unicode.Scalar, into output: inout String) {
        for unit in String(scalar).utf16 {
            let hex = String(unit, radix: 16)
            output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }
}
