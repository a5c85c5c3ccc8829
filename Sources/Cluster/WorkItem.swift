import Foundation

/// One unit of work, such as a needle cell or a LongBench sample.
public struct WorkItem: Sendable, Equatable {
    /// Unique id; the results journal records it so that a resumed run can skip the item.
    public let id: String
    /// Relative cost, such as the context length in tokens. Items run in order of decreasing cost.
    public let cost: Double
    /// Bytes sent with the item to the rank that runs it.
    public let payload: Data

    public init(id: String, cost: Double, payload: Data = Data()) {
        self.id = id
        self.cost = cost
        self.payload = payload
    }
}

/// The result of one work item, as the coordinator receives it.
public struct WorkResult: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// The bytes that the work function returned.
        case success(Data)
        /// The description of the error that the work function threw.
        case failure(String)
    }

    public let item: WorkItem
    /// The rank that ran the item.
    public let rank: Int
    /// Wall-clock seconds the work function took on that rank.
    public let seconds: Double
    public let outcome: Outcome

    public var isSuccess: Bool {
        if case .success = outcome { return true }
        return false
    }
}

/// Counts of one `WorkScheduler.run`. On rank 0 they cover the whole job; on other ranks, only the items that
/// rank ran.
public struct WorkSummary: Sendable, Equatable {
    public var succeeded = 0
    public var failed = 0
    /// Items run by each rank, indexed by rank; filled on rank 0 only.
    public var itemsPerRank: [Int] = []
    public var seconds = 0.0
}

/// Messages between the coordinator (rank 0) and the workers, each on its own tag.
enum SchedulerMessage {
    /// Worker to coordinator: the worker has started and wants an item.
    case ready
    /// Coordinator to worker: run this item.
    case assign(WorkItem)
    /// Coordinator to worker: no items are left.
    case stop
    /// Worker to coordinator: the result of the item it was assigned, which also requests the next item.
    case result(id: String, seconds: Double, outcome: WorkResult.Outcome)
    /// Worker to coordinator, from a background thread: the worker is alive.
    case heartbeat
    /// Worker to coordinator: the worker has stopped its heartbeat and sends nothing more.
    case done

    static let readyTag: Int32 = 1
    static let assignTag: Int32 = 2
    static let stopTag: Int32 = 3
    static let resultTag: Int32 = 4
    static let heartbeatTag: Int32 = 5
    static let doneTag: Int32 = 6

    var tag: Int32 {
        switch self {
        case .ready: return Self.readyTag
        case .assign: return Self.assignTag
        case .stop: return Self.stopTag
        case .result: return Self.resultTag
        case .heartbeat: return Self.heartbeatTag
        case .done: return Self.doneTag
        }
    }

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .ready, .stop, .heartbeat, .done:
            break
        case .assign(let item):
            writer.write(item.id)
            writer.write(item.cost)
            writer.writeBlob(item.payload)
        case .result(let id, let seconds, let outcome):
            writer.write(id)
            writer.write(seconds)
            switch outcome {
            case .success(let bytes):
                writer.write(UInt8(0))
                writer.writeBlob(bytes)
            case .failure(let message):
                writer.write(UInt8(1))
                writer.write(message)
            }
        }
        return writer.bytes
    }

    init(_ message: MPIContext.Message) throws {
        var reader = ByteReader(message.bytes)
        do {
            switch message.tag {
            case Self.readyTag: self = .ready
            case Self.stopTag: self = .stop
            case Self.heartbeatTag: self = .heartbeat
            case Self.doneTag: self = .done
            case Self.assignTag:
                let id = try reader.readString("item id")
                let cost = try reader.readDouble("item cost")
                let payload = Data(try reader.readBlob("item payload"))
                self = .assign(WorkItem(id: id, cost: cost, payload: payload))
            case Self.resultTag:
                let id = try reader.readString("item id")
                let seconds = try reader.readDouble("seconds")
                let status = try reader.readUInt8("status")
                switch status {
                case 0: self = .result(id: id, seconds: seconds, outcome: .success(Data(try reader.readBlob("result"))))
                case 1: self = .result(id: id, seconds: seconds, outcome: .failure(try reader.readString("error")))
                default:
                    throw ClusterError.malformedMessage(source: message.source, tag: message.tag,
                                                        reason: "unknown result status \(status)")
                }
            default:
                throw ClusterError.malformedMessage(source: message.source, tag: message.tag, reason: "unknown tag")
            }
        } catch let error as ByteReader.OutOfBounds {
            throw ClusterError.malformedMessage(source: message.source, tag: message.tag, reason: error.description)
        }
        guard reader.isAtEnd else {
            throw ClusterError.malformedMessage(source: message.source, tag: message.tag, reason: "trailing bytes")
        }
    }
}
