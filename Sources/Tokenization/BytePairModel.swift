/// Byte-level BPE (`tokenizer.ggml.model = gpt2`): the model step that turns one pre-tokenized word into
/// token ids.
///
/// Every string that takes part in merging has an integer piece id: a vocabulary string's piece id is its
/// token id, and a string that occurs only in `tokenizer.ggml.merges` gets an id at or above the vocabulary
/// size. A word starts as one piece per byte and merges pairs in rank order through a priority queue,
/// the lowest rank first and, among equal ranks, the leftmost pair first (llama.cpp's order).
final class BytePairModel: Sendable {
    let vocabularySize: Int
    /// Piece id of the byte-level character of each byte.
    private let pieceOfByte: [Int32]
    private let merges: MergeTable
    /// UTF-8 byte-level text of each piece at or above `vocabularySize`.
    private let extraPieceTexts: [[UInt8]]
    /// Raw bytes of each vocabulary token that is whole-word matchable, when merges are skipped for words
    /// found in the vocabulary (llama.cpp's `ignore_merges`, set for Llama 3).
    private let wholeWordTokens: ByteSequenceTable?
    /// Token id of each one-byte vocabulary string, or -1; the fallback for a final piece outside the vocabulary.
    private let tokenOfSingleByteText: [Int32]

    init(vocabulary: Vocabulary, merges mergeStrings: [String], ignoreMerges: Bool) {
        vocabularySize = vocabulary.count
        var extraPieces = ByteSequenceTable()
        var extraTexts: [[UInt8]] = []

        func piece(_ text: [UInt8]) -> Int32 {
            if let id = vocabulary.id(utf8: text) { return id }
            if let index = extraPieces.value(text) { return Int32(vocabulary.count) + index }
            let index = Int32(extraTexts.count)
            extraPieces.insert(text, value: index, replace: false)
            extraTexts.append(text)
            return Int32(vocabulary.count) + index
        }

        var byteTable = [Int32](repeating: -1, count: 256)
        for byte in 0..<256 {
            byteTable[byte] = piece(ByteLevel.encode([UInt8(byte)]))
        }
        pieceOfByte = byteTable

        var table = MergeTable(minimumCapacity: mergeStrings.count)
        for (rank, merge) in mergeStrings.enumerated() {
            let bytes = Array(merge.utf8)
            // llama.cpp splits at the first space after the first byte; a rule without one joins nothing.
            guard bytes.count >= 3, let space = bytes[1...].firstIndex(of: 0x20) else { continue }
            let left = Array(bytes[..<space])
            let right = Array(bytes[(space + 1)...])
            guard !right.isEmpty else { continue }
            table.insertIfAbsent(left: piece(left), right: piece(right), rank: Int32(rank), merged: piece(left + right))
        }
        merges = table
        extraPieceTexts = extraTexts

        if ignoreMerges {
            var words = ByteSequenceTable(minimumCapacity: vocabulary.count)
            for id in 0..<vocabulary.count {
                if let raw = ByteLevel.decode(vocabulary.texts[id]) {
                    words.insert(raw, value: Int32(id), replace: true)
                }
            }
            wholeWordTokens = words
        } else {
            wholeWordTokens = nil
        }

        var singleBytes = [Int32](repeating: -1, count: 128)
        for byte in 0..<128 {
            singleBytes[byte] = vocabulary.id(utf8: [UInt8(byte)]) ?? -1
        }
        tokenOfSingleByteText = singleBytes
    }

    /// Appends the token ids of one word, given as raw UTF-8 bytes.
    func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32], scratch: inout BytePairScratch) {
        guard let base = word.baseAddress, !word.isEmpty else { return }
        if let words = wholeWordTokens, let id = words.value(base, count: word.count) {
            output.append(id)
            return
        }

        let count = word.count
        scratch.reset(count: count)
        for index in 0..<count {
            scratch.pieces[index] = pieceOfByte[Int(word[index])]
            scratch.previous[index] = Int32(index - 1)
            scratch.next[index] = index + 1 < count ? Int32(index + 1) : -1
        }
        for index in 1..<count {
            pushCandidate(Int32(index - 1), Int32(index), &scratch)
        }

        while let candidate = scratch.queue.pop() {
            let left = Int(candidate.left), right = Int(candidate.right)
            // A pair is stale once either side has merged with another neighbour since it was queued.
            guard scratch.pieces[left] == candidate.leftPiece, scratch.pieces[right] == candidate.rightPiece else {
                continue
            }
            scratch.pieces[left] = candidate.merged
            scratch.pieces[right] = -1
            let after = scratch.next[right]
            scratch.next[left] = after
            if after >= 0 { scratch.previous[Int(after)] = candidate.left }
            pushCandidate(scratch.previous[left], candidate.left, &scratch)
            pushCandidate(candidate.left, after, &scratch)
        }

        // Symbol 0 never merges into a left neighbour, so the chain starts there.
        var index: Int32 = 0
        while index >= 0 {
            appendPiece(scratch.pieces[Int(index)], to: &output)
            index = scratch.next[Int(index)]
        }
    }

    @inline(__always)
    private func pushCandidate(_ left: Int32, _ right: Int32, _ scratch: inout BytePairScratch) {
        guard left >= 0, right >= 0 else { return }
        let leftPiece = scratch.pieces[Int(left)], rightPiece = scratch.pieces[Int(right)]
        guard let rule = merges.lookup(leftPiece, rightPiece) else { return }
        scratch.queue.push(MergeCandidate(rank: rule.rank, left: left, right: right,
                                          leftPiece: leftPiece, rightPiece: rightPiece, merged: rule.merged))
    }

    private func appendPiece(_ piece: Int32, to output: inout [Int32]) {
        if Int(piece) < vocabularySize {
            output.append(piece)
            return
        }
        // A merge produced a string outside the vocabulary. llama.cpp then looks up each byte of its
        // byte-level text as a one-byte token and drops bytes without one; real vocabularies never get here.
        for byte in extraPieceTexts[Int(piece) - vocabularySize] where byte < 0x80 {
            let id = tokenOfSingleByteText[Int(byte)]
            if id >= 0 { output.append(id) }
        }
    }
}

/// A queued merge of two adjacent symbols, with the pieces they had when it was queued.
struct MergeCandidate: HeapElement {
    var rank: Int32
    var left: Int32
    var right: Int32
    var leftPiece: Int32
    var rightPiece: Int32
    var merged: Int32

    /// Orders by rank, then by the left symbol's position.
    @inline(__always)
    func precedes(_ other: MergeCandidate) -> Bool {
        rank != other.rank ? rank < other.rank : left < other.left
    }
}

/// Buffers reused across the words of one encode call.
struct BytePairScratch {
    var pieces: [Int32] = []
    var previous: [Int32] = []
    var next: [Int32] = []
    var queue = BinaryHeap<MergeCandidate>()

    mutating func reset(count: Int) {
        if pieces.count < count {
            pieces = [Int32](repeating: 0, count: count)
            previous = [Int32](repeating: 0, count: count)
            next = [Int32](repeating: 0, count: count)
        }
        queue.removeAll()
    }
}
