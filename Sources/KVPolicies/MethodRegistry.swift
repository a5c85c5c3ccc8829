/// A method's rule for keeping the cache at the budget during decode (`--compress_during_decode`).
enum DecodeRule: Equatable {
    /// H2O: every decode step's attention weights add to each entry's accumulated score.
    case accumulatedAttention
    /// StreamingLLM: the sinks plus the most recent tokens.
    case rollingWindow
    /// SnapKV and PyramidKV: the window score of the w most recent queries over the cached keys.
    case recentQueries
}

/// One method's registry entry: its parts, what it supports and its budget constraint.
struct MethodSpec {
    let name: String
    let referenceSpelling: String
    let supportsMerge: Bool
    let supportsKVHead: Bool
    let decodeRule: DecodeRule?
    /// The reason `--compress_during_decode` is rejected, for methods without a decode rule.
    let decodeRejection: String
    let recentWindow: RecentWindowRule
    let usesObservationWindow: Bool
    let usesPooling: Bool
    /// Layers the method never compresses (L2Norm keeps layers 0 and 1 whole, as the reference does).
    let skippedLayers: Set<Int>
    /// Human-readable composition, as listed in docs/methods.md.
    let composition: String

    /// Rejects a budget that cannot hold the tokens the method always keeps.
    func checkBudget(_ budget: Int, options: PolicyOptions) throws {
        switch recentWindow {
        case .observationWindow:
            // The reference asserts B - w > 0: the budget holds the window and at least one selected token.
            if budget <= options.windowSize {
                throw PolicyError.budgetTooSmall(method: referenceSpelling, budget: budget, minimum: options.windowSize + 1,
                                                 reason: "it holds the \(options.windowSize)-token observation window (--window_size) plus at least one selected token")
            }
        case .budgetMinusSinks:
            if budget <= options.startSize {
                throw PolicyError.budgetTooSmall(method: referenceSpelling, budget: budget, minimum: options.startSize + 1,
                                                 reason: "it holds the \(options.startSize) sink tokens (--start_size) plus at least one recent token")
            }
        case .none:
            if budget < 1 && name != "fullkv" {
                throw PolicyError.budgetTooSmall(method: referenceSpelling, budget: budget, minimum: 1, reason: "every stored head keeps at least one token")
            }
        }
    }
}

/// Resolves method names to compositions of scorer, budget allocator, selector and transforms.
public enum MethodRegistry {
    /// Canonical names, accepted case-insensitively.
    public static let names = specs.map(\.name)

    static let specs: [MethodSpec] = [
        MethodSpec(name: "fullkv", referenceSpelling: "FullKV", supportsMerge: false, supportsKVHead: true,
                   decodeRule: nil, decodeRejection: "FullKV keeps every token, so there is nothing to evict",
                   recentWindow: .none, usesObservationWindow: false, usesPooling: false, skippedLayers: [],
                   composition: "no compression"),
        MethodSpec(name: "snapkv", referenceSpelling: "SnapKV", supportsMerge: true, supportsKVHead: true,
                   decodeRule: .recentQueries, decodeRejection: "",
                   recentWindow: .observationWindow, usesObservationWindow: true, usesPooling: true, skippedLayers: [],
                   composition: "window attention (sum, pooled) + uniform B - w + top-k and window"),
        MethodSpec(name: "pyramidkv", referenceSpelling: "PyramidKV", supportsMerge: true, supportsKVHead: true,
                   decodeRule: .recentQueries, decodeRejection: "",
                   recentWindow: .observationWindow, usesObservationWindow: true, usesPooling: true, skippedLayers: [],
                   composition: "window attention (sum, pooled) + pyramidal per layer (beta) + top-k and window"),
        MethodSpec(name: "h2o", referenceSpelling: "H2O", supportsMerge: true, supportsKVHead: true,
                   decodeRule: .accumulatedAttention, decodeRejection: "",
                   recentWindow: .observationWindow, usesObservationWindow: true, usesPooling: false, skippedLayers: [],
                   composition: "accumulated attention of all queries + uniform B - w + top-k and window"),
        MethodSpec(name: "streamingllm", referenceSpelling: "StreamingLLM", supportsMerge: true, supportsKVHead: true,
                   decodeRule: .rollingWindow, decodeRejection: "",
                   recentWindow: .budgetMinusSinks, usesObservationWindow: false, usesPooling: false, skippedLayers: [],
                   composition: "no scores + start_size sinks + B - start_size recent tokens"),
        MethodSpec(name: "cam", referenceSpelling: "CAM", supportsMerge: false, supportsKVHead: true,
                   decodeRule: nil, decodeRejection: "its value merging is defined over the prompt at prefill only",
                   recentWindow: .observationWindow, usesObservationWindow: true, usesPooling: false, skippedLayers: [],
                   composition: "window attention (sum, not pooled) + uniform B - w + top-k and window; CAM value merge before the prefill attention"),
        MethodSpec(name: "l2norm", referenceSpelling: "L2Norm", supportsMerge: false, supportsKVHead: true,
                   decodeRule: nil, decodeRejection: "it has no recent window, so eviction could drop the tokens being generated",
                   recentWindow: .none, usesObservationWindow: false, usesPooling: false, skippedLayers: [0, 1],
                   composition: "negated key norm + uniform B + top-k without window; layers 0 and 1 uncompressed"),
        MethodSpec(name: "adakv", referenceSpelling: "AdaKV", supportsMerge: false, supportsKVHead: true,
                   decodeRule: nil, decodeRejection: "its per-head budgets are allocated once from the prompt's window scores",
                   recentWindow: .observationWindow, usesObservationWindow: true, usesPooling: true, skippedLayers: [],
                   composition: "window attention (mean, pooled) + AdaKV per head (floor) + top-k and window"),
        MethodSpec(name: "headkv", referenceSpelling: "HeadKV", supportsMerge: false, supportsKVHead: true,
                   decodeRule: nil, decodeRejection: "its per-head budgets come from a fixed head-score table sized for the prompt",
                   recentWindow: .observationWindow, usesObservationWindow: true, usesPooling: true, skippedLayers: [],
                   composition: "window attention (mean, pooled) + HeadKV table (head_beta) + top-k and window"),
        MethodSpec(name: "think", referenceSpelling: "ThinK", supportsMerge: false, supportsKVHead: false,
                   decodeRule: nil, decodeRejection: "evicting rows would invalidate the channel-pruned key layout",
                   recentWindow: .observationWindow, usesObservationWindow: true, usesPooling: true, skippedLayers: [],
                   composition: "window attention (sum, pooled) + uniform B - w + top-k and window; ThinK key-channel pruning"),
    ]

    static func spec(named name: String) -> MethodSpec? {
        let lowered = name.lowercased()
        return specs.first { $0.name == lowered }
    }

    /// KVCache-Factory's spelling of a method name ("SnapKV"), as used in its output file names; an unknown name
    /// comes back unchanged.
    public static func referenceSpelling(_ method: String) -> String {
        spec(named: method)?.referenceSpelling ?? method
    }

    /// Returns the method's composition in words, or nil for an unknown name.
    public static func compositionDescription(_ method: String) -> String? {
        spec(named: method)?.composition
    }

    /// Builds the cache policy for a model shape, or nil for FullKV. Validates the options, and for HeadKV loads
    /// the head-score table from `options.headPath` and checks it against `layerCount` x `queryHeads`.
    public static func makePolicy(options: PolicyOptions, layerCount: Int, queryHeads: Int, kvHeads: Int, headDim: Int,
                                  sampleID: UInt64) throws -> CachePolicy? {
        try options.validate()
        guard let spec = spec(named: options.method) else { throw PolicyError.unknownMethod(options.method) }
        guard layerCount > 0, queryHeads > 0, kvHeads > 0, headDim > 0, queryHeads % kvHeads == 0 else {
            throw PolicyError.invalidModelShape("\(layerCount) layers, \(queryHeads) query heads, \(kvHeads) KV heads, head dimension \(headDim); the query heads must be a positive multiple of the KV heads")
        }
        if spec.name == "fullkv" { return nil }

        let scorer: TokenScorer
        let allocator: BudgetAllocator
        var transforms: [CacheTransform] = []
        switch spec.name {
        case "snapkv":
            scorer = WindowAttentionScorer(averagesRows: false, pools: true, groupsBeforeRows: false)
            allocator = UniformAllocator()
        case "pyramidkv":
            scorer = WindowAttentionScorer(averagesRows: false, pools: true, groupsBeforeRows: false)
            allocator = PyramidAllocator(beta: options.pyramidBeta)
        case "h2o":
            scorer = AccumulatedAttentionScorer()
            allocator = UniformAllocator()
        case "streamingllm":
            scorer = SinkScorer()
            allocator = UniformAllocator()
        case "cam":
            scorer = WindowAttentionScorer(averagesRows: false, pools: false, groupsBeforeRows: true)
            allocator = UniformAllocator()
            transforms.append(CAMValueMerge())
        case "l2norm":
            scorer = KeyNormScorer()
            allocator = UniformAllocator()
        case "adakv":
            scorer = WindowAttentionScorer(averagesRows: true, pools: true, groupsBeforeRows: false)
            allocator = AdaptiveAllocator(floorRatio: options.floor)
        case "headkv":
            guard let path = options.headPath else { throw PolicyError.missingHeadScores(method: spec.referenceSpelling) }
            let table = try HeadScoreTable.load(path: path, layerCount: layerCount, headCount: queryHeads)
            scorer = WindowAttentionScorer(averagesRows: true, pools: true, groupsBeforeRows: false)
            allocator = HeadTableAllocator(table: table, beta: options.headBeta)
        case "think":
            scorer = WindowAttentionScorer(averagesRows: false, pools: true, groupsBeforeRows: false)
            allocator = UniformAllocator()
            transforms.append(ChannelPruning(ratio: options.pruningRatio, recentSize: options.recentSize))
        default:
            preconditionFailure("method \(spec.name) is registered but has no composition")
        }
        if let merge = options.merge { transforms.append(MergeTransform(mode: merge)) }

        return CompressionPolicy(options: options, spec: spec, scorer: scorer, allocator: allocator, transforms: transforms,
                                 layerCount: layerCount, queryHeads: queryHeads, kvHeads: kvHeads, headDim: headDim,
                                 sampleID: sampleID)
    }
}
