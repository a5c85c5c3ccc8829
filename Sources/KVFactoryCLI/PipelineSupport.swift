import Cluster
import Foundation
import KVPolicies
import Modeling
import ModelFormats
import Pipeline

/// The pipeline-parallel options of the runners (`needle`, `longbench`, `sweep`) and the stage each rank runs.
enum PipelineSupport {
    static let specs: [OptionSpec] = [
        .value("pipeline_stages", "S", "split the N MPI ranks into N/S replicas of S stages, each stage holding a contiguous range of layers (default 1)"),
        .value("layer_split", "RANGES", "layers of each stage, such as 0-14,15-29 (default: balanced by parameter bytes)"),
        .value("pipeline_microbatches", "M", "samples each replica keeps in flight, so that its stages overlap (default: the stage count)"),
        .value("activation_dtype", "TYPE", "fp32, bf16 or fp16: the format of hidden states between stages (default fp32, lossless)"),
        .value("activation_compression", "KIND", "zstd or none: compression of hidden states between stages, zstd after a byte shuffle (default zstd)"),
        .value("zstd_level", "L", "zstd level of the activations (default 3)"),
    ]

    static func parse(_ options: ParsedOptions) throws -> PipelineSettings {
        var settings = PipelineSettings()
        settings.stages = try options.int("pipeline_stages", default: 1, minimum: 1)
        settings.layerSplit = options.string("layer_split")
        settings.microbatches = try options.int("pipeline_microbatches")
        if let raw = options.string("activation_dtype") {
            guard let encoding = ActivationEncoding(rawValue: raw.lowercased()) else {
                throw UsageError(message: "--activation_dtype '\(raw)' is unknown; use fp32, bf16 or fp16", command: options.command)
            }
            settings.activationEncoding = encoding
        }
        if let raw = options.string("activation_compression") {
            guard let compression = ActivationCompression(rawValue: raw.lowercased()) else {
                throw UsageError(message: "--activation_compression '\(raw)' is unknown; use zstd or none", command: options.command)
            }
            settings.activationCompression = compression
        }
        if let level = try options.int("zstd_level") {
            guard let value = Int32(exactly: level) else {
                throw UsageError(message: "--zstd_level \(level) is out of range; use a value in \(ActivationCodec.levelRange.lowerBound)...\(ActivationCodec.levelRange.upperBound)", command: options.command)
            }
            settings.zstdLevel = value
        }
        if settings.stages == 1 {
            for name in ["pipeline_microbatches", "activation_dtype", "activation_compression", "zstd_level"] where options.string(name) != nil {
                throw UsageError(message: "--\(name) needs --pipeline_stages 2 or more; without stages no activations travel "
                    + "between ranks", command: options.command)
            }
        }
        do {
            try settings.validate()
        } catch let error as PipelineError {
            throw UsageError(message: error.description, command: options.command)
        }
        return settings
    }

    /// Returns a hint for an "unknown option" error about a pipeline option in a job file, or "".
    static func jobFileHint(_ message: String) -> String {
        let named = specs.contains { message.hasSuffix("unknown option --\($0.name)") }
        return named ? "; pipeline options apply to the whole job, so pass them on the sweep command line" : ""
    }

    /// Parses the pipeline options into `driver` and returns the layers this rank loads (nil for all).
    static func configure(_ driver: RunDriver, options: ParsedOptions, modelPath: String) throws -> Range<Int>? {
        let settings = try parse(options)
        let topology = try topology(context: driver.context, settings: settings, command: options.command)
        driver.pipeline = settings
        guard topology.isPipelined else { return nil }
        let partition = try partition(modelPath: modelPath, settings: settings, command: options.command)
        driver.pipelinePartition = partition
        return partition.ranges[topology.stage]
    }

    /// This rank's place in the replicas; a usage error when the stage count does not divide the ranks.
    static func topology(context: MPIContext, settings: PipelineSettings, command: String) throws -> PipelineTopology {
        do {
            return try PipelineTopology(worldSize: context.size, rank: context.rank, stages: settings.stages)
        } catch let error as PipelineError {
            throw UsageError(message: error.description, command: command)
        }
    }

    /// Returns the layer range of every stage, from `--layer_split` or balanced by parameter bytes.
    static func partition(modelPath: String, settings: PipelineSettings, command: String) throws -> LayerPartition {
        let config = try ModelConfig(gguf: try GGUFFile(path: modelPath))
        guard settings.stages <= config.blockCount else {
            throw UsageError(message: "--pipeline_stages \(settings.stages) exceeds the \(config.blockCount) layers of \(modelPath); "
                + "use at most \(config.blockCount) stages", command: command)
        }
        do {
            if let split = settings.layerSplit {
                return try LayerPartition.parse(split, blockCount: config.blockCount, stages: settings.stages)
            }
            return try LayerPartition.balanced(config: config, stages: settings.stages)
        } catch {
            throw UsageError(message: "\(error)", command: command)
        }
    }

    /// Builds the pipeline part of run_meta.json.
    static func metadata(settings: PipelineSettings, topology: PipelineTopology, partition: LayerPartition?,
                         statistics: ActivationCodecStats?) -> PipelineMetadata {
        PipelineMetadata(
            stages: settings.stages, replicas: topology.replicas, microbatches: settings.effectiveMicrobatches,
            layerSplit: partition?.description ?? "",
            activationDtype: settings.activationEncoding.rawValue,
            activationCompression: settings.activationCompression.rawValue, zstdLevel: Int(settings.zstdLevel),
            prefillChunkTokens: PipelineSettings.prefillChunkTokens,
            activationBytesRaw: statistics?.rawBytes, activationBytesSent: statistics?.sentBytes,
            activationCompressionRatio: statistics.map { $0.sentBytes > 0 ? $0.compressionRatio : 1 },
            activationCompressionSeconds: statistics.map { $0.encodeSeconds + $0.decodeSeconds })
    }
}

/// How a job split the model across ranks and what travelled between the stages.
struct PipelineMetadata: Codable, Equatable {
    var stages: Int
    var replicas: Int
    var microbatches: Int
    /// Inclusive layer ranges of the stages, such as "0-14,15-29".
    var layerSplit: String
    var activationDtype: String
    var activationCompression: String
    var zstdLevel: Int
    var prefillChunkTokens: Int
    /// Activation bytes as fp32 and as sent, summed over all ranks; nil until the job ends.
    var activationBytesRaw: Int?
    var activationBytesSent: Int?
    /// Raw fp32 bytes per byte sent.
    var activationCompressionRatio: Double?
    /// Seconds spent encoding and decoding activations, summed over all ranks.
    var activationCompressionSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case stages, replicas, microbatches
        case layerSplit = "layer_split"
        case activationDtype = "activation_dtype"
        case activationCompression = "activation_compression"
        case zstdLevel = "zstd_level"
        case prefillChunkTokens = "prefill_chunk_tokens"
        case activationBytesRaw = "activation_bytes_raw"
        case activationBytesSent = "activation_bytes_sent"
        case activationCompressionRatio = "activation_compression_ratio"
        case activationCompressionSeconds = "activation_compression_seconds"
    }
}

/// An engine that one rank's runs share, whose model a pipeline stage may hold only in part.
protocol PipelineEngine: AnyObject {
    var model: TransformerModel { get }
    /// Set by `RunDriver` when the job runs with 2 or more stages.
    var pipeline: PipelineRuntime? { get set }
}
