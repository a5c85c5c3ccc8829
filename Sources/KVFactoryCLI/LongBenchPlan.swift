import Benchmarks
import Cluster
import Foundation
import KVPolicies
import ModelFormats

/// Model file metadata that a LongBench run needs before the weights are loaded.
struct LongBenchModelInfo {
    let path: String
    /// The file name without `.gguf`, in lower case: the `<model>` of the run folder name.
    let folderName: String
    let contextLength: Int
    /// The file name, `general.name` and `general.basename`, for the family rule of the default length.
    let names: [String]
    let hasChatTemplate: Bool

    init(path: String) throws {
        let file = try GGUFFile(path: path)
        self.path = path
        let fileName = URL(fileURLWithPath: path).lastPathComponent
        var stem = fileName
        if stem.lowercased().hasSuffix(".gguf") { stem = String(stem.dropLast(".gguf".count)) }
        folderName = stem.lowercased()
        guard let architecture = file.architecture, let context = file.int(architecture + ".context_length"), context > 0 else {
            throw CommandFailure(message: "\(path) has no positive <architecture>.context_length; it is not a supported model file")
        }
        contextLength = context
        names = [fileName] + ["general.name", "general.basename"].compactMap { file.string($0) }
        hasChatTemplate = file.string("tokenizer.chat_template") != nil
    }
}

/// Output paths of a LongBench run, in KVCache-Factory's layout `<save_dir>/<model>_<budget>/<dataset>/<Method>.json`.
enum LongBenchLayout {
    static func runDirectory(saveDirectory: String, model: LongBenchModelInfo, budgetLabel: String) -> URL {
        URL(fileURLWithPath: saveDirectory).appendingPathComponent("\(model.folderName)_\(budgetLabel)")
    }

    static func predictionFile(runDirectory: URL, dataset: String, method: String) -> URL {
        runDirectory.appendingPathComponent(dataset).appendingPathComponent("\(method).json")
    }

    /// The journal, run_options.json and run_meta.json of one method, kept apart because several methods
    /// share a run folder.
    static func stateDirectory(runDirectory: URL, method: String) -> URL {
        runDirectory.appendingPathComponent("runs").appendingPathComponent(method)
    }
}

/// The LongBench data and config that the runs of a job read, loaded once and validated before any model
/// is loaded, so that bad data fails fast with its file and line.
final class LongBenchData {
    private var configs: [String: LongBenchConfig] = [:]
    private var records: [String: [LongBenchRecord]] = [:]

    init(settings: [LongBenchSettings]) throws {
        for run in settings {
            let config = try config(dataDirectory: run.dataDirectory)
            for dataset in run.datasets {
                _ = try config.promptTemplate(for: dataset)
                _ = try config.maxNewTokens(for: dataset)
                _ = try records(dataset: dataset, dataDirectory: run.dataDirectory)
            }
        }
    }

    func config(dataDirectory: String) throws -> LongBenchConfig {
        let key = Self.canonical(dataDirectory)
        if let config = configs[key] { return config }
        let config = try LongBenchConfig.load(dataDirectory: dataDirectory)
        configs[key] = config
        return config
    }

    func records(dataset: String, dataDirectory: String) throws -> [LongBenchRecord] {
        let key = Self.canonical(dataDirectory) + "\u{0}" + dataset
        if let cached = records[key] { return cached }
        let loaded = try LongBenchDataset.load(dataset: dataset, dataDirectory: dataDirectory)
        let path = LongBenchDataset.path(dataset: dataset, dataDirectory: dataDirectory)
        guard !loaded.isEmpty else { throw BenchmarkError.emptyFile(path: path) }
        var seen = Set<String>()
        for (index, record) in loaded.enumerated() {
            guard record.dataset == dataset else {
                throw BenchmarkError.invalidField(path: path, line: index + 1, field: "dataset", expected: "\"\(dataset)\", the file's dataset")
            }
            guard seen.insert(record.id).inserted else {
                throw BenchmarkError.invalidField(path: path, line: index + 1, field: "_id", expected: "unique within the file, but \"\(record.id)\" repeats")
            }
        }
        records[key] = loaded
        return loaded
    }

    /// SHA-256 of the config files of a data folder, which fix the prompts and generation lengths.
    func configDigest(dataDirectory: String) throws -> String {
        let config = try config(dataDirectory: dataDirectory)
        var digest = StreamingSHA256()
        for path in [config.promptPath, config.maxLengthPath] {
            digest.update(Array((try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()))
        }
        return digest.finish()
    }

    private static func canonical(_ directory: String) -> String {
        URL(fileURLWithPath: directory).standardizedFileURL.path
    }
}

/// One sample of a run: where it comes from and what the scheduler needs.
struct LongBenchSample {
    /// "<dataset>/<_id>": unique within the run, and the key of resume.
    let id: String
    let dataset: String
    let record: LongBenchRecord
    let maxNewTokens: Int
    /// Scheduling cost: estimated prompt tokens after truncation plus weighted new tokens.
    let cost: Double
}

/// Everything about one LongBench run that can be decided without the model weights: the samples, the
/// prompt length, the chat template choice, the folders and the options recorded for resume.
struct LongBenchRunPlan {
    /// Prompt tokens a new token costs in the scheduling estimate. An estimate from `kvfactory bench` on
    /// SmolLM2-135M with one thread at 3500 prompt tokens, where a decode step took about as long as the
    /// prefill of 6 prompt tokens.
    static let decodeCostPerToken = 6.0
    /// UTF-8 bytes per token in the scheduling estimate; English BPE text averages about 4.
    static let bytesPerToken = 4.0

    let settings: LongBenchSettings
    let model: LongBenchModelInfo
    let directory: URL
    let maxLength: Int
    let maxLengthRule: String
    /// Whether prompts of datasets outside the raw-prompt list get the model's chat template.
    let appliesChatTemplate: Bool
    /// Samples in the order the reference writes them, dataset by dataset.
    let samples: [LongBenchSample]
    let configDigest: String

    var method: String { settings.methodSpelling }
    var name: String { "\(directory.lastPathComponent)/\(method)" }
    var stateDirectory: URL { LongBenchLayout.stateDirectory(runDirectory: directory, method: method) }

    init(settings: LongBenchSettings, data: LongBenchData, model: LongBenchModelInfo, directory: URL) throws {
        self.settings = settings
        self.model = model
        self.directory = directory
        if let given = settings.maxLength {
            guard given < model.contextLength else {
                throw UsageError(message: "--max_length \(given) does not fit the context length of \(model.path), "
                    + "\(model.contextLength) tokens, which must also hold the answer; use at most \(model.contextLength - 1)",
                                 command: "longbench")
            }
            maxLength = given
            maxLengthRule = "--max_length"
        } else {
            (maxLength, maxLengthRule) = LongBenchProtocol.defaultMaxLength(names: model.names, contextLength: model.contextLength)
        }
        appliesChatTemplate = settings.chatTemplate == .auto && model.hasChatTemplate
        configDigest = try data.configDigest(dataDirectory: settings.dataDirectory)

        let config = try data.config(dataDirectory: settings.dataDirectory)
        var generator = PythonRandom(seed: Int(truncatingIfNeeded: settings.policy.seed))
        var samples: [LongBenchSample] = []
        for dataset in settings.datasets {
            let records = try data.records(dataset: dataset, dataDirectory: settings.dataDirectory)
            let maxNewTokens = try config.maxNewTokens(for: dataset)
            let picked = LongBenchProtocol.selectExamples(count: records.count, maxNumExamples: settings.maxNumExamples,
                                                          method: settings.sampleMethod, generator: &generator)
            for index in picked {
                let record = records[index]
                let promptBytes = Double(record.context.utf8.count + record.input.utf8.count)
                let promptTokens = min(Double(maxLength), promptBytes / Self.bytesPerToken)
                samples.append(LongBenchSample(id: "\(dataset)/\(record.id)", dataset: dataset, record: record, maxNewTokens: maxNewTokens,
                                               cost: promptTokens + Self.decodeCostPerToken * Double(maxNewTokens)))
            }
        }
        self.samples = samples
    }

    /// The options that can change a sample's prediction, as canonical strings. The choice of samples
    /// (datasets, count, sampling) is left out: it changes which samples run, not their results.
    var resultOptions: [String: String] {
        var options = settings.policy.resultAffectingDescription
        options["benchmark"] = "longbench"
        options["max_length"] = String(maxLength)
        options["chat_template"] = settings.chatTemplate.rawValue
        options["chat_template_applied"] = String(appliesChatTemplate)
        options["config_sha256"] = configDigest
        options["decoding"] = "greedy; stop tokens suppressed for the first token; samsum also stops at a newline"
        return options
    }

    /// Deliberate differences from the reference runner that apply to this run.
    var deviations: [String] {
        var list: [String] = []
        if settings.maxLength == nil {
            list.append("Default --max_length: \(maxLength) tokens (\(maxLengthRule)). The reference knows only Llama-2 (3950), "
                + "Llama-3 (7500, also for 128K-context Llama-3.1) and Mistral (31500), and fails for other models; "
                + "here other models get their context length minus \(LongBenchProtocol.contextReserve).")
        }
        list += [
            "Stop tokens are the tokenizer's end-of-generation set (EOS, EOT, <|im_end|> and similar), plus the "
                + "newline token for samsum; none of them can be the first generated token.",
            "Each sample also records kv_cache_bytes, prefill_s and decode_s.",
        ]
        if appliesChatTemplate {
            list.append("--chat_template auto: the model's own chat template wraps every prompt except those of "
                + LongBenchProtocol.rawPromptDatasets.sorted().joined(separator: ", ")
                + "; the reference applies a chat template only to Llama-3 models, and wraps Llama-2 prompts in [INST] "
                + "before truncation.")
        } else {
            list.append("Prompts are not wrapped in a chat template (\(settings.chatTemplate == .none ? "--chat_template none" : "the model has none")); "
                + "the reference wraps Llama-3 prompts in its chat template and Llama-2 prompts in [INST].")
        }
        if settings.policy.maxCapacityPromptsRatio != nil {
            list.append("A budget ratio names the run folder <model>_ratio<r>; the reference names it <model>_-1.")
        }
        if settings.datasets.contains(where: { !LongBenchDataset.englishDatasets.contains($0) }) {
            list.append("lsht and passage_retrieval_zh are accepted; the reference runs only the 16 English tasks.")
        }
        return list
    }

    /// Prints the run's configuration once, for rank 0.
    func printSummary(command: String) {
        let budget = settings.policy.method == "fullkv" ? "no budget" : "budget \(settings.budgetLabel)"
        printError("\(command): \(method), \(budget), \(samples.count) samples of \(settings.datasets.count) datasets "
            + "(\(settings.datasets.joined(separator: ", "))); max_length \(maxLength) (\(maxLengthRule)); chat template "
            + (appliesChatTemplate ? "applied" : "not applied") + "; output \(directory.path)")
    }
}
