/// The data of a needle-in-a-haystack heatmap: one row per needle depth, one column per context length.
public struct HeatmapData {
    public var title: String
    /// Row labels from top to bottom, usually depth percents starting at 0.
    public var rowLabels: [String]
    /// Column labels from left to right, usually context lengths in tokens.
    public var columnLabels: [String]
    /// Scores as [row][column], shown with colours for 0 (red) to 1 (green). Values outside [0, 1]
    /// get the end colours, and nil marks a missing cell, drawn hatched grey.
    public var values: [[Double?]]
    public var xAxisTitle: String
    public var yAxisTitle: String
    public var colorbarTitle: String
    /// Column index after which a white dashed line is drawn, for example the last context length
    /// within the model's pretraining window, or nil for no line.
    public var separatorAfterColumn: Int?

    public init(title: String, rowLabels: [String], columnLabels: [String], values: [[Double?]],
                xAxisTitle: String = "Context length (tokens)", yAxisTitle: String = "Depth percent",
                colorbarTitle: String = "Score", separatorAfterColumn: Int? = nil) {
        self.title = title
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.values = values
        self.xAxisTitle = xAxisTitle
        self.yAxisTitle = yAxisTitle
        self.colorbarTitle = colorbarTitle
        self.separatorAfterColumn = separatorAfterColumn
    }
}

/// Renders `HeatmapData` as a PNG (bitmap font) or an SVG (text elements) with the same layout: cells
/// with grey grid lines and their values where they fit, axis labels and titles, and a colour bar.
public enum Heatmap {
    /// The colour map of the cells and the colour bar.
    public static let colormap = Colormap.redYellowGreen
    static let missingBackground = RGB(hex: 0xE4E4E4)
    static let missingStripe = RGB(hex: 0xB0B0B0)
    static let gridColor = RGB(hex: 0x808080)
    static let textColor = RGB(hex: 0x1A1A1A)
    static let valueColor = RGB(hex: 0x1A1A1A)

    public static func png(_ data: HeatmapData) throws -> [UInt8] {
        try RasterRenderer.png(scene(data))
    }

    public static func svg(_ data: HeatmapData) throws -> String {
        SVGRenderer.render(try scene(data))
    }

    /// Renders both files before writing either, then writes each through a temporary file and a rename.
    public static func write(_ data: HeatmapData, pngPath: String, svgPath: String) throws {
        let pngBytes = try png(data)
        let svgText = try svg(data)
        try AtomicFile.write(pngBytes, to: pngPath)
        try AtomicFile.write(Array(svgText.utf8), to: svgPath)
    }

    static func validate(_ data: HeatmapData) throws {
        guard !data.values.isEmpty else {
            throw ReportError.emptyData(chart: "heatmap", detail: "values has no rows, so pass one row per needle depth")
        }
        guard !data.columnLabels.isEmpty else {
            throw ReportError.emptyData(chart: "heatmap", detail: "there are no column labels, so pass one label per context length")
        }
        guard data.rowLabels.count == data.values.count else {
            throw ReportError.labelCountMismatch(axis: "row", labels: data.rowLabels.count, expected: data.values.count)
        }
        for (rowIndex, row) in data.values.enumerated() {
            guard row.count == data.columnLabels.count else {
                throw ReportError.raggedRow(row: rowIndex, count: row.count, expected: data.columnLabels.count)
            }
            for (columnIndex, value) in row.enumerated() {
                if let value, !value.isFinite {
                    throw ReportError.nonFiniteValue(location: "heatmap cell (row \(rowIndex), column \(columnIndex))", value: value)
                }
            }
        }
        if let separator = data.separatorAfterColumn, separator < 0 || separator >= data.columnLabels.count {
            throw ReportError.invalidValue(
                location: "separatorAfterColumn", value: Double(separator),
                reason: "it must be a column index from 0 to \(data.columnLabels.count - 1), or nil for no separator")
        }
    }

    // MARK: Layout

    /// Pixel sizes of the layout. Text sizes are bitmap font scales.
    enum Metrics {
        static let margin = ChartLayout.margin
        static let labelSize = 2
        static let tickLength = 5
        static let gapAfterTitle = 22
        /// Preferred cell size: room for a value such as "0.85" at scale 2 with padding.
        static let preferredCellWidth = 60
        static let preferredCellHeight = 32
        /// Target for the cell area, so a handful of cells still gives a readable picture and
        /// hundreds of cells shrink instead of making a huge image.
        static let minimumPlotWidth = 480
        static let minimumPlotHeight = 320
        static let maximumPlotWidth = 1600
        static let maximumPlotHeight = 1000
        static let colorbarGap = 28
        static let colorbarWidth = 22
    }

    /// Lays out the chart. Layout never depends on anything but `data`, so renders are identical.
    static func scene(_ data: HeatmapData) throws -> Scene {
        try validate(data)
        typealias M = Metrics
        let rows = data.values.count
        let columns = data.columnLabels.count
        let labelCap = BitmapFont.capHeight * M.labelSize
        let descent = 2 * M.labelSize

        // Cell size: prefer room for the values, fill a minimum area, and shrink when there are many cells.
        let widestColumnLabel = data.columnLabels.map { BitmapFont.width(of: $0, scale: M.labelSize) }.max() ?? 0
        let wantedWidth = max(M.preferredCellWidth, M.minimumPlotWidth / columns, min(widestColumnLabel + 12, 96))
        let cellWidth = max(4, min(wantedWidth, M.maximumPlotWidth / columns))
        let wantedHeight = max(M.preferredCellHeight, M.minimumPlotHeight / rows)
        let cellHeight = max(4, min(wantedHeight, M.maximumPlotHeight / rows))
        let plotWidth = cellWidth * columns
        let plotHeight = cellHeight * rows

        // Column labels stay horizontal while they fit their cells, and turn upright when they do not.
        // When even upright labels collide, only every step-th label is drawn.
        let columnLabelsHorizontal = widestColumnLabel + 8 <= cellWidth
        let columnStep = columnLabelsHorizontal ? 1 : max(1, (labelCap + 6 + cellWidth - 1) / cellWidth)
        let rowStep = max(1, (labelCap + 4 + cellHeight - 1) / cellHeight)
        let columnLabelBand = columnLabelsHorizontal ? labelCap + descent : widestColumnLabel

        let widestRowLabel = data.rowLabels.map { BitmapFont.width(of: $0, scale: M.labelSize) }.max() ?? 0
        let colorbarLabels = stride(from: 0, through: 10, by: plotHeight >= 160 ? 2 : 5).map {
            formatFixed(Double($0) / 10, decimals: 1)
        }
        let widestColorbarLabel = colorbarLabels.map { BitmapFont.width(of: $0, scale: M.labelSize) }.max() ?? 0

        // Horizontal positions, left to right, from the left edge of the content.
        let plotOffset = M.margin + labelCap + descent + 12 + widestRowLabel + M.tickLength + 6
        let colorbarTitleOffset = plotOffset + plotWidth + M.colorbarGap + M.colorbarWidth + M.tickLength + 6
            + widestColorbarLabel + 14
        let contentWidth = colorbarTitleOffset + labelCap + descent + M.margin
        let (titleSize, width, originX) = ChartLayout.titleFit(data.title, contentWidth: contentWidth)
        let yTitleX = originX + M.margin
        let plotLeft = originX + plotOffset
        let plotRight = plotLeft + plotWidth
        let colorbarLeft = plotRight + M.colorbarGap
        let colorbarTitleX = originX + colorbarTitleOffset

        // Vertical positions, top to bottom.
        let titleTop = M.margin
        let plotTop = titleTop + BitmapFont.capHeight * titleSize + 2 * titleSize + M.gapAfterTitle
        let plotBottom = plotTop + plotHeight
        let columnLabelTop = plotBottom + M.tickLength + 6
        let xTitleTop = columnLabelTop + columnLabelBand + 14
        let height = xTitleTop + labelCap + descent + M.margin
        try ChartLayout.checkSize(width: width, height: height)

        var scene = Scene(width: width, height: height, title: data.title)
        scene.addText(TextItem(text: data.title, position: Point(x: Double(width) / 2, y: Double(titleTop)),
                               size: titleSize, color: textColor, anchor: .middle, alignment: .top, bold: true))

        addCells(data, to: &scene, left: plotLeft, top: plotTop, cellWidth: cellWidth, cellHeight: cellHeight)
        addGrid(to: &scene, left: plotLeft, top: plotTop, rows: rows, columns: columns,
                cellWidth: cellWidth, cellHeight: cellHeight)
        if let separator = data.separatorAfterColumn {
            let x = Double(plotLeft + (separator + 1) * cellWidth) + 0.5
            scene.add(.stroke(points: [Point(x: x, y: Double(plotTop)), Point(x: x, y: Double(plotBottom))],
                              width: 3, color: .white, dash: [8, 6]))
        }

        // Row labels and ticks, right-aligned left of the cells.
        for row in stride(from: 0, to: rows, by: rowStep) {
            let centerY = Double(plotTop + row * cellHeight) + Double(cellHeight) / 2
            scene.add(.rect(Rect(x: Double(plotLeft - M.tickLength), y: centerY.rounded(.down), width: Double(M.tickLength), height: 1),
                            fill: gridColor))
            scene.addText(TextItem(text: data.rowLabels[row], position: Point(x: Double(plotLeft - M.tickLength - 6), y: centerY),
                                   size: M.labelSize, color: textColor, anchor: .end, alignment: .middle))
        }

        // Column labels and ticks below the cells.
        for column in stride(from: 0, to: columns, by: columnStep) {
            let centerX = Double(plotLeft + column * cellWidth) + Double(cellWidth) / 2
            scene.add(.rect(Rect(x: centerX.rounded(.down), y: Double(plotBottom + 1), width: 1, height: Double(M.tickLength)),
                            fill: gridColor))
            if columnLabelsHorizontal {
                scene.addText(TextItem(text: data.columnLabels[column], position: Point(x: centerX, y: Double(columnLabelTop)),
                                       size: M.labelSize, color: textColor, anchor: .middle, alignment: .top))
            } else {
                scene.addText(TextItem(text: data.columnLabels[column], position: Point(x: centerX, y: Double(columnLabelTop)),
                                       size: M.labelSize, color: textColor, anchor: .end, alignment: .middle, rotated: true))
            }
        }

        // Axis titles.
        scene.addText(TextItem(text: data.xAxisTitle,
                               position: Point(x: Double(plotLeft) + Double(plotWidth) / 2, y: Double(xTitleTop)),
                               size: M.labelSize, color: textColor, anchor: .middle, alignment: .top))
        scene.addText(TextItem(text: data.yAxisTitle,
                               position: Point(x: Double(yTitleX), y: Double(plotTop) + Double(plotHeight) / 2),
                               size: M.labelSize, color: textColor, anchor: .middle, alignment: .top, rotated: true))

        addColorbar(data, to: &scene, left: colorbarLeft, top: plotTop, height: plotHeight,
                    labels: colorbarLabels, titleX: colorbarTitleX)
        return scene
    }

    /// Fills the cells and writes each value with two decimals, at scale 2 or 1, when it fits its cell.
    private static func addCells(_ data: HeatmapData, to scene: inout Scene, left: Int, top: Int,
                                 cellWidth: Int, cellHeight: Int) {
        let sample = "0.00"
        var valueSize = 0
        for size in [2, 1] where valueSize == 0 {
            if BitmapFont.width(of: sample, scale: size) + 3 * size + 3 <= cellWidth
                && BitmapFont.capHeight * size + 3 * size <= cellHeight {
                valueSize = size
            }
        }

        for (row, values) in data.values.enumerated() {
            for (column, value) in values.enumerated() {
                let cell = Rect(x: Double(left + column * cellWidth), y: Double(top + row * cellHeight),
                                width: Double(cellWidth), height: Double(cellHeight))
                guard let value else {
                    scene.add(.hatchedRect(cell, background: missingBackground, stripe: missingStripe))
                    continue
                }
                scene.add(.rect(cell, fill: colormap.color(at: value)))
                if valueSize > 0 {
                    // The extra half pixel centres the odd-width digits on the cell, whose border line
                    // takes its first column.
                    let center = Point(x: cell.x + cell.width / 2 + 0.5, y: cell.y + cell.height / 2 + 0.5)
                    scene.addText(TextItem(text: formatFixed(value, decimals: 2), position: center, size: valueSize,
                                           color: valueColor, anchor: .middle, alignment: .middle))
                }
            }
        }
    }

    /// Draws one-pixel grey lines on every cell border, the outer frame included.
    private static func addGrid(to scene: inout Scene, left: Int, top: Int, rows: Int, columns: Int,
                                cellWidth: Int, cellHeight: Int) {
        let plotWidth = Double(columns * cellWidth + 1)
        let plotHeight = Double(rows * cellHeight + 1)
        for row in 0...rows {
            scene.add(.rect(Rect(x: Double(left), y: Double(top + row * cellHeight), width: plotWidth, height: 1), fill: gridColor))
        }
        for column in 0...columns {
            scene.add(.rect(Rect(x: Double(left + column * cellWidth), y: Double(top), width: 1, height: plotHeight), fill: gridColor))
        }
    }

    private static func addColorbar(_ data: HeatmapData, to scene: inout Scene, left: Int, top: Int, height: Int,
                                    labels: [String], titleX: Int) {
        typealias M = Metrics
        let bar = Rect(x: Double(left), y: Double(top), width: Double(M.colorbarWidth), height: Double(height))
        scene.add(.verticalGradient(bar, colormap: colormap))
        let frame = Rect(x: bar.x, y: bar.y, width: bar.width + 1, height: bar.height + 1)
        addOutline(frame, to: &scene)

        for (index, label) in labels.enumerated() {
            let value = labels.count > 1 ? Double(index) / Double(labels.count - 1) : 0
            let y = (Double(top + height) - value * Double(height)).rounded(.down)
            let tickY = min(y, Double(top + height))
            scene.add(.rect(Rect(x: bar.maxX + 1, y: tickY, width: Double(M.tickLength), height: 1), fill: gridColor))
            scene.addText(TextItem(text: label, position: Point(x: bar.maxX + 1 + Double(M.tickLength) + 5, y: tickY + 0.5),
                                   size: M.labelSize, color: textColor, anchor: .start, alignment: .middle))
        }
        scene.addText(TextItem(text: data.colorbarTitle,
                               position: Point(x: Double(titleX), y: Double(top) + Double(height) / 2),
                               size: M.labelSize, color: textColor, anchor: .middle, alignment: .top, rotated: true))
    }

    private static func addOutline(_ rect: Rect, to scene: inout Scene) {
        scene.add(.rect(Rect(x: rect.x, y: rect.y, width: rect.width, height: 1), fill: gridColor))
        scene.add(.rect(Rect(x: rect.x, y: rect.maxY - 1, width: rect.width, height: 1), fill: gridColor))
        scene.add(.rect(Rect(x: rect.x, y: rect.y, width: 1, height: rect.height), fill: gridColor))
        scene.add(.rect(Rect(x: rect.maxX - 1, y: rect.y, width: 1, height: rect.height), fill: gridColor))
    }
}
