import ModelFormats

/// The token embedding of the stage holding layer 0.
///
/// A whole model keeps the dequantized matrix, which its tied LM head shares. A first stage without the
/// last layer keeps no float32 copy: it dequantizes the rows of its tokens from the GGUF memory map on each
/// lookup, which saves `vocabularySize * hiddenSize * 4` bytes (113 MB for SmolLM2-135M).
enum TokenEmbedding {
    case resident(WeightMatrix)
    case mapped(MappedMatrixRows)

    /// Writes row `token` (`hiddenSize` floats) to `destination`. Allocates nothing.
    func copyRow(_ token: Int, into destination: UnsafeMutablePointer<Float>) throws {
        switch self {
        case .resident(let matrix):
            destination.update(from: matrix.values + token * matrix.columns, count: matrix.columns)
        case .mapped(let rows):
            try rows.dequantizeRow(token, into: destination)
        }
    }
}

/// The rows of a GGUF matrix, dequantized one at a time straight from the memory map.
///
/// A row comes out bit-identical to the same row of the matrix that `WeightLoader` dequantizes, because
/// both call `Dequantizer.dequantize` on the same bytes with the same element count.
final class MappedMatrixRows {
    /// Kept so that the memory map behind `base` stays valid.
    let file: GGUFFile
    let name: String
    let type: GGMLType
    let base: UnsafeRawPointer
    let rows: Int
    let columns: Int
    let rowBytes: Int

    /// - Parameter tensor: a tensor of GGUF shape `[columns, rows]`, already checked by `WeightLoader.lookup`.
    init(file: GGUFFile, tensor: GGUFTensorInfo, rows: Int, columns: Int) throws {
        do {
            rowBytes = try Dequantizer.byteCount(of: tensor.type, count: columns)
        } catch let error as DequantizationError {
            throw error.naming(tensor: tensor.name)
        }
        guard rowBytes * rows == tensor.byteCount, let base = file.rawData(tensor).baseAddress else {
            throw ModelError.tensorShapeMismatch(path: file.path, name: tensor.name, shape: tensor.shape,
                                                 expected: [columns, rows])
        }
        self.file = file
        name = tensor.name
        type = tensor.type
        self.base = base
        self.rows = rows
        self.columns = columns
    }

    /// Dequantizes row `row` into `destination`, which has room for `columns` floats. Allocates nothing.
    func dequantizeRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) throws {
        precondition(row >= 0 && row < rows, "row \(row) outside 0..<\(rows) of \(name)")
        try Dequantizer.dequantize(type, from: base + row * rowBytes, count: columns, into: destination)
    }
}
