/// A lexical token of a template. Text between tags becomes `.text` after whitespace control has
/// been applied, so the parser never deals with whitespace.
enum TokenKind: Equatable {
    case text(String)
    case variableBegin
    case variableEnd
    case blockBegin
    case blockEnd
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case symbol(String)
}

struct Token {
    let kind: TokenKind
    let line: Int
}

/// Splits template source into tokens with the whitespace rules of Hugging Face's jinja2
/// environment (`trim_blocks=True`, `lstrip_blocks=True`, `keep_trailing_newline=False`):
/// - `{%-`, `{{-`, `{#-` remove all whitespace before the tag, and `-%}`, `-}}`, `-#}` all
///   whitespace after it;
/// - trim_blocks removes the first newline after a `%}` or `#}`;
/// - lstrip_blocks removes spaces and tabs between the start of a line and a `{%` or `{#`;
/// - a `+` after `{%` or before `%}` turns the last two rules off for that tag;
/// - a single newline at the end of the source is dropped.
struct Lexer {
    private let source: [Unicode.Scalar]
    private var position = 0
    private var line = 1
    /// True when the previous tag's end consumed a newline, as tracked by jinja2's lexer. Then
    /// lstrip_blocks also strips indentation that has no newline of its own before the next tag.
    private var lineStarting = true
    private var tokens: [Token] = []

    private enum TagKind {
        case variable, block, comment
    }

    static func tokenize(_ text: String) throws -> [Token] {
        var lexer = Lexer(source: Lexer.normalizeNewlines(text))
        try lexer.run()
        return lexer.tokens
    }

    private init(source: [Unicode.Scalar]) {
        self.source = source
    }

    /// Converts `\r\n` and `\r` to `\n` and drops one trailing newline, as jinja2 does by default.
    private static func normalizeNewlines(_ text: String) -> [Unicode.Scalar] {
        var result: [Unicode.Scalar] = []
        result.reserveCapacity(text.unicodeScalars.count)
        var previousWasCarriageReturn = false
        for scalar in text.unicodeScalars {
            if scalar == "\r" {
                result.append("\n")
                previousWasCarriageReturn = true
                continue
            }
            if scalar == "\n" && previousWasCarriageReturn {
                previousWasCarriageReturn = false
                continue
            }
            previousWasCarriageReturn = false
            result.append(scalar)
        }
        if result.last == "\n" {
            result.removeLast()
        }
        return result
    }

    // MARK: - Template level

    private mutating func run() throws {
        while position < source.count {
            guard let (tagStart, kind) = nextTag(from: position) else {
                emitText(source[position...])
                advance(to: source.count)
                return
            }

            let signIndex = tagStart + 2
            let sign: Unicode.Scalar? = signIndex < source.count && (source[signIndex] == "-" || source[signIndex] == "+")
                ? source[signIndex] : nil
            var text = source[position..<tagStart]
            if sign == "-" {
                while let last = text.last, last.isPythonWhitespace {
                    text.removeLast()
                }
            } else if sign != "+" && kind != .variable {
                text = strippingIndentBeforeTag(text)
            }
            emitText(text)
            advance(to: sign == nil ? signIndex : signIndex + 1)

            switch kind {
            case .comment:
                try skipComment()
            case .variable:
                tokens.append(Token(kind: .variableBegin, line: line))
                try lexTagContents(closing: "}", trimsNewline: false)
                tokens.append(Token(kind: .variableEnd, line: line))
            case .block:
                if try lexRawBlock() {
                    continue
                }
                tokens.append(Token(kind: .blockBegin, line: line))
                try lexTagContents(closing: "%", trimsNewline: true)
                tokens.append(Token(kind: .blockEnd, line: line))
            }
        }
    }

    private func nextTag(from start: Int) -> (Int, TagKind)? {
        var index = start
        while index + 1 < source.count {
            if source[index] == "{" {
                switch source[index + 1] {
                case "{": return (index, .variable)
                case "%": return (index, .block)
                case "#": return (index, .comment)
                default: break
                }
            }
            index += 1
        }
        return nil
    }

    /// Applies lstrip_blocks: drops the text after the last newline when it is only whitespace.
    private func strippingIndentBeforeTag(_ text: ArraySlice<Unicode.Scalar>) -> ArraySlice<Unicode.Scalar> {
        let lineStart = (text.lastIndex(of: "\n").map { $0 + 1 }) ?? text.startIndex
        guard lineStart > text.startIndex || lineStarting else { return text }
        let tail = text[lineStart...]
        guard !tail.isEmpty, tail.allSatisfy(\.isPythonWhitespace) else { return text }
        return text[..<lineStart]
    }

    private mutating func emitText(_ text: ArraySlice<Unicode.Scalar>) {
        guard !text.isEmpty else { return }
        tokens.append(Token(kind: .text(String(scalars: text)), line: line))
    }

    /// Moves to `target`, counting the newlines passed for line numbers.
    private mutating func advance(to target: Int) {
        while position < target {
            if source[position] == "\n" {
                line += 1
            }
            position += 1
        }
    }

    private func hasPrefix(_ prefix: String, at index: Int) -> Bool {
        var cursor = index
        for scalar in prefix.unicodeScalars {
            guard cursor < source.count, source[cursor] == scalar else { return false }
            cursor += 1
        }
        return true
    }

    /// Consumes the end of a tag: `-` strips all following whitespace, `+` keeps it, and a plain
    /// end of a block or comment drops one newline (trim_blocks).
    private mutating func consumeTagEnd(length: Int, sign: Unicode.Scalar?, trimsNewline: Bool) {
        var end = position + length
        if sign == "-" {
            while end < source.count, source[end].isPythonWhitespace {
                end += 1
            }
        } else if sign == nil && trimsNewline && end < source.count && source[end] == "\n" {
            end += 1
        }
        advance(to: end)
        lineStarting = source[end - 1] == "\n"
    }

    private mutating func skipComment() throws {
        let startLine = line
        var index = position
        while index + 1 < source.count {
            if source[index] == "#" && source[index + 1] == "}" {
                let sign: Unicode.Scalar? = index > position && (source[index - 1] == "-" || source[index - 1] == "+")
                    ? source[index - 1] : nil
                advance(to: sign == nil ? index : index - 1)
                consumeTagEnd(length: sign == nil ? 2 : 3, sign: sign, trimsNewline: true)
                return
            }
            index += 1
        }
        throw ChatTemplateError.syntax("missing '#}' at the end of the comment", line: startLine)
    }

    /// Handles `{% raw %}...{% endraw %}`, whose content is emitted as text. Returns false when
    /// the block tag is not `raw`.
    private mutating func lexRawBlock() throws -> Bool {
        var index = skipWhitespace(from: position)
        guard hasPrefix("raw", at: index) else { return false }
        index += 3
        guard index < source.count, !source[index].isIdentifierContinuation else { return false }
        index = skipWhitespace(from: index)
        let startLine = line
        if hasPrefix("-%}", at: index) {
            index = skipWhitespace(from: index + 3)
        } else if hasPrefix("%}", at: index) {
            index += 2
        } else {
            throw ChatTemplateError.syntax("expected '%}' after 'raw'", line: startLine)
        }
        advance(to: index)

        var search = position
        while let (tagStart, kind) = nextTag(from: search) {
            search = tagStart + 1
            guard kind == .block else { continue }
            let signIndex = tagStart + 2
            let sign: Unicode.Scalar? = signIndex < source.count && (source[signIndex] == "-" || source[signIndex] == "+")
                ? source[signIndex] : nil
            var cursor = skipWhitespace(from: sign == nil ? signIndex : signIndex + 1)
            guard hasPrefix("endraw", at: cursor) else { continue }
            cursor = skipWhitespace(from: cursor + 6)
            let endSign: Unicode.Scalar? = cursor < source.count && (source[cursor] == "-" || source[cursor] == "+")
                ? source[cursor] : nil
            guard hasPrefix("%}", at: endSign == nil ? cursor : cursor + 1) else { continue }

            var text = source[position..<tagStart]
            if sign == "-" {
                while let last = text.last, last.isPythonWhitespace {
                    text.removeLast()
                }
            } else if sign != "+" {
                text = strippingIndentBeforeTag(text)
            }
            emitText(text)
            advance(to: cursor)
            consumeTagEnd(length: endSign == nil ? 2 : 3, sign: endSign, trimsNewline: true)
            return true
        }
        throw ChatTemplateError.syntax("missing '{% endraw %}' for the raw block", line: startLine)
    }

    private func skipWhitespace(from start: Int) -> Int {
        var index = start
        while index < source.count, source[index].isPythonWhitespace {
            index += 1
        }
        return index
    }

    // MARK: - Inside tags

    /// Lexes names, literals and operators up to the tag end `-?<closing>}` at bracket depth zero.
    private mutating func lexTagContents(closing: Unicode.Scalar, trimsNewline: Bool) throws {
        let startLine = line
        var brackets: [Unicode.Scalar] = []
        while true {
            guard position < source.count else {
                throw ChatTemplateError.syntax(
                    "unexpected end of template, expected '\(closing)}' to close the tag", line: startLine)
            }
            if brackets.isEmpty {
                let scalar = source[position]
                if (scalar == "-" || scalar == "+") && hasPrefix("\(closing)}", at: position + 1) {
                    // `+%}` disables trim_blocks; `+}}` is not valid Jinja, so it lexes as an operator.
                    if scalar == "-" || closing == "%" {
                        consumeTagEnd(length: 3, sign: scalar, trimsNewline: trimsNewline)
                        return
                    }
                }
                if hasPrefix("\(closing)}", at: position) {
                    consumeTagEnd(length: 2, sign: nil, trimsNewline: trimsNewline)
                    return
                }
            }
            try lexExpressionToken(brackets: &brackets)
        }
    }

    private mutating func lexExpressionToken(brackets: inout [Unicode.Scalar]) throws {
        let scalar = source[position]
        if scalar.isPythonWhitespace {
            advance(to: position + 1)
            return
        }
        if scalar.isASCIIDigit {
            try lexNumber()
            return
        }
        if scalar.isIdentifierStart {
            var end = position + 1
            while end < source.count, source[end].isIdentifierContinuation {
                end += 1
            }
            tokens.append(Token(kind: .name(String(scalars: source[position..<end])), line: line))
            advance(to: end)
            return
        }
        if scalar == "'" || scalar == "\"" {
            try lexString(quote: scalar)
            return
        }
        try lexSymbol(brackets: &brackets)
    }

    private static let integerRadixes: [Unicode.Scalar: Int] = ["b": 2, "B": 2, "o": 8, "O": 8, "x": 16, "X": 16]

    private mutating func lexNumber() throws {
        let tokenLine = line
        // Prefixed integers: 0b1010, 0o17, 0xff (underscores allowed between digits).
        if source[position] == "0", position + 1 < source.count,
           let radix = Lexer.integerRadixes[source[position + 1]]
        {
            var end = position + 2
            var digits = ""
            while end < source.count, source[end] == "_" || Character(source[end]).isHexDigit {
                if source[end] != "_" {
                    digits.unicodeScalars.append(source[end])
                }
                end += 1
            }
            guard let value = Int(digits, radix: radix) else {
                throw ChatTemplateError.syntax("invalid integer literal '\(String(scalars: source[position..<end]))'",
                                               line: tokenLine)
            }
            tokens.append(Token(kind: .integer(value), line: tokenLine))
            advance(to: end)
            return
        }

        var end = position
        func scanDigits() {
            while end < source.count, source[end].isASCIIDigit || (source[end] == "_" && end > position) {
                end += 1
            }
        }
        scanDigits()
        var isFloat = false
        // A number right after a dot is an item index (`foo.0.1`), never a float (jinja2 rule).
        let followsDot = position > 0 && source[position - 1] == "."
        if !followsDot, end + 1 < source.count, source[end] == ".", source[end + 1].isASCIIDigit {
            end += 1
            scanDigits()
            isFloat = true
        }
        if !followsDot, end < source.count, source[end] == "e" || source[end] == "E" {
            var exponentEnd = end + 1
            if exponentEnd < source.count, source[exponentEnd] == "+" || source[exponentEnd] == "-" {
                exponentEnd += 1
            }
            if exponentEnd < source.count, source[exponentEnd].isASCIIDigit {
                end = exponentEnd
                scanDigits()
                isFloat = true
            }
        }

        let literal = String(scalars: source[position..<end].filter { $0 != "_" })
        if isFloat {
            guard let value = Double(literal) else {
                throw ChatTemplateError.syntax("invalid float literal '\(literal)'", line: tokenLine)
            }
            tokens.append(Token(kind: .float(value), line: tokenLine))
        } else {
            guard let value = Int(literal) else {
                throw ChatTemplateError.syntax("integer literal '\(literal)' does not fit in 64 bits", line: tokenLine)
            }
            tokens.append(Token(kind: .integer(value), line: tokenLine))
        }
        advance(to: end)
    }

    private mutating func lexString(quote: Unicode.Scalar) throws {
        let tokenLine = line
        var end = position + 1
        while end < source.count, source[end] != quote {
            end += source[end] == "\\" ? 2 : 1
        }
        guard end < source.count else {
            throw ChatTemplateError.syntax("unterminated string literal", line: tokenLine)
        }
        let value = Lexer.unescape(source[(position + 1)..<end])
        tokens.append(Token(kind: .string(value), line: tokenLine))
        advance(to: end + 1)
    }

    /// Decodes backslash escapes the way Python's `unicode-escape` codec does, which is what
    /// jinja2 applies to string literals. Unknown escapes keep the backslash.
    static func unescape(_ body: ArraySlice<Unicode.Scalar>) -> String {
        var result = String.UnicodeScalarView()
        var index = body.startIndex
        // Reads `count` hex digits after the backslash and the escape letter.
        func hexValue(count: Int) -> Unicode.Scalar? {
            guard index + 2 + count <= body.endIndex else { return nil }
            let digits = String(scalars: body[(index + 2)..<(index + 2 + count)])
            guard let code = UInt32(digits, radix: 16) else { return nil }
            return Unicode.Scalar(code)
        }
        while index < body.endIndex {
            let scalar = body[index]
            guard scalar == "\\", index + 1 < body.endIndex else {
                result.append(scalar)
                index += 1
                continue
            }
            let escaped = body[index + 1]
            let simple: [Unicode.Scalar: Unicode.Scalar] = [
                "n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", "\"": "\"",
                "a": "\u{07}", "b": "\u{08}", "f": "\u{0C}", "v": "\u{0B}",
            ]
            if let replacement = simple[escaped] {
                result.append(replacement)
                index += 2
            } else if escaped == "\n" {
                index += 2
            } else if escaped == "x", let decoded = hexValue(count: 2) {
                result.append(decoded)
                index += 4
            } else if escaped == "u", let decoded = hexValue(count: 4) {
                result.append(decoded)
                index += 6
            } else if escaped == "U", let decoded = hexValue(count: 8) {
                result.append(decoded)
                index += 10
            } else if ("0"..."7").contains(escaped) {
                var end = index + 1
                while end < body.endIndex, end < index + 4, ("0"..."7").contains(body[end]) {
                    end += 1
                }
                let code = UInt32(String(scalars: body[(index + 1)..<end]), radix: 8) ?? 0
                result.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                index = end
            } else {
                result.append(scalar)
                index += 1
            }
        }
        return String(result)
    }

    private mutating func lexSymbol(brackets: inout [Unicode.Scalar]) throws {
        let tokenLine = line
        for twoCharacter in ["//", "**", "==", "!=", "<=", ">="] where hasPrefix(twoCharacter, at: position) {
            tokens.append(Token(kind: .symbol(twoCharacter), line: tokenLine))
            advance(to: position + 2)
            return
        }
        let scalar = source[position]
        switch scalar {
        case "(": brackets.append(")")
        case "[": brackets.append("]")
        case "{": brackets.append("}")
        case ")", "]", "}":
            guard brackets.last == scalar else {
                throw ChatTemplateError.syntax("unexpected '\(scalar)'", line: tokenLine)
            }
            brackets.removeLast()
        case "+", "-", "/", "*", "%", "~", "<", ">", "=", ".", ":", "|", ",", ";":
            break
        default:
            throw ChatTemplateError.syntax("unexpected character '\(scalar)' inside a tag", line: tokenLine)
        }
        tokens.append(Token(kind: .symbol(String(scalar)), line: tokenLine))
        advance(to: position + 1)
    }
}

extension Unicode.Scalar {
    /// Python's `str.isspace`, which jinja2's `\s` and `strip()` follow.
    var isPythonWhitespace: Bool {
        properties.isWhitespace || (0x1C...0x1F).contains(value)
    }

    var isASCIIDigit: Bool { ("0"..."9").contains(self) }

    var isIdentifierStart: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || self == "_"
    }

    var isIdentifierContinuation: Bool { isIdentifierStart || isASCIIDigit }
}
