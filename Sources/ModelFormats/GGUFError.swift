/// Errors raised while opening and validating a GGUF file. Each message names the file, the field and,
/// where it applies, the byte offset at which the problem was found.
public enum GGUFError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case notGGUF(path: String, magic: [UInt8])
    case unsupportedVersion(path: String, version: UInt32)
    case truncated(path: String, field: String, offset: Int, needed: Int, fileSize: Int)
    case invalidValue(path: String, field: String, offset: Int, detail: String)
    case missingKey(path: String, key: String)
    case missingTensor(path: String, name: String)
    case unsupportedTensorType(path: String, tensor: String, type: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "model file not found: \(path); run scripts/setup.sh to install the default model or pass --model_path"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .notGGUF(let path, let magic):
            let shown = magic.map { String(format: "%02x", $0) }.joined(separator: " ")
            return "\(path) is not a GGUF file (first bytes \(shown), expected 47 47 55 46 \"GGUF\"); convert the model to GGUF first"
        case .unsupportedVersion(let path, let version):
            return "\(path) has GGUF version \(version); only versions 2 and 3 are supported, so re-export it with a current llama.cpp"
        case .truncated(let path, let field, let offset, let needed, let fileSize):
            return "\(path) is truncated: \(field) at byte offset \(offset) needs \(needed) bytes but the file has \(fileSize); download the file again"
        case .invalidValue(let path, let field, let offset, let detail):
            return "\(path) is malformed: \(field) at byte offset \(offset): \(detail)"
        case .missingKey(let path, let key):
            return "\(path) lacks the metadata key \(key)"
        case .missingTensor(let path, let name):
            return "\(path) lacks the tensor \(name)"
        case .unsupportedTensorType(let path, let tensor, let type):
            return "\(path): tensor \(tensor) has type \(type), which cannot be dequantized; supported types are "
                + DequantizationError.supportedTypeNames.joined(separator: ", ")
        }
    }
}
