/// Errors of `PythonFormat.format`, named after the Python exception they stand for.
public enum PythonFormatError: Error, CustomStringConvertible, Equatable {
    /// ValueError: a "}" that is neither doubled nor closing a field.
    case singleClosingBrace(position: Int)
    /// ValueError: a "{" without a closing "}", or a "{" inside a field name.
    case unmatchedOpeningBrace(position: Int)
    /// KeyError: a field whose name has no value.
    case missingKey(name: String, available: [String])
    /// IndexError: a positional field such as "{}" or "{0}"; only named fields have values.
    case positionalField(field: String)
    /// A conversion ("!r"), format spec (":>10"), attribute (".x") or index ("[0]"), which
    /// this port does not implement.
    case unsupportedField(field: String)

    public var description: String {
        switch self {
        case .singleClosingBrace(let position):
            return "prompt template has a single '}' at character \(position); write '}}' for a literal brace"
        case .unmatchedOpeningBrace(let position):
            return "prompt template has a '{' at character \(position) that starts no valid field; write '{{' for a literal brace"
        case .missingKey(let name, let available):
            return "prompt template uses the field {\(name)}, which has no value; available fields: \(available.sorted().joined(separator: ", "))"
        case .positionalField(let field):
            return "prompt template uses the positional field {\(field)}; use a named field such as {context} or {input}"
        case .unsupportedField(let field):
            return "prompt template field {\(field)} uses a conversion, format spec, attribute or index, which are not supported; use a plain named field"
        }
    }
}

/// Python's `str.format(**values)` for templates whose fields are plain names, such as the
/// LongBench prompts with `{context}` and `{input}`.
public enum PythonFormat {
    /// Replaces each `{name}` with `values[name]` and each `{{` or `}}` with one brace. Values are
    /// inserted verbatim, so braces inside them are not parsed. Positions in errors count code
    /// points from 0.
    public static func format(_ template: String, _ values: [String: String]) throws -> String {
        let scalars = Array(template.unicodeScalars)
        var output = String.UnicodeScalarView()
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            let next: Unicode.Scalar? = index + 1 < scalars.count ? scalars[index + 1] : nil
            switch scalar {
            case "}":
                guard next == "}" else {
                    throw PythonFormatError.singleClosingBrace(position: index)
                }
                output.append("}")
                index += 2
            case "{" where next == "{":
                output.append("{")
                index += 2
            case "{":
                let (field, end) = try fieldText(scalars, openingBrace: index)
                output.append(contentsOf: try value(of: field, in: values).unicodeScalars)
                index = end + 1
            default:
                output.append(scalar)
                index += 1
            }
        }
        return String(output)
    }

    /// Returns the text between the "{" at `openingBrace` and its closing "}", and the index of
    /// that "}". As in CPython, "[...]" is skipped while looking for the end of the name.
    private static func fieldText(_ scalars: [Unicode.Scalar], openingBrace: Int) throws -> (String, Int) {
        var index = openingBrace + 1
        while index < scalars.count {
            switch scalars[index] {
            case "{":
                throw PythonFormatError.unmatchedOpeningBrace(position: openingBrace)
            case "[":
                while index < scalars.count && scalars[index] != "]" {
                    index += 1
                }
                index += 1
            case "}":
                return (PythonText.string(scalars[(openingBrace + 1)..<index]), index)
            case "!", ":":
                // A conversion or format spec may contain nested fields; none are supported.
                throw PythonFormatError.unsupportedField(field: PythonText.string(scalars[(openingBrace + 1)...].prefix(40)))
            default:
                index += 1
            }
        }
        throw PythonFormatError.unmatchedOpeningBrace(position: openingBrace)
    }

    private static func value(of field: String, in values: [String: String]) throws -> String {
        if field.unicodeScalars.contains(where: { $0 == "." || $0 == "[" }) {
            throw PythonFormatError.unsupportedField(field: field)
        }
        if field.isEmpty || field.unicodeScalars.allSatisfy(PythonText.isDecimalDigit) {
            throw PythonFormatError.positionalField(field: field)
        }
        guard let value = values[field] else {
            throw PythonFormatError.missingKey(name: field, available: Array(values.keys))
        }
        return value
    }
}
