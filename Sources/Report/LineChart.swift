/// The data of a line chart such as LongBench average score against KV budget, one line per method.
public struct LineChartData {
    public var title: String
    public var xAxisTitle: String
    public var yAxisTitle: String
    /// Lines in legend order. Points are drawn sorted by x, whatever their order here.
    public var series: [(name: String, points: [(x: Double, y: Double)])]
    /// Dashed lines across the whole plot for results without an x value, such as FullKV without a budget.
    public var horizontalLines: [(name: String, y: Double)]
    /// Base-2 logarithmic x axis with ticks on powers of two, which suits budgets such as 64 to 4096.
    public var logScaleX: Bool

    public init(title: String, xAxisTitle: String = "KV budget (tokens)", yAxisTitle: String = "Average score",
                series: [(name: String, points: [(x: Double, y: Double)])],
                horizontalLines: [(name: String, y: Double)] = [], logScaleX: Bool = true) {
        self.title = title
        self.xAxisTitle = xAxisTitle
        self.yAxisTitle = yAxisTitle
        self.series = series
        self.horizontalLines = horizontalLines
        self.logScaleX = logScaleX
    }
}

/// Renders `LineChartData` as a PNG (bitmap font) or an SVG (text elements) with the same layout.
/// The plot has grid lines, one colour and marker shape per series and dashed reference lines, and
/// the legend sits to its right.
public enum LineChart {
    /// Series colours, cycled: the "tab10" palette, matplotlib's default colour cycle since version 2.0.
    static let palette: [RGB] = [0x1F77B4, 0xFF7F0E, 0x2CA02C, 0xD62728, 0x9467BD,
                                 0x8C564B, 0xE377C2, 0x7F7F7F, 0xBCBD22, 0x17BECF].map { RGB(hex: $0) }
    /// Colours of the horizontal reference lines, cycled.
    static let referencePalette: [RGB] = [0x222222, 0x777777, 0x4D4D4D, 0xA0A0A0].map { RGB(hex: $0) }
    static let textColor = RGB(hex: 0x1A1A1A)
    static let axisColor = RGB(hex: 0x404040)
    static let gridColor = RGB(hex: 0xE3E3E3)
    static let legendBorder = RGB(hex: 0xC8C8C8)
    static let referenceDash: [Double] = [9, 6]

    public static func png(_ data: LineChartData) throws -> [UInt8] {
        try RasterRenderer.png(scene(data))
    }

    public static func svg(_ data: LineChartData) throws -> String {
        SVGRenderer.render(try scene(data))
    }

    /// Renders both files before writing either, then writes each through a temporary file and a rename.
    public static func write(_ data: LineChartData, pngPath: String, svgPath: String) throws {
        let pngBytes = try png(data)
        let svgText = try svg(data)
        try AtomicFile.write(pngBytes, to: pngPath)
        try AtomicFile.write(Array(svgText.utf8), to: svgPath)
    }

    static func validate(_ data: LineChartData) throws {
        let pointCount = data.series.reduce(0) { $0 + $1.points.count }
        guard pointCount > 0 else {
            let detail = data.series.isEmpty ? "there are no series" : "no series has a point"
            throw ReportError.emptyData(
                chart: "line chart",
                detail: detail + ", and the x range comes from the points, so add at least one point")
        }
        for entry in data.series {
            for (index, point) in entry.points.enumerated() {
                let location = "series \"\(entry.name)\" point \(index)"
                guard point.x.isFinite else { throw ReportError.nonFiniteValue(location: location + " x", value: point.x) }
                guard point.y.isFinite else { throw ReportError.nonFiniteValue(location: location + " y", value: point.y) }
                if data.logScaleX && point.x <= 0 {
                    throw ReportError.invalidValue(location: location + " x", value: point.x,
                                                   reason: "a log-scale x axis needs x > 0, so set logScaleX to false")
                }
            }
        }
        for line in data.horizontalLines where !line.y.isFinite {
            throw ReportError.nonFiniteValue(location: "horizontal line \"\(line.name)\" y", value: line.y)
        }
    }

    // MARK: Layout

    /// Pixel sizes of the layout. Text sizes are bitmap font scales.
    enum Metrics {
        static let margin = ChartLayout.margin
        static let labelSize = 2
        static let plotWidth = 760
        static let plotHeight = 440
        static let tickLength = 6
        static let gapAfterTitle = 24
        static let lineWidth = 2.5
        static let markerSize = 11.0
        static let legendGap = 24
        static let legendPadding = 12
        static let legendRowHeight = 28
        static let legendSampleWidth = 40
    }

    /// Lays out the chart. Layout never depends on anything but `data`, so renders are identical.
    static func scene(_ data: LineChartData) throws -> Scene {
        try validate(data)
        typealias M = Metrics
        let labelCap = BitmapFont.capHeight * M.labelSize
        let descent = 2 * M.labelSize

        let xs = data.series.flatMap { $0.points.map(\.x) }
        let ys = data.series.flatMap { $0.points.map(\.y) } + data.horizontalLines.map(\.y)
        let xAxis = data.logScaleX ? AxisTicks.log2(values: xs) : AxisTicks.linear(minimum: xs.min()!, maximum: xs.max()!)
        let yAxis = AxisTicks.linear(minimum: ys.min()!, maximum: ys.max()!, target: 8)

        // Legend entries: series, then reference lines.
        let legendNames = data.series.map(\.name) + data.horizontalLines.map(\.name)
        let widestLegendName = legendNames.map { BitmapFont.width(of: $0, scale: M.labelSize) }.max() ?? 0
        let legendWidth = 2 * M.legendPadding + M.legendSampleWidth + 10 + widestLegendName
        let legendHeight = 2 * M.legendPadding + legendNames.count * M.legendRowHeight - (M.legendRowHeight - labelCap)

        // Horizontal positions, left to right, from the left edge of the content.
        let widestYLabel = yAxis.ticks.map { BitmapFont.width(of: $0.label, scale: M.labelSize) }.max() ?? 0
        let plotOffset = M.margin + labelCap + descent + 14 + widestYLabel + M.tickLength + 6
        let contentWidth = plotOffset + M.plotWidth + M.legendGap + legendWidth + M.margin
        let (titleSize, width, originX) = ChartLayout.titleFit(data.title, contentWidth: contentWidth)
        let yTitleX = originX + M.margin
        let plotLeft = originX + plotOffset
        let plotRight = plotLeft + M.plotWidth
        let legendLeft = plotRight + M.legendGap

        // Vertical positions, top to bottom.
        let titleTop = M.margin
        let plotTop = titleTop + BitmapFont.capHeight * titleSize + 2 * titleSize + M.gapAfterTitle
        let plotBottom = plotTop + M.plotHeight
        let xLabelTop = plotBottom + M.tickLength + 6
        let xTitleTop = xLabelTop + labelCap + descent + 14
        let height = max(xTitleTop + labelCap + descent + M.margin, plotTop + legendHeight + M.margin)
        try ChartLayout.checkSize(width: width, height: height)

        let xScale = AxisScale(lower: xAxis.lower, upper: xAxis.upper, logarithmic: data.logScaleX,
                               pixelLower: Double(plotLeft), pixelUpper: Double(plotRight))
        let yScale = AxisScale(lower: yAxis.lower, upper: yAxis.upper, logarithmic: false,
                               pixelLower: Double(plotBottom), pixelUpper: Double(plotTop))

        var scene = Scene(width: width, height: height, title: data.title)
        scene.addText(TextItem(text: data.title, position: Point(x: Double(width) / 2, y: Double(titleTop)),
                               size: titleSize, color: textColor, anchor: .middle, alignment: .top, bold: true))

        // Grid lines and tick labels. Ticks sit on whole pixels, so one-pixel lines stay sharp.
        for tick in yAxis.ticks {
            let y = yScale.pixel(tick.value).rounded()
            scene.add(.rect(Rect(x: Double(plotLeft), y: y, width: Double(M.plotWidth), height: 1), fill: gridColor))
            scene.add(.rect(Rect(x: Double(plotLeft - M.tickLength), y: y, width: Double(M.tickLength), height: 1), fill: axisColor))
            scene.addText(TextItem(text: tick.label, position: Point(x: Double(plotLeft - M.tickLength - 6), y: y + 0.5),
                                   size: M.labelSize, color: textColor, anchor: .end, alignment: .middle))
        }
        for tick in xAxis.ticks {
            let x = xScale.pixel(tick.value).rounded()
            scene.add(.rect(Rect(x: x, y: Double(plotTop), width: 1, height: Double(M.plotHeight)), fill: gridColor))
            scene.add(.rect(Rect(x: x, y: Double(plotBottom), width: 1, height: Double(M.tickLength)), fill: axisColor))
            scene.addText(TextItem(text: tick.label, position: Point(x: x + 0.5, y: Double(xLabelTop)),
                                   size: M.labelSize, color: textColor, anchor: .middle, alignment: .top))
        }

        // Axes on the left and bottom edges of the plot.
        scene.add(.rect(Rect(x: Double(plotLeft), y: Double(plotTop), width: 1, height: Double(M.plotHeight + 1)), fill: axisColor))
        scene.add(.rect(Rect(x: Double(plotLeft), y: Double(plotBottom), width: Double(M.plotWidth + 1), height: 1), fill: axisColor))

        // Reference lines below the series, so markers stay visible where they cross.
        for (index, line) in data.horizontalLines.enumerated() {
            let y = yScale.pixel(line.y)
            scene.add(.stroke(points: [Point(x: Double(plotLeft), y: y), Point(x: Double(plotRight), y: y)],
                              width: 2, color: referencePalette[index % referencePalette.count], dash: referenceDash))
        }
        for (index, entry) in data.series.enumerated() {
            let color = palette[index % palette.count]
            let shape = MarkerShape.allCases[index % MarkerShape.allCases.count]
            // Sort by x, then by input order, so equal x values keep a fixed order on every run.
            let sorted = entry.points.enumerated().sorted { ($0.element.x, $0.offset) < ($1.element.x, $1.offset) }
            let points = sorted.map { Point(x: xScale.pixel($0.element.x), y: yScale.pixel($0.element.y)) }
            if points.count >= 2 {
                scene.add(.stroke(points: points, width: M.lineWidth, color: color, dash: []))
            }
            for point in points {
                scene.add(.marker(shape, center: point, size: M.markerSize, fill: color))
            }
        }

        // Axis titles.
        scene.addText(TextItem(text: data.xAxisTitle,
                               position: Point(x: Double(plotLeft) + Double(M.plotWidth) / 2, y: Double(xTitleTop)),
                               size: M.labelSize, color: textColor, anchor: .middle, alignment: .top))
        scene.addText(TextItem(text: data.yAxisTitle,
                               position: Point(x: Double(yTitleX), y: Double(plotTop) + Double(M.plotHeight) / 2),
                               size: M.labelSize, color: textColor, anchor: .middle, alignment: .top, rotated: true))

        addLegend(data, to: &scene, left: legendLeft, top: plotTop, width: legendWidth, height: legendHeight)
        return scene
    }

    private static func addLegend(_ data: LineChartData, to scene: inout Scene, left: Int, top: Int, width: Int, height: Int) {
        typealias M = Metrics
        let frame = Rect(x: Double(left), y: Double(top), width: Double(width), height: Double(height))
        scene.add(.rect(frame, fill: legendBorder))
        scene.add(.rect(Rect(x: frame.x + 1, y: frame.y + 1, width: frame.width - 2, height: frame.height - 2), fill: .white))

        let labelCap = Double(BitmapFont.capHeight * M.labelSize)
        let sampleLeft = Double(left + M.legendPadding)
        let sampleRight = sampleLeft + Double(M.legendSampleWidth)
        var rowCenter = Double(top + M.legendPadding) + labelCap / 2
        for (index, entry) in data.series.enumerated() {
            let color = palette[index % palette.count]
            let shape = MarkerShape.allCases[index % MarkerShape.allCases.count]
            scene.add(.stroke(points: [Point(x: sampleLeft, y: rowCenter), Point(x: sampleRight, y: rowCenter)],
                              width: M.lineWidth, color: color, dash: []))
            scene.add(.marker(shape, center: Point(x: (sampleLeft + sampleRight) / 2, y: rowCenter), size: M.markerSize, fill: color))
            scene.addText(TextItem(text: entry.name, position: Point(x: sampleRight + 10, y: rowCenter),
                                   size: M.labelSize, color: textColor, anchor: .start, alignment: .middle))
            rowCenter += Double(M.legendRowHeight)
        }
        for (index, line) in data.horizontalLines.enumerated() {
            let color = referencePalette[index % referencePalette.count]
            scene.add(.stroke(points: [Point(x: sampleLeft + 1, y: rowCenter), Point(x: sampleRight - 1, y: rowCenter)],
                              width: 2, color: color, dash: referenceDash))
            scene.addText(TextItem(text: line.name, position: Point(x: sampleRight + 10, y: rowCenter),
                                   size: M.labelSize, color: textColor, anchor: .start, alignment: .middle))
            rowCenter += Double(M.legendRowHeight)
        }
    }
}
