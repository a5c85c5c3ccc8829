import Foundation
import KVPolicies
import Report

/// summary.json of a needle run and its heatmap, from the latest record of each cell.
struct NeedleSummary {
    /// Means over the successful cells of one context length or one depth.
    struct Group: Encodable {
        var key: Int
        var meanRecall: Double?
        var meanScore: Double?
        var cells: Int
        var failed: Int
    }

    let settings: NeedleSettings
    let model: String
    let modelVersion: String
    let records: [String: NeedleRecord]

    static let scoreDefinitions = [
        "score": "the reference runner's score: ROUGE-1 F-measure of the response against the needle, times 10 "
            + "(0 to 10, rouge-score semantics with the Porter stemmer)",
        "recall": "the reference visualiser's score: the share of the expected answer's distinct lowercase, "
            + "whitespace-separated words that occur in the response (0 to 1); the heatmap shows it",
    ]

    private func record(length: Int, depth: Int) -> NeedleRecord? {
        records[NeedleRun.cellID(length: length, depth: depth)]
    }

    private var successful: [NeedleRecord] { records.values.filter { $0.error == nil && $0.recall != nil } }

    private static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    private func group(key: Int, _ members: [NeedleRecord?]) -> Group {
        let done = members.compactMap { $0 }.filter { $0.error == nil && $0.recall != nil }
        let failed = members.compactMap { $0 }.filter { $0.error != nil }.count
        return Group(key: key, meanRecall: Self.mean(done.compactMap(\.recall)), meanScore: Self.mean(done.compactMap(\.score)),
                     cells: done.count, failed: failed)
    }

    func json() throws -> Data {
        let byLength = settings.lengths.map { length in group(key: length, settings.depths.map { record(length: length, depth: $0) }) }
        let byDepth = settings.depths.map { depth in group(key: depth, settings.lengths.map { record(length: $0, depth: depth) }) }
        let total = settings.lengths.count * settings.depths.count
        let failed = records.values.filter { $0.error != nil }.count
        let document: [String: Any] = [
            "method": settings.policy.method,
            "method_name": MethodRegistry.referenceSpelling(settings.policy.method),
            "max_capacity_prompt": settings.recordedBudget as Any? ?? NSNull(),
            "model": model,
            "model_version": modelVersion,
            "context_lengths": settings.lengths,
            "depth_percents": settings.depths,
            "cells_total": total,
            "cells_done": successful.count,
            "cells_failed": failed,
            "cells_missing": total - successful.count - failed,
            "mean_recall": Self.mean(successful.compactMap(\.recall)) as Any? ?? NSNull(),
            "mean_score": Self.mean(successful.compactMap(\.score)) as Any? ?? NSNull(),
            "by_length": byLength.map { encode($0, keyName: "context_length") },
            "by_depth": byDepth.map { encode($0, keyName: "depth_percent") },
            "scores": Self.scoreDefinitions,
        ]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return data + Data("\n".utf8)
    }

    private func encode(_ group: Group, keyName: String) -> [String: Any] {
        [
            keyName: group.key,
            "mean_recall": group.meanRecall as Any? ?? NSNull(),
            "mean_score": group.meanScore as Any? ?? NSNull(),
            "cells": group.cells,
            "cells_failed": group.failed,
        ]
    }

    /// Recall per depth (rows, 0% at the top) and length (columns); failed and missing cells are blank.
    func heatmap() -> HeatmapData {
        let values: [[Double?]] = settings.depths.map { depth in
            settings.lengths.map { length in
                guard let cell = record(length: length, depth: depth), cell.error == nil else { return nil }
                return cell.recall
            }
        }
        var title = MethodRegistry.referenceSpelling(settings.policy.method)
        if let budget = settings.recordedBudget {
            title += ", budget \(budget)"
        } else if let ratio = settings.policy.maxCapacityPromptsRatio {
            title += ", budget ratio \(ratio)"
        } else {
            title += ", full cache"
        }
        title += " - \(modelVersion)"
        if let mean = Self.mean(successful.compactMap(\.recall)) { title += String(format: " - mean recall %.2f", mean) }
        return HeatmapData(title: title, rowLabels: settings.depths.map { "\($0)" }, columnLabels: settings.lengths.map(String.init),
                           values: values, xAxisTitle: "Context length (tokens)", yAxisTitle: "Needle depth (%)",
                           colorbarTitle: "Recall")
    }
}
