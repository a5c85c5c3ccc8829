import Foundation
import ModelFormats
import XCTest

/// Paths and loaders for the committed fixtures and the real model.
enum Fixtures {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func path(_ relative: String) -> String {
        repositoryRoot.appendingPathComponent(relative).path
    }

    /// A tiny random-weight model written by scripts/golden/make_tiny_models.py, with transformers' logits at
    /// every prompt position.
    struct Tiny: Decodable {
        let model: String
        let tokens: [Int]
        let logits: [[Float]]

        var modelPath: String { Fixtures.path("Tests/Fixtures/tiny/" + model) }
    }

    static func tiny(_ name: String) throws -> Tiny {
        let url = repositoryRoot.appendingPathComponent("Tests/Fixtures/tiny/\(name).json")
        return try JSONDecoder().decode(Tiny.self, from: Data(contentsOf: url))
    }

    static let realModelPath = path("models/SmolLM2-135M-Instruct.Q4_1.gguf")

    /// Returns the real model's path, or skips the test when scripts/setup.sh has not downloaded it.
    static func requireRealModel() throws -> String {
        guard FileManager.default.fileExists(atPath: realModelPath) else {
            throw XCTSkip("\(realModelPath) is missing; run scripts/setup.sh to download it")
        }
        return realModelPath
    }
}

/// Largest absolute difference between two equally long vectors.
func maxAbsoluteDifference<A: Collection, B: Collection>(_ a: A, _ b: B) -> Float
    where A.Element == Float, B.Element == Float {
    precondition(a.count == b.count, "lengths \(a.count) and \(b.count) differ")
    var worst: Float = 0
    for (x, y) in zip(a, b) { worst = max(worst, abs(x - y)) }
    return worst
}

/// Writes GGUF files from a metadata list and float32 tensors, for tests that need malformed models.
struct TestGGUFWriter {
    var metadata: [(String, GGUFValue)] = []
    var tensors: [(name: String, shape: [Int], type: GGMLType, data: [UInt8])] = []

    /// Creates a writer with a copy of every key and tensor of `file`.
    init(copying file: GGUFFile) {
        for key in file.metadataKeys { metadata.append((key, file.metadata[key]!)) }
        for tensor in file.tensors {
            tensors.append((tensor.name, tensor.shape, tensor.type, Array(file.rawData(tensor))))
        }
    }

    mutating func set(_ key: String, _ value: GGUFValue) {
        if let index = metadata.firstIndex(where: { $0.0 == key }) {
            metadata[index].1 = value
        } else {
            metadata.append((key, value))
        }
    }

    mutating func remove(key: String) { metadata.removeAll { $0.0 == key } }
    mutating func remove(tensor: String) { tensors.removeAll { $0.name == tensor } }

    /// Renames every metadata key from one architecture prefix to another.
    mutating func renamePrefix(_ old: String, to new: String) {
        metadata = metadata.map { key, value in
            (key.hasPrefix(old + ".") ? new + key.dropFirst(old.count) : key, value)
        }
    }

    func write(name: String) throws -> String {
        var bytes: [UInt8] = []
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        func appendString(_ s: String) {
            append(UInt64(s.utf8.count))
            bytes.append(contentsOf: Array(s.utf8))
        }
        func typeCode(_ value: GGUFValue) -> UInt32 {
            switch value {
            case .uint8: return 0
            case .int8: return 1
            case .uint16: return 2
            case .int16: return 3
            case .uint32: return 4
            case .int32: return 5
            case .float32: return 6
            case .bool: return 7
            case .string: return 8
            case .array: return 9
            case .uint64: return 10
            case .int64: return 11
            case .float64: return 12
            }
        }
        func appendValue(_ value: GGUFValue) {
            switch value {
            case .uint8(let v): append(v)
            case .int8(let v): append(v)
            case .uint16(let v): append(v)
            case .int16(let v): append(v)
            case .uint32(let v): append(v)
            case .int32(let v): append(v)
            case .uint64(let v): append(v)
            case .int64(let v): append(v)
            case .float32(let v): append(v.bitPattern)
            case .float64(let v): append(v.bitPattern)
            case .bool(let v): append(UInt8(v ? 1 : 0))
            case .string(let s): appendString(s)
            case .array(let items):
                append(items.first.map(typeCode) ?? 4)
                append(UInt64(items.count))
                for item in items { appendValue(item) }
            }
        }

        bytes.append(contentsOf: Array("GGUF".utf8))
        append(UInt32(3))
        append(UInt64(tensors.count))
        append(UInt64(metadata.count))
        for (key, value) in metadata {
            appendString(key)
            append(typeCode(value))
            appendValue(value)
        }
        let alignment = 32
        var offset = 0
        for tensor in tensors {
            appendString(tensor.name)
            append(UInt32(tensor.shape.count))
            for extent in tensor.shape { append(UInt64(extent)) }
            append(tensor.type.rawValue)
            append(UInt64(offset))
            offset += (tensor.data.count + alignment - 1) / alignment * alignment
        }
        while bytes.count % alignment != 0 { bytes.append(0) }
        for tensor in tensors {
            bytes.append(contentsOf: tensor.data)
            while bytes.count % alignment != 0 { bytes.append(0) }
        }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvfactory-modeling-tests", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }
}
