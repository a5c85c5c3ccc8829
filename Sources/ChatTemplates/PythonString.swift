/// Python `str` operations on Unicode code points, for the string methods and filters that
/// templates call (`strip`, `split`, `title`, ...). Swift's own `String` APIs compare grapheme
/// clusters and treat whitespace slightly differently, so these work on scalars.
enum PythonString {
    static func strip(_ text: String, characters: String?, leading: Bool, trailing: Bool) -> String {
        let characterSet = characters.map { Set($0.unicodeScalars) }
        func shouldStrip(_ scalar: Unicode.Scalar) -> Bool {
            characterSet.map { $0.contains(scalar) } ?? scalar.isPythonWhitespace
        }
        var scalars = text.unicodeScalars[...]
        if leading {
            while let first = scalars.first, shouldStrip(first) {
                scalars.removeFirst()
            }
        }
        if trailing {
            while let last = scalars.last, shouldStrip(last) {
                scalars.removeLast()
            }
        }
        return String(scalars)
    }

    /// `str.split(separator, maxsplit)`. A nil separator splits on runs of whitespace and drops
    /// empty parts; a given separator must not be empty.
    static func split(_ text: String, separator: String?, maxSplit: Int) -> [String] {
        let scalars = text.scalars
        var parts: [String] = []
        var splitsLeft = maxSplit < 0 ? Int.max : maxSplit

        guard let separator else {
            var index = 0
            while true {
                while index < scalars.count, scalars[index].isPythonWhitespace {
                    index += 1
                }
                guard index < scalars.count else { break }
                if splitsLeft == 0 {
                    var end = scalars.count
                    while end > index, scalars[end - 1].isPythonWhitespace {
                        end -= 1
                    }
                    parts.append(String(scalars: scalars[index..<end]))
                    break
                }
                let start = index
                while index < scalars.count, !scalars[index].isPythonWhitespace {
                    index += 1
                }
                parts.append(String(scalars: scalars[start..<index]))
                splitsLeft -= 1
            }
            return parts
        }

        let separatorScalars = separator.scalars
        var start = 0
        var index = 0
        while splitsLeft > 0, index + separatorScalars.count <= scalars.count {
            if scalars[index..<(index + separatorScalars.count)].elementsEqual(separatorScalars) {
                parts.append(String(scalars: scalars[start..<index]))
                index += separatorScalars.count
                start = index
                splitsLeft -= 1
            } else {
                index += 1
            }
        }
        parts.append(String(scalars: scalars[start...]))
        return parts
    }

    /// `str.rsplit`: like `split` but counting `maxsplit` from the right.
    static func rsplit(_ text: String, separator: String?, maxSplit: Int) -> [String] {
        let reversedText = String(scalars: text.unicodeScalars.reversed())
        let reversedSeparator = separator.map { String(scalars: $0.unicodeScalars.reversed()) }
        return split(reversedText, separator: reversedSeparator, maxSplit: maxSplit)
            .map { String(scalars: $0.unicodeScalars.reversed()) }
            .reversed()
    }

    /// `str.splitlines()` without line ends.
    static func splitLines(_ text: String) -> [String] {
        let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
        let scalars = text.scalars
        var lines: [String] = []
        var start = 0
        var index = 0
        while index < scalars.count {
            guard breaks.contains(scalars[index].value) else {
                index += 1
                continue
            }
            lines.append(String(scalars: scalars[start..<index]))
            if scalars[index] == "\r", index + 1 < scalars.count, scalars[index + 1] == "\n" {
                index += 1
            }
            index += 1
            start = index
        }
        if start < scalars.count {
            lines.append(String(scalars: scalars[start...]))
        }
        return lines
    }

    /// `str.replace(old, new, count)`; a nil or negative count replaces every occurrence.
    static func replace(_ text: String, _ old: String, _ new: String, count: Int?) -> String {
        var remaining = count.map { $0 < 0 ? Int.max : $0 } ?? Int.max
        let scalars = text.scalars
        let oldScalars = old.scalars
        var result = String.UnicodeScalarView()
        if oldScalars.isEmpty {
            // Python inserts the replacement before every character and at the end.
            for scalar in scalars {
                if remaining > 0 {
                    result.append(contentsOf: new.unicodeScalars)
                    remaining -= 1
                }
                result.append(scalar)
            }
            if remaining > 0 {
                result.append(contentsOf: new.unicodeScalars)
            }
            return String(result)
        }
        var index = 0
        while index < scalars.count {
            if remaining > 0, index + oldScalars.count <= scalars.count,
               scalars[index..<(index + oldScalars.count)].elementsEqual(oldScalars)
            {
                result.append(contentsOf: new.unicodeScalars)
                index += oldScalars.count
                remaining -= 1
            } else {
                result.append(scalars[index])
                index += 1
            }
        }
        return String(result)
    }

    /// `str.find(sub)`: the code point offset of the first occurrence, or -1.
    static func find(_ text: String, _ part: String, fromEnd: Bool) -> Int {
        let scalars = text.scalars
        let partScalars = part.scalars
        guard partScalars.count <= scalars.count else { return -1 }
        let candidates = Array(0...(scalars.count - partScalars.count))
        for start in fromEnd ? candidates.reversed() : candidates
        where scalars[start..<(start + partScalars.count)].elementsEqual(partScalars) {
            return start
        }
        return -1
    }

    /// `str.count(sub)`: non-overlapping occurrences; the empty string occurs len + 1 times.
    static func count(_ text: String, _ part: String) -> Int {
        let scalars = text.scalars
        let partScalars = part.scalars
        guard !partScalars.isEmpty else { return scalars.count + 1 }
        var occurrences = 0
        var index = 0
        while index + partScalars.count <= scalars.count {
            if scalars[index..<(index + partScalars.count)].elementsEqual(partScalars) {
                occurrences += 1
                index += partScalars.count
            } else {
                index += 1
            }
        }
        return occurrences
    }

    /// `str.capitalize()`: the first character upper case, the rest lower case.
    static func capitalize(_ text: String) -> String {
        guard let first = text.unicodeScalars.first else { return text }
        return String(first).uppercased() + String(text.unicodeScalars.dropFirst()).lowercased()
    }

    /// `str.title()`: a cased character starts a word unless it follows another cased character.
    static func pythonTitle(_ text: String) -> String {
        var result = ""
        var previousIsCased = false
        for scalar in text.unicodeScalars {
            if scalar.properties.isCased {
                result += previousIsCased ? String(scalar).lowercased() : scalar.properties.titlecaseMapping
                previousIsCased = true
            } else {
                result.unicodeScalars.append(scalar)
                previousIsCased = false
            }
        }
        return result
    }

    /// Applies jinja2's `title` filter, which differs from `str.title()`. Words start after
    /// whitespace or one of `- ( { [ <`, and every word is capitalized.
    static func jinjaTitle(_ text: String) -> String {
        func isBoundary(_ scalar: Unicode.Scalar) -> Bool {
            scalar.isPythonWhitespace || "-({[<".unicodeScalars.contains(scalar)
        }
        var result = ""
        var word = ""
        for scalar in text.unicodeScalars {
            if isBoundary(scalar) {
                result += capitalize(word)
                word = ""
                result.unicodeScalars.append(scalar)
            } else {
                word.unicodeScalars.append(scalar)
            }
        }
        return result + capitalize(word)
    }

    /// Applies jinja2's `indent` filter: indents every line after the first (and the first when
    /// `first`), leaving blank lines alone unless `blank`.
    static func indent(_ text: String, indentation: String, first: Bool, blank: Bool) -> String {
        // jinja2 appends a newline before splitting, so a trailing newline keeps an empty last line.
        let lines = splitLines(text + "\n")
        var result: String
        if blank {
            result = lines.joined(separator: "\n" + indentation)
        } else {
            result = lines.first ?? ""
            for line in lines.dropFirst() {
                result += "\n" + (line.isEmpty ? line : indentation + line)
            }
        }
        if first {
            result = indentation + result
        }
        return result
    }
}
