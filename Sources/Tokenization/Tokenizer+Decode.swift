extension Tokenizer {
    /// Decodes token ids to text. Bytes that do not form valid UTF-8 become U+FFFD.
    ///
    /// `decode(encode(text))` returns `text` exactly. Unlike llama.cpp's detokenizer, this never removes
    /// spaces before punctuation (`clean_up_tokenization_spaces`), because that would break the round trip.
    /// - Parameter skipSpecialTokens: drop control and unknown tokens such as BOS and `<|im_end|>`;
    ///   user-defined (added) tokens always keep their text.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        var state = DecodingState()
        for id in ids {
            appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, state: &state, to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the bytes of one token. Ids outside the vocabulary add nothing.
    func appendBytes(of id: Int, skipSpecialTokens: Bool, state: inout DecodingState, to bytes: inout [UInt8]) {
        guard id >= 0 && id < vocabularySize else { return }
        let attributes = vocabulary.attributes[id]
        let start = Int(pieceOffsets[id]), end = Int(pieceOffsets[id + 1])

        if !attributes.isDisjoint(with: [.control, .unknown, .userDefined]) {
            if attributes.isDisjoint(with: .special) || !skipSpecialTokens {
                bytes.append(contentsOf: pieceBytes[start..<end])
            }
            state.atFragmentStart = true
            return
        }
        guard !attributes.isDisjoint(with: [.normal, .byte]) else { return }

        // Undo the space that SentencePiece encoding writes before text at the start or after a special token.
        var from = start
        if addSpacePrefix && state.atFragmentStart && from < end && pieceBytes[from] == 0x20 {
            from += 1
        }
        state.atFragmentStart = false
        bytes.append(contentsOf: pieceBytes[from..<end])
    }
}

/// Decoder state carried from token to token.
struct DecodingState {
    /// True at the start and after a special token, where SentencePiece encoding added a space.
    var atFragmentStart = true
}

/// Decodes tokens one at a time, as they are generated, and returns only complete UTF-8 text.
///
/// A token may end inside a multi-byte character, as byte-fallback tokens and byte-level BPE pieces of emoji
/// and CJK text do. Those bytes wait until the character is complete. The concatenation of all `append`
/// results and `finish()` equals `decode` of the same ids.
public struct StreamingDecoder: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    private var state = DecodingState()
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one token and returns the text completed by it, possibly empty.
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, skipSpecialTokens: skipSpecialTokens, state: &state, to: &pending)
        let complete = Self.completePrefixLength(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Returns the bytes still waiting, with an unfinished character as U+FFFD, and resets the decoder.
    public mutating func finish() -> String {
        let text = String(decoding: pending, as: UTF8.self)
        pending.removeAll()
        state = DecodingState()
        return text
    }

    /// Returns the length of the longest prefix that ends before an unfinished but still valid UTF-8 sequence.
    ///
    /// Splitting at a lead byte never changes how `String(decoding:)` repairs invalid bytes, because a lead
    /// byte always starts a new sequence. So decoding the pieces separately matches decoding the whole.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        // A sequence is at most 4 bytes, so only the last 3 bytes can start an unfinished one.
        var start = count - 1
        while start >= 0 && start >= count - 3 {
            let byte = bytes[start]
            if byte & 0xC0 != 0x80 {
                let needed: Int
                switch byte {
                case 0xC2...0xDF: needed = 2
                case 0xE0...0xEF: needed = 3
                case 0xF0...0xF4: needed = 4
                default: return count
                }
                return count - start < needed && isValidPrefix(bytes[start...]) ? start : count
            }
            start -= 1
        }
        return count
    }

    /// Returns whether bytes, shorter than their sequence, can still become a valid UTF-8 sequence.
    private static func isValidPrefix(_ bytes: ArraySlice<UInt8>) -> Bool {
        let lead = bytes[bytes.startIndex]
        for (offset, byte) in bytes.dropFirst().enumerated() {
            var range: ClosedRange<UInt8> = 0x80...0xBF
            if offset == 0 {
                switch lead {
                case 0xE0: range = 0xA0...0xBF
                case 0xED: range = 0x80...0x9F
                case 0xF0: range = 0x90...0xBF
                case 0xF4: range = 0x80...0x8F
                default: break
                }
            }
            if !range.contains(byte) { return false }
        }
        return true
    }
}
