/// What a `tokenizer.ggml.pre` value selects for byte-level BPE, with llama.cpp's defaults for it.
struct PreTokenizerEntry: Sendable, Equatable {
    let rules: [SplitRule]
    /// A word found whole in the vocabulary becomes that token without merging (llama.cpp's `ignore_merges`).
    let ignoreMerges: Bool
    /// The BOS default when the file has no `tokenizer.ggml.add_bos_token`.
    let addsBOSByDefault: Bool
}

/// The `tokenizer.ggml.pre` values this package supports. Values that llama.cpp maps to the same pattern
/// share an entry.
enum PreTokenizerCatalog {
    private static let gpt2 = PreTokenizerEntry(rules: [.gpt2], ignoreMerges: false, addsBOSByDefault: false)
    /// SmolLM and StarCoder split every digit out before the GPT-2 pattern.
    private static let digitsThenGPT2 = PreTokenizerEntry(rules: [.isolateEachNumber, .gpt2],
                                                          ignoreMerges: false, addsBOSByDefault: false)
    private static let llama3 = PreTokenizerEntry(rules: [.llama3(maxDigits: 3)], ignoreMerges: true, addsBOSByDefault: true)
    private static let llama3Pattern = PreTokenizerEntry(rules: [.llama3(maxDigits: 3)],
                                                         ignoreMerges: false, addsBOSByDefault: false)
    private static let qwen2 = PreTokenizerEntry(rules: [.llama3(maxDigits: 1)], ignoreMerges: false, addsBOSByDefault: false)
    /// llama.cpp's fallback for `default` and for files without the key.
    private static let fallback = PreTokenizerEntry(
        rules: [.isolatePunctuationRuns, .gpt2, .isolateNumberRuns, .isolateDigitTriples],
        ignoreMerges: false, addsBOSByDefault: false)

    static let entries: [String: PreTokenizerEntry] = [
        "default": fallback,
        "gpt-2": gpt2, "phi-2": gpt2, "mpt": gpt2, "olmo": gpt2,
        "smollm": digitsThenGPT2, "starcoder": digitsThenGPT2, "refact": digitsThenGPT2,
        "command-r": digitsThenGPT2, "codeshell": digitsThenGPT2, "exaone": digitsThenGPT2,
        "minerva-7b": digitsThenGPT2,
        "llama3": llama3, "llama-v3": llama3, "llama-bpe": llama3, "falcon3": llama3,
        "dbrx": llama3Pattern, "smaug-bpe": llama3Pattern,
        "qwen2": qwen2, "deepseek-r1-qwen": qwen2, "stablelm2": qwen2, "megrez": qwen2,
    ]

    static var supportedNames: [String] { entries.keys.sorted() }

    static func entry(named name: String) throws -> PreTokenizerEntry {
        guard let entry = entries[name] else { throw TokenizerError.unsupportedPreTokenizer(name) }
        return entry
    }
}
