import Cluster
import Foundation
import KVPolicies
import Modeling
import Pipeline

extension BenchCommand {
    /// Measures one replica of `--pipeline_stages` ranks under mpirun: rank 0 runs the generation loop and
    /// reports, the other ranks serve their stages. The figures are wall times seen by rank 0.
    static func runPipelined(options: ParsedOptions, policyOptions: PolicyOptions, settings: PipelineSettings, text: String,
                             promptTokens: Int, maxNewTokens: Int, repeats: Int, warmup: Int) throws {
        try ClusterCommand.run { context in
            let topology = try PipelineSupport.topology(context: context, settings: settings, command: "bench")
            guard topology.replicas == 1 else {
                throw UsageError(message: "bench measures one replica; start exactly --pipeline_stages \(settings.stages) ranks "
                    + "(mpirun -np \(settings.stages)), not \(context.size)", command: "bench")
            }
            let modelPath = options.string("model_path") ?? Defaults.modelPath
            let partition = try PipelineSupport.partition(modelPath: modelPath, settings: settings, command: "bench")
            let session = try ModelSession(options: options, layers: partition.ranges[topology.stage])
            let config = session.model.config
            let allTokens = session.tokenizer.encode(text, addSpecialTokens: true, parseSpecial: false)
            guard allTokens.count >= promptTokens else {
                throw CommandFailure(message: "the prompt file has only \(allTokens.count) tokens; --prompt_tokens asks for \(promptTokens)")
            }
            let prompt = Array(allTokens.prefix(promptTokens))
            guard promptTokens + maxNewTokens <= config.contextLength else {
                throw ModelError.promptTooLong(tokens: promptTokens + maxNewTokens, context: config.contextLength)
            }
            let makePolicy = { (header: SequenceHeader) throws -> CachePolicy? in
                try PolicySupport.makePolicy(policyOptions, config: config, promptLength: header.promptLength, sampleID: header.sampleID)
            }
            let comm = try context.duplicate()
            let runtime = try PipelineRuntime(comm: comm, topology: topology, settings: settings, model: session.model)
            printError("bench: rank \(context.rank): stage \(topology.stage), layers \(session.model.layers.lowerBound)-"
                + "\(session.model.layers.upperBound - 1), weights \(formatBytes(session.model.weightBytes))")

            var runs: [Run] = []
            if topology.isFirstStage {
                let header = SequenceHeader(policyKey: "bench", sampleID: 0, promptLength: prompt.count)
                for index in 0..<(warmup + repeats) {
                    let result = try runtime.generate(prompt: prompt, maxNewTokens: maxNewTokens, stopTokens: [],
                                                      header: header, policy: try makePolicy(header))
                    guard index >= warmup else { continue }
                    runs.append(Run(prefill_s: result.prefillSeconds, prefill_cpu_s: 0, decode_cpu_s: 0,
                                    prefill_tok_s: result.prefillTokensPerSecond, decode_tok_s: result.decodeTokensPerSecond,
                                    ttft_s: result.timeToFirstToken, kv_cache_bytes: result.prefillKVCacheBytes,
                                    kv_cache_bytes_per_layer: [], peak_rss_bytes: peakResidentBytes(),
                                    generated_tokens: result.tokens.count))
                    if !options.has("json") {
                        printError(String(format: "run %d: prefill %.3f s (%.1f tokens/s), decode %.2f tokens/s (%.2f ms/token)",
                                          index - warmup + 1, result.prefillSeconds, result.prefillTokensPerSecond,
                                          result.decodeTokensPerSecond, 1000 / max(result.decodeTokensPerSecond, 1e-9)))
                    }
                }
                try runtime.stopStages()
            } else {
                try runtime.serve(policyFactory: makePolicy)
            }
            let statistics = try runtime.gatherStatistics()
            guard let statistics else { return }

            let summary = PipelineSummary(
                model: session.path, method: policyOptions.method, stages: settings.stages,
                layer_split: partition.description,
                threads: session.model.threads, prompt_tokens: prompt.count, max_new_tokens: maxNewTokens,
                activation_dtype: settings.activationEncoding.rawValue, activation_compression: settings.activationCompression.rawValue,
                prefill_s: median(runs.map(\.prefill_s)), prefill_tok_s: median(runs.map(\.prefill_tok_s)),
                decode_tok_s: median(runs.map(\.decode_tok_s)), decode_ms_per_token: 1000 / max(median(runs.map(\.decode_tok_s)), 1e-9),
                ttft_s: median(runs.map(\.ttft_s)), kv_cache_bytes: runs.last?.kv_cache_bytes ?? 0,
                activation_bytes_raw: statistics.rawBytes, activation_bytes_sent: statistics.sentBytes,
                activation_compression_seconds: statistics.encodeSeconds + statistics.decodeSeconds, runs: runs)
            if options.has("json") {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            } else {
                print("method \(summary.method), \(summary.stages) stages (layers \(summary.layer_split)), prompt \(prompt.count) tokens, "
                    + "\(maxNewTokens) new tokens, \(summary.threads) thread\(summary.threads == 1 ? "" : "s") per rank")
                print(String(format: "prefill %.3f s (%.1f tokens/s), decode %.2f tokens/s (%.2f ms/token)", summary.prefill_s,
                             summary.prefill_tok_s, summary.decode_tok_s, summary.decode_ms_per_token))
                print("peak RSS of rank 0 (stage 0) \(formatBytes(peakResidentBytes())); KV cache of all stages after prefill "
                    + "\(formatBytes(summary.kv_cache_bytes))")
                print("activations of all runs, warmup included: \(formatBytes(statistics.rawBytes)) as fp32, "
                    + "\(formatBytes(statistics.sentBytes)) sent")
            }
        }
    }

    struct PipelineSummary: Encodable {
        let model: String
        let method: String
        let stages: Int
        let layer_split: String
        let threads: Int
        let prompt_tokens: Int
        let max_new_tokens: Int
        let activation_dtype: String
        let activation_compression: String
        let prefill_s: Double
        let prefill_tok_s: Double
        let decode_tok_s: Double
        let decode_ms_per_token: Double
        let ttft_s: Double
        /// KV-cache bytes of all stages after the prefill.
        let kv_cache_bytes: Int
        /// Activation traffic of all runs, the warmup runs included.
        let activation_bytes_raw: Int
        let activation_bytes_sent: Int
        let activation_compression_seconds: Double
        let runs: [Run]
    }
}
