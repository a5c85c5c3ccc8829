import Cluster

/// Errors of the pipeline layer: invalid settings, a broken message, a failed stage.
public enum PipelineError: Error, CustomStringConvertible, Equatable {
    case invalidStageCount(stages: Int, worldSize: Int)
    case invalidSetting(String)
    case invalidMessage(String)
    /// A stage failed on one sequence; the message names the rank and the error.
    case stageFailed(String)

    public var description: String {
        switch self {
        case .invalidStageCount(let stages, let worldSize):
            return "--pipeline_stages \(stages) does not divide the \(worldSize) MPI ranks into replicas; "
                + "start a multiple of \(stages) ranks (mpirun -np \(stages), \(2 * stages), ...) or pass a divisor of \(worldSize)"
        case .invalidSetting(let message):
            return message
        case .invalidMessage(let message):
            return "invalid pipeline message: \(message); every rank must run the same kvfactory build"
        case .stageFailed(let message):
            return message
        }
    }
}

/// The role of each rank when N ranks form N/S replicas of S pipeline stages.
///
/// Rank r is stage r mod S of replica r div S. The first stage of each replica (its leader) takes samples
/// from the scheduler; rank 0 coordinates and is also the first stage of replica 0.
public struct PipelineTopology: Equatable, Sendable {
    public let worldSize: Int
    public let stages: Int
    public let rank: Int

    public init(worldSize: Int, rank: Int, stages: Int) throws {
        guard stages >= 1, worldSize >= 1, worldSize % stages == 0 else {
            throw PipelineError.invalidStageCount(stages: stages, worldSize: worldSize)
        }
        guard rank >= 0, rank < worldSize else {
            throw PipelineError.invalidSetting("rank \(rank) is outside the world of \(worldSize) ranks")
        }
        self.worldSize = worldSize
        self.stages = stages
        self.rank = rank
    }

    public var replicas: Int { worldSize / stages }
    public var stage: Int { rank % stages }
    public var replica: Int { rank / stages }
    public var isFirstStage: Bool { stage == 0 }
    public var isLastStage: Bool { stage == stages - 1 }
    public var isPipelined: Bool { stages > 1 }
    /// The rank of the first stage of this rank's replica.
    public var firstStageRank: Int { replica * stages }
    /// The rank of the last stage of this rank's replica.
    public var lastStageRank: Int { replica * stages + stages - 1 }
    /// The rank that sends this stage its hidden states; nil on a first stage.
    public var previousRank: Int? { isFirstStage ? nil : rank - 1 }
    /// The rank this stage sends its hidden states to; nil on a last stage.
    public var nextRank: Int? { isLastStage ? nil : rank + 1 }
    /// The first stage of every replica: the ranks that take samples from the scheduler.
    public var leaders: [Int] { Array(stride(from: 0, to: worldSize, by: stages)) }

    /// Stage and replica of every rank, for logs: "rank 0: replica 0 stage 0, rank 1: replica 0 stage 1".
    public var summary: String {
        (0..<worldSize).map { "rank \($0): replica \($0 / stages) stage \($0 % stages)" }.joined(separator: ", ")
    }
}

/// The pipeline options of the runners, with their command-line names.
public struct PipelineSettings: Equatable, Sendable {
    /// `--pipeline_stages`: ranks per replica.
    public var stages = 1
    /// `--layer_split`, such as "0-14,15-29"; nil balances the layers by parameter bytes.
    public var layerSplit: String?
    /// `--pipeline_microbatches`: samples each replica keeps in flight; nil means `stages`.
    public var microbatches: Int?
    /// `--activation_dtype`.
    public var activationEncoding: ActivationEncoding = .fp32
    /// `--activation_compression`.
    public var activationCompression: ActivationCompression = .zstd
    /// `--zstd_level`.
    public var zstdLevel: Int32 = ActivationCodec.defaultZstdLevel

    /// Rows of the hidden state per prefill message. Fixed, so that what travels does not depend on the topology.
    public static let prefillChunkTokens = 512

    public init() {}

    /// Samples in flight per replica.
    public var effectiveMicrobatches: Int { microbatches ?? stages }

    /// Checks the values that do not depend on the world size or the model.
    public func validate() throws {
        guard stages >= 1 else {
            throw PipelineError.invalidSetting("--pipeline_stages \(stages) must be at least 1")
        }
        if let microbatches, microbatches < 1 {
            throw PipelineError.invalidSetting("--pipeline_microbatches \(microbatches) must be at least 1")
        }
        if let microbatches, microbatches > 64 {
            throw PipelineError.invalidSetting("--pipeline_microbatches \(microbatches) exceeds 64; use 64 or fewer, because each "
                + "sample in flight holds its own KV cache on every stage")
        }
        guard ActivationCodec.levelRange.contains(zstdLevel) else {
            throw PipelineError.invalidSetting("--zstd_level \(zstdLevel) is out of range; use a value in "
                + "\(ActivationCodec.levelRange.lowerBound)...\(ActivationCodec.levelRange.upperBound)")
        }
        if layerSplit != nil && stages == 1 {
            throw PipelineError.invalidSetting("--layer_split needs --pipeline_stages 2 or more")
        }
    }
}
