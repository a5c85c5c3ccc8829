/// Which heads a KV cache stores.
public enum CacheGranularity: String, CaseIterable, Sendable {
    /// One stored head per query head: K/V are repeated across each GQA group, as KVCache-Factory does by default.
    case queryHead = "query_head"
    /// One stored head per KV head, shared by the query heads of its group.
    case kvHead = "kv_head"
}

/// The entries that one stored head keeps in one layer: keys and values as float32 rows of `headDim`,
/// each with the absolute position of its token. Rows are stored contiguously so attention can use BLAS.
///
/// Storage grows geometrically and is never shrunk, so decode appends allocate nothing once the
/// capacity is reserved.
public final class HeadCache {
    public let headDim: Int
    public private(set) var count = 0
    public private(set) var capacity = 0
    /// Keys, row-major `[capacity, headDim]`; rows `0..<count` are valid.
    public private(set) var keys: UnsafeMutablePointer<Float>
    /// Values, row-major `[capacity, headDim]`.
    public private(set) var values: UnsafeMutablePointer<Float>
    /// Absolute token position of each row.
    public private(set) var positions: UnsafeMutablePointer<Int32>

    public init(headDim: Int, capacity: Int = 0) {
        precondition(headDim > 0)
        self.headDim = headDim
        let initial = max(capacity, 1)
        keys = .allocate(capacity: initial * headDim)
        values = .allocate(capacity: initial * headDim)
        positions = .allocate(capacity: initial)
        self.capacity = initial
    }

    deinit {
        keys.deallocate()
        values.deallocate()
        positions.deallocate()
    }

    /// Makes room for at least `minimum` rows without further allocation.
    public func reserveCapacity(_ minimum: Int) {
        guard minimum > capacity else { return }
        let newCapacity = max(minimum, capacity + capacity / 2)
        let newKeys = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * headDim)
        let newValues = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity * headDim)
        let newPositions = UnsafeMutablePointer<Int32>.allocate(capacity: newCapacity)
        newKeys.update(from: keys, count: count * headDim)
        newValues.update(from: values, count: count * headDim)
        newPositions.update(from: positions, count: count)
        keys.deallocate()
        values.deallocate()
        positions.deallocate()
        keys = newKeys
        values = newValues
        positions = newPositions
        capacity = newCapacity
    }

    /// Appends one entry.
    @inline(__always)
    public func append(key: UnsafePointer<Float>, value: UnsafePointer<Float>, position: Int) {
        if count == capacity { reserveCapacity(count + 1) }
        (keys + count * headDim).update(from: key, count: headDim)
        (values + count * headDim).update(from: value, count: headDim)
        positions[count] = Int32(position)
        count += 1
    }

    /// Appends `rowCount` entries read from strided source rows, for consecutive positions starting at
    /// `firstPosition`. `keyStride` and `valueStride` are the distances between source rows, in floats.
    public func appendRows(keys source: UnsafePointer<Float>, keyStride: Int,
                           values valueSource: UnsafePointer<Float>, valueStride: Int,
                           firstPosition: Int, rowCount: Int) {
        reserveCapacity(count + rowCount)
        for row in 0..<rowCount {
            (keys + (count + row) * headDim).update(from: source + row * keyStride, count: headDim)
            (values + (count + row) * headDim).update(from: valueSource + row * valueStride, count: headDim)
            positions[count + row] = Int32(firstPosition + row)
        }
        count += rowCount
    }

    /// Keeps only the rows at `indices`, in that order. Indices must be valid and distinct.
    /// Strictly ascending indices are compacted in place without allocating.
    public func keep(indices: [Int]) {
        precondition(indices.count <= count, "cannot keep \(indices.count) of \(count) rows")
        if isStrictlyAscending(indices) {
            // indices[row] >= row, so each move reads a row that no earlier move has overwritten.
            for (row, index) in indices.enumerated() where index != row {
                (keys + row * headDim).update(from: keys + index * headDim, count: headDim)
                (values + row * headDim).update(from: values + index * headDim, count: headDim)
                positions[row] = positions[index]
            }
            count = indices.count
            return
        }
        let newKeys = UnsafeMutablePointer<Float>.allocate(capacity: capacity * headDim)
        let newValues = UnsafeMutablePointer<Float>.allocate(capacity: capacity * headDim)
        let newPositions = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        for (row, index) in indices.enumerated() {
            precondition(index >= 0 && index < count, "row index \(index) is outside 0..<\(count)")
            (newKeys + row * headDim).update(from: keys + index * headDim, count: headDim)
            (newValues + row * headDim).update(from: values + index * headDim, count: headDim)
            newPositions[row] = positions[index]
        }
        keys.deallocate()
        values.deallocate()
        positions.deallocate()
        keys = newKeys
        values = newValues
        positions = newPositions
        count = indices.count
    }

    private func isStrictlyAscending(_ indices: [Int]) -> Bool {
        var previous = -1
        for index in indices {
            guard index > previous else { return false }
            previous = index
        }
        precondition(previous < count, "row index \(previous) is outside 0..<\(count)")
        return true
    }

    /// Removes every entry but keeps the storage.
    public func removeAll() {
        count = 0
    }

    /// Bytes held by the valid keys and values (float32); positions are bookkeeping and not counted.
    public var byteCount: Int { count * headDim * 2 * MemoryLayout<Float>.size }
}

/// The stored heads of one layer.
public final class LayerCache {
    public let layer: Int
    public let granularity: CacheGranularity
    public let queryHeads: Int
    public let kvHeads: Int
    public let headDim: Int
    public let heads: [HeadCache]
    /// Key bytes that a channel-pruning transform (ThinK) removed; subtracted from `byteCount`.
    public var prunedKeyBytes = 0

    public init(layer: Int, granularity: CacheGranularity, queryHeads: Int, kvHeads: Int, headDim: Int) {
        precondition(kvHeads > 0 && queryHeads % kvHeads == 0, "query heads \(queryHeads) must be a multiple of KV heads \(kvHeads)")
        self.layer = layer
        self.granularity = granularity
        self.queryHeads = queryHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
        let stored = granularity == .kvHead ? kvHeads : queryHeads
        heads = (0..<stored).map { _ in HeadCache(headDim: headDim) }
    }

    /// Query heads per KV head (the GQA group size).
    public var groupSize: Int { queryHeads / kvHeads }

    /// The stored head that query head `queryHead` attends to. Query head h belongs to KV head h / groupSize.
    @inline(__always)
    public func storedHead(forQueryHead queryHead: Int) -> Int {
        granularity == .kvHead ? queryHead / groupSize : queryHead
    }

    /// The KV head whose projections fill stored head `storedHead`.
    @inline(__always)
    public func kvHead(forStoredHead storedHead: Int) -> Int {
        granularity == .kvHead ? storedHead : storedHead / groupSize
    }

    public var byteCount: Int { heads.reduce(0) { $0 + $1.byteCount } - prunedKeyBytes }

    public func removeAll() {
        for head in heads { head.removeAll() }
        prunedKeyBytes = 0
    }
}

/// A per-layer, per-stored-head KV cache with absolute positions, handed to attention by the transformer.
public final class KVCache {
    public let granularity: CacheGranularity
    public let layers: [LayerCache]
    /// Tokens processed so far, compressed or not: the absolute position of the next token.
    public var processedTokens = 0

    public init(layerCount: Int, queryHeads: Int, kvHeads: Int, headDim: Int, granularity: CacheGranularity,
                firstLayer: Int = 0) {
        self.granularity = granularity
        layers = (0..<layerCount).map {
            LayerCache(layer: firstLayer + $0, granularity: granularity, queryHeads: queryHeads, kvHeads: kvHeads, headDim: headDim)
        }
    }

    /// Empties every layer for a new sequence, keeping the storage.
    public func reset() {
        for layer in layers { layer.removeAll() }
        processedTokens = 0
    }

    /// Reserves room for `tokens` entries in every stored head.
    public func reserve(tokens: Int) {
        for layer in layers {
            for head in layer.heads { head.reserveCapacity(tokens) }
        }
    }

    /// Bytes of keys and values held, per layer.
    public var bytesPerLayer: [Int] { layers.map(\.byteCount) }

    /// Bytes of keys and values held in all layers.
    public var byteCount: Int { layers.reduce(0) { $0 + $1.byteCount } }
}
