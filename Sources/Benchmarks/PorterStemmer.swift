/// The Porter stemmer of NLTK in its default mode, NLTK_EXTENSIONS, which the `rouge-score`
/// package uses for ROUGE with stemming. Beyond Porter's published algorithm, this mode keeps
/// words of one or two characters and maps a table of irregular forms. It also changes steps
/// 1a, 1b, 1c and 2: "ies" and "ied" on four-letter words, y to i only after a consonant,
/// "alli" first, and the "fulli" and "logi" rules. The golden test compares it with NLTK 3.10
/// on every word of the Paul Graham essays.
public enum PorterStemmer {
    typealias Word = [Unicode.Scalar]

    /// Returns the stem of `word`, lowercased first with Python's `str.lower`.
    public static func stem(_ word: String) -> String {
        let original = PythonText.scalars(word)
        let lowered = PythonText.lowercased(original)
        if let irregular = irregularForms[PythonText.string(lowered)] {
            return irregular
        }
        // The length test uses the word before lowercasing, as NLTK does.
        if original.count <= 2 {
            return PythonText.string(lowered)
        }
        var stem = lowered
        stem = step1a(stem)
        stem = step1b(stem)
        stem = step1c(stem)
        stem = step2(stem)
        stem = step3(stem)
        stem = step4(stem)
        stem = step5a(stem)
        stem = step5b(stem)
        return PythonText.string(stem)
    }

    /// NLTK's irregular forms, mapped to their stems.
    static let irregularForms: [String: String] = [
        "sky": "sky", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie",
        "news": "news", "innings": "inning", "inning": "inning", "outings": "outing",
        "outing": "outing", "cannings": "canning", "canning": "canning", "howe": "howe",
        "proceed": "proceed", "exceed": "exceed", "succeed": "succeed",
    ]

    // MARK: Consonants and measure

    private static func isVowelLetter(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "a" || scalar == "e" || scalar == "i" || scalar == "o" || scalar == "u"
    }

    /// Returns whether the letter at `index` is a consonant: a letter other than a, e, i, o, u,
    /// and other than a y that follows a consonant. Digits and other characters count as
    /// consonants.
    static func isConsonant(_ word: Word, _ index: Int) -> Bool {
        if isVowelLetter(word[index]) {
            return false
        }
        guard word[index] == "y" else {
            return true
        }
        // Each y in a run flips the class of the letter before the run.
        var position = index
        var flipped = false
        while position > 0 && word[position] == "y" {
            flipped.toggle()
            position -= 1
        }
        return !isVowelLetter(word[position]) != flipped
    }

    private static func consonantFlags<C: Collection>(_ word: C) -> [Bool] where C.Element == Unicode.Scalar {
        var flags = [Bool]()
        flags.reserveCapacity(word.count)
        for (index, scalar) in word.enumerated() {
            if isVowelLetter(scalar) {
                flags.append(false)
            } else if scalar == "y" {
                flags.append(index == 0 ? true : !flags[index - 1])
            } else {
                flags.append(true)
            }
        }
        return flags
    }

    /// Returns the measure m of the form [C](VC){m}[V], which is the number of vowel-consonant
    /// boundaries.
    static func measure<C: Collection>(_ stem: C) -> Int where C.Element == Unicode.Scalar {
        let flags = consonantFlags(stem)
        var count = 0
        for index in flags.indices.dropLast() where !flags[index] && flags[index + 1] {
            count += 1
        }
        return count
    }

    private static func containsVowel(_ stem: Word) -> Bool {
        consonantFlags(stem).contains(false)
    }

    private static func endsDoubleConsonant(_ word: Word) -> Bool {
        word.count >= 2 && word[word.count - 1] == word[word.count - 2] && isConsonant(word, word.count - 1)
    }

    /// Tests condition *o: the word ends consonant-vowel-consonant and the last letter is not
    /// w, x or y. NLTK also accepts a two-letter word vowel-consonant.
    static func endsCVC(_ word: Word) -> Bool {
        let count = word.count
        if count >= 3 && isConsonant(word, count - 3) && !isConsonant(word, count - 2) && isConsonant(word, count - 1) {
            let last = word[count - 1]
            if last != "w" && last != "x" && last != "y" {
                return true
            }
        }
        return count == 2 && !isConsonant(word, 0) && isConsonant(word, 1)
    }

    // MARK: Rules

    /// A suffix rule. `doubleConsonant` is Porter's *d, which strips the doubled last letter.
    private struct Rule {
        enum Suffix {
            case text(Word)
            case doubleConsonant
        }
        var suffix: Suffix
        var replacement: Word
        var condition: ((Word) -> Bool)?

        init(_ suffix: String, _ replacement: String, _ condition: ((Word) -> Bool)? = nil) {
            self.suffix = .text(Array(suffix.unicodeScalars))
            self.replacement = Array(replacement.unicodeScalars)
            self.condition = condition
        }

        init(doubleConsonantReplacement replacement: Word, _ condition: @escaping (Word) -> Bool) {
            self.suffix = .doubleConsonant
            self.replacement = replacement
            self.condition = condition
        }

        func accepts(_ stem: Word) -> Bool {
            condition?(stem) ?? true
        }
    }

    private static func hasSuffix(_ word: Word, _ suffix: Word) -> Bool {
        word.count >= suffix.count && word[(word.count - suffix.count)...].elementsEqual(suffix)
    }

    private static func hasSuffix(_ word: Word, _ suffix: String) -> Bool {
        hasSuffix(word, Array(suffix.unicodeScalars))
    }

    private static func removingSuffix(_ word: Word, count: Int) -> Word {
        Array(word[..<(word.count - count)])
    }

    /// Applies the first rule whose suffix the word has. When that rule's condition fails, the
    /// word is returned unchanged and later rules are not tried.
    private static func applyFirstRule(_ word: Word, _ rules: [Rule]) -> Word {
        for rule in rules {
            switch rule.suffix {
            case .doubleConsonant:
                if endsDoubleConsonant(word) {
                    let stem = removingSuffix(word, count: 2)
                    return rule.accepts(stem) ? stem + rule.replacement : word
                }
                // NLTK then tests the literal marker "*d" as a suffix.
                if hasSuffix(word, "*d") {
                    let stem = removingSuffix(word, count: 2)
                    return rule.accepts(stem) ? stem + rule.replacement : word
                }
            case .text(let suffix):
                if hasSuffix(word, suffix) {
                    let stem = removingSuffix(word, count: suffix.count)
                    return rule.accepts(stem) ? stem + rule.replacement : word
                }
            }
        }
        return word
    }

    private static func positiveMeasure(_ stem: Word) -> Bool {
        measure(stem) > 0
    }

    private static func measureAboveOne(_ stem: Word) -> Bool {
        measure(stem) > 1
    }

    // MARK: Steps

    static func step1a(_ word: Word) -> Word {
        if hasSuffix(word, "ies") && word.count == 4 {
            return removingSuffix(word, count: 3) + ["i", "e"]
        }
        return applyFirstRule(word, [Rule("sses", "ss"), Rule("ies", "i"), Rule("ss", "ss"), Rule("s", "")])
    }

    static func step1b(_ word: Word) -> Word {
        if hasSuffix(word, "ied") {
            return removingSuffix(word, count: 3) + (word.count == 4 ? ["i", "e"] : ["i"])
        }
        if hasSuffix(word, "eed") {
            let stem = removingSuffix(word, count: 3)
            return measure(stem) > 0 ? stem + ["e", "e"] : word
        }

        var intermediate: Word?
        for suffix in ["ed", "ing"] where hasSuffix(word, suffix) {
            let candidate = removingSuffix(word, count: suffix.unicodeScalars.count)
            if containsVowel(candidate) {
                intermediate = candidate
                break
            }
        }
        guard let stem = intermediate else {
            return word
        }
        let last = stem[stem.count - 1]
        return applyFirstRule(stem, [
            Rule("at", "ate"),
            Rule("bl", "ble"),
            Rule("iz", "ize"),
            Rule(doubleConsonantReplacement: [last]) { _ in last != "l" && last != "s" && last != "z" },
            Rule("", "e") { measure($0) == 1 && endsCVC($0) },
        ])
    }

    static func step1c(_ word: Word) -> Word {
        applyFirstRule(word, [Rule("y", "i") { $0.count > 1 && isConsonant($0, $0.count - 1) }])
    }

    static func step2(_ word: Word) -> Word {
        if hasSuffix(word, "alli") && positiveMeasure(removingSuffix(word, count: 4)) {
            return step2(removingSuffix(word, count: 4) + ["a", "l"])
        }
        let positive = positiveMeasure
        // The "l" of "logi" stays with the stem, so short stems such as "geo" qualify.
        let logiStem = word.count >= 3 ? removingSuffix(word, count: 3) : []
        return applyFirstRule(word, [
            Rule("ational", "ate", positive),
            Rule("tional", "tion", positive),
            Rule("enci", "ence", positive),
            Rule("anci", "ance", positive),
            Rule("izer", "ize", positive),
            Rule("bli", "ble", positive),
            Rule("alli", "al", positive),
            Rule("entli", "ent", positive),
            Rule("eli", "e", positive),
            Rule("ousli", "ous", positive),
            Rule("ization", "ize", positive),
            Rule("ation", "ate", positive),
            Rule("ator", "ate", positive),
            Rule("alism", "al", positive),
            Rule("iveness", "ive", positive),
            Rule("fulness", "ful", positive),
            Rule("ousness", "ous", positive),
            Rule("aliti", "al", positive),
            Rule("iviti", "ive", positive),
            Rule("biliti", "ble", positive),
            Rule("fulli", "ful", positive),
            Rule("logi", "log") { _ in positiveMeasure(logiStem) },
        ])
    }

    static func step3(_ word: Word) -> Word {
        let positive = positiveMeasure
        return applyFirstRule(word, [
            Rule("icate", "ic", positive),
            Rule("ative", "", positive),
            Rule("alize", "al", positive),
            Rule("iciti", "ic", positive),
            Rule("ical", "ic", positive),
            Rule("ful", "", positive),
            Rule("ness", "", positive),
        ])
    }

    static func step4(_ word: Word) -> Word {
        let aboveOne = measureAboveOne
        return applyFirstRule(word, [
            Rule("al", "", aboveOne),
            Rule("ance", "", aboveOne),
            Rule("ence", "", aboveOne),
            Rule("er", "", aboveOne),
            Rule("ic", "", aboveOne),
            Rule("able", "", aboveOne),
            Rule("ible", "", aboveOne),
            Rule("ant", "", aboveOne),
            Rule("ement", "", aboveOne),
            Rule("ment", "", aboveOne),
            Rule("ent", "", aboveOne),
            Rule("ion", "") { stem in measure(stem) > 1 && (stem.last == "s" || stem.last == "t") },
            Rule("ou", "", aboveOne),
            Rule("ism", "", aboveOne),
            Rule("ate", "", aboveOne),
            Rule("iti", "", aboveOne),
            Rule("ous", "", aboveOne),
            Rule("ive", "", aboveOne),
            Rule("ize", "", aboveOne),
        ])
    }

    static func step5a(_ word: Word) -> Word {
        guard word.last == "e" else {
            return word
        }
        let stem = removingSuffix(word, count: 1)
        let stemMeasure = measure(stem)
        if stemMeasure > 1 || (stemMeasure == 1 && !endsCVC(stem)) {
            return stem
        }
        return word
    }

    static func step5b(_ word: Word) -> Word {
        // The condition measures the word without its last letter, not the stripped stem.
        let withoutLast = word.isEmpty ? word : removingSuffix(word, count: 1)
        return applyFirstRule(word, [Rule("ll", "l") { _ in measure(withoutLast) > 1 }])
    }
}
