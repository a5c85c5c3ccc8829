import Foundation
import ChatTemplates
import KVPolicies
import Modeling
import Tokenization

/// `kvfactory generate`: stream a completion of a prompt or a chat message.
enum GenerateCommand {
    static let ownSpecs: [OptionSpec] = [
        CommonOptions.modelPath,
        .value("prompt", "TEXT", "raw prompt text; special-token text such as <|im_start|> is recognised"),
        .value("chat", "MESSAGE", "a user message, formatted with the model's chat template and a generation prompt"),
        .value("system", "TEXT", "system message for --chat (default: the template's own default, if any)"),
        .value("max_new_tokens", "N", "tokens to generate at most (default 128)"),
        .value("temperature", "T", "sampling temperature; 0 means greedy decoding (default 0)"),
        .value("top_p", "P", "nucleus sampling probability mass in (0, 1] (default 1)"),
        CommonOptions.threads,
    ]
    static let specs = ownSpecs + PolicySupport.helpSpecs
    static let help = helpText(command: "generate", synopsis: "[--model_path FILE] (--prompt TEXT | --chat MESSAGE) [--max_new_tokens N]",
                               summary: "Generate text and stream it to standard output, then print prefill and decode speed to standard error. Greedy by default; stops on the model's stop tokens. --seed seeds sampling.",
                               specs: specs)

    static func run(arguments: [String]) throws {
        var remaining = arguments
        let policyOptions = try PolicySupport.parse(&remaining, command: "generate")
        let options = try ParsedOptions(command: "generate", arguments: remaining, specs: ownSpecs)
        let prompt = options.string("prompt")
        let chat = options.string("chat")
        guard (prompt == nil) != (chat == nil) else {
            throw UsageError(message: "give exactly one of --prompt TEXT or --chat MESSAGE", command: "generate")
        }
        let maxNewTokens = try options.int("max_new_tokens", default: 128, minimum: 1)
        let temperature = try options.double("temperature") ?? 0
        let topP = try options.double("top_p") ?? 1
        guard temperature >= 0 else { throw UsageError(message: "--temperature must be >= 0, got \(temperature)", command: "generate") }
        guard topP > 0 && topP <= 1 else { throw UsageError(message: "--top_p must be in (0, 1], got \(topP)", command: "generate") }

        let session = try ModelSession(options: options)
        let text: String
        if let chat {
            var messages: [ChatMessage] = []
            if let system = options.string("system") { messages.append(ChatMessage(role: "system", content: system)) }
            messages.append(ChatMessage(role: "user", content: chat))
            text = try session.renderChat(messages)
        } else {
            text = prompt!
        }
        let tokens = session.tokenizer.encode(text, addSpecialTokens: true, parseSpecial: true)
        guard tokens.count <= session.model.config.contextLength else {
            throw ModelError.promptTooLong(tokens: tokens.count, context: session.model.config.contextLength)
        }
        let policy = try PolicySupport.makePolicy(policyOptions, config: session.model.config, promptLength: tokens.count, sampleID: 0)

        let generator = Generator(model: session.model)
        var decoder = StreamingDecoder(tokenizer: session.tokenizer, skipSpecialTokens: true)
        let output = FileHandle.standardOutput
        let sampling = SamplingOptions(temperature: Float(temperature), topP: Float(topP), seed: UInt64(policyOptions.seed))
        let result = try generator.generate(prompt: tokens, maxNewTokens: maxNewTokens, stopTokens: Set(session.tokenizer.stopTokenIds),
                                            sampling: sampling, policy: policy) { token in
            let piece = decoder.append(token)
            if !piece.isEmpty { output.write(Data(piece.utf8)) }
            return true
        }
        output.write(Data((decoder.finish() + "\n").utf8))
        printError(String(format: "prompt %d tokens, prefill %.3f s (%.1f tokens/s); generated %d tokens, decode %.1f tokens/s; KV cache after prefill %@ (%@); stop: %@",
                          result.promptTokens, result.prefillSeconds, result.prefillTokensPerSecond, result.tokens.count,
                          result.decodeTokensPerSecond, formatBytes(result.prefillKVCacheBytes),
                          PolicySupport.perLayerSummary(result.prefillKVCacheBytesPerLayer), result.stopReason.description))
    }
}

extension ModelSession {
    /// Renders `messages` with the model's chat template and a generation prompt.
    func renderChat(_ messages: [ChatMessage]) throws -> String {
        guard let source = file.string("tokenizer.chat_template") else {
            throw CommandFailure(message: "\(path) has no tokenizer.chat_template; use --prompt with the formatted text instead")
        }
        let template = try ChatTemplate(source)
        let bos = tokenizer.bosTokenId.map { tokenizer.tokenText($0) } ?? ""
        let eos = tokenizer.eosTokenId.map { tokenizer.tokenText($0) } ?? ""
        return try template.render(messages: messages, addGenerationPrompt: true, bosToken: bos, eosToken: eos)
    }
}
