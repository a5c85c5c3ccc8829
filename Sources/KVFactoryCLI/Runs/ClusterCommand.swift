import Cluster
import Foundation

/// Runs a command body under MPI when mpirun started the process, and alone otherwise.
enum ClusterCommand {
    /// Initializes MPI, runs `body` and finalizes MPI.
    ///
    /// An error reaches the caller (which prints it and exits) on rank 0 only. The other ranks exit with
    /// the same code without printing, since every rank detects invalid arguments and each message would
    /// otherwise appear once per rank. `body` must throw on every rank or on none, as `RunDriver` does.
    static func run(_ body: (MPIContext) throws -> Void) throws {
        let context = try MPIContext.initialize()
        do {
            try body(context)
        } catch {
            try? context.finalize()
            if context.isCoordinator { throw error }
            exit(error is UsageError ? 2 : 1)
        }
        try context.finalize()
    }
}
