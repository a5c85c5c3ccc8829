import Foundation

/// The global functions of Hugging Face's template environment: jinja2's `range`, `dict` and
/// `namespace`, and transformers' `raise_exception` and `strftime_now`.
extension Interpreter {
    /// Largest list `range()` may build.
    static let maximumRangeLength = 1_000_000

    func makeGlobals() -> [String: JinjaValue] {
        var globals: [String: JinjaValue] = [:]
        globals["range"] = .callable(JinjaCallable(name: "range") { arguments, line in
            try Interpreter.range(arguments, line: line)
        })
        globals["namespace"] = .callable(JinjaCallable(name: "namespace") { arguments, line in
            .namespace(JinjaNamespace(try Interpreter.dictionaryArgument(arguments, function: "namespace", line: line)))
        })
        globals["dict"] = .callable(JinjaCallable(name: "dict") { arguments, line in
            .dictionary(try Interpreter.dictionaryArgument(arguments, function: "dict", line: line))
        })
        globals["raise_exception"] = .callable(JinjaCallable(name: "raise_exception") { arguments, _ in
            throw ChatTemplateError.raised(arguments.positional.first?.pythonString ?? "")
        })
        globals["strftime_now"] = .callable(JinjaCallable(name: "strftime_now") { [unowned self] arguments, line in
            let reader = try ArgumentReader(arguments, function: "strftime_now", parameters: ["format"], line: line)
            guard let format = try reader.string("format") else {
                throw ChatTemplateError.typeMismatch("strftime_now needs a format string", line: line)
            }
            return .string(try Interpreter.strftime(format, date: self.fixedDate ?? Date(), line: line))
        })
        return globals
    }

    private static func range(_ arguments: JinjaArguments, line: Int) throws -> JinjaValue {
        guard arguments.keyword.isEmpty, (1...3).contains(arguments.positional.count) else {
            throw ChatTemplateError.typeMismatch("range takes 1 to 3 positional integer arguments", line: line)
        }
        let bounds = try arguments.positional.map { value -> Int in
            guard case .integer(let number)? = value.numericValue else {
                throw ChatTemplateError.typeMismatch("range needs integers, not \(value.typeName)", line: line)
            }
            return number
        }
        let start = bounds.count == 1 ? 0 : bounds[0]
        let stop = bounds.count == 1 ? bounds[0] : bounds[1]
        let step = bounds.count == 3 ? bounds[2] : 1
        guard step != 0 else {
            throw ChatTemplateError.typeMismatch("range step must not be zero", line: line)
        }
        // The distance between two Ints always fits in a UInt, so this count cannot overflow.
        let (low, high) = step > 0 ? (start, stop) : (stop, start)
        let distance = high > low ? UInt(bitPattern: high &- low) : 0
        let length = distance == 0 ? 0 : (distance - 1) / step.magnitude + 1
        guard length <= UInt(maximumRangeLength) else {
            throw ChatTemplateError.limitExceeded(
                "range(\(bounds.map(String.init).joined(separator: ", "))) would have more than"
                    + " \(maximumRangeLength) items", line: line)
        }
        return .array((0..<Int(length)).map { .integer(start + $0 * step) })
    }

    /// Arguments of `dict(...)` and `namespace(...)`: an optional mapping, then keyword arguments.
    private static func dictionaryArgument(_ arguments: JinjaArguments, function: String, line: Int) throws
        -> JinjaDictionary
    {
        var result = JinjaDictionary()
        if arguments.positional.count > 1 {
            throw ChatTemplateError.typeMismatch("\(function) takes at most one positional mapping", line: line)
        }
        if let first = arguments.positional.first {
            guard case .dictionary(let dictionary) = first else {
                throw ChatTemplateError.typeMismatch("\(function) needs a mapping, not \(first.typeName)", line: line)
            }
            result = dictionary
        }
        for keyword in arguments.keyword {
            result[keyword.name] = keyword.value
        }
        return result
    }

    /// Python's `datetime.strftime` in the C locale for the common directives, in the local time
    /// zone like `datetime.now()`. glibc's `%-d` form (no zero padding) is accepted too.
    static func strftime(_ format: String, date: Date, line: Int) throws -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone.current
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
        let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
        let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                      "October", "November", "December"]
        let year = parts.year ?? 1970
        let month = parts.month ?? 1
        let day = parts.day ?? 1
        let hour = parts.hour ?? 0
        let weekday = weekdays[(parts.weekday ?? 1) - 1]
        let monthName = months[month - 1]

        var result = ""
        var scalars = format.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            guard scalar == "%" else {
                result.unicodeScalars.append(scalar)
                continue
            }
            guard var directive = scalars.next() else {
                result += "%"
                break
            }
            var padded = true
            if directive == "-" {
                padded = false
                guard let next = scalars.next() else {
                    throw ChatTemplateError.typeMismatch("strftime format ends inside a directive", line: line)
                }
                directive = next
            }
            func number(_ value: Int, width: Int) -> String {
                let digits = String(value)
                return padded ? String(repeating: "0", count: max(0, width - digits.count)) + digits : digits
            }
            switch directive {
            case "a": result += String(weekday.prefix(3))
            case "A": result += weekday
            case "b", "h": result += String(monthName.prefix(3))
            case "B": result += monthName
            case "d": result += number(day, width: 2)
            case "e": result += day < 10 && padded ? " \(day)" : String(day)
            case "m": result += number(month, width: 2)
            case "y": result += number(year % 100, width: 2)
            case "Y": result += String(year)
            case "H": result += number(hour, width: 2)
            case "I": result += number(hour % 12 == 0 ? 12 : hour % 12, width: 2)
            case "p": result += hour < 12 ? "AM" : "PM"
            case "M": result += number(parts.minute ?? 0, width: 2)
            case "S": result += number(parts.second ?? 0, width: 2)
            case "j": result += number(dayOfYear, width: 3)
            case "%": result += "%"
            default:
                throw ChatTemplateError.unsupported(construct: "the strftime directive '%\(directive)'", line: line)
            }
        }
        return result
    }
}
