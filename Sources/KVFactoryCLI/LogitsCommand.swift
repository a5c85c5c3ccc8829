import Foundation
import Modeling

/// `kvfactory logits`: logits at checkpoints and greedy continuations, for numeric comparison with other
/// implementations.
enum LogitsCommand {
    static let specs: [OptionSpec] = [
        CommonOptions.modelPath,
        .value("prompt_file", "FILE", "prompt text; special-token text is recognised"),
        .value("out", "FILE", "output JSON file"),
        .value("greedy_steps", "K", "greedy tokens to generate after the prompt, continuing past EOS (default 32)"),
        .value("every", "N", "record the top 20 logits at positions 0, N, 2N, ... and the last (default 64)"),
        CommonOptions.threads,
    ]
    static let help = helpText(command: "logits", synopsis: "[--model_path FILE] --prompt_file FILE --out FILE [--greedy_steps K] [--every N]",
                               summary: "Write JSON with token_ids, last_logits (the full vector), top20 at checkpoints and greedy_ids. No BOS is added unless the model's metadata asks for it.",
                               specs: specs)

    struct Checkpoint: Encodable {
        let position: Int
        let ids: [Int]
        let logits: [Float]
    }

    struct Output: Encodable {
        let model: String
        let token_ids: [Int]
        let last_logits: [Float]
        let top20: [Checkpoint]
        let greedy_ids: [Int]
    }

    static func run(arguments: [String]) throws {
        let options = try ParsedOptions(command: "logits", arguments: arguments, specs: specs)
        let promptPath = try options.require("prompt_file")
        let outPath = try options.require("out")
        let greedySteps = try options.int("greedy_steps", default: 32, minimum: 0)
        let every = try options.int("every", default: 64, minimum: 1)
        let text = try ModelSession.readPromptFile(promptPath)

        let session = try ModelSession(options: options)
        let tokens = session.tokenizer.encode(text, addSpecialTokens: true, parseSpecial: true)
        guard !tokens.isEmpty else { throw CommandFailure(message: "prompt file \(promptPath) encodes to no tokens") }
        let model = session.model
        guard tokens.count + greedySteps <= model.config.contextLength else {
            throw ModelError.promptTooLong(tokens: tokens.count + greedySteps, context: model.config.contextLength)
        }

        var positions = Array(stride(from: 0, to: tokens.count, by: every))
        if positions.last != tokens.count - 1 { positions.append(tokens.count - 1) }
        let cache = model.makeCache()
        let logits = try model.prefill(tokens: tokens, cache: cache, logitPositions: positions)
        let checkpoints = zip(positions, logits).map { position, row in
            let top = topIndices(row, count: 20)
            return Checkpoint(position: position, ids: top, logits: top.map { row[$0] })
        }
        let last = logits[logits.count - 1]

        var greedy: [Int] = []
        var next = argmax(last)
        for step in 0..<greedySteps {
            greedy.append(next)
            if step + 1 < greedySteps {
                next = argmax(try model.decode(token: next, cache: cache))
            }
        }

        let output = Output(model: session.path, token_ids: tokens, last_logits: last, top20: checkpoints, greedy_ids: greedy)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try writeAtomically(try encoder.encode(output), to: outPath)
        printError("wrote \(outPath): \(tokens.count) prompt tokens, \(checkpoints.count) checkpoints, \(greedy.count) greedy tokens")
    }

    /// Indices of the `count` largest values, largest first; ties go to the lower index.
    static func topIndices<C: RandomAccessCollection>(_ values: C, count: Int) -> [Int] where C.Element == Float, C.Index == Int {
        var best: [(Float, Int)] = []
        for index in values.indices {
            let value = values[index]
            if best.count < count || value > best[best.count - 1].0 {
                let insertAt = best.firstIndex { value > $0.0 } ?? best.count
                best.insert((value, index), at: insertAt)
                if best.count > count { best.removeLast() }
            }
        }
        return best.map(\.1)
    }

    static func argmax<C: RandomAccessCollection>(_ values: C) -> Int where C.Element == Float, C.Index == Int {
        var best = values.startIndex
        for index in values.indices where values[index] > values[best] { best = index }
        return best
    }
}
