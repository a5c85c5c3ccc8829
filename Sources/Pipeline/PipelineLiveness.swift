import Cluster
import Foundation

/// Heartbeats between the first stage of a replica and each later stage, on a thread of their own.
///
/// A stage that dies ends the job through mpirun, but a stage that hangs (stopped, deadlocked, swapping)
/// would leave its peers waiting for its next message forever. Here the first stage and each later stage
/// send each other an empty message every `interval` seconds. When a peer has sent nothing for `timeout`
/// seconds, this rank ends the job with MPI_Abort and a message naming the peer. A rank that is done sends
/// a final "stopped" message, after which its peers stop watching it.
final class PipelineLiveness: @unchecked Sendable {
    static let heartbeatTag: Int32 = 23
    static let stoppedTag: Int32 = 24

    private let comm: MPIContext
    private let topology: PipelineTopology
    private let peers: [Int]
    private let interval: Double
    private let timeout: Double
    private let lock = NSLock()
    private var selfStopped = false
    private let finished = DispatchSemaphore(value: 0)

    init(comm: MPIContext, topology: PipelineTopology, interval: Double, timeout: Double) {
        self.comm = comm
        self.topology = topology
        self.interval = interval
        self.timeout = timeout
        if topology.isFirstStage {
            peers = Array((topology.firstStageRank + 1)...topology.lastStageRank)
        } else {
            peers = [topology.firstStageRank]
        }
        let thread = Thread { [self] in
            watch()
            finished.signal()
        }
        thread.name = "kvfactory-pipeline-heartbeat"
        thread.start()
    }

    /// Sends the peers the "stopped" message and waits until every peer has sent its own.
    func finish() {
        lock.lock()
        let already = selfStopped
        selfStopped = true
        lock.unlock()
        guard !already else { return }
        finished.wait()
    }

    private func watch() {
        var lastHeard = Dictionary(uniqueKeysWithValues: peers.map { ($0, monotonicSeconds()) })
        var stoppedPeers = Set<Int>()
        var nextBeat = 0.0
        var sentStopped = false
        while true {
            let now = monotonicSeconds()
            lock.lock()
            let stopping = selfStopped
            lock.unlock()
            do {
                if stopping && !sentStopped {
                    for peer in peers { try comm.send([], to: peer, tag: Self.stoppedTag, timeout: timeout) }
                    sentStopped = true
                } else if !stopping && now >= nextBeat {
                    for peer in peers where !stoppedPeers.contains(peer) {
                        try comm.send([], to: peer, tag: Self.heartbeatTag, timeout: timeout)
                    }
                    nextBeat = now + interval
                }
                while let message = try comm.tryReceive(tag: Self.heartbeatTag) {
                    lastHeard[message.source] = monotonicSeconds()
                }
                while let message = try comm.tryReceive(tag: Self.stoppedTag) {
                    stoppedPeers.insert(message.source)
                }
            } catch {
                comm.abort(message: "kvfactory: rank \(topology.rank): pipeline heartbeat failed (\(error)); ending the job. "
                    + "Results already in the journal are kept, and rerunning the same command resumes from them.")
            }
            if sentStopped && stoppedPeers.count == peers.count {
                // Heartbeats sent before a peer's stop message may still be queued.
                while (try? comm.tryReceive(tag: Self.heartbeatTag)) != nil {}
                return
            }
            let checked = monotonicSeconds()
            for peer in peers where !stoppedPeers.contains(peer) {
                let silence = checked - (lastHeard[peer] ?? checked)
                guard silence > timeout else { continue }
                comm.abort(message: "kvfactory: rank \(peer) (stage \(peer % topology.stages) of replica \(topology.replica)) "
                    + "sent no pipeline heartbeat for \(Int(silence)) s, more than the timeout of \(Int(timeout)) s; it has "
                    + "hung or died. Ending the job; results already in the journal are kept, and rerunning the same "
                    + "command resumes from them.")
            }
            usleep(100_000)
        }
    }
}
