/// A recursive-descent parser from tokens to the syntax tree, with jinja2's operator precedence
/// (lowest first): `x if c else y`, `or`, `and`, `not`, comparisons and `in`, `+ -`, `~`,
/// `* / // %`, `**`, unary `- +`, then postfix access, filters (`|`) and tests (`is`).
struct Parser {
    private let tokens: [Token]
    private var index = 0
    /// Number of `for` bodies around the current position. `break` and `continue` need at least one.
    private var loopDepth = 0
    /// Current recursion depth, bounded so that a hostile template cannot overflow the stack.
    private var depth = 0
    private static let maximumDepth = 200

    /// Statement tags of standard Jinja that this engine rejects by name.
    private static let unsupportedTags: Set<String> = [
        "filter", "call", "with", "include", "import", "from", "extends", "block", "autoescape", "trans",
        "pluralize", "do", "endfilter", "endcall", "endwith", "endblock", "endautoescape", "endtrans",
    ]

    static func parse(_ tokens: [Token]) throws -> [Statement] {
        var parser = Parser(tokens: tokens)
        let (body, _) = try parser.parseStatements(until: [])
        return body
    }

    private init(tokens: [Token]) {
        self.tokens = tokens
    }

    // MARK: - Token helpers

    private var current: Token? { index < tokens.count ? tokens[index] : nil }

    private var currentLine: Int { current?.line ?? tokens.last?.line ?? 1 }

    private func peek(_ offset: Int) -> TokenKind? {
        index + offset < tokens.count ? tokens[index + offset].kind : nil
    }

    private func isSymbol(_ symbol: String) -> Bool {
        current?.kind == .symbol(symbol)
    }

    private func isName(_ name: String) -> Bool {
        current?.kind == .name(name)
    }

    private mutating func skipSymbol(_ symbol: String) -> Bool {
        guard isSymbol(symbol) else { return false }
        index += 1
        return true
    }

    private mutating func skipName(_ name: String) -> Bool {
        guard isName(name) else { return false }
        index += 1
        return true
    }

    private func describeCurrent() -> String {
        guard let kind = current?.kind else { return "end of template" }
        switch kind {
        case .text: return "template text"
        case .variableBegin: return "'{{'"
        case .variableEnd: return "'}}'"
        case .blockBegin: return "'{%'"
        case .blockEnd: return "'%}'"
        case .name(let name): return "'\(name)'"
        case .string(let value): return "string \(PythonFormatting.stringRepresentation(value))"
        case .integer(let value): return "integer \(value)"
        case .float(let value): return "float \(value)"
        case .symbol(let symbol): return "'\(symbol)'"
        }
    }

    private mutating func expectSymbol(_ symbol: String) throws {
        guard skipSymbol(symbol) else {
            throw ChatTemplateError.syntax("expected '\(symbol)', found \(describeCurrent())", line: currentLine)
        }
    }

    private mutating func expectName() throws -> String {
        guard case .name(let name)? = current?.kind else {
            throw ChatTemplateError.syntax("expected a name, found \(describeCurrent())", line: currentLine)
        }
        index += 1
        return name
    }

    private mutating func expectBlockEnd(after tag: String) throws {
        guard current?.kind == .blockEnd else {
            throw ChatTemplateError.syntax("expected '%}' to end the '\(tag)' tag, found \(describeCurrent())",
                                           line: currentLine)
        }
        index += 1
    }

    private mutating func enterNesting() throws {
        depth += 1
        guard depth <= Parser.maximumDepth else {
            throw ChatTemplateError.limitExceeded(
                "template nesting is deeper than \(Parser.maximumDepth) levels", line: currentLine)
        }
    }

    // MARK: - Statements

    /// Parses statements until a block tag whose name is in `endTags`. Returns the body and that
    /// tag's name, leaving the position on the name. Reaching the end of input is an error unless
    /// `endTags` is empty.
    private mutating func parseStatements(until endTags: Set<String>) throws -> ([Statement], String?) {
        try enterNesting()
        defer { depth -= 1 }

        let openingLine = currentLine
        var body: [Statement] = []
        while let token = current {
            switch token.kind {
            case .text(let text):
                body.append(.text(text))
                index += 1
            case .variableBegin:
                index += 1
                let expression = try parseTuple()
                guard current?.kind == .variableEnd else {
                    throw ChatTemplateError.syntax("expected '}}', found \(describeCurrent())", line: currentLine)
                }
                index += 1
                body.append(.output(expression))
            case .blockBegin:
                if case .name(let name)? = peek(1), endTags.contains(name) {
                    index += 1
                    return (body, name)
                }
                index += 1
                body.append(contentsOf: try parseTag())
            default:
                throw ChatTemplateError.syntax("unexpected \(describeCurrent())", line: token.line)
            }
        }
        if !endTags.isEmpty {
            let expected = endTags.sorted().map { "'{% \($0) %}'" }.joined(separator: " or ")
            throw ChatTemplateError.syntax("missing \(expected) for the block opened at line \(openingLine)",
                                           line: currentLine)
        }
        return (body, nil)
    }

    /// Parses the tag after `{%`. Returns several statements for `generation`, whose body is
    /// rendered in place.
    private mutating func parseTag() throws -> [Statement] {
        let line = currentLine
        let tag = try expectName()
        switch tag {
        case "if":
            return [try parseIf()]
        case "for":
            return [try parseFor(line: line)]
        case "set":
            return [try parseSet(line: line)]
        case "macro":
            return [try parseMacro(line: line)]
        case "break", "continue":
            guard loopDepth > 0 else {
                throw ChatTemplateError.syntax("'\(tag)' outside of a for loop", line: line)
            }
            try expectBlockEnd(after: tag)
            return [tag == "break" ? .breakLoop : .continueLoop]
        case "generation":
            // Hugging Face's AssistantTracker tag marks assistant text for masks; the text renders as is.
            try expectBlockEnd(after: tag)
            let (body, _) = try parseStatements(until: ["endgeneration"])
            index += 1
            try expectBlockEnd(after: "endgeneration")
            return body
        default:
            if Parser.unsupportedTags.contains(tag) {
                throw ChatTemplateError.unsupported(construct: "the '{% \(tag) %}' statement", line: line)
            }
            throw ChatTemplateError.syntax("unknown tag '\(tag)'", line: line)
        }
    }

    private mutating func parseIf() throws -> Statement {
        var branches: [(condition: Expression, body: [Statement])] = []
        var elseBody: [Statement] = []
        var condition = try parseTuple()
        try expectBlockEnd(after: "if")
        while true {
            let (body, endTag) = try parseStatements(until: ["elif", "else", "endif"])
            index += 1
            branches.append((condition, body))
            if endTag == "elif" {
                condition = try parseTuple()
                try expectBlockEnd(after: "elif")
                continue
            }
            if endTag == "else" {
                try expectBlockEnd(after: "else")
                (elseBody, _) = try parseStatements(until: ["endif"])
                index += 1
            }
            try expectBlockEnd(after: "endif")
            return .conditional(branches: branches, elseBody: elseBody)
        }
    }

    private mutating func parseFor(line: Int) throws -> Statement {
        let parenthesized = skipSymbol("(")
        var targets = [try expectName()]
        while skipSymbol(",") {
            if isName("in") || isSymbol(")") { break }
            targets.append(try expectName())
        }
        if parenthesized {
            try expectSymbol(")")
        }
        guard skipName("in") else {
            throw ChatTemplateError.syntax("expected 'in' in the for loop, found \(describeCurrent())", line: currentLine)
        }
        // The iterable cannot contain `x if c else y`, because `if` starts the loop filter.
        let iterable = try parseTuple(allowConditional: false)
        let filter = skipName("if") ? try parseExpression() : nil
        if isName("recursive") {
            throw ChatTemplateError.unsupported(construct: "recursive for loops", line: currentLine)
        }
        try expectBlockEnd(after: "for")

        loopDepth += 1
        let (body, endTag) = try parseStatements(until: ["else", "endfor"])
        loopDepth -= 1
        index += 1
        var elseBody: [Statement] = []
        if endTag == "else" {
            try expectBlockEnd(after: "else")
            (elseBody, _) = try parseStatements(until: ["endfor"])
            index += 1
        }
        try expectBlockEnd(after: "endfor")
        return .forLoop(ForLoop(targets: targets, iterable: iterable, filter: filter, body: body,
                                elseBody: elseBody, line: line))
    }

    private mutating func parseSet(line: Int) throws -> Statement {
        let first = try expectName()
        let target: AssignmentTarget
        if skipSymbol(".") {
            target = .namespaceAttribute(namespace: first, attribute: try expectName())
        } else {
            var names = [first]
            while skipSymbol(",") {
                names.append(try expectName())
            }
            target = .names(names)
        }

        if skipSymbol("=") {
            let value = try parseTuple()
            try expectBlockEnd(after: "set")
            return .assignment(target: target, value: value, line: line)
        }
        if isSymbol("|") {
            throw ChatTemplateError.unsupported(construct: "filters on a block set", line: line)
        }
        try expectBlockEnd(after: "set")
        let (body, _) = try parseStatements(until: ["endset"])
        index += 1
        try expectBlockEnd(after: "endset")
        return .blockAssignment(target: target, body: body, line: line)
    }

    private mutating func parseMacro(line: Int) throws -> Statement {
        let name = try expectName()
        try expectSymbol("(")
        var parameters: [(name: String, defaultValue: Expression?)] = []
        while !skipSymbol(")") {
            if !parameters.isEmpty {
                try expectSymbol(",")
                if skipSymbol(")") { break }
            }
            let parameter = try expectName()
            let defaultValue = skipSymbol("=") ? try parseExpression() : nil
            parameters.append((parameter, defaultValue))
        }
        try expectBlockEnd(after: "macro")

        // A macro body is its own scope: `break` there cannot leave a loop around the definition.
        let savedLoopDepth = loopDepth
        loopDepth = 0
        let (body, _) = try parseStatements(until: ["endmacro"])
        loopDepth = savedLoopDepth
        index += 1
        if case .name? = current?.kind {
            index += 1
        }
        try expectBlockEnd(after: "endmacro")
        return .macroDefinition(Macro(name: name, parameters: parameters, body: body, line: line))
    }

    // MARK: - Expressions

    /// Parses an expression, or a tuple when commas follow (`set a, b = 1, 2`). Tuples become arrays.
    private mutating func parseTuple(allowConditional: Bool = true) throws -> Expression {
        let first = allowConditional ? try parseExpression() : try parseOr()
        guard isSymbol(",") else { return first }
        var items = [first]
        while skipSymbol(",") {
            if current?.kind == .blockEnd || current?.kind == .variableEnd || isName("if") { break }
            items.append(allowConditional ? try parseExpression() : try parseOr())
        }
        return .list(items)
    }

    private mutating func parseExpression() throws -> Expression {
        try enterNesting()
        defer { depth -= 1 }

        var expression = try parseOr()
        while skipName("if") {
            let condition = try parseOr()
            let otherwise = skipName("else") ? try parseExpression() : nil
            expression = .conditional(value: expression, condition: condition, otherwise: otherwise)
        }
        return expression
    }

    private mutating func parseOr() throws -> Expression {
        var left = try parseAnd()
        while skipName("or") {
            left = .or(left, try parseAnd())
        }
        return left
    }

    private mutating func parseAnd() throws -> Expression {
        var left = try parseNot()
        while skipName("and") {
            left = .and(left, try parseNot())
        }
        return left
    }

    private mutating func parseNot() throws -> Expression {
        if skipName("not") {
            try enterNesting()
            defer { depth -= 1 }
            return .not(try parseNot())
        }
        return try parseComparison()
    }

    private mutating func parseComparison() throws -> Expression {
        let line = currentLine
        let first = try parseAddition()
        var links: [(ComparisonOperator, Expression)] = []
        while true {
            if case .symbol(let symbol)? = current?.kind, let op = ComparisonOperator(rawValue: symbol),
               op != .contains, op != .notContains
            {
                index += 1
                links.append((op, try parseAddition()))
            } else if skipName("in") {
                links.append((.contains, try parseAddition()))
            } else if isName("not"), peek(1) == .name("in") {
                index += 2
                links.append((.notContains, try parseAddition()))
            } else {
                break
            }
        }
        return links.isEmpty ? first : .comparison(first, links, line: line)
    }

    private mutating func parseBinary(
        _ operators: [BinaryOperator], operand: (inout Parser) throws -> Expression
    ) throws -> Expression {
        var left = try operand(&self)
        while case .symbol(let symbol)? = current?.kind, let op = BinaryOperator(rawValue: symbol),
              operators.contains(op)
        {
            let line = currentLine
            index += 1
            left = .binary(op, left, try operand(&self), line: line)
        }
        return left
    }

    private mutating func parseAddition() throws -> Expression {
        try parseBinary([.add, .subtract]) { try $0.parseConcatenation() }
    }

    private mutating func parseConcatenation() throws -> Expression {
        try parseBinary([.concatenate]) { try $0.parseMultiplication() }
    }

    private mutating func parseMultiplication() throws -> Expression {
        try parseBinary([.multiply, .divide, .floorDivide, .modulo]) { try $0.parsePower() }
    }

    private mutating func parsePower() throws -> Expression {
        try parseBinary([.power]) { try $0.parseUnary() }
    }

    /// Unary minus binds tighter than `**` and applies before filters: `-x|abs` is `(-x)|abs`,
    /// as in jinja2.
    private mutating func parseUnary(withFilters: Bool = true) throws -> Expression {
        try enterNesting()
        defer { depth -= 1 }

        let line = currentLine
        var expression: Expression
        if skipSymbol("-") {
            expression = .unary(.negate, try parseUnary(withFilters: false), line: line)
        } else if skipSymbol("+") {
            expression = .unary(.plus, try parseUnary(withFilters: false), line: line)
        } else {
            expression = try parsePrimary()
        }
        expression = try parsePostfix(expression)
        if withFilters {
            expression = try parseFiltersAndTests(expression)
        }
        return expression
    }

    private mutating func parsePrimary() throws -> Expression {
        guard let token = current else {
            throw ChatTemplateError.syntax("unexpected end of template in an expression", line: currentLine)
        }
        switch token.kind {
        case .name(let name):
            index += 1
            switch name {
            case "true", "True": return .literal(.boolean(true))
            case "false", "False": return .literal(.boolean(false))
            case "none", "None": return .literal(.none)
            default: return .name(name, line: token.line)
            }
        case .string(let value):
            // Adjacent string literals concatenate, as in Python.
            index += 1
            var text = value
            while case .string(let next)? = current?.kind {
                text += next
                index += 1
            }
            return .literal(.string(text))
        case .integer(let value):
            index += 1
            return .literal(.integer(value))
        case .float(let value):
            index += 1
            return .literal(.double(value))
        case .symbol("("):
            index += 1
            if skipSymbol(")") {
                return .list([])
            }
            let expression = try parseTuple()
            try expectSymbol(")")
            return expression
        case .symbol("["):
            index += 1
            var items: [Expression] = []
            while !skipSymbol("]") {
                if !items.isEmpty {
                    try expectSymbol(",")
                    if skipSymbol("]") { break }
                }
                items.append(try parseExpression())
            }
            return .list(items)
        case .symbol("{"):
            index += 1
            var pairs: [(key: Expression, value: Expression)] = []
            while !skipSymbol("}") {
                if !pairs.isEmpty {
                    try expectSymbol(",")
                    if skipSymbol("}") { break }
                }
                let key = try parseExpression()
                try expectSymbol(":")
                pairs.append((key, try parseExpression()))
            }
            return .dictionary(pairs)
        default:
            throw ChatTemplateError.syntax("unexpected \(describeCurrent()) in an expression", line: token.line)
        }
    }

    private mutating func parsePostfix(_ base: Expression) throws -> Expression {
        var expression = base
        while true {
            let line = currentLine
            if skipSymbol(".") {
                guard let token = current else {
                    throw ChatTemplateError.syntax("expected an attribute name after '.'", line: line)
                }
                switch token.kind {
                case .name(let name):
                    expression = .attribute(expression, name: name, line: line)
                case .integer(let value):
                    expression = .item(expression, index: .literal(.integer(value)), line: line)
                default:
                    throw ChatTemplateError.syntax("expected an attribute name after '.', found \(describeCurrent())",
                                                   line: line)
                }
                index += 1
            } else if skipSymbol("[") {
                expression = try parseSubscript(expression, line: line)
            } else if skipSymbol("(") {
                expression = .call(expression, arguments: try parseCallArguments(), line: line)
            } else {
                return expression
            }
        }
    }

    /// Parses `[index]` or a slice `[start:stop:step]` after the opening bracket.
    private mutating func parseSubscript(_ base: Expression, line: Int) throws -> Expression {
        let start = isSymbol(":") ? nil : try parseExpression()
        guard skipSymbol(":") else {
            try expectSymbol("]")
            return .item(base, index: start!, line: line)
        }
        let stop = isSymbol(":") || isSymbol("]") ? nil : try parseExpression()
        var step: Expression?
        if skipSymbol(":") {
            step = isSymbol("]") ? nil : try parseExpression()
        }
        try expectSymbol("]")
        return .slice(base, start: start, stop: stop, step: step, line: line)
    }

    /// Parses call arguments after the opening parenthesis, through the closing one.
    private mutating func parseCallArguments() throws -> CallArguments {
        var arguments = CallArguments()
        var first = true
        while !skipSymbol(")") {
            if !first {
                try expectSymbol(",")
                if skipSymbol(")") { break }
            }
            first = false
            if isSymbol("*") || isSymbol("**") {
                throw ChatTemplateError.unsupported(construct: "'*' and '**' argument unpacking", line: currentLine)
            }
            if case .name(let name)? = current?.kind, peek(1) == .symbol("=") {
                index += 2
                arguments.keyword.append((name, try parseExpression()))
            } else {
                guard arguments.keyword.isEmpty else {
                    throw ChatTemplateError.syntax("positional argument after a keyword argument", line: currentLine)
                }
                arguments.positional.append(try parseExpression())
            }
        }
        return arguments
    }

    private mutating func parseFiltersAndTests(_ base: Expression) throws -> Expression {
        var expression = base
        while true {
            let line = currentLine
            if skipSymbol("|") {
                let name = try expectName()
                let arguments = skipSymbol("(") ? try parseCallArguments() : CallArguments()
                expression = .filter(expression, name: name, arguments: arguments, line: line)
            } else if skipName("is") {
                let negated = skipName("not")
                let name = try expectName()
                var arguments = CallArguments()
                if skipSymbol("(") {
                    arguments = try parseCallArguments()
                } else if startsTestArgument() {
                    arguments.positional = [try parsePostfix(try parsePrimary())]
                }
                expression = .test(expression, name: name, arguments: arguments, negated: negated, line: line)
            } else if skipSymbol("(") {
                expression = .call(expression, arguments: try parseCallArguments(), line: line)
            } else {
                return expression
            }
        }
    }

    /// Reports whether a test name is followed by a single argument without parentheses, as in
    /// `x is divisibleby 3` or `x is sameas false`.
    private func startsTestArgument() -> Bool {
        guard let kind = current?.kind else { return false }
        switch kind {
        case .name(let name): return !["else", "or", "and", "is", "if", "in", "not"].contains(name)
        case .string, .integer, .float, .symbol("["), .symbol("{"): return true
        default: return false
        }
    }
}
