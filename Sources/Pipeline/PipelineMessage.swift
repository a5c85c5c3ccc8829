import Cluster

/// A message from one stage to the next stage of the same replica, on `PipelineMessage.forwardTag`.
///
/// Messages of one sequence (one slot) arrive in the order they were sent, because one thread sends them
/// one after another. Messages of different slots may interleave, so each carries its slot.
enum ForwardMessage: Equatable {
    /// Starts a sequence: the policy key, the sample id that seeds it, the prompt length, how many `chunk`
    /// messages follow, the tokens to mask at the first step, and the KV-cache bytes of the stages so far.
    case begin(slot: Int, header: SequenceHeader, chunkCount: Int, cacheBytes: Int)
    /// Rows of the prompt's hidden state, as one `ActivationCodec` frame.
    case chunk(slot: Int, index: Int, frame: [UInt8])
    /// One decode step's hidden state and the KV-cache bytes of the stages so far.
    case decode(slot: Int, cacheBytes: Int, frame: [UInt8])
    /// The sequence is over; the stage may drop its state.
    case end(slot: Int)
    /// An earlier stage failed on this sequence.
    case failed(slot: Int, message: String)
    /// No more sequences: the stage leaves its loop after passing this on.
    case stop

    static let forwardTag: Int32 = 21

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .begin(let slot, let header, let chunkCount, let cacheBytes):
            writer.write(UInt8(1))
            writer.write(UInt32(slot))
            header.write(to: &writer)
            writer.write(UInt32(chunkCount))
            writer.write(UInt64(cacheBytes))
        case .chunk(let slot, let index, let frame):
            writer.write(UInt8(2))
            writer.write(UInt32(slot))
            writer.write(UInt32(index))
            writer.writeBlob(frame)
        case .decode(let slot, let cacheBytes, let frame):
            writer.write(UInt8(3))
            writer.write(UInt32(slot))
            writer.write(UInt64(cacheBytes))
            writer.writeBlob(frame)
        case .end(let slot):
            writer.write(UInt8(4))
            writer.write(UInt32(slot))
        case .failed(let slot, let message):
            writer.write(UInt8(5))
            writer.write(UInt32(slot))
            writer.write(message)
        case .stop:
            writer.write(UInt8(6))
        }
        return writer.bytes
    }

    init(_ bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        do {
            let kind = try reader.readUInt8("kind")
            switch kind {
            case 1:
                let slot = Int(try reader.readUInt32("slot"))
                let header = try SequenceHeader(from: &reader)
                let chunkCount = Int(try reader.readUInt32("chunk count"))
                let cacheBytes = Int(try reader.readUInt64("cache bytes"))
                self = .begin(slot: slot, header: header, chunkCount: chunkCount, cacheBytes: cacheBytes)
            case 2:
                let slot = Int(try reader.readUInt32("slot"))
                let index = Int(try reader.readUInt32("chunk index"))
                self = .chunk(slot: slot, index: index, frame: try reader.readBlob("frame"))
            case 3:
                let slot = Int(try reader.readUInt32("slot"))
                let cacheBytes = Int(try reader.readUInt64("cache bytes"))
                self = .decode(slot: slot, cacheBytes: cacheBytes, frame: try reader.readBlob("frame"))
            case 4:
                self = .end(slot: Int(try reader.readUInt32("slot")))
            case 5:
                let slot = Int(try reader.readUInt32("slot"))
                self = .failed(slot: slot, message: try reader.readString("message"))
            case 6:
                self = .stop
            default:
                throw PipelineError.invalidMessage("unknown forward message kind \(kind)")
            }
        } catch let error as ByteReader.OutOfBounds {
            throw PipelineError.invalidMessage(error.description)
        }
        guard reader.isAtEnd else { throw PipelineError.invalidMessage("trailing bytes after a forward message") }
    }
}

/// The facts about a sequence that every stage needs to build its policy and choose the first token.
public struct SequenceHeader: Equatable, Sendable {
    /// Names the policy options, such as the run name; stages pass it to their policy factory.
    public var policyKey: String
    /// Seeds stochastic policies (CAM) and names the sample in messages.
    public var sampleID: UInt64
    public var promptLength: Int
    /// Tokens the last stage never chooses at the first step, such as the stop tokens when the output must
    /// not be empty.
    public var maskedAtFirstStep: [Int]

    public init(policyKey: String, sampleID: UInt64, promptLength: Int, maskedAtFirstStep: [Int] = []) {
        self.policyKey = policyKey
        self.sampleID = sampleID
        self.promptLength = promptLength
        self.maskedAtFirstStep = maskedAtFirstStep
    }

    func write(to writer: inout ByteWriter) {
        writer.write(policyKey)
        writer.write(sampleID)
        writer.write(UInt64(promptLength))
        writer.write(UInt32(maskedAtFirstStep.count))
        for token in maskedAtFirstStep { writer.write(UInt32(truncatingIfNeeded: token)) }
    }

    init(from reader: inout ByteReader) throws {
        policyKey = try reader.readString("policy key")
        sampleID = try reader.readUInt64("sample id")
        promptLength = Int(try reader.readUInt64("prompt length"))
        let count = Int(try reader.readUInt32("masked token count"))
        guard count <= 1 << 20 else { throw PipelineError.invalidMessage("\(count) masked tokens") }
        var masked: [Int] = []
        masked.reserveCapacity(count)
        for _ in 0..<count { masked.append(Int(try reader.readUInt32("masked token"))) }
        maskedAtFirstStep = masked
    }
}

/// The last stage's reply to the first stage for one step of one slot, on `replyTag(slot:)`.
enum ReplyMessage: Equatable {
    /// The chosen token and the KV-cache bytes of all stages after the step.
    case token(Int, cacheBytes: Int)
    case failed(String)

    static func replyTag(slot: Int) -> Int32 { 100 + Int32(slot) }

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .token(let token, let cacheBytes):
            writer.write(UInt8(1))
            writer.write(UInt32(token))
            writer.write(UInt64(cacheBytes))
        case .failed(let message):
            writer.write(UInt8(2))
            writer.write(message)
        }
        return writer.bytes
    }

    init(_ bytes: [UInt8]) throws {
        var reader = ByteReader(bytes)
        do {
            switch try reader.readUInt8("kind") {
            case 1:
                let token = Int(try reader.readUInt32("token"))
                self = .token(token, cacheBytes: Int(try reader.readUInt64("cache bytes")))
            case 2:
                self = .failed(try reader.readString("message"))
            case let kind:
                throw PipelineError.invalidMessage("unknown reply kind \(kind)")
            }
        } catch let error as ByteReader.OutOfBounds {
            throw PipelineError.invalidMessage(error.description)
        }
        guard reader.isAtEnd else { throw PipelineError.invalidMessage("trailing bytes after a reply") }
    }
}
