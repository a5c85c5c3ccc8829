import Cluster
import Dispatch
import Foundation
import KVPolicies
import Modeling

/// One rank's part of a pipeline-parallel replica: its stage of the model, the links to the neighbouring
/// stages, and the KV caches of the sequences in flight.
///
/// The first stage runs the generation loop in `generate`, which the scheduler calls on several threads
/// at once (one per sample in flight). Its own layers run under a lock, one sequence at a time, so while
/// one thread waits for the later stages another computes. The other stages run `serve` on one thread:
/// they take each message from the previous stage in arrival order, run their layers on that sequence
/// and pass the hidden state on. The last stage chooses the token greedily and sends it back to the first.
///
/// Every stage runs the same per-layer computation as a single rank would, with the same prefill
/// rows per layer, so fp32 activations give predictions identical to a single rank whatever the split.
public final class PipelineRuntime: @unchecked Sendable {
    public let topology: PipelineTopology
    public let settings: PipelineSettings
    public let model: TransformerModel
    /// A communicator of its own, so that pipeline tags never meet the scheduler's.
    private let comm: MPIContext
    private let codec: ActivationCodec
    /// Guards the model, the codec and the slot caches.
    private let computeLock = NSLock()
    private let slots: SlotPool
    private var caches: [Int: [CacheGranularity: KVCache]] = [:]
    private let sampler: TokenSampler
    private let liveness: PipelineLiveness?

    /// - Parameters:
    ///   - comm: a communicator that only this runtime uses, such as `context.duplicate()`.
    ///   - heartbeatTimeout: seconds of silence after which a stage counts as hung and the job ends.
    public init(comm: MPIContext, topology: PipelineTopology, settings: PipelineSettings, model: TransformerModel,
                heartbeatInterval: Double = 1, heartbeatTimeout: Double = 30) throws {
        guard topology.worldSize == comm.size, topology.rank == comm.rank else {
            throw PipelineError.invalidSetting("the pipeline topology of \(topology.worldSize) ranks does not match the communicator of \(comm.size)")
        }
        self.comm = comm
        self.topology = topology
        self.settings = settings
        self.model = model
        codec = try ActivationCodec(encoding: settings.activationEncoding, compression: settings.activationCompression,
                                    level: settings.zstdLevel)
        slots = SlotPool(count: settings.effectiveMicrobatches)
        sampler = try TokenSampler(options: .greedy, vocabularySize: model.config.vocabularySize)
        guard model.hasEmbedding == topology.isFirstStage, model.hasHead == topology.isLastStage else {
            throw PipelineError.invalidSetting("rank \(topology.rank) is stage \(topology.stage) of \(topology.stages), but its model has layers "
                + "\(model.layers.lowerBound)..<\(model.layers.upperBound); load the stage's layers of the partition")
        }
        liveness = topology.isPipelined && comm.usesMPI
            ? PipelineLiveness(comm: comm, topology: topology, interval: heartbeatInterval, timeout: heartbeatTimeout) : nil
    }

    /// Byte counts and times of the activations this rank encoded and decoded so far.
    public var statistics: ActivationCodecStats {
        computeLock.lock()
        defer { computeLock.unlock() }
        return codec.stats
    }

    /// Sums the statistics of every rank on rank 0; nil on the other ranks. Collective over this runtime's
    /// communicator, after the stages have stopped.
    public func gatherStatistics() throws -> ActivationCodecStats? {
        let tag: Int32 = 22
        let mine = statistics
        guard comm.rank == 0 else {
            var writer = ByteWriter()
            for value in [mine.encodedMessages, mine.rawBytes, mine.sentBytes, mine.decodedMessages] { writer.write(UInt64(value)) }
            writer.write(mine.encodeSeconds)
            writer.write(mine.decodeSeconds)
            try comm.send(writer.bytes, to: 0, tag: tag)
            return nil
        }
        var total = mine
        for source in 1..<comm.size {
            var reader = ByteReader(try comm.receive(from: source, tag: tag).bytes)
            do {
                total.encodedMessages += Int(try reader.readUInt64("messages"))
                total.rawBytes += Int(try reader.readUInt64("raw bytes"))
                total.sentBytes += Int(try reader.readUInt64("sent bytes"))
                total.decodedMessages += Int(try reader.readUInt64("decoded messages"))
                total.encodeSeconds += try reader.readDouble("encode seconds")
                total.decodeSeconds += try reader.readDouble("decode seconds")
            } catch let error as ByteReader.OutOfBounds {
                throw PipelineError.invalidMessage(error.description)
            }
        }
        return total
    }

    // MARK: First stage

    /// Generates greedily up to `maxNewTokens` tokens after `prompt`, with the semantics of
    /// `Generator.generate`: the result's tokens end with the stop token when one ended the run.
    ///
    /// `policy` is this stage's policy for the sequence; the other stages build theirs from
    /// `header.policyKey`. Safe to call from several threads at once, up to `--pipeline_microbatches`.
    public func generate(prompt: [Int], maxNewTokens: Int, stopTokens: Set<Int>, header: SequenceHeader,
                         policy: CachePolicy?) throws -> GenerationResult {
        guard topology.isFirstStage, let next = topology.nextRank else {
            throw PipelineError.invalidSetting("generate runs on the first stage of a replica with 2 or more stages")
        }
        let context = model.config.contextLength
        guard !prompt.isEmpty else { throw ModelError.emptyPrompt }
        guard prompt.count <= context else { throw ModelError.promptTooLong(tokens: prompt.count, context: context) }
        guard maxNewTokens >= 0 else { throw ModelError.invalidSampling("max_new_tokens \(maxNewTokens) must be >= 0") }
        guard header.promptLength == prompt.count else {
            throw PipelineError.invalidSetting("the sequence header gives \(header.promptLength) prompt tokens, the prompt has \(prompt.count)")
        }

        let slot = slots.acquire()
        defer { slots.release(slot) }
        var result = GenerationResult(promptTokens: prompt.count)
        let start = DispatchTime.now().uptimeNanoseconds

        // This stage's layers, then the hidden state in chunks of a fixed number of rows.
        let messages: [[UInt8]] = try locked {
            let cache = cache(slot: slot, granularity: policy?.granularity ?? .kvHead)
            cache.reset()
            cache.reserve(tokens: min(context, prompt.count + min(maxNewTokens, 512)))
            policy?.beginSequence(sampleID: header.sampleID)
            var hidden = try model.embed(tokens: prompt)
            try model.prefillLayers(hidden: &hidden, tokenCount: prompt.count, cache: cache, policy: policy)
            return try encodePrefill(slot: slot, header: header, hidden: hidden, cacheBytes: cache.byteCount)
        }
        // From here on the later stages hold state for the slot, so every exit sends `end`.
        defer {
            do {
                try comm.send(ForwardMessage.end(slot: slot).encoded(), to: next, tag: ForwardMessage.forwardTag)
            } catch {
                comm.abort(message: "kvfactory: rank \(topology.rank) could not reach stage 1 at rank \(next) (\(error)); ending the job")
            }
        }
        for message in messages {
            try comm.send(message, to: next, tag: ForwardMessage.forwardTag)
        }
        var (token, cacheBytes) = try awaitToken(slot: slot)
        result.prefillSeconds = Self.seconds(since: start)
        result.timeToFirstToken = result.prefillSeconds
        result.prefillKVCacheBytes = cacheBytes
        guard maxNewTokens > 0 else {
            result.kvCacheBytes = cacheBytes
            return result
        }
        result.tokens.reserveCapacity(maxNewTokens)

        let decodeStart = DispatchTime.now().uptimeNanoseconds
        var processed = prompt.count
        while true {
            result.tokens.append(token)
            if stopTokens.contains(token) {
                result.stopReason = .stopToken(token)
                break
            }
            if result.tokens.count >= maxNewTokens {
                result.stopReason = .maxNewTokens
                break
            }
            if processed >= context {
                result.stopReason = .contextFull
                break
            }
            let step: [UInt8] = try locked {
                let cache = cache(slot: slot, granularity: policy?.granularity ?? .kvHead)
                try model.embedDecode(token: token)
                try model.decodeLayers(cache: cache, policy: policy)
                let frame = try codec.encode(UnsafeBufferPointer(model.decodeHidden))
                return ForwardMessage.decode(slot: slot, cacheBytes: cache.byteCount, frame: frame).encoded()
            }
            try comm.send(step, to: next, tag: ForwardMessage.forwardTag)
            (token, cacheBytes) = try awaitToken(slot: slot)
            processed += 1
        }
        result.decodeSeconds = Self.seconds(since: decodeStart)
        result.kvCacheBytes = cacheBytes
        return result
    }

    /// Tells the later stages of this replica that no more sequences come. First stage only, once, after
    /// the last `generate` returned.
    public func stopStages() throws {
        guard topology.isFirstStage, let next = topology.nextRank else { return }
        try comm.send(ForwardMessage.stop.encoded(), to: next, tag: ForwardMessage.forwardTag)
        liveness?.finish()
    }

    private func awaitToken(slot: Int) throws -> (Int, Int) {
        let message = try comm.receive(from: topology.lastStageRank, tag: ReplyMessage.replyTag(slot: slot),
                                       maximumPause: Self.pollPause)
        switch try ReplyMessage(message.bytes) {
        case .token(let token, let cacheBytes):
            return (token, cacheBytes)
        case .failed(let text):
            throw PipelineError.stageFailed(text)
        }
    }

    private func encodePrefill(slot: Int, header: SequenceHeader, hidden: [Float], cacheBytes: Int) throws -> [[UInt8]] {
        let width = model.config.hiddenSize
        let rows = header.promptLength
        let chunkRows = PipelineSettings.prefillChunkTokens
        let chunkCount = (rows + chunkRows - 1) / chunkRows
        var messages = [ForwardMessage.begin(slot: slot, header: header, chunkCount: chunkCount, cacheBytes: cacheBytes).encoded()]
        try hidden.withUnsafeBufferPointer { values in
            for index in 0..<chunkCount {
                let first = index * chunkRows
                let last = min(rows, first + chunkRows)
                let frame = try codec.encode(UnsafeBufferPointer(rebasing: values[(first * width)..<(last * width)]))
                messages.append(ForwardMessage.chunk(slot: slot, index: index, frame: frame).encoded())
            }
        }
        return messages
    }

    // MARK: Later stages

    /// The state of one sequence on a later stage.
    private struct SequenceState {
        var header: SequenceHeader
        var chunks: [[UInt8]?]
        var received = 0
        var cacheBytesBefore: Int
        var policy: CachePolicy?
        var granularity: CacheGranularity = .kvHead
        /// Set once this stage or an earlier one failed; later messages of the slot are ignored.
        var failed = false
    }

    /// Serves the previous stage until it sends `stop`. Every stage but the first, on one thread.
    ///
    /// `policyFactory` builds this stage's policy of a sequence from its policy key, prompt length and
    /// sample id. It must build the policy that the first stage built for the same sequence. An error on one
    /// sequence is sent on to the first stage, which records the sample as failed; the stage goes on.
    public func serve(policyFactory: (SequenceHeader) throws -> CachePolicy?) throws {
        guard let previous = topology.previousRank else {
            throw PipelineError.invalidSetting("serve runs on the stages after the first")
        }
        var states: [Int: SequenceState] = [:]
        while true {
            let message = try comm.receive(from: previous, tag: ForwardMessage.forwardTag, maximumPause: Self.pollPause)
            let decoded = try ForwardMessage(message.bytes)
            switch decoded {
            case .stop:
                if let next = topology.nextRank { try comm.send(decoded.encoded(), to: next, tag: ForwardMessage.forwardTag) }
                liveness?.finish()
                return
            case .begin(let slot, let header, let chunkCount, let cacheBytes):
                guard chunkCount >= 1, chunkCount <= header.promptLength else {
                    throw PipelineError.invalidMessage("\(chunkCount) chunks for a prompt of \(header.promptLength) tokens")
                }
                states[slot] = SequenceState(header: header, chunks: Array(repeating: nil, count: chunkCount),
                                             cacheBytesBefore: cacheBytes)
            case .chunk(let slot, let index, let frame):
                guard var state = states[slot], index < state.chunks.count, state.chunks[index] == nil else {
                    throw PipelineError.invalidMessage("unexpected prefill chunk \(index) for slot \(slot)")
                }
                state.chunks[index] = frame
                state.received += 1
                states[slot] = state
                if state.received == state.chunks.count {
                    states[slot] = try runPrefill(slot: slot, state: state, policyFactory: policyFactory)
                }
            case .decode(let slot, let cacheBytes, let frame):
                guard var state = states[slot] else {
                    throw PipelineError.invalidMessage("decode step for slot \(slot), which has no sequence")
                }
                guard !state.failed else { continue }
                state.cacheBytesBefore = cacheBytes
                states[slot] = try runDecode(slot: slot, state: state, frame: frame)
            case .end(let slot):
                states[slot] = nil
                if let next = topology.nextRank { try comm.send(decoded.encoded(), to: next, tag: ForwardMessage.forwardTag) }
            case .failed(let slot, let text):
                states[slot]?.failed = true
                try reportFailure(slot: slot, message: text)
            }
        }
    }

    private func runPrefill(slot: Int, state: SequenceState,
                            policyFactory: (SequenceHeader) throws -> CachePolicy?) throws -> SequenceState {
        var state = state
        let header = state.header
        do {
            let policy = try policyFactory(header)
            state.policy = policy
            state.granularity = policy?.granularity ?? .kvHead
            let outcome: [UInt8] = try locked {
                let width = model.config.hiddenSize
                var hidden = [Float](repeating: 0, count: header.promptLength * width)
                let chunkRows = PipelineSettings.prefillChunkTokens
                try hidden.withUnsafeMutableBufferPointer { values in
                    for (index, frame) in state.chunks.enumerated() {
                        let first = index * chunkRows
                        let last = min(header.promptLength, first + chunkRows)
                        try codec.decode(frame!, into: UnsafeMutableBufferPointer(rebasing: values[(first * width)..<(last * width)]))
                    }
                }
                let cache = cache(slot: slot, granularity: state.granularity)
                cache.reset()
                cache.reserve(tokens: min(model.config.contextLength, header.promptLength + 512))
                policy?.beginSequence(sampleID: header.sampleID)
                try model.prefillLayers(hidden: &hidden, tokenCount: header.promptLength, cache: cache, policy: policy)
                let cacheBytes = state.cacheBytesBefore + cache.byteCount
                if topology.isLastStage {
                    var logits = try model.logits(hidden: hidden, tokenCount: header.promptLength,
                                                  positions: [header.promptLength - 1])[0]
                    for token in header.maskedAtFirstStep where token >= 0 && token < logits.count {
                        logits[token] = -Float.infinity
                    }
                    let token = logits.withUnsafeBufferPointer { sampler.sample($0) }
                    return ReplyMessage.token(token, cacheBytes: cacheBytes).encoded()
                }
                let messages = try encodePrefill(slot: slot, header: header, hidden: hidden, cacheBytes: cacheBytes)
                return Self.pack(messages)
            }
            try deliver(outcome, slot: slot)
        } catch {
            // A malformed message means the ranks disagree about the protocol, so the job cannot go on.
            if case PipelineError.invalidMessage = error { throw error }
            state.failed = true
            try reportFailure(slot: slot, message: describe(error))
        }
        state.chunks = []
        return state
    }

    private func runDecode(slot: Int, state: SequenceState, frame: [UInt8]) throws -> SequenceState {
        var state = state
        do {
            let outcome: [UInt8] = try locked {
                let cache = cache(slot: slot, granularity: state.granularity)
                try codec.decode(frame, into: model.decodeHidden)
                try model.decodeLayers(cache: cache, policy: state.policy)
                let cacheBytes = state.cacheBytesBefore + cache.byteCount
                if topology.isLastStage {
                    let token = sampler.sample(try model.decodeLogits())
                    return ReplyMessage.token(token, cacheBytes: cacheBytes).encoded()
                }
                let next = try codec.encode(UnsafeBufferPointer(model.decodeHidden))
                return Self.pack([ForwardMessage.decode(slot: slot, cacheBytes: cacheBytes, frame: next).encoded()])
            }
            try deliver(outcome, slot: slot)
        } catch {
            state.failed = true
            try reportFailure(slot: slot, message: describe(error))
        }
        return state
    }

    /// Sends a step's outcome: the reply on the last stage, else the packed forward messages.
    private func deliver(_ outcome: [UInt8], slot: Int) throws {
        if topology.isLastStage {
            try comm.send(outcome, to: topology.firstStageRank, tag: ReplyMessage.replyTag(slot: slot))
            return
        }
        for message in try Self.unpack(outcome) {
            try comm.send(message, to: topology.nextRank!, tag: ForwardMessage.forwardTag)
        }
    }

    private func reportFailure(slot: Int, message: String) throws {
        if topology.isLastStage {
            try comm.send(ReplyMessage.failed(message).encoded(), to: topology.firstStageRank,
                          tag: ReplyMessage.replyTag(slot: slot))
        } else {
            try comm.send(ForwardMessage.failed(slot: slot, message: message).encoded(), to: topology.nextRank!,
                          tag: ForwardMessage.forwardTag)
        }
    }

    private func describe(_ error: Error) -> String {
        "rank \(topology.rank) (stage \(topology.stage), layers \(model.layers.lowerBound)-\(model.layers.upperBound - 1)): \(error)"
    }

    // MARK: Helpers

    /// Maximum sleep, in microseconds, between polls for a stage's next message. A decode step crosses two
    /// links, so the default 1 ms would add up to 2 ms to each token; 100 µs costs a waiting rank a few
    /// percent of a core.
    static let pollPause: UInt32 = 100

    private func locked<Value>(_ body: () throws -> Value) rethrows -> Value {
        computeLock.lock()
        defer { computeLock.unlock() }
        return try body()
    }

    /// Returns the slot's cache of `granularity`, kept from sequence to sequence. Call with the lock held.
    private func cache(slot: Int, granularity: CacheGranularity) -> KVCache {
        if let cache = caches[slot]?[granularity] { return cache }
        let cache = model.makeCache(granularity: granularity)
        caches[slot, default: [:]][granularity] = cache
        return cache
    }

    /// Joins messages into one byte array: each as a 32-bit length and its bytes.
    static func pack(_ messages: [[UInt8]]) -> [UInt8] {
        var writer = ByteWriter()
        for message in messages { writer.writeBlob(message) }
        return writer.bytes
    }

    static func unpack(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var reader = ByteReader(bytes)
        var messages: [[UInt8]] = []
        do {
            while !reader.isAtEnd { messages.append(try reader.readBlob("message")) }
        } catch let error as ByteReader.OutOfBounds {
            throw PipelineError.invalidMessage(error.description)
        }
        return messages
    }

    static func seconds(since start: UInt64) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

/// The slot numbers of the sequences in flight on a first stage: each `generate` call takes one.
final class SlotPool: @unchecked Sendable {
    private var free: [Int]
    private let lock = NSLock()
    private let available: DispatchSemaphore

    init(count: Int) {
        free = Array((0..<count).reversed())
        available = DispatchSemaphore(value: count)
    }

    func acquire() -> Int {
        available.wait()
        lock.lock()
        defer { lock.unlock() }
        return free.removeLast()
    }

    func release(_ slot: Int) {
        lock.lock()
        free.append(slot)
        lock.unlock()
        available.signal()
    }
}
