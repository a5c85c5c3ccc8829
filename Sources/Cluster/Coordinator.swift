import Foundation

/// Rank 0's side of the scheduler: responds to workers, passes their results on and watches their heartbeats.
///
/// It returns once every worker has reported `done`. Any fault (a silent rank, a failed MPI call, a
/// malformed message) ends the whole job through MPI_Abort after a message naming the rank, because the
/// thread running rank 0's own items cannot be interrupted.
final class Coordinator: @unchecked Sendable {
    private let comm: MPIContext
    private let queue: WorkQueue
    private let recorder: ResultRecorder
    private let onResult: (WorkResult) throws -> Void
    private let configuration: WorkScheduler.Configuration
    private let checksLiveness: Bool

    /// The items each worker is running, by id; a worker with several slots runs several.
    private var outstanding: [Int: [String: WorkItem]] = [:]
    /// Monotonic time of the last message from each rank; nil until the rank's first message.
    private var lastHeard: [Double?]
    private var running: Set<Int>

    init(comm: MPIContext, queue: WorkQueue, recorder: ResultRecorder, onResult: @escaping (WorkResult) throws -> Void,
         workers: Set<Int>, configuration: WorkScheduler.Configuration, checksLiveness: Bool) {
        self.comm = comm
        self.queue = queue
        self.recorder = recorder
        self.onResult = onResult
        self.configuration = configuration
        self.checksLiveness = checksLiveness
        lastHeard = Array(repeating: nil, count: comm.size)
        running = workers
    }

    func serve() {
        var backoff = PollBackoff()
        while !running.isEmpty {
            let message: MPIContext.Message?
            do {
                message = try comm.tryReceive()
            } catch {
                fail("receiving a scheduler message failed (\(error))")
            }
            if let message {
                lastHeard[message.source] = monotonicSeconds()
                handle(message)
                backoff = PollBackoff()
            } else {
                // Liveness is checked only when no message is waiting, so that heartbeats queued while
                // this thread was descheduled count before a rank is judged silent.
                if checksLiveness { checkLiveness() }
                backoff.pause()
            }
        }
    }

    private func handle(_ message: MPIContext.Message) {
        let source = message.source
        let decoded: SchedulerMessage
        do {
            decoded = try SchedulerMessage(message)
        } catch {
            fail("\(error)")
        }

        switch decoded {
        case .ready:
            assignNext(to: source)
        case .result(let id, let seconds, let outcome):
            guard let item = outstanding[source]?.removeValue(forKey: id) else {
                fail("rank \(source) sent a result for '\(id)', which was not assigned to it")
            }
            // The next item goes out before the result is recorded, so the worker does not wait for
            // the journal's fsync.
            assignNext(to: source)
            recorder.record(WorkResult(item: item, rank: source, seconds: seconds, outcome: outcome), queue: queue,
                            onResult: onResult)
        case .heartbeat:
            break
        case .done:
            running.remove(source)
        case .assign, .stop:
            fail("rank \(source) sent a message with tag \(message.tag), which only rank 0 sends")
        }
    }

    private func assignNext(to rank: Int) {
        let message: SchedulerMessage
        if let item = queue.take() {
            outstanding[rank, default: [:]][item.id] = item
            message = .assign(item)
        } else {
            message = .stop
        }
        do {
            try comm.send(message.encoded(), to: rank, tag: message.tag, timeout: configuration.heartbeatTimeout)
        } catch {
            fail("sending work to rank \(rank) failed (\(error))")
        }
    }

    private func checkLiveness() {
        let now = monotonicSeconds()
        for rank in running {
            guard let heard = lastHeard[rank], now - heard > configuration.heartbeatTimeout else { continue }
            let ids = (outstanding[rank] ?? [:]).keys.sorted()
            let task = ids.isEmpty ? "" : " while running " + ids.map { "'\($0)'" }.joined(separator: ", ")
            fail("rank \(rank) sent no message for \(formatSeconds(now - heard)) s\(task), more than the heartbeat "
                + "timeout of \(formatSeconds(configuration.heartbeatTimeout)) s; it has hung or died")
        }
    }

    private func fail(_ reason: String) -> Never {
        comm.abort(message: "\(configuration.logPrefix): \(reason). Ending the job; results already in the journal "
            + "are kept, and rerunning the same command resumes from them.")
    }
}
