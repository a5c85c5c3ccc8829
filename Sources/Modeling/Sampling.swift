import TensorKernels

/// Options for choosing the next token from the logits.
public struct SamplingOptions: Equatable, Sendable {
    /// Softmax temperature; 0 selects greedy decoding (argmax).
    public var temperature: Float
    /// Nucleus sampling: sample only from the most probable tokens whose probabilities sum to at least `topP`.
    /// 1 disables it.
    public var topP: Float
    /// Seed of the random generator, so a sampled run can be repeated exactly.
    public var seed: UInt64

    public init(temperature: Float = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
    }

    public static let greedy = SamplingOptions()

    public var isGreedy: Bool { temperature == 0 }

    func validate() throws {
        guard temperature.isFinite, temperature >= 0 else {
            throw ModelError.invalidSampling("temperature \(temperature) must be a finite number >= 0 (0 = greedy)")
        }
        guard topP.isFinite, topP > 0, topP <= 1 else {
            throw ModelError.invalidSampling("top_p \(topP) must be in (0, 1]")
        }
    }
}

/// xoshiro256**, a small, fast generator with a 256-bit state, seeded through SplitMix64 as its authors advise.
/// The sequence depends only on the seed, on every platform.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var splitMix = seed
        func nextSplitMix() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (nextSplitMix(), nextSplitMix(), nextSplitMix(), nextSplitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    /// Returns a uniform double in [0, 1) made from the top 53 bits of the next output.
    public mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }
}

/// Chooses tokens from logits: argmax when greedy, otherwise temperature and top-p sampling.
///
/// Its buffers are sized to the vocabulary once. Sampling sorts the candidate probabilities, which
/// may allocate temporary memory inside the standard library's sort; greedy selection never allocates.
public final class TokenSampler {
    public let options: SamplingOptions
    private var generator: Xoshiro256StarStar
    private var probabilities: [Float]
    private var order: [Int32]

    public init(options: SamplingOptions, vocabularySize: Int) throws {
        try options.validate()
        self.options = options
        generator = Xoshiro256StarStar(seed: options.seed)
        probabilities = [Float](repeating: 0, count: options.isGreedy ? 0 : vocabularySize)
        order = [Int32](repeating: 0, count: options.isGreedy ? 0 : vocabularySize)
    }

    /// Chooses the next token from `logits`.
    public func sample(_ logits: UnsafeBufferPointer<Float>) -> Int {
        guard let base = logits.baseAddress, logits.count > 0 else { return 0 }
        if options.isGreedy { return VectorOps.argmax(base, count: logits.count) }
        precondition(logits.count <= probabilities.count, "logits of \(logits.count) tokens exceed the sampler's vocabulary")
        let count = logits.count
        let inverseTemperature = 1 / options.temperature
        return probabilities.withUnsafeMutableBufferPointer { probabilities in
            let p = probabilities.baseAddress!
            for i in 0..<count { p[i] = base[i] * inverseTemperature }
            VectorOps.softmax(p, count: count)
            if options.topP >= 1 { return draw(from: p, count: count) }
            return order.withUnsafeMutableBufferPointer { order in
                drawTopP(probabilities: p, count: count, order: order)
            }
        }
    }

    /// Inverse-CDF draw over all tokens in index order.
    private func draw(from probabilities: UnsafeMutablePointer<Float>, count: Int) -> Int {
        let target = generator.nextUnitInterval()
        var cumulative = 0.0
        var last = 0
        for i in 0..<count where probabilities[i] > 0 {
            cumulative += Double(probabilities[i])
            last = i
            if target < cumulative { return i }
        }
        return last
    }

    /// Keeps the most probable tokens until their mass reaches `topP` (at least one), renormalises, and draws.
    /// Ties are ordered by token id, so the candidate set is reproducible.
    private func drawTopP(probabilities: UnsafeMutablePointer<Float>, count: Int, order: UnsafeMutableBufferPointer<Int32>) -> Int {
        for i in 0..<count { order[i] = Int32(i) }
        var candidates = UnsafeMutableBufferPointer(rebasing: order[0..<count])
        candidates.sort { a, b in
            let pa = probabilities[Int(a)], pb = probabilities[Int(b)]
            return pa != pb ? pa > pb : a < b
        }
        var kept = 0
        var mass = 0.0
        while kept < count {
            mass += Double(probabilities[Int(candidates[kept])])
            kept += 1
            if mass >= Double(options.topP) { break }
        }
        let target = generator.nextUnitInterval() * mass
        var cumulative = 0.0
        for rank in 0..<kept {
            cumulative += Double(probabilities[Int(candidates[rank])])
            if target < cumulative { return Int(candidates[rank]) }
        }
        return Int(candidates[kept - 1])
    }
}
