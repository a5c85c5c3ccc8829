import Foundation

/// One message of a conversation.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// A model's chat template (`tokenizer.chat_template`, written in Jinja), parsed once and rendered
/// per conversation. Rendering follows Hugging Face transformers' `apply_chat_template`, which uses
/// jinja2 with `trim_blocks=True`, `lstrip_blocks=True`, the loop controls extension, and its own
/// `tojson`, `raise_exception` and `strftime_now`.
///
/// Unsupported Jinja features (`include`, `extends`, `call` blocks, some filters) raise
/// `ChatTemplateError.unsupported` naming the construct: statements when the template is parsed,
/// filters, tests and methods when rendering reaches them.
public final class ChatTemplate {
    public let source: String
    private let program: [Statement]
    /// When set, `strftime_now` formats this date instead of the current time, so renderings of
    /// templates that print today's date (Llama 3.2 and later) are reproducible.
    public var fixedDate: Date?

    /// Parses `source`; throws `ChatTemplateError.syntax` or `.unsupported` with the line.
    public init(_ source: String) throws {
        self.source = source
        program = try Parser.parse(try Lexer.tokenize(source))
    }

    /// Renders a conversation with the variables transformers passes: `messages` (dicts with
    /// `role` and `content`), `add_generation_prompt`, `bos_token`, `eos_token`, and `tools` and
    /// `documents` set to none. `extraVariables` adds or replaces variables, for example
    /// `date_string` for Llama 3.1 or `tools` for a tool-calling prompt.
    public func render(
        messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String, eosToken: String,
        extraVariables: [String: JinjaValue] = [:]
    ) throws -> String {
        var variables: [String: JinjaValue] = [
            "messages": .array(messages.map { .dictionary(["role": .string($0.role), "content": .string($0.content)]) }),
            "add_generation_prompt": .boolean(addGenerationPrompt),
            "bos_token": .string(bosToken),
            "eos_token": .string(eosToken),
            "tools": .none,
            "documents": .none,
        ]
        variables.merge(extraVariables) { _, extra in extra }
        return try render(variables: variables)
    }

    /// Renders with exactly the given variables, for messages that carry more than role and
    /// content (tool calls, structured content).
    public func render(variables: [String: JinjaValue]) throws -> String {
        try Interpreter(fixedDate: fixedDate).render(program, variables: variables)
    }
}
