extension Tokenizer {
    /// Encodes text to token ids.
    /// - Parameters:
    ///   - addSpecialTokens: add BOS and EOS where `addBOS` and `addEOS` request them.
    ///   - parseSpecial: recognise control tokens such as `<|im_start|>` written in the text; when false they
    ///     are tokenized as plain text. User-defined (added) tokens are recognised either way.
    public func encode(_ text: String, addSpecialTokens: Bool = true, parseSpecial: Bool = true) -> [Int] {
        var output: [Int32] = []
        if addSpecialTokens && addBOS, let bos = bosTokenId {
            output.append(Int32(bos))
        }

        let utf8 = Array(text.utf8)
        utf8.withUnsafeBufferPointer { buffer in
            output.reserveCapacity(output.count + buffer.count / 3 + 2)
            var session = EncodingSession()
            var followsSpecialToken = true
            for fragment in splitter.split(buffer, parseSpecial: parseSpecial) {
                switch fragment {
                case .token(let id):
                    output.append(id)
                    followsSpecialToken = true
                case .text(let range):
                    let slice = UnsafeBufferPointer(rebasing: buffer[range])
                    switch model {
                    case .bytePair(let bytePair, let preTokenizer):
                        encodeBytePair(slice, bytePair, preTokenizer, &session, &output)
                    case .sentencePiece(let sentencePiece):
                        encodeSentencePiece(slice, prefixSpace: addSpacePrefix && followsSpecialToken,
                                            sentencePiece, &session, &output)
                    }
                    followsSpecialToken = false
                }
            }
        }

        if addSpecialTokens && addEOS, let eos = eosTokenId {
            output.append(Int32(eos))
        }
        return output.map(Int.init)
    }

    /// Pre-tokenizes one text fragment and runs BPE on each word, through the word cache.
    private func encodeBytePair(_ text: UnsafeBufferPointer<UInt8>, _ bytePair: BytePairModel, _ preTokenizer: PreTokenizer,
                                _ session: inout EncodingSession, _ output: inout [Int32]) {
        session.decodeScalars(text)
        let scalarCount = session.scalarCount
        let ends = session.scalars.withUnsafeBufferPointer { scalars in
            session.classes.withUnsafeBufferPointer { classes in
                preTokenizer.split(scalars: UnsafeBufferPointer(rebasing: scalars[..<scalarCount]),
                                   classes: UnsafeBufferPointer(rebasing: classes[..<scalarCount]))
            }
        }

        var start = 0
        for end in ends {
            let byteStart = Int(session.byteOffsets[start]), byteEnd = Int(session.byteOffsets[Int(end)])
            let word = UnsafeBufferPointer(rebasing: text[byteStart..<byteEnd])
            session.encodeCached(word, into: &output) { word, output, session in
                bytePair.encodeWord(word, into: &output, scratch: &session.bytePairScratch)
            }
            start = Int(end)
        }
    }

    /// Escapes one text fragment for SentencePiece and encodes it word by word when the vocabulary allows.
    private func encodeSentencePiece(_ text: UnsafeBufferPointer<UInt8>, prefixSpace: Bool, _ sentencePiece: SentencePieceModel,
                                     _ session: inout EncodingSession, _ output: inout [Int32]) {
        let marker = SentencePieceModel.spaceMarker
        var escaped: [UInt8] = []
        escaped.reserveCapacity(text.count + text.count / 4 + 3)
        if prefixSpace { escaped.append(contentsOf: marker) }
        for byte in text {
            if byte == 0x20 {
                escaped.append(contentsOf: marker)
            } else {
                escaped.append(byte)
            }
        }

        escaped.withUnsafeBufferPointer { buffer in
            guard sentencePiece.mergesStayWithinWords else {
                sentencePiece.encodeSegment(buffer, into: &output, scratch: &session.sentencePieceScratch)
                return
            }
            // A word starts at each `▁` that follows another character than `▁`.
            var segmentStart = 0
            var index = 1
            while index + 3 <= buffer.count {
                if buffer[index] == 0xE2 && buffer[index + 1] == 0x96 && buffer[index + 2] == 0x81
                    && !(index >= 3 && buffer[index - 3] == 0xE2 && buffer[index - 2] == 0x96 && buffer[index - 1] == 0x81) {
                    encodeSegmentCached(buffer, segmentStart..<index, sentencePiece, &session, &output)
                    segmentStart = index
                    index += 3
                } else {
                    index += 1
                }
            }
            encodeSegmentCached(buffer, segmentStart..<buffer.count, sentencePiece, &session, &output)
        }
    }

    private func encodeSegmentCached(_ buffer: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ sentencePiece: SentencePieceModel,
                                     _ session: inout EncodingSession, _ output: inout [Int32]) {
        session.encodeCached(UnsafeBufferPointer(rebasing: buffer[range]), into: &output) { segment, output, session in
            sentencePiece.encodeSegment(segment, into: &output, scratch: &session.sentencePieceScratch)
        }
    }
}

/// Per-call encoding state: decoded scalars, scratch buffers and the word cache.
///
/// Long texts repeat most of their words, so caching each word's ids makes the merge loop run once per
/// distinct word. The cache lives for one `encode` call, which keeps the tokenizer free of shared mutable state.
struct EncodingSession {
    /// Scalars of the current fragment in `scalars[..<scalarCount]`; the buffers only grow.
    var scalars: [UInt32] = []
    var classes: [UInt8] = []
    /// UTF-8 offset of each scalar, plus the end offset.
    var byteOffsets: [Int32] = []
    var scalarCount = 0
    var bytePairScratch = BytePairScratch()
    var sentencePieceScratch = SentencePieceScratch()

    private var cache = ByteSequenceTable(minimumCapacity: 4096)
    /// Ids of cached words, `cachedIds[cacheOffsets[entry]..<cacheOffsets[entry + 1]]`.
    private var cachedIds: [Int32] = []
    private var cacheOffsets: [Int32] = [0]

    /// Words longer than this are encoded without caching; long words rarely repeat.
    private static let maxCachedWordBytes = 128
    /// The cache is emptied when it contains this many words, which bounds its memory (about 10 MB).
    private static let maxCachedWords = 1 << 17

    /// Decodes valid UTF-8 into scalars, their character classes and their byte offsets.
    mutating func decodeScalars(_ text: UnsafeBufferPointer<UInt8>) {
        let count = text.count
        if scalars.count < count {
            scalars = [UInt32](repeating: 0, count: count)
            classes = [UInt8](repeating: 0, count: count)
            byteOffsets = [Int32](repeating: 0, count: count + 1)
        }
        let basicPlane = ScalarClass.basicPlaneTable
        var decoded = 0
        basicPlane.withUnsafeBufferPointer { table in
            scalars.withUnsafeMutableBufferPointer { scalars in
                classes.withUnsafeMutableBufferPointer { classes in
                    byteOffsets.withUnsafeMutableBufferPointer { offsets in
                        var index = 0
                        while index < count {
                            let lead = text[index]
                            var value: UInt32
                            var length: Int
                            switch lead {
                            case 0..<0x80:
                                value = UInt32(lead); length = 1
                            case 0xC0..<0xE0:
                                value = UInt32(lead & 0x1F); length = 2
                            case 0xE0..<0xF0:
                                value = UInt32(lead & 0x0F); length = 3
                            default:
                                value = UInt32(lead & 0x07); length = 4
                            }
                            // Swift strings contain valid UTF-8, so continuation bytes are present. The bound guards slices anyway.
                            length = min(length, count - index)
                            for offset in 1..<length {
                                value = value << 6 | UInt32(text[index + offset] & 0x3F)
                            }
                            scalars[decoded] = value
                            classes[decoded] = value < 0x1_0000 ? table[Int(value)] : ScalarClass.compute(value).rawValue
                            offsets[decoded] = Int32(index)
                            decoded += 1
                            index += length
                        }
                        offsets[decoded] = Int32(count)
                    }
                }
            }
        }
        scalarCount = decoded
    }

    /// Appends the ids of a word from the cache, or encodes it with `encode` and caches the result.
    @inline(__always)
    mutating func encodeCached(_ word: UnsafeBufferPointer<UInt8>, into output: inout [Int32],
                               encode: (UnsafeBufferPointer<UInt8>, inout [Int32], inout EncodingSession) -> Void) {
        guard let base = word.baseAddress, !word.isEmpty else { return }
        guard word.count <= Self.maxCachedWordBytes else {
            encode(word, &output, &self)
            return
        }
        if let entry = cache.value(base, count: word.count) {
            let start = Int(cacheOffsets[Int(entry)]), end = Int(cacheOffsets[Int(entry) + 1])
            output.append(contentsOf: cachedIds[start..<end])
            return
        }

        let firstNew = output.count
        encode(word, &output, &self)
        if cache.count >= Self.maxCachedWords {
            cache.removeAll()
            cachedIds.removeAll(keepingCapacity: true)
            cacheOffsets = [0]
        }
        cache.insert(base, count: word.count, value: Int32(cacheOffsets.count - 1), replace: false)
        cachedIds.append(contentsOf: output[firstNew...])
        cacheOffsets.append(Int32(cachedIds.count))
    }
}
