import Foundation

/// The contiguous layer ranges of the stages of a pipeline, in stage order.
///
/// Stage 0 starts at layer 0, each stage starts where the previous one ends, the last stage ends at the
/// model's last layer, and every stage contains at least one layer.
public struct LayerPartition: Equatable, Sendable, CustomStringConvertible {
    /// Global layer indices of each stage.
    public let ranges: [Range<Int>]

    public var stageCount: Int { ranges.count }

    /// The `--layer_split` form with inclusive ranges, e.g. "0-14,15-29".
    public var description: String {
        ranges.map { "\($0.lowerBound)-\($0.upperBound - 1)" }.joined(separator: ",")
    }

    init(ranges: [Range<Int>]) {
        self.ranges = ranges
    }

    // MARK: Balanced partition

    /// Splits the layers into `stages` contiguous ranges that balance the resident float32 weight bytes
    /// of the stages (see `weightBytes(config:layers:)`).
    ///
    /// The result has the smallest possible maximum of the stages' bytes. Among partitions with that
    /// maximum, each stage in order takes as many layers as fit, so the result is the same on every rank.
    public static func balanced(config: ModelConfig, stages: Int) throws -> LayerPartition {
        try checkStageCount(stages, blockCount: config.blockCount)
        var costs = [Int](repeating: layerWeightBytes(config: config), count: config.blockCount)
        // The last stage always contains the last layer, so the final norm and LM head count with that layer.
        costs[costs.count - 1] += headWeightBytes(config: config)
        return balanced(costs: costs, stages: stages)
    }

    /// Splits `costs.count` layers into `stages` contiguous non-empty ranges with the smallest maximum sum
    /// of `costs`, each stage in order taking as many layers as fit. Requires `1 <= stages <= costs.count`.
    static func balanced(costs: [Int], stages: Int) -> LayerPartition {
        precondition(stages >= 1 && stages <= costs.count, "stage count \(stages) outside 1...\(costs.count)")
        var low = costs.max()!
        var high = costs.reduce(0, +)
        while low < high {
            let middle = low + (high - low) / 2
            if greedyStageCount(costs: costs, limit: middle) <= stages {
                high = middle
            } else {
                low = middle + 1
            }
        }
        return greedyPartition(costs: costs, stages: stages, limit: low)
    }

    /// Stages that a left-to-right fill with at most `limit` bytes per stage needs; `limit` must be at
    /// least the largest cost.
    private static func greedyStageCount(costs: [Int], limit: Int) -> Int {
        var stages = 1
        var sum = 0
        for cost in costs {
            if sum + cost > limit {
                stages += 1
                sum = 0
            }
            sum += cost
        }
        return stages
    }

    /// Fills stages left to right up to `limit` bytes each, leaving at least one layer for every later stage.
    ///
    /// When some partition into `stages` ranges stays within `limit`, each stage of this fill ends at or
    /// after the corresponding stage of that partition, so the last stage is a suffix of its last stage
    /// and also stays within `limit`.
    private static func greedyPartition(costs: [Int], stages: Int, limit: Int) -> LayerPartition {
        var ranges: [Range<Int>] = []
        var start = 0
        for stage in 0..<(stages - 1) {
            let laterStages = stages - 1 - stage
            var end = start + 1
            var sum = costs[start]
            while end < costs.count - laterStages, sum + costs[end] <= limit {
                sum += costs[end]
                end += 1
            }
            ranges.append(start..<end)
            start = end
        }
        ranges.append(start..<costs.count)
        return LayerPartition(ranges: ranges)
    }

    // MARK: Parsing --layer_split

    /// Parses `--layer_split` text such as "0-14,15-29": one inclusive range of global layer indices per stage.
    ///
    /// - Throws: `LayerPartitionError` naming the value at fault when the text is not numeric, a range is
    ///   reversed, the range count differs from `stages`, or the ranges leave a gap, overlap, or do not
    ///   cover `0...blockCount - 1`.
    public static func parse(_ text: String, blockCount: Int, stages: Int) throws -> LayerPartition {
        try checkStageCount(stages, blockCount: blockCount)
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        var ranges: [Range<Int>] = []
        for item in items {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            let bounds = trimmed.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count == 2, let first = Int(bounds[0]), let last = Int(bounds[1]), first >= 0, last >= 0 else {
                throw LayerPartitionError.invalidRange(item: trimmed, text: text)
            }
            guard first <= last else {
                throw LayerPartitionError.reversedRange(first: first, last: last, text: text)
            }
            ranges.append(first..<(last + 1))
        }

        guard ranges.count == stages else {
            throw LayerPartitionError.rangeCountMismatch(ranges: ranges.count, stages: stages, text: text)
        }
        guard ranges[0].lowerBound == 0 else {
            throw LayerPartitionError.notStartingAtZero(first: ranges[0].lowerBound, text: text)
        }
        for index in 1..<ranges.count {
            let previous = ranges[index - 1], next = ranges[index]
            if next.lowerBound > previous.upperBound {
                throw LayerPartitionError.gap(afterLayer: previous.upperBound - 1, nextStart: next.lowerBound, text: text)
            }
            if next.lowerBound < previous.upperBound {
                throw LayerPartitionError.overlap(first: next.lowerBound, last: min(previous.upperBound, next.upperBound) - 1,
                                                  text: text)
            }
        }
        let last = ranges[ranges.count - 1].upperBound - 1
        guard last == blockCount - 1 else {
            throw LayerPartitionError.notEndingAtLastLayer(last: last, blockCount: blockCount, text: text)
        }
        return LayerPartition(ranges: ranges)
    }

    private static func checkStageCount(_ stages: Int, blockCount: Int) throws {
        guard stages >= 1, stages <= blockCount else {
            throw LayerPartitionError.invalidStageCount(stages: stages, blockCount: blockCount)
        }
    }

    // MARK: Weight bytes

    /// Resident float32 weight bytes of each stage, in stage order, as `TransformerModel.weightBytes`
    /// reports them for a model loaded with that stage's layers.
    public func stageWeightBytes(config: ModelConfig) -> [Int] {
        ranges.map { Self.weightBytes(config: config, layers: $0) }
    }

    /// Resident float32 weight bytes of a `TransformerModel` holding `layers`.
    ///
    /// Each layer's norms, projections and biases count. The stage holding the last layer adds the final
    /// norm and the LM head, which is the embedding matrix when tied. The token embedding adds bytes only to
    /// a whole model: a first stage without the last layer dequantizes embedding rows from the memory map
    /// on demand and keeps no float32 copy.
    public static func weightBytes(config: ModelConfig, layers: Range<Int>) -> Int {
        var total = layers.count * layerWeightBytes(config: config)
        let isFirst = layers.lowerBound == 0
        let isLast = layers.upperBound == config.blockCount
        if isLast { total += headWeightBytes(config: config) }
        if isFirst, isLast, !config.tiedEmbeddings { total += embeddingWeightBytes(config: config) }
        return total
    }

    /// Float32 bytes of one transformer block.
    static func layerWeightBytes(config: ModelConfig) -> Int {
        let d = config.hiddenSize, f = config.intermediateSize
        let qkvRows = config.queryDim + 2 * config.kvDim
        var floats = 2 * d                                // attention and MLP RMSNorm weights
        floats += qkvRows * d + d * config.queryDim       // Q/K/V and output projections
        floats += 2 * f * d + d * f                       // gate/up and down projections
        if config.hasQKVBias { floats += qkvRows }
        return floats * MemoryLayout<Float>.size
    }

    /// Float32 bytes of the final RMSNorm and the LM head.
    static func headWeightBytes(config: ModelConfig) -> Int {
        (config.hiddenSize + config.vocabularySize * config.hiddenSize) * MemoryLayout<Float>.size
    }

    static func embeddingWeightBytes(config: ModelConfig) -> Int {
        config.vocabularySize * config.hiddenSize * MemoryLayout<Float>.size
    }
}

/// Errors of `LayerPartition`. Each message names the value at fault and how to fix it.
public enum LayerPartitionError: Error, CustomStringConvertible, Equatable {
    case invalidStageCount(stages: Int, blockCount: Int)
    case invalidRange(item: String, text: String)
    case reversedRange(first: Int, last: Int, text: String)
    case rangeCountMismatch(ranges: Int, stages: Int, text: String)
    case notStartingAtZero(first: Int, text: String)
    case gap(afterLayer: Int, nextStart: Int, text: String)
    case overlap(first: Int, last: Int, text: String)
    case notEndingAtLastLayer(last: Int, blockCount: Int, text: String)

    public var description: String {
        switch self {
        case .invalidStageCount(let stages, let blockCount):
            return "--pipeline_stages \(stages) is invalid for a model with \(blockCount) layers; use 1...\(blockCount) stages, since each stage needs at least one layer"
        case .invalidRange(let item, let text):
            return "--layer_split \"\(text)\": \"\(item)\" is not a range A-B of layer numbers; write inclusive ranges such as 0-14,15-29"
        case .reversedRange(let first, let last, let text):
            return "--layer_split \"\(text)\": range \(first)-\(last) ends before it starts; write it as \(last)-\(first)"
        case .rangeCountMismatch(let ranges, let stages, let text):
            return "--layer_split \"\(text)\" has \(ranges) range\(ranges == 1 ? "" : "s") but --pipeline_stages is \(stages); give one range per stage"
        case .notStartingAtZero(let first, let text):
            return "--layer_split \"\(text)\" starts at layer \(first); the first stage must start at layer 0"
        case .gap(let afterLayer, let nextStart, let text):
            return "--layer_split \"\(text)\" assigns no stage to \(layerSpan(afterLayer + 1, nextStart - 1)); start each range right after the previous one ends"
        case .overlap(let first, let last, let text):
            return "--layer_split \"\(text)\" assigns \(layerSpan(first, last)) to two stages; start each range right after the previous one ends"
        case .notEndingAtLastLayer(let last, let blockCount, let text):
            return "--layer_split \"\(text)\" ends at layer \(last) but the model's last layer is \(blockCount - 1); end the last range at \(blockCount - 1)"
        }
    }

    private func layerSpan(_ first: Int, _ last: Int) -> String {
        first == last ? "layer \(first)" : "layers \(first)-\(last)"
    }
}
