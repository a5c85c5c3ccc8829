/// Errors raised while validating chart data, encoding images and writing report files.
public enum ReportError: Error, CustomStringConvertible, Equatable {
    /// The chart has nothing to draw, for example a heatmap with no rows.
    case emptyData(chart: String, detail: String)
    /// A heatmap row whose length differs from the number of column labels.
    case raggedRow(row: Int, count: Int, expected: Int)
    /// A label list whose length differs from the matching dimension of the values.
    case labelCountMismatch(axis: String, labels: Int, expected: Int)
    /// A NaN or infinite number in the chart data.
    case nonFiniteValue(location: String, value: Double)
    /// A value that the chosen scale cannot show, for example x <= 0 on a log scale.
    case invalidValue(location: String, value: Double, reason: String)
    /// An image whose size is zero, negative, or beyond `RasterCanvas.maximumDimension` or `maximumPixelCount`.
    case invalidImageSize(width: Int, height: Int, reason: String)
    /// A pixel buffer whose length is not width * height * 3.
    case pixelCountMismatch(width: Int, height: Int, bytes: Int)
    /// A zlib call that returned an error code.
    case compressionFailed(function: String, code: Int32)
    /// A file that could not be written or renamed into place.
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .emptyData(let chart, let detail):
            return "cannot draw the \(chart): \(detail)"
        case .raggedRow(let row, let count, let expected):
            return "heatmap row \(row) has \(count) values but there are \(expected) column labels; "
                + "give every row one value per column and use nil for a missing cell"
        case .labelCountMismatch(let axis, let labels, let expected):
            return "heatmap has \(labels) \(axis) labels for \(expected) \(axis)s; pass one label per \(axis)"
        case .nonFiniteValue(let location, let value):
            return "\(location) is \(value); chart values must be finite, so use nil for a missing heatmap cell "
                + "or leave the point out"
        case .invalidValue(let location, let value, let reason):
            return "\(location) is \(value), which is invalid: \(reason)"
        case .invalidImageSize(let width, let height, let reason):
            return "invalid image size \(width)x\(height): \(reason)"
        case .pixelCountMismatch(let width, let height, let bytes):
            return "pixel buffer has \(bytes) bytes but a \(width)x\(height) RGB image needs \(width * height * 3)"
        case .compressionFailed(let function, let code):
            return "zlib \(function) failed with code \(code); check that zlib1g is installed and memory is available"
        case .writeFailed(let path, let reason):
            return "cannot write \(path): \(reason); check that the directory exists and is writable"
        }
    }
}
