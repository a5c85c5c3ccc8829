import Foundation

/// A variable scope. As in jinja2, each `for` iteration and each macro call gets a fresh child
/// scope, so `set` inside them is invisible afterwards (templates use `namespace()` to carry
/// state out), while `if` blocks share the enclosing scope.
final class Scope {
    private var variables: [String: JinjaValue]
    private let parent: Scope?

    init(_ variables: [String: JinjaValue] = [:], parent: Scope? = nil) {
        self.variables = variables
        self.parent = parent
    }

    func lookup(_ name: String) -> JinjaValue? {
        variables[name] ?? parent?.lookup(name)
    }

    func assign(_ name: String, _ value: JinjaValue) {
        variables[name] = value
    }
}

/// The outcome of running a statement list: normal completion, `{% break %}` or `{% continue %}`.
enum ControlFlow {
    case normal, breakLoop, continueLoop
}

/// Walks the syntax tree and produces the rendered text.
final class Interpreter {
    /// Built-in functions (`range`, `namespace`, `raise_exception`, ...), visible below all scopes.
    private(set) var globals: [String: JinjaValue] = [:]
    /// The date `strftime_now` formats; nil means the current time.
    let fixedDate: Date?
    private var macroDepth = 0
    static let maximumMacroDepth = 100

    init(fixedDate: Date?) {
        self.fixedDate = fixedDate
        globals = makeGlobals()
    }

    func render(_ program: [Statement], variables: [String: JinjaValue]) throws -> String {
        var output = ""
        _ = try execute(program, scope: Scope(variables), into: &output)
        return output
    }

    // MARK: - Statements

    func execute(_ statements: [Statement], scope: Scope, into output: inout String) throws -> ControlFlow {
        for statement in statements {
            switch statement {
            case .text(let text):
                output += text
            case .output(let expression):
                output += try evaluate(expression, scope: scope).pythonString
            case .conditional(let branches, let elseBody):
                let body = try branches.first { try evaluate($0.condition, scope: scope).isTruthy }?.body ?? elseBody
                let flow = try execute(body, scope: scope, into: &output)
                if flow != .normal { return flow }
            case .forLoop(let loop):
                try executeLoop(loop, scope: scope, into: &output)
            case .assignment(let target, let value, let line):
                try assign(try evaluate(value, scope: scope), to: target, scope: scope, line: line)
            case .blockAssignment(let target, let body, let line):
                var captured = ""
                _ = try execute(body, scope: scope, into: &captured)
                try assign(.string(captured), to: target, scope: scope, line: line)
            case .macroDefinition(let macro):
                scope.assign(macro.name, .callable(makeMacro(macro, definitionScope: scope)))
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            }
        }
        return .normal
    }

    private func executeLoop(_ loop: ForLoop, scope: Scope, into output: inout String) throws {
        var items = try iterate(try evaluate(loop.iterable, scope: scope), line: loop.line,
                                description: loop.iterable.sourceText)
        if let filter = loop.filter {
            items = try items.filter { item in
                let filterScope = Scope(parent: scope)
                try bindLoopTargets(loop.targets, to: item, scope: filterScope, line: loop.line)
                return try evaluate(filter, scope: filterScope).isTruthy
            }
        }
        guard !items.isEmpty else {
            _ = try execute(loop.elseBody, scope: Scope(parent: scope), into: &output)
            return
        }

        for (position, item) in items.enumerated() {
            let iterationScope = Scope(parent: scope)
            try bindLoopTargets(loop.targets, to: item, scope: iterationScope, line: loop.line)
            iterationScope.assign("loop", makeLoopObject(items: items, position: position))
            if try execute(loop.body, scope: iterationScope, into: &output) == .breakLoop {
                break
            }
        }
    }

    /// Builds the `loop` variable of one iteration of a `for` body.
    private func makeLoopObject(items: [JinjaValue], position: Int) -> JinjaValue {
        let count = items.count
        var loop: JinjaDictionary = [
            "index": .integer(position + 1),
            "index0": .integer(position),
            "revindex": .integer(count - position),
            "revindex0": .integer(count - position - 1),
            "first": .boolean(position == 0),
            "last": .boolean(position == count - 1),
            "length": .integer(count),
            "depth": .integer(1),
            "depth0": .integer(0),
        ]
        if position > 0 {
            loop["previtem"] = items[position - 1]
        }
        if position + 1 < count {
            loop["nextitem"] = items[position + 1]
        }
        loop["cycle"] = .callable(JinjaCallable(name: "loop.cycle") { arguments, line in
            guard !arguments.positional.isEmpty else {
                throw ChatTemplateError.typeMismatch("loop.cycle needs at least one argument", line: line)
            }
            return arguments.positional[position % arguments.positional.count]
        })
        return .dictionary(loop)
    }

    private func bindLoopTargets(_ targets: [String], to item: JinjaValue, scope: Scope, line: Int) throws {
        if targets.count == 1 {
            scope.assign(targets[0], item)
            return
        }
        try assign(item, to: .names(targets), scope: scope, line: line)
    }

    private func assign(_ value: JinjaValue, to target: AssignmentTarget, scope: Scope, line: Int) throws {
        switch target {
        case .names(let names) where names.count == 1:
            scope.assign(names[0], value)
        case .names(let names):
            let items = try iterate(value, line: line, description: "the assigned value")
            guard items.count == names.count else {
                throw ChatTemplateError.typeMismatch(
                    "cannot unpack \(items.count) values into \(names.count) names (\(names.joined(separator: ", ")))",
                    line: line)
            }
            for (name, item) in zip(names, items) {
                scope.assign(name, item)
            }
        case .namespaceAttribute(let namespaceName, let attribute):
            guard case .namespace(let namespace)? = scope.lookup(namespaceName) else {
                throw ChatTemplateError.typeMismatch(
                    "cannot set '\(namespaceName).\(attribute)' because '\(namespaceName)' is not a namespace();"
                        + " create it with namespace()", line: line)
            }
            namespace.attributes[attribute] = value
        }
    }

    private func makeMacro(_ macro: Macro, definitionScope: Scope) -> JinjaCallable {
        // The scope holds the macro, so the macro holds the scope weakly to avoid a reference cycle.
        JinjaCallable(name: macro.name) { [unowned self, weak definitionScope] arguments, line in
            guard let definitionScope else {
                throw ChatTemplateError.unsupported(
                    construct: "calling macro '\(macro.name)' outside the block that defined it", line: line)
            }
            guard arguments.positional.count <= macro.parameters.count else {
                throw ChatTemplateError.typeMismatch(
                    "macro '\(macro.name)' takes \(macro.parameters.count) arguments, got \(arguments.positional.count)",
                    line: line)
            }
            self.macroDepth += 1
            defer { self.macroDepth -= 1 }
            guard self.macroDepth <= Interpreter.maximumMacroDepth else {
                throw ChatTemplateError.limitExceeded(
                    "macro calls are nested deeper than \(Interpreter.maximumMacroDepth) levels", line: line)
            }

            let callScope = Scope(parent: definitionScope)
            for (position, parameter) in macro.parameters.enumerated() {
                if position < arguments.positional.count {
                    callScope.assign(parameter.name, arguments.positional[position])
                } else if let keyword = arguments.keyword.first(where: { $0.name == parameter.name }) {
                    callScope.assign(parameter.name, keyword.value)
                } else if let defaultValue = parameter.defaultValue {
                    callScope.assign(parameter.name, try self.evaluate(defaultValue, scope: callScope))
                } else {
                    callScope.assign(parameter.name, .undefined)
                }
            }
            if let unknown = arguments.keyword.first(where: { keyword in
                !macro.parameters.contains { $0.name == keyword.name }
            }) {
                throw ChatTemplateError.typeMismatch(
                    "macro '\(macro.name)' has no parameter named '\(unknown.name)'", line: line)
            }
            var output = ""
            _ = try self.execute(macro.body, scope: callScope, into: &output)
            return .string(output)
        }
    }

    // MARK: - Expressions

    func evaluate(_ expression: Expression, scope: Scope) throws -> JinjaValue {
        switch expression {
        case .literal(let value):
            return value
        case .name(let name, let line):
            if let value = scope.lookup(name) ?? globals[name] {
                return value
            }
            if ["cycler", "joiner", "lipsum"].contains(name) {
                throw ChatTemplateError.unsupported(construct: "the '\(name)' global function", line: line)
            }
            return .undefined
        case .list(let items):
            return .array(try items.map { try evaluate($0, scope: scope) })
        case .dictionary(let pairs):
            var dictionary = JinjaDictionary()
            for pair in pairs {
                let key = try evaluate(pair.key, scope: scope)
                guard case .string(let keyText) = key else {
                    throw ChatTemplateError.unsupported(construct: "a \(key.typeName) dictionary key (only strings)",
                                                        line: lineNumber(of: pair.key) ?? 0)
                }
                dictionary[keyText] = try evaluate(pair.value, scope: scope)
            }
            return .dictionary(dictionary)
        case .attribute(let base, let name, let line):
            return try attribute(name, of: try evaluate(base, scope: scope), base: base, line: line)
        case .item(let base, let index, let line):
            return try item(try evaluate(index, scope: scope), of: try evaluate(base, scope: scope),
                            base: base, line: line)
        case .slice(let base, let start, let stop, let step, let line):
            return try slice(try evaluate(base, scope: scope),
                             start: try start.map { try evaluate($0, scope: scope) },
                             stop: try stop.map { try evaluate($0, scope: scope) },
                             step: try step.map { try evaluate($0, scope: scope) },
                             base: base, line: line)
        case .call(let callee, let arguments, let line):
            return try call(callee, arguments: try evaluateArguments(arguments, scope: scope), scope: scope, line: line)
        case .filter(let base, let name, let arguments, let line):
            return try applyFilter(name, to: try evaluate(base, scope: scope),
                                   arguments: try evaluateArguments(arguments, scope: scope), line: line)
        case .test(let base, let name, let arguments, let negated, let line):
            let result = try applyTest(name, to: try evaluate(base, scope: scope),
                                       arguments: try evaluateArguments(arguments, scope: scope), line: line)
            return .boolean(result != negated)
        case .unary(let op, let operand, let line):
            return try applyUnary(op, to: try evaluate(operand, scope: scope), operand: operand, line: line)
        case .binary(let op, let left, let right, let line):
            return try applyBinary(op, try evaluate(left, scope: scope), try evaluate(right, scope: scope),
                                   leftExpression: left, rightExpression: right, line: line)
        case .and(let left, let right):
            let leftValue = try evaluate(left, scope: scope)
            return leftValue.isTruthy ? try evaluate(right, scope: scope) : leftValue
        case .or(let left, let right):
            let leftValue = try evaluate(left, scope: scope)
            return leftValue.isTruthy ? leftValue : try evaluate(right, scope: scope)
        case .not(let operand):
            return .boolean(!(try evaluate(operand, scope: scope).isTruthy))
        case .comparison(let first, let links, let line):
            var left = try evaluate(first, scope: scope)
            for (op, rightExpression) in links {
                let right = try evaluate(rightExpression, scope: scope)
                guard try compare(op, left, right, line: line) else { return .boolean(false) }
                left = right
            }
            return .boolean(true)
        case .conditional(let value, let condition, let otherwise):
            if try evaluate(condition, scope: scope).isTruthy {
                return try evaluate(value, scope: scope)
            }
            return try otherwise.map { try evaluate($0, scope: scope) } ?? .undefined
        }
    }

    private func evaluateArguments(_ arguments: CallArguments, scope: Scope) throws -> JinjaArguments {
        JinjaArguments(
            positional: try arguments.positional.map { try evaluate($0, scope: scope) },
            keyword: try arguments.keyword.map { ($0.name, try evaluate($0.value, scope: scope)) })
    }

    private func call(_ callee: Expression, arguments: JinjaArguments, scope: Scope, line: Int) throws -> JinjaValue {
        let function = try evaluate(callee, scope: scope)
        switch function {
        case .callable(let callable):
            return try callable.call(arguments, line: line)
        case .undefined:
            if case .attribute(let base, let name, _) = callee {
                let receiver = try evaluate(base, scope: scope)
                throw ChatTemplateError.unsupported(construct: "the \(receiver.typeName) method '\(name)'", line: line)
            }
            throw ChatTemplateError.undefinedValue("'\(callee.sourceText)' is undefined and cannot be called",
                                                   line: line)
        default:
            throw ChatTemplateError.typeMismatch(
                "'\(callee.sourceText)' is a \(function.typeName), not a function", line: line)
        }
    }

    /// Lists the items a `for` loop visits: list items, dict keys or string characters.
    /// Undefined iterates as empty, as in jinja2.
    func iterate(_ value: JinjaValue, line: Int, description: String) throws -> [JinjaValue] {
        switch value {
        case .array(let items): return items
        case .dictionary(let dictionary): return dictionary.keys.map { .string($0) }
        case .string(let text): return text.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        default:
            throw ChatTemplateError.typeMismatch("'\(description)' is a \(value.typeName), which is not iterable",
                                                 line: line)
        }
    }

    private func lineNumber(of expression: Expression) -> Int? {
        switch expression {
        case .name(_, let line), .attribute(_, _, let line), .item(_, _, let line), .slice(_, _, _, _, let line),
             .call(_, _, let line), .filter(_, _, _, let line), .test(_, _, _, _, let line), .unary(_, _, let line),
             .binary(_, _, _, let line), .comparison(_, _, let line):
            return line
        default:
            return nil
        }
    }
}
