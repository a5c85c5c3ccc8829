import Foundation
import Tokenization

/// The rule of `--sample_method` for picking `--max_num_examples` examples of a dataset.
public enum LongBenchSampleMethod: String, CaseIterable, Sendable {
    /// The first examples in file order.
    case topk
    /// `random.sample` of CPython's generator, seeded once per run with `--seed`.
    case random
}

/// `--chat_template`: whether prompts are wrapped in the model's own chat template.
public enum LongBenchChatTemplateMode: String, CaseIterable, Sendable {
    /// The model's template for every dataset outside `LongBenchProtocol.rawPromptDatasets`,
    /// when the model file has one.
    case auto
    /// Raw prompts for every dataset.
    case none
}

/// The generation protocol of KVCache-Factory's LongBench runner: dataset selection, example
/// sampling, the default input length per model family, middle truncation, chat wrapping and
/// stop tokens.
public enum LongBenchProtocol {
    /// Datasets that the runner accepts: the 16 English tasks and the two Chinese tasks whose
    /// metrics need no word segmenter, in report order.
    public static let runnableDatasets = ScoreReport.datasetOrder

    /// Few-shot and code tasks, whose prompts already end in the answer format, so the
    /// reference never wraps them in a chat template.
    public static let rawPromptDatasets: Set<String> = ["trec", "triviaqa", "samsum", "lsht", "lcc", "repobench-p"]

    /// Datasets whose generation also stops at a newline, because their answer is one line.
    public static let newlineStopDatasets: Set<String> = ["samsum"]

    /// Tokens kept free below the context length by the default `--max_length` of models
    /// outside the reference's families: 8192 - 692 = 7500, the reference's Llama-3 value.
    public static let contextReserve = 692

    // MARK: Datasets

    /// The datasets a run works on, in the order given (or the default order), and the default
    /// datasets skipped because their file is absent.
    ///
    /// - Parameter names: the `--datasets` value, comma-separated; nil or empty selects the 16
    ///   English tasks and skips those without a `<name>.jsonl` in `dataDirectory`.
    /// - Throws: `BenchmarkError.unknownDataset` for a name outside `runnableDatasets`, and
    ///   `fileNotFound` for a named dataset whose file is absent.
    public static func selectDatasets(_ names: String?, dataDirectory: String) throws -> (datasets: [String], skipped: [String]) {
        let requested = (names ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !requested.isEmpty else {
            let present = LongBenchDataset.englishDatasets.filter { fileExists(dataset: $0, dataDirectory: dataDirectory) }
            let skipped = LongBenchDataset.englishDatasets.filter { !present.contains($0) }
            guard !present.isEmpty else {
                throw BenchmarkError.fileNotFound(
                    path: LongBenchDataset.path(dataset: "<dataset>", dataDirectory: dataDirectory),
                    hint: "no LongBench dataset file found; pass --data_dir with the folder of the official data.zip")
            }
            return (present, skipped)
        }

        var datasets = [String]()
        for name in requested where !datasets.contains(name) {
            guard runnableDatasets.contains(name) else {
                throw BenchmarkError.unknownDataset(name: name, known: runnableDatasets)
            }
            datasets.append(name)
        }
        for dataset in datasets where !fileExists(dataset: dataset, dataDirectory: dataDirectory) {
            throw BenchmarkError.fileNotFound(
                path: LongBenchDataset.path(dataset: dataset, dataDirectory: dataDirectory),
                hint: "download the LongBench data (data.zip of THUDM/LongBench) into --data_dir, or leave \(dataset) out of --datasets")
        }
        return (datasets, [])
    }

    private static func fileExists(dataset: String, dataDirectory: String) -> Bool {
        FileManager.default.fileExists(atPath: LongBenchDataset.path(dataset: dataset, dataDirectory: dataDirectory))
    }

    // MARK: Examples

    /// Indices of the examples to run out of `count`, in the order the reference writes them.
    /// All examples when `maxNumExamples` is nil or not below `count`; `random` draws from
    /// `generator` only in that case, as the reference does.
    public static func selectExamples(count: Int, maxNumExamples: Int?, method: LongBenchSampleMethod,
                                      generator: inout PythonRandom) -> [Int] {
        guard let limit = maxNumExamples, count > limit else {
            return Array(0..<count)
        }
        switch method {
        case .topk:
            return Array(0..<limit)
        case .random:
            return generator.sample(populationSize: count, count: limit)
        }
    }

    // MARK: Model family

    /// The default `--max_length` and the rule that chose it.
    ///
    /// The reference picks the length by substrings of the model path: Llama-2 3950, Llama-3 7500
    /// and Mistral 31500. Here the Llama-3 value applies only to 8K-context models, so Llama-3.1
    /// is not cut to 7500 tokens, and every other model gets its context length minus
    /// `contextReserve` where the reference would stop with an undefined length.
    ///
    /// - Parameter names: strings naming the model, such as the file name and the GGUF
    ///   `general.name` and `general.basename`; matched case-insensitively.
    public static func defaultMaxLength(names: [String], contextLength: Int) -> (length: Int, rule: String) {
        let text = names.joined(separator: " ").lowercased()
        if text.contains("llama-2") || text.contains("llama2") {
            return (3950, "Llama-2 family")
        }
        if (text.contains("llama-3") || text.contains("llama3")) && contextLength == 8192 {
            return (7500, "Llama-3 with an 8K context")
        }
        if text.contains("mistral") {
            return (31500, "Mistral family")
        }
        return (max(1, contextLength - contextReserve), "context length \(contextLength) - \(contextReserve)")
    }

    // MARK: Prompts

    /// Tokens that end generation: the tokenizer's end-of-generation tokens, plus the newline
    /// token (the last id of "\n" encoded without special tokens) for `newlineStopDatasets`.
    public static func stopTokens(dataset: String, tokenizer: Tokenizer) -> Set<Int> {
        var tokens = Set(tokenizer.stopTokenIds)
        if newlineStopDatasets.contains(dataset),
           let newline = tokenizer.encode("\n", addSpecialTokens: false, parseSpecial: false).last {
            tokens.insert(newline)
        }
        return tokens
    }

    /// Whether `mode` wraps prompts of `dataset` in a chat template, for a model that has one.
    public static func usesChatTemplate(dataset: String, mode: LongBenchChatTemplateMode, modelHasTemplate: Bool) -> Bool {
        mode == .auto && modelHasTemplate && !rawPromptDatasets.contains(dataset)
    }

    /// Joins the decoded first and last `maxLength / 2` token ids of `tokens`, as the reference
    /// shortens a prompt longer than `maxLength` tokens. Special tokens are dropped when
    /// decoding, and the two halves are joined without a separator.
    public static func middleTruncate(_ tokens: [Int], maxLength: Int, tokenizer: Tokenizer) -> String {
        let half = maxLength / 2
        let head = tokenizer.decode(Array(tokens.prefix(half)), skipSpecialTokens: true)
        let tail = tokenizer.decode(Array(tokens.suffix(half)), skipSpecialTokens: true)
        return head + tail
    }

    /// Builds the model input of one example: the dataset's template filled with the record,
    /// middle-truncated to `maxLength` tokens and, when `chatTemplate` is given, wrapped by it.
    ///
    /// Tokenizing follows the reference: BOS as the tokenizer adds it, special-token text
    /// recognised; a wrapped prompt is tokenized without added special tokens, because the
    /// template writes its own.
    ///
    /// - Parameter chatTemplate: renders one user message with a generation prompt; nil for
    ///   raw prompts.
    public static func buildPrompt(record: LongBenchRecord, config: LongBenchConfig, tokenizer: Tokenizer, maxLength: Int,
                                   chatTemplate: ((String) throws -> String)?) throws -> LongBenchPrompt {
        let prompt = try config.prompt(for: record)
        let tokens = tokenizer.encode(prompt, addSpecialTokens: true, parseSpecial: true)
        let truncated = tokens.count > maxLength
        let text = truncated ? middleTruncate(tokens, maxLength: maxLength, tokenizer: tokenizer) : prompt

        let modelTokens: [Int]
        if let chatTemplate {
            modelTokens = tokenizer.encode(try chatTemplate(text), addSpecialTokens: false, parseSpecial: true)
        } else if truncated {
            modelTokens = tokenizer.encode(text, addSpecialTokens: true, parseSpecial: true)
        } else {
            modelTokens = tokens
        }
        return LongBenchPrompt(prompt: prompt, tokens: modelTokens, originalTokenCount: tokens.count,
                               truncated: truncated, chatTemplateApplied: chatTemplate != nil)
    }
}

/// The model input of one LongBench example.
public struct LongBenchPrompt: Sendable, Equatable {
    /// The filled template before truncation and chat wrapping, which the reference stores as
    /// the prediction's `prompt` field.
    public var prompt: String
    /// The token ids given to the model.
    public var tokens: [Int]
    /// Tokens of `prompt` with the tokenizer's special tokens, before truncation.
    public var originalTokenCount: Int
    public var truncated: Bool
    public var chatTemplateApplied: Bool
}
