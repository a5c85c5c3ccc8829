/// Errors raised while building a tokenizer from GGUF metadata. Each message names the metadata key or
/// value and what to do about it.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingMetadata(key: String)
    case unsupportedModel(String)
    case unsupportedPreTokenizer(String)
    case invalidMetadata(key: String, detail: String)

    public var description: String {
        switch self {
        case .missingMetadata(let key):
            return "the GGUF file lacks the tokenizer metadata key \(key); re-export the model with a current llama.cpp convert script"
        case .unsupportedModel(let model):
            return "tokenizer.ggml.model '\(model)' is not supported; supported models are "
                + "'gpt2' (byte-level BPE) and 'llama' (SentencePiece BPE)"
        case .unsupportedPreTokenizer(let name):
            let supported = PreTokenizerCatalog.supportedNames.joined(separator: ", ")
            return "tokenizer.ggml.pre '\(name)' is not supported; supported pre-tokenizers are \(supported)"
        case .invalidMetadata(let key, let detail):
            return "invalid tokenizer metadata \(key): \(detail); the GGUF file is damaged or was exported incorrectly"
        }
    }
}
