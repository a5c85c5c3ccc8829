import CBLAS
import Foundation

/// Thread-count control shared by OpenBLAS and the kernels' own parallel loops.
public enum Threading {
    /// Returns the thread count to use when the user sets none: the cores this process may use, divided by the number of
    /// MPI ranks on this node so that co-located ranks do not oversubscribe the cores.
    ///
    /// The ranks per node come from `OMPI_COMM_WORLD_LOCAL_SIZE` (Open MPI) or `MPI_LOCALNRANKS` (MPICH);
    /// without either, the process counts as the only rank on its node.
    public static func defaultThreadCount(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let ranks = localRankCount(environment: environment)
        return max(1, cores / ranks)
    }

    /// Returns the MPI ranks on this node according to the launcher's environment, at least 1.
    public static func localRankCount(environment: [String: String]) -> Int {
        for key in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"] {
            if let text = environment[key], let value = Int(text), value > 0 { return value }
        }
        return 1
    }

    /// Sets the thread count of OpenBLAS's own thread pool for the whole process.
    public static func setBLASThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// OpenBLAS's current thread count.
    public static var blasThreads: Int { Int(openblas_get_num_threads()) }

    /// Runs `body` with OpenBLAS limited to one thread, then restores the previous count.
    ///
    /// Loops that call BLAS from several of their own threads use this, so the cores are not
    /// oversubscribed by OpenBLAS threads on top of the loop's threads.
    @inlinable
    public static func withSingleThreadedBLAS<Result>(_ body: () throws -> Result) rethrows -> Result {
        let previous = openblas_get_num_threads()
        if previous == 1 { return try body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(previous) }
        return try body()
    }
}

/// Parallel loops over index ranges, run on a shared pool of worker threads that allocates nothing per loop.
///
/// Each index is processed exactly once by `body`, which must write only outputs owned by that index.
/// Results are then identical for any thread count, as long as `body(i)` itself is deterministic.
public enum ParallelFor {
    /// Calls `body(index)` for every index in `0..<count`, on up to `threads` threads.
    ///
    /// Threads claim indices one at a time; with `threads <= 1` or `count <= 1` the loop runs inline.
    @inlinable
    public static func run(_ count: Int, threads: Int, _ body: (Int) -> Void) {
        if threads <= 1 || count <= 1 {
            for index in 0..<count { body(index) }
            return
        }
        runOnPool(count, threads: threads) { _, index in body(index) }
    }

    /// Calls `body(worker, index)` for every index in `0..<count`; each worker takes the next unclaimed index
    /// when it finishes one, which balances items of unequal cost.
    ///
    /// `worker` is below `threads` and selects per-worker scratch. Which worker runs an index varies from
    /// run to run, so the output of an index must not depend on the worker.
    @inlinable
    public static func runDynamic(_ count: Int, threads: Int, _ body: (_ worker: Int, _ index: Int) -> Void) {
        if threads <= 1 || count <= 1 {
            for index in 0..<count { body(0, index) }
            return
        }
        runOnPool(count, threads: threads, body)
    }

    /// Calls `function(context, worker, index)` for every index in `0..<count` on up to `threads` threads,
    /// without allocating: the hot loops of decode use this form.
    ///
    /// `function` must be a closure literal without captures (it converts to a C function pointer) that reads
    /// its inputs through `context`, for example a pointer to a local struct from `withUnsafePointer(to:)`.
    public static func run(_ count: Int, threads: Int, context: UnsafeRawPointer,
                           _ function: @convention(c) (_ context: UnsafeRawPointer, _ worker: Int, _ index: Int) -> Void) {
        if threads <= 1 || count <= 1 {
            for index in 0..<count { function(context, 0, index) }
            return
        }
        WorkerPool.shared(threads: threads).run(count, threads: threads, context: context, function: function)
    }

    @usableFromInline
    static func runOnPool(_ count: Int, threads: Int, _ body: (_ worker: Int, _ index: Int) -> Void) {
        WorkerPool.shared(threads: threads).run(count, threads: threads, body)
    }
}
