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
    static func parse(_ arguments: inout [String], command: String) throws -> PolicyOptions {
        do {
            return try PolicyOptions.parse(&arguments)
        } catch let error as PolicyError {
            throw UsageError(message: error.description, command: command)
        }
    }

    /// Builds the policy for one sequence of `promptLength` tokens, or nil for FullKV.
    static func makePolicy(_ options: PolicyOptions, config: ModelConfig, promptLength: Int, sampleID: UInt64) throws -> CachePolicy? {
        try options.validate(promptLength: promptLength)
        return try MethodRegistry.makePolicy(options: options, layerCount: config.blockCount, queryHeads: config.headCount,
                                             kvHeads: config.kvHeadCount, headDim: config.headDim, sampleID: sampleID)
    }
}
