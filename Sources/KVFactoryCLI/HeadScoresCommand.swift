import Dispatch
import Foundation
import ChatTemplates
import KVPolicies
import Modeling
import Tokenization

/// `kvfactory headscores`: retrieval-head scores for HeadKV, measured by needle copy-paste probing.
///
/// Each probe hides a needle sentence in the essays and asks the model to repeat it, decoding greedily. At each
/// generated token that equals a needle token, every head whose largest attention weight falls on a needle
/// position holding that token gains 1 / (needle length). The output is one JSON object with "layer-head" keys
/// (query heads), each a list of per-probe scores, which HeadKV's `--head_path` reads.
enum HeadScoresCommand {
    static let defaultProbes = 20
    static let defaultLengths = [1000, 2000, 3000, 4000]

    static let specs: [OptionSpec] = [
        CommonOptions.modelPath,
        .value("probes", "P", "number of probes, dealt round-robin to the lengths (default \(defaultProbes))"),
        .value("lengths", "N,N,...", "prompt lengths in tokens, comma-separated (default \(defaultLengths.map(String.init).joined(separator: ",")))"),
        .value("out", "FILE", "output JSON (default heads/<model>_retrieval_heads.json in the working directory)"),
        .value("haystack_dir", "DIR", "directory of .txt essays that fill the context (default: the essays scripts/setup.sh installs)"),
        CommonOptions.threads,
    ]
    static let help = helpText(command: "headscores", synopsis: "[--model_path FILE] [--probes P] [--lengths N,N,...] [--out FILE]",
                               summary: "Compute retrieval-head scores for HeadKV by needle copy-paste probing. The probes at each length place the needle at evenly spread depths. The file written is the default --head_path when it is at heads/<model>_retrieval_heads.json in the repository.",
                               specs: specs)

    // MARK: Default table

    /// Returns the model name a table is filed under: the file name up to its first dot, so that
    /// "SmolLM2-135M-Instruct.Q4_1.gguf" and other quantizations of the same model share one table.
    static func modelStem(_ modelPath: String) -> String {
        let name = URL(fileURLWithPath: modelPath).lastPathComponent
        return String(name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? Substring(name))
    }

    static func tableFileName(modelPath: String) -> String {
        "\(modelStem(modelPath))_retrieval_heads.json"
    }

    /// Returns the committed table for the model at `modelPath`, looked up in `heads/` under the working directory
    /// and then under the repository root. Returns nil when neither exists.
    static func defaultTablePath(modelPath: String) -> String? {
        let relative = "heads/" + tableFileName(modelPath: modelPath)
        let local = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(relative).path
        if FileManager.default.fileExists(atPath: local) { return local }
        let committed = Defaults.repositoryRoot.appendingPathComponent(relative).path
        return FileManager.default.fileExists(atPath: committed) ? committed : nil
    }

    // MARK: Command

    static func run(arguments: [String]) throws {
        let options = try ParsedOptions(command: "headscores", arguments: arguments, specs: specs)
        let probeCount = try options.int("probes", default: defaultProbes, minimum: 1)
        let lengths = try parseLengths(options.string("lengths"))
        let haystackDirectory = options.string("haystack_dir") ?? Defaults.haystackDirectory

        let session = try ModelSession(options: options)
        let config = session.model.config
        let outPath = options.string("out") ?? "heads/" + tableFileName(modelPath: session.path)
        for length in lengths where length > config.contextLength {
            throw UsageError(message: "--lengths value \(length) exceeds the model's context of \(config.contextLength) tokens", command: "headscores")
        }

        let frame = try PromptFrame(session: session)
        let haystack = try loadHaystack(directory: haystackDirectory, tokenizer: session.tokenizer, tokens: lengths.max()!)
        let plan = probePlan(count: probeCount, lengths: lengths)
        printError("headscores: \(session.path), \(config.blockCount) layers x \(config.headCount) query heads, \(probeCount) probes at \(lengths.map(String.init).joined(separator: ", ")) tokens")

        var scores: [[Double]] = []
        var copiedTotal = 0
        for (index, probe) in plan.enumerated() {
            let start = DispatchTime.now().uptimeNanoseconds
            let prompt = try buildPrompt(probe: probe, index: index, frame: frame, haystack: haystack, tokenizer: session.tokenizer)
            let result = try runProbe(prompt, session: session)
            scores.append(result.scores)
            copiedTotal += result.copiedTokens
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            printError(String(format: "probe %d/%d: %d tokens, needle at %.0f%%, %d generated tokens occur in the %d-token needle, %.1f s",
                              index + 1, plan.count, prompt.tokens.count, probe.depth * 100, result.copiedTokens,
                              prompt.needle.count, seconds))
        }
        guard copiedTotal > 0 else {
            throw CommandFailure(message: "the model copied no needle token in \(plan.count) probes, so every head scores 0; HeadKV cannot use such a table. Try longer --lengths or another model")
        }

        let json = tableJSON(scores: scores, layers: config.blockCount, heads: config.headCount)
        try writeAtomically(Data(json.utf8), to: outPath)
        printError("headscores: wrote \(outPath)")
    }

    static func parseLengths(_ raw: String?) throws -> [Int] {
        guard let raw else { return defaultLengths }
        var lengths: [Int] = []
        for part in raw.split(separator: ",", omittingEmptySubsequences: false) {
            let text = part.trimmingCharacters(in: .whitespaces)
            // A prompt needs room for the chat frame, the question and the needle besides the essay text.
            guard let value = Int(text), value >= PromptFrame.minimumLength else {
                throw UsageError(message: "--lengths entry \"\(text)\" is not an integer of at least \(PromptFrame.minimumLength) tokens", command: "headscores")
            }
            lengths.append(value)
        }
        return lengths
    }

    // MARK: Probes

    struct Probe {
        let length: Int
        /// Needle position as a fraction of the essay text.
        let depth: Double
    }

    /// Deals probes round-robin to the lengths; the k probes of one length sit at depths (j + 0.5) / k.
    static func probePlan(count: Int, lengths: [Int]) -> [Probe] {
        var perLength = [Int](repeating: 0, count: lengths.count)
        for index in 0..<count { perLength[index % lengths.count] += 1 }
        return (0..<count).map { index in
            let slot = index % lengths.count
            let rank = index / lengths.count
            return Probe(length: lengths[slot], depth: (Double(rank) + 0.5) / Double(perLength[slot]))
        }
    }

    struct ProbePrompt {
        let tokens: [Int]
        let needle: [Int]
        /// Positions of the needle tokens in `tokens`.
        let needleRange: Range<Int>
    }

    /// Builds the prompt of probe `index`: the chat frame around essay tokens with the needle inserted after the
    /// sentence end nearest before the probe's depth, then the question.
    static func buildPrompt(probe: Probe, index: Int, frame: PromptFrame, haystack: Haystack,
                            tokenizer: Tokenizer) throws -> ProbePrompt {
        let needle = NeedleSentence(index: index)
        let needleTokens = tokenizer.encode(" " + needle.sentence, addSpecialTokens: false, parseSpecial: false)
        let (prefix, suffix) = frame.tokens(question: needle.question, tokenizer: tokenizer)
        let essayTokens = probe.length - prefix.count - suffix.count - needleTokens.count
        guard essayTokens > 0, essayTokens <= haystack.tokens.count else {
            throw CommandFailure(message: "a \(probe.length)-token probe leaves \(essayTokens) tokens for the essays, outside 1...\(haystack.tokens.count); choose --lengths between \(PromptFrame.minimumLength) and \(haystack.tokens.count)")
        }
        var insertion = Int(probe.depth * Double(essayTokens))
        while insertion > 0 && !haystack.endsSentence[insertion - 1] { insertion -= 1 }

        var tokens = prefix
        tokens.reserveCapacity(probe.length)
        tokens += haystack.tokens[0..<insertion]
        let needleStart = tokens.count
        tokens += needleTokens
        tokens += haystack.tokens[insertion..<essayTokens]
        tokens += suffix
        return ProbePrompt(tokens: tokens, needle: needleTokens, needleRange: needleStart..<(needleStart + needleTokens.count))
    }

    struct ProbeResult {
        /// Row-major `[layers, queryHeads]` retrieval scores of this probe.
        let scores: [Double]
        /// Generated tokens that occur in the needle; a repeated word counts each time.
        let copiedTokens: Int
    }

    /// Decodes greedily and scores the heads at each generated token.
    ///
    /// The prompt's last token runs as the first decode step, so the attention that produces the first
    /// generated token is recorded like every later step's.
    static func runProbe(_ prompt: ProbePrompt, session: ModelSession) throws -> ProbeResult {
        let model = session.model
        let config = model.config
        let recorder = AttentionArgmaxRecorder(layers: 0..<config.blockCount, queryHeads: config.headCount)
        // Generation stops at the end of the line or after the needle's length plus some slack.
        let maxNewTokens = prompt.needle.count + 16
        let cache = model.makeCache(granularity: recorder.granularity)
        cache.reserve(tokens: prompt.tokens.count + maxNewTokens)
        recorder.beginSequence(sampleID: 0)
        _ = try model.prefill(tokens: Array(prompt.tokens.dropLast()), cache: cache, policy: recorder)

        let needleTokens = Set(prompt.needle)
        let increment = 1 / Double(prompt.needle.count)
        var scores = [Double](repeating: 0, count: config.blockCount * config.headCount)
        var copied = 0
        var input = prompt.tokens.last!
        let stopTokens = Set(session.tokenizer.stopTokenIds)
        for _ in 0..<maxNewTokens {
            guard cache.processedTokens < config.contextLength else { break }
            let logits = try model.decode(token: input, cache: cache, policy: recorder)
            // max(by:) keeps the first of equal maxima, so ties go to the lower token id.
            let output = logits.indices.max { logits[$0] < logits[$1] }!
            if stopTokens.contains(output) || session.tokenizer.tokenBytes(output).contains(UInt8(ascii: "\n")) { break }
            if needleTokens.contains(output) {
                copied += 1
                for layer in 0..<config.blockCount {
                    for head in 0..<config.headCount {
                        let position = recorder.argmaxPosition(layer: layer, queryHead: head)
                        if prompt.needleRange.contains(position) && prompt.tokens[position] == output {
                            scores[layer * config.headCount + head] += increment
                        }
                    }
                }
            }
            input = output
        }
        return ProbeResult(scores: scores, copiedTokens: copied)
    }

    /// Formats the table as one JSON line with "layer-head" keys in layer-major order, as the reference's tables are.
    static func tableJSON(scores: [[Double]], layers: Int, heads: Int) -> String {
        var entries: [String] = []
        entries.reserveCapacity(layers * heads)
        for layer in 0..<layers {
            for head in 0..<heads {
                let values = scores.map { String($0[layer * heads + head]) }
                entries.append("\"\(layer)-\(head)\": [\(values.joined(separator: ", "))]")
            }
        }
        return "{" + entries.joined(separator: ", ") + "}\n"
    }

    // MARK: Essays

    struct Haystack {
        let tokens: [Int]
        /// Whether token i ends a sentence, so the needle can follow it.
        let endsSentence: [Bool]
    }

    /// Tokenizes the essays in file-name order, repeated if needed, until `tokens` tokens are available.
    static func loadHaystack(directory: String, tokenizer: Tokenizer, tokens needed: Int) throws -> Haystack {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".txt") }.sorted()
        } catch {
            throw CommandFailure(message: "cannot list the essays in \(directory): \(error.localizedDescription); pass --haystack_dir or run scripts/setup.sh")
        }
        guard !names.isEmpty else {
            throw CommandFailure(message: "\(directory) contains no .txt files; pass --haystack_dir with the essays")
        }
        var tokens: [Int] = []
        var round = 0
        while tokens.count < needed {
            for name in names where tokens.count < needed {
                let text = try ModelSession.readPromptFile(directory + "/" + name)
                tokens += tokenizer.encode(text, addSpecialTokens: false, parseSpecial: false)
            }
            round += 1
            guard round < 1000, !tokens.isEmpty else {
                throw CommandFailure(message: "the essays in \(directory) give no tokens; pass --haystack_dir with non-empty essays")
            }
        }
        let endsSentence = tokens.map { token -> Bool in
            let text = tokenizer.tokenBytes(token)
            guard let last = text.last(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") }) else { return false }
            return last == UInt8(ascii: ".") || last == UInt8(ascii: "?") || last == UInt8(ascii: "!")
        }
        return Haystack(tokens: tokens, endsSentence: endsSentence)
    }
}

/// The text around the essays: the model's chat template with a user turn holding the essays and the question,
/// or a plain "Question:/Answer:" frame for models without a template.
struct PromptFrame {
    /// Shortest prompt accepted, in tokens: the frame, question and needle take up to about 120.
    static let minimumLength = 200
    private static let marker = "\u{1F}ESSAYS\u{1F}"

    let prefixText: String
    let suffixTemplate: String

    init(session: ModelSession) throws {
        if session.file.string("tokenizer.chat_template") != nil {
            let rendered = try session.renderChat([ChatMessage(role: "user", content: Self.marker + "\n\n{question}")])
            guard let range = rendered.range(of: Self.marker) else {
                throw CommandFailure(message: "the chat template of \(session.path) dropped the user message; headscores needs a template that renders it")
            }
            prefixText = String(rendered[..<range.lowerBound])
            suffixTemplate = String(rendered[range.upperBound...])
        } else {
            prefixText = ""
            suffixTemplate = "\n\nQuestion: {question}\nAnswer:"
        }
    }

    /// Token ids before and after the essays for `question`.
    func tokens(question: String, tokenizer: Tokenizer) -> (prefix: [Int], suffix: [Int]) {
        let suffix = suffixTemplate.replacingOccurrences(of: "{question}", with: question)
        return (tokenizer.encode(prefixText, addSpecialTokens: true, parseSpecial: true),
                tokenizer.encode(suffix, addSpecialTokens: false, parseSpecial: true))
    }
}

/// A made-up fact that the model cannot know, so that answering requires copying it from the context.
struct NeedleSentence {
    let sentence: String
    let question: String

    private static let subjects = ["secret password", "hidden code word", "favourite dish", "lucky charm", "night signal"]
    private static let places = ["the old lighthouse in Valparaiso", "the blue museum in Tallinn", "the night market in Taipei",
                                 "the mountain hut above Zermatt", "the river ferry in Manaus", "the library tower in Coimbra",
                                 "the salt mine near Krakow"]
    private static let adjectives = ["purple", "silent", "golden", "crooked", "frozen", "velvet", "rusty"]
    private static let nouns = ["giraffe", "teapot", "harbour", "violin", "comet", "lantern", "walrus", "cactus"]
    private static let numbers = ["seventeen", "forty-two", "ninety-one", "twelve", "sixty-three", "eighty-eight"]

    /// Creates the needle of probe `index`. The word lists have different lengths, so consecutive probes differ.
    init(index: Int) {
        let subject = Self.subjects[index % Self.subjects.count]
        let place = Self.places[index % Self.places.count]
        let value = [Self.adjectives[index % Self.adjectives.count], Self.nouns[index % Self.nouns.count],
                     Self.numbers[(index / 2) % Self.numbers.count]].joined(separator: " ")
        sentence = "The \(subject) of \(place) is \(value)."
        question = "What is the \(subject) of \(place)? Repeat the sentence from the text that answers it."
    }
}
