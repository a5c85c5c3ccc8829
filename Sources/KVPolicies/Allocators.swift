/// Every stored head selects B - window candidates (SnapKV, H2O, StreamingLLM, CAM, L2Norm, ThinK).
struct UniformAllocator: BudgetAllocator {
    func selectionCounts(scores: TokenScores, context: CompressionContext) throws -> [Int] {
        let count = min(context.budget - context.recentWindow, context.candidateCount)
        return Array(repeating: max(0, count), count: context.storedHeads)
    }
}

/// PyramidKV: the selected count falls linearly with depth, from about 2(B - w) at layer 0 to (B - w) / beta.
struct PyramidAllocator: BudgetAllocator {
    let beta: Double

    func selectionCounts(scores: TokenScores, context: CompressionContext) throws -> [Int] {
        let count = PyramidSchedule.selectionCount(layer: context.layer, layerCount: context.layerCount,
                                        promptLength: context.promptLength, budget: context.budget,
                                        window: context.recentWindow, beta: beta)
        return Array(repeating: max(0, min(count, context.candidateCount)), count: context.storedHeads)
    }
}

/// PyramidKV's per-layer schedule, as KVCache-Factory computes it.
public enum PyramidSchedule {
    /// The reference's three branches, chosen by prompt length.
    public enum Branch: Equatable {
        /// n < B: the layer is not compressed.
        case uncompressed
        /// B <= n < 2(B - w): every layer selects B - w, as SnapKV does.
        case uniform
        /// n >= 2(B - w): the per-layer schedule.
        case pyramid
    }

    public static func branch(promptLength: Int, budget: Int, window: Int) -> Branch {
        if promptLength < budget { return .uncompressed }
        if promptLength < 2 * (budget - window) { return .uniform }
        return .pyramid
    }

    /// Candidates layer `layer` selects, not counting the w window tokens, for a prompt of at least B tokens.
    /// Integer floors follow the reference, so the mean over layers slightly exceeds B - w.
    public static func selectionCount(layer: Int, layerCount: Int, promptLength: Int, budget: Int, window: Int, beta: Double) -> Int {
        let base = budget - window
        guard branch(promptLength: promptLength, budget: budget, window: window) == .pyramid else { return base }
        var minimum = Int((Double(base) / beta).rounded(.down))
        var maximum = 2 * base - minimum
        if maximum >= promptLength - window {
            maximum = promptLength - window
            minimum = 2 * base - maximum
        }
        let steps = layerCount > 1 ? floorDivide(maximum - minimum, layerCount - 1) : 0
        return maximum - layer * steps
    }

    /// Python's floor division.
    static func floorDivide(_ numerator: Int, _ denominator: Int) -> Int {
        let quotient = numerator / denominator
        return (numerator % denominator != 0 && (numerator < 0) != (denominator < 0)) ? quotient - 1 : quotient
    }
}

/// AdaKV: the layer's budget heads x (B - w) is shared among its stored heads by their normalised scores, and each
/// head keeps at least the floor share.
struct AdaptiveAllocator: BudgetAllocator {
    let floorRatio: Double

    func selectionCounts(scores: TokenScores, context: CompressionContext) throws -> [Int] {
        Self.counts(scores: scores.stored, base: context.budget - context.recentWindow, floorRatio: floorRatio)
    }

    /// - Parameter base: B' = B - w, at most the candidate count.
    static func counts(scores: [[Float]], base: Int, floorRatio: Double) -> [Int] {
        let heads = scores.count
        guard heads > 0, let candidates = scores.first?.count, base > 0 else { return Array(repeating: 0, count: heads) }

        // Each head's scores sorted in descending order and scaled by the share of its mass in its own top B'.
        var flat = [Float]()
        flat.reserveCapacity(heads * candidates)
        for row in scores {
            let sorted = row.sorted { ScoreMath.orderedBits($0) > ScoreMath.orderedBits($1) }
            var top = 0.0
            var total = 0.0
            for (rank, value) in sorted.enumerated() {
                if rank < base { top += Double(value) }
                total += Double(value)
            }
            let weight = total > 0 ? Float(top / total) : 0
            flat.append(contentsOf: sorted.map { $0 * weight })
        }

        // Heads win budget by their entries in the global top heads x B'; ties go to the lower head, then rank.
        var won = [Int](repeating: 0, count: heads)
        for index in ScoreMath.topIndices(flat, count: heads * base) { won[index / candidates] += 1 }

        // The reference computes round(c * (1 - floor) + floor(B' * floor)) in float32, rounding half to even.
        let floorCapacity = Float(Int(Double(base) * floorRatio))
        let adaptiveShare = Float(1 - floorRatio)
        return won.map { Int((Float($0) * adaptiveShare + floorCapacity).rounded(.toNearestOrEven)) }
    }
}

/// HeadKV: per-head counts from a head-score table, fixed for the whole run at a given budget.
struct HeadTableAllocator: BudgetAllocator {
    let table: HeadScoreTable
    let beta: Double

    func selectionCounts(scores: TokenScores, context: CompressionContext) throws -> [Int] {
        let capacities = table.capacities(budget: context.budget, beta: beta)
        let layerRow = capacities[context.layer]
        let cache = context.cache
        var counts: [Int]
        if cache.granularity == .kvHead {
            // A KV head takes the mean of its query heads' counts, rounded half to even.
            counts = (0..<cache.kvHeads).map { kvHead in
                let members = layerRow[(kvHead * cache.groupSize)..<((kvHead + 1) * cache.groupSize)]
                let mean = Double(members.reduce(0, +)) / Double(cache.groupSize)
                return Int(mean.rounded(.toNearestOrEven))
            }
        } else {
            counts = layerRow
        }
        // The reference truncates a count above the candidate count silently.
        return counts.map { max(0, min($0, context.candidateCount)) }
    }
}
