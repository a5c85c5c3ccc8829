import Foundation

/// CPython's `random.Random`: the MT19937 generator seeded as `random.seed(n)` seeds it, with
/// `getrandbits`, `_randbelow` and `sample` drawing the same numbers as CPython 3.11.
///
/// The reference LongBench runner calls `random.seed(seed)` once and then `random.sample(data, k)`
/// per dataset, so the same seed and dataset order select the same examples here.
public struct PythonRandom: Sendable {
    private static let stateSize = 624
    private static let shift = 397
    private var state: [UInt32]
    private var index: Int

    /// Seeds the generator like `random.seed(seed)` with an integer: the absolute value is split
    /// into 32-bit words, least significant first, and fed to MT19937's `init_by_array`.
    public init(seed: Int) {
        var magnitude = seed.magnitude
        var key = [UInt32]()
        repeat {
            key.append(UInt32(truncatingIfNeeded: magnitude))
            magnitude >>= 32
        } while magnitude > 0
        state = Self.initialState(19_650_218)
        index = Self.stateSize
        mixIn(key: key)
    }

    private static func initialState(_ seed: UInt32) -> [UInt32] {
        var state = [UInt32](repeating: 0, count: stateSize)
        state[0] = seed
        for i in 1..<stateSize {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
        return state
    }

    /// MT19937's `init_by_array`.
    private mutating func mixIn(key: [UInt32]) {
        let n = Self.stateSize
        var i = 1
        var j = 0
        for _ in 0..<max(n, key.count) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1
            j += 1
            if i >= n {
                state[0] = state[n - 1]
                i = 1
            }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<(n - 1) {
            state[i] = (state[i] ^ ((state[i - 1] ^ (state[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= n {
                state[0] = state[n - 1]
                i = 1
            }
        }
        state[0] = 0x8000_0000
    }

    /// The next 32-bit output of MT19937 (`genrand_uint32`).
    public mutating func nextUInt32() -> UInt32 {
        if index >= Self.stateSize { regenerate() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func regenerate() {
        let n = Self.stateSize
        for k in 0..<n {
            let y = (state[k] & 0x8000_0000) | (state[(k + 1) % n] & 0x7FFF_FFFF)
            let magic: UInt32 = (y & 1) == 0 ? 0 : 0x9908_B0DF
            state[k] = state[(k + Self.shift) % n] ^ (y >> 1) ^ magic
        }
        index = 0
    }

    /// `getrandbits(bits)` for 0 ≤ bits ≤ 32: the top `bits` bits of one 32-bit output.
    public mutating func randomBits(_ bits: Int) -> UInt32 {
        precondition((0...32).contains(bits), "randomBits supports 0 to 32 bits, got \(bits)")
        if bits == 0 { return 0 }
        return nextUInt32() >> UInt32(32 - bits)
    }

    /// `_randbelow(n)`: a uniform integer in `0..<n` by rejection of `n.bit_length()`-bit draws.
    public mutating func randomBelow(_ n: Int) -> Int {
        precondition(n > 0 && n <= Int(UInt32.max), "randomBelow needs 1 ≤ n ≤ 2^32 - 1, got \(n)")
        let bits = Int.bitWidth - n.leadingZeroBitCount
        var draw = Int(randomBits(bits))
        while draw >= n {
            draw = Int(randomBits(bits))
        }
        return draw
    }

    /// `random.sample(range(populationSize), count)`: `count` distinct indices in draw order.
    /// CPython picks one of two algorithms by comparing the population with the size of a
    /// hash set of `count` entries; both are reproduced, since they consume different draws.
    public mutating func sample(populationSize n: Int, count k: Int) -> [Int] {
        precondition(k >= 0 && k <= n, "sample needs 0 ≤ count ≤ population, got \(k) of \(n)")
        var setSize = 21
        if k > 5 {
            setSize += Int(pow(4.0, (log(Double(k * 3)) / log(4.0)).rounded(.up)))
        }
        var result = [Int]()
        result.reserveCapacity(k)
        if n <= setSize {
            var pool = Array(0..<n)
            for i in 0..<k {
                let j = randomBelow(n - i)
                result.append(pool[j])
                pool[j] = pool[n - i - 1]
            }
        } else {
            var selected = Set<Int>()
            for _ in 0..<k {
                var j = randomBelow(n)
                while selected.contains(j) {
                    j = randomBelow(n)
                }
                selected.insert(j)
                result.append(j)
            }
        }
        return result
    }
}
