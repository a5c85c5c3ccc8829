import Foundation

/// Attribute and item access, slicing, arithmetic and comparisons, with Python semantics.
extension Interpreter {
    /// Largest string or list that `*` may build, in characters or items.
    static let maximumRepetitionLength = 1 << 24

    // MARK: - Access

    /// `base.name`: a method of the value when it has one by that name (as Python's `getattr`
    /// finds methods first), else a dict key or namespace attribute, else undefined.
    func attribute(_ name: String, of value: JinjaValue, base: Expression, line: Int) throws -> JinjaValue {
        if case .undefined = value {
            throw ChatTemplateError.undefinedValue(
                "'\(base.sourceText)' is undefined, so it has no attribute '\(name)'", line: line)
        }
        if let method = boundMethod(name, of: value) {
            return .callable(method)
        }
        switch value {
        case .dictionary(let dictionary): return dictionary[name] ?? .undefined
        case .namespace(let namespace): return namespace.attributes[name] ?? .undefined
        default: return .undefined
        }
    }

    /// Looks up `base[index]`: list and string positions (negative from the end) or dict keys.
    /// A missing item is undefined. A string index that is not a key falls back to attribute
    /// lookup, like jinja2's `getitem`.
    func item(_ index: JinjaValue, of value: JinjaValue, base: Expression, line: Int) throws -> JinjaValue {
        switch value {
        case .undefined:
            throw ChatTemplateError.undefinedValue(
                "'\(base.sourceText)' is undefined, so it has no item \(index.pythonRepresentation)", line: line)
        case .array(let items):
            if case .integer(let position)? = index.numericValue {
                return pythonIndex(position, count: items.count).map { items[$0] } ?? .undefined
            }
        case .string(let text):
            if case .integer(let position)? = index.numericValue {
                let scalars = text.scalars
                return pythonIndex(position, count: scalars.count).map { .string(String(scalars[$0])) } ?? .undefined
            }
        case .dictionary(let dictionary):
            if case .string(let key) = index, let found = dictionary[key] {
                return found
            }
        default:
            break
        }
        if case .string(let name) = index {
            return try attribute(name, of: value, base: base, line: line)
        }
        return .undefined
    }

    private func pythonIndex(_ position: Int, count: Int) -> Int? {
        let resolved = position < 0 ? position + count : position
        return (0..<count).contains(resolved) ? resolved : nil
    }

    /// Python slicing `value[start:stop:step]` of a list or string.
    func slice(
        _ value: JinjaValue, start: JinjaValue?, stop: JinjaValue?, step: JinjaValue?, base: Expression, line: Int
    ) throws -> JinjaValue {
        func bound(_ bound: JinjaValue?, _ role: String) throws -> Int? {
            switch bound {
            case nil, .none?: return nil
            case .some(let given):
                guard case .integer(let number)? = given.numericValue else {
                    throw ChatTemplateError.typeMismatch(
                        "slice \(role) must be an integer or none, not \(given.typeName)", line: line)
                }
                return number
            }
        }
        let stepValue = try bound(step, "step") ?? 1
        guard stepValue != 0 else {
            throw ChatTemplateError.typeMismatch("slice step cannot be zero", line: line)
        }
        let startValue = try bound(start, "start")
        let stopValue = try bound(stop, "stop")

        switch value {
        case .array(let items):
            let positions = Interpreter.slicePositions(count: items.count, start: startValue, stop: stopValue,
                                                       step: stepValue)
            return .array(positions.map { items[$0] })
        case .string(let text):
            let scalars = text.scalars
            let positions = Interpreter.slicePositions(count: scalars.count, start: startValue, stop: stopValue,
                                                       step: stepValue)
            return .string(String(scalars: positions.map { scalars[$0] }))
        case .undefined:
            throw ChatTemplateError.undefinedValue("'\(base.sourceText)' is undefined and cannot be sliced", line: line)
        default:
            throw ChatTemplateError.typeMismatch(
                "'\(base.sourceText)' is a \(value.typeName), which cannot be sliced", line: line)
        }
    }

    /// Computes the positions a Python slice selects, following CPython's `PySlice_AdjustIndices`.
    static func slicePositions(count: Int, start: Int?, stop: Int?, step: Int) -> [Int] {
        func clamp(_ value: Int, lower: Int, upper: Int) -> Int {
            let shifted = value < 0 ? value + count : value
            return min(max(shifted, lower), upper)
        }
        if step > 0 {
            let first = start.map { clamp($0, lower: 0, upper: count) } ?? 0
            let end = stop.map { clamp($0, lower: 0, upper: count) } ?? count
            return first < end ? Array(stride(from: first, to: end, by: step)) : []
        }
        let first = start.map { clamp($0, lower: -1, upper: count - 1) } ?? count - 1
        let end = stop.map { clamp($0, lower: -1, upper: count - 1) } ?? -1
        return first > end ? Array(stride(from: first, to: end, by: step)) : []
    }

    // MARK: - Arithmetic

    func applyUnary(_ op: UnaryOperator, to value: JinjaValue, operand: Expression, line: Int) throws -> JinjaValue {
        guard let number = value.numericValue else {
            if value.isUndefined {
                throw ChatTemplateError.undefinedValue("'\(operand.sourceText)' is undefined", line: line)
            }
            throw ChatTemplateError.typeMismatch(
                "bad operand type for unary \(op == .negate ? "-" : "+"): '\(value.typeName)'", line: line)
        }
        switch (op, number) {
        case (.plus, .integer(let integer)): return .integer(integer)
        case (.plus, .double(let double)): return .double(double)
        case (.negate, .integer(let integer)):
            guard integer != .min else { throw overflow(line: line) }
            return .integer(-integer)
        case (.negate, .double(let double)): return .double(-double)
        }
    }

    func applyBinary(
        _ op: BinaryOperator, _ left: JinjaValue, _ right: JinjaValue,
        leftExpression: Expression, rightExpression: Expression, line: Int
    ) throws -> JinjaValue {
        if op == .concatenate {
            return .string(left.pythonString + right.pythonString)
        }
        if left.isUndefined || right.isUndefined {
            let missing = left.isUndefined ? leftExpression : rightExpression
            throw ChatTemplateError.undefinedValue(
                "'\(missing.sourceText)' is undefined in '\(op.rawValue)'", line: line)
        }
        if let leftNumber = left.numericValue, let rightNumber = right.numericValue {
            return try applyArithmetic(op, leftNumber, rightNumber, line: line)
        }

        switch (op, left, right) {
        case (.add, .string(let leftText), .string(let rightText)):
            return .string(leftText + rightText)
        case (.add, .array(let leftItems), .array(let rightItems)):
            return .array(leftItems + rightItems)
        case (.multiply, .string(let text), _), (.multiply, _, .string(let text)):
            let times = try repetitionCount(op: op, left, right, length: text.unicodeScalars.count, line: line)
            return .string(String(repeating: text, count: times))
        case (.multiply, .array(let items), _), (.multiply, _, .array(let items)):
            let times = try repetitionCount(op: op, left, right, length: items.count, line: line)
            return .array(Array([[JinjaValue]](repeating: items, count: times).joined()))
        case (.modulo, .string(let format), _):
            return .string(try PythonFormatting.percentFormat(format, right, line: line))
        default:
            throw ChatTemplateError.typeMismatch(
                "unsupported operand types for \(op.rawValue): '\(left.typeName)' and '\(right.typeName)'"
                    + " in '\(leftExpression.sourceText) \(op.rawValue) \(rightExpression.sourceText)'",
                line: line)
        }
    }

    private func repetitionCount(
        op: BinaryOperator, _ left: JinjaValue, _ right: JinjaValue, length: Int, line: Int
    ) throws -> Int {
        let other: JinjaValue
        switch left {
        case .string, .array: other = right
        default: other = left
        }
        guard case .integer(let times)? = other.numericValue else {
            throw ChatTemplateError.typeMismatch(
                "can't multiply a sequence by a non-integer of type '\(other.typeName)'", line: line)
        }
        let count = max(times, 0)
        let (total, overflowed) = length.multipliedReportingOverflow(by: count)
        guard !overflowed, total <= Interpreter.maximumRepetitionLength else {
            throw ChatTemplateError.limitExceeded(
                "repeating a sequence of length \(length) \(count) times exceeds"
                    + " \(Interpreter.maximumRepetitionLength) elements", line: line)
        }
        return count
    }

    private func overflow(line: Int) -> ChatTemplateError {
        .limitExceeded("integer arithmetic overflowed 64 bits", line: line)
    }

    private func applyArithmetic(
        _ op: BinaryOperator, _ left: NumericValue, _ right: NumericValue, line: Int
    ) throws -> JinjaValue {
        if case .integer(let a) = left, case .integer(let b) = right {
            switch op {
            case .add:
                let (sum, overflowed) = a.addingReportingOverflow(b)
                if overflowed { throw overflow(line: line) }
                return .integer(sum)
            case .subtract:
                let (difference, overflowed) = a.subtractingReportingOverflow(b)
                if overflowed { throw overflow(line: line) }
                return .integer(difference)
            case .multiply:
                let (product, overflowed) = a.multipliedReportingOverflow(by: b)
                if overflowed { throw overflow(line: line) }
                return .integer(product)
            case .floorDivide, .modulo:
                guard b != 0 else {
                    throw ChatTemplateError.typeMismatch("integer division or modulo by zero", line: line)
                }
                guard !(a == .min && b == -1) else { throw overflow(line: line) }
                // Python rounds the quotient toward negative infinity, so the remainder takes the
                // divisor's sign: -7 // 2 == -4 and -7 % 3 == 2.
                var quotient = a / b
                var remainder = a % b
                if remainder != 0 && (remainder < 0) != (b < 0) {
                    quotient -= 1
                    remainder += b
                }
                return .integer(op == .floorDivide ? quotient : remainder)
            case .power where b >= 0:
                // Bases -1, 0 and 1 never overflow, so they get closed forms instead of a loop of
                // up to `b` steps. Any other base overflows within 64 multiplications.
                switch a {
                case 0: return .integer(b == 0 ? 1 : 0)
                case 1: return .integer(1)
                case -1: return .integer(b % 2 == 0 ? 1 : -1)
                default: break
                }
                var result = 1
                for _ in 0..<b {
                    let (product, overflowed) = result.multipliedReportingOverflow(by: a)
                    if overflowed { throw overflow(line: line) }
                    result = product
                }
                return .integer(result)
            default:
                break
            }
        }

        let a = left.doubleValue
        let b = right.doubleValue
        switch op {
        case .add: return .double(a + b)
        case .subtract: return .double(a - b)
        case .multiply: return .double(a * b)
        case .divide:
            guard b != 0 else { throw ChatTemplateError.typeMismatch("division by zero", line: line) }
            return .double(a / b)
        case .floorDivide:
            guard b != 0 else { throw ChatTemplateError.typeMismatch("float floor division by zero", line: line) }
            return .double((a / b).rounded(.down))
        case .modulo:
            guard b != 0 else { throw ChatTemplateError.typeMismatch("float modulo by zero", line: line) }
            var remainder = fmod(a, b)
            if remainder != 0 && (remainder < 0) != (b < 0) {
                remainder += b
            }
            return .double(remainder)
        case .power:
            return .double(pow(a, b))
        case .concatenate:
            preconditionFailure("'~' is handled before arithmetic")
        }
    }

    // MARK: - Comparisons

    func compare(_ op: ComparisonOperator, _ left: JinjaValue, _ right: JinjaValue, line: Int) throws -> Bool {
        switch op {
        case .equal: return left.isEqual(to: right)
        case .notEqual: return !left.isEqual(to: right)
        case .contains: return try contains(right, left, line: line)
        case .notContains: return !(try contains(right, left, line: line))
        case .less: return try order(left, right, op: op, line: line) < 0
        case .lessOrEqual: return try order(left, right, op: op, line: line) <= 0
        case .greater: return try order(left, right, op: op, line: line) > 0
        case .greaterOrEqual: return try order(left, right, op: op, line: line) >= 0
        }
    }

    /// Python's `needle in container`.
    func contains(_ container: JinjaValue, _ needle: JinjaValue, line: Int) throws -> Bool {
        switch container {
        case .string(let text):
            guard case .string(let part) = needle else {
                throw ChatTemplateError.typeMismatch(
                    "'in <string>' requires a string on the left, not \(needle.typeName)", line: line)
            }
            return part.isEmpty || text.range(of: part, options: .literal) != nil
        case .array(let items):
            return items.contains { $0.isEqual(to: needle) }
        case .dictionary(let dictionary):
            guard case .string(let key) = needle else { return false }
            return dictionary[key] != nil
        case .undefined:
            return false
        default:
            throw ChatTemplateError.typeMismatch(
                "argument of type '\(container.typeName)' is not iterable for 'in'", line: line)
        }
    }

    /// Three-way ordering for `<`, `<=`, `>`, `>=`: numbers, strings by code point, lists item by item.
    func order(_ left: JinjaValue, _ right: JinjaValue, op: ComparisonOperator, line: Int) throws -> Int {
        if let a = left.numericValue, let b = right.numericValue {
            if case .integer(let x) = a, case .integer(let y) = b {
                return x < y ? -1 : (x == y ? 0 : 1)
            }
            let x = a.doubleValue
            let y = b.doubleValue
            return x < y ? -1 : (x == y ? 0 : 1)
        }
        switch (left, right) {
        case (.string(let a), .string(let b)):
            if a.unicodeScalars.elementsEqual(b.unicodeScalars) { return 0 }
            return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value } ? -1 : 1
        case (.array(let a), .array(let b)):
            for (x, y) in zip(a, b) where !x.isEqual(to: y) {
                return try order(x, y, op: op, line: line)
            }
            return a.count < b.count ? -1 : (a.count == b.count ? 0 : 1)
        default:
            throw ChatTemplateError.typeMismatch(
                "'\(op.rawValue)' not supported between '\(left.typeName)' and '\(right.typeName)'", line: line)
        }
    }
}
