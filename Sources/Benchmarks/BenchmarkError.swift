/// Errors raised while reading benchmark data and prediction files and while scoring them.
/// Each message names the file, line and field or the value at fault, and what to do next.
public enum BenchmarkError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String, hint: String)
    case unreadable(path: String, reason: String)
    case malformedLine(path: String, line: Int, detail: String)
    case missingField(path: String, line: Int, field: String)
    case invalidField(path: String, line: Int, field: String, expected: String)
    case invalidConfig(path: String, detail: String)
    case emptyFile(path: String)
    case scoringFailed(path: String, line: Int, detail: String)
    case unknownDataset(name: String, known: [String])
    case unsupportedMetric(dataset: String?, metric: String)
    case missingClasses(metric: String)
    case missingParagraphNumber(groundTruth: String, marker: String)
    case duplicateMethodFiles(directory: String, method: String, files: [String])
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path, let hint):
            return "file not found: \(path); \(hint)"
        case .unreadable(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .malformedLine(let path, let line, let detail):
            return "\(path):\(line): invalid JSON line: \(detail); fix or delete the line and run again"
        case .missingField(let path, let line, let field):
            return "\(path):\(line): missing field \"\(field)\"; regenerate the file or add the field"
        case .invalidField(let path, let line, let field, let expected):
            return "\(path):\(line): field \"\(field)\" must be \(expected); regenerate the file or fix the field"
        case .invalidConfig(let path, let detail):
            return "invalid LongBench config \(path): \(detail); copy the file again from the LongBench repository"
        case .emptyFile(let path):
            return "\(path) contains no predictions; rerun generation for this dataset or delete the file"
        case .scoringFailed(let path, let line, let detail):
            return "\(path):\(line): cannot score this prediction: \(detail)"
        case .unknownDataset(let name, let known):
            return "unknown LongBench dataset \"\(name)\"; known datasets: \(known.joined(separator: ", "))"
        case .unsupportedMetric(let dataset, let metric):
            let subject = dataset.map { "dataset \($0) uses metric \(metric)" } ?? "metric \(metric)"
            return "\(subject), which is not supported yet: the Chinese metrics need the jieba word segmenter; "
                + "score only English datasets, lsht and passage_retrieval_zh"
        case .missingClasses(let metric):
            return "the \(metric) metric needs the class list (all_classes), but it is null; "
                + "regenerate the predictions from the official dataset file"
        case .missingParagraphNumber(let groundTruth, let marker):
            return "ground truth \"\(groundTruth.prefix(80))\" has no \"\(marker)<number>\"; "
                + "the retrieval metric needs the official answers of the dataset"
        case .duplicateMethodFiles(let directory, let method, let files):
            return "\(directory) has several prediction files for method \(method) (\(files.joined(separator: ", "))); "
                + "file names match methods case-insensitively, so keep only one"
        case .writeFailed(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}
