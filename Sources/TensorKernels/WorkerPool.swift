#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A fixed set of worker threads that run the items of one parallel loop at a time.
///
/// A loop given as a C function and a context pointer performs no heap allocation, so the decode step can
/// run in parallel without allocating (`DispatchQueue.concurrentPerform` and `withoutActuallyEscaping`
/// both allocate). Workers spin briefly after a loop before they sleep on a condition variable, because
/// decode starts a new loop every few dozen microseconds. The calling thread takes part in every loop as
/// worker 0.
final class WorkerPool: @unchecked Sendable {
    /// The body of a loop: called with the loop's context, the worker number and the item.
    typealias Function = @convention(c) (_ context: UnsafeRawPointer, _ worker: Int, _ item: Int) -> Void

    /// Threads besides the caller.
    let helperCount: Int

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workStarted = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let workFinished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Increments when a loop starts; helpers compare it with the last loop they joined.
    private let generation = Atomic<Int>(0)
    /// The next unclaimed item of the current loop.
    private let nextItem = Atomic<Int>(0)
    /// Set while a loop runs, so a loop started from inside a loop runs inline instead of deadlocking.
    private let busy = Atomic<Bool>(false)
    // Guarded by `mutex`.
    private var function: Function?
    private var context: UnsafeRawPointer?
    private var itemCount = 0
    private var participants = 0
    private var running = 0

    /// Spin iterations of an idle helper before it sleeps (a few tens of microseconds).
    private static let spinIterations = 20_000

    init(helpers: Int) {
        helperCount = helpers
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(workStarted, nil)
        pthread_cond_init(workFinished, nil)
        for index in 0..<helpers {
            let context = Unmanaged.passRetained(HelperContext(pool: self, worker: index + 1)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<HelperContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.helperLoop(worker: context.worker)
                return nil
            }, context)
            precondition(status == 0, "pthread_create failed with status \(status)")
            pthread_detach(thread)
        }
    }

    /// Returns the shared pool, grown to at least `threads - 1` helpers on first use with that many threads.
    static func shared(threads: Int) -> WorkerPool {
        sharedLock.lock()
        defer { sharedLock.unlock() }
        if let pool = sharedPool, pool.helperCount >= threads - 1 { return pool }
        // A larger pool replaces the smaller one; the old helpers stay asleep for the life of the process.
        let pool = WorkerPool(helpers: max(threads - 1, sharedPool?.helperCount ?? 0))
        sharedPool = pool
        return pool
    }

    private static let sharedLock = PoolLock()
    nonisolated(unsafe) private static var sharedPool: WorkerPool?

    /// Calls `function(context, worker, item)` for every item in `0..<count` on up to `threads` threads, the
    /// caller included. Workers claim items one at a time, and `worker` is below `threads`.
    func run(_ count: Int, threads: Int, context: UnsafeRawPointer, function: Function) {
        let helpers = min(helperCount, threads - 1, count - 1)
        guard helpers > 0, !busy.exchange(true, ordering: .acquiring) else {
            for item in 0..<count { function(context, 0, item) }
            return
        }
        pthread_mutex_lock(mutex)
        self.function = function
        self.context = context
        itemCount = count
        participants = helpers
        running = helpers
        nextItem.store(0, ordering: .relaxed)
        generation.add(1, ordering: .releasing)
        pthread_cond_broadcast(workStarted)
        pthread_mutex_unlock(mutex)

        claimItems(worker: 0, count: count, context: context, function: function)

        pthread_mutex_lock(mutex)
        while running > 0 { pthread_cond_wait(workFinished, mutex) }
        self.function = nil
        self.context = nil
        pthread_mutex_unlock(mutex)
        busy.store(false, ordering: .releasing)
    }

    /// Calls `body(worker, item)` for every item in `0..<count`, like `run(_:threads:context:function:)`.
    /// Passing a closure to other threads allocates its context on the heap.
    func run(_ count: Int, threads: Int, _ body: (_ worker: Int, _ item: Int) -> Void) {
        withoutActuallyEscaping(body) { body in
            withUnsafePointer(to: body) { pointer in
                run(count, threads: threads, context: UnsafeRawPointer(pointer)) { context, worker, item in
                    context.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(worker, item)
                }
            }
        }
    }

    private func claimItems(worker: Int, count: Int, context: UnsafeRawPointer, function: Function) {
        while true {
            let item = nextItem.add(1, ordering: .relaxed).oldValue
            if item >= count { return }
            function(context, worker, item)
        }
    }

    private func helperLoop(worker: Int) {
        // Start from the pool's first generation, not the current one: a loop may start before this thread runs.
        var seen = 0
        while true {
            // Spin for a new loop, then sleep until one starts.
            var spins = 0
            while generation.load(ordering: .acquiring) == seen, spins < Self.spinIterations { spins += 1 }
            pthread_mutex_lock(mutex)
            while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(workStarted, mutex) }
            seen = generation.load(ordering: .acquiring)
            // Helpers numbered above this loop's participants sit it out.
            let joins = worker <= participants
            pthread_mutex_unlock(mutex)
            guard joins else { continue }

            work(worker: worker)

            pthread_mutex_lock(mutex)
            running -= 1
            if running == 0 { pthread_cond_signal(workFinished) }
            pthread_mutex_unlock(mutex)
        }
    }

    /// Claims items of the current loop.
    private func work(worker: Int) {
        pthread_mutex_lock(mutex)
        let function = self.function
        let context = self.context
        let count = itemCount
        pthread_mutex_unlock(mutex)
        if let function, let context { claimItems(worker: worker, count: count, context: context, function: function) }
    }

    private final class HelperContext {
        let pool: WorkerPool
        let worker: Int
        init(pool: WorkerPool, worker: Int) {
            self.pool = pool
            self.worker = worker
        }
    }
}

/// A plain mutex for the shared-pool registry.
final class PoolLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(mutex, nil) }
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}
