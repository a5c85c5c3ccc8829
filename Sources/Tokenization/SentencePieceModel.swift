/// SentencePiece-style BPE (`tokenizer.ggml.model = llama`, as in Llama 2 and Mistral): the model step for
/// one text fragment whose spaces are already replaced by `▁` (U+2581).
///
/// The fragment starts as one symbol per character. Adjacent pairs whose concatenation is a vocabulary
/// string merge in order of that string's score, the highest first and, among equal scores, the leftmost
/// pair first (llama.cpp's order). A final symbol outside the vocabulary falls back to `<0xXX>` byte tokens.
final class SentencePieceModel: Sendable {
    private let vocabulary: Vocabulary
    /// Token id of each byte's `<0xXX>` token (or, failing that, of the one-byte string), or -1.
    private let tokenOfByte: [Int32]
    private let unknownTokenId: Int32?
    /// True when no vocabulary string has a `▁` right after another character than `▁`. Merges can then
    /// never cross the start of a word, so each word merges on its own and its result can be cached.
    let mergesStayWithinWords: Bool

    static let spaceMarker: [UInt8] = [0xE2, 0x96, 0x81]

    init(vocabulary: Vocabulary, unknownTokenId: Int?) {
        self.vocabulary = vocabulary
        self.unknownTokenId = unknownTokenId.map { Int32($0) }
        var byteTokens = [Int32](repeating: -1, count: 256)
        let hexDigits = Array("0123456789ABCDEF".utf8)
        for byte in 0..<256 {
            let name: [UInt8] = [UInt8(ascii: "<"), UInt8(ascii: "0"), UInt8(ascii: "x"),
                                 hexDigits[byte >> 4], hexDigits[byte & 15], UInt8(ascii: ">")]
            byteTokens[byte] = vocabulary.id(utf8: name) ?? (byte < 0x80 ? vocabulary.id(utf8: [UInt8(byte)]) : nil) ?? -1
        }
        tokenOfByte = byteTokens

        var withinWords = true
        for text in vocabulary.texts where withinWords {
            let utf8 = Array(text.utf8)
            var index = 1
            while index + 3 <= utf8.count {
                if utf8[index] == 0xE2 && utf8[index + 1] == 0x96 && utf8[index + 2] == 0x81 {
                    let followsMarker = index >= 3 && Array(utf8[(index - 3)..<index]) == Self.spaceMarker
                    if !followsMarker {
                        withinWords = false
                        break
                    }
                }
                index += 1
            }
        }
        mergesStayWithinWords = withinWords
    }

    /// Appends the token ids of one segment of escaped text (UTF-8).
    func encodeSegment(_ text: UnsafeBufferPointer<UInt8>, into output: inout [Int32], scratch: inout SentencePieceScratch) {
        guard let base = text.baseAddress, !text.isEmpty else { return }
        scratch.reset()

        var offset = 0
        while offset < text.count {
            let length = min(Self.sequenceLength(leadByte: text[offset]), text.count - offset)
            scratch.starts.append(Int32(offset))
            scratch.lengths.append(Int32(length))
            scratch.previous.append(Int32(scratch.starts.count - 2))
            scratch.next.append(offset + length < text.count ? Int32(scratch.starts.count) : -1)
            offset += length
        }
        for index in 1..<scratch.starts.count {
            pushBigram(Int32(index - 1), Int32(index), base, &scratch)
        }

        while let bigram = scratch.queue.pop() {
            let left = Int(bigram.left), right = Int(bigram.right)
            // Stale once either side has merged with another neighbour since it was queued.
            guard scratch.lengths[left] > 0, scratch.lengths[right] > 0,
                  scratch.lengths[left] + scratch.lengths[right] == bigram.length else { continue }
            scratch.lengths[left] += scratch.lengths[right]
            scratch.lengths[right] = 0
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.previous[Int(after)] = bigram.left }
            pushBigram(scratch.previous[left], bigram.left, base, &scratch)
            pushBigram(bigram.left, after, base, &scratch)
        }

        var index: Int32 = 0
        while index >= 0 {
            let start = Int(scratch.starts[Int(index)]), length = Int(scratch.lengths[Int(index)])
            if let id = vocabulary.id(base + start, count: length) {
                output.append(id)
            } else {
                for byte in UnsafeBufferPointer(start: base + start, count: length) {
                    let id = tokenOfByte[Int(byte)]
                    if id >= 0 {
                        output.append(id)
                    } else if let unknown = unknownTokenId {
                        output.append(unknown)
                    }
                }
            }
            index = scratch.next[Int(index)]
        }
    }

    @inline(__always)
    private func pushBigram(_ left: Int32, _ right: Int32, _ base: UnsafePointer<UInt8>, _ scratch: inout SentencePieceScratch) {
        guard left >= 0, right >= 0 else { return }
        let start = Int(scratch.starts[Int(left)])
        let length = scratch.lengths[Int(left)] + scratch.lengths[Int(right)]
        guard let id = vocabulary.id(base + start, count: Int(length)) else { return }
        scratch.queue.push(Bigram(score: vocabulary.scores[Int(id)], left: left, right: right, length: length))
    }

    /// The length of a UTF-8 sequence from its first byte; a stray continuation byte counts as one.
    @inline(__always)
    static func sequenceLength(leadByte: UInt8) -> Int {
        switch leadByte >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }
}

/// A queued merge of two adjacent symbols: the merged string's score and its byte length when queued.
struct Bigram: HeapElement {
    var score: Float
    var left: Int32
    var right: Int32
    var length: Int32

    /// Orders by score, highest first, then by the left symbol's position.
    @inline(__always)
    func precedes(_ other: Bigram) -> Bool {
        score != other.score ? score > other.score : left < other.left
    }
}

/// Buffers reused across the segments of one encode call.
struct SentencePieceScratch {
    var starts: [Int32] = []
    var lengths: [Int32] = []
    var previous: [Int32] = []
    var next: [Int32] = []
    var queue = BinaryHeap<Bigram>()

    mutating func reset() {
        starts.removeAll(keepingCapacity: true)
        lengths.removeAll(keepingCapacity: true)
        previous.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        queue.removeAll()
    }
}
