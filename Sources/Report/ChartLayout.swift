/// Layout rules shared by the heatmap and the line chart.
enum ChartLayout {
    static let margin = 24

    /// Picks the title scale and the image width for content `contentWidth` pixels wide, margins
    /// included. The title uses scale 3 when it fits and scale 2 otherwise. A title too long even then
    /// widens the image, and `originX` centres the content in the wider image.
    static func titleFit(_ title: String, contentWidth: Int) -> (titleSize: Int, width: Int, originX: Int) {
        var titleSize = 3
        if BitmapFont.width(of: title, scale: titleSize) + 2 * margin > contentWidth {
            titleSize = 2
        }
        let width = max(contentWidth, BitmapFont.width(of: title, scale: titleSize) + 2 * margin)
        return (titleSize, width, (width - contentWidth) / 2)
    }

    /// Rejects layouts that `RasterCanvas` could not allocate, before either renderer starts.
    static func checkSize(width: Int, height: Int) throws {
        guard width <= RasterCanvas.maximumDimension, height <= RasterCanvas.maximumDimension,
              width * height <= RasterCanvas.maximumPixelCount else {
            throw ReportError.invalidImageSize(
                width: width, height: height,
                reason: "the chart would exceed \(RasterCanvas.maximumDimension) pixels a side or "
                    + "\(RasterCanvas.maximumPixelCount) pixels in all; use fewer rows and columns or shorter labels and title")
        }
    }
}
