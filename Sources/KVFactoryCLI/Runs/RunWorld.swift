import Cluster
import Foundation

/// One rank of a job: where it runs and how many compute threads it uses.
struct RankInfo: Codable, Equatable {
    var rank: Int
    var host: String
    var pid: Int32
    var threads: Int
}

/// The ranks of a job and the hosts they run on.
struct WorldInfo: Codable, Equatable {
    var size: Int
    /// False when the binary ran alone, without mpirun.
    var usesMPI: Bool
    var threadSupport: String
    var ranks: [RankInfo]
    /// Host name to the ranks on it, in rank order.
    var hosts: [String: [Int]]

    enum CodingKeys: String, CodingKey {
        case size
        case usesMPI = "mpi"
        case threadSupport = "mpi_thread_support"
        case ranks, hosts
    }

    /// Message tag of the readiness reports, on a duplicate communicator of its own.
    private static let reportTag: Int32 = 7

    private struct Report: Codable {
        var info: RankInfo
        /// Why this rank cannot run the job, such as a model file missing on its host.
        var error: String?
        /// The command of the error when it is a `UsageError`, so that every rank exits with code 2.
        var usageCommand: String?
    }

    /// Collects every rank's host, pid and thread count, and whether it is ready. Collective.
    ///
    /// Each rank passes the error that stopped its preparation, if any. When any rank reports one, every
    /// rank throws the same `CommandFailure` naming the rank and host, so that all ranks stop together
    /// instead of waiting for work from a rank that never starts.
    static func gather(context: MPIContext, threads: Int, preparationError: Error?) throws -> WorldInfo {
        let mine = Report(info: RankInfo(rank: context.rank, host: hostName(), pid: getpid(), threads: threads),
                          error: preparationError.map { String(describing: $0) },
                          usageCommand: (preparationError as? UsageError)?.command)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]

        var reports = [mine]
        if context.size > 1 {
            let comm = try context.duplicate()
            defer { try? comm.free() }
            if context.isCoordinator {
                for _ in 1..<context.size {
                    let message = try comm.receive(tag: reportTag)
                    reports.append(try JSONDecoder().decode(Report.self, from: Data(message.bytes)))
                }
                reports.sort { $0.info.rank < $1.info.rank }
            } else {
                try comm.send(Array(try encoder.encode(mine)), to: 0, tag: reportTag)
            }
            let shared = try comm.broadcast(context.isCoordinator ? Array(try encoder.encode(reports)) : [], root: 0)
            reports = try JSONDecoder().decode([Report].self, from: Data(shared))
        }

        if let failed = reports.first(where: { $0.error != nil }) {
            if failed.info.rank == context.rank, let preparationError { throw preparationError }
            if let command = failed.usageCommand {
                throw UsageError(message: "rank \(failed.info.rank): \(failed.error!)", command: command)
            }
            throw CommandFailure(message: "rank \(failed.info.rank) on host \(failed.info.host) failed before the run "
                + "started: \(failed.error!)")
        }
        var hosts: [String: [Int]] = [:]
        for report in reports { hosts[report.info.host, default: []].append(report.info.rank) }
        return WorldInfo(size: context.size, usesMPI: context.usesMPI, threadSupport: context.threadSupport.description,
                         ranks: reports.map(\.info), hosts: hosts)
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(cString: buffer)
    }

    /// Text such as "2 ranks on 1 host (node1: ranks 0-1), 1 thread each".
    var summary: String {
        let threadCounts = Set(ranks.map(\.threads))
        let threadText = threadCounts.count == 1
            ? "\(threadCounts.first!) thread\(threadCounts.first! == 1 ? "" : "s") each"
            : "threads per rank " + ranks.map { String($0.threads) }.joined(separator: ",")
        let hostText = hosts.keys.sorted().map { host in "\(host): ranks " + hosts[host]!.map(String.init).joined(separator: ",") }
        return "\(size) rank\(size == 1 ? "" : "s") on \(hosts.count) host\(hosts.count == 1 ? "" : "s") "
            + "(\(hostText.joined(separator: "; "))), \(threadText)"
    }
}
