import Foundation

/// Element types of the safetensors format, spelled as in its JSON header.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case u8 = "U8"
    case i8 = "I8"
    case f8e5m2 = "F8_E5M2"
    case f8e4m3 = "F8_E4M3"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }
}

/// One tensor's entry in a safetensors header.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range inside the data section (after the 8-byte length and the header).
    public let dataRange: Range<Int>
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Errors raised while reading or writing safetensors files; each names the file, the tensor and the value.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case truncated(path: String, detail: String)
    case invalidHeader(path: String, detail: String)
    case invalidTensor(path: String, tensor: String, detail: String)
    case missingTensor(path: String, name: String, available: [String])
    case wrongDType(path: String, tensor: String, dtype: String, expected: String)
    case wrongShape(path: String, tensor: String, shape: [Int], expected: String)
    case invalidArgument(detail: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "safetensors file not found: \(path)"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .truncated(let path, let detail):
            return "\(path) is truncated: \(detail); write the file again"
        case .invalidHeader(let path, let detail):
            return "\(path) has an invalid safetensors header: \(detail)"
        case .invalidTensor(let path, let tensor, let detail):
            return "\(path): tensor \"\(tensor)\" is invalid: \(detail)"
        case .missingTensor(let path, let name, let available):
            let listed = available.isEmpty ? "none" : available.prefix(20).joined(separator: ", ")
            return "\(path) has no tensor \"\(name)\" (tensors: \(listed))"
        case .wrongDType(let path, let tensor, let dtype, let expected):
            return "\(path): tensor \"\(tensor)\" has dtype \(dtype), expected \(expected); save it as \(expected)"
        case .wrongShape(let path, let tensor, let shape, let expected):
            return "\(path): tensor \"\(tensor)\" has shape \(shape), expected \(expected)"
        case .invalidArgument(let detail):
            return "cannot write safetensors: \(detail)"
        case .writeFailed(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}

/// A safetensors file: an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape
/// and data offsets, and the raw little-endian data. Every header field is validated against the file size
/// before any tensor is read.
public final class SafetensorsFile {
    public let path: String
    /// Tensors in data order.
    public let tensors: [SafetensorsTensorInfo]
    /// The optional string-to-string `__metadata__` entry.
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int
    private let index: [String: Int]

    /// The format's own limit on the header size.
    static let maxHeaderBytes = 100_000_000

    public init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw SafetensorsError.fileNotFound(path: path)
        }
        let contents: Data
        do {
            contents = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw SafetensorsError.unreadable(path: path, reason: error.localizedDescription)
        }
        data = contents

        guard contents.count >= 8 else {
            throw SafetensorsError.truncated(path: path, detail: "the file has \(contents.count) bytes, fewer than the 8-byte header length")
        }
        let headerLength = contents.prefix(8).enumerated().reduce(UInt64(0)) { $0 | (UInt64($1.element) << (8 * UInt64($1.offset))) }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw SafetensorsError.invalidHeader(path: path, detail: "header length \(headerLength) exceeds the format's limit of \(Self.maxHeaderBytes) bytes")
        }
        guard headerLength <= UInt64(contents.count - 8) else {
            throw SafetensorsError.truncated(path: path, detail: "the header length field gives \(headerLength) bytes but only \(contents.count - 8) follow it")
        }
        dataStart = 8 + Int(headerLength)
        let header = contents.subdata(in: 8..<dataStart)
        guard header.first == UInt8(ascii: "{") else {
            throw SafetensorsError.invalidHeader(path: path, detail: "the header does not start with \"{\"")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: header)
        } catch {
            throw SafetensorsError.invalidHeader(path: path, detail: "the header is not valid JSON (\(error.localizedDescription))")
        }
        guard let entries = object as? [String: Any] else {
            throw SafetensorsError.invalidHeader(path: path, detail: "the header is not a JSON object")
        }

        var parsedMetadata: [String: String] = [:]
        var infos: [SafetensorsTensorInfo] = []
        let dataSize = contents.count - dataStart
        for (name, value) in entries {
            if name == "__metadata__" {
                guard let pairs = value as? [String: Any] else {
                    throw SafetensorsError.invalidHeader(path: path, detail: "__metadata__ is not an object")
                }
                for (key, entry) in pairs {
                    guard let text = entry as? String else {
                        throw SafetensorsError.invalidHeader(path: path, detail: "__metadata__ value for \"\(key)\" is not a string")
                    }
                    parsedMetadata[key] = text
                }
                continue
            }
            infos.append(try Self.parseTensor(name: name, value: value, dataSize: dataSize, path: path))
        }
        infos.sort { ($0.dataRange.lowerBound, $0.dataRange.upperBound, $0.name) < ($1.dataRange.lowerBound, $1.dataRange.upperBound, $1.name) }
        for (previous, next) in zip(infos, infos.dropFirst()) where next.dataRange.lowerBound < previous.dataRange.upperBound {
            throw SafetensorsError.invalidTensor(path: path, tensor: next.name, detail: "data_offsets \(next.dataRange.lowerBound)..<\(next.dataRange.upperBound) overlap tensor \"\(previous.name)\" at \(previous.dataRange.lowerBound)..<\(previous.dataRange.upperBound)")
        }
        tensors = infos
        metadata = parsedMetadata
        index = Dictionary(uniqueKeysWithValues: infos.enumerated().map { ($1.name, $0) })
    }

    private static func parseTensor(name: String, value: Any, dataSize: Int, path: String) throws -> SafetensorsTensorInfo {
        guard let fields = value as? [String: Any] else {
            throw SafetensorsError.invalidTensor(path: path, tensor: name, detail: "the entry is not an object with dtype, shape and data_offsets")
        }
        guard let dtypeName = fields["dtype"] as? String else {
            throw SafetensorsError.invalidTensor(path: path, tensor: name, detail: "dtype is missing or not a string")
        }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw SafetensorsError.invalidTensor(path: path, tensor: name, detail: "unknown dtype \"\(dtypeName)\"")
        }
        guard let shapeValues = fields["shape"] as? [Any] else {
            throw SafetensorsError.invalidTensor(path: path, tensor: name, detail: "shape is missing or not a list")
        }
        let shape = try shapeValues.map { try nonNegativeInteger($0, field: "shape", tensor: name, path: path) }

        guard let offsetValues = fields["data_offsets"] as? [Any], offsetValues.count == 2 else {
            throw SafetensorsError.invalidTensor(path: path, tensor: name, detail: "data_offsets is missing or not a list of two integers")
        }
        let begin = try nonNegativeInteger(offsetValues[0], field: "data_offsets", tensor: name, path: path)
        let end = try nonNegativeInteger(offsetValues[1], field: "data_offsets", tensor: name, path: path)
        guard begin <= end else {
            throw SafetensorsError.invalidTensor(path: path, tensor: name, detail: "data_offsets [\(begin), \(end)] end before they begin")
        }
        guard end <= dataSize else {
            throw SafetensorsError.truncated(path: path, detail: "tensor \"\(name)\" ends at data offset \(end) but the data section has \(dataSize) bytes")
        }

        var bytes = dtype.byteSize
        for dimension in shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw SafetensorsError.invalidTensor(path: path, tensor: name, detail: "shape \(shape) is too large")
            }
            bytes = product
        }
        guard bytes == end - begin else {
            throw SafetensorsError.invalidTensor(path: path, tensor: name, detail: "shape \(shape) of \(dtypeName) needs \(bytes) bytes but data_offsets [\(begin), \(end)] span \(end - begin)")
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    private static func nonNegativeInteger(_ value: Any, field: String, tensor: String, path: String) throws -> Int {
        guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else {
            throw SafetensorsError.invalidTensor(path: path, tensor: tensor, detail: "\(field) contains \(value), which is not an integer")
        }
        let double = number.doubleValue
        guard double >= 0, double == double.rounded(), double < 0x1p62 else {
            throw SafetensorsError.invalidTensor(path: path, tensor: tensor, detail: "\(field) contains \(number), which is not a non-negative integer")
        }
        return number.intValue
    }

    public func info(named name: String) -> SafetensorsTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// Reads a float32 tensor, checking its dtype and, when given, its shape. In `expectedShape` a nil dimension
    /// matches any size.
    public func float32Tensor(named name: String, expectedShape: [Int?]? = nil) throws -> (shape: [Int], values: [Float]) {
        guard let info = info(named: name) else {
            throw SafetensorsError.missingTensor(path: path, name: name, available: tensors.map(\.name))
        }
        guard info.dtype == .f32 else {
            throw SafetensorsError.wrongDType(path: path, tensor: name, dtype: info.dtype.rawValue, expected: "F32")
        }
        if let expectedShape {
            let matches = expectedShape.count == info.shape.count
                && zip(expectedShape, info.shape).allSatisfy { $0.0 == nil || $0.0 == $0.1 }
            guard matches else {
                let shown = "[" + expectedShape.map { $0.map(String.init) ?? "any" }.joined(separator: ", ") + "]"
                throw SafetensorsError.wrongShape(path: path, tensor: name, shape: info.shape, expected: shown)
            }
        }
        var values = [Float](repeating: 0, count: info.elementCount)
        let start = dataStart + info.dataRange.lowerBound
        values.withUnsafeMutableBytes { target in
            data.copyBytes(to: target.bindMemory(to: UInt8.self), from: start..<(start + info.dataRange.count))
        }
        #if _endian(big)
        values = values.map { Float(bitPattern: UInt32(littleEndian: $0.bitPattern)) }
        #endif
        return (info.shape, values)
    }
}

/// Writes float32 tensors in the safetensors format.
public enum SafetensorsWriter {
    public struct Tensor {
        public let name: String
        public let shape: [Int]
        public let values: [Float]

        public init(name: String, shape: [Int], values: [Float]) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// Writes `tensors` in the given order, atomically. The header is padded with spaces so the data starts at a
    /// multiple of 8 bytes.
    public static func write(_ tensors: [Tensor], metadata: [String: String] = [:], to path: String) throws {
        var seen = Set<String>()
        for tensor in tensors {
            guard !tensor.name.isEmpty, tensor.name != "__metadata__" else {
                throw SafetensorsError.invalidArgument(detail: "tensor name \"\(tensor.name)\" is reserved or empty")
            }
            guard seen.insert(tensor.name).inserted else {
                throw SafetensorsError.invalidArgument(detail: "tensor name \"\(tensor.name)\" appears twice")
            }
            guard tensor.shape.allSatisfy({ $0 >= 0 }), tensor.shape.reduce(1, *) == tensor.values.count else {
                throw SafetensorsError.invalidArgument(detail: "tensor \"\(tensor.name)\" has shape \(tensor.shape) but \(tensor.values.count) values")
            }
        }

        var entries: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for tensor in tensors {
            let end = offset + tensor.values.count * 4
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            entries.append("\(jsonString(tensor.name)):{\"dtype\":\"F32\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        while (8 + header.count) % 8 != 0 { header.append(UInt8(ascii: " ")) }

        var output = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { output.append(contentsOf: $0) }
        output.append(contentsOf: header)
        for tensor in tensors {
            #if _endian(big)
            let littleEndian = tensor.values.map { $0.bitPattern.littleEndian }
            littleEndian.withUnsafeBytes { output.append(contentsOf: $0) }
            #else
            tensor.values.withUnsafeBytes { output.append(contentsOf: $0) }
            #endif
        }
        do {
            try output.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw SafetensorsError.writeFailed(path: path, reason: error.localizedDescription)
        }
    }

    /// Returns `text` as a JSON string literal with the escapes RFC 8259 requires.
    private static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    result += String(format: "\\u%04x", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }
}
