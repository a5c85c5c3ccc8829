import Foundation

/// Text conversions that must match CPython 3 exactly, because Hugging Face renders templates
/// with Python objects: `repr(float)`, `repr(str)` and `%`-formatting.
enum PythonFormatting {
    /// `repr(x)` for a float: the shortest digits that round-trip, in fixed notation when the
    /// decimal exponent is in [-4, 16) and in scientific notation (`1e-05`, `1e+16`) otherwise.
    static func floatRepresentation(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        let sign = value.sign == .minus ? "-" : ""
        guard value != 0 else { return sign + "0.0" }

        let (digits, pointPosition) = shortestDigits(abs(value))
        // `pointPosition` is where the decimal point sits in `digits`: value = 0.digits * 10^pointPosition.
        let exponent = pointPosition - 1
        if exponent < -4 || exponent >= 16 {
            var mantissa = String(digits.first!)
            if digits.count > 1 {
                mantissa += "." + digits.dropFirst()
            }
            let exponentDigits = String(abs(exponent))
            let paddedExponent = exponentDigits.count < 2 ? "0" + exponentDigits : exponentDigits
            return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + paddedExponent
        }
        if pointPosition <= 0 {
            return sign + "0." + String(repeating: "0", count: -pointPosition) + digits
        }
        if pointPosition >= digits.count {
            return sign + digits + String(repeating: "0", count: pointPosition - digits.count) + ".0"
        }
        let splitIndex = digits.index(digits.startIndex, offsetBy: pointPosition)
        return sign + digits[..<splitIndex] + "." + digits[splitIndex...]
    }

    /// Extracts the shortest round-trip decimal digits of a positive finite value, without
    /// leading or trailing zeros, and the decimal point position. Swift's `description` already
    /// produces the shortest round-trip digits, so only the layout differs from Python's.
    private static func shortestDigits(_ value: Double) -> (String, Int) {
        let text = value.description
        var mantissa = Substring(text)
        var exponent = 0
        if let exponentIndex = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<exponentIndex]
            exponent = Int(text[text.index(after: exponentIndex)...]) ?? 0
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = String(parts[0])
        let fractionPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = integerPart + fractionPart
        var pointPosition = integerPart.count + exponent
        while digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.last == "0" {
            digits.removeLast()
        }
        return (digits, pointPosition)
    }

    /// `repr(s)` for a string: single quotes unless the text contains a single quote and no
    /// double quote, with backslash escapes for quotes, control and non-printable characters.
    static func stringRepresentation(_ text: String) -> String {
        let quote: Unicode.Scalar = text.contains("'") && !text.contains("\"") ? "\"" : "'"
        var result = String.UnicodeScalarView()
        result.append(quote)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result.append(contentsOf: "\\\\".unicodeScalars)
            case "\n": result.append(contentsOf: "\\n".unicodeScalars)
            case "\r": result.append(contentsOf: "\\r".unicodeScalars)
            case "\t": result.append(contentsOf: "\\t".unicodeScalars)
            case quote: result.append(contentsOf: "\\\(quote)".unicodeScalars)
            default:
                if isPrintable(scalar) {
                    result.append(scalar)
                } else if scalar.value < 0x100 {
                    result.append(contentsOf: String(format: "\\x%02x", scalar.value).unicodeScalars)
                } else if scalar.value < 0x10000 {
                    result.append(contentsOf: String(format: "\\u%04x", scalar.value).unicodeScalars)
                } else {
                    result.append(contentsOf: String(format: "\\U%08x", scalar.value).unicodeScalars)
                }
            }
        }
        result.append(quote)
        return String(result)
    }

    /// Python's `str.isprintable` for one character: everything except control, format,
    /// surrogate, private-use, unassigned and separator characters other than the ASCII space.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        if scalar == " " { return true }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned,
             .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }

    /// Python's `format % arguments` for the conversions templates use: `%s %r %d %i %f %x %X %o
    /// %e %%`, with flags, width and precision. An array supplies one argument per conversion,
    /// any other value a single argument.
    ///
    /// NOTE: templates cannot tell a tuple from a list here, so `'%s' % [1, 2]` consumes the two
    /// items, where Python would print the list.
    static func percentFormat(_ format: String, _ argumentValue: JinjaValue, line: Int) throws -> String {
        var arguments: [JinjaValue]
        var mapping: JinjaDictionary?
        switch argumentValue {
        case .array(let items): arguments = items
        case .dictionary(let dictionary): arguments = [argumentValue]; mapping = dictionary
        default: arguments = [argumentValue]
        }
        var nextArgument = 0
        var result = ""
        let scalars = format.scalars
        var index = 0

        func fail(_ message: String) -> ChatTemplateError {
            .typeMismatch("invalid '%' format \(stringRepresentation(format)): \(message)", line: line)
        }

        while index < scalars.count {
            let scalar = scalars[index]
            guard scalar == "%" else {
                result.unicodeScalars.append(scalar)
                index += 1
                continue
            }
            index += 1
            guard index < scalars.count else { throw fail("incomplete format") }

            var key: String?
            if scalars[index] == "(" {
                guard let close = scalars[index...].firstIndex(of: ")") else { throw fail("missing ')'") }
                key = String(scalars: scalars[(index + 1)..<close])
                index = close + 1
            }
            var flags = Set<Unicode.Scalar>()
            while index < scalars.count, "-+ #0".unicodeScalars.contains(scalars[index]) {
                flags.insert(scalars[index])
                index += 1
            }
            var width = 0
            while index < scalars.count, scalars[index].isASCIIDigit {
                width = width * 10 + Int(scalars[index].value - 48)
                index += 1
            }
            var precision: Int?
            if index < scalars.count, scalars[index] == "." {
                index += 1
                var digits = 0
                while index < scalars.count, scalars[index].isASCIIDigit {
                    digits = digits * 10 + Int(scalars[index].value - 48)
                    index += 1
                }
                precision = digits
            }
            guard index < scalars.count else { throw fail("incomplete format") }
            let conversion = scalars[index]
            index += 1
            if conversion == "%" {
                result += "%"
                continue
            }

            let argument: JinjaValue
            if let key {
                guard let mapping, let value = mapping[key] else { throw fail("missing key \(key)") }
                argument = value
            } else {
                guard nextArgument < arguments.count else { throw fail("not enough arguments for format string") }
                argument = arguments[nextArgument]
                nextArgument += 1
            }

            var body: String
            switch conversion {
            case "s":
                body = argument.pythonString
                if let precision { body = String(body.prefix(precision)) }
            case "r":
                body = argument.pythonRepresentation
            case "d", "i", "x", "X", "o":
                guard let number = argument.numericValue else {
                    throw fail("%\(conversion) needs a number, not \(argument.typeName)")
                }
                let integer: Int
                switch number {
                case .integer(let value): integer = value
                case .double(let value):
                    guard value.isFinite, abs(value) < 9.2e18 else { throw fail("number out of range") }
                    integer = Int(value.rounded(.towardZero))
                }
                let radix = conversion == "d" || conversion == "i" ? 10 : (conversion == "o" ? 8 : 16)
                body = String(integer.magnitude, radix: radix, uppercase: conversion == "X")
                if integer < 0 { body = "-" + body } else if flags.contains("+") { body = "+" + body }
            case "f", "F", "e", "E":
                guard let number = argument.numericValue else {
                    throw fail("%\(conversion) needs a number, not \(argument.typeName)")
                }
                body = String(format: "%.\(precision ?? 6)\(Character(conversion))", number.doubleValue)
                if flags.contains("+"), number.doubleValue >= 0 { body = "+" + body }
            default:
                throw ChatTemplateError.unsupported(construct: "the '%\(conversion)' format conversion", line: line)
            }

            let padding = max(0, width - body.unicodeScalars.count)
            if padding > 0 {
                if flags.contains("-") {
                    body += String(repeating: " ", count: padding)
                } else if flags.contains("0") && conversion != "s" && conversion != "r" {
                    let signLength = body.hasPrefix("-") || body.hasPrefix("+") ? 1 : 0
                    body.insert(contentsOf: String(repeating: "0", count: padding),
                                at: body.index(body.startIndex, offsetBy: signLength))
                } else {
                    body = String(repeating: " ", count: padding) + body
                }
            }
            result += body
        }
        if mapping == nil, nextArgument < arguments.count, case .array = argumentValue {
            throw fail("not all arguments converted during string formatting")
        }
        return result
    }
}
