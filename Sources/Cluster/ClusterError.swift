import Foundation

/// A failed MPI call: the function, the error code it returned and Open MPI's text for that code.
public struct MPIError: Error, CustomStringConvertible, Equatable {
    public let function: String
    public let code: Int32
    public let message: String

    public var description: String {
        "\(function) failed with MPI error code \(code) (\(message))"
    }
}

/// Errors of the cluster layer that are not a failed MPI call.
public enum ClusterError: Error, CustomStringConvertible, Equatable {
    /// A point-to-point or collective operation was called in a process that was not started by mpirun.
    case notLaunchedByMPI(operation: String)
    /// MPI was already finalized in this process, so no further MPI call is allowed.
    case alreadyFinalized(operation: String)
    case invalidRank(Int, size: Int)
    case invalidTag(Int32, maximum: Int32)
    case messageTooLarge(bytes: Int)
    /// A wait for a peer ended without a response; `peer` is nil for collectives.
    case timedOut(operation: String, peer: Int?, seconds: Double)
    /// A message whose contents do not match the scheduler's protocol.
    case malformedMessage(source: Int, tag: Int32, reason: String)
    case duplicateItemID(String)
    case invalidItemCost(id: String, cost: Double)
    /// A step that only rank 0 runs failed there; the text is rank 0's error.
    case coordinatorFailed(String)
    /// The worker ranks of a schedule must be distinct ranks of the world and include rank 0.
    case invalidWorkers([Int], size: Int)
    case invalidSlots(Int)

    public var description: String {
        switch self {
        case .notLaunchedByMPI(let operation):
            return "\(operation) needs other ranks, but this process was not started by mpirun; "
                + "launch it with 'mpirun -np N ...'"
        case .alreadyFinalized(let operation):
            return "\(operation) was called after MPI_Finalize; finalize the MPI context only once, at the end of the run"
        case .invalidRank(let rank, let size):
            return "rank \(rank) is out of range for a communicator of size \(size); use a rank in 0..<\(size)"
        case .invalidTag(let tag, let maximum):
            return "message tag \(tag) is invalid; MPI tags must be in 0...\(maximum)"
        case .messageTooLarge(let bytes):
            return "message of \(bytes) bytes exceeds the MPI count limit of \(Int32.max) bytes; split it into smaller messages"
        case .timedOut(let operation, let peer, let seconds):
            let peerText = peer.map { " from rank \($0)" } ?? ""
            return "\(operation) timed out: no response\(peerText) within \(formatSeconds(seconds)) s"
        case .malformedMessage(let source, let tag, let reason):
            return "malformed scheduler message from rank \(source) (tag \(tag)): \(reason); "
                + "every rank must run the same kvfactory build"
        case .duplicateItemID(let id):
            return "work item id '\(id)' appears more than once; item ids must be unique"
        case .coordinatorFailed(let message):
            return "rank 0 failed: \(message)"
        case .invalidItemCost(let id, let cost):
            return "work item '\(id)' has cost \(cost); costs must be finite numbers"
        case .invalidWorkers(let workers, let size):
            return "worker ranks \(workers) are invalid for \(size) ranks; list distinct ranks in 0..<\(size), rank 0 included"
        case .invalidSlots(let slots):
            return "\(slots) items in flight per worker is invalid; use 1 or more"
        }
    }
}

func formatSeconds(_ seconds: Double) -> String {
    String(format: "%.1f", seconds)
}
