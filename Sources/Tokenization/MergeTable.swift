/// BPE merge rules keyed by the pair of piece ids they join: `(left, right) -> (rank, merged piece)`.
///
/// Open addressing over `UInt64` keys; a lower rank is a higher priority, as in the order of
/// `tokenizer.ggml.merges`.
struct MergeTable {
    private var keys: [UInt64]
    /// `rank << 32 | merged piece` per slot.
    private var values: [UInt64]
    private(set) var count = 0
    private static let emptyKey = UInt64.max

    init(minimumCapacity: Int) {
        var capacity = 16
        while capacity < minimumCapacity * 2 { capacity <<= 1 }
        keys = [UInt64](repeating: Self.emptyKey, count: capacity)
        values = [UInt64](repeating: 0, count: capacity)
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    @inline(__always)
    private static func slot(of key: UInt64, mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    /// Adds a rule unless the pair already has one: the first occurrence in the merge list wins.
    mutating func insertIfAbsent(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        let key = Self.key(left, right)
        let mask = keys.count - 1
        var slot = Self.slot(of: key, mask: mask)
        while keys[slot] != Self.emptyKey {
            if keys[slot] == key { return }
            slot = (slot + 1) & mask
        }
        keys[slot] = key
        values[slot] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
        count += 1
    }

    /// The rank and merged piece for a pair, or nil when no rule joins them.
    @inline(__always)
    func lookup(_ left: Int32, _ right: Int32) -> (rank: Int32, merged: Int32)? {
        let key = Self.key(left, right)
        let mask = keys.count - 1
        var slot = Self.slot(of: key, mask: mask)
        while true {
            let stored = keys[slot]
            if stored == key {
                let value = values[slot]
                return (Int32(truncatingIfNeeded: value >> 32), Int32(truncatingIfNeeded: value))
            }
            if stored == Self.emptyKey { return nil }
            slot = (slot + 1) & mask
        }
    }
}
