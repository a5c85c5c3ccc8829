import Dispatch
import KVPolicies

/// The reason a generation ended.
public enum StopReason: Equatable, Sendable, CustomStringConvertible {
    /// The model produced this stop token; it is the last entry of `GenerationResult.tokens`.
    case stopToken(Int)
    /// `maxNewTokens` tokens were generated.
    case maxNewTokens
    /// The sequence reached the model's context length.
    case contextFull
    /// The `onToken` callback returned false.
    case cancelled

    public var description: String {
        switch self {
        case .stopToken(let token): return "stop token \(token)"
        case .maxNewTokens: return "max_new_tokens"
        case .contextFull: return "context full"
        case .cancelled: return "cancelled"
        }
    }
}

/// The tokens and timings of one generation.
public struct GenerationResult: Sendable {
    /// Generated token ids, including the stop token when one ended the run.
    public var tokens: [Int]
    public var stopReason: StopReason
    public var promptTokens: Int
    /// Wall time of the prompt's forward pass, in seconds.
    public var prefillSeconds: Double
    /// Wall time of the decode steps after the first token, in seconds.
    public var decodeSeconds: Double
    /// Wall time from the start of the prefill to the first generated token, in seconds.
    public var timeToFirstToken: Double
    /// KV-cache bytes (float32 keys and values) held at the end of the run.
    public var kvCacheBytes: Int
    /// KV-cache bytes right after the prefill, when a policy has compressed the prompt and before any decode step.
    public var prefillKVCacheBytes = 0
    /// `prefillKVCacheBytes` per layer of this instance.
    public var prefillKVCacheBytesPerLayer: [Int] = []

    public init(tokens: [Int] = [], stopReason: StopReason = .maxNewTokens, promptTokens: Int, prefillSeconds: Double = 0,
                decodeSeconds: Double = 0, timeToFirstToken: Double = 0, kvCacheBytes: Int = 0) {
        self.tokens = tokens
        self.stopReason = stopReason
        self.promptTokens = promptTokens
        self.prefillSeconds = prefillSeconds
        self.decodeSeconds = decodeSeconds
        self.timeToFirstToken = timeToFirstToken
        self.kvCacheBytes = kvCacheBytes
    }

    /// Decode steps per second; the first token comes from the prefill and is not counted.
    public var decodeTokensPerSecond: Double {
        tokens.count > 1 && decodeSeconds > 0 ? Double(tokens.count - 1) / decodeSeconds : 0
    }

    /// Prompt tokens per second of the prefill.
    public var prefillTokensPerSecond: Double {
        prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0
    }
}

/// Autoregressive generation with a full-layer `TransformerModel`: prefill, then one decode step per token.
public final class Generator {
    public let model: TransformerModel

    public init(model: TransformerModel) {
        self.model = model
    }

    /// Generates up to `maxNewTokens` tokens after `prompt`.
    ///
    /// - Parameters:
    ///   - stopTokens: generation ends after producing any of these (the tokenizer's `stopTokenIds`).
    ///   - cache: storage to reuse; it is reset first. A new cache with the policy's granularity when nil.
    ///   - policy: KV-cache compression policy; nil keeps the full cache.
    ///   - sampleID: passed to `policy.beginSequence` to seed stochastic policies.
    ///   - onToken: called with each new token other than a stop token; return false to stop.
    public func generate(prompt: [Int], maxNewTokens: Int, stopTokens: Set<Int> = [],
                         sampling: SamplingOptions = .greedy, cache: KVCache? = nil, policy: CachePolicy? = nil,
                         sampleID: UInt64 = 0, onToken: (Int) -> Bool = { _ in true }) throws -> GenerationResult {
        guard maxNewTokens >= 0 else {
            throw ModelError.invalidSampling("max_new_tokens \(maxNewTokens) must be >= 0")
        }
        let context = model.config.contextLength
        guard !prompt.isEmpty else { throw ModelError.emptyPrompt }
        guard prompt.count <= context else { throw ModelError.promptTooLong(tokens: prompt.count, context: context) }
        let sampler = try TokenSampler(options: sampling, vocabularySize: model.config.vocabularySize)
        let cache = cache ?? model.makeCache(granularity: policy?.granularity ?? .kvHead)
        cache.reset()
        // Reserve for a typical answer, not for maxNewTokens, which may be far larger than the run needs;
        // the cache grows geometrically beyond that.
        cache.reserve(tokens: min(context, prompt.count + min(maxNewTokens, 512)))
        policy?.beginSequence(sampleID: sampleID)

        var result = GenerationResult(tokens: [], stopReason: .maxNewTokens, promptTokens: prompt.count,
                                      prefillSeconds: 0, decodeSeconds: 0, timeToFirstToken: 0, kvCacheBytes: 0)
        guard maxNewTokens > 0 else {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try model.prefill(tokens: prompt, cache: cache, policy: policy)
            result.prefillSeconds = Self.seconds(since: start)
            result.kvCacheBytes = cache.byteCount
            result.prefillKVCacheBytes = cache.byteCount
            result.prefillKVCacheBytesPerLayer = cache.bytesPerLayer
            return result
        }
        result.tokens.reserveCapacity(maxNewTokens)

        let start = DispatchTime.now().uptimeNanoseconds
        let promptLogits = try model.prefill(tokens: prompt, cache: cache, policy: policy)
        result.prefillSeconds = Self.seconds(since: start)
        var token = promptLogits[0].withUnsafeBufferPointer { sampler.sample($0) }
        result.timeToFirstToken = Self.seconds(since: start)
        result.prefillKVCacheBytes = cache.byteCount
        result.prefillKVCacheBytesPerLayer = cache.bytesPerLayer

        let decodeStart = DispatchTime.now().uptimeNanoseconds
        while true {
            result.tokens.append(token)
            if stopTokens.contains(token) {
                result.stopReason = .stopToken(token)
                break
            }
            if !onToken(token) {
                result.stopReason = .cancelled
                break
            }
            if result.tokens.count >= maxNewTokens {
                result.stopReason = .maxNewTokens
                break
            }
            if cache.processedTokens >= context {
                result.stopReason = .contextFull
                break
            }
            let logits = try model.decode(token: token, cache: cache, policy: policy)
            token = sampler.sample(logits)
        }
        result.decodeSeconds = Self.seconds(since: decodeStart)
        result.kvCacheBytes = cache.byteCount
        return result
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}
