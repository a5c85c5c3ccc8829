/// Python methods that templates call on strings and dicts, such as `content.strip()` and
/// `tool.items()`. Lists have none: Hugging Face renders in jinja2's immutable sandbox, where
/// `append` and the other mutating methods are forbidden.
extension Interpreter {
    func boundMethod(_ name: String, of value: JinjaValue) -> JinjaCallable? {
        switch value {
        case .string(let text):
            guard Interpreter.stringMethods.contains(name) else { return nil }
            return JinjaCallable(name: "str.\(name)") { [unowned self] arguments, line in
                try self.callStringMethod(name, on: text, arguments: arguments, line: line)
            }
        case .dictionary(let dictionary):
            guard Interpreter.dictionaryMethods.contains(name) else { return nil }
            return JinjaCallable(name: "dict.\(name)") { arguments, line in
                try Interpreter.callDictionaryMethod(name, on: dictionary, arguments: arguments, line: line)
            }
        default:
            return nil
        }
    }

    static let stringMethods: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "upper", "lower",
        "title", "capitalize", "replace", "find", "rfind", "count", "join", "isdigit", "isalpha", "isalnum",
        "isspace", "islower", "isupper",
    ]

    static let dictionaryMethods: Set<String> = ["items", "keys", "values", "get"]

    private func callStringMethod(_ name: String, on text: String, arguments: JinjaArguments, line: Int) throws
        -> JinjaValue
    {
        func reader(_ parameters: [String]) throws -> ArgumentReader {
            try ArgumentReader(arguments, function: "str.\(name)", parameters: parameters, line: line)
        }
        func prefixes(_ reader: ArgumentReader) throws -> [String] {
            switch reader["prefix"] {
            case .string(let prefix)?: return [prefix]
            case .array(let items)?:
                return try items.map { item in
                    guard case .string(let prefix) = item else {
                        throw ChatTemplateError.typeMismatch("str.\(name) needs strings, not \(item.typeName)", line: line)
                    }
                    return prefix
                }
            default:
                throw ChatTemplateError.typeMismatch("str.\(name) needs a string or a tuple of strings", line: line)
            }
        }
        let scalars = text.unicodeScalars

        switch name {
        case "strip", "lstrip", "rstrip":
            let characters = try reader(["chars"]).string("chars")
            return .string(PythonString.strip(text, characters: characters, leading: name != "rstrip",
                                              trailing: name != "lstrip"))
        case "split", "rsplit":
            let reader = try reader(["sep", "maxsplit"])
            let separator = try reader.string("sep")
            if separator?.isEmpty == true {
                throw ChatTemplateError.typeMismatch("str.\(name) got an empty separator", line: line)
            }
            let maxSplit = try reader.integer("maxsplit") ?? -1
            let parts = name == "split"
                ? PythonString.split(text, separator: separator, maxSplit: maxSplit)
                : PythonString.rsplit(text, separator: separator, maxSplit: maxSplit)
            return .array(parts.map { .string($0) })
        case "splitlines":
            _ = try reader([])
            return .array(PythonString.splitLines(text).map { .string($0) })
        case "startswith":
            let candidates = try prefixes(try reader(["prefix"]))
            return .boolean(candidates.contains { scalars.starts(with: $0.unicodeScalars) })
        case "endswith":
            let candidates = try prefixes(try reader(["prefix"]))
            return .boolean(candidates.contains { scalars.reversed().starts(with: $0.unicodeScalars.reversed()) })
        case "upper":
            _ = try reader([])
            return .string(text.uppercased())
        case "lower":
            _ = try reader([])
            return .string(text.lowercased())
        case "title":
            _ = try reader([])
            return .string(PythonString.pythonTitle(text))
        case "capitalize":
            _ = try reader([])
            return .string(PythonString.capitalize(text))
        case "replace":
            let reader = try reader(["old", "new", "count"])
            guard let old = try reader.string("old"), let new = try reader.string("new") else {
                throw ChatTemplateError.typeMismatch("str.replace needs the old and new strings", line: line)
            }
            return .string(PythonString.replace(text, old, new, count: try reader.integer("count")))
        case "find", "rfind", "count":
            guard let part = try reader(["sub"]).string("sub") else {
                throw ChatTemplateError.typeMismatch("str.\(name) needs a string argument", line: line)
            }
            if name == "count" {
                return .integer(PythonString.count(text, part))
            }
            return .integer(PythonString.find(text, part, fromEnd: name == "rfind"))
        case "join":
            let reader = try reader(["iterable"])
            let items = try iterate(reader["iterable"] ?? .undefined, line: line, description: "the argument of str.join")
            let strings = try items.map { item -> String in
                guard case .string(let part) = item else {
                    throw ChatTemplateError.typeMismatch(
                        "str.join needs strings, found \(item.typeName) \(item.pythonRepresentation)", line: line)
                }
                return part
            }
            return .string(strings.joined(separator: text))
        case "isdigit", "isalpha", "isalnum", "isspace", "islower", "isupper":
            _ = try reader([])
            return .boolean(Interpreter.classify(name, text))
        default:
            preconditionFailure("string method '\(name)' is listed but not implemented")
        }
    }

    private static func classify(_ name: String, _ text: String) -> Bool {
        let scalars = text.unicodeScalars
        switch name {
        case "isdigit":
            return !scalars.isEmpty && scalars.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit }
        case "isalpha":
            return !scalars.isEmpty && scalars.allSatisfy(\.properties.isAlphabetic)
        case "isalnum":
            return !scalars.isEmpty && scalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil }
        case "isspace":
            return !scalars.isEmpty && scalars.allSatisfy(\.isPythonWhitespace)
        case "islower", "isupper":
            // Python: at least one cased character, and no cased character of the other case.
            let cased = scalars.filter(\.properties.isCased)
            guard !cased.isEmpty else { return false }
            return name == "islower" ? cased.allSatisfy(\.properties.isLowercase) : cased.allSatisfy(\.properties.isUppercase)
        default:
            return false
        }
    }

    private static func callDictionaryMethod(
        _ name: String, on dictionary: JinjaDictionary, arguments: JinjaArguments, line: Int
    ) throws -> JinjaValue {
        switch name {
        case "items":
            _ = try ArgumentReader(arguments, function: "dict.items", parameters: [], line: line)
            return .array(dictionary.pairs.map { .array([.string($0.key), $0.value]) })
        case "keys":
            _ = try ArgumentReader(arguments, function: "dict.keys", parameters: [], line: line)
            return .array(dictionary.keys.map { .string($0) })
        case "values":
            _ = try ArgumentReader(arguments, function: "dict.values", parameters: [], line: line)
            return .array(dictionary.pairs.map(\.value))
        case "get":
            let reader = try ArgumentReader(arguments, function: "dict.get", parameters: ["key", "default"], line: line)
            guard case .string(let key)? = reader["key"] else { return reader["default"] ?? .none }
            return dictionary[key] ?? reader["default"] ?? .none
        default:
            preconditionFailure("dict method '\(name)' is listed but not implemented")
        }
    }
}
