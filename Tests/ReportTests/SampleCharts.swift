@testable import Report

/// Charts shaped like real needle and LongBench results, shared by the tests.
enum SampleCharts {
    /// Five depths by four lengths with a missing cell, a 0 at (row 2, column 3) and a 1 at (row 0, column 0).
    static let heatmap = HeatmapData(
        title: "SnapKV, budget 128: needle retrieval",
        rowLabels: ["0", "25", "50", "75", "100"],
        columnLabels: ["1000", "2000", "4000", "8000"],
        values: [
            [1.0, 1.0, 0.92, 0.61],
            [1.0, 0.85, 0.5, nil],
            [0.95, 0.7, 0.33, 0.0],
            [1.0, 0.9, 0.45, 0.12],
            [1.0, 1.0, 0.88, 0.75],
        ],
        separatorAfterColumn: 2)

    static let sweep = LineChartData(
        title: "LongBench average score by KV budget",
        series: [
            (name: "SnapKV", points: [(64, 28.1), (128, 31.4), (256, 34.0), (512, 35.9), (1024, 36.8), (2048, 37.3), (4096, 37.5)]),
            (name: "PyramidKV", points: [(64, 29.0), (128, 32.2), (256, 34.4), (512, 36.0), (1024, 36.9), (2048, 37.2), (4096, 37.5)]),
            (name: "H2O", points: [(64, 22.5), (128, 25.7), (256, 29.3), (512, 32.2), (1024, 34.5), (2048, 36.1), (4096, 37.0)]),
            (name: "StreamingLLM", points: [(64, 20.1), (128, 23.0), (256, 26.4), (512, 29.8), (1024, 32.7), (2048, 35.2), (4096, 36.8)]),
        ],
        horizontalLines: [(name: "FullKV", y: 37.8)])
}
