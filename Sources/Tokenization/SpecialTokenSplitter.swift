/// A piece of input text after special-token splitting: either a byte range left for the model, or a
/// special or added token found in the text.
enum TextFragment: Equatable {
    case text(Range<Int>)
    case token(Int32)
}

/// Finds control, user-defined and unknown tokens written in the input text, before pre-tokenization.
///
/// It reproduces llama.cpp's order: tokens are tried from the longest text to the shortest, and each
/// token claims its occurrences from left to right that do not overlap text claimed before. So where two
/// token texts overlap, the longer one wins even when the shorter one starts first.
struct SpecialTokenSplitter: Sendable {
    private struct Candidate: Sendable {
        let id: Int32
        let text: [UInt8]
        /// Control and unknown tokens are found only when special-token parsing is on; user-defined
        /// (added) tokens are always found, as in Hugging Face tokenizers and llama.cpp.
        let needsParseSpecial: Bool
        /// Whitespace after the token in the input is dropped (llama.cpp's `rstrip` attribute).
        let stripsFollowingWhitespace: Bool
    }

    /// Candidates sorted by text length, longest first, then by id.
    private let candidates: [Candidate]
    /// Candidate indices grouped by the first byte of their text.
    private let candidatesByFirstByte: [[Int]]
    /// Whether any candidate text starts with a byte; the scan's fast rejection test.
    private let isFirstByte: [Bool]

    init(vocabulary: Vocabulary, rightStrippingTokenIds: Set<Int> = []) {
        var found: [Candidate] = []
        for id in 0..<vocabulary.count where !vocabulary.attributes[id].isDisjoint(with: .splitOut) {
            let attributes = vocabulary.attributes[id]
            found.append(Candidate(id: Int32(id), text: Array(vocabulary.texts[id].utf8),
                                   needsParseSpecial: attributes.contains(.control) || attributes.contains(.unknown),
                                   stripsFollowingWhitespace: rightStrippingTokenIds.contains(id)))
        }
        // NOTE: llama.cpp's sort leaves the order of equal-length texts unspecified. Ordering them by id
        // can differ from it only when two such texts overlap in the input.
        found.sort { $0.text.count != $1.text.count ? $0.text.count > $1.text.count : $0.id < $1.id }
        candidates = found
        var byFirstByte = [[Int]](repeating: [], count: 256)
        for (index, candidate) in found.enumerated() {
            byFirstByte[Int(candidate.text[0])].append(index)
        }
        candidatesByFirstByte = byFirstByte
        isFirstByte = byFirstByte.map { !$0.isEmpty }
    }

    /// Splits UTF-8 text into fragments in text order.
    func split(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [TextFragment] {
        struct Occurrence {
            let start: Int
            let candidate: Int
        }

        var occurrences: [Occurrence] = []
        for start in 0..<text.count where isFirstByte[Int(text[start])] {
            for index in candidatesByFirstByte[Int(text[start])] {
                let candidate = candidates[index]
                if candidate.needsParseSpecial && !parseSpecial { continue }
                if matches(candidate.text, text, at: start) {
                    occurrences.append(Occurrence(start: start, candidate: index))
                }
            }
        }
        if occurrences.isEmpty {
            return text.isEmpty ? [] : [.text(0..<text.count)]
        }

        // Candidate order first (longest text first), then position: the order in which llama.cpp claims text.
        occurrences.sort { $0.candidate != $1.candidate ? $0.candidate < $1.candidate : $0.start < $1.start }
        var claimed = [Bool](repeating: false, count: text.count)
        var accepted: [Occurrence] = []
        for occurrence in occurrences {
            let range = occurrence.start..<(occurrence.start + candidates[occurrence.candidate].text.count)
            if range.contains(where: { claimed[$0] }) { continue }
            for index in range { claimed[index] = true }
            accepted.append(occurrence)
        }

        accepted.sort { $0.start < $1.start }
        var fragments: [TextFragment] = []
        var position = 0
        for occurrence in accepted {
            if occurrence.start > position { fragments.append(.text(position..<occurrence.start)) }
            let candidate = candidates[occurrence.candidate]
            fragments.append(.token(candidate.id))
            position = occurrence.start + candidate.text.count
            if candidate.stripsFollowingWhitespace {
                // C `isspace`: space, tab, newline, vertical tab, form feed, carriage return.
                while position < text.count && !claimed[position] && (text[position] == 0x20 || (0x09...0x0D).contains(text[position])) {
                    position += 1
                }
            }
        }
        if position < text.count { fragments.append(.text(position..<text.count)) }
        return fragments
    }

    @inline(__always)
    private func matches(_ pattern: [UInt8], _ text: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        guard start + pattern.count <= text.count else { return false }
        for offset in 1..<pattern.count where text[start + offset] != pattern[offset] {
            return false
        }
        return true
    }
}
