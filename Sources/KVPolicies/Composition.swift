/// A compression method is a composition of four parts, run per layer at the end of prefill. A scorer rates the
/// candidate tokens of each stored head, and a budget allocator decides how many candidates each stored head keeps.
/// A selector picks them (top-k plus the recent window). Optional transforms change the kept entries (merging,
/// channel pruning) or the values before the prefill attention (CAM).

/// The inputs of one compression step: the layer, its prompt and its budget.
struct CompressionContext {
    let layer: Int
    let layerCount: Int
    /// Prompt tokens n; the cache rows 0..<n hold positions 0..<n.
    let promptLength: Int
    /// Budget B for this prompt.
    let budget: Int
    /// Most recent rows every stored head keeps without scoring: w, B - sinks, or 0.
    let recentWindow: Int
    let options: PolicyOptions
    let cache: LayerCache

    /// Candidate rows 0..<P that compete for the budget, P = n - recentWindow.
    var candidateCount: Int { promptLength - recentWindow }
    var storedHeads: Int { cache.heads.count }
}

/// Scores of the candidate rows of each stored head; higher scores are kept first.
struct TokenScores {
    /// Per stored head, `candidateCount` scores.
    var stored: [[Float]]
    /// H2O only: per query head, the attention each of the n prompt rows received, for decode-time eviction.
    var accumulatedPerQueryHead: [[Float]]?
}

protocol TokenScorer {
    func scores(_ state: PrefillLayerState, _ context: CompressionContext) throws -> TokenScores
}

protocol BudgetAllocator {
    /// Candidates each stored head selects, not counting the recent window.
    func selectionCounts(scores: TokenScores, context: CompressionContext) throws -> [Int]
}

/// The rows each stored head keeps: selected candidates plus the recent window.
struct Selection {
    /// Per stored head, selected candidate rows in ascending order, all below `windowStart`.
    var selectedRows: [[Int]]
    /// First row of the recent window; rows windowStart..<rowCount are kept by every head.
    let windowStart: Int
    let rowCount: Int

    /// Kept rows of one stored head, ascending.
    func keptRows(ofHead head: Int) -> [Int] {
        selectedRows[head] + Array(windowStart..<rowCount)
    }
}

/// Facts a compression step records for inspection (kvprobe, tests).
struct LayerReport {
    /// Per stored head, ThinK's kept key channels, ascending.
    var keptChannels: [[Int]]?
}

protocol CacheTransform {
    /// Runs before the prefill attention, on the full cache (CAM's value merging).
    func beforeAttention(_ state: PrefillLayerState, _ context: CompressionContext, sampleID: UInt64) throws
    /// Runs after selection and before the cache drops the unselected rows.
    func apply(_ state: PrefillLayerState, _ context: CompressionContext, selection: Selection, report: inout LayerReport) throws
}

extension CacheTransform {
    func beforeAttention(_ state: PrefillLayerState, _ context: CompressionContext, sampleID: UInt64) throws {}
    func apply(_ state: PrefillLayerState, _ context: CompressionContext, selection: Selection, report: inout LayerReport) throws {}
}

/// Which rows a method keeps without scoring.
enum RecentWindowRule {
    /// The observation window: the last `--window_size` tokens.
    case observationWindow
    /// StreamingLLM: everything but the sinks is recent, so the window is B - `--start_size`.
    case budgetMinusSinks
    /// No protected rows (L2Norm).
    case none

    func length(budget: Int, options: PolicyOptions) -> Int {
        switch self {
        case .observationWindow: return options.windowSize
        case .budgetMinusSinks: return budget - options.startSize
        case .none: return 0
        }
    }
}

/// Top-k over each stored head's candidate scores plus the recent window.
struct TopKSelector {
    func select(scores: TokenScores, counts: [Int], context: CompressionContext) -> Selection {
        var selected: [[Int]] = []
        selected.reserveCapacity(context.storedHeads)
        for head in 0..<context.storedHeads {
            var rows = ScoreMath.topIndices(scores.stored[head], count: min(counts[head], context.candidateCount))
            rows.sort()
            selected.append(rows)
        }
        return Selection(selectedRows: selected, windowStart: context.candidateCount, rowCount: context.promptLength)
    }
}
