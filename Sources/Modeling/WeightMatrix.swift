import TensorKernels

/// An owned float32 buffer, freed with its owner.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    /// - Parameter zeroed: whether to fill the buffer with zeros. Scratch buffers that are always written
    ///   before they are read skip it, which saves touching every page up front.
    public init(count: Int, zeroed: Bool = true) {
        self.count = count
        pointer = .allocate(capacity: max(count, 1))
        if zeroed { pointer.initialize(repeating: 0, count: max(count, 1)) }
    }

    deinit { pointer.deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }
}

/// A linear layer's weight matrix, `rows` outputs by `columns` inputs, row-major as in GGUF and PyTorch.
///
/// Weights are stored as float32 today, dequantized at load. The products go through this type only, so a
/// later storage case (quantized blocks with a fused dequantizing product, as llama.cpp does) can be added
/// here without touching the forward pass.
public final class WeightMatrix: @unchecked Sendable {
    public enum Storage: Sendable {
        case float32
    }

    public let rows: Int
    public let columns: Int
    public let storage: Storage
    /// Row-major `[rows, columns]` float32 values.
    public let values: UnsafeMutablePointer<Float>
    /// Output rows (matrix rows) per slice of the parallel products. It depends only on the shape, never on
    /// the thread count, because OpenBLAS's result for an element depends on the shape of the call that
    /// computes it: fixed slices make the output identical for any thread count.
    let sliceRows: Int

    public init(rows: Int, columns: Int) {
        self.rows = rows
        self.columns = columns
        storage = .float32
        values = .allocate(capacity: rows * columns)
        values.initialize(repeating: 0, count: rows * columns)
        // About 256 rows per slice, an even number of slices so two threads split them evenly,
        // and a multiple of 16 rows so slices start on SIMD and cache-line boundaries.
        var slices = max(1, (rows + 255) / 256)
        if slices > 1, slices % 2 == 1 { slices += 1 }
        sliceRows = max(16, ((rows + slices - 1) / slices + 15) / 16 * 16)
    }

    deinit { values.deallocate() }

    public var byteCount: Int { rows * columns * MemoryLayout<Float>.size }

    /// `output[t, 0..<rows] = input[t, 0..<columns] * W^T (+ output when accumulating)` for `t < count`.
    ///
    /// Strides are in floats. The product is cut into fixed slices of `sliceRows` matrix rows, each a
    /// single-threaded BLAS call over all `count` activation rows, run on `threads` threads. Each slice of
    /// the matrix is then read from memory once per call. The caller must have limited OpenBLAS to one
    /// thread (see `Threading.withSingleThreadedBLAS`).
    public func multiply(count: Int, input: UnsafePointer<Float>, inputStride: Int,
                         output: UnsafeMutablePointer<Float>, outputStride: Int, accumulate: Bool = false,
                         threads: Int) {
        if count == 1 {
            multiplyVector(input, output: output, accumulate: accumulate, threads: threads)
            return
        }
        let sliceRows = self.sliceRows
        let slices = (rows + sliceRows - 1) / sliceRows
        let values = self.values, columns = self.columns, rows = self.rows
        ParallelFor.run(slices, threads: threads) { slice in
            let firstRow = slice * sliceRows
            let rowCount = min(sliceRows, rows - firstRow)
            switch self.storage {
            case .float32:
                BLAS.gemmTransposedB(m: count, n: rowCount, k: columns, a: input, lda: inputStride,
                                     b: values + firstRow * columns, ldb: columns, beta: accumulate ? 1 : 0,
                                     c: output + firstRow, ldc: outputStride)
            }
        }
    }

    /// `output = W * input (+ output when accumulating)`, split into fixed row slices run on `threads` threads.
    ///
    /// Allocates nothing, so decode can call it per token. The caller must have limited OpenBLAS to one thread
    /// (see `Threading.withSingleThreadedBLAS`), or the slices' own BLAS threads oversubscribe the cores.
    public func multiplyVector(_ input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                               accumulate: Bool = false, threads: Int) {
        let job = VectorProduct(storage: storage, values: values, rows: rows, columns: columns, sliceRows: sliceRows,
                                input: input, output: output, beta: accumulate ? 1 : 0)
        let slices = (rows + sliceRows - 1) / sliceRows
        withUnsafePointer(to: job) { pointer in
            ParallelFor.run(slices, threads: threads, context: pointer) { context, _, slice in
                context.assumingMemoryBound(to: VectorProduct.self).pointee.run(slice: slice)
            }
        }
    }
}

/// One matrix-vector product, split into slices of matrix rows.
struct VectorProduct {
    let storage: WeightMatrix.Storage
    let values: UnsafePointer<Float>
    let rows: Int
    let columns: Int
    let sliceRows: Int
    let input: UnsafePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let beta: Float

    func run(slice: Int) {
        let first = slice * sliceRows
        let count = min(sliceRows, rows - first)
        switch storage {
        case .float32:
            BLAS.gemv(m: count, n: columns, a: values + first * columns, lda: columns, x: input, beta: beta, y: output + first)
        }
    }
}
