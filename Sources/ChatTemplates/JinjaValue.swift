import Foundation

/// A value seen by a chat template. The cases mirror the Python objects that Hugging Face's
/// jinja2 rendering passes to templates: `None`, `bool`, `int`, `float`, `str`, `list` (and
/// tuples), `dict`, jinja2's `Undefined`, `namespace()` objects and callables.
public indirect enum JinjaValue {
    /// A missing variable, attribute or item. It prints as the empty string, is falsy and
    /// iterates as empty, but most operations on it raise `ChatTemplateError.undefinedValue`.
    case undefined
    case none
    case boolean(Bool)
    case integer(Int)
    case double(Double)
    case string(String)
    /// A Python list or tuple. Tuples print like lists here (`['a', 1]` where Python prints `('a', 1)`).
    case array([JinjaValue])
    /// A Python dict with string keys, in insertion order.
    case dictionary(JinjaDictionary)
    /// A `namespace()` object; the only value a template can mutate (`set ns.attr = ...`).
    case namespace(JinjaNamespace)
    /// A built-in function, a bound method or a macro.
    case callable(JinjaCallable)
}

/// An insertion-ordered mapping from string keys to values, like a Python dict.
public struct JinjaDictionary {
    public private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]

    public init() {}

    /// Builds a dictionary from pairs; a repeated key keeps its first position and its last value,
    /// as in a Python dict literal.
    public init(_ pairs: [(String, JinjaValue)]) {
        for (key, value) in pairs {
            self[key] = value
        }
    }

    public var count: Int { keys.count }

    public var isEmpty: Bool { keys.isEmpty }

    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil {
                    keys.append(key)
                }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// The key-value pairs in insertion order.
    public var pairs: [(key: String, value: JinjaValue)] {
        keys.map { ($0, storage[$0]!) }
    }
}

/// The mutable attribute bag created by `namespace()`. It is a class because a template changes
/// it inside a `for` loop and reads the change after the loop.
public final class JinjaNamespace {
    public internal(set) var attributes: JinjaDictionary

    public init(_ attributes: JinjaDictionary = JinjaDictionary()) {
        self.attributes = attributes
    }
}

/// Positional and keyword arguments of a call, as written at the call site.
public struct JinjaArguments {
    public var positional: [JinjaValue]
    public var keyword: [(name: String, value: JinjaValue)]

    public init(positional: [JinjaValue] = [], keyword: [(name: String, value: JinjaValue)] = []) {
        self.positional = positional
        self.keyword = keyword
    }
}

/// A function a template can call. `line` is the template line of the call, for error messages.
public final class JinjaCallable {
    public let name: String
    let body: (JinjaArguments, Int) throws -> JinjaValue

    public init(name: String, body: @escaping (JinjaArguments, _ line: Int) throws -> JinjaValue) {
        self.name = name
        self.body = body
    }

    func call(_ arguments: JinjaArguments, line: Int) throws -> JinjaValue {
        try body(arguments, line)
    }
}

// MARK: - Literals, so callers and tests can write values naturally.

extension JinjaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
    public init(arrayLiteral elements: JinjaValue...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .none }

    public init(dictionaryLiteral elements: (String, JinjaValue)...) {
        self = .dictionary(JinjaDictionary(elements))
    }
}

extension JinjaDictionary: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (String, JinjaValue)...) {
        self.init(elements)
    }
}

// MARK: - Python semantics shared by the evaluator, filters and methods.

extension JinjaValue {
    /// Python truthiness: empty strings and containers, zero, `None` and undefined are false.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .boolean(let value): return value
        case .integer(let value): return value != 0
        case .double(let value): return value != 0
        case .string(let value): return !value.isEmpty
        case .array(let items): return !items.isEmpty
        case .dictionary(let dictionary): return !dictionary.isEmpty
        case .namespace, .callable: return true
        }
    }

    var isNone: Bool {
        if case .none = self { return true }
        return false
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// The Python type name, as jinja2 names it in error messages ("str object", "dict object").
    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "NoneType"
        case .boolean: return "bool"
        case .integer: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .dictionary: return "dict"
        case .namespace: return "Namespace"
        case .callable: return "function"
        }
    }

    /// The value as a Python number, with `bool` counting as an integer like in Python.
    var numericValue: NumericValue? {
        switch self {
        case .boolean(let value): return .integer(value ? 1 : 0)
        case .integer(let value): return .integer(value)
        case .double(let value): return .double(value)
        default: return nil
        }
    }

    /// Python `str(value)`; undefined gives the empty string as in jinja2.
    var pythonString: String {
        switch self {
        case .undefined: return ""
        case .string(let value): return value
        default: return pythonRepresentation
        }
    }

    /// Python `repr(value)`, used when a list or dict is printed.
    var pythonRepresentation: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .boolean(let value): return value ? "True" : "False"
        case .integer(let value): return String(value)
        case .double(let value): return PythonFormatting.floatRepresentation(value)
        case .string(let value): return PythonFormatting.stringRepresentation(value)
        case .array(let items):
            return "[" + items.map(\.pythonRepresentation).joined(separator: ", ") + "]"
        case .dictionary(let dictionary):
            let entries = dictionary.pairs.map {
                PythonFormatting.stringRepresentation($0.key) + ": " + $0.value.pythonRepresentation
            }
            return "{" + entries.joined(separator: ", ") + "}"
        case .namespace(let namespace):
            return "<Namespace " + JinjaValue.dictionary(namespace.attributes).pythonRepresentation + ">"
        case .callable(let callable):
            return "<function \(callable.name)>"
        }
    }

    /// Python `==`, extended with jinja2's rule that two undefined values are equal.
    func isEqual(to other: JinjaValue) -> Bool {
        if let left = numericValue, let right = other.numericValue {
            return left.doubleValue == right.doubleValue && left.isExactlyEqual(to: right)
        }
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none):
            return true
        case (.string(let left), .string(let right)):
            return left.unicodeScalars.elementsEqual(right.unicodeScalars)
        case (.array(let left), .array(let right)):
            return left.count == right.count && zip(left, right).allSatisfy { $0.isEqual(to: $1) }
        case (.dictionary(let left), .dictionary(let right)):
            guard left.count == right.count else { return false }
            return left.pairs.allSatisfy { pair in
                right[pair.key].map { pair.value.isEqual(to: $0) } ?? false
            }
        case (.namespace(let left), .namespace(let right)):
            return left === right
        case (.callable(let left), .callable(let right)):
            return left === right
        default:
            return false
        }
    }
}

/// A Python `int` or `float` operand.
enum NumericValue {
    case integer(Int)
    case double(Double)

    var doubleValue: Double {
        switch self {
        case .integer(let value): return Double(value)
        case .double(let value): return value
        }
    }

    /// Integer pairs compare exactly, since large integers lose precision as doubles.
    func isExactlyEqual(to other: NumericValue) -> Bool {
        if case .integer(let left) = self, case .integer(let right) = other {
            return left == right
        }
        return true
    }
}

extension String {
    /// The string as Unicode code points, the unit Python uses for `len`, indexing and slicing.
    var scalars: [Unicode.Scalar] { Array(unicodeScalars) }

    init(scalars: some Sequence<Unicode.Scalar>) {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        self = String(view)
    }
}
