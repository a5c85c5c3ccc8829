import Foundation
import ModelFormats
import TensorKernels

/// The weights of one transformer block, dequantized to float32.
final class LayerWeights {
    let attentionNorm: FloatBuffer
    /// Q, K and V projections stacked as one matrix: rows `0..<queryDim` are Q, then `kvDim` rows of K and
    /// `kvDim` rows of V, so one product computes all three.
    let qkv: WeightMatrix
    /// Q, K and V biases in the same stacked order (Qwen2), or nil.
    let qkvBias: FloatBuffer?
    let attentionOutput: WeightMatrix
    let mlpNorm: FloatBuffer
    /// Gate and up projections stacked: rows `0..<intermediateSize` are the gate, the rest the up projection.
    let gateUp: WeightMatrix
    let down: WeightMatrix

    init(config: ModelConfig) {
        let d = config.hiddenSize
        attentionNorm = FloatBuffer(count: d)
        qkv = WeightMatrix(rows: config.queryDim + 2 * config.kvDim, columns: d)
        qkvBias = config.hasQKVBias ? FloatBuffer(count: config.queryDim + 2 * config.kvDim) : nil
        attentionOutput = WeightMatrix(rows: d, columns: config.queryDim)
        mlpNorm = FloatBuffer(count: d)
        gateUp = WeightMatrix(rows: 2 * config.intermediateSize, columns: d)
        down = WeightMatrix(rows: d, columns: config.intermediateSize)
    }

    var byteCount: Int {
        let vectors = attentionNorm.count + mlpNorm.count + (qkvBias?.count ?? 0)
        return vectors * 4 + qkv.byteCount + attentionOutput.byteCount + gateUp.byteCount + down.byteCount
    }
}

/// One unit of load work: rows of a GGUF tensor dequantized into a float32 destination.
struct TensorLoad {
    let tensor: GGUFTensorInfo
    /// Elements per row as this load sees the tensor; a vector loaded element by element has rows of 1.
    let columns: Int
    let rows: Range<Int>
    /// Destination of row 0; row `r` goes to `destination + target(r) * columns`.
    let destination: UnsafeMutablePointer<Float>
    /// When set, rows are reordered from llama.cpp's rotary layout back to Hugging Face's for heads of this size.
    let unpermuteHeadDim: Int?
}

/// Reads and dequantizes the tensors of a layer range in parallel.
struct WeightLoader {
    let gguf: GGUFFile
    let config: ModelConfig
    var loads: [TensorLoad] = []

    init(gguf: GGUFFile, config: ModelConfig) {
        self.gguf = gguf
        self.config = config
    }

    /// Schedules a matrix whose GGUF shape must be `[columns, rows]` (contiguous dimension first) into
    /// `destination`, optionally undoing the Q/K rotary permutation of its rows.
    mutating func addMatrix(_ name: String, columns: Int, rows: Int, into destination: UnsafeMutablePointer<Float>,
                            unpermuteHeadDim: Int? = nil) throws {
        let tensor = try lookup(name, expectedShape: [columns, rows])
        // Split large tensors so that the parallel loop stays balanced: about 2M elements (8 MB) per load.
        let rowsPerLoad = max(1, (1 << 21) / columns)
        var first = 0
        while first < rows {
            let last = min(rows, first + rowsPerLoad)
            loads.append(TensorLoad(tensor: tensor, columns: columns, rows: first..<last, destination: destination,
                                    unpermuteHeadDim: unpermuteHeadDim))
            first = last
        }
    }

    /// Schedules a vector of `count` elements (GGUF shape `[count]`), optionally undoing the Q/K rotary
    /// permutation of its elements, which a bias of a permuted projection shares.
    mutating func addVector(_ name: String, count: Int, into destination: UnsafeMutablePointer<Float>,
                            unpermuteHeadDim: Int? = nil) throws {
        let tensor = try lookup(name, expectedShape: [count])
        if unpermuteHeadDim != nil {
            guard tensor.type.blockSize == 1 else {
                throw ModelError.unsupportedFeature(path: gguf.path, feature: "a \(tensor.type.name) bias on the permuted tensor \(name)")
            }
            loads.append(TensorLoad(tensor: tensor, columns: 1, rows: 0..<count, destination: destination,
                                    unpermuteHeadDim: unpermuteHeadDim))
        } else {
            loads.append(TensorLoad(tensor: tensor, columns: count, rows: 0..<1, destination: destination, unpermuteHeadDim: nil))
        }
    }

    /// Returns tensor `name` after checking its shape and that its type can be dequantized.
    func lookup(_ name: String, expectedShape: [Int]) throws -> GGUFTensorInfo {
        guard let tensor = gguf.tensorInfo(name) else { throw ModelError.missingTensor(path: gguf.path, name: name) }
        // Trailing dimensions of 1 carry no data; some exporters write vectors as [n, 1].
        var shape = tensor.shape
        while shape.count > expectedShape.count, shape.last == 1 { shape.removeLast() }
        guard shape == expectedShape else {
            throw ModelError.tensorShapeMismatch(path: gguf.path, name: name, shape: tensor.shape, expected: expectedShape)
        }
        guard tensor.type.isDequantizable else {
            throw GGUFError.unsupportedTensorType(path: gguf.path, tensor: name, type: tensor.type.name)
        }
        return tensor
    }

    /// Runs every scheduled load on `threads` threads.
    func run(threads: Int) throws {
        let loads = self.loads
        let failures = FailureSlot()
        ParallelFor.run(loads.count, threads: threads) { index in
            do {
                try Self.perform(loads[index], gguf: gguf)
            } catch {
                failures.record(index: index, error: error)
            }
        }
        if let error = failures.first { throw error }
    }

    static func perform(_ load: TensorLoad, gguf: GGUFFile) throws {
        let tensor = load.tensor
        let columns = load.columns
        let rowBytes = tensor.byteCount / (tensor.elementCount / columns)
        guard let base = gguf.rawData(tensor).baseAddress else { return }
        for row in load.rows {
            let target = load.unpermuteHeadDim.map { Self.huggingFaceRow(forFileRow: row, headDim: $0) } ?? row
            try Dequantizer.dequantize(tensor.type, from: base + row * rowBytes, count: columns,
                                       into: load.destination + target * columns)
        }
    }

    /// Undoes llama.cpp's Q/K row permutation.
    ///
    /// llama.cpp rotates adjacent channel pairs (2i, 2i+1) of a head, while Hugging Face checkpoints rotate
    /// (i, i + d/2). To keep the same attention scores, llama.cpp's converter reorders the Q and K projection
    /// rows of each head so that Hugging Face row `half * d/2 + i` lands on file row `2i + half`. Reading
    /// file row `2i + half` back into row `half * d/2 + i` restores the Hugging Face layout, so the cache
    /// and the policies see head channels in the order transformers and KVCache-Factory use.
    static func huggingFaceRow(forFileRow row: Int, headDim: Int) -> Int {
        let head = row / headDim
        let within = row % headDim
        let pair = within / 2
        let half = within % 2
        return head * headDim + half * (headDim / 2) + pair
    }
}

/// Collects the first error thrown inside a parallel loop, by lowest index so the report is reproducible.
final class FailureSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (index: Int, error: Error)?

    func record(index: Int, error: Error) {
        lock.lock()
        defer { lock.unlock() }
        if stored == nil || index < stored!.index { stored = (index, error) }
    }

    var first: Error? {
        lock.lock()
        defer { lock.unlock() }
        return stored?.error
    }
}
