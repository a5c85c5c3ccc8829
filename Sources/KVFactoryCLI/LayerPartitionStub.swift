import Modeling

// TODO: temporary until Modeling's LayerPartition lands; equal layer counts, minimal parsing.
struct LayerPartition {
    let ranges: [Range<Int>]

    static func balanced(config: ModelConfig, stages: Int) throws -> LayerPartition {
        let count = config.blockCount
        var ranges: [Range<Int>] = []
        var start = 0
        for stage in 0..<stages {
            let end = count * (stage + 1) / stages
            ranges.append(start..<end)
            start = end
        }
        return LayerPartition(ranges: ranges)
    }

    static func parse(_ text: String, blockCount: Int, stages: Int) throws -> LayerPartition {
        let ranges = text.split(separator: ",").compactMap { part -> Range<Int>? in
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            return bounds.count == 2 ? bounds[0]..<(bounds[1] + 1) : nil
        }
        guard ranges.count == stages, ranges.first?.lowerBound == 0, ranges.last?.upperBound == blockCount else {
            throw CommandFailure(message: "invalid --layer_split \(text)")
        }
        return LayerPartition(ranges: ranges)
    }
}
