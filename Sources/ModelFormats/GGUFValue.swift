/// A typed metadata value of a GGUF file. Arrays may nest.
public indirect enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case uint64(UInt64)
    case int64(Int64)
    case float32(Float)
    case float64(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// The value as an integer, for any integer case that fits in `Int`.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The value as a float, for float and integer cases.
    public var floatValue: Float? {
        switch self {
        case .float32(let v): return v
        case .float64(let v): return Float(v)
        default: return intValue.map { Float($0) }
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var arrayValue: [GGUFValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The GGUF type name, as `gguf-dump` prints it.
    public var typeName: String {
        switch self {
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .uint32: return "UINT32"
        case .int32: return "INT32"
        case .uint64: return "UINT64"
        case .int64: return "INT64"
        case .float32: return "FLOAT32"
        case .float64: return "FLOAT64"
        case .bool: return "BOOL"
        case .string: return "STRING"
        case .array(let items): return "ARRAY[\(items.count)]"
        }
    }

    /// A short human-readable rendering; long arrays and strings are abbreviated.
    public func summary(maxItems: Int = 8, maxCharacters: Int = 120) -> String {
        switch self {
        case .string(let s):
            let escaped = s.replacingOccurrences(of: "\n", with: "\\n")
            return escaped.count > maxCharacters ? "\"\(escaped.prefix(maxCharacters))…\" (\(s.count) characters)" : "\"\(escaped)\""
        case .array(let items):
            let shown = items.prefix(maxItems).map { $0.summary(maxItems: 3, maxCharacters: 24) }.joined(separator: ", ")
            return items.count > maxItems ? "[\(shown), …] (\(items.count) items)" : "[\(shown)]"
        case .bool(let b): return b ? "true" : "false"
        case .float32(let v): return "\(v)"
        case .float64(let v): return "\(v)"
        default: return intValue.map { "\($0)" } ?? "\(self)"
        }
    }
}
