/// SplitMix64 (Steele, Lea and Flood, 2014) seeded from (seed, sample id, layer), so a sample's draws are the same
/// whichever rank or process runs it.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64, sampleID: UInt64, layer: UInt64) {
        // Each component passes through the SplitMix finalizer before mixing in the next, so nearby ids do not
        // give overlapping streams.
        var mixed = Self.finalize(seed &+ 0x9E37_79B9_7F4A_7C15)
        mixed = Self.finalize(mixed ^ sampleID)
        mixed = Self.finalize(mixed ^ (layer &* 0xD1B5_4A32_D192_ED03))
        state = mixed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.finalize(state)
    }

    /// Returns a uniform draw in [0, 1) with 53 random bits.
    mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    private static func finalize(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
