import Foundation

/// Pooling applied to window scores along the position axis (stride 1, padding kernel/2).
public enum Pooling: String, CaseIterable, Sendable {
    case maxpool
    /// Counts the zero padding at the edges, as PyTorch's `avg_pool1d` does by default.
    case avgpool
}

/// How the scores of the query heads in one GQA group are reduced to their KV head.
public enum GroupAggregation: String, CaseIterable, Sendable {
    case mean, max, sum
}

/// How dropped tokens are folded into the retained ones (`--merge`).
public enum MergeMode: String, CaseIterable, Sendable {
    /// LOOK-M style: each retained row becomes the mean of itself and the pairwise averages with its dropped rows.
    case pivot
    /// KVMerger style: a weighted mean with weights (cosine + 1) / 2.
    case weighted
}

/// Every option of the compression methods, with the names and defaults of KVCache-Factory's LongBench runner.
public struct PolicyOptions: Equatable, Sendable {
    /// Budget used when neither `--max_capacity_prompts` nor `--max_capacity_prompts_ratio` is given.
    public static let defaultBudget = 512

    /// Canonical lowercase method name, one of `MethodRegistry.names`.
    public var method = "fullkv"
    /// Tokens kept per stored head in each layer (`--max_capacity_prompts`); nil when not given.
    public var maxCapacityPrompts: Int?
    /// Budget as a fraction of the prompt: B = round(n * ratio), rounding half to even as Python does.
    public var maxCapacityPromptsRatio: Double?
    /// Observation window w: the last w prompt queries score the keys, and the last w tokens are always kept.
    public var windowSize = 8
    public var kernelSize = 7
    public var pooling = Pooling.maxpool
    public var granularity = CacheGranularity.queryHead
    public var gqaScoreAggregation = GroupAggregation.mean
    public var merge: MergeMode?
    /// AdaKV floor ratio: the share of each head's base budget that every head keeps whatever its scores.
    public var floor = 0.2
    /// PyramidKV's beta: the last layer keeps about (B - w) / beta selected tokens.
    public var pyramidBeta = 20.0
    /// HeadKV head-score table (JSON object with "layer-head" keys).
    public var headPath: String?
    /// HeadKV beta: each head keeps B - floor(B / beta) tokens, and the rest of the budget is shared by score.
    public var headBeta = 1.01
    /// ThinK: fraction of key channels pruned per head.
    public var pruningRatio = 0.4
    /// ThinK: most recent kept tokens whose keys stay at full width.
    public var recentSize = 32
    /// StreamingLLM sink tokens; the other B - startSize kept tokens are the most recent ones.
    public var startSize = 4
    /// Seeds CAM's random merge draws together with the sample id and the layer.
    public var seed: UInt64 = 42
    /// Keeps the cache at the budget while generating (not in the reference implementation).
    public var compressDuringDecode = false
    /// Decode steps between two re-applications of the method's scorer when compressing during decode.
    public var decodeCompressInterval = 16

    public init() {}

    /// The budget B for a prompt of `promptLength` tokens.
    public func budget(forPromptLength promptLength: Int) -> Int {
        if let ratio = maxCapacityPromptsRatio {
            return Int((Double(promptLength) * ratio).rounded(.toNearestOrEven))
        }
        return maxCapacityPrompts ?? Self.defaultBudget
    }

    /// The method's registry entry; nil when `method` is not a known name.
    var spec: MethodSpec? { MethodRegistry.spec(named: method) }
}

// MARK: - Parsing

extension PolicyOptions {
    /// Flags this type consumes, each with the help text a command can print.
    public static let flagHelp: [(flag: String, help: String)] = [
        ("--method", "compression method: \(MethodRegistry.names.joined(separator: ", ")) (case-insensitive; default fullkv)"),
        ("--max_capacity_prompts", "budget B: tokens kept per stored head and layer (alias --max_capacity_prompt; default 512; -1 means unset)"),
        ("--max_capacity_prompts_ratio", "budget as a fraction of each prompt, B = round(n * ratio); excludes an explicit budget"),
        ("--window_size", "observation window w in tokens (default 8)"),
        ("--kernel_size", "pooling kernel in tokens, odd (default 7)"),
        ("--pooling", "maxpool or avgpool (default maxpool)"),
        ("--kv_cache_granularity", "query_head or kv_head: which heads the cache stores (default query_head)"),
        ("--gqa_score_agg", "mean, max or sum: reduction of query-head scores per KV head in kv_head mode (default mean)"),
        ("--merge", "pivot or weighted: merge dropped tokens into kept ones (snapkv, pyramidkv, h2o, streamingllm)"),
        ("--floor", "AdaKV floor ratio in [0, 1] (default 0.2)"),
        ("--pyramid_beta", "PyramidKV beta, > 0 (default 20)"),
        ("--head_path", "HeadKV head-score table (JSON, \"layer-head\" keys)"),
        ("--head_beta", "HeadKV beta, >= 1 (default 1.01)"),
        ("--pruning_ratio", "ThinK fraction of key channels pruned, in [0, 1) (default 0.4)"),
        ("--recent_size", "ThinK most recent tokens kept at full key width (default 32)"),
        ("--start_size", "StreamingLLM sink tokens (default 4)"),
        ("--seed", "seed of CAM's random merge draws (default 42)"),
        ("--compress_during_decode", "keep the cache at the budget while generating (h2o, streamingllm, snapkv, pyramidkv)"),
        ("--decode_compress_interval", "decode steps between evictions with --compress_during_decode (default 16)"),
    ]

    /// Parses the policy flags out of `arguments` ("--flag value" or "--flag=value"), removing them and leaving
    /// every other token in place. A flag given twice takes its last value, as with Python's argparse.
    public static func parse(_ arguments: inout [String]) throws -> PolicyOptions {
        var options = PolicyOptions()
        var remaining: [String] = []
        var index = 0
        while index < arguments.count {
            let token = arguments[index]
            index += 1
            guard token.hasPrefix("--") else {
                remaining.append(token)
                continue
            }
            var flag = token
            var inlineValue: String?
            if let equals = token.firstIndex(of: "=") {
                flag = String(token[..<equals])
                inlineValue = String(token[token.index(after: equals)...])
            }
            guard knownFlags.contains(flag) else {
                remaining.append(token)
                continue
            }

            if flag == "--compress_during_decode" {
                if let inlineValue {
                    options.compressDuringDecode = try parseBool(inlineValue, flag: flag)
                } else if index < arguments.count, let value = boolLiteral(arguments[index]) {
                    options.compressDuringDecode = value
                    index += 1
                } else {
                    options.compressDuringDecode = true
                }
                continue
            }

            let value: String
            if let inlineValue {
                value = inlineValue
            } else {
                guard index < arguments.count, !isFlag(arguments[index]) else { throw PolicyError.missingValue(flag: flag) }
                value = arguments[index]
                index += 1
            }
            try options.assign(flag: flag, value: value)
        }
        arguments = remaining
        return options
    }

    static let knownFlags: Set<String> = Set(flagHelp.map(\.flag) + ["--max_capacity_prompt"])

    /// A value such as "-1" or "-0.5" is not a flag; only "--name" tokens are.
    private static func isFlag(_ token: String) -> Bool {
        token.hasPrefix("--")
    }

    private static func boolLiteral(_ token: String) -> Bool? {
        switch token.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: return nil
        }
    }

    private static func parseBool(_ value: String, flag: String) throws -> Bool {
        guard let parsed = boolLiteral(value) else {
            throw PolicyError.invalidValue(flag: flag, value: value, expected: "true or false")
        }
        return parsed
    }

    private static func parseInt(_ value: String, flag: String) throws -> Int {
        guard let parsed = Int(value) else {
            throw PolicyError.invalidValue(flag: flag, value: value, expected: "an integer")
        }
        return parsed
    }

    private static func parseDouble(_ value: String, flag: String) throws -> Double {
        guard let parsed = Double(value), parsed.isFinite else {
            throw PolicyError.invalidValue(flag: flag, value: value, expected: "a finite number")
        }
        return parsed
    }

    private static func parseChoice<T: RawRepresentable & CaseIterable>(_ value: String, flag: String, as type: T.Type) throws -> T
    where T.RawValue == String {
        guard let parsed = T(rawValue: value.lowercased()) else {
            let choices = T.allCases.map(\.rawValue).joined(separator: " or ")
            throw PolicyError.invalidValue(flag: flag, value: value, expected: choices)
        }
        return parsed
    }

    private mutating func assign(flag: String, value: String) throws {
        switch flag {
        case "--method":
            guard let spec = MethodRegistry.spec(named: value) else { throw PolicyError.unknownMethod(value) }
            method = spec.name
        case "--max_capacity_prompts", "--max_capacity_prompt":
            let budget = try Self.parseInt(value, flag: flag)
            // -1 is the reference runners' spelling of "no explicit budget, use the ratio".
            maxCapacityPrompts = budget == -1 ? nil : budget
        case "--max_capacity_prompts_ratio":
            let ratio = try Self.parseDouble(value, flag: flag)
            maxCapacityPromptsRatio = ratio == -1 ? nil : ratio
        case "--window_size": windowSize = try Self.parseInt(value, flag: flag)
        case "--kernel_size": kernelSize = try Self.parseInt(value, flag: flag)
        case "--pooling": pooling = try Self.parseChoice(value, flag: flag, as: Pooling.self)
        case "--kv_cache_granularity": granularity = try Self.parseChoice(value, flag: flag, as: CacheGranularity.self)
        case "--gqa_score_agg": gqaScoreAggregation = try Self.parseChoice(value, flag: flag, as: GroupAggregation.self)
        case "--merge":
            // The reference shell wrappers pass "none" to mean no merge.
            merge = value.lowercased() == "none" ? nil : try Self.parseChoice(value, flag: flag, as: MergeMode.self)
        case "--floor": floor = try Self.parseDouble(value, flag: flag)
        case "--pyramid_beta": pyramidBeta = try Self.parseDouble(value, flag: flag)
        case "--head_path": headPath = value
        case "--head_beta": headBeta = try Self.parseDouble(value, flag: flag)
        case "--pruning_ratio": pruningRatio = try Self.parseDouble(value, flag: flag)
        case "--recent_size": recentSize = try Self.parseInt(value, flag: flag)
        case "--start_size": startSize = try Self.parseInt(value, flag: flag)
        case "--seed":
            guard let parsed = UInt64(value) else {
                throw PolicyError.invalidValue(flag: flag, value: value, expected: "a non-negative integer")
            }
            seed = parsed
        case "--decode_compress_interval": decodeCompressInterval = try Self.parseInt(value, flag: flag)
        default:
            preconditionFailure("flag \(flag) is listed in knownFlags but not handled")
        }
    }
}

// MARK: - Validation

extension PolicyOptions {
    /// Rejects invalid values and combinations with the reason. With `promptLength`, it also checks the budget
    /// that a ratio gives for that prompt.
    public func validate(promptLength: Int? = nil) throws {
        guard let spec else { throw PolicyError.unknownMethod(method) }

        try validateRanges()
        try validateCombinations(spec)

        if let budget = maxCapacityPrompts {
            try spec.checkBudget(budget, options: self)
        } else if let promptLength, maxCapacityPromptsRatio != nil {
            try spec.checkBudget(budget(forPromptLength: promptLength), options: self)
        } else if maxCapacityPromptsRatio == nil {
            try spec.checkBudget(Self.defaultBudget, options: self)
        }
    }

    private func validateRanges() throws {
        if let budget = maxCapacityPrompts, budget < 1 {
            throw PolicyError.invalidValue(flag: "--max_capacity_prompts", value: String(budget), expected: "a positive integer or -1")
        }
        if let ratio = maxCapacityPromptsRatio, !(ratio > 0 && ratio <= 1) {
            throw PolicyError.invalidValue(flag: "--max_capacity_prompts_ratio", value: String(ratio), expected: "a fraction in (0, 1]")
        }
        if windowSize < 1 {
            throw PolicyError.invalidValue(flag: "--window_size", value: String(windowSize), expected: "a positive integer")
        }
        // An even kernel makes the padded pooling return n - w + 1 scores, so the reference could select a
        // window token twice.
        if kernelSize < 1 || kernelSize % 2 == 0 {
            throw PolicyError.invalidValue(flag: "--kernel_size", value: String(kernelSize), expected: "an odd positive integer")
        }
        if !(floor >= 0 && floor <= 1) {
            throw PolicyError.invalidValue(flag: "--floor", value: String(floor), expected: "a ratio in [0, 1]")
        }
        if !(pyramidBeta > 0) {
            throw PolicyError.invalidValue(flag: "--pyramid_beta", value: String(pyramidBeta), expected: "a positive number")
        }
        if !(headBeta >= 1) {
            throw PolicyError.invalidValue(flag: "--head_beta", value: String(headBeta), expected: "a number >= 1")
        }
        if !(pruningRatio >= 0 && pruningRatio < 1) {
            throw PolicyError.invalidValue(flag: "--pruning_ratio", value: String(pruningRatio), expected: "a ratio in [0, 1)")
        }
        if recentSize < 0 {
            throw PolicyError.invalidValue(flag: "--recent_size", value: String(recentSize), expected: "a non-negative integer")
        }
        if startSize < 1 {
            throw PolicyError.invalidValue(flag: "--start_size", value: String(startSize), expected: "a positive integer")
        }
        if decodeCompressInterval < 1 {
            throw PolicyError.invalidValue(flag: "--decode_compress_interval", value: String(decodeCompressInterval), expected: "a positive integer")
        }
    }

    private func validateCombinations(_ spec: MethodSpec) throws {
        if maxCapacityPrompts != nil && maxCapacityPromptsRatio != nil {
            throw PolicyError.invalidCombination("--max_capacity_prompts and --max_capacity_prompts_ratio cannot be combined; give one of them (or --max_capacity_prompts -1 with the ratio)")
        }
        if granularity == .kvHead && !spec.supportsKVHead {
            throw PolicyError.invalidCombination("\(spec.referenceSpelling) does not support --kv_cache_granularity kv_head because its channel pruning is defined per query head; use query_head")
        }
        if merge != nil && !spec.supportsMerge {
            throw PolicyError.invalidCombination("--merge is not supported by \(spec.referenceSpelling); it applies only to snapkv, pyramidkv, h2o and streamingllm")
        }
        if compressDuringDecode {
            guard spec.decodeRule != nil else {
                throw PolicyError.invalidCombination("--compress_during_decode is not defined for \(spec.referenceSpelling): \(spec.decodeRejection)")
            }
            if merge != nil {
                throw PolicyError.invalidCombination("--merge cannot be combined with --compress_during_decode, because decode-time eviction drops tokens without merging them; drop one of the two flags")
            }
        }
    }
}

// MARK: - Run metadata

extension PolicyOptions {
    /// The options that can change this method's output, with reference flag names as keys and canonical values,
    /// for hashing into run metadata. Options that the method ignores are left out, so they do not split runs.
    public var resultAffectingDescription: [String: String] {
        var description: [String: String] = ["method": spec?.referenceSpelling ?? method]
        guard let spec, spec.name != "fullkv" else { return description }

        if let ratio = maxCapacityPromptsRatio {
            description["max_capacity_prompts_ratio"] = String(ratio)
        } else {
            description["max_capacity_prompts"] = String(maxCapacityPrompts ?? Self.defaultBudget)
        }
        description["kv_cache_granularity"] = granularity.rawValue
        if granularity == .kvHead { description["gqa_score_agg"] = gqaScoreAggregation.rawValue }
        if spec.usesObservationWindow { description["window_size"] = String(windowSize) }
        if spec.usesPooling {
            description["kernel_size"] = String(kernelSize)
            description["pooling"] = pooling.rawValue
        }
        if let merge { description["merge"] = merge.rawValue }
        switch spec.name {
        case "pyramidkv": description["pyramid_beta"] = String(pyramidBeta)
        case "adakv": description["floor"] = String(floor)
        case "headkv":
            description["head_path"] = headPath ?? ""
            description["head_beta"] = String(headBeta)
        case "think":
            description["pruning_ratio"] = String(pruningRatio)
            description["recent_size"] = String(recentSize)
        case "streamingllm": description["start_size"] = String(startSize)
        case "cam": description["seed"] = String(seed)
        default: break
        }
        if compressDuringDecode {
            description["compress_during_decode"] = "true"
            description["decode_compress_interval"] = String(decodeCompressInterval)
        }
        return description
    }
}
