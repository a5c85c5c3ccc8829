import Benchmarks
import Cluster
import Foundation
import Report

/// `kvfactory sweep` for a job file with `"benchmark": "longbench"`: every sample of every run is one
/// work item of a single MPI job, the model is loaded once per rank, and rank 0 writes the aggregate.
enum LongBenchSweep {
    /// Folder label of FullKV in a sweep, which runs it once for all budgets.
    static let fullKVLabel = "full"

    static func run(_ job: JobFile, saveDirectory: String, modelPath: String, threads: Int, options: ParsedOptions,
                    context: MPIContext) throws {
        var planned: [(run: JobFile.Run, settings: LongBenchSettings)] = []
        for (index, run) in job.runs.enumerated() {
            do {
                let (settings, _) = try LongBenchSettings.parse(job.arguments(of: run), command: "sweep", specs: LongBenchSettings.runSpecs,
                                                                requireMethod: true, warn: context.isCoordinator && index == 0)
                planned.append((run, settings))
            } catch let error as UsageError {
                throw UsageError(message: "job file \(job.path), run \(run.name): \(error.message)"
                    + PipelineSupport.jobFileHint(error.message), command: "sweep")
            }
        }
        try NeedleSettings.checkModelFile(modelPath)
        let model = try LongBenchModelInfo(path: modelPath)
        let data = try LongBenchData(settings: planned.map(\.settings))
        let plans = try planned.map { run, settings in
            try LongBenchRunPlan(settings: settings, data: data, model: model,
                                 directory: LongBenchLayout.runDirectory(saveDirectory: saveDirectory, model: model,
                                                                         budgetLabel: folderLabel(run, settings: settings)))
        }

        if options.has("dry_run") {
            if context.isCoordinator {
                let samples = plans.reduce(0) { $0 + $1.samples.count }
                print("job \(job.path): benchmark longbench, model \(modelPath), \(plans.count) runs, \(samples) samples")
                for (plan, entry) in zip(plans, planned) {
                    print("  \(plan.directory.path) \(plan.method): \(plan.samples.count) samples, max_length \(plan.maxLength), "
                        + "arguments " + job.arguments(of: entry.run).joined(separator: " "))
                }
            }
            return
        }
        if context.isCoordinator {
            for plan in plans { plan.printSummary(command: "sweep") }
        }

        let driver = RunDriver(context: context, command: "sweep", itemLabel: "samples")
        driver.retryFailed = options.has("retry_failed")
        let layers = try PipelineSupport.configure(driver, options: options, modelPath: modelPath)
        let outcomes = try driver.execute(modelPath: modelPath, threads: threads) {
            let engine = try LongBenchEngine(modelPath: modelPath, threads: threads, data: data, runCount: plans.count,
                                             layers: layers)
            return plans.map { LongBenchRun(plan: $0, engine: engine) }
        }
        guard context.isCoordinator else { return }
        LongBenchRun.printOutcomes(outcomes)
        let labels = zip(planned, plans).map { folderLabel($0.run, settings: $1.settings) }
        let report = try LongBenchSweepReport(runs: Array(zip(plans, labels)))
        let written = try report.write(to: URL(fileURLWithPath: saveDirectory))
        print(report.markdownTable())
        for path in written { print("wrote \(path)") }
    }

    /// Returns the `<budget>` part of a run's folder name: "full" for FullKV, the run's own name when the job gives one,
    /// otherwise the budget or "ratio<r>".
    static func folderLabel(_ run: JobFile.Run, settings: LongBenchSettings) -> String {
        if run.method == "fullkv" { return fullKVLabel }
        if run.name != JobFile.runName(method: run.method, budget: run.budget, options: run.options) { return run.name }
        return settings.budgetLabel
    }
}

/// The scores of a sweep's runs, written as sweep_results.csv, sweep_results.md, sweep.png and sweep.svg.
struct LongBenchSweepReport {
    struct Row {
        var method: String
        /// Budget in tokens; nil for FullKV and ratio runs.
        var budget: Int?
        var budgetLabel: String
        /// Dataset to score; a dataset without a complete prediction file is absent.
        var scores: [String: Double]
        /// Mean over `commonDatasets`, rounded to 2 decimals; nil when they are not all scored.
        var average: Double?
    }

    let rows: [Row]
    /// Datasets in report order.
    let datasets: [String]
    /// Datasets scored in every run; averages cover these, so that they compare.
    let commonDatasets: [String]

    /// Scores the prediction files of each run; `label` is the run's folder label, such as "128" or "full".
    init(runs: [(plan: LongBenchRunPlan, label: String)]) throws {
        var rows: [Row] = []
        for (plan, label) in runs {
            var scores: [String: Double] = [:]
            for dataset in plan.settings.datasets {
                let path = LongBenchLayout.predictionFile(runDirectory: plan.directory, dataset: dataset, method: plan.method).path
                guard FileManager.default.fileExists(atPath: path) else { continue }
                scores[dataset] = try ScoreReport.scorePredictionFile(path: path, dataset: dataset)
            }
            let isFull = plan.settings.policy.method == "fullkv"
            let budget = isFull || plan.settings.policy.maxCapacityPromptsRatio != nil ? nil : plan.settings.policy.maxCapacityPrompts
            rows.append(Row(method: plan.method, budget: budget, budgetLabel: label, scores: scores, average: nil))
        }

        let used = Set(rows.flatMap { $0.scores.keys })
        datasets = ScoreReport.datasetOrder.filter { used.contains($0) }
        commonDatasets = datasets.filter { dataset in rows.allSatisfy { $0.scores[dataset] != nil } }
        for index in rows.indices where !commonDatasets.isEmpty {
            let total = commonDatasets.reduce(0) { $0 + rows[index].scores[$1]! }
            rows[index].average = (100 * total / Double(commonDatasets.count)).rounded() / 100  // 2 decimals
        }
        self.rows = rows
    }

    private static func format(_ value: Double?) -> String {
        value.map { String(format: "%.2f", $0) } ?? ""
    }

    /// One row per run: method, budget, a column per dataset, and the average over the common datasets.
    func csvText() -> String {
        var lines = [(["method", "budget"] + datasets + ["average"]).joined(separator: ",")]
        for row in rows {
            lines.append(([row.method, row.budgetLabel] + datasets.map { Self.format(row.scores[$0]) } + [Self.format(row.average)])
                .joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Renders the same table in Markdown, with a note on the datasets the average covers.
    func markdownTable() -> String {
        var lines = ["| method | budget | " + datasets.joined(separator: " | ") + " | average |",
                     "|---|---:|" + String(repeating: "---:|", count: datasets.count) + "---:|"]
        for row in rows {
            let cells = datasets.map { row.scores[$0].map { String(format: "%.2f", $0) } ?? "–" }
            lines.append("| \(row.method) | \(row.budgetLabel) | " + cells.joined(separator: " | ") + " | \(row.average.map { String(format: "%.2f", $0) } ?? "–") |")
        }
        lines.append("")
        if commonDatasets.count == datasets.count {
            lines.append("Average: mean of the \(datasets.count) dataset scores.")
        } else {
            lines.append("Average: mean over the \(commonDatasets.count) datasets scored in every run ("
                + commonDatasets.joined(separator: ", ") + "); \"–\" marks a dataset without a complete prediction file.")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Average score against budget, one line per method; FullKV is a dashed line across the plot.
    func chart() -> LineChartData {
        var series: [(name: String, points: [(x: Double, y: Double)])] = []
        var references: [(name: String, y: Double)] = []
        for row in rows {
            guard let average = row.average else { continue }
            if row.method == "FullKV" {
                references.append((name: "FullKV", y: average))
            } else if let budget = row.budget {
                if let index = series.firstIndex(where: { $0.name == row.method }) {
                    series[index].points.append((Double(budget), average))
                } else {
                    series.append((row.method, [(Double(budget), average)]))
                }
            }
        }
        return LineChartData(title: "LongBench average score by KV budget", series: series, horizontalLines: references)
    }

    /// Writes the four files into `directory` and returns their paths; the chart is skipped when no run
    /// with a budget has an average.
    func write(to directory: URL) throws -> [String] {
        let csv = directory.appendingPathComponent("sweep_results.csv").path
        let markdown = directory.appendingPathComponent("sweep_results.md").path
        try writeFileAtomically(Data(csvText().utf8), to: csv)
        try writeFileAtomically(Data(("# LongBench sweep\n\n" + markdownTable()).utf8), to: markdown)
        var written = [csv, markdown]
        let data = chart()
        if data.series.contains(where: { !$0.points.isEmpty }) {
            let png = directory.appendingPathComponent("sweep.png").path
            let svg = directory.appendingPathComponent("sweep.svg").path
            try LineChart.write(data, pngPath: png, svgPath: svg)
            written += [png, svg]
        } else {
            printError("sweep: no run with a budget has an average score yet, so sweep.png and sweep.svg are not written")
        }
        return written
    }
}
