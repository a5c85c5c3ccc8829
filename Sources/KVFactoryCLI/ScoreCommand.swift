import Benchmarks
import Foundation

/// `kvfactory score`: LongBench scores of a run folder, as KVCache-Factory's eval.py computes them.
enum ScoreCommand {
    static let specs: [OptionSpec] = [
        .value("results_dir", "DIR", "run folder <save_dir>/<model>_<budget> with <dataset>/<Method>.json files (required)"),
    ]
    static let help = helpText(
        command: "score", synopsis: "--results_dir DIR",
        summary: """
            Score every <dataset>/<Method>.json prediction file under DIR with LongBench's official metrics, print a \
            table of datasets by method, and write DIR/results.json and DIR/results.csv. Method file names match \
            case-insensitively, and each method gets the average over its datasets.
            """,
        specs: specs)

    static func run(arguments: [String]) throws {
        let options = try ParsedOptions(command: "score", arguments: arguments, specs: specs)
        let directory = try options.require("results_dir")
        let report: ScoreReport
        do {
            report = try ScoreReport.scoreResultsDirectory(directory)
        } catch let error as BenchmarkError {
            throw CommandFailure(message: "\(error); nothing was written")
        }
        try report.write(to: directory)

        print(table(report))
        // The runs/ folder contains the runner's journals, not predictions.
        let runsFolder = URL(fileURLWithPath: directory).appendingPathComponent("runs").path
        let ignored = report.ignoredPaths.filter { !$0.hasPrefix(runsFolder) }
        if !ignored.isEmpty {
            printError("score: not scored (not a LongBench dataset folder or method file): " + ignored.joined(separator: ", "))
        }
        print("wrote \(URL(fileURLWithPath: directory).appendingPathComponent("results.json").path) and results.csv")
    }

    /// Datasets as rows and methods as columns, with the average last; "-" where a method has no file.
    static func table(_ report: ScoreReport) -> String {
        let names = report.methods.map(\.method)
        let firstWidth = max(("dataset" as String).count, report.datasets.map(\.count).max() ?? 0, "average".count)
        let widths = names.map { max($0.count, 6) }

        func row(_ first: String, _ cells: [String]) -> String {
            var line = first.padding(toLength: firstWidth, withPad: " ", startingAt: 0)
            for (cell, width) in zip(cells, widths) {
                line += "  " + String(repeating: " ", count: max(0, width - cell.count)) + cell
            }
            return line
        }

        var lines = [row("dataset", names)]
        for dataset in report.datasets {
            lines.append(row(dataset, report.methods.map { $0.datasetScores[dataset].map { String(format: "%.2f", $0) } ?? "-" }))
        }
        lines.append(row("average", report.methods.map { String(format: "%.2f", $0.average) }))
        lines.append(row("datasets", report.methods.map { String($0.datasetsAveraged) }))
        return lines.joined(separator: "\n")
    }
}
