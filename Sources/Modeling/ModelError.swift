/// Errors raised while loading or running a transformer. Each message names the value at fault and the fix.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unsupportedArchitecture(String)
    case unsupportedFeature(path: String, feature: String)
    case missingMetadata(path: String, key: String)
    case invalidMetadata(path: String, key: String, detail: String)
    case missingTensor(path: String, name: String)
    case tensorShapeMismatch(path: String, name: String, shape: [Int], expected: [Int])
    case invalidLayerRange(Range<Int>, blockCount: Int)
    case promptTooLong(tokens: Int, context: Int)
    case emptyPrompt
    case contextFull(position: Int, context: Int)
    case tokenOutOfRange(token: Int, vocabularySize: Int)
    case logitPositionOutOfRange(position: Int, tokens: Int)
    case cacheMismatch(detail: String)
    case granularityMismatch(cache: String, policy: String)
    case missingStage(String)
    case invalidSampling(String)

    /// Values of `general.architecture` that load. llama.cpp exports Mistral models as "llama".
    public static let supportedArchitectures = ["llama", "qwen2"]

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let name):
            let supported = Self.supportedArchitectures.joined(separator: ", ")
            return "model architecture \"\(name)\" is not supported; supported architectures are \(supported) (Mistral models use \"llama\")"
        case .unsupportedFeature(let path, let feature):
            return "\(path) uses \(feature), which this transformer does not implement; use a model without it"
        case .missingMetadata(let path, let key):
            return "\(path) lacks the metadata key \(key), which the transformer needs; re-export the model with a current llama.cpp"
        case .invalidMetadata(let path, let key, let detail):
            return "\(path): metadata \(key) is invalid: \(detail)"
        case .missingTensor(let path, let name):
            return "\(path) lacks the tensor \(name); the file is incomplete or not a supported architecture"
        case .tensorShapeMismatch(let path, let name, let shape, let expected):
            return "\(path): tensor \(name) has shape \(shape) but the metadata implies \(expected) (GGUF order, contiguous dimension first)"
        case .invalidLayerRange(let range, let blockCount):
            return "layer range \(range.lowerBound)..<\(range.upperBound) is invalid for a model with \(blockCount) layers; pass a non-empty range inside 0..<\(blockCount)"
        case .promptTooLong(let tokens, let context):
            return "the prompt has \(tokens) tokens but the model's context length is \(context); truncate the prompt or raise the model's context length"
        case .emptyPrompt:
            return "the prompt has no tokens; pass at least one token"
        case .contextFull(let position, let context):
            return "position \(position) is beyond the model's context length \(context); generate fewer tokens or shorten the prompt"
        case .tokenOutOfRange(let token, let vocabularySize):
            return "token id \(token) is outside the vocabulary 0..<\(vocabularySize); check that the tokenizer matches the model"
        case .logitPositionOutOfRange(let position, let tokens):
            return "logit position \(position) is outside the prompt 0..<\(tokens)"
        case .cacheMismatch(let detail):
            return "the KV cache does not fit this model: \(detail); create it with TransformerModel.makeCache"
        case .granularityMismatch(let cache, let policy):
            return "the KV cache stores \(cache) heads but the policy needs \(policy) heads; create the cache with the policy's granularity"
        case .missingStage(let detail):
            return "this model instance holds only part of the layers: \(detail)"
        case .invalidSampling(let detail):
            return "invalid sampling options: \(detail)"
        }
    }
}
