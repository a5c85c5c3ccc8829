import ModelFormats

/// The tokenizer metadata of a GGUF file, validated, with llama.cpp's defaults filled in.
struct TokenizerConfiguration {
    enum ModelKind: Equatable {
        case bytePair(preTokenizer: String, entry: PreTokenizerEntry)
        case sentencePiece
    }

    var kind: ModelKind
    var vocabulary: Vocabulary
    var merges: [String]
    var bosTokenId: Int?
    var eosTokenId: Int?
    var unknownTokenId: Int?
    var stopTokenIds: [Int]
    var addBOS: Bool
    var addEOS: Bool
    /// SentencePiece only: a space is written before text that starts the input or follows a special token.
    var addSpacePrefix: Bool

    /// Split-out tokens that also remove the whitespace after them in the input text.
    var rightStrippingTokenIds: Set<Int> = []

    /// Token texts that end generation, after llama.cpp's end-of-generation list for the model families
    /// this package runs. llama.cpp also marks each of them as a control token, so that, for example,
    /// Qwen2's ordinary `</s>` entry is split out of input text as a special token.
    static let endOfGenerationTexts: Set<String> = [
        "<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
        "<|end_of_text|>", "<EOT>", "</s>",
    ]

    init(gguf: GGUFFile) throws {
        guard let model = gguf.string("tokenizer.ggml.model") else {
            throw TokenizerError.missingMetadata(key: "tokenizer.ggml.model")
        }
        switch model {
        case "gpt2":
            let preName = gguf.string("tokenizer.ggml.pre") ?? "default"
            kind = .bytePair(preTokenizer: preName, entry: try PreTokenizerCatalog.entry(named: preName))
        case "llama":
            kind = .sentencePiece
        default:
            throw TokenizerError.unsupportedModel(model)
        }

        let texts = try Self.stringArray(gguf, "tokenizer.ggml.tokens")
        let count = texts.count
        guard count > 0 else {
            throw TokenizerError.invalidMetadata(key: "tokenizer.ggml.tokens", detail: "the vocabulary is empty")
        }

        var scores = [Float](repeating: 0, count: count)
        if gguf.value("tokenizer.ggml.scores") != nil {
            guard let values = gguf.floatArray("tokenizer.ggml.scores") else {
                throw TokenizerError.invalidMetadata(key: "tokenizer.ggml.scores", detail: "expected an array of numbers")
            }
            guard values.count >= count else {
                throw TokenizerError.invalidMetadata(key: "tokenizer.ggml.scores",
                                                     detail: "\(values.count) scores for \(count) tokens")
            }
            scores = Array(values.prefix(count))
        }

        var attributes = [TokenAttributes](repeating: .normal, count: count)
        if gguf.value("tokenizer.ggml.token_type") != nil {
            guard let types = gguf.intArray("tokenizer.ggml.token_type") else {
                throw TokenizerError.invalidMetadata(key: "tokenizer.ggml.token_type", detail: "expected an array of integers")
            }
            guard types.count >= count else {
                throw TokenizerError.invalidMetadata(key: "tokenizer.ggml.token_type",
                                                     detail: "\(types.count) types for \(count) tokens")
            }
            for id in 0..<count { attributes[id] = TokenAttributes(tokenType: types[id]) }
        }
        for id in 0..<count where Self.endOfGenerationTexts.contains(texts[id]) {
            attributes[id].insert(.control)
        }
        vocabulary = Vocabulary(texts: texts, attributes: attributes, scores: scores)

        if case .bytePair = kind {
            merges = try Self.stringArray(gguf, "tokenizer.ggml.merges")
        } else {
            merges = []
        }

        // llama.cpp's SentencePiece defaults; byte-level BPE files must name their special tokens.
        let isSentencePiece = kind == .sentencePiece
        bosTokenId = try Self.tokenId(gguf, "tokenizer.ggml.bos_token_id", count: count, default: isSentencePiece ? 1 : nil)
        eosTokenId = try Self.tokenId(gguf, "tokenizer.ggml.eos_token_id", count: count, default: isSentencePiece ? 2 : nil)
        unknownTokenId = try Self.tokenId(gguf, "tokenizer.ggml.unknown_token_id", count: count,
                                          default: isSentencePiece ? 0 : nil)
        let eotTokenId = try Self.tokenId(gguf, "tokenizer.ggml.eot_token_id", count: count, default: nil)
        let eomTokenId = try Self.tokenId(gguf, "tokenizer.ggml.eom_token_id", count: count, default: nil)

        switch kind {
        case .bytePair(_, let entry):
            addBOS = entry.addsBOSByDefault
            addSpacePrefix = false
        case .sentencePiece:
            addBOS = true
            addSpacePrefix = gguf.bool("tokenizer.ggml.add_space_prefix") ?? true
        }
        addBOS = gguf.bool("tokenizer.ggml.add_bos_token") ?? addBOS
        addEOS = gguf.bool("tokenizer.ggml.add_eos_token") ?? false
        if addBOS && bosTokenId == nil {
            throw TokenizerError.invalidMetadata(key: "tokenizer.ggml.add_bos_token",
                                                 detail: "BOS is to be added but tokenizer.ggml.bos_token_id is missing")
        }
        if addEOS && eosTokenId == nil {
            throw TokenizerError.invalidMetadata(key: "tokenizer.ggml.add_eos_token",
                                                 detail: "EOS is to be added but tokenizer.ggml.eos_token_id is missing")
        }

        // llama.cpp gives Phi-3 models, found by name, right-stripping special tokens except these three.
        let modelName = (gguf.string("general.name") ?? "").lowercased()
        if modelName.contains("phi-3") || modelName.contains("phi3") {
            let exceptions: Set<String> = ["<unk>", "<s>", "<|endoftext|>"]
            for id in 0..<count where !exceptions.contains(texts[id])
                && (!attributes[id].isDisjoint(with: .splitOut) || texts[id] == "</s>") {
                rightStrippingTokenIds.insert(id)
            }
        }

        var stops = Set([eosTokenId, eotTokenId, eomTokenId].compactMap { $0 })
        for id in 0..<count where Self.endOfGenerationTexts.contains(texts[id]) {
            stops.insert(id)
        }
        stopTokenIds = stops.sorted()
    }

    private static func stringArray(_ gguf: GGUFFile, _ key: String) throws -> [String] {
        guard gguf.value(key) != nil else { throw TokenizerError.missingMetadata(key: key) }
        guard let values = gguf.stringArray(key) else {
            throw TokenizerError.invalidMetadata(key: key, detail: "expected an array of strings")
        }
        return values
    }

    private static func tokenId(_ gguf: GGUFFile, _ key: String, count: Int, default fallback: Int?) throws -> Int? {
        guard let value = gguf.value(key) else {
            return fallback.flatMap { $0 < count ? $0 : nil }
        }
        guard let id = value.intValue else {
            throw TokenizerError.invalidMetadata(key: key, detail: "expected an integer, found \(value.summary())")
        }
        guard id >= 0 && id < count else {
            throw TokenizerError.invalidMetadata(key: key, detail: "token id \(id) is outside the vocabulary of \(count) tokens")
        }
        return id
    }
}
