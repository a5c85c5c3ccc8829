import Cluster
import Foundation

/// Runs a command body under MPI when mpirun started the process, and alone otherwise.
enum ClusterCommand {
    /// Initializes MPI, runs `body` and finalizes MPI.
    ///
    /// Alone, an error reaches the caller, which prints it and exits. Under mpirun, rank 0 prints the error
    /// in the caller's format before the ranks finalize, and every rank exits with the caller's code (2 for
    /// a `UsageError`, else 1). Printing first matters because mpirun ends the whole job as soon as one
    /// rank exits with a non-zero code. The other ranks print nothing, since every rank detects invalid
    /// arguments and each message would otherwise appear once per rank. `body` must throw on every rank
    /// or on none, as `RunDriver` does.
    static func run(_ body: (MPIContext) throws -> Void) throws {
        let context = try MPIContext.initialize()
        do {
            try body(context)
        } catch {
            guard context.usesMPI else { throw error }
            if context.isCoordinator {
                // main.swift strips the subcommand from its arguments, but CommandLine keeps it.
                let command = CommandLine.arguments.dropFirst().first ?? "kvfactory"
                printError(error is UsageError ? "kvfactory \(command): \(error)" : "kvfactory \(command): error: \(error)")
            }
            try? context.finalize()
            exit(error is UsageError ? 2 : 1)
        }
        try context.finalize()
    }
}
