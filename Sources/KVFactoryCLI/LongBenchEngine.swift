import Benchmarks
import ChatTemplates
import Dispatch
import Foundation
import KVPolicies
import Modeling
import Pipeline
import Tokenization

/// The output of one LongBench generation.
struct LongBenchGeneration {
    /// Generated tokens without the stop token.
    var tokens: [Int]
    var stopReason: StopReason
    var prefillSeconds: Double
    var decodeSeconds: Double
    var kvCacheBytes: Int
}

/// Per-rank state of LongBench runs: the model, the data and reusable caches. The runs of a
/// job share one engine, so the model is loaded once per rank.
final class LongBenchEngine: PipelineEngine {
    let session: ModelSession
    var pipeline: PipelineRuntime?
    var model: TransformerModel { session.model }
    /// Guards the prompt table, because a pipeline's first stage runs several samples at once.
    private let lock = NSLock()
    let data: LongBenchData
    private var caches: [CacheGranularity: KVCache] = [:]
    private let sampler: TokenSampler
    /// Logits of the first step with the stop tokens masked, reused from sample to sample.
    private var firstLogits: [Float] = []
    /// Built prompts by sample, max length and chat choice, kept only when several runs share the engine.
    private var prompts: [String: LongBenchPrompt] = [:]
    private let cachesPrompts: Bool

    init(modelPath: String, threads: Int, data: LongBenchData, runCount: Int = 1, layers: Range<Int>? = nil) throws {
        let options = try ParsedOptions(command: "longbench", arguments: ["--model_path", modelPath, "--threads", String(threads)],
                                        specs: [CommonOptions.modelPath, CommonOptions.threads])
        session = try ModelSession(options: options, layers: layers)
        self.data = data
        sampler = try TokenSampler(options: .greedy, vocabularySize: session.model.config.vocabularySize)
        cachesPrompts = runCount > 1
    }

    /// Builds the model input of a sample: template, middle truncation and, when the plan applies it, the
    /// model's chat template.
    func prompt(for sample: LongBenchSample, plan: LongBenchRunPlan) throws -> LongBenchPrompt {
        lock.lock()
        defer { lock.unlock() }
        let wraps = LongBenchProtocol.usesChatTemplate(dataset: sample.dataset, mode: plan.settings.chatTemplate,
                                                       modelHasTemplate: plan.model.hasChatTemplate)
        let key = [plan.settings.dataDirectory, sample.id, String(plan.maxLength), String(wraps)].joined(separator: "\u{0}")
        if let cached = prompts[key] { return cached }

        let config = try data.config(dataDirectory: plan.settings.dataDirectory)
        let chat: ((String) throws -> String)? = wraps ? { [session] text in
            try session.renderChat([ChatMessage(role: "user", content: text)])
        } : nil
        let prompt = try LongBenchProtocol.buildPrompt(record: sample.record, config: config, tokenizer: session.tokenizer,
                                                       maxLength: plan.maxLength, chatTemplate: chat)
        if cachesPrompts { prompts[key] = prompt }
        return prompt
    }

    /// Generates greedily as the reference does with `min_length = prompt + 1`: the stop tokens are masked
    /// for the first token, so an answer is never empty because of an immediate end of text.
    ///
    /// NOTE: `Generator.generate` has no minimum length, hence this loop over `prefill` and `decode`; it
    /// stops on the same conditions.
    func generate(prompt: [Int], maxNewTokens: Int, stopTokens: Set<Int>, policy: CachePolicy?,
                  sampleID: UInt64, policyKey: String) throws -> LongBenchGeneration {
        if let pipeline {
            // The last stage masks the stop tokens at the first step; the loop has Generator's semantics,
            // so a stop token that ends the output is the last token and is dropped here.
            let header = SequenceHeader(policyKey: policyKey, sampleID: sampleID, promptLength: prompt.count,
                                        maskedAtFirstStep: stopTokens.sorted())
            let result = try pipeline.generate(prompt: prompt, maxNewTokens: maxNewTokens, stopTokens: stopTokens,
                                               header: header, policy: policy)
            var tokens = result.tokens
            if case .stopToken = result.stopReason { tokens.removeLast() }
            return LongBenchGeneration(tokens: tokens, stopReason: result.stopReason, prefillSeconds: result.prefillSeconds,
                                       decodeSeconds: result.decodeSeconds, kvCacheBytes: result.kvCacheBytes)
        }
        let model = session.model
        let context = model.config.contextLength
        guard !prompt.isEmpty else { throw ModelError.emptyPrompt }
        guard prompt.count <= context else { throw ModelError.promptTooLong(tokens: prompt.count, context: context) }
        let cache = self.cache(for: policy)
        cache.reset()
        cache.reserve(tokens: min(context, prompt.count + maxNewTokens))
        policy?.beginSequence(sampleID: sampleID)

        var result = LongBenchGeneration(tokens: [], stopReason: .maxNewTokens, prefillSeconds: 0, decodeSeconds: 0, kvCacheBytes: 0)
        result.tokens.reserveCapacity(maxNewTokens)
        let start = DispatchTime.now().uptimeNanoseconds
        firstLogits = try model.prefill(tokens: prompt, cache: cache, policy: policy)[0]
        result.prefillSeconds = Self.seconds(since: start)
        for token in stopTokens where token >= 0 && token < firstLogits.count {
            firstLogits[token] = -Float.infinity
        }
        var token = firstLogits.withUnsafeBufferPointer { sampler.sample($0) }

        let decodeStart = DispatchTime.now().uptimeNanoseconds
        while maxNewTokens > 0 {
            if stopTokens.contains(token) {
                result.stopReason = .stopToken(token)
                break
            }
            result.tokens.append(token)
            if result.tokens.count >= maxNewTokens {
                result.stopReason = .maxNewTokens
                break
            }
            if cache.processedTokens >= context {
                result.stopReason = .contextFull
                break
            }
            token = sampler.sample(try model.decode(token: token, cache: cache, policy: policy))
        }
        result.decodeSeconds = Self.seconds(since: decodeStart)
        result.kvCacheBytes = cache.byteCount
        return result
    }

    /// A cache of the granularity the method stores, reused from sample to sample.
    private func cache(for policy: CachePolicy?) -> KVCache {
        let granularity = policy?.granularity ?? .kvHead
        if let cache = caches[granularity] { return cache }
        let cache = session.model.makeCache(granularity: granularity)
        caches[granularity] = cache
        return cache
    }

    private static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
