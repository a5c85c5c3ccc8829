/// Errors raised while parsing policy options, loading head-score tables and compressing a cache.
/// Each message names the flag, file or value at fault and says what to do instead.
public enum PolicyError: Error, CustomStringConvertible, Equatable {
    case unknownMethod(String)
    case missingValue(flag: String)
    case invalidValue(flag: String, value: String, expected: String)
    /// Two options, or an option and the method, cannot be used together.
    case invalidCombination(String)
    case budgetTooSmall(method: String, budget: Int, minimum: Int, reason: String)
    case missingHeadScores(method: String)
    case headScoreFileNotFound(path: String)
    case malformedHeadScores(path: String, detail: String)
    case headScoreShapeMismatch(path: String, tableLayers: Int, tableHeads: Int, modelLayers: Int, modelHeads: Int)
    case invalidModelShape(String)
    case invalidProbeTensor(name: String, detail: String)
    /// The cache handed to a hook does not have the layout the policy needs.
    case cacheMismatch(layer: Int, detail: String)

    public var description: String {
        switch self {
        case .unknownMethod(let name):
            return "unknown method \"\(name)\"; use one of \(MethodRegistry.names.joined(separator: ", "))"
        case .missingValue(let flag):
            return "\(flag) needs a value"
        case .invalidValue(let flag, let value, let expected):
            return "invalid value \"\(value)\" for \(flag): expected \(expected)"
        case .invalidCombination(let reason):
            return reason
        case .budgetTooSmall(let method, let budget, let minimum, let reason):
            return "budget \(budget) is too small for \(method): it must be at least \(minimum) because \(reason); raise --max_capacity_prompts or --max_capacity_prompts_ratio"
        case .missingHeadScores(let method):
            return "\(method) needs a head-score table and this model has no default one; create it with `kvfactory headscores` and pass it with --head_path"
        case .headScoreFileNotFound(let path):
            return "head-score table not found: \(path); create it with `kvfactory headscores` or fix --head_path"
        case .malformedHeadScores(let path, let detail):
            return "head-score table \(path) is malformed: \(detail); regenerate it with `kvfactory headscores`"
        case .headScoreShapeMismatch(let path, let tableLayers, let tableHeads, let modelLayers, let modelHeads):
            return "head-score table \(path) covers \(tableLayers) layers x \(tableHeads) heads, but the model has \(modelLayers) layers x \(modelHeads) query heads; pass a table made for this model with `kvfactory headscores`"
        case .invalidModelShape(let detail):
            return "invalid model shape: \(detail)"
        case .invalidProbeTensor(let name, let detail):
            return "probe tensor \(name): \(detail)"
        case .cacheMismatch(let layer, let detail):
            return "layer \(layer): \(detail)"
        }
    }
}
