import CMPI
import Foundation
import MPIShim

/// A process's view of an MPI communicator: its rank, the communicator size and byte-buffer messaging.
///
/// A process not started by mpirun (no launcher variables in its environment) gets a single-process
/// context of size 1 that never calls into MPI, so the same binary runs alone without a daemon or the
/// singleton start-up of Open MPI. Every wait polls with short sleeps instead of blocking in MPI,
/// because Open MPI's blocking calls busy-poll a CPU core that the model computation needs.
/// All methods may be called from several threads when `threadSupport` is `.multiple`.
public final class MPIContext: @unchecked Sendable {
    /// MPI thread support levels, in increasing order.
    public enum ThreadSupport: Int, Comparable, CustomStringConvertible, Sendable {
        case single, funneled, serialized, multiple

        public static func < (lhs: ThreadSupport, rhs: ThreadSupport) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .single: return "MPI_THREAD_SINGLE"
            case .funneled: return "MPI_THREAD_FUNNELED"
            case .serialized: return "MPI_THREAD_SERIALIZED"
            case .multiple: return "MPI_THREAD_MULTIPLE"
            }
        }
    }

    /// A received message.
    public struct Message: Sendable {
        public let source: Int
        public let tag: Int32
        public let bytes: [UInt8]
    }

    /// The envelope of a message that has arrived but was not received yet.
    public struct MessageInfo: Sendable, Equatable {
        public let source: Int
        public let tag: Int32
        public let byteCount: Int
    }

    public let rank: Int
    public let size: Int
    /// False for the single-process context of a process that mpirun did not start.
    public let usesMPI: Bool
    /// The thread level MPI granted; `.multiple` for a single-process context.
    public let threadSupport: ThreadSupport
    /// The largest valid message tag; the MPI standard guarantees at least 32767.
    public let maximumTag: Int32

    public var isCoordinator: Bool { rank == 0 }

    let communicator: MPI_Comm?
    private let ownsCommunicator: Bool

    /// Arrays whose sends timed out: MPI may still read them, so they must outlive the pending request.
    private var abandonedSendBuffers: [[UInt8]] = []
    private let abandonedLock = NSLock()

    /// A valid address for zero-length sends, because an empty array has no base address.
    private static let emptyMessageBuffer = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)

    private static let stateLock = NSLock()
    private static var world: MPIContext?
    private static var finalized = false

    /// Environment variables that Open MPI's mpirun and PMI/PMIx launchers (such as srun) set in every rank.
    static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"]

    private init(rank: Int, size: Int, usesMPI: Bool, threadSupport: ThreadSupport, maximumTag: Int32,
                 communicator: MPI_Comm?, ownsCommunicator: Bool) {
        self.rank = rank
        self.size = size
        self.usesMPI = usesMPI
        self.threadSupport = threadSupport
        self.maximumTag = maximumTag
        self.communicator = communicator
        self.ownsCommunicator = ownsCommunicator
    }

    /// Returns true when a launcher variable shows that mpirun or a PMI launcher started this process.
    public static func launchedByMPI(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        launcherVariables.contains { environment[$0] != nil }
    }

    /// Creates a context of size 1 that never calls into MPI.
    public static func singleProcess() -> MPIContext {
        MPIContext(rank: 0, size: 1, usesMPI: false, threadSupport: .multiple, maximumTag: Int32.max,
                   communicator: nil, ownsCommunicator: false)
    }

    /// Initializes MPI once per process with MPI_THREAD_MULTIPLE requested and returns the world context.
    ///
    /// Later calls return the same context. Without launcher variables in `environment`, MPI is not
    /// initialized and the context has size 1. Errors on the world communicator are returned as codes
    /// (MPI_ERRORS_RETURN) and thrown as `MPIError`.
    public static func initialize(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> MPIContext {
        stateLock.lock()
        defer { stateLock.unlock() }
        if let world { return world }
        if finalized { throw ClusterError.alreadyFinalized(operation: "MPIContext.initialize") }

        guard launchedByMPI(environment: environment) else {
            let context = singleProcess()
            world = context
            return context
        }

        var provided: Int32 = 0
        try check("MPI_Init_thread", MPI_Init_thread(nil, nil, kvf_mpi_thread_multiple(), &provided))
        let comm: MPI_Comm = kvf_mpi_comm_world()
        try check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(comm, kvf_mpi_errors_return()))

        var rank: Int32 = 0
        var size: Int32 = 0
        try check("MPI_Comm_rank", MPI_Comm_rank(comm, &rank))
        try check("MPI_Comm_size", MPI_Comm_size(comm, &size))
        let context = MPIContext(rank: Int(rank), size: Int(size), usesMPI: true,
                                 threadSupport: threadSupport(provided), maximumTag: try queryMaximumTag(comm),
                                 communicator: comm, ownsCommunicator: false)
        world = context
        return context
    }

    /// Creates a context on a duplicate of this communicator, so that its messages never match another
    /// component's. Collective: every rank must call it in the same order.
    public func duplicate() throws -> MPIContext {
        guard let comm = communicator else { return MPIContext.singleProcess() }
        try requireNotFinalized("MPI_Comm_idup")
        var copy: MPI_Comm?
        var request: MPI_Request?
        try MPIContext.check("MPI_Comm_idup", MPI_Comm_idup(comm, &copy, &request))
        _ = try wait(&request, operation: "MPI_Comm_idup", peer: nil, timeout: nil)
        return MPIContext(rank: rank, size: size, usesMPI: true, threadSupport: threadSupport,
                          maximumTag: maximumTag, communicator: copy, ownsCommunicator: true)
    }

    /// Frees a communicator made by `duplicate()`. Pending messages on it must be received first.
    public func free() throws {
        guard ownsCommunicator, !MPIContext.isFinalized else { return }
        var comm: MPI_Comm? = communicator
        try MPIContext.check("MPI_Comm_free", MPI_Comm_free(&comm))
    }

    // MARK: Point-to-point

    /// Sends bytes to `destination` and waits until the send buffer is free.
    ///
    /// With a `timeout` in seconds, throws `ClusterError.timedOut` when the receiver has not taken the
    /// message in time. The send then stays pending, so the caller should end the job.
    public func send(_ bytes: [UInt8], to destination: Int, tag: Int32, timeout: Double? = nil) throws {
        let comm = try requireCommunicator("send")
        try validate(rank: destination)
        try validate(tag: tag)
        guard bytes.count <= Int(Int32.max) else { throw ClusterError.messageTooLarge(bytes: bytes.count) }
        try requireNotFinalized("MPI_Isend")

        var request: MPI_Request?
        let completed: Bool = try bytes.withUnsafeBytes { raw in
            let start = raw.baseAddress ?? UnsafeRawPointer(MPIContext.emptyMessageBuffer)
            try MPIContext.check("MPI_Isend", MPI_Isend(start, Int32(bytes.count), kvf_mpi_byte(),
                                                        Int32(destination), tag, comm, &request))
            return try wait(&request, operation: "send to rank \(destination)", peer: destination, timeout: timeout,
                            throwOnTimeout: false)
        }
        if !completed {
            abandonedLock.lock()
            abandonedSendBuffers.append(bytes)
            abandonedLock.unlock()
            throw ClusterError.timedOut(operation: "send to rank \(destination)", peer: destination, seconds: timeout ?? 0)
        }
    }

    /// Returns the envelope of a matching message that has arrived, or nil; never waits.
    public func probe(from source: Int? = nil, tag: Int32? = nil) throws -> MessageInfo? {
        let comm = try requireCommunicator("probe")
        let (sourceArgument, tagArgument) = try matchArguments(source: source, tag: tag)
        try requireNotFinalized("MPI_Iprobe")
        var flag: Int32 = 0
        var status = MPI_Status()
        try MPIContext.check("MPI_Iprobe", MPI_Iprobe(sourceArgument, tagArgument, comm, &flag, &status))
        guard flag != 0 else { return nil }
        var count: Int32 = 0
        try MPIContext.check("MPI_Get_count", MPI_Get_count(&status, kvf_mpi_byte(), &count))
        return MessageInfo(source: Int(status.MPI_SOURCE), tag: status.MPI_TAG, byteCount: Int(count))
    }

    /// Receives a matching message if one has arrived, or returns nil; never waits.
    public func tryReceive(from source: Int? = nil, tag: Int32? = nil) throws -> Message? {
        let comm = try requireCommunicator("receive")
        let (sourceArgument, tagArgument) = try matchArguments(source: source, tag: tag)
        try requireNotFinalized("MPI_Improbe")

        // A matched probe removes the message from the queue, so another thread cannot receive it
        // between the probe and the receive.
        var flag: Int32 = 0
        var message: MPI_Message?
        var status = MPI_Status()
        try MPIContext.check("MPI_Improbe", MPI_Improbe(sourceArgument, tagArgument, comm, &flag, &message, &status))
        guard flag != 0 else { return nil }

        var count: Int32 = 0
        try MPIContext.check("MPI_Get_count", MPI_Get_count(&status, kvf_mpi_byte(), &count))
        var bytes = [UInt8](repeating: 0, count: Int(max(count, 1)))
        try bytes.withUnsafeMutableBytes { raw in
            try MPIContext.check("MPI_Mrecv", MPI_Mrecv(raw.baseAddress, count, kvf_mpi_byte(), &message, &status))
        }
        if count == 0 { bytes.removeAll() }
        return Message(source: Int(status.MPI_SOURCE), tag: status.MPI_TAG, bytes: bytes)
    }

    /// Receives a matching message, waiting up to `timeout` seconds (forever when nil).
    ///
    /// While waiting, it polls with sleeps that grow to `maximumPause` microseconds, the worst added latency.
    public func receive(from source: Int? = nil, tag: Int32? = nil, timeout: Double? = nil,
                        maximumPause: UInt32 = PollBackoff.defaultMaximumPause) throws -> Message {
        let deadline = timeout.map { monotonicSeconds() + $0 }
        var backoff = PollBackoff(maximumPause: maximumPause)
        while true {
            if let message = try tryReceive(from: source, tag: tag) { return message }
            if let deadline, monotonicSeconds() > deadline {
                throw ClusterError.timedOut(operation: "receive", peer: source, seconds: timeout ?? 0)
            }
            backoff.pause()
        }
    }

    // MARK: Collectives

    /// Waits until every rank has entered the barrier, or throws after `timeout` seconds.
    public func barrier(timeout: Double? = nil) throws {
        guard let comm = communicator else { return }
        try requireNotFinalized("MPI_Ibarrier")
        var request: MPI_Request?
        try MPIContext.check("MPI_Ibarrier", MPI_Ibarrier(comm, &request))
        _ = try wait(&request, operation: "barrier", peer: nil, timeout: timeout)
    }

    /// Sends `bytes` from `root` to every rank and returns them; other ranks' `bytes` are ignored.
    public func broadcast(_ bytes: [UInt8], root: Int = 0, timeout: Double? = nil) throws -> [UInt8] {
        guard let comm = communicator else { return bytes }
        try validate(rank: root)
        try requireNotFinalized("MPI_Ibcast")

        var length = Int64(rank == root ? bytes.count : 0)
        var request: MPI_Request?
        try MPIContext.check("MPI_Ibcast", MPI_Ibcast(&length, 1, kvf_mpi_int64(), Int32(root), comm, &request))
        _ = try wait(&request, operation: "broadcast", peer: nil, timeout: timeout)
        guard length >= 0, length <= Int64(Int32.max) else { throw ClusterError.messageTooLarge(bytes: Int(length)) }

        var buffer = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length))
        if length == 0 { return [] }
        try buffer.withUnsafeMutableBytes { raw in
            try MPIContext.check("MPI_Ibcast", MPI_Ibcast(raw.baseAddress, Int32(length), kvf_mpi_byte(), Int32(root),
                                                          comm, &request))
            _ = try wait(&request, operation: "broadcast", peer: nil, timeout: timeout)
        }
        return buffer
    }

    // MARK: Ending

    /// Writes `message` to stderr, then ends every rank of the job with `code` (MPI_Abort); without
    /// MPI, exits this process.
    public func abort(code: Int32 = 1, message: String? = nil) -> Never {
        if let message { writeStandardError(message.hasSuffix("\n") ? message : message + "\n") }
        if usesMPI, let comm = communicator, !MPIContext.isFinalized {
            MPI_Abort(comm, code)
        }
        exit(code)
    }

    /// Waits for every rank at a polled barrier, then finalizes MPI. Call once, at the end of the run.
    public func finalize() throws {
        guard usesMPI else { return }
        MPIContext.stateLock.lock()
        let already = MPIContext.finalized
        MPIContext.stateLock.unlock()
        if already { return }

        // MPI_Finalize synchronizes the ranks by busy-polling; the polled barrier lets ranks that
        // finish early wait without taking a core from ranks still computing.
        try barrier()
        MPIContext.stateLock.lock()
        defer { MPIContext.stateLock.unlock() }
        MPIContext.finalized = true
        try MPIContext.check("MPI_Finalize", MPI_Finalize())
    }

    // MARK: Helpers

    private static var isFinalized: Bool {
        stateLock.lock()
        defer { stateLock.unlock() }
        return finalized
    }

    private func requireNotFinalized(_ operation: String) throws {
        if MPIContext.isFinalized { throw ClusterError.alreadyFinalized(operation: operation) }
    }

    private func requireCommunicator(_ operation: String) throws -> MPI_Comm {
        guard let comm = communicator else { throw ClusterError.notLaunchedByMPI(operation: operation) }
        return comm
    }

    private func validate(rank candidate: Int) throws {
        guard candidate >= 0, candidate < size else { throw ClusterError.invalidRank(candidate, size: size) }
    }

    private func validate(tag: Int32) throws {
        guard tag >= 0, tag <= maximumTag else { throw ClusterError.invalidTag(tag, maximum: maximumTag) }
    }

    private func matchArguments(source: Int?, tag: Int32?) throws -> (Int32, Int32) {
        if let source { try validate(rank: source) }
        if let tag { try validate(tag: tag) }
        return (source.map { Int32($0) } ?? kvf_mpi_any_source(), tag ?? kvf_mpi_any_tag())
    }

    /// Polls `request` until it completes; returns false on timeout when `throwOnTimeout` is false.
    private func wait(_ request: inout MPI_Request?, operation: String, peer: Int?, timeout: Double?,
                      throwOnTimeout: Bool = true) throws -> Bool {
        let deadline = timeout.map { monotonicSeconds() + $0 }
        var backoff = PollBackoff()
        while true {
            var flag: Int32 = 0
            try MPIContext.check("MPI_Test", MPI_Test(&request, &flag, kvf_mpi_status_ignore()))
            if flag != 0 { return true }
            if let deadline, monotonicSeconds() > deadline {
                if throwOnTimeout { throw ClusterError.timedOut(operation: operation, peer: peer, seconds: timeout ?? 0) }
                return false
            }
            backoff.pause()
        }
    }

    static func check(_ function: String, _ code: Int32) throws {
        guard code != kvf_mpi_success() else { return }
        throw MPIError(function: function, code: code, message: errorString(code))
    }

    private static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(kvf_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &buffer, &length) == kvf_mpi_success() else { return "unknown error" }
        return String(cString: buffer)
    }

    private static func threadSupport(_ provided: Int32) -> ThreadSupport {
        if provided >= kvf_mpi_thread_multiple() { return .multiple }
        if provided >= kvf_mpi_thread_serialized() { return .serialized }
        if provided >= kvf_mpi_thread_funneled() { return .funneled }
        return .single
    }

    private static func queryMaximumTag(_ comm: MPI_Comm) throws -> Int32 {
        var value: UnsafeMutablePointer<Int32>?
        var flag: Int32 = 0
        try check("MPI_Comm_get_attr", MPI_Comm_get_attr(comm, Int32(MPI_TAG_UB), &value, &flag))
        guard flag != 0, let value else { return 32767 }
        return value.pointee
    }
}

/// Sleeps between polls: a few immediate retries for low latency, then sleeps growing from 10 µs to
/// `maximumPause` microseconds (1 ms by default).
public struct PollBackoff {
    public static let defaultMaximumPause: UInt32 = 1000
    private var attempts = 0
    private let maximumPause: UInt32

    init(maximumPause: UInt32 = PollBackoff.defaultMaximumPause) {
        self.maximumPause = max(1, maximumPause)
    }

    mutating func pause() {
        attempts += 1
        if attempts <= 8 { return }
        let exponent = min(attempts - 9, 7)
        usleep(min(maximumPause, UInt32(10 << exponent)))
    }
}

/// Seconds on a monotonic clock, for timeouts and rates.
public func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
}

/// Writes a string to stderr without buffering, so that lines from several ranks do not mix mid-line.
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { raw in
            write(2, raw.baseAddress! + offset, raw.count - offset)
        }
        if written < 0 {
            if errno == EINTR { continue }
            return
        }
        offset += written
    }
}
