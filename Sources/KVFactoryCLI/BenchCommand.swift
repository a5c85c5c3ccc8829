import Foundation
import KVPolicies
import Modeling

/// `kvfactory bench`: prefill and decode latency, KV-cache bytes and peak memory on a prompt.
enum BenchCommand {
    static let ownSpecs: [OptionSpec] = [
        CommonOptions.modelPath,
        .value("prompt_file", "FILE", "text whose first --prompt_tokens tokens form the prompt"),
        .value("prompt_tokens", "N", "prompt length in tokens"),
        .value("max_new_tokens", "K", "decode steps per run; stop tokens do not end a run (default 32)"),
        .value("repeat", "R", "measured runs (default 3)"),
        .value("warmup", "W", "unmeasured runs before them (default 1)"),
        CommonOptions.threads,
        .flag("json", "print one JSON object instead of a table"),
    ]
    static let specs = ownSpecs + PipelineSupport.specs + PolicySupport.helpSpecs
    static let help = helpText(command: "bench", synopsis: "[--model_path FILE] --prompt_file FILE --prompt_tokens N --max_new_tokens K --repeat R [--warmup W] [--threads T] [--json]",
                               summary: "Measure prefill and decode speed. Figures are medians over the repeats; runs holds every repeat.",
                               specs: specs)

    struct Run: Encodable {
        let prefill_s: Double
        /// CPU seconds of this process during the prefill and the decode; on a shared machine they vary less
        /// than wall time. With T threads, CPU / T estimates the wall time on an idle machine.
        let prefill_cpu_s: Double
        let decode_cpu_s: Double
        let prefill_tok_s: Double
        let decode_tok_s: Double
        let ttft_s: Double
        let kv_cache_bytes: Int
        let kv_cache_bytes_per_layer: [Int]
        let peak_rss_bytes: Int
        let generated_tokens: Int
    }

    struct Summary: Encodable {
        let model: String
        let method: String
        let max_capacity_prompt: Int?
        let threads: Int
        let prompt_tokens: Int
        let max_new_tokens: Int
        let prefill_s: Double
        let prefill_cpu_s: Double
        let prefill_tok_s: Double
        let decode_tok_s: Double
        let decode_cpu_s: Double
        let ttft_s: Double
        /// KV-cache bytes after prefill, in total and per layer; the same in every run.
        let kv_cache_bytes: Int
        let kv_cache_bytes_per_layer: [Int]
        let peak_rss_bytes: Int
        let runs: [Run]
    }

    static func run(arguments: [String]) throws {
        var remaining = arguments
        let policyOptions = try PolicySupport.parse(&remaining, command: "bench")
        let options = try ParsedOptions(command: "bench", arguments: remaining, specs: ownSpecs + PipelineSupport.specs)
        let promptPath = try options.require("prompt_file")
        guard let promptTokens = try options.int("prompt_tokens"), promptTokens > 0 else {
            throw UsageError(message: "--prompt_tokens N is required and must be positive", command: "bench")
        }
        let maxNewTokens = try options.int("max_new_tokens", default: 32, minimum: 1)
        let repeats = try options.int("repeat", default: 3, minimum: 1)
        let warmup = try options.int("warmup", default: 1, minimum: 0)
        let text = try ModelSession.readPromptFile(promptPath)
        let pipeline = try PipelineSupport.parse(options)
        if pipeline.stages > 1 {
            return try runPipelined(options: options, policyOptions: policyOptions, settings: pipeline, text: text,
                                    promptTokens: promptTokens, maxNewTokens: maxNewTokens, repeats: repeats, warmup: warmup)
        }

        let session = try ModelSession(options: options)
        let allTokens = session.tokenizer.encode(text, addSpecialTokens: true, parseSpecial: false)
        guard allTokens.count >= promptTokens else {
            throw CommandFailure(message: "\(promptPath) has only \(allTokens.count) tokens; --prompt_tokens asks for \(promptTokens)")
        }
        let prompt = Array(allTokens.prefix(promptTokens))
        let config = session.model.config
        guard promptTokens + maxNewTokens <= config.contextLength else {
            throw ModelError.promptTooLong(tokens: promptTokens + maxNewTokens, context: config.contextLength)
        }

        let generator = Generator(model: session.model)
        // FullKV has no policy and stores one entry per KV head, like Hugging Face's own cache.
        let firstPolicy = try PolicySupport.makePolicy(policyOptions, config: config, promptLength: prompt.count, sampleID: 0)
        let cache = session.model.makeCache(granularity: firstPolicy?.granularity ?? .kvHead)
        var runs: [Run] = []
        for index in 0..<(warmup + repeats) {
            let policy = index == 0 ? firstPolicy
                : try PolicySupport.makePolicy(policyOptions, config: config, promptLength: prompt.count, sampleID: 0)
            let cpuStart = processCPUSeconds()
            var prefillCPU: Double?
            // The first call comes right after the prefill, before any decode step.
            let result = try generator.generate(prompt: prompt, maxNewTokens: maxNewTokens, cache: cache, policy: policy) { _ in
                if prefillCPU == nil { prefillCPU = processCPUSeconds() - cpuStart }
                return true
            }
            let totalCPU = processCPUSeconds() - cpuStart
            guard index >= warmup else { continue }
            runs.append(Run(prefill_s: result.prefillSeconds, prefill_cpu_s: prefillCPU ?? totalCPU,
                            decode_cpu_s: totalCPU - (prefillCPU ?? totalCPU), prefill_tok_s: result.prefillTokensPerSecond,
                            decode_tok_s: result.decodeTokensPerSecond, ttft_s: result.timeToFirstToken,
                            kv_cache_bytes: result.prefillKVCacheBytes, kv_cache_bytes_per_layer: result.prefillKVCacheBytesPerLayer,
                            peak_rss_bytes: peakResidentBytes(), generated_tokens: result.tokens.count))
            if !options.has("json") {
                printError(String(format: "run %d: prefill %.3f s (%.1f tokens/s, CPU %.2f s), decode %.2f tokens/s (CPU %.2f s), KV cache %@",
                                  index - warmup + 1, result.prefillSeconds, result.prefillTokensPerSecond, runs.last!.prefill_cpu_s,
                                  result.decodeTokensPerSecond, runs.last!.decode_cpu_s, formatBytes(result.prefillKVCacheBytes)))
            }
        }

        let summary = Summary(model: session.path, method: policyOptions.method, max_capacity_prompt: policyOptions.method == "fullkv" ? nil : policyOptions.budget(forPromptLength: prompt.count),
                              threads: session.model.threads, prompt_tokens: prompt.count, max_new_tokens: maxNewTokens,
                              prefill_s: median(runs.map(\.prefill_s)), prefill_cpu_s: median(runs.map(\.prefill_cpu_s)),
                              prefill_tok_s: median(runs.map(\.prefill_tok_s)), decode_tok_s: median(runs.map(\.decode_tok_s)),
                              decode_cpu_s: median(runs.map(\.decode_cpu_s)), ttft_s: median(runs.map(\.ttft_s)),
                              kv_cache_bytes: Int(median(runs.map { Double($0.kv_cache_bytes) })),
                              kv_cache_bytes_per_layer: runs.last?.kv_cache_bytes_per_layer ?? [],
                              peak_rss_bytes: Int(median(runs.map { Double($0.peak_rss_bytes) })), runs: runs)
        if options.has("json") {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(summary), as: UTF8.self))
        } else {
            print(String(format: "method %@, prompt %d tokens, %d new tokens, %d threads", policyOptions.method, prompt.count, maxNewTokens, session.model.threads))
            print(String(format: "prefill %.3f s (%.1f tokens/s, CPU %.2f s), TTFT %.3f s, decode %.2f tokens/s (CPU %.2f s)",
                         summary.prefill_s, summary.prefill_tok_s, summary.prefill_cpu_s, summary.ttft_s, summary.decode_tok_s,
                         summary.decode_cpu_s))
            print("KV cache after prefill \(formatBytes(summary.kv_cache_bytes)) (\(PolicySupport.perLayerSummary(summary.kv_cache_bytes_per_layer))), peak RSS \(formatBytes(summary.peak_rss_bytes))")
        }
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

/// CPU seconds used by all threads of this process so far.
func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}

/// Peak resident set size of this process in bytes, from /proc/self/status (VmHWM).
func peakResidentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let digits = line.split(separator: " ").compactMap { Int($0) }
        if let kilobytes = digits.first { return kilobytes * 1024 }
    }
    return 0
}
