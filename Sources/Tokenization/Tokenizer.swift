import ModelFormats

/// A tokenizer built from the metadata of a GGUF file, with the token ids of llama.cpp.
///
/// The pipeline follows the Hugging Face `tokenizers` stages:
/// 1. special-token splitting: control, user-defined and unknown tokens written in the text;
/// 2. normalizer: SentencePiece models write a space before the text and replace spaces with `▁`;
/// 3. pre-tokenizer: byte-level BPE models split text into words with the pattern of `tokenizer.ggml.pre`;
/// 4. model: byte-level BPE merges by rank, SentencePiece BPE merges by score with byte fallback;
/// 5. post-processor: BOS and EOS where `tokenizer.ggml.add_bos_token` and `add_eos_token` request them;
/// 6. decoder: the inverse of 1 to 4, byte-exact for text that came from `encode`.
///
/// Instances are immutable and safe to share between threads; each `encode` call has its own word cache.
public final class Tokenizer: Sendable {
    enum Model {
        case bytePair(BytePairModel, PreTokenizer)
        case sentencePiece(SentencePieceModel)
    }

    let vocabulary: Vocabulary
    let model: Model
    let splitter: SpecialTokenSplitter
    let addSpacePrefix: Bool
    /// `tokenizer.ggml.pre` for byte-level BPE models, nil for SentencePiece.
    public let preTokenizerName: String?

    /// Decoded bytes of every token: `pieceBytes[pieceOffsets[id]..<pieceOffsets[id + 1]]`.
    let pieceBytes: [UInt8]
    let pieceOffsets: [Int32]

    public let vocabularySize: Int
    public let bosTokenId: Int?
    public let eosTokenId: Int?
    public let unknownTokenId: Int?
    /// Whether `encode` adds BOS when called with `addSpecialTokens`.
    public let addBOS: Bool
    /// Whether `encode` adds EOS when called with `addSpecialTokens`.
    public let addEOS: Bool
    /// Tokens that end generation: EOS, the file's EOT and EOM tokens, and `<|eot_id|>`, `<|eom_id|>`,
    /// `<|im_end|>`, `<|end|>`, `<end_of_turn>`, `<|endoftext|>`, `<|end_of_text|>` and `<EOT>` where the
    /// vocabulary has them (llama.cpp's end-of-generation set). Sorted ascending.
    public let stopTokenIds: [Int]

    /// Builds the tokenizer of a GGUF model or vocabulary file.
    /// - Throws: `TokenizerError` naming the unsupported model or pre-tokenizer, or the invalid key.
    public convenience init(gguf: GGUFFile) throws {
        try self.init(configuration: TokenizerConfiguration(gguf: gguf))
    }

    init(configuration: TokenizerConfiguration) {
        vocabulary = configuration.vocabulary
        vocabularySize = vocabulary.count
        bosTokenId = configuration.bosTokenId
        eosTokenId = configuration.eosTokenId
        unknownTokenId = configuration.unknownTokenId
        addBOS = configuration.addBOS
        addEOS = configuration.addEOS
        addSpacePrefix = configuration.addSpacePrefix
        stopTokenIds = configuration.stopTokenIds
        splitter = SpecialTokenSplitter(vocabulary: vocabulary, rightStrippingTokenIds: configuration.rightStrippingTokenIds)

        switch configuration.kind {
        case .bytePair(let name, let entry):
            preTokenizerName = name
            model = .bytePair(BytePairModel(vocabulary: vocabulary, merges: configuration.merges,
                                            ignoreMerges: entry.ignoreMerges),
                              PreTokenizer(rules: entry.rules))
        case .sentencePiece:
            preTokenizerName = nil
            model = .sentencePiece(SentencePieceModel(vocabulary: vocabulary, unknownTokenId: configuration.unknownTokenId))
        }

        var bytes: [UInt8] = []
        var offsets: [Int32] = [0]
        offsets.reserveCapacity(vocabulary.count + 1)
        let isBytePair: Bool
        if case .bytePair = model { isBytePair = true } else { isBytePair = false }
        for id in 0..<vocabulary.count {
            bytes.append(contentsOf: Self.decodedBytes(of: vocabulary.texts[id], attributes: vocabulary.attributes[id],
                                                       isBytePair: isBytePair))
            offsets.append(Int32(bytes.count))
        }
        pieceBytes = bytes
        pieceOffsets = offsets
    }

    /// Returns the bytes a token represents: the text itself for special and added tokens, the byte of a
    /// `<0xXX>` token, the byte-level alphabet decoded (BPE) or `▁` turned into a space (SentencePiece).
    private static func decodedBytes(of text: String, attributes: TokenAttributes, isBytePair: Bool) -> [UInt8] {
        if !attributes.isDisjoint(with: [.control, .unknown, .userDefined]) {
            return Array(text.utf8)
        }
        if attributes.contains(.byte), let byte = Vocabulary.byteValue(ofByteToken: text) {
            return [byte]
        }
        if isBytePair {
            return ByteLevel.decode(text) ?? Array(text.utf8)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var utf8 = Array(text.utf8)[...]
        while !utf8.isEmpty {
            if utf8.starts(with: SentencePieceModel.spaceMarker) {
                bytes.append(0x20)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(utf8.removeFirst())
            }
        }
        return bytes
    }

    /// Returns the vocabulary string of a token as the file stores it (byte-level alphabet, `▁`, `<0x0A>`),
    /// or an empty string for ids outside the vocabulary.
    public func tokenText(_ id: Int) -> String {
        guard id >= 0 && id < vocabularySize else { return "" }
        return vocabulary.texts[id]
    }

    /// Returns the bytes that one token decodes to, which for special tokens is their text.
    /// Ids outside the vocabulary give no bytes.
    public func tokenBytes(_ id: Int) -> [UInt8] {
        guard id >= 0 && id < vocabularySize else { return [] }
        return Array(pieceBytes[Int(pieceOffsets[id])..<Int(pieceOffsets[id + 1])])
    }

    /// Looks up the id of a vocabulary string, the inverse of `tokenText`.
    public func tokenId(_ text: String) -> Int? {
        vocabulary.id(utf8: Array(text.utf8)).map(Int.init)
    }

    /// Returns true for control and unknown tokens, which `decode` drops with `skipSpecialTokens`.
    public func isSpecialToken(_ id: Int) -> Bool {
        guard id >= 0 && id < vocabularySize else { return false }
        return !vocabulary.attributes[id].isDisjoint(with: .special)
    }
}
