/// An RGB image with 8 bits per channel and the drawing operations the charts need. Shape edges are
/// anti-aliased by coverage, computed in plain arithmetic, so a drawing is the same on every run.
struct RasterCanvas {
    /// Largest width or height accepted, in pixels.
    static let maximumDimension = 16_384
    /// Largest pixel count accepted (about 100 MB of RGB), so bad input cannot force a huge allocation.
    static let maximumPixelCount = 1 << 25

    let width: Int
    let height: Int
    /// Row-major RGB bytes, top row first.
    private(set) var pixels: [UInt8]

    init(width: Int, height: Int, background: RGB) throws {
        guard width > 0, height > 0 else {
            throw ReportError.invalidImageSize(width: width, height: height, reason: "both sides must be at least 1 pixel")
        }
        guard width <= Self.maximumDimension, height <= Self.maximumDimension,
              width * height <= Self.maximumPixelCount else {
            throw ReportError.invalidImageSize(
                width: width, height: height,
                reason: "each side must be at most \(Self.maximumDimension) pixels and the area at most "
                    + "\(Self.maximumPixelCount) pixels; use fewer rows, columns or shorter labels")
        }
        self.width = width
        self.height = height
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for index in 0..<(width * height) {
            pixels[index * 3] = background.red
            pixels[index * 3 + 1] = background.green
            pixels[index * 3 + 2] = background.blue
        }
        self.pixels = pixels
    }

    func pixel(x: Int, y: Int) -> RGB {
        let offset = (y * width + x) * 3
        return RGB(pixels[offset], pixels[offset + 1], pixels[offset + 2])
    }

    /// Blends `color` over the pixel with opacity `alpha` in [0, 1]. Pixels outside the canvas are skipped.
    mutating func blend(x: Int, y: Int, color: RGB, alpha: Double) {
        guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
        let offset = (y * width + x) * 3
        if alpha >= 1 {
            pixels[offset] = color.red
            pixels[offset + 1] = color.green
            pixels[offset + 2] = color.blue
            return
        }
        let old = RGB(pixels[offset], pixels[offset + 1], pixels[offset + 2])
        let mixed = old.mixed(with: color, fraction: alpha)
        pixels[offset] = mixed.red
        pixels[offset + 1] = mixed.green
        pixels[offset + 2] = mixed.blue
    }

    /// Fills the pixels whose centres lie inside `rect`, so rectangles on whole pixels have sharp edges.
    mutating func fill(_ rect: Rect, color: RGB) {
        let (x0, y0, x1, y1) = pixelRange(rect)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            for x in x0..<x1 {
                blend(x: x, y: y, color: color, alpha: 1)
            }
        }
    }

    /// Fills `rect` with 2-pixel stripes 8 pixels apart that run from lower left to upper right.
    mutating func fillHatched(_ rect: Rect, background: RGB, stripe: RGB) {
        let (x0, y0, x1, y1) = pixelRange(rect)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            for x in x0..<x1 {
                blend(x: x, y: y, color: (x + y) % 8 < 2 ? stripe : background, alpha: 1)
            }
        }
    }

    /// Fills `rect` with `colormap`, 0 on the bottom edge and 1 on the top edge, sampled at row centres.
    mutating func fillVerticalGradient(_ rect: Rect, colormap: Colormap) {
        let (x0, y0, x1, y1) = pixelRange(rect)
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            let value = (rect.maxY - (Double(y) + 0.5)) / rect.height
            let color = colormap.color(at: value)
            for x in x0..<x1 {
                blend(x: x, y: y, color: color, alpha: 1)
            }
        }
    }

    private func pixelRange(_ rect: Rect) -> (Int, Int, Int, Int) {
        // A pixel belongs to the rectangle when its centre (x + 0.5) lies in [x, x + width).
        func first(_ edge: Double) -> Int { Int((edge - 0.5).rounded(.up)) }
        let x0 = max(0, first(rect.x))
        let y0 = max(0, first(rect.y))
        let x1 = min(width, first(rect.maxX))
        let y1 = min(height, first(rect.maxY))
        return (x0, y0, x1, y1)
    }

    // MARK: Strokes and shapes

    /// Strokes a polyline of `lineWidth` pixels with round caps and joins, dashed when `dash` is not empty.
    /// Coverage is the maximum over all segments, so joins are not drawn twice.
    mutating func stroke(_ points: [Point], lineWidth: Double, color: RGB, dash: [Double]) {
        guard points.count >= 2 else { return }
        let segments = dash.isEmpty ? Self.segments(of: points) : Self.dashedSegments(of: points, pattern: dash)
        guard !segments.isEmpty else { return }

        let reach = lineWidth / 2 + 1
        let xs = segments.flatMap { [$0.0.x, $0.1.x] }
        let ys = segments.flatMap { [$0.0.y, $0.1.y] }
        let left = max(0, Int((xs.min()! - reach).rounded(.down)))
        let top = max(0, Int((ys.min()! - reach).rounded(.down)))
        let right = min(width, Int((xs.max()! + reach).rounded(.up)) + 1)
        let bottom = min(height, Int((ys.max()! + reach).rounded(.up)) + 1)
        guard left < right, top < bottom else { return }

        let maskWidth = right - left
        var coverage = [Double](repeating: 0, count: maskWidth * (bottom - top))
        let halfWidth = lineWidth / 2
        for (start, end) in segments {
            let x0 = max(left, Int((min(start.x, end.x) - reach).rounded(.down)))
            let x1 = min(right, Int((max(start.x, end.x) + reach).rounded(.up)) + 1)
            let y0 = max(top, Int((min(start.y, end.y) - reach).rounded(.down)))
            let y1 = min(bottom, Int((max(start.y, end.y) + reach).rounded(.up)) + 1)
            guard x0 < x1, y0 < y1 else { continue }
            for y in y0..<y1 {
                for x in x0..<x1 {
                    let distance = Self.distance(from: Point(x: Double(x) + 0.5, y: Double(y) + 0.5), to: start, end)
                    let value = min(1, max(0, halfWidth + 0.5 - distance))
                    let index = (y - top) * maskWidth + (x - left)
                    if value > coverage[index] { coverage[index] = value }
                }
            }
        }
        for y in top..<bottom {
            for x in left..<right {
                blend(x: x, y: y, color: color, alpha: coverage[(y - top) * maskWidth + (x - left)])
            }
        }
    }

    private static func segments(of points: [Point]) -> [(Point, Point)] {
        (1..<points.count).map { (points[$0 - 1], points[$0]) }
    }

    /// Cuts the polyline into the "on" pieces of the dash pattern, which continues across vertices.
    private static func dashedSegments(of points: [Point], pattern: [Double]) -> [(Point, Point)] {
        guard pattern.allSatisfy({ $0 > 0 }) else { return segments(of: points) }
        var result: [(Point, Point)] = []
        var patternIndex = 0
        var remaining = pattern[0]
        for (start, end) in segments(of: points) {
            let length = ((end.x - start.x) * (end.x - start.x) + (end.y - start.y) * (end.y - start.y)).squareRoot()
            var position = 0.0
            while position < length {
                let step = min(remaining, length - position)
                if patternIndex % 2 == 0 {
                    let a = position / length
                    let b = (position + step) / length
                    result.append((Point(x: start.x + (end.x - start.x) * a, y: start.y + (end.y - start.y) * a),
                                   Point(x: start.x + (end.x - start.x) * b, y: start.y + (end.y - start.y) * b)))
                }
                position += step
                remaining -= step
                if remaining <= 0 {
                    patternIndex = (patternIndex + 1) % pattern.count
                    remaining = pattern[patternIndex]
                }
            }
        }
        return result
    }

    private static func distance(from point: Point, to start: Point, _ end: Point) -> Double {
        let dx = end.x - start.x
        let dy = end.y - start.y
        let lengthSquared = dx * dx + dy * dy
        var t = 0.0
        if lengthSquared > 0 {
            t = min(1, max(0, ((point.x - start.x) * dx + (point.y - start.y) * dy) / lengthSquared))
        }
        let nearestX = start.x + t * dx - point.x
        let nearestY = start.y + t * dy - point.y
        return (nearestX * nearestX + nearestY * nearestY).squareRoot()
    }

    /// Fills a shape given by an inside test, with coverage from 4x4 samples per pixel.
    private mutating func fillSampled(bounds: Rect, color: RGB, inside: (Double, Double) -> Bool) {
        let x0 = max(0, Int(bounds.x.rounded(.down)))
        let y0 = max(0, Int(bounds.y.rounded(.down)))
        let x1 = min(width, Int(bounds.maxX.rounded(.up)))
        let y1 = min(height, Int(bounds.maxY.rounded(.up)))
        guard x0 < x1, y0 < y1 else { return }
        for y in y0..<y1 {
            for x in x0..<x1 {
                var hits = 0
                for sy in 0..<4 {
                    for sx in 0..<4 where inside(Double(x) + (Double(sx) + 0.5) / 4, Double(y) + (Double(sy) + 0.5) / 4) {
                        hits += 1
                    }
                }
                blend(x: x, y: y, color: color, alpha: Double(hits) / 16)
            }
        }
    }

    /// Fills a polygon by the even-odd rule, which also handles the concave star marker.
    mutating func fillPolygon(_ vertices: [Point], color: RGB) {
        guard vertices.count >= 3 else { return }
        let xs = vertices.map(\.x)
        let ys = vertices.map(\.y)
        let bounds = Rect(x: xs.min()!, y: ys.min()!, width: xs.max()! - xs.min()!, height: ys.max()! - ys.min()!)
        fillSampled(bounds: bounds, color: color) { px, py in
            var inside = false
            var previous = vertices[vertices.count - 1]
            for vertex in vertices {
                if (vertex.y > py) != (previous.y > py) {
                    let crossing = vertex.x + (py - vertex.y) * (previous.x - vertex.x) / (previous.y - vertex.y)
                    if px < crossing { inside.toggle() }
                }
                previous = vertex
            }
            return inside
        }
    }

    mutating func fillCircle(center: Point, radius: Double, color: RGB) {
        let bounds = Rect(x: center.x - radius, y: center.y - radius, width: 2 * radius, height: 2 * radius)
        fillSampled(bounds: bounds, color: color) { px, py in
            (px - center.x) * (px - center.x) + (py - center.y) * (py - center.y) <= radius * radius
        }
    }

    // MARK: Text

    /// Draws `item` with the bitmap font, each font pixel a `size` x `size` block. Bold text widens
    /// every block by a third of the scale, at least one pixel.
    mutating func draw(_ item: TextItem) {
        let scale = max(1, item.size)
        let textWidth = BitmapFont.width(of: item.text, scale: scale)
        let capHeight = BitmapFont.capHeight * scale
        let boldExtra = item.bold ? max(1, scale / 3) : 0

        let along: Double
        switch item.anchor {
        case .start: along = 0
        case .middle: along = Double(textWidth) / 2
        case .end: along = Double(textWidth)
        }
        let across: Double
        switch item.alignment {
        case .top: across = 0
        case .middle: across = Double(capHeight) / 2
        case .baseline: across = Double(capHeight)
        }

        if item.rotated {
            // Text runs upward: the first glyph sits at the bottom, and the cap line faces left.
            let leftX = Int((item.position.x - across).rounded())
            let bottomY = Int((item.position.y + along).rounded())
            forEachBlock(item.text, scale: scale) { textX, textY in
                fillPixels(x0: leftX + textY, y0: bottomY - textX - scale - boldExtra,
                           x1: leftX + textY + scale, y1: bottomY - textX, color: item.color)
            }
        } else {
            let left = Int((item.position.x - along).rounded())
            let top = Int((item.position.y - across).rounded())
            forEachBlock(item.text, scale: scale) { textX, textY in
                fillPixels(x0: left + textX, y0: top + textY,
                           x1: left + textX + scale + boldExtra, y1: top + textY + scale, color: item.color)
            }
        }
    }

    /// Calls `body` with the text-space origin of every set font pixel, in device pixels from the start
    /// of the text (x) and from the cap line (y).
    private func forEachBlock(_ text: String, scale: Int, _ body: (Int, Int) -> Void) {
        for (index, character) in BitmapFont.displayText(text).enumerated() {
            let rows = BitmapFont.rows(for: character)
            for (row, mask) in rows.enumerated() where mask != 0 {
                for column in 0..<BitmapFont.glyphWidth where mask & (0x10 >> UInt8(column)) != 0 {
                    body((index * BitmapFont.advance + column) * scale, row * scale)
                }
            }
        }
    }

    private mutating func fillPixels(x0: Int, y0: Int, x1: Int, y1: Int, color: RGB) {
        let left = max(0, x0)
        let right = min(width, x1)
        let top = max(0, y0)
        let bottom = min(height, y1)
        guard left < right, top < bottom else { return }
        for y in top..<bottom {
            for x in left..<right {
                let offset = (y * width + x) * 3
                pixels[offset] = color.red
                pixels[offset + 1] = color.green
                pixels[offset + 2] = color.blue
            }
        }
    }
}

/// Draws a `Scene` into a `RasterCanvas`.
enum RasterRenderer {
    static func render(_ scene: Scene) throws -> RasterCanvas {
        var canvas = try RasterCanvas(width: scene.width, height: scene.height, background: scene.background)
        for element in scene.elements {
            switch element {
            case .rect(let rect, let fill):
                canvas.fill(rect, color: fill)
            case .hatchedRect(let rect, let background, let stripe):
                canvas.fillHatched(rect, background: background, stripe: stripe)
            case .verticalGradient(let rect, let colormap):
                canvas.fillVerticalGradient(rect, colormap: colormap)
            case .stroke(let points, let width, let color, let dash):
                canvas.stroke(points, lineWidth: width, color: color, dash: dash)
            case .marker(let shape, let center, let size, let fill):
                if let vertices = shape.vertices(center: center, size: size) {
                    canvas.fillPolygon(vertices, color: fill)
                } else {
                    canvas.fillCircle(center: center, radius: size / 2, color: fill)
                }
            case .text(let item):
                canvas.draw(item)
            }
        }
        return canvas
    }

    static func png(_ scene: Scene) throws -> [UInt8] {
        let canvas = try render(scene)
        return try PNGEncoder.encode(width: canvas.width, height: canvas.height, rgb: canvas.pixels)
    }
}
