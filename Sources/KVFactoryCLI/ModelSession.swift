import Foundation
import ModelFormats
import Tokenization
import Modeling
import TensorKernels

/// A loaded model with its tokenizer, shared by the commands that run the model.
final class ModelSession {
    let path: String
    let file: GGUFFile
    let tokenizer: Tokenizer
    let model: TransformerModel
    let loadSeconds: Double

    /// Loads the model; `layers` limits it to one pipeline stage's layers (all when nil).
    init(options: ParsedOptions, layers: Range<Int>? = nil) throws {
        path = options.string("model_path") ?? Defaults.modelPath
        let threads = try options.int("threads", default: Defaults.threads, minimum: 1)
        let start = Date()
        file = try GGUFFile(path: path)
        tokenizer = try Tokenizer(gguf: file)
        model = try TransformerModel(gguf: file, layers: layers, threads: threads)
        loadSeconds = Date().timeIntervalSince(start)
    }

    /// Reads a prompt file as UTF-8.
    static func readPromptFile(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandFailure(message: "prompt file not found: \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure(message: "cannot read prompt file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CommandFailure(message: "prompt file \(path) is not valid UTF-8")
        }
        return text
    }
}
