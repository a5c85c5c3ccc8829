/// Jinja tests, the predicates after `is` (`x is defined`, `x is not none`, `n is divisibleby 3`),
/// with the semantics of jinja2 3.1.
extension Interpreter {
    func applyTest(_ name: String, to value: JinjaValue, arguments: JinjaArguments, line: Int) throws -> Bool {
        func argument() throws -> JinjaValue {
            let reader = try ArgumentReader(arguments, function: "test '\(name)'", parameters: ["other"], line: line)
            guard let other = reader["other"] else {
                throw ChatTemplateError.typeMismatch("test '\(name)' needs an argument", line: line)
            }
            return other
        }
        func noArguments() throws {
            _ = try ArgumentReader(arguments, function: "test '\(name)'", parameters: [], line: line)
        }

        switch name {
        case "defined":
            try noArguments()
            return !value.isUndefined
        case "undefined":
            try noArguments()
            return value.isUndefined
        case "none":
            try noArguments()
            return value.isNone
        case "boolean":
            try noArguments()
            if case .boolean = value { return true }
            return false
        case "true", "false":
            try noArguments()
            if case .boolean(let flag) = value { return flag == (name == "true") }
            return false
        case "integer":
            try noArguments()
            if case .integer = value { return true }
            return false
        case "float":
            try noArguments()
            if case .double = value { return true }
            return false
        case "number":
            try noArguments()
            return value.numericValue != nil
        case "string":
            try noArguments()
            if case .string = value { return true }
            return false
        case "mapping":
            try noArguments()
            if case .dictionary = value { return true }
            return false
        case "iterable":
            // Python's iter() accepts strings, lists, dicts and jinja2's Undefined.
            try noArguments()
            switch value {
            case .string, .array, .dictionary, .undefined: return true
            default: return false
            }
        case "sequence":
            try noArguments()
            switch value {
            case .string, .array, .dictionary: return true
            default: return false
            }
        case "callable":
            try noArguments()
            if case .callable = value { return true }
            return false
        case "lower", "upper":
            try noArguments()
            guard case .string(let text) = value else { return false }
            let cased = text.unicodeScalars.filter(\.properties.isCased)
            return !cased.isEmpty
                && cased.allSatisfy { name == "lower" ? $0.properties.isLowercase : $0.properties.isUppercase }
        case "odd", "even":
            try noArguments()
            guard case .integer(let number)? = value.numericValue else {
                throw ChatTemplateError.typeMismatch("test '\(name)' needs an integer, not \(value.typeName)", line: line)
            }
            return (number % 2 != 0) == (name == "odd")
        case "divisibleby":
            let divisor = try argument()
            guard case .integer(let number)? = value.numericValue, case .integer(let by)? = divisor.numericValue,
                  by != 0
            else {
                throw ChatTemplateError.typeMismatch("test 'divisibleby' needs integers and a nonzero divisor", line: line)
            }
            return number % by == 0
        case "sameas":
            let other = try argument()
            switch (value, other) {
            case (.none, .none), (.undefined, .undefined): return true
            case (.boolean(let left), .boolean(let right)): return left == right
            case (.namespace(let left), .namespace(let right)): return left === right
            case (.callable(let left), .callable(let right)): return left === right
            default: return false
            }
        case "eq", "equalto", "==":
            return value.isEqual(to: try argument())
        case "ne", "!=":
            return !value.isEqual(to: try argument())
        case "lt", "lessthan", "<":
            return try compare(.less, value, try argument(), line: line)
        case "le", "<=":
            return try compare(.lessOrEqual, value, try argument(), line: line)
        case "gt", "greaterthan", ">":
            return try compare(.greater, value, try argument(), line: line)
        case "ge", ">=":
            return try compare(.greaterOrEqual, value, try argument(), line: line)
        case "in":
            return try contains(try argument(), value, line: line)
        default:
            throw ChatTemplateError.unsupported(construct: "the '\(name)' test", line: line)
        }
    }
}
