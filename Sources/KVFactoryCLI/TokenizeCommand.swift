import Foundation
import ModelFormats
import Tokenization

/// `kvfactory tokenize`: text to token ids, or ids back to text with --decode.
enum TokenizeCommand {
    static let specs: [OptionSpec] = [
        CommonOptions.modelPath,
        .value("file", "FILE", "text to encode, or with --decode a JSON array of ids (default: standard input)"),
        .flag("no_special", "treat special-token text such as <|im_start|> as plain text"),
        .flag("decode", "read a JSON array of token ids and print the text"),
    ]
    static let help = helpText(command: "tokenize", synopsis: "[--model_path FILE] --file FILE [--no_special] [--decode]",
                               summary: "Print the token ids of a text as one JSON array. No BOS is added unless the model's metadata asks for it.",
                               specs: specs)

    static func run(_ options: ParsedOptions) throws {
        let path = options.string("model_path") ?? Defaults.modelPath
        let tokenizer = try Tokenizer(gguf: GGUFFile(path: path))
        let input: Data
        if let file = options.string("file") {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure(message: "cannot read --file \(file): file not found or unreadable")
            }
            input = data
        } else {
            input = FileHandle.standardInput.readDataToEndOfFile()
        }

        if options.has("decode") {
            guard let ids = (try? JSONSerialization.jsonObject(with: input)) as? [Any],
                  let integers = ids as? [Int] else {
                throw CommandFailure(message: "--decode expects a JSON array of integer token ids")
            }
            if let bad = integers.first(where: { $0 < 0 || $0 >= tokenizer.vocabularySize }) {
                throw CommandFailure(message: "token id \(bad) is outside the vocabulary of \(tokenizer.vocabularySize) tokens")
            }
            FileHandle.standardOutput.write(Data(tokenizer.decode(integers).utf8))
            return
        }

        guard let text = String(data: input, encoding: .utf8) else {
            throw CommandFailure(message: "input is not valid UTF-8")
        }
        let ids = tokenizer.encode(text, addSpecialTokens: true, parseSpecial: !options.has("no_special"))
        print("[" + ids.map(String.init).joined(separator: ", ") + "]")
    }
}
