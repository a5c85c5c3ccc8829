/// The character classes that pre-tokenizer patterns test: `\p{L}`, `\p{N}`, `\s`, `\p{P}` and `\p{S}`.
///
/// Letter, number, punctuation and symbol come from the Unicode general category. Whitespace is the
/// Unicode `White_Space` property, which is the set that llama.cpp and the Rust `regex` crate use for `\s`.
/// A scalar may be whitespace and in none of the other classes (space, tab, newline).
///
/// NOTE: the categories come from the Unicode version of the Swift standard library. llama.cpp 0.3.36's
/// tables agree on every scalar they assign; the 9,895 scalars assigned only in newer Unicode versions
/// are "other" there, so text containing them may split differently.
struct ScalarClass: OptionSet {
    let rawValue: UInt8

    static let letter = ScalarClass(rawValue: 1)
    static let number = ScalarClass(rawValue: 2)
    static let whitespace = ScalarClass(rawValue: 4)
    static let punctuation = ScalarClass(rawValue: 8)
    static let symbol = ScalarClass(rawValue: 16)

    /// Returns the class of one scalar value. Values that are not scalars (surrogates, beyond U+10FFFF) have none.
    @inline(__always)
    static func of(_ value: UInt32) -> ScalarClass {
        if value < 0x1_0000 {
            return ScalarClass(rawValue: basicPlaneTable[Int(value)])
        }
        return compute(value)
    }

    /// Classes of the Basic Multilingual Plane, computed once on first use (about 64 KB). Hot loops read it
    /// through a local copy, because each access to a global pays a lazy-initialization check.
    static let basicPlaneTable: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 0x1_0000)
        for value in 0..<UInt32(0x1_0000) {
            table[Int(value)] = compute(value).rawValue
        }
        return table
    }()

    static func compute(_ value: UInt32) -> ScalarClass {
        guard let scalar = Unicode.Scalar(value) else { return [] }
        var result: ScalarClass = scalar.properties.isWhitespace ? .whitespace : []
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            result.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            result.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            result.insert(.punctuation)
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            result.insert(.symbol)
        default:
            break
        }
        return result
    }
}
