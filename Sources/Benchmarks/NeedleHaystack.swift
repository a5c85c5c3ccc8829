import Foundation
import Tokenization

/// Errors of the needle-in-a-haystack setup, raised before any generation starts.
public enum NeedleError: Error, CustomStringConvertible, Equatable {
    case haystackNotFound(path: String)
    case haystackEmpty(path: String)
    case haystackUnreadable(path: String, reason: String)
    case invalidLengths(start: Int, end: Int, step: Int, reason: String)
    case invalidDepthIntervals(Int)
    case lengthTooShort(length: Int, minimum: Int)
    case emptyNeedle

    public var description: String {
        switch self {
        case .haystackNotFound(let path):
            return "haystack directory not found: \(path); run scripts/setup.sh to install the essays or pass --haystack_dir"
        case .haystackEmpty(let path):
            return "haystack directory \(path) contains no non-empty .txt files; add essays or pass another --haystack_dir"
        case .haystackUnreadable(let path, let reason):
            return "cannot read haystack file \(path): \(reason); fix or remove the file"
        case .invalidLengths(let start, let end, let step, let reason):
            return "invalid context lengths --s_len \(start) --e_len \(end) --step \(step): \(reason)"
        case .invalidDepthIntervals(let intervals):
            return "--depth_intervals \(intervals) is invalid; give at least 1 (5 gives depths 0, 25, 50, 75 and 100)"
        case .lengthTooShort(let length, let minimum):
            return "context length \(length) is too short: the question buffer and the needle need \(minimum) tokens; "
                + "use --s_len of at least \(minimum + 1)"
        case .emptyNeedle:
            return "the needle is empty; pass a sentence with --needle"
        }
    }
}

/// The grid of a needle sweep: context lengths and needle depths.
public enum NeedleGrid {
    /// Lengths s, s + step, … up to e inclusive, as `numpy.arange(s, e + 1, step)`.
    public static func lengths(start: Int, end: Int, step: Int) throws -> [Int] {
        guard start >= 1 else { throw NeedleError.invalidLengths(start: start, end: end, step: step, reason: "--s_len must be positive") }
        guard step >= 1 else { throw NeedleError.invalidLengths(start: start, end: end, step: step, reason: "--step must be positive") }
        guard start <= end else {
            throw NeedleError.invalidLengths(start: start, end: end, step: step, reason: "--s_len is above --e_len; swap them")
        }
        return Array(stride(from: start, through: end, by: step))
    }

    /// Depth percents `round(linspace(0, 100, intervals))`, rounding half to even as NumPy does.
    public static func depths(intervals: Int) throws -> [Int] {
        guard intervals >= 1 else { throw NeedleError.invalidDepthIntervals(intervals) }
        guard intervals > 1 else { return [0] }
        let step = 100.0 / Double(intervals - 1)
        return (0..<intervals).map { index in
            index == intervals - 1 ? 100 : Int((Double(index) * step).rounded(.toNearestOrEven))
        }
    }
}

/// The essays of a haystack directory, concatenated and tokenized.
public struct NeedleHaystack {
    public let directory: String
    /// The files in the order they were appended; the list repeats when the essays are shorter than needed.
    public let fileNames: [String]
    /// Tokens of the concatenated text, without special tokens; at least the requested minimum.
    public let tokens: [Int]

    /// Reads the `.txt` files of `directory` in sorted file-name order and appends whole files, starting
    /// over at the first file when needed, until the text has at least `minimumTokens` tokens.
    public init(directory: String, tokenizer: Tokenizer, minimumTokens: Int) throws {
        let files = try Self.essayFiles(directory: directory)
        var texts: [String] = []
        for file in files {
            let text = try Self.read(file)
            if !text.isEmpty { texts.append(text) }
        }
        guard !texts.isEmpty else { throw NeedleError.haystackEmpty(path: directory) }

        var text = ""
        var names: [String] = []
        var estimatedTokens = 0
        var tokens: [Int] = []
        var index = 0
        // Each file's own token count estimates the total, and the whole text is tokenized only once the
        // estimate is reached, because a file boundary can merge or split tokens.
        while tokens.count < minimumTokens {
            let position = index % texts.count
            let essay = texts[position]
            text += essay
            names.append(files[position].lastPathComponent)
            estimatedTokens += tokenizer.encode(essay, addSpecialTokens: false, parseSpecial: false).count
            index += 1
            if estimatedTokens >= minimumTokens {
                tokens = tokenizer.encode(text, addSpecialTokens: false, parseSpecial: false)
            }
        }
        self.directory = directory
        self.fileNames = names
        self.tokens = tokens
    }

    /// Returns the `.txt` files of a directory, sorted by file name as Python's `sorted` orders strings.
    public static func essayFiles(directory: String) throws -> [URL] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw NeedleError.haystackNotFound(path: directory)
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw NeedleError.haystackUnreadable(path: directory, reason: error.localizedDescription)
        }
        let files = names.filter { $0.hasSuffix(".txt") }
            .sorted { $0.unicodeScalars.map(\.value).lexicographicallyPrecedes($1.unicodeScalars.map(\.value)) }
            .map { URL(fileURLWithPath: directory).appendingPathComponent($0) }
        guard !files.isEmpty else { throw NeedleError.haystackEmpty(path: directory) }
        return files
    }

    private static func read(_ file: URL) throws -> String {
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw NeedleError.haystackUnreadable(path: file.path, reason: error.localizedDescription)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw NeedleError.haystackUnreadable(path: file.path, reason: "not valid UTF-8")
        }
        return text
    }
}

/// One needle context: haystack text with the needle inserted at a sentence boundary.
public struct NeedleContext: Equatable {
    /// The context text, decoded from `tokens` with special tokens skipped.
    public let text: String
    public let tokens: [Int]
    /// Index in `tokens` of the needle's first token.
    public let insertionIndex: Int
}

/// Builds needle contexts the way KVCache-Factory's needle runner does.
///
/// For a context length L and depth d percent:
/// 1. the haystack's first L tokens are decoded and encoded again;
/// 2. a buffer of `bufferTokens` is reserved for the question and the answer, so when the context and the
///    needle exceed L - buffer, the context is cut to L - buffer - needle tokens;
/// 3. at d = 100 the needle goes at the end; otherwise the insertion point starts at
///    `int(count * (d / 100))` and moves back until the token before it ends a sentence (its text ends in
///    ".", "!" or "?"), or to the start;
/// 4. the tokens are decoded with special tokens skipped.
public struct NeedleContextBuilder {
    public let tokenizer: Tokenizer
    public let haystackTokens: [Int]
    public let needle: String
    public let needleTokens: [Int]
    /// Tokens reserved for the question and the answer (200 in the reference runner).
    public let bufferTokens: Int

    public init(haystackTokens: [Int], tokenizer: Tokenizer, needle: String, bufferTokens: Int = 200) throws {
        let needleTokens = tokenizer.encode(needle, addSpecialTokens: false, parseSpecial: false)
        guard !needleTokens.isEmpty else { throw NeedleError.emptyNeedle }
        self.tokenizer = tokenizer
        self.haystackTokens = haystackTokens
        self.needle = needle
        self.needleTokens = needleTokens
        self.bufferTokens = bufferTokens
    }

    /// Shortest context length that leaves room for at least one haystack token.
    public var minimumLength: Int { bufferTokens + needleTokens.count + 1 }

    public func context(length: Int, depthPercent: Int) throws -> NeedleContext {
        guard length >= minimumLength else { throw NeedleError.lengthTooShort(length: length, minimum: minimumLength - 1) }
        let cut = Array(haystackTokens.prefix(length))
        var contextTokens = tokenizer.encode(tokenizer.decode(cut), addSpecialTokens: false, parseSpecial: false)
        let available = length - bufferTokens
        if contextTokens.count + needleTokens.count > available {
            contextTokens = Array(contextTokens.prefix(available - needleTokens.count))
        }

        var insertion = contextTokens.count
        if depthPercent < 100 {
            // The same operation order as the reference, int(len * (depth / 100)), so rounding matches.
            insertion = Int(Double(contextTokens.count) * (Double(depthPercent) / 100))
            while insertion > 0 && !endsSentence(contextTokens[insertion - 1]) {
                insertion -= 1
            }
        }
        let tokens = Array(contextTokens[..<insertion]) + needleTokens + Array(contextTokens[insertion...])
        return NeedleContext(text: tokenizer.decode(tokens, skipSpecialTokens: true), tokens: tokens, insertionIndex: insertion)
    }

    /// Whether a token's text ends in ".", "!" or "?".
    public func endsSentence(_ token: Int) -> Bool {
        guard let last = tokenizer.tokenBytes(token).last else { return false }
        return last == UInt8(ascii: ".") || last == UInt8(ascii: "!") || last == UInt8(ascii: "?")
    }
}
