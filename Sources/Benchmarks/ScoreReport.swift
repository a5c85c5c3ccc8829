import Dispatch
import Foundation

/// One LongBench prediction line, as the reference runner writes it. Only the fields that
/// scoring reads are decoded; `pred`, `answers` and `all_classes` must be present.
struct PredictionRecord: Decodable {
    var prediction: String
    var answers: [String]
    var allClasses: [String]?

    init(from decoder: Decoder) throws {
        let fields = try RecordFields(decoder)
        prediction = try fields.string("pred")
        answers = try fields.strings("answers")
        allClasses = try fields.nullableStrings("all_classes")
        if fields.contains("length") {
            _ = try fields.integer("length")
        }
    }
}

/// The scores of one compression method.
public struct MethodScores: Equatable, Sendable {
    /// The method name in the reference spelling (FullKV, SnapKV, ...).
    public var method: String
    /// Score per dataset, on LongBench's 0-100 scale, rounded to 2 decimals.
    public var datasetScores: [String: Double]
    /// Mean of the dataset scores, rounded to 2 decimals.
    public var average: Double
    public var datasetsAveraged: Int
}

/// LongBench scores of a results directory `<dir>/<dataset>/<Method>.json`, computed with the
/// official metrics as LongBench's eval.py does, and written as results.json and results.csv.
///
/// Unlike eval.py, which skips malformed JSON lines with a warning and accepts only a fixed
/// list of case-sensitive names, this scorer rejects malformed lines, matches method file
/// names case-insensitively, and adds a cross-dataset average.
public struct ScoreReport: Equatable, Sendable {
    /// Method names in the reference spelling, in report order.
    public static let methodNames = [
        "FullKV", "SnapKV", "PyramidKV", "H2O", "StreamingLLM", "CAM", "L2Norm", "AdaKV", "HeadKV", "ThinK",
    ]

    /// Datasets in report order: the English tasks, then the Chinese tasks whose metrics are
    /// supported.
    public static let datasetOrder = LongBenchDataset.englishDatasets + ["lsht", "passage_retrieval_zh"]

    public var resultsDirectory: String
    /// Scored methods, in `methodNames` order.
    public var methods: [MethodScores]
    /// Datasets scored for at least one method, in `datasetOrder`.
    public var datasets: [String]
    /// Entries of the results directory that were not scored: folders that are not LongBench
    /// datasets and JSON files that match no method name.
    public var ignoredPaths: [String]

    // MARK: Scoring

    /// Scores every method file present under `path`. Throws when the directory contains no
    /// prediction file, when the folder of a Chinese dataset that needs jieba contains one, or
    /// when any file is invalid. Nothing is written in that case.
    public static func scoreResultsDirectory(_ path: String) throws -> ScoreReport {
        let (jobs, ignored) = try findPredictionFiles(in: path)
        guard !jobs.isEmpty else {
            throw BenchmarkError.fileNotFound(
                path: URL(fileURLWithPath: path).appendingPathComponent("<dataset>/<Method>.json").path,
                hint: "no prediction file found; pass the folder <save_dir>/<model>_<budget> written by the LongBench run")
        }

        // Files are scored in parallel; each task writes only its own slot.
        var results = [Result<Double, Error>](repeating: .success(0), count: jobs.count)
        results.withUnsafeMutableBufferPointer { slots in
            let base = slots.baseAddress!
            DispatchQueue.concurrentPerform(iterations: jobs.count) { index in
                base[index] = Result { try scorePredictionFile(path: jobs[index].path, dataset: jobs[index].dataset) }
            }
        }

        var scores = [String: [String: Double]]()
        for (job, result) in zip(jobs, results) {
            scores[job.method, default: [:]][job.dataset] = try result.get()
        }

        var methods = [MethodScores]()
        for method in methodNames {
            guard let datasetScores = scores[method] else {
                continue
            }
            let total = datasetOrder.compactMap { datasetScores[$0] }.reduce(0, +)
            methods.append(MethodScores(method: method, datasetScores: datasetScores,
                                        average: PythonText.round(total / Double(datasetScores.count), digits: 2),
                                        datasetsAveraged: datasetScores.count))
        }
        let datasets = datasetOrder.filter { dataset in methods.contains { $0.datasetScores[dataset] != nil } }
        return ScoreReport(resultsDirectory: path, methods: methods, datasets: datasets, ignoredPaths: ignored)
    }

    /// Scores one prediction file as eval.py's `scorer` does: `round(100 * mean, 2)` of the
    /// per-sample scores, with the class list taken from the last line.
    public static func scorePredictionFile(path: String, dataset: String) throws -> Double {
        let metric = try LongBenchMetric.metric(forDataset: dataset)
        let records = try JSONLines.readNumbered(PredictionRecord.self, path: path,
                                                 missingFileHint: "run the LongBench generation for \(dataset) first")
        guard let last = records.last else {
            throw BenchmarkError.emptyFile(path: path)
        }

        var total = 0.0
        for (line, record) in records {
            do {
                total += try LongBenchMetric.score(dataset: dataset, prediction: record.prediction,
                                                   answers: record.answers, allClasses: last.record.allClasses)
            } catch let error as BenchmarkError {
                throw BenchmarkError.scoringFailed(path: path, line: line, detail: "\(metric.rawValue) metric: \(error)")
            }
        }
        return PythonText.round(100 * total / Double(records.count), digits: 2)
    }

    private struct Job {
        var dataset: String
        var method: String
        var path: String
    }

    private static func findPredictionFiles(in path: String) throws -> ([Job], [String]) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BenchmarkError.fileNotFound(
                path: path, hint: "pass the results folder <save_dir>/<model>_<budget> that holds one folder per dataset")
        }
        let root = URL(fileURLWithPath: path)
        let methodByLowercasedName = Dictionary(uniqueKeysWithValues: methodNames.map { ($0.lowercased(), $0) })

        var jobs = [Job]()
        var ignored = [String]()
        for entry in try contents(of: root.path) {
            let entryURL = root.appendingPathComponent(entry)
            var entryIsDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: entryURL.path, isDirectory: &entryIsDirectory),
                  entryIsDirectory.boolValue else {
                continue
            }
            guard let metric = LongBenchMetric.datasetMetrics[entry] else {
                ignored.append(entryURL.path)
                continue
            }

            var filesByMethod = [String: [String]]()
            for file in try contents(of: entryURL.path) where file.hasSuffix(".json") {
                let name = String(file.dropLast(".json".count))
                if let method = methodByLowercasedName[name.lowercased()] {
                    filesByMethod[method, default: []].append(file)
                } else if file != "metrics.json" {
                    ignored.append(entryURL.appendingPathComponent(file).path)
                }
            }
            if !filesByMethod.isEmpty && !metric.isSupported {
                throw BenchmarkError.unsupportedMetric(dataset: entry, metric: metric.rawValue)
            }
            for method in methodNames {
                guard let files = filesByMethod[method] else {
                    continue
                }
                guard files.count == 1 else {
                    throw BenchmarkError.duplicateMethodFiles(directory: entryURL.path, method: method, files: files)
                }
                jobs.append(Job(dataset: entry, method: method, path: entryURL.appendingPathComponent(files[0]).path))
            }
        }
        return (jobs, ignored)
    }

    private static func contents(of directory: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw BenchmarkError.unreadable(path: directory, reason: error.localizedDescription)
        }
    }

    // MARK: Output

    /// results.json: `{method: {dataset: score, ..., "average": a, "datasets_averaged": k}}`,
    /// with methods and datasets in report order and an indent of 4 spaces.
    public func jsonText() -> String {
        var lines = ["{"]
        for (methodIndex, method) in methods.enumerated() {
            lines.append("    \(jsonString(method.method)): {")
            for dataset in datasets {
                if let score = method.datasetScores[dataset] {
                    lines.append("        \(jsonString(dataset)): \(score),")
                }
            }
            lines.append("        \"average\": \(method.average),")
            lines.append("        \"datasets_averaged\": \(method.datasetsAveraged)")
            lines.append(methodIndex == methods.count - 1 ? "    }" : "    },")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// results.csv: a header `method,<datasets>,average,datasets_averaged`, then one row per
    /// method. A dataset the method was not scored on has an empty cell.
    public func csvText() -> String {
        var rows = [(["method"] + datasets + ["average", "datasets_averaged"]).joined(separator: ",")]
        for method in methods {
            var cells = [method.method]
            cells += datasets.map { method.datasetScores[$0].map { "\($0)" } ?? "" }
            cells += ["\(method.average)", "\(method.datasetsAveraged)"]
            rows.append(cells.joined(separator: ","))
        }
        return rows.joined(separator: "\n") + "\n"
    }

    /// Writes results.json and results.csv into `directory`, each atomically (a temporary
    /// file renamed into place), so a reader never sees a partial file.
    public func write(to directory: String) throws {
        let folder = URL(fileURLWithPath: directory)
        for (name, text) in [("results.json", jsonText()), ("results.csv", csvText())] {
            let target = folder.appendingPathComponent(name)
            do {
                try Data(text.utf8).write(to: target, options: .atomic)
            } catch {
                throw BenchmarkError.writeFailed(path: target.path, reason: error.localizedDescription)
            }
        }
    }

    private func jsonString(_ text: String) -> String {
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where scalar.value < 0x20: escaped += String(format: "\\u%04x", scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }
}
