import Foundation
import KVPolicies
import Modeling

/// Helpers for the commands that accept the policy-engine options (`--method`, `--max_capacity_prompts`, …).
enum PolicySupport {
    /// Help lines for the policy options, in the layout of `helpText`.
    static var helpSpecs: [OptionSpec] {
        PolicyOptions.flagHelp.map { OptionSpec.value(String($0.flag.dropFirst(2)), "VALUE", $0.help) }
    }

    /// Splits the policy options out of `arguments`; the rest stays for the command's own parser.
    ///
    /// HeadKV without `--head_path` gets the committed table of the model that `--model_path` (or the default
    /// model) names, when `heads/` has one. Without a table, `MethodRegistry.makePolicy` rejects HeadKV with a
    /// message that names `kvfactory headscores`.
    static func parse(_ arguments: inout [String], command: String) throws -> PolicyOptions {
        var options: PolicyOptions
        do {
            options = try PolicyOptions.parse(&arguments)
        } catch let error as PolicyError {
            throw UsageError(message: error.description, command: command)
        }
        if options.method == "headkv" && options.headPath == nil {
            let modelPath = modelPathArgument(arguments) ?? Defaults.modelPath
            options.headPath = HeadScoresCommand.defaultTablePath(modelPath: modelPath)
        }
        return options
    }

    /// Returns the value of `--model_path` among the command's own arguments, if given.
    private static func modelPathArgument(_ arguments: [String]) -> String? {
        var value: String?
        for (index, argument) in arguments.enumerated() {
            if argument.hasPrefix("--model_path=") {
                value = String(argument.dropFirst("--model_path=".count))
            } else if argument == "--model_path", index + 1 < arguments.count {
                value = arguments[index + 1]
            }
        }
        return value
    }

    /// Per-layer cache bytes in one phrase for logs: "per layer 1.2 MiB" when all layers agree, else the range.
    static func perLayerSummary(_ bytesPerLayer: [Int]) -> String {
        guard let smallest = bytesPerLayer.min(), let largest = bytesPerLayer.max() else { return "no layers" }
        if smallest == largest { return "per layer \(formatBytes(smallest))" }
        return "per layer \(formatBytes(smallest)) to \(formatBytes(largest))"
    }

    /// Builds the policy for one sequence of `promptLength` tokens, or nil for FullKV.
    static func makePolicy(_ options: PolicyOptions, config: ModelConfig, promptLength: Int, sampleID: UInt64) throws -> CachePolicy? {
        try options.validate(promptLength: promptLength)
        return try MethodRegistry.makePolicy(options: options, layerCount: config.blockCount, queryHeads: config.headCount,
                                             kvHeads: config.kvHeadCount, headDim: config.headDim, sampleID: sampleID)
    }
}
