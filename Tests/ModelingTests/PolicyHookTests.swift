import KVPolicies
import XCTest
@testable import Modeling

/// A policy that records what the transformer hands it and can evict or modify cache rows.
final class RecordingPolicy: CachePolicy {
    let granularity: CacheGranularity
    let needsDecodeAttention: Bool
    /// Rows each stored head keeps after the prefill attention, newest last; nil keeps every row.
    let keepNewest: ((_ storedHead: Int) -> Int)?
    /// Runs on each layer before the prefill attention.
    let modifyBeforeAttention: ((PrefillLayerState) -> Void)?

    var events: [String] = []
    var prefillStates: [(layer: Int, promptLength: Int, rowsBefore: Int)] = []
    var decodeSteps: [(layer: Int, step: Int, weightSums: [Float], weightCounts: [Int])] = []
    var sequences: [UInt64] = []

    init(granularity: CacheGranularity = .kvHead, needsDecodeAttention: Bool = false,
         keepNewest: ((Int) -> Int)? = nil, modifyBeforeAttention: ((PrefillLayerState) -> Void)? = nil) {
        self.granularity = granularity
        self.needsDecodeAttention = needsDecodeAttention
        self.keepNewest = keepNewest
        self.modifyBeforeAttention = modifyBeforeAttention
    }

    func beginSequence(sampleID: UInt64) {
        sequences.append(sampleID)
    }

    func beforePrefillAttention(_ state: PrefillLayerState) throws {
        events.append("before \(state.layer)")
        prefillStates.append((state.layer, state.promptLength, state.cache.heads[0].count))
        modifyBeforeAttention?(state)
    }

    func afterPrefillAttention(_ state: PrefillLayerState) throws {
        events.append("after \(state.layer)")
        guard let keepNewest else { return }
        for (stored, head) in state.cache.heads.enumerated() {
            let keep = min(head.count, keepNewest(stored))
            head.keep(indices: Array((head.count - keep)..<head.count))
        }
    }

    func afterDecodeStep(_ state: DecodeLayerState) throws {
        events.append("decode \(state.layer)")
        var sums: [Float] = []
        var counts: [Int] = []
        for (queryHead, weights) in state.attention.enumerated() {
            let count = state.cache.heads[state.cache.storedHead(forQueryHead: queryHead)].count
            counts.append(count)
            sums.append((0..<count).reduce(0) { $0 + weights[$1] })
        }
        decodeSteps.append((state.layer, state.step, sums, counts))
    }
}

final class PolicyHookTests: XCTestCase {
    func mistral() throws -> (TransformerModel, Fixtures.Tiny) {
        let fixture = try Fixtures.tiny("tiny-mistral")
        return (try TransformerModel(path: fixture.modelPath, threads: 2), fixture)
    }

    func testHooksRunInLayerOrder() throws {
        let (model, fixture) = try mistral()
        let policy = RecordingPolicy()
        let cache = model.makeCache()
        _ = try model.prefill(tokens: fixture.tokens, cache: cache, policy: policy)
        _ = try model.decode(token: 3, cache: cache, policy: policy)
        XCTAssertEqual(policy.events, ["before 0", "after 0", "before 1", "after 1", "decode 0", "decode 1"])
        for state in policy.prefillStates {
            XCTAssertEqual(state.promptLength, fixture.tokens.count)
            XCTAssertEqual(state.rowsBefore, fixture.tokens.count)
        }
    }

    func testDecodeAttentionWeightsSumToOne() throws {
        let (model, fixture) = try mistral()
        for granularity in CacheGranularity.allCases {
            let policy = RecordingPolicy(granularity: granularity, needsDecodeAttention: true)
            let cache = model.makeCache(granularity: granularity)
            _ = try model.prefill(tokens: Array(fixture.tokens[..<20]), cache: cache, policy: policy)
            for position in 20..<23 {
                _ = try model.decode(token: fixture.tokens[position], cache: cache, policy: policy)
            }
            XCTAssertEqual(policy.decodeSteps.map(\.step), [1, 1, 2, 2, 3, 3], "\(granularity)")
            for step in policy.decodeSteps {
                XCTAssertEqual(step.weightSums.count, model.config.headCount)
                for sum in step.weightSums { XCTAssertEqual(sum, 1, accuracy: 1e-5) }
            }
        }
    }

    func testNoAttentionWeightsUnlessRequested() throws {
        let (model, fixture) = try mistral()
        let policy = RecordingPolicy()
        let cache = model.makeCache()
        _ = try model.prefill(tokens: fixture.tokens, cache: cache, policy: policy)
        _ = try model.decode(token: 5, cache: cache, policy: policy)
        XCTAssertEqual(policy.decodeSteps.first?.weightSums, [])
    }

    /// With a sliding window of 8, keeping only the newest rows that the window still reaches leaves the
    /// decode logits unchanged. Stored heads keep different row counts, so attention runs over heads of
    /// unequal length with absolute positions.
    func testEvictionOutsideWindowKeepsLogits() throws {
        let (model, fixture) = try mistral()
        for granularity in CacheGranularity.allCases {
            let policy = RecordingPolicy(granularity: granularity, needsDecodeAttention: true,
                                         keepNewest: { stored in 7 + stored % 3 })
            let cache = model.makeCache(granularity: granularity)
            let split = 25
            _ = try model.prefill(tokens: Array(fixture.tokens[..<split]), cache: cache, policy: policy)
            XCTAssertEqual(cache.layers[0].heads[0].count, 7)
            XCTAssertEqual(cache.layers[0].heads[1].count, 8)
            for position in split..<fixture.tokens.count {
                let logits = try model.decode(token: fixture.tokens[position], cache: cache, policy: policy)
                XCTAssertLessThan(maxAbsoluteDifference(Array(logits), fixture.logits[position]), 1e-4,
                                  "\(granularity) position \(position)")
            }
            let last = policy.decodeSteps.last!
            XCTAssertNotEqual(last.weightCounts.min(), last.weightCounts.max(), "heads of unequal length")
        }
    }

    /// Values changed before the prefill attention reach the prefill's own output, as CAM needs.
    func testValuesChangedBeforeAttentionReachOutput() throws {
        let (model, fixture) = try mistral()
        let policy = RecordingPolicy(modifyBeforeAttention: { state in
            guard state.layer == 0 else { return }
            for head in state.cache.heads {
                head.values.update(repeating: 0, count: head.headDim)
            }
        })
        let positions = [0, fixture.tokens.count - 1]
        let logits = try model.prefill(tokens: fixture.tokens, cache: model.makeCache(), policy: policy, logitPositions: positions)
        XCTAssertGreaterThan(maxAbsoluteDifference(logits[0], fixture.logits[0]), 1e-3, "position 0 sees the changed value")
        // Position 39 is more than two windows of 8 away from position 0, so the change cannot reach it.
        XCTAssertLessThan(maxAbsoluteDifference(logits[1], fixture.logits[39]), 1e-4)
    }

    func testPolicyGranularityMustMatchCache() throws {
        let (model, fixture) = try mistral()
        let policy = RecordingPolicy(granularity: .queryHead)
        XCTAssertThrowsError(try model.prefill(tokens: fixture.tokens, cache: model.makeCache(granularity: .kvHead), policy: policy)) { error in
            XCTAssertEqual(error as? ModelError, .granularityMismatch(cache: "kv_head", policy: "query_head"))
        }
    }

    func testRowRemovalBeforeAttentionRejected() throws {
        let (model, fixture) = try mistral()
        let policy = RecordingPolicy(modifyBeforeAttention: { state in
            state.cache.heads[0].keep(indices: [0])
        })
        XCTAssertThrowsError(try model.prefill(tokens: fixture.tokens, cache: model.makeCache(), policy: policy)) { error in
            guard case ModelError.cacheMismatch = error else { return XCTFail("unexpected error \(error)") }
        }
    }

    func testGeneratorBeginsSequenceWithSampleID() throws {
        let (model, fixture) = try mistral()
        let policy = RecordingPolicy()
        _ = try Generator(model: model).generate(prompt: fixture.tokens, maxNewTokens: 2, policy: policy, sampleID: 99)
        XCTAssertEqual(policy.sequences, [99])
    }
}
