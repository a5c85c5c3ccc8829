import Foundation

/// Python 3 `str` and `re` semantics that the reference metrics depend on.
///
/// Swift's `String` compares by canonical equivalence and iterates grapheme clusters, while
/// Python compares, indexes and searches code points. The metrics therefore work on arrays of
/// `Unicode.Scalar`, and these helpers restate the Python behaviour over them. Character
/// classes follow the Unicode data of the Swift runtime, so code points assigned after
/// Unicode 14.0 (the data of Python 3.11) may be classified differently.
enum PythonText {
    typealias Scalars = [Unicode.Scalar]

    static func scalars(_ text: String) -> Scalars {
        Array(text.unicodeScalars)
    }

    static func string<S: Sequence>(_ scalars: S) -> String where S.Element == Unicode.Scalar {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars)
        return String(view)
    }

    // MARK: Character classes

    /// Returns whether `str.isspace()` is true, which is also the separator set of
    /// `str.split()`. The list is bidirectional classes WS, B and S plus category Zs, which
    /// has been stable since Unicode 6.3.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Returns whether the regex class `\d` matches: any decimal digit (general category Nd),
    /// so Arabic-Indic and fullwidth digits count, but superscripts do not.
    static func isDecimalDigit(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            return scalar.value >= 0x30 && scalar.value <= 0x39
        }
        return scalar.properties.generalCategory == .decimalNumber
    }

    /// Returns whether the regex class `\w` matches: `str.isalnum()` (letters of categories
    /// L*, or any numeric type) or the underscore. Combining marks are not word characters.
    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let value = scalar.value
            return (value >= 0x30 && value <= 0x39) || (value >= 0x41 && value <= 0x5A)
                || (value >= 0x61 && value <= 0x7A) || value == 0x5F
        }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return true
        default:
            return scalar.properties.numericType != nil
        }
    }

    // MARK: Case mapping

    /// Lowercases as `str.lower()` does: the full lowercase mapping of each code point, with
    /// capital sigma lowered to final sigma in the Final_Sigma context. No other
    /// context-dependent or language-specific rule applies.
    static func lowercased(_ text: Scalars) -> Scalars {
        var result = Scalars()
        result.reserveCapacity(text.count)
        for (index, scalar) in text.enumerated() {
            if scalar.isASCII {
                let value = scalar.value
                result.append(value >= 0x41 && value <= 0x5A ? Unicode.Scalar(value + 32)! : scalar)
            } else if scalar.value == 0x03A3 {
                result.append(isFinalSigma(text, at: index) ? "\u{03C2}" : "\u{03C3}")
            } else {
                result.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return result
    }

    static func lowercased(_ text: String) -> Scalars {
        lowercased(scalars(text))
    }

    /// Tests the Final_Sigma condition: a cased letter before the sigma and none after it,
    /// skipping case-ignorable code points on both sides.
    private static func isFinalSigma(_ text: Scalars, at index: Int) -> Bool {
        var before = index - 1
        while before >= 0 && text[before].properties.isCaseIgnorable {
            before -= 1
        }
        guard before >= 0, text[before].properties.isCased else {
            return false
        }
        var after = index + 1
        while after < text.count && text[after].properties.isCaseIgnorable {
            after += 1
        }
        return after == text.count || !text[after].properties.isCased
    }

    // MARK: Splitting and searching

    /// Splits as `str.split()` without arguments does: runs of whitespace separate words, and
    /// leading or trailing whitespace yields no empty word.
    static func splitWhitespace<C: Collection>(_ text: C) -> [Scalars] where C.Element == Unicode.Scalar {
        var words = [Scalars]()
        var current = Scalars()
        for scalar in text {
            if isWhitespace(scalar) {
                if !current.isEmpty {
                    words.append(current)
                    current.removeAll(keepingCapacity: true)
                }
            } else {
                current.append(scalar)
            }
        }
        if !current.isEmpty {
            words.append(current)
        }
        return words
    }

    /// Splits as `str.split(sep)` with a one-character separator does: every separator cuts,
    /// so empty pieces are kept and the result has one more piece than there are separators.
    static func split(_ text: Scalars, separator: Unicode.Scalar) -> [ArraySlice<Unicode.Scalar>] {
        var pieces = [ArraySlice<Unicode.Scalar>]()
        var start = text.startIndex
        for index in text.indices where text[index] == separator {
            pieces.append(text[start..<index])
            start = index + 1
        }
        pieces.append(text[start..<text.endIndex])
        return pieces
    }

    /// Tests `needle in haystack` for strings, a code-point substring test. The empty string
    /// is contained in every string.
    static func contains<H: Collection, N: Collection>(_ haystack: H, _ needle: N) -> Bool
    where H.Element == Unicode.Scalar, N.Element == Unicode.Scalar, H.Index == Int, N.Index == Int {
        let needleCount = needle.count
        guard needleCount > 0 else {
            return true
        }
        let haystackCount = haystack.count
        guard needleCount <= haystackCount else {
            return false
        }
        let first = needle[needle.startIndex]
        let base = haystack.startIndex
        for offset in 0...(haystackCount - needleCount) where haystack[base + offset] == first {
            var matched = true
            for k in 1..<needleCount where haystack[base + offset + k] != needle[needle.startIndex + k] {
                matched = false
                break
            }
            if matched {
                return true
            }
        }
        return false
    }

    /// Returns all matches of the regex `\d+`: maximal runs of decimal digits, left to right.
    static func digitRuns(_ text: Scalars) -> [Scalars] {
        var runs = [Scalars]()
        var current = Scalars()
        for scalar in text {
            if isDecimalDigit(scalar) {
                current.append(scalar)
            } else if !current.isEmpty {
                runs.append(current)
                current.removeAll(keepingCapacity: true)
            }
        }
        if !current.isEmpty {
            runs.append(current)
        }
        return runs
    }

    /// Returns the digits captured by the first match of `<prefix>(\d+)`, or nil when there is
    /// none.
    static func firstNumber(after prefix: Scalars, in text: Scalars) -> Scalars? {
        guard text.count > prefix.count else {
            return nil
        }
        for start in 0...(text.count - prefix.count - 1) {
            guard text[start..<(start + prefix.count)].elementsEqual(prefix) else {
                continue
            }
            var end = start + prefix.count
            while end < text.count && isDecimalDigit(text[end]) {
                end += 1
            }
            if end > start + prefix.count {
                return Array(text[(start + prefix.count)..<end])
            }
        }
        return nil
    }

    // MARK: Numbers

    /// Rounds as Python's `round(value, digits)` does for floats: the decimal value closest to
    /// the exact binary value, ties to even, read back as a double. glibc's `%.*f` rounds the
    /// exact binary value the same way, so it replaces CPython's correctly rounded dtoa.
    static func round(_ value: Double, digits: Int) -> Double {
        guard value.isFinite else {
            return value
        }
        var buffer = [CChar](repeating: 0, count: 512)
        let written = withVaList([Int32(digits), value]) { arguments in
            vsnprintf(&buffer, buffer.count, "%.*f", arguments)
        }
        guard written > 0, Int(written) < buffer.count else {
            // Values too large for the buffer have no fractional digits to round.
            return value
        }
        return strtod(buffer, nil)
    }
}
