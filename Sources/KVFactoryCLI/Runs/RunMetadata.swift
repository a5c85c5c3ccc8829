import Cluster
import Foundation

/// The commit of the source tree the binary was built in, from git when it is installed.
struct SourceRevision: Codable, Equatable {
    /// Full commit hash, or nil when no git repository was found.
    var commit: String?
    /// Whether tracked files differed from that commit; nil when unknown.
    var dirty: Bool?

    static func current(repository: URL = Defaults.repositoryRoot) -> SourceRevision {
        guard let commit = runGit(["rev-parse", "HEAD"], in: repository)?.trimmingCharacters(in: .whitespacesAndNewlines),
              commit.count == 40 else {
            return SourceRevision(commit: nil, dirty: nil)
        }
        let status = runGit(["status", "--porcelain", "--untracked-files=no"], in: repository)
        return SourceRevision(commit: commit, dirty: status.map { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty })
    }

    /// Returns git's standard output, or nil when git is missing or fails.
    private static func runGit(_ arguments: [String], in directory: URL) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", directory.path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return nil
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}

/// The model file a run used.
struct ModelFileInfo: Codable, Equatable {
    var fileName: String
    var path: String
    var sizeBytes: Int
    var sha256: String

    enum CodingKeys: String, CodingKey {
        case fileName = "file_name"
        case path
        case sizeBytes = "size_bytes"
        case sha256
    }

    static func describe(path: String) throws -> ModelFileInfo {
        let url = URL(fileURLWithPath: path)
        let attributes = try? FileManager.default.attributesOfItem(atPath: url.resolvingSymlinksInPath().path)
        return ModelFileInfo(fileName: url.lastPathComponent, path: url.standardizedFileURL.path,
                             sizeBytes: (attributes?[.size] as? NSNumber)?.intValue ?? 0,
                             sha256: try StreamingSHA256.hexDigest(ofFile: path))
    }
}

/// Counts of the work items of one run.
struct ItemCounts: Codable, Equatable {
    var total: Int
    /// Items already in the results journal when this session started.
    var recordedBefore: Int
    var succeeded: Int = 0
    var failed: Int = 0

    enum CodingKeys: String, CodingKey {
        case total
        case recordedBefore = "recorded_before"
        case succeeded = "succeeded_now"
        case failed = "failed_now"
    }
}

/// One invocation of a run: a first run, or a resume of it.
struct RunSession: Codable, Equatable {
    var arguments: [String]
    var gitCommit: String?
    var gitDirty: Bool?
    var versions: LibraryVersions
    var world: WorldInfo
    var startedAt: String
    var finishedAt: String?
    var wallSeconds: Double?
    var items: ItemCounts
    /// Stages, layer split and activation traffic of a pipeline-parallel job; absent for one stage.
    var pipeline: PipelineMetadata?

    enum CodingKeys: String, CodingKey {
        case pipeline
        case arguments
        case gitCommit = "git_commit"
        case gitDirty = "git_dirty"
        case versions, world
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case wallSeconds = "wall_seconds"
        case items
    }
}

/// `run_meta.json`: what produced a run's results, so that they can be traced and reproduced.
///
/// The file describes the latest session at the top level, next to the options that affect results
/// and their hash. Sessions of earlier invocations of the same run (resumes) are kept in
/// `earlier_sessions`, oldest first.
struct RunMetadata {
    static let fileName = "run_meta.json"
    static let formatVersion = 1

    var command: String
    var run: String
    var optionsHash: String
    var resultOptions: [String: String]
    var model: ModelFileInfo
    /// Deliberate differences from the reference implementation that apply to this run.
    var deviations: [String]
    var session: RunSession
    /// Earlier sessions as stored, oldest first.
    var earlierSessions: [Any] = []

    /// Reads the sessions of an existing run_meta.json in `directory`, so that a resume keeps them.
    mutating func loadEarlierSessions(directory: URL) {
        let url = directory.appendingPathComponent(Self.fileName)
        guard let data = try? Data(contentsOf: url),
              let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }
        var sessions = document["earlier_sessions"] as? [Any] ?? []
        var previous: [String: Any] = [:]
        for key in ["arguments", "git_commit", "git_dirty", "versions", "world", "started_at", "finished_at",
                    "wall_seconds", "items"] {
            if let value = document[key] { previous[key] = value }
        }
        if !previous.isEmpty { sessions.append(previous) }
        earlierSessions = sessions
    }

    func write(directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var document = try JSONSerialization.jsonObject(with: try encoder.encode(session)) as? [String: Any] ?? [:]
        if session.finishedAt == nil {
            document["finished_at"] = NSNull()
            document["wall_seconds"] = NSNull()
        }
        document["format"] = Self.formatVersion
        document["command"] = command
        document["run"] = run
        document["options_hash"] = optionsHash
        document["result_options"] = resultOptions
        document["model"] = try JSONSerialization.jsonObject(with: try encoder.encode(model))
        document["deviations"] = deviations
        document["earlier_sessions"] = earlierSessions
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try writeFileAtomically(data + Data("\n".utf8), to: directory.appendingPathComponent(Self.fileName).path)
    }

    /// UTC time in ISO 8601 with seconds, such as 2025-01-31T12:00:00Z.
    static func timestamp(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
