import Foundation

/// Hands work items out dynamically from rank 0 to every rank, rank 0 included, most expensive first.
///
/// Rank 0 runs a coordinator on a dedicated thread that responds to the other ranks, while the calling thread
/// runs items like any worker, so a long item on rank 0 never delays the others. The order in which items
/// are handed out is fixed by cost and id whatever the number of ranks; which rank runs an item varies.
///
/// Faults: an item whose work function throws becomes a `.failure` result and the run goes on. A worker
/// sends a heartbeat every `heartbeatInterval` seconds from a background thread; when rank 0 hears
/// nothing from a rank for `heartbeatTimeout` seconds, it writes a message naming the rank and ends the
/// job with MPI_Abort. A worker that gets no response from rank 0 within the timeout does the same. Open
/// MPI's mpirun itself ends the job within seconds when a process exits or is killed.
public final class WorkScheduler {
    public struct Configuration: Sendable {
        /// Seconds between heartbeats from each worker.
        public var heartbeatInterval: Double = 1
        /// Seconds of silence after which a rank counts as hung and the job ends.
        public var heartbeatTimeout: Double = 30
        /// Prefix of the messages written to stderr.
        public var logPrefix = "kvfactory"

        public init(heartbeatInterval: Double = 1, heartbeatTimeout: Double = 30, logPrefix: String = "kvfactory") {
            self.heartbeatInterval = heartbeatInterval
            self.heartbeatTimeout = heartbeatTimeout
            self.logPrefix = logPrefix
        }
    }

    public let context: MPIContext
    public let configuration: Configuration

    public init(context: MPIContext, configuration: Configuration = Configuration()) {
        self.context = context
        self.configuration = configuration
    }

    /// Returns the items in the order they are handed out: decreasing cost, then increasing id.
    public static func schedulingOrder(_ items: [WorkItem]) throws -> [WorkItem] {
        var seen = Set<String>()
        for item in items {
            guard item.cost.isFinite else { throw ClusterError.invalidItemCost(id: item.id, cost: item.cost) }
            guard seen.insert(item.id).inserted else { throw ClusterError.duplicateItemID(item.id) }
        }
        return items.sorted { $0.cost != $1.cost ? $0.cost > $1.cost : $0.id < $1.id }
    }

    /// Runs every item once across the worker ranks. Collective: every rank calls it.
    ///
    /// Only rank 0's `items` are used; other ranks receive their items from rank 0 and may pass an
    /// empty array. `workers` lists the ranks that run items (all ranks when nil); it must contain rank 0
    /// and be the same on every rank. A rank outside it returns at once with an empty summary, free to
    /// serve the workers in other ways, such as a pipeline stage. Each worker keeps `slots` items in
    /// flight, running `work` on `slots` threads at once (on the calling thread when `slots` is 1), so
    /// `work` must be safe to call concurrently when `slots` exceeds 1. `onResult` runs on rank 0 only,
    /// once per item, never concurrently. When `onResult` throws, rank 0 hands out no further items and
    /// drops results still arriving. Once the other ranks have stopped, rank 0 rethrows that error, while
    /// the other ranks return normally.
    public func run(items: [WorkItem], workers: [Int]? = nil, slots: Int = 1,
                    work: @escaping (WorkItem) throws -> Data,
                    onResult: @escaping (WorkResult) throws -> Void) throws -> WorkSummary {
        let ordered = context.isCoordinator ? try Self.schedulingOrder(items) : []
        let start = monotonicSeconds()
        let workerRanks = workers ?? Array(0..<context.size)
        guard workerRanks.contains(0), workerRanks.allSatisfy({ $0 >= 0 && $0 < context.size }),
              Set(workerRanks).count == workerRanks.count else {
            throw ClusterError.invalidWorkers(workerRanks, size: context.size)
        }
        guard slots >= 1 else { throw ClusterError.invalidSlots(slots) }

        if context.size == 1 {
            let recorder = ResultRecorder(size: 1)
            let queue = WorkQueue(ordered)
            try runLocally(queue: queue, slots: slots, work: work, recorder: recorder, onResult: onResult)
            return try recorder.finish(seconds: monotonicSeconds() - start)
        }

        let comm = try context.duplicate()
        defer { try? comm.free() }
        let threaded = context.threadSupport == .multiple
        if !threaded && context.isCoordinator {
            writeStandardError("\(configuration.logPrefix): MPI granted \(context.threadSupport), not "
                + "MPI_THREAD_MULTIPLE, so rank 0 only coordinates and hangs are left to mpirun\n")
        }

        if context.isCoordinator {
            let recorder = ResultRecorder(size: context.size)
            let queue = WorkQueue(ordered)
            let coordinator = Coordinator(comm: comm, queue: queue, recorder: recorder, onResult: onResult,
                                          workers: Set(workerRanks).subtracting([0]),
                                          configuration: configuration, checksLiveness: threaded)
            if threaded {
                let finished = DispatchSemaphore(value: 0)
                let thread = Thread {
                    coordinator.serve()
                    finished.signal()
                }
                thread.name = "kvfactory-coordinator"
                thread.start()
                try runLocally(queue: queue, slots: slots, work: work, recorder: recorder, onResult: onResult)
                finished.wait()
            } else {
                coordinator.serve()
            }
            return try recorder.finish(seconds: monotonicSeconds() - start)
        }

        guard workerRanks.contains(context.rank) else { return WorkSummary() }
        return try runWorker(comm: comm, slots: slots, work: work, sendsHeartbeats: threaded, start: start)
    }

    /// Runs items from the shared queue on `slots` threads until it is empty or closed.
    private func runLocally(queue: WorkQueue, slots: Int, work: @escaping (WorkItem) throws -> Data,
                            recorder: ResultRecorder, onResult: @escaping (WorkResult) throws -> Void) throws {
        Self.onThreads(slots) {
            while let item = queue.take() {
                let (seconds, outcome) = Self.perform(item, work: work)
                recorder.record(WorkResult(item: item, rank: 0, seconds: seconds, outcome: outcome), queue: queue,
                                onResult: onResult)
            }
        }
    }

    /// Runs `body` on `count` threads at once and returns when all have finished; on the calling thread
    /// when `count` is 1. Dedicated threads, not Dispatch's pool, because the bodies block on MPI for
    /// long periods and the pool may run no more of them than there are cores.
    static func onThreads(_ count: Int, _ body: @escaping () -> Void) {
        guard count > 1 else { return body() }
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            let thread = Thread {
                body()
                group.leave()
            }
            thread.name = "kvfactory-slot-\(index)"
            thread.start()
        }
        group.wait()
    }

    static func perform(_ item: WorkItem, work: (WorkItem) throws -> Data) -> (Double, WorkResult.Outcome) {
        let begin = monotonicSeconds()
        let outcome: WorkResult.Outcome
        do {
            outcome = .success(try work(item))
        } catch {
            outcome = .failure(String(describing: error))
        }
        return (monotonicSeconds() - begin, outcome)
    }

    // MARK: Worker

    private func runWorker(comm: MPIContext, slots: Int, work: @escaping (WorkItem) throws -> Data, sendsHeartbeats: Bool,
                           start: Double) throws -> WorkSummary {
        let state = WorkerState()
        let timeout = configuration.heartbeatTimeout
        let prefix = "\(configuration.logPrefix): rank \(comm.rank)"
        let heartbeatInterval = configuration.heartbeatInterval

        // Every slot requests an item. Rank 0 responds to each ready and each result with one assignment or
        // one stop, and any slot may take any response, so each slot ends after receiving one stop.
        Self.onThreads(slots) { [self] in
            do {
                try send(.ready, comm: comm)
            } catch {
                comm.abort(message: "\(prefix): asking rank 0 for work failed (\(error)); ending the job")
            }
            var heardBack = false
            while true {
                // The first response may take long while rank 0 still loads its model. After it, the
                // coordinator thread responds within milliseconds unless rank 0 is gone or hung.
                let message: MPIContext.Message
                do {
                    message = try comm.receive(from: 0, timeout: heardBack ? timeout : nil)
                } catch {
                    comm.abort(message: "\(prefix): rank 0 did not respond within \(formatSeconds(timeout)) s "
                        + "(\(error)); ending the job. Results already in the journal are kept; rerun to resume.")
                }
                heardBack = true
                if sendsHeartbeats {
                    state.startHeartbeat { Heartbeat(comm: comm, interval: heartbeatInterval, timeout: timeout) }
                }

                let decoded: SchedulerMessage
                do {
                    decoded = try SchedulerMessage(message)
                } catch {
                    comm.abort(message: "\(prefix): \(error); ending the job")
                }
                switch decoded {
                case .assign(let item):
                    let (seconds, outcome) = Self.perform(item, work: work)
                    state.count(outcome)
                    do {
                        try comm.send(SchedulerMessage.result(id: item.id, seconds: seconds, outcome: outcome).encoded(),
                                      to: 0, tag: SchedulerMessage.resultTag, timeout: timeout)
                    } catch {
                        comm.abort(message: "\(prefix): sending the result of '\(item.id)' to rank 0 failed (\(error)); "
                            + "ending the job")
                    }
                case .stop:
                    return
                default:
                    comm.abort(message: "\(prefix): unexpected message with tag \(message.tag) from rank 0; ending the job")
                }
            }
        }

        state.stopHeartbeat()
        try send(.done, comm: comm)
        var summary = state.summary
        summary.seconds = monotonicSeconds() - start
        return summary
    }

    private func send(_ message: SchedulerMessage, comm: MPIContext) throws {
        try comm.send(message.encoded(), to: 0, tag: message.tag, timeout: configuration.heartbeatTimeout)
    }
}

/// The items in scheduling order, shared by rank 0's coordinator thread and its working thread.
final class WorkQueue: @unchecked Sendable {
    private let items: [WorkItem]
    private var next = 0
    private var closed = false
    private let lock = NSLock()

    init(_ items: [WorkItem]) {
        self.items = items
    }

    func take() -> WorkItem? {
        lock.lock()
        defer { lock.unlock() }
        guard !closed, next < items.count else { return nil }
        defer { next += 1 }
        return items[next]
    }

    /// Hands out no further items.
    func close() {
        lock.lock()
        closed = true
        lock.unlock()
    }
}

/// Passes results to `onResult` one at a time and counts them.
final class ResultRecorder: @unchecked Sendable {
    private var summary: WorkSummary
    private var firstError: Error?
    private let lock = NSLock()

    init(size: Int) {
        summary = WorkSummary(itemsPerRank: Array(repeating: 0, count: size))
    }

    func record(_ result: WorkResult, queue: WorkQueue, onResult: (WorkResult) throws -> Void) {
        lock.lock()
        defer { lock.unlock() }
        if result.isSuccess { summary.succeeded += 1 } else { summary.failed += 1 }
        summary.itemsPerRank[result.rank] += 1
        guard firstError == nil else { return }
        do {
            try onResult(result)
        } catch {
            firstError = error
            queue.close()
        }
    }

    func finish(seconds: Double) throws -> WorkSummary {
        lock.lock()
        defer { lock.unlock() }
        if let firstError { throw firstError }
        summary.seconds = seconds
        return summary
    }
}

/// Sends empty heartbeat messages to rank 0 from a background thread until stopped.
final class Heartbeat: @unchecked Sendable {
    private let stopRequest = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)

    init(comm: MPIContext, interval: Double, timeout: Double) {
        let thread = Thread { [stopRequest, finished] in
            let message = SchedulerMessage.heartbeat
            while stopRequest.wait(timeout: .now() + interval) == .timedOut {
                // A failed heartbeat is not fatal here: rank 0 notices the silence and ends the job.
                try? comm.send(message.encoded(), to: 0, tag: message.tag, timeout: timeout)
            }
            finished.signal()
        }
        thread.name = "kvfactory-heartbeat"
        thread.start()
    }

    /// Stops the thread and waits until its last heartbeat was sent.
    func stop() {
        stopRequest.signal()
        finished.wait()
    }
}

/// The state that the slots of one worker share: their counts and the heartbeat thread.
final class WorkerState: @unchecked Sendable {
    private let lock = NSLock()
    private var heartbeat: Heartbeat?
    private(set) var summary = WorkSummary()

    /// Starts the heartbeat once, on the first call.
    func startHeartbeat(_ make: () -> Heartbeat) {
        lock.lock()
        defer { lock.unlock() }
        if heartbeat == nil { heartbeat = make() }
    }

    func stopHeartbeat() {
        lock.lock()
        let running = heartbeat
        heartbeat = nil
        lock.unlock()
        running?.stop()
    }

    func count(_ outcome: WorkResult.Outcome) {
        lock.lock()
        defer { lock.unlock() }
        if case .success = outcome { summary.succeeded += 1 } else { summary.failed += 1 }
    }
}
