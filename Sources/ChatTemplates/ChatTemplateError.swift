/// An error from parsing or rendering a chat template. Lines are 1-based lines of the template
/// source.
public enum ChatTemplateError: Error, CustomStringConvertible, Equatable {
    /// The template is not valid Jinja.
    case syntax(String, line: Int)
    /// The template uses a valid Jinja construct that this engine does not implement.
    case unsupported(construct: String, line: Int)
    /// The template called `raise_exception(message)`, usually because the conversation does not
    /// fit the template (for example roles that do not alternate).
    case raised(String)
    /// An operation needed a value that is undefined, such as a missing variable or key.
    case undefinedValue(String, line: Int)
    /// An operation got a value of the wrong type, such as `"a" + 1`.
    case typeMismatch(String, line: Int)
    /// The template asked for more work or memory than the engine allows.
    case limitExceeded(String, line: Int)

    public var description: String {
        switch self {
        case .syntax(let message, let line):
            return "chat template syntax error at line \(line): \(message)"
        case .unsupported(let construct, let line):
            return "chat template line \(line) uses \(construct), which this Jinja engine does not support;"
                + " pass a template without it"
        case .raised(let message):
            return "chat template raised an exception: \(message)"
        case .undefinedValue(let message, let line):
            return "chat template line \(line): \(message); pass the missing variable or check the message fields"
        case .typeMismatch(let message, let line):
            return "chat template line \(line): \(message)"
        case .limitExceeded(let message, let line):
            return "chat template line \(line): \(message)"
        }
    }
}
