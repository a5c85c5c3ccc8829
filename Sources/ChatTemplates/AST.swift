/// The syntax tree of a parsed template. Every node that can fail at render time keeps its
/// source line for error messages.

indirect enum Statement {
    case text(String)
    case output(Expression)
    case conditional(branches: [(condition: Expression, body: [Statement])], elseBody: [Statement])
    case forLoop(ForLoop)
    case assignment(target: AssignmentTarget, value: Expression, line: Int)
    /// `{% set name %}...{% endset %}`: the rendered body becomes a string variable.
    case blockAssignment(target: AssignmentTarget, body: [Statement], line: Int)
    case macroDefinition(Macro)
    case breakLoop
    case continueLoop
}

struct ForLoop {
    /// One name, or several for unpacking (`for key, value in pairs`).
    let targets: [String]
    let iterable: Expression
    /// The optional `if` clause. It filters items before `loop.index` and the other loop variables count them.
    let filter: Expression?
    let body: [Statement]
    let elseBody: [Statement]
    let line: Int
}

enum AssignmentTarget {
    case names([String])
    /// `set ns.attribute = value`, allowed only on `namespace()` objects.
    case namespaceAttribute(namespace: String, attribute: String)
}

final class Macro {
    let name: String
    let parameters: [(name: String, defaultValue: Expression?)]
    let body: [Statement]
    let line: Int

    init(name: String, parameters: [(name: String, defaultValue: Expression?)], body: [Statement], line: Int) {
        self.name = name
        self.parameters = parameters
        self.body = body
        self.line = line
    }
}

indirect enum Expression {
    case literal(JinjaValue)
    case name(String, line: Int)
    case list([Expression])
    case dictionary([(key: Expression, value: Expression)])
    case attribute(Expression, name: String, line: Int)
    case item(Expression, index: Expression, line: Int)
    case slice(Expression, start: Expression?, stop: Expression?, step: Expression?, line: Int)
    case call(Expression, arguments: CallArguments, line: Int)
    case filter(Expression, name: String, arguments: CallArguments, line: Int)
    case test(Expression, name: String, arguments: CallArguments, negated: Bool, line: Int)
    case unary(UnaryOperator, Expression, line: Int)
    case binary(BinaryOperator, Expression, Expression, line: Int)
    case and(Expression, Expression)
    case or(Expression, Expression)
    case not(Expression)
    /// A comparison chain such as `a < b < c`, true when every link holds.
    case comparison(Expression, [(ComparisonOperator, Expression)], line: Int)
    /// `value if condition else otherwise`. Without `else`, a false condition gives undefined.
    case conditional(value: Expression, condition: Expression, otherwise: Expression?)
}

struct CallArguments {
    var positional: [Expression] = []
    var keyword: [(name: String, value: Expression)] = []
}

enum UnaryOperator {
    case negate, plus
}

enum BinaryOperator: String {
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
    case floorDivide = "//"
    case modulo = "%"
    case power = "**"
    case concatenate = "~"
}

enum ComparisonOperator: String {
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
    case contains = "in"
    case notContains = "not in"
}

extension Expression {
    /// A short source-like rendering of the expression for error messages, such as
    /// `message.tool_calls[0]`.
    var sourceText: String {
        switch self {
        case .literal(let value): return value.pythonRepresentation
        case .name(let name, _): return name
        case .list: return "[...]"
        case .dictionary: return "{...}"
        case .attribute(let base, let name, _): return "\(base.sourceText).\(name)"
        case .item(let base, let index, _): return "\(base.sourceText)[\(index.sourceText)]"
        case .slice(let base, _, _, _, _): return "\(base.sourceText)[...]"
        case .call(let callee, _, _): return "\(callee.sourceText)(...)"
        case .filter(let base, let name, _, _): return "\(base.sourceText) | \(name)"
        case .test(let base, let name, _, let negated, _):
            return "\(base.sourceText) is \(negated ? "not " : "")\(name)"
        case .unary(let op, let operand, _): return (op == .negate ? "-" : "+") + operand.sourceText
        case .binary(let op, let left, let right, _): return "\(left.sourceText) \(op.rawValue) \(right.sourceText)"
        case .and(let left, let right): return "\(left.sourceText) and \(right.sourceText)"
        case .or(let left, let right): return "\(left.sourceText) or \(right.sourceText)"
        case .not(let operand): return "not \(operand.sourceText)"
        case .comparison(let first, let rest, _):
            return ([first.sourceText] + rest.map { "\($0.0.rawValue) \($0.1.sourceText)" }).joined(separator: " ")
        case .conditional(let value, let condition, _): return "\(value.sourceText) if \(condition.sourceText) else ..."
        }
    }
}
