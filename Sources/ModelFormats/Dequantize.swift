import Dispatch
import Foundation
import TensorKernels

/// Errors raised when tensor data cannot be converted to Float32.
public enum DequantizationError: Error, CustomStringConvertible, Equatable {
    /// The type has no dequantization kernel, or it is not a weight type at all.
    case unsupportedType(GGMLType, tensor: String?)
    /// The element count is negative, not a multiple of the block size, or too large to address.
    case invalidCount(GGMLType, count: Int, tensor: String?)
    /// The byte buffer does not have the size that the type and element count need.
    case sizeMismatch(GGMLType, count: Int, expectedBytes: Int, actualBytes: Int, tensor: String?)

    /// The names of the types `Dequantizer` accepts: plain float types first, then block types by type id.
    public static var supportedTypeNames: [String] {
        GGMLType.allCases
            .filter(\.isDequantizable)
            .sorted { ($0.blockSize, $0.rawValue) < ($1.blockSize, $1.rawValue) }
            .map(\.name)
    }

    /// Returns the same error with the tensor name filled in, for callers that know which tensor failed.
    public func naming(tensor name: String) -> DequantizationError {
        switch self {
        case .unsupportedType(let type, _):
            return .unsupportedType(type, tensor: name)
        case .invalidCount(let type, let count, _):
            return .invalidCount(type, count: count, tensor: name)
        case .sizeMismatch(let type, let count, let expectedBytes, let actualBytes, _):
            return .sizeMismatch(type, count: count, expectedBytes: expectedBytes, actualBytes: actualBytes,
                                 tensor: name)
        }
    }

    public var description: String {
        switch self {
        case .unsupportedType(let type, let tensor):
            let supported = Self.supportedTypeNames.joined(separator: ", ")
            return "cannot dequantize \(Self.subject(type, tensor)) because the type is not supported. "
                + "Supported types: \(supported). Convert or re-quantize the model to one of them."
        case .invalidCount(let type, let count, let tensor):
            let problem: String
            if count < 0 {
                problem = "is negative"
            } else if count % type.blockSize != 0 {
                problem = "is not a multiple of the \(type.name) block size \(type.blockSize)"
            } else {
                problem = "needs more bytes than memory can address"
            }
            return "cannot dequantize \(Self.subject(type, tensor)): element count \(count) \(problem); "
                + "check the tensor shape in the model file"
        case .sizeMismatch(let type, let count, let expectedBytes, let actualBytes, let tensor):
            return "cannot dequantize \(Self.subject(type, tensor)): \(count) elements need \(expectedBytes) bytes "
                + "but the buffer has \(actualBytes); check the tensor offset and shape in the model file"
        }
    }

    private static func subject(_ type: GGMLType, _ tensor: String?) -> String {
        if let tensor {
            return "tensor \(tensor) of type \(type.name)"
        }
        return "\(type.name) data"
    }
}

/// Conversion of GGUF tensor data to Float32.
///
/// Each type has two implementations: a fast path that works on whole blocks with SIMD types, and a
/// scalar reference that computes every element on its own from the block layout. Both follow the
/// operation order of `gguf.quants` in the `gguf` Python package (version 0.19.0), for example
/// `(d * q) + m` for Q4_1 without a fused multiply-add, so both give bit-identical results to it.
///
/// All functions are pure over their arguments: calls on disjoint block ranges may run concurrently.
/// Source bytes need no alignment. Multi-byte fields are read as little-endian, which is the GGUF byte
/// order and the byte order of every platform this package builds for.
public enum Dequantizer {

    /// Converts `count` elements starting at `source` into `destination`, with the fast path.
    ///
    /// - Precondition: `source` has `byteCount(of: type, count: count)` readable bytes and `destination`
    ///   has room for `count` floats.
    /// - Throws: `DequantizationError.unsupportedType` or `.invalidCount`.
    public static func dequantize(_ type: GGMLType, from source: UnsafeRawPointer, count: Int,
                                  into destination: UnsafeMutablePointer<Float>) throws {
        // Validates the count, also against overflow of the byte size.
        _ = try byteCount(of: type, count: count)
        let blocks = count / type.blockSize

        switch type {
        case .f32:
            UnsafeMutableRawPointer(destination).copyMemory(from: source, byteCount: count * 4)
        case .f16:
            HalfFloat.convertFP16ToFloat(source, into: destination, count: count)
        case .bf16:
            HalfFloat.convertBF16ToFloat(source, into: destination, count: count)
        case .q4_0:
            LegacyKernels.q4_0(source, blocks: blocks, into: destination)
        case .q4_1:
            LegacyKernels.q4_1(source, blocks: blocks, into: destination)
        case .q5_0:
            LegacyKernels.q5_0(source, blocks: blocks, into: destination)
        case .q5_1:
            LegacyKernels.q5_1(source, blocks: blocks, into: destination)
        case .q8_0:
            LegacyKernels.q8_0(source, blocks: blocks, into: destination)
        case .q2_K:
            KQuantKernels.q2_K(source, blocks: blocks, into: destination)
        case .q3_K:
            KQuantKernels.q3_K(source, blocks: blocks, into: destination)
        case .q4_K:
            KQuantKernels.q4_K(source, blocks: blocks, into: destination)
        case .q5_K:
            KQuantKernels.q5_K(source, blocks: blocks, into: destination)
        case .q6_K:
            KQuantKernels.q6_K(source, blocks: blocks, into: destination)
        default:
            throw DequantizationError.unsupportedType(type, tensor: nil)
        }
    }

    /// Converts `count` elements starting at `source` into `destination`, with the scalar reference.
    /// Tests compare the fast path against it.
    ///
    /// - Precondition: as for `dequantize(_:from:count:into:)`.
    public static func dequantizeReference(_ type: GGMLType, from source: UnsafeRawPointer, count: Int,
                                           into destination: UnsafeMutablePointer<Float>) throws {
        // Validates the count, also against overflow of the byte size.
        _ = try byteCount(of: type, count: count)
        let blocks = count / type.blockSize
        let blockBytes = type.blockBytes!

        for block in 0..<blocks {
            try ReferenceKernels.dequantizeBlock(type, source + block * blockBytes,
                                                 into: destination + block * type.blockSize)
        }
    }

    /// Converts the elements stored in `bytes` and returns them, with the fast path.
    ///
    /// - Throws: `DequantizationError.sizeMismatch` when `bytes` does not hold exactly `count` elements.
    public static func dequantize(_ type: GGMLType, bytes: UnsafeRawBufferPointer, count: Int) throws -> [Float] {
        let expectedBytes = try byteCount(of: type, count: count)
        guard bytes.count == expectedBytes else {
            throw DequantizationError.sizeMismatch(type, count: count, expectedBytes: expectedBytes,
                                                   actualBytes: bytes.count, tensor: nil)
        }
        guard count > 0, let base = bytes.baseAddress else {
            return []
        }

        return try [Float](unsafeUninitializedCapacity: count) { buffer, initializedCount in
            try dequantize(type, from: base, count: count, into: buffer.baseAddress!)
            initializedCount = count
        }
    }

    /// Converts `count` elements with the fast path on several threads, each taking a contiguous range
    /// of whole blocks. The result does not depend on the number of threads.
    ///
    /// - Parameter minimumElementsPerTask: the smallest range worth a task; smaller tensors run on the
    ///   calling thread.
    public static func dequantizeConcurrently(_ type: GGMLType, from source: UnsafeRawPointer, count: Int,
                                              into destination: UnsafeMutablePointer<Float>,
                                              minimumElementsPerTask: Int = 1 << 16) throws {
        _ = try byteCount(of: type, count: count)
        let blocks = count / type.blockSize
        let blockBytes = type.blockBytes!

        // Several tasks per thread even out the load when other work shares the cores.
        let blocksPerTask = max(1, max(minimumElementsPerTask, 1) / type.blockSize)
        let taskLimit = max(1, ProcessInfo.processInfo.activeProcessorCount * 4)
        let taskCount = min(taskLimit, (blocks + blocksPerTask - 1) / blocksPerTask)
        guard taskCount > 1 else {
            try dequantize(type, from: source, count: count, into: destination)
            return
        }

        let blocksPerRange = (blocks + taskCount - 1) / taskCount
        DispatchQueue.concurrentPerform(iterations: taskCount) { task in
            let firstBlock = task * blocksPerRange
            let endBlock = min(blocks, firstBlock + blocksPerRange)
            guard firstBlock < endBlock else {
                return
            }
            // The type and count were validated above, so this call cannot throw.
            try? dequantize(type, from: source + firstBlock * blockBytes,
                            count: (endBlock - firstBlock) * type.blockSize,
                            into: destination + firstBlock * type.blockSize)
        }
    }

    /// Returns the number of bytes that `count` elements of `type` occupy.
    ///
    /// - Throws: `DequantizationError.unsupportedType` for types that `Dequantizer` cannot convert, and
    ///   `.invalidCount` for a count that is negative, not a multiple of the block size, or too large.
    public static func byteCount(of type: GGMLType, count: Int) throws -> Int {
        let blocks = try blockCount(of: type, count: count)
        let (bytes, overflow) = blocks.multipliedReportingOverflow(by: type.blockBytes!)
        guard !overflow else {
            throw DequantizationError.invalidCount(type, count: count, tensor: nil)
        }
        return bytes
    }

    private static func blockCount(of type: GGMLType, count: Int) throws -> Int {
        guard type.isDequantizable, type.blockBytes != nil else {
            throw DequantizationError.unsupportedType(type, tensor: nil)
        }
        guard count >= 0, count % type.blockSize == 0 else {
            throw DequantizationError.invalidCount(type, count: count, tensor: nil)
        }
        return count / type.blockSize
    }
}
