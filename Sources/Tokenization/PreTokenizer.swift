/// One splitting step of a pre-tokenizer. Each step refines the pieces that the previous step produced;
/// the first step receives the whole text as one piece.
///
/// The patterns are hand-written scanners, not regular expressions. Each reproduces the regex that the
/// model's `tokenizer.json` names, and makes llama.cpp's choices where regex engines disagree. For example,
/// `\s+(?!\S)` at the end of a piece takes the whole whitespace run.
enum SplitRule: Equatable {
    /// `\p{N}`, isolated: every number scalar becomes its own piece (Hugging Face `Digits(individual_digits)`).
    case isolateEachNumber
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// Llama 3 (`maxDigits` 3) and Qwen2 (`maxDigits` 1):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3(maxDigits: Int)
    /// `[\p{P}\$\+<=>\^~\|]+`, isolated (llama.cpp's default pre-tokenizer, first step).
    case isolatePunctuationRuns
    /// `\p{N}+`, isolated.
    case isolateNumberRuns
    /// `[0-9][0-9][0-9]`, isolated: ASCII digit runs split into threes from the left.
    case isolateDigitTriples
}

/// A pre-tokenizer: an ordered list of split rules applied to the Unicode scalars of a text.
struct PreTokenizer {
    let rules: [SplitRule]

    /// Splits `scalars` into pieces and returns the end index (exclusive) of each piece, in order.
    /// `classes` contains `ScalarClass.rawValue` for each scalar.
    func split(scalars: UnsafeBufferPointer<UInt32>, classes: UnsafeBufferPointer<UInt8>) -> [Int32] {
        var ends: [Int32] = scalars.isEmpty ? [] : [Int32(scalars.count)]
        for rule in rules {
            var scanner = PieceScanner(scalars: scalars, classes: classes)
            scanner.ends.reserveCapacity(scalars.count / 3 + 16)
            var start = 0
            for end in ends {
                scanner.scan(rule, start, Int(end))
                start = Int(end)
            }
            ends = scanner.ends
        }
        return ends
    }
}

/// Applies one rule to one piece `[low, high)` and appends the end of every sub-piece.
private struct PieceScanner {
    let scalars: UnsafeBufferPointer<UInt32>
    let classes: UnsafeBufferPointer<UInt8>
    var ends: [Int32] = []

    private static let letter = ScalarClass.letter.rawValue
    private static let number = ScalarClass.number.rawValue
    private static let whitespace = ScalarClass.whitespace.rawValue
    private static let letterNumberOrSpace = letter | number | whitespace
    private static let apostrophe = UInt32(UInt8(ascii: "'"))
    private static let space = UInt32(UInt8(ascii: " "))
    private static let carriageReturn = UInt32(UInt8(ascii: "\r"))
    private static let newline = UInt32(UInt8(ascii: "\n"))

    init(scalars: UnsafeBufferPointer<UInt32>, classes: UnsafeBufferPointer<UInt8>) {
        self.scalars = scalars
        self.classes = classes
    }

    mutating func scan(_ rule: SplitRule, _ low: Int, _ high: Int) {
        // The match closures read these copies, so they do not capture `self` while it is mutated.
        let scalars = self.scalars, classes = self.classes
        switch rule {
        case .isolateEachNumber:
            isolate(low, high) { position in classes[position] & Self.number != 0 ? 1 : 0 }
        case .gpt2:
            scanGPT2(low, high)
        case .llama3(let maxDigits):
            scanLlama3(low, high, maxDigits: maxDigits)
        case .isolatePunctuationRuns:
            isolate(low, high) { position in
                var end = position
                while end < high && Self.isDefaultPunctuation(scalars[end], classes[end]) { end += 1 }
                return end - position
            }
        case .isolateNumberRuns:
            isolate(low, high) { position in
                var end = position
                while end < high && Self.isNumberOutsideWhitespace(classes[end]) { end += 1 }
                return end - position
            }
        case .isolateDigitTriples:
            isolate(low, high) { position in
                guard position + 3 <= high else { return 0 }
                for offset in 0..<3 where !(0x30...0x39).contains(scalars[position + offset]) { return 0 }
                return 3
            }
        }
    }

    @inline(__always)
    private mutating func emit(_ end: Int, after previous: inout Int) {
        if end > previous {
            ends.append(Int32(end))
            previous = end
        }
    }

    @inline(__always)
    private func classAt(_ position: Int, _ high: Int) -> UInt8 {
        position < high ? classes[position] : 0
    }

    /// Splits out every match of a pattern, keeping the text between matches as pieces.
    /// `matchLength` returns the length of the match that starts at a position, or 0 for none.
    private mutating func isolate(_ low: Int, _ high: Int, matchLength: (Int) -> Int) {
        var previous = low
        var position = low
        while position < high {
            let length = matchLength(position)
            if length > 0 {
                emit(position, after: &previous)
                position += length
                emit(position, after: &previous)
            } else {
                position += 1
            }
        }
        emit(high, after: &previous)
    }

    /// `[\p{P}\$\+<=>\^~\|]` as llama.cpp evaluates it: ASCII punctuation and symbols except the backtick,
    /// and other scalars of a punctuation category.
    private static func isDefaultPunctuation(_ scalar: UInt32, _ scalarClass: UInt8) -> Bool {
        if scalar < 0x80 {
            let isPunctuationOrSymbol = (0x21...0x2F).contains(scalar) || (0x3A...0x40).contains(scalar)
                || (0x5B...0x60).contains(scalar) || (0x7B...0x7E).contains(scalar)
            return isPunctuationOrSymbol && scalar != 0x60
        }
        return scalarClass & ScalarClass.punctuation.rawValue != 0 && scalarClass & whitespace == 0
    }

    private static func isNumberOutsideWhitespace(_ scalarClass: UInt8) -> Bool {
        scalarClass & number != 0 && scalarClass & whitespace == 0
    }

    /// Returns the length of the contraction ('s, 't, 're, 've, 'm, 'll, 'd) at `position`, or 0.
    private func contractionLength(_ position: Int, _ high: Int, ignoringCase: Bool) -> Int {
        guard scalars[position] == Self.apostrophe, position + 1 < high else { return 0 }
        func folded(_ scalar: UInt32) -> UInt32 {
            ignoringCase && scalar >= 0x41 && scalar <= 0x5A ? scalar + 0x20 : scalar
        }
        let next = folded(scalars[position + 1])
        switch next {
        case UInt32(UInt8(ascii: "s")), UInt32(UInt8(ascii: "t")), UInt32(UInt8(ascii: "m")), UInt32(UInt8(ascii: "d")):
            return 2
        default:
            break
        }
        guard position + 2 < high else { return 0 }
        let third = folded(scalars[position + 2])
        let e = UInt32(UInt8(ascii: "e")), l = UInt32(UInt8(ascii: "l"))
        if (next == UInt32(UInt8(ascii: "r")) && third == e) || (next == UInt32(UInt8(ascii: "v")) && third == e)
            || (next == l && third == l) {
            return 3
        }
        return 0
    }

    private mutating func scanGPT2(_ low: Int, _ high: Int) {
        var previous = low
        var position = low
        while position < high {
            let scalar = scalars[position]

            let contraction = contractionLength(position, high, ignoringCase: false)
            if contraction > 0 {
                position += contraction
                emit(position, after: &previous)
                continue
            }

            // ` ?\p{L}+`, ` ?\p{N}+` and ` ?[^\s\p{L}\p{N}]+` look past one leading space.
            let hasSpacePrefix = scalar == Self.space
            let headPosition = hasSpacePrefix ? position + 1 : position
            let head = classAt(headPosition, high)
            if head & Self.letter != 0 || head & Self.number != 0 {
                let wanted = head & Self.letter != 0 ? Self.letter : Self.number
                position = headPosition
                while classAt(position, high) & wanted != 0 { position += 1 }
                emit(position, after: &previous)
                continue
            }
            if headPosition < high && head & Self.letterNumberOrSpace == 0 {
                position = headPosition
                while position < high && classes[position] & Self.letterNumberOrSpace == 0 { position += 1 }
                emit(position, after: &previous)
                continue
            }

            position = scanWhitespace(position, high, previous: &previous, splitAtLineBreaks: false)
        }
    }

    private mutating func scanLlama3(_ low: Int, _ high: Int, maxDigits: Int) {
        var previous = low
        var position = low
        while position < high {
            let scalar = scalars[position]
            let scalarClass = classes[position]

            let contraction = contractionLength(position, high, ignoringCase: true)
            if contraction > 0 {
                position += contraction
                emit(position, after: &previous)
                continue
            }

            // `[^\r\n\p{L}\p{N}]?\p{L}+`
            let isLineBreak = scalar == Self.carriageReturn || scalar == Self.newline
            if !isLineBreak && scalarClass & Self.number == 0
                && (scalarClass & Self.letter != 0 || classAt(position + 1, high) & Self.letter != 0) {
                position += 1
                while classAt(position, high) & Self.letter != 0 { position += 1 }
                emit(position, after: &previous)
                continue
            }

            // `\p{N}{1,maxDigits}`
            if scalarClass & Self.number != 0 {
                var groupStart = position
                while classAt(position, high) & Self.number != 0 {
                    position += 1
                    if position - groupStart >= maxDigits {
                        emit(position, after: &previous)
                        groupStart = position
                    }
                }
                emit(position, after: &previous)
                continue
            }

            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let headClass = scalar == Self.space ? classAt(position + 1, high) : scalarClass
            if headClass & Self.letterNumberOrSpace == 0 {
                if scalar == Self.space { position += 1 }
                while position < high && classes[position] & Self.letterNumberOrSpace == 0 { position += 1 }
                while position < high && (scalars[position] == Self.carriageReturn || scalars[position] == Self.newline) {
                    position += 1
                }
                emit(position, after: &previous)
                continue
            }

            position = scanWhitespace(position, high, previous: &previous, splitAtLineBreaks: true)
        }
    }

    /// `\s*[\r\n]+` (when `splitAtLineBreaks`), then `\s+(?!\S)`, then `\s+`; a scalar that matches
    /// none of them becomes a piece of its own. Returns the new position.
    private mutating func scanWhitespace(_ position: Int, _ high: Int, previous: inout Int, splitAtLineBreaks: Bool) -> Int {
        var runLength = 0
        var endAfterLastLineBreak = -1
        while position + runLength < high && classes[position + runLength] & Self.whitespace != 0 {
            let scalar = scalars[position + runLength]
            if scalar == Self.carriageReturn || scalar == Self.newline {
                endAfterLastLineBreak = position + runLength + 1
            }
            runLength += 1
        }

        var end: Int
        if splitAtLineBreaks && endAfterLastLineBreak >= 0 {
            end = endAfterLastLineBreak
        } else if runLength > 1 && position + runLength < high {
            // Leave the last whitespace scalar to prefix the word that follows.
            end = position + runLength - 1
        } else if runLength > 0 {
            end = position + runLength
        } else {
            end = position + 1
        }
        emit(end, after: &previous)
        return end
    }
}
