/// The needle fact, the question about it and the answer that scores full recall, with the user message
/// that frames a context for a chat model.
public struct NeedleTask: Equatable, Sendable {
    /// The sentence hidden in the haystack. The leading and trailing newlines keep it a paragraph of its
    /// own, as in the reference runner.
    public var needle: String
    public var question: String
    /// The words that the visualiser's recall looks for in the response. Words are split on whitespace
    /// with punctuation attached, so "7481." matches only "7481." in the response.
    public var expectedAnswer: String

    /// Our own wording. SmolLM2-135M-Instruct retrieves this "special magic number" fact with a full cache
    /// at 50% depth and 4000 tokens, answering with the needle sentence, where a fact about a dessert or a
    /// journey was not retrieved. The expected answer is the number alone: an answer that repeats the
    /// question's words with a wrong number would otherwise score 8 of 9 words.
    public static let defaultTask = NeedleTask(
        needle: "\nThe special magic number for the Lisbon archive is 7481.\n",
        question: "What is the special magic number for the Lisbon archive?",
        expectedAnswer: "7481.")

    public init(needle: String, question: String, expectedAnswer: String) {
        self.needle = needle
        self.question = question
        self.expectedAnswer = expectedAnswer
    }

    /// Returns the user message for a context: the document between tags, then the question.
    public func userMessage(context: String) -> String {
        "Read the document below and answer the question that follows it.\n\n<document>\n\(context)\n</document>\n\n"
            + "Question: \(question)"
    }
}
