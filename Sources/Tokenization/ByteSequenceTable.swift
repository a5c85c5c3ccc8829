/// A hash map from byte sequences to `Int32` values, with open addressing and keys copied into one arena.
///
/// Lookups take a pointer and a length, so callers look up slices of a larger buffer without building
/// a `String` or an `Array` per key. It backs the vocabulary's text-to-id lookup and the word cache.
struct ByteSequenceTable {
    private struct Entry {
        var keyStart: Int32
        var keyLength: Int32
        var hash: UInt32
        var value: Int32
    }

    /// Entry index plus one per slot; 0 marks an empty slot.
    private var slots: [Int32]
    private var entries: [Entry] = []
    private var arena: [UInt8] = []

    var count: Int { entries.count }
    /// Bytes of key storage, for bounding caches.
    var keyBytes: Int { arena.count }

    init(minimumCapacity: Int = 16) {
        var capacity = 16
        while capacity < minimumCapacity * 2 { capacity <<= 1 }
        slots = [Int32](repeating: 0, count: capacity)
    }

    /// The value stored for a key, or nil.
    @inline(__always)
    func value(_ key: UnsafePointer<UInt8>, count: Int) -> Int32? {
        let hash = Self.hash(key, count: count)
        let mask = slots.count - 1
        var slot = Int(hash) & mask
        while true {
            let stored = slots[slot]
            if stored == 0 { return nil }
            let entry = entries[Int(stored) - 1]
            if entry.hash == hash && Int(entry.keyLength) == count && matches(entry, key, count) {
                return entry.value
            }
            slot = (slot + 1) & mask
        }
    }

    func value(_ key: [UInt8]) -> Int32? {
        key.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return emptyKeyValue() }
            return value(base, count: buffer.count)
        }
    }

    /// Stores a value for a key. An existing key keeps its first value unless `replace` is set.
    mutating func insert(_ key: UnsafePointer<UInt8>, count: Int, value: Int32, replace: Bool) {
        let hash = Self.hash(key, count: count)
        let mask = slots.count - 1
        var slot = Int(hash) & mask
        while true {
            let stored = slots[slot]
            if stored == 0 { break }
            let index = Int(stored) - 1
            let entry = entries[index]
            if entry.hash == hash && Int(entry.keyLength) == count && matches(entry, key, count) {
                if replace { entries[index].value = value }
                return
            }
            slot = (slot + 1) & mask
        }
        let start = Int32(arena.count)
        arena.append(contentsOf: UnsafeBufferPointer(start: key, count: count))
        entries.append(Entry(keyStart: start, keyLength: Int32(count), hash: hash, value: value))
        slots[slot] = Int32(entries.count)
        if entries.count * 2 > slots.count { grow() }
    }

    mutating func insert(_ key: [UInt8], value: Int32, replace: Bool) {
        if key.isEmpty {
            // A dummy byte gives the empty key a valid pointer; the length stays 0.
            var dummy: UInt8 = 0
            insert(&dummy, count: 0, value: value, replace: replace)
            return
        }
        key.withUnsafeBufferPointer { buffer in
            insert(buffer.baseAddress!, count: buffer.count, value: value, replace: replace)
        }
    }

    mutating func removeAll() {
        for index in slots.indices { slots[index] = 0 }
        entries.removeAll(keepingCapacity: true)
        arena.removeAll(keepingCapacity: true)
    }

    private func emptyKeyValue() -> Int32? {
        var dummy: UInt8 = 0
        return value(&dummy, count: 0)
    }

    @inline(__always)
    private func matches(_ entry: Entry, _ key: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        arena.withUnsafeBufferPointer { stored in
            let start = Int(entry.keyStart)
            for offset in 0..<count where stored[start + offset] != key[offset] {
                return false
            }
            return true
        }
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (index, entry) in entries.enumerated() {
            var slot = Int(entry.hash) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index + 1)
        }
    }

    /// A 64-bit multiply-xorshift hash over 8-byte words, folded to 32 bits.
    @inline(__always)
    static func hash(_ key: UnsafePointer<UInt8>, count: Int) -> UInt32 {
        let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15
        var state = UInt64(truncatingIfNeeded: count) &* multiplier
        let raw = UnsafeRawPointer(key)
        var offset = 0
        while offset + 8 <= count {
            let word = raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            state = (state ^ word) &* multiplier
            state ^= state >> 29
            offset += 8
        }
        if offset < count {
            var word: UInt64 = 0
            var shift: UInt64 = 0
            while offset < count {
                word |= UInt64(key[offset]) << shift
                shift += 8
                offset += 1
            }
            state = (state ^ word) &* multiplier
            state ^= state >> 29
        }
        state = state &* multiplier
        return UInt32(truncatingIfNeeded: state >> 32)
    }
}
