import Foundation

/// Binds call arguments to named parameters, like a Python signature without `*args`.
struct ArgumentReader {
    private let values: [String: JinjaValue]
    let function: String
    let line: Int

    init(_ arguments: JinjaArguments, function: String, parameters: [String], line: Int) throws {
        self.function = function
        self.line = line
        guard arguments.positional.count <= parameters.count else {
            throw ChatTemplateError.typeMismatch(
                "\(function) takes at most \(parameters.count) arguments, got \(arguments.positional.count)",
                line: line)
        }
        var values = Dictionary(uniqueKeysWithValues: zip(parameters, arguments.positional))
        for keyword in arguments.keyword {
            guard parameters.contains(keyword.name), values[keyword.name] == nil else {
                throw ChatTemplateError.typeMismatch(
                    "\(function) got an unexpected or repeated argument '\(keyword.name)'", line: line)
            }
            values[keyword.name] = keyword.value
        }
        self.values = values
    }

    subscript(name: String) -> JinjaValue? { values[name] }

    func string(_ name: String) throws -> String? {
        guard let value = values[name], !value.isNone else { return nil }
        guard case .string(let text) = value else {
            throw ChatTemplateError.typeMismatch("\(function) argument '\(name)' must be a string, not \(value.typeName)",
                                                 line: line)
        }
        return text
    }

    func integer(_ name: String) throws -> Int? {
        guard let value = values[name], !value.isNone else { return nil }
        guard case .integer(let number)? = value.numericValue else {
            throw ChatTemplateError.typeMismatch(
                "\(function) argument '\(name)' must be an integer, not \(value.typeName)", line: line)
        }
        return number
    }

    func flag(_ name: String) -> Bool {
        values[name]?.isTruthy ?? false
    }
}

/// Jinja filters (`value | name(arguments)`), with the semantics of jinja2 3.1 and Hugging Face's
/// `tojson` override.
extension Interpreter {
    func applyFilter(_ name: String, to value: JinjaValue, arguments: JinjaArguments, line: Int) throws -> JinjaValue {
        func reader(_ parameters: [String]) throws -> ArgumentReader {
            try ArgumentReader(arguments, function: "filter '\(name)'", parameters: parameters, line: line)
        }

        switch name {
        case "default", "d":
            let reader = try reader(["default_value", "boolean"])
            if value.isUndefined || (reader.flag("boolean") && !value.isTruthy) {
                return reader["default_value"] ?? .string("")
            }
            return value

        case "trim":
            let chars = try reader(["chars"]).string("chars")
            return .string(PythonString.strip(value.pythonString, characters: chars, leading: true, trailing: true))
        case "lower":
            _ = try reader([])
            return .string(value.pythonString.lowercased())
        case "upper":
            _ = try reader([])
            return .string(value.pythonString.uppercased())
        case "capitalize":
            _ = try reader([])
            return .string(PythonString.capitalize(value.pythonString))
        case "title":
            _ = try reader([])
            return .string(PythonString.jinjaTitle(value.pythonString))
        case "replace":
            let reader = try reader(["old", "new", "count"])
            guard let old = try reader.string("old"), let new = try reader.string("new") else {
                throw ChatTemplateError.typeMismatch("filter 'replace' needs the old and new strings", line: line)
            }
            return .string(PythonString.replace(value.pythonString, old, new, count: try reader.integer("count")))
        case "indent":
            let reader = try reader(["width", "first", "blank"])
            let indentation: String
            if case .string(let text)? = reader["width"] {
                indentation = text
            } else {
                indentation = String(repeating: " ", count: max(0, try reader.integer("width") ?? 4))
            }
            return .string(PythonString.indent(value.pythonString, indentation: indentation,
                                               first: reader.flag("first"), blank: reader.flag("blank")))
        case "string":
            _ = try reader([])
            return .string(value.pythonString)
        case "safe":
            _ = try reader([])
            return value
        case "format":
            if !arguments.positional.isEmpty && !arguments.keyword.isEmpty {
                throw ChatTemplateError.typeMismatch(
                    "filter 'format' cannot take positional and keyword arguments together", line: line)
            }
            let formatArguments: JinjaValue = arguments.keyword.isEmpty
                ? .array(arguments.positional)
                : .dictionary(JinjaDictionary(arguments.keyword.map { ($0.name, $0.value) }))
            return .string(try PythonFormatting.percentFormat(value.pythonString, formatArguments, line: line))

        case "length", "count":
            _ = try reader([])
            return .integer(try length(of: value, line: line))
        case "first":
            _ = try reader([])
            return try sequence(value, filter: name, line: line).first ?? .undefined
        case "last":
            _ = try reader([])
            return try sequence(value, filter: name, line: line).last ?? .undefined
        case "list":
            _ = try reader([])
            return .array(try sequence(value, filter: name, line: line))
        case "reverse":
            _ = try reader([])
            if case .string(let text) = value {
                return .string(String(scalars: text.unicodeScalars.reversed()))
            }
            return .array(try sequence(value, filter: name, line: line).reversed())
        case "items":
            _ = try reader([])
            switch value {
            case .dictionary(let dictionary):
                return .array(dictionary.pairs.map { .array([.string($0.key), $0.value]) })
            case .undefined:
                return .array([])
            default:
                throw ChatTemplateError.typeMismatch("filter 'items' needs a mapping, not \(value.typeName)", line: line)
            }
        case "join":
            let reader = try reader(["d", "attribute"])
            let separator = try reader.string("d") ?? ""
            var items = try sequence(value, filter: name, line: line)
            if let attribute = reader["attribute"] {
                items = try items.map { try lookupPath(attribute, in: $0, line: line) }
            }
            return .string(items.map(\.pythonString).joined(separator: separator))
        case "unique":
            let reader = try reader(["case_sensitive", "attribute"])
            var seen: [JinjaValue] = []
            var result: [JinjaValue] = []
            for item in try sequence(value, filter: name, line: line) {
                let key = try sortKey(item, attribute: reader["attribute"], caseSensitive: reader.flag("case_sensitive"),
                                      line: line)
                if !seen.contains(where: { $0.isEqual(to: key) }) {
                    seen.append(key)
                    result.append(item)
                }
            }
            return .array(result)
        case "sort":
            let reader = try reader(["reverse", "case_sensitive", "attribute"])
            let items = try sequence(value, filter: name, line: line)
            let keyed = try items.map {
                ($0, try sortKey($0, attribute: reader["attribute"], caseSensitive: reader.flag("case_sensitive"),
                                 line: line))
            }
            // Insertion sort keeps the order stable and lets the comparison throw.
            var sorted: [(JinjaValue, JinjaValue)] = []
            for entry in keyed {
                var position = sorted.count
                while position > 0, try order(entry.1, sorted[position - 1].1, op: .less, line: line) < 0 {
                    position -= 1
                }
                sorted.insert(entry, at: position)
            }
            let result = sorted.map(\.0)
            return .array(reader.flag("reverse") ? result.reversed() : result)
        case "sum":
            let reader = try reader(["attribute", "start"])
            var total = reader["start"] ?? .integer(0)
            for item in try sequence(value, filter: name, line: line) {
                let term = try reader["attribute"].map { try lookupPath($0, in: item, line: line) } ?? item
                total = try applyBinary(.add, total, term, leftExpression: .literal(total), rightExpression: .literal(term),
                                        line: line)
            }
            return total
        case "map":
            return .array(try mapItems(value, arguments: arguments, line: line))
        case "select", "reject", "selectattr", "rejectattr":
            return .array(try selectItems(value, filter: name, arguments: arguments, line: line))

        case "int":
            let reader = try reader(["default", "base"])
            return convertToInteger(value, base: try reader.integer("base") ?? 10) ?? reader["default"] ?? .integer(0)
        case "float":
            let reader = try reader(["default"])
            return convertToDouble(value).map { .double($0) } ?? reader["default"] ?? .double(0)
        case "abs":
            _ = try reader([])
            switch value.numericValue {
            case .integer(let number)?:
                guard number != .min else { throw ChatTemplateError.limitExceeded("abs overflowed 64 bits", line: line) }
                return .integer(abs(number))
            case .double(let number)?:
                return .double(abs(number))
            case nil:
                throw ChatTemplateError.typeMismatch("filter 'abs' needs a number, not \(value.typeName)", line: line)
            }
        case "round":
            let reader = try reader(["precision", "method"])
            guard let number = value.numericValue?.doubleValue else {
                throw ChatTemplateError.typeMismatch("filter 'round' needs a number, not \(value.typeName)", line: line)
            }
            let scale = pow(10, Double(try reader.integer("precision") ?? 0))
            let rule: FloatingPointRoundingRule
            switch try reader.string("method") ?? "common" {
            case "common": rule = .toNearestOrEven
            case "ceil": rule = .up
            case "floor": rule = .down
            case let method:
                throw ChatTemplateError.typeMismatch("filter 'round' method must be common, ceil or floor, not '\(method)'",
                                                     line: line)
            }
            return .double((number * scale).rounded(rule) / scale)

        case "tojson":
            let reader = try reader(["ensure_ascii", "indent", "separators", "sort_keys"])
            var encoder = PythonJSONEncoder(indent: nil)
            switch reader["indent"] {
            case .integer(let width)?: encoder = PythonJSONEncoder(indent: String(repeating: " ", count: max(0, width)))
            case .string(let text)?: encoder = PythonJSONEncoder(indent: text)
            default: break
            }
            encoder.ensureASCII = reader.flag("ensure_ascii")
            encoder.sortKeys = reader.flag("sort_keys")
            if case .array(let pair)? = reader["separators"], pair.count == 2,
               case .string(let itemSeparator) = pair[0], case .string(let keySeparator) = pair[1]
            {
                encoder.itemSeparator = itemSeparator
                encoder.keySeparator = keySeparator
            }
            return .string(try encoder.encode(value, line: line))

        default:
            throw ChatTemplateError.unsupported(construct: "the '\(name)' filter", line: line)
        }
    }

    func length(of value: JinjaValue, line: Int) throws -> Int {
        switch value {
        case .string(let text): return text.unicodeScalars.count
        case .array(let items): return items.count
        case .dictionary(let dictionary): return dictionary.count
        case .namespace(let namespace): return namespace.attributes.count
        case .undefined: return 0
        default:
            throw ChatTemplateError.typeMismatch("object of type '\(value.typeName)' has no length", line: line)
        }
    }

    private func sequence(_ value: JinjaValue, filter: String, line: Int) throws -> [JinjaValue] {
        try iterate(value, line: line, description: "the input of filter '\(filter)'")
    }

    /// jinja2's attribute getter for filters: a dotted path such as `"function.name"`, whose
    /// integer parts index lists.
    func lookupPath(_ path: JinjaValue, in item: JinjaValue, line: Int) throws -> JinjaValue {
        let parts: [JinjaValue]
        switch path {
        case .string(let text):
            parts = text.split(separator: ".", omittingEmptySubsequences: false).map { part in
                Int(part).map { JinjaValue.integer($0) } ?? .string(String(part))
            }
        default:
            parts = [path]
        }
        var current = item
        for part in parts {
            current = try self.item(part, of: current, base: .literal(current), line: line)
        }
        return current
    }

    private func sortKey(_ item: JinjaValue, attribute: JinjaValue?, caseSensitive: Bool, line: Int) throws -> JinjaValue {
        let key = try attribute.map { try lookupPath($0, in: item, line: line) } ?? item
        if !caseSensitive, case .string(let text) = key {
            return .string(text.lowercased())
        }
        return key
    }

    /// `map(attribute='x', default=y)` or `map('filter', arguments...)`.
    private func mapItems(_ value: JinjaValue, arguments: JinjaArguments, line: Int) throws -> [JinjaValue] {
        let items = try sequence(value, filter: "map", line: line)
        if let attribute = arguments.keyword.first(where: { $0.name == "attribute" })?.value {
            let defaultValue = arguments.keyword.first { $0.name == "default" }?.value
            return try items.map { item in
                let found = try lookupPath(attribute, in: item, line: line)
                if found.isUndefined, let defaultValue { return defaultValue }
                return found
            }
        }
        guard case .string(let filterName)? = arguments.positional.first else {
            throw ChatTemplateError.typeMismatch("filter 'map' needs a filter name or attribute=", line: line)
        }
        let rest = JinjaArguments(positional: Array(arguments.positional.dropFirst()), keyword: arguments.keyword)
        return try items.map { try applyFilter(filterName, to: $0, arguments: rest, line: line) }
    }

    /// `select(test, args...)`, `reject(...)`, `selectattr(attribute, test, args...)`,
    /// `rejectattr(...)`; without a test the (attribute) value's truthiness decides.
    ///
    /// NOTE: jinja2 returns a generator here, which is truthy even when empty; this returns a list,
    /// so only `{% if xs | select(...) %}` without `| list` behaves differently.
    private func selectItems(_ value: JinjaValue, filter: String, arguments: JinjaArguments, line: Int) throws
        -> [JinjaValue]
    {
        let byAttribute = filter.hasSuffix("attr")
        let keeps = filter.hasPrefix("select")
        var positional = arguments.positional
        var attribute: JinjaValue?
        if byAttribute {
            guard !positional.isEmpty else {
                throw ChatTemplateError.typeMismatch("filter '\(filter)' needs an attribute name", line: line)
            }
            attribute = positional.removeFirst()
        }
        var testName: String?
        if !positional.isEmpty {
            guard case .string(let name) = positional.removeFirst() else {
                throw ChatTemplateError.typeMismatch("filter '\(filter)' needs a test name string", line: line)
            }
            testName = name
        }
        let testArguments = JinjaArguments(positional: positional, keyword: arguments.keyword)

        return try sequence(value, filter: filter, line: line).filter { item in
            let subject = try attribute.map { try lookupPath($0, in: item, line: line) } ?? item
            let passes = try testName.map { try applyTest($0, to: subject, arguments: testArguments, line: line) }
                ?? subject.isTruthy
            return passes == keeps
        }
    }

    /// jinja2's `int` filter: Python `int(value)`, then `int(float(value))`, else nil.
    private func convertToInteger(_ value: JinjaValue, base: Int) -> JinjaValue? {
        switch value {
        case .boolean(let flag): return .integer(flag ? 1 : 0)
        case .integer: return value
        case .double(let number):
            guard number.isFinite, abs(number) < 9.2e18 else { return nil }
            return .integer(Int(number.rounded(.towardZero)))
        case .string(let text):
            var digits = text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "_", with: "")
            var negative = false
            if digits.hasPrefix("-") || digits.hasPrefix("+") {
                negative = digits.hasPrefix("-")
                digits.removeFirst()
            }
            var radix = base
            let lowered = digits.lowercased()
            for (prefix, prefixRadix) in [("0x", 16), ("0o", 8), ("0b", 2)]
            where lowered.hasPrefix(prefix) && (base == prefixRadix || base == 0) {
                digits.removeFirst(2)
                radix = prefixRadix
            }
            if radix == 0 { radix = 10 }
            if (2...36).contains(radix), let number = Int(digits, radix: radix) {
                return .integer(negative ? -number : number)
            }
            return convertToDouble(value).flatMap { convertToInteger(.double($0), base: 10) }
        default:
            return nil
        }
    }

    private func convertToDouble(_ value: JinjaValue) -> Double? {
        switch value {
        case .boolean, .integer, .double: return value.numericValue?.doubleValue
        case .string(let text):
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "_", with: "")
            switch trimmed.lowercased() {
            case "inf", "+inf", "infinity", "+infinity": return .infinity
            case "-inf", "-infinity": return -.infinity
            case "nan", "+nan", "-nan": return .nan
            default: return Double(trimmed)
            }
        default:
            return nil
        }
    }
}
