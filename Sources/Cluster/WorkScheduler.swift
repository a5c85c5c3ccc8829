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

    /// Runs every item once across all ranks. Collective: every rank calls it.
    ///
    /// Only rank 0's `items` are used; other ranks receive their items from rank 0 and may pass an
    /// empty array. `work` runs on the calling thread of each rank. `onResult` runs on rank 0 only, once
    /// per item, never concurrently, from the calling thread or from the coordinator thread. When
    /// `onResult` throws, rank 0 hands out no further items and drops results still arriving. Once the
    /// other ranks have stopped, rank 0 rethrows that error, while the other ranks return normally.
    public func run(items: [WorkItem],
                    work: (WorkItem) throws -> Data,
                    onResult: @escaping (WorkResult) throws -> Void) throws -> WorkSummary {
        let ordered = context.isCoordinator ? try Self.schedulingOrder(items) : []
        let start = monotonicSeconds()

        if context.size == 1 {
            let recorder = ResultRecorder(size: 1)
            let queue = WorkQueue(ordered)
            try runLocally(queue: queue, work: work, recorder: recorder, onResult: onResult)
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
                                          configuration: configuration, checksLiveness: threaded)
            if threaded {
                let finished = DispatchSemaphore(value: 0)
                let thread = Thread {
                    coordinator.serve()
                    finished.signal()
                }
                thread.name = "kvfactory-coordinator"
                thread.start()
                try runLocally(queue: queue, work: work, recorder: recorder, onResult: onResult)
                finished.wait()
            } else {
                coordinator.serve()
            }
            return try recorder.finish(seconds: monotonicSeconds() - start)
        }

        return try runWorker(comm: comm, work: work, sendsHeartbeats: threaded, start: start)
    }

    /// Runs items from the shared queue on this thread until it is empty or closed.
    private func runLocally(queue: WorkQueue, work: (WorkItem) throws -> Data, recorder: ResultRecorder,
                            onResult: (WorkResult) throws -> Void) throws {
        while let item = queue.take() {
            let (seconds, outcome) = Self.perform(item, work: work)
            recorder.record(WorkResult(item: item, rank: 0, seconds: seconds, outcome: outcome), queue: queue,
                            onResult: onResult)
        }
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

    private func runWorker(comm: MPIContext, work: (WorkItem) throws -> Data, sendsHeartbeats: Bool,
                           start: Double) throws -> WorkSummary {
        var summary = WorkSummary()
        let timeout = configuration.heartbeatTimeout
        let prefix = "\(configuration.logPrefix): rank \(comm.rank)"
        var heartbeat: Heartbeat?

        try send(.ready, comm: comm)
        while true {
            // The first response may take long while rank 0 still loads its model. After it, the
            // coordinator thread responds within milliseconds unless rank 0 is gone or hung.
            let message: MPIContext.Message
            do {
                message = try comm.receive(from: 0, timeout: heartbeat == nil ? nil : timeout)
            } catch let error as ClusterError {
                comm.abort(message: "\(prefix): rank 0 did not respond within \(formatSeconds(timeout)) s "
                    + "(\(error)); ending the job. Results already in the journal are kept; rerun to resume.")
            }
            if heartbeat == nil && sendsHeartbeats {
                heartbeat = Heartbeat(comm: comm, interval: configuration.heartbeatInterval, timeout: timeout)
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
                if case .success = outcome { summary.succeeded += 1 } else { summary.failed += 1 }
                do {
                    try comm.send(SchedulerMessage.result(id: item.id, seconds: seconds, outcome: outcome).encoded(),
                                  to: 0, tag: SchedulerMessage.resultTag, timeout: timeout)
                } catch {
                    comm.abort(message: "\(prefix): sending the result of '\(item.id)' to rank 0 failed (\(error)); "
                        + "ending the job")
                }
            case .stop:
                heartbeat?.stop()
                try send(.done, comm: comm)
                summary.seconds = monotonicSeconds() - start
                return summary
            default:
                comm.abort(message: "\(prefix): unexpected message with tag \(message.tag) from rank 0; ending the job")
            }
        }
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
