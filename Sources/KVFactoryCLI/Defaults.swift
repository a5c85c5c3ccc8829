import Foundation

/// Locations and defaults shared by the subcommands.
enum Defaults {
    static let modelFileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// The repository checkout the binary was built in: `.build/<configuration>/kvfactory` sits two levels
    /// below it. Falls back to the working directory.
    static var repositoryRoot: URL {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var candidate = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("Package.swift").path) {
                return candidate
            }
            candidate = candidate.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }

    /// The model that scripts/setup.sh installs, unless KVFACTORY_MODEL names another file.
    static var modelPath: String {
        if let path = ProcessInfo.processInfo.environment["KVFACTORY_MODEL"], !path.isEmpty { return path }
        let local = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("models/\(modelFileName)")
        if FileManager.default.fileExists(atPath: local.path) { return local.path }
        return repositoryRoot.appendingPathComponent("models/\(modelFileName)").path
    }

    /// The essays that scripts/setup.sh installs.
    static var haystackDirectory: String {
        let local = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("data/PaulGrahamEssays")
        if FileManager.default.fileExists(atPath: local.path) { return local.path }
        return repositoryRoot.appendingPathComponent("data/PaulGrahamEssays").path
    }

    /// MPI ranks that share this node, from the launcher's environment (1 without a launcher).
    static var ranksOnNode: Int {
        let environment = ProcessInfo.processInfo.environment
        for key in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"] {
            if let raw = environment[key], let value = Int(raw), value > 0 { return value }
        }
        return 1
    }

    /// Default thread count: all cores, divided by the MPI ranks on this node, at least 1.
    static var threads: Int {
        max(1, ProcessInfo.processInfo.activeProcessorCount / ranksOnNode)
    }
}

/// Option specs that several subcommands share.
enum CommonOptions {
    static let modelPath = OptionSpec.value("model_path", "FILE", "GGUF model file (default: the model scripts/setup.sh installs)")
    static let threads = OptionSpec.value("threads", "N", "compute threads (default: all cores divided by the MPI ranks on this node)")
}

/// Writes `data` to `path` through a temporary file and a rename, so readers never see a partial file.
func writeAtomically(_ data: Data, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent()
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    do {
        try data.write(to: temporary)
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw CommandFailure(message: "cannot write \(path): \(error.localizedDescription)")
    }
    // rename(2) replaces an existing file atomically. FileManager.replaceItemAt fails on Linux when the target
    // exists and removes the target in the process.
    guard rename(temporary.path, url.path) == 0 else {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: temporary)
        throw CommandFailure(message: "cannot write \(path): \(reason)")
    }
}

/// Prints to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
