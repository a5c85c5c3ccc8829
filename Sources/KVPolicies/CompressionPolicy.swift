/// The cache policy of every compressing method: it runs the method's scorer, budget allocator, selector and
/// transforms on each layer at the end of prefill, and, with `--compress_during_decode`, its decode rule.
final class CompressionPolicy: CachePolicy {
    let options: PolicyOptions
    let spec: MethodSpec
    let scorer: TokenScorer
    let allocator: BudgetAllocator
    let transforms: [CacheTransform]
    let layerCount: Int
    let queryHeads: Int
    let kvHeads: Int
    let headDim: Int
    private(set) var sampleID: UInt64

    /// Per global layer, what the last prefill recorded (kept channels for ThinK).
    private(set) var reports: [Int: LayerReport] = [:]
    /// Per global layer, the state of decode-time eviction.
    private var decodeTrackers: [Int: DecodeTracker] = [:]

    init(options: PolicyOptions, spec: MethodSpec, scorer: TokenScorer, allocator: BudgetAllocator, transforms: [CacheTransform],
         layerCount: Int, queryHeads: Int, kvHeads: Int, headDim: Int, sampleID: UInt64) {
        self.options = options
        self.spec = spec
        self.scorer = scorer
        self.allocator = allocator
        self.transforms = transforms
        self.layerCount = layerCount
        self.queryHeads = queryHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.sampleID = sampleID
    }

    var granularity: CacheGranularity { options.granularity }

    var decodeRule: DecodeRule? { options.compressDuringDecode ? spec.decodeRule : nil }

    var needsDecodeAttention: Bool { decodeRule == .accumulatedAttention }

    func beginSequence(sampleID: UInt64) {
        self.sampleID = sampleID
        reports.removeAll()
        decodeTrackers.removeAll()
    }

    func beforePrefillAttention(_ state: PrefillLayerState) throws {
        guard !transforms.isEmpty, let context = try makeContext(state) else { return }
        for transform in transforms { try transform.beforeAttention(state, context, sampleID: sampleID) }
    }

    func afterPrefillAttention(_ state: PrefillLayerState) throws {
        var report = LayerReport()
        var accumulated: [[Float]]?
        var selection: Selection?

        if let context = try makeContext(state) {
            let scores = try scorer.scores(state, context)
            let counts = try allocator.selectionCounts(scores: scores, context: context)
            let chosen = TopKSelector().select(scores: scores, counts: counts, context: context)
            for transform in transforms { try transform.apply(state, context, selection: chosen, report: &report) }
            for (index, head) in state.cache.heads.enumerated() { head.keep(indices: chosen.keptRows(ofHead: index)) }
            accumulated = scores.accumulatedPerQueryHead
            selection = chosen
        }
        reports[state.layer] = report

        if let rule = decodeRule {
            decodeTrackers[state.layer] = try DecodeTracker(rule: rule, state: state, options: options,
                                                            accumulated: accumulated, selection: selection)
        }
    }

    func afterDecodeStep(_ state: DecodeLayerState) throws {
        guard let tracker = decodeTrackers[state.layer] else { return }
        try tracker.record(state)
        if state.step % options.decodeCompressInterval == 0 {
            tracker.evict(cache: state.cache)
        }
    }

    /// Checks the layer against the policy's model shape and returns the compression context, or nil when the
    /// layer stays whole: the prompt is shorter than the budget, or the method skips this layer.
    private func makeContext(_ state: PrefillLayerState) throws -> CompressionContext? {
        let cache = state.cache
        guard state.queryHeads == queryHeads, state.kvHeads == kvHeads, state.headDim == headDim,
              cache.queryHeads == queryHeads, cache.kvHeads == kvHeads, cache.headDim == headDim else {
            throw PolicyError.cacheMismatch(layer: state.layer, detail: "the layer has \(state.queryHeads) query heads, \(state.kvHeads) KV heads and head dimension \(state.headDim), but the policy was made for \(queryHeads), \(kvHeads) and \(headDim)")
        }
        guard cache.granularity == options.granularity else {
            throw PolicyError.cacheMismatch(layer: state.layer, detail: "the cache stores \(cache.granularity.rawValue) heads but the policy needs \(options.granularity.rawValue)")
        }
        let n = state.promptLength
        for (index, head) in cache.heads.enumerated() where head.count != n {
            throw PolicyError.cacheMismatch(layer: state.layer, detail: "stored head \(index) contains \(head.count) entries but the prompt has \(n) tokens; compression at prefill needs a cache that contains exactly the prompt")
        }

        let budget = options.budget(forPromptLength: n)
        try spec.checkBudget(budget, options: options)
        // The reference leaves every layer whole when the prompt is shorter than the budget.
        if n < budget || spec.skippedLayers.contains(state.layer) { return nil }
        return CompressionContext(layer: state.layer, layerCount: state.layerCount, promptLength: n, budget: budget,
                                  recentWindow: spec.recentWindow.length(budget: budget, options: options),
                                  options: options, cache: cache)
    }
}
