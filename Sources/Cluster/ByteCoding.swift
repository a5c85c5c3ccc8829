/// Appends little-endian fields to a byte array, for messages between ranks.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func write(_ value: UInt8) {
        bytes.append(value)
    }

    public mutating func write(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func write(_ value: Double) {
        write(value.bitPattern)
    }

    /// Writes a 32-bit length, then the bytes.
    public mutating func writeBlob<Bytes: Collection>(_ blob: Bytes) where Bytes.Element == UInt8 {
        write(UInt32(blob.count))
        bytes.append(contentsOf: blob)
    }

    public mutating func write(_ string: String) {
        writeBlob(Array(string.utf8))
    }
}

/// Reads the fields that `ByteWriter` wrote; every read checks the remaining length.
public struct ByteReader {
    public struct OutOfBounds: Error, CustomStringConvertible {
        public let field: String
        public let needed: Int
        public let remaining: Int
        public var description: String { "\(field) needs \(needed) bytes but only \(remaining) remain" }
    }

    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var isAtEnd: Bool { offset == bytes.count }

    private mutating func take(_ count: Int, field: String) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - offset else {
            throw OutOfBounds(field: field, needed: count, remaining: bytes.count - offset)
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    public mutating func readUInt8(_ field: String) throws -> UInt8 {
        try take(1, field: field).first!
    }

    public mutating func readUInt32(_ field: String) throws -> UInt32 {
        try take(4, field: field).reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    public mutating func readUInt64(_ field: String) throws -> UInt64 {
        try take(8, field: field).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    public mutating func readDouble(_ field: String) throws -> Double {
        Double(bitPattern: try readUInt64(field))
    }

    public mutating func readBlob(_ field: String) throws -> [UInt8] {
        let count = Int(try readUInt32(field + " length"))
        return Array(try take(count, field: field))
    }

    public mutating func readString(_ field: String) throws -> String {
        String(decoding: try readBlob(field), as: UTF8.self)
    }
}
