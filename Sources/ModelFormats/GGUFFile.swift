#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// One tensor's entry in the GGUF tensor table.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions in GGUF order: `shape[0]` is the contiguous (innermost) dimension, as in ggml's `ne`.
    public let shape: [Int]
    public let type: GGMLType
    /// Offset of the data from the start of the tensor-data section.
    public let offset: Int
    public let elementCount: Int
    public let byteCount: Int
}

/// A GGUF model file (versions 2 and 3), memory-mapped read-only.
///
/// Every count, length, dimension and offset read from the header is checked against the file size and
/// against fixed sanity limits before anything is allocated, so a truncated or hostile file raises a
/// `GGUFError` that names the field and byte offset instead of crashing.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    public let fileSize: Int
    public let alignment: Int
    /// Offset of the tensor-data section from the start of the file.
    public let dataOffset: Int
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    public let tensors: [GGUFTensorInfo]
    private let tensorIndex: [String: Int]
    private let base: UnsafeRawPointer
    private let mappedLength: Int

    /// Limits that no real model reaches; they stop a corrupt header from requesting absurd allocations.
    static let maxTensorCount = 1 << 20
    static let maxMetadataCount = 1 << 20
    static let maxStringLength = 1 << 28
    static let maxArrayNesting = 8
    static let maxDimensions = 4

    public init(path: String) throws {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else { throw GGUFError.fileNotFound(path: path) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError.unreadable(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        fileSize = size
        guard size >= 4 else {
            throw GGUFError.truncated(path: path, field: "magic", offset: 0, needed: 4, fileSize: size)
        }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw GGUFError.unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), mapping != MAP_FAILED else {
            throw GGUFError.unreadable(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(mapping)
        mappedLength = size

        do {
            var reader = HeaderReader(base: base, size: size, path: path)
            let magic = try reader.bytes(4, field: "magic")
            guard magic == [0x47, 0x47, 0x55, 0x46] else { throw GGUFError.notGGUF(path: path, magic: magic) }
            let versionOffset = reader.offset
            version = try reader.read(UInt32.self, field: "version")
            guard version == 2 || version == 3 else {
                if version == 1 || version > 3 { throw GGUFError.unsupportedVersion(path: path, version: version) }
                throw GGUFError.invalidValue(path: path, field: "version", offset: versionOffset, detail: "version \(version)")
            }
            let tensorCount = try reader.count(UInt64.self, field: "tensor_count", limit: Self.maxTensorCount, minimumBytesEach: 24)
            let metadataCount = try reader.count(UInt64.self, field: "metadata_kv_count", limit: Self.maxMetadataCount, minimumBytesEach: 13)

            var metadata: [String: GGUFValue] = [:]
            var keys: [String] = []
            keys.reserveCapacity(metadataCount)
            for index in 0..<metadataCount {
                let keyOffset = reader.offset
                let key = try reader.string(field: "metadata[\(index)].key")
                let valueType = try reader.read(UInt32.self, field: "metadata[\(key)].type")
                let value = try reader.value(type: valueType, field: "metadata[\(key)]", depth: 0)
                if metadata[key] != nil {
                    throw GGUFError.invalidValue(path: path, field: "metadata[\(index)].key", offset: keyOffset, detail: "duplicate key \(key)")
                }
                metadata[key] = value
                keys.append(key)
            }
            self.metadata = metadata
            metadataKeys = keys

            var alignment = 32
            if let value = metadata["general.alignment"] {
                guard let a = value.intValue, a > 0, a <= 1 << 20, a & (a - 1) == 0 else {
                    throw GGUFError.invalidValue(path: path, field: "general.alignment", offset: 0,
                                                 detail: "\(value.summary()) is not a power of two")
                }
                alignment = a
            }
            self.alignment = alignment

            struct RawTensor { let name: String; let shape: [Int]; let typeRaw: UInt32; let offset: UInt64; let fieldOffset: Int }
            var raw: [RawTensor] = []
            raw.reserveCapacity(tensorCount)
            for index in 0..<tensorCount {
                let fieldOffset = reader.offset
                let name = try reader.string(field: "tensor[\(index)].name")
                let dimensionsOffset = reader.offset
                let dimensionCount = Int(try reader.read(UInt32.self, field: "tensor[\(name)].n_dims"))
                guard (1...Self.maxDimensions).contains(dimensionCount) else {
                    throw GGUFError.invalidValue(path: path, field: "tensor[\(name)].n_dims", offset: dimensionsOffset,
                                                 detail: "\(dimensionCount) dimensions; expected 1 to \(Self.maxDimensions)")
                }
                var shape: [Int] = []
                for d in 0..<dimensionCount {
                    let at = reader.offset
                    let extent = try reader.read(UInt64.self, field: "tensor[\(name)].ne[\(d)]")
                    guard extent > 0, extent <= UInt64(1) << 40 else {
                        throw GGUFError.invalidValue(path: path, field: "tensor[\(name)].ne[\(d)]", offset: at,
                                                     detail: "extent \(extent) is zero or beyond any real model")
                    }
                    shape.append(Int(extent))
                }
                let typeRaw = try reader.read(UInt32.self, field: "tensor[\(name)].type")
                let offset = try reader.read(UInt64.self, field: "tensor[\(name)].offset")
                raw.append(RawTensor(name: name, shape: shape, typeRaw: typeRaw, offset: offset, fieldOffset: fieldOffset))
            }

            // A file without tensors may end right after its header, with no padding.
            let dataStart = tensorCount == 0 ? reader.offset : (reader.offset + alignment - 1) / alignment * alignment
            guard dataStart <= size else {
                throw GGUFError.truncated(path: path, field: "tensor data section", offset: reader.offset,
                                          needed: dataStart - reader.offset, fileSize: size)
            }
            dataOffset = dataStart

            var tensors: [GGUFTensorInfo] = []
            var index: [String: Int] = [:]
            for entry in raw {
                let field = "tensor[\(entry.name)]"
                guard let type = GGMLType(rawValue: entry.typeRaw) else {
                    throw GGUFError.invalidValue(path: path, field: "\(field).type", offset: entry.fieldOffset,
                                                 detail: "unknown ggml type \(entry.typeRaw)")
                }
                var elements = 1
                for extent in entry.shape {
                    let (product, overflow) = elements.multipliedReportingOverflow(by: extent)
                    guard !overflow, product <= 1 << 50 else {
                        throw GGUFError.invalidValue(path: path, field: "\(field).shape", offset: entry.fieldOffset,
                                                     detail: "shape \(entry.shape) has more elements than any real model")
                    }
                    elements = product
                }
                guard let blockBytes = type.blockBytes else {
                    throw GGUFError.unsupportedTensorType(path: path, tensor: entry.name, type: type.name)
                }
                guard entry.shape[0] % type.blockSize == 0 else {
                    throw GGUFError.invalidValue(path: path, field: "\(field).ne[0]", offset: entry.fieldOffset,
                                                 detail: "row length \(entry.shape[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
                }
                let byteCount = elements / type.blockSize * blockBytes
                guard entry.offset % UInt64(alignment) == 0 else {
                    throw GGUFError.invalidValue(path: path, field: "\(field).offset", offset: entry.fieldOffset,
                                                 detail: "data offset \(entry.offset) is not a multiple of the alignment \(alignment)")
                }
                guard entry.offset <= UInt64(size), dataStart + Int(entry.offset) + byteCount <= size else {
                    throw GGUFError.truncated(path: path, field: "\(field) data", offset: dataStart + Int(min(entry.offset, UInt64(size))),
                                              needed: byteCount, fileSize: size)
                }
                guard index[entry.name] == nil else {
                    throw GGUFError.invalidValue(path: path, field: "\(field).name", offset: entry.fieldOffset, detail: "duplicate tensor name")
                }
                index[entry.name] = tensors.count
                tensors.append(GGUFTensorInfo(name: entry.name, shape: entry.shape, type: type, offset: Int(entry.offset),
                                              elementCount: elements, byteCount: byteCount))
            }
            self.tensors = tensors
            tensorIndex = index
        } catch {
            munmap(UnsafeMutableRawPointer(mutating: base), size)
            throw error
        }
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), mappedLength)
    }

    // MARK: Tensors

    public func tensorInfo(_ name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The raw bytes of a tensor, backed by the memory map; valid while this `GGUFFile` is alive.
    public func rawData(_ tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + dataOffset + tensor.offset, count: tensor.byteCount)
    }

    /// Total bytes of all tensor data.
    public var tensorBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    // MARK: Metadata accessors

    public func value(_ key: String) -> GGUFValue? { metadata[key] }
    public func string(_ key: String) -> String? { metadata[key]?.stringValue }
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }
    public func float(_ key: String) -> Float? { metadata[key]?.floatValue }
    public func bool(_ key: String) -> Bool? { metadata[key]?.boolValue }
    public func stringArray(_ key: String) -> [String]? {
        guard let items = metadata[key]?.arrayValue else { return nil }
        var result: [String] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard let s = item.stringValue else { return nil }
            result.append(s)
        }
        return result
    }
    public func intArray(_ key: String) -> [Int]? {
        guard let items = metadata[key]?.arrayValue else { return nil }
        var result: [Int] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard let v = item.intValue else { return nil }
            result.append(v)
        }
        return result
    }
    public func floatArray(_ key: String) -> [Float]? {
        guard let items = metadata[key]?.arrayValue else { return nil }
        var result: [Float] = []
        result.reserveCapacity(items.count)
        for item in items {
            guard let v = item.floatValue else { return nil }
            result.append(v)
        }
        return result
    }

    /// `general.architecture`, e.g. "llama", "qwen2".
    public var architecture: String? { string("general.architecture") }

    /// Reads a required integer metadata key or throws `missingKey`.
    public func requireInt(_ key: String) throws -> Int {
        guard let v = int(key) else { throw GGUFError.missingKey(path: path, key: key) }
        return v
    }
}

/// A bounds-checked little-endian cursor over the mapped header.
struct HeaderReader {
    let base: UnsafeRawPointer
    let size: Int
    let path: String
    var offset = 0

    mutating func need(_ count: Int, field: String) throws {
        guard count >= 0, offset <= size, count <= size - offset else {
            throw GGUFError.truncated(path: path, field: field, offset: offset, needed: count, fileSize: size)
        }
    }

    mutating func read<T: FixedWidthInteger>(_ type: T.Type, field: String) throws -> T {
        try need(MemoryLayout<T>.size, field: field)
        let value = T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += MemoryLayout<T>.size
        return value
    }

    mutating func bytes(_ count: Int, field: String) throws -> [UInt8] {
        try need(count, field: field)
        let result = Array(UnsafeRawBufferPointer(start: base + offset, count: count))
        offset += count
        return result
    }

    /// Reads a 64-bit count and checks it against `limit` and against the bytes left in the file.
    mutating func count<T: FixedWidthInteger>(_ type: T.Type, field: String, limit: Int, minimumBytesEach: Int) throws -> Int {
        let at = offset
        let raw = try read(T.self, field: field)
        let remaining = size - offset
        guard raw >= 0, UInt64(raw) <= UInt64(limit) else {
            throw GGUFError.invalidValue(path: path, field: field, offset: at, detail: "count \(raw) exceeds the limit \(limit)")
        }
        let needed = Int(raw) * minimumBytesEach
        guard needed <= remaining else {
            throw GGUFError.truncated(path: path, field: "\(field) entries", offset: offset, needed: needed, fileSize: size)
        }
        return Int(raw)
    }

    mutating func string(field: String) throws -> String {
        let at = offset
        let length = try read(UInt64.self, field: "\(field) length")
        guard length <= UInt64(GGUFFile.maxStringLength) else {
            throw GGUFError.invalidValue(path: path, field: field, offset: at, detail: "string length \(length) is beyond the limit")
        }
        try need(Int(length), field: field)
        let buffer = UnsafeRawBufferPointer(start: base + offset, count: Int(length))
        offset += Int(length)
        // Invalid UTF-8 is repaired with U+FFFD rather than rejected, as llama.cpp does not validate it either.
        return String(decoding: buffer, as: UTF8.self)
    }

    mutating func value(type: UInt32, field: String, depth: Int) throws -> GGUFValue {
        switch type {
        case 0: return .uint8(try read(UInt8.self, field: field))
        case 1: return .int8(try read(Int8.self, field: field))
        case 2: return .uint16(try read(UInt16.self, field: field))
        case 3: return .int16(try read(Int16.self, field: field))
        case 4: return .uint32(try read(UInt32.self, field: field))
        case 5: return .int32(try read(Int32.self, field: field))
        case 6: return .float32(Float(bitPattern: try read(UInt32.self, field: field)))
        case 7:
            let at = offset
            let raw = try read(UInt8.self, field: field)
            guard raw <= 1 else {
                throw GGUFError.invalidValue(path: path, field: field, offset: at, detail: "bool byte \(raw) is neither 0 nor 1")
            }
            return .bool(raw == 1)
        case 8: return .string(try string(field: field))
        case 9:
            guard depth < GGUFFile.maxArrayNesting else {
                throw GGUFError.invalidValue(path: path, field: field, offset: offset, detail: "arrays nested deeper than \(GGUFFile.maxArrayNesting)")
            }
            let typeOffset = offset
            let elementType = try read(UInt32.self, field: "\(field) element type")
            guard let minimum = Self.minimumSize(ofType: elementType) else {
                throw GGUFError.invalidValue(path: path, field: "\(field) element type", offset: typeOffset, detail: "unknown value type \(elementType)")
            }
            let count = try self.count(UInt64.self, field: "\(field) count", limit: Int(Int32.max), minimumBytesEach: minimum)
            var items: [GGUFValue] = []
            items.reserveCapacity(count)
            for i in 0..<count {
                items.append(try value(type: elementType, field: depth == 0 && count < 16 ? "\(field)[\(i)]" : field, depth: depth + 1))
            }
            return .array(items)
        case 10: return .uint64(try read(UInt64.self, field: field))
        case 11: return .int64(try read(Int64.self, field: field))
        case 12: return .float64(Double(bitPattern: try read(UInt64.self, field: field)))
        default:
            throw GGUFError.invalidValue(path: path, field: field, offset: offset - 4, detail: "unknown value type \(type)")
        }
    }

    /// The smallest encoding of one value of a GGUF value type, used to bound array counts.
    static func minimumSize(ofType type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 8: return 8
        case 9: return 12
        case 10, 11, 12: return 8
        default: return nil
        }
    }
}
