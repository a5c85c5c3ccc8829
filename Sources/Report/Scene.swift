import Foundation

/// A point in image coordinates: pixels from the top-left corner, y pointing down.
struct Point: Equatable {
    var x: Double
    var y: Double
}

/// An axis-aligned rectangle in image coordinates.
struct Rect: Equatable {
    var x: Double
    var y: Double
    var width: Double
    var height: Double

    var maxX: Double { x + width }
    var maxY: Double { y + height }
}

/// Horizontal placement of text relative to its anchor point, named as SVG's `text-anchor`.
enum TextAnchor {
    case start
    case middle
    case end
}

/// Vertical placement of text relative to its anchor point: the anchor is on the cap line (`top`),
/// halfway between cap line and baseline (`middle`), or on the baseline (`baseline`).
enum TextAlignment {
    case top
    case middle
    case baseline
}

/// A line of text. `size` is the bitmap font scale, so capitals are `7 * size` pixels high.
/// Rotated text reads from bottom to top, and then `anchor` applies along the text and `alignment` across it.
struct TextItem {
    var text: String
    var position: Point
    var size: Int
    var color: RGB
    var anchor: TextAnchor = .start
    var alignment: TextAlignment = .baseline
    var rotated = false
    var bold = false
}

/// Filled shapes for chart markers, all centred on the data point.
enum MarkerShape: CaseIterable {
    case circle
    case square
    case triangleUp
    case diamond
    case triangleDown
    case pentagon
    case hexagon
    case star

    /// Returns the polygon vertices for a marker of `size` pixels across, or nil for the circle.
    func vertices(center: Point, size: Double) -> [Point]? {
        let radius = size / 2
        func regular(_ count: Int, rotation: Double, radii: [Double]) -> [Point] {
            (0..<(count * radii.count)).map { index in
                let angle = rotation + Double(index) * 2 * Double.pi / Double(count * radii.count)
                let r = radii[index % radii.count]
                return Point(x: center.x + r * sin(angle), y: center.y - r * cos(angle))
            }
        }
        switch self {
        case .circle:
            return nil
        case .square:
            let half = radius * 0.85
            return [Point(x: center.x - half, y: center.y - half), Point(x: center.x + half, y: center.y - half),
                    Point(x: center.x + half, y: center.y + half), Point(x: center.x - half, y: center.y + half)]
        case .triangleUp:
            return regular(3, rotation: 0, radii: [radius * 1.15])
        case .triangleDown:
            return regular(3, rotation: Double.pi, radii: [radius * 1.15])
        case .diamond:
            return regular(4, rotation: 0, radii: [radius * 1.1])
        case .pentagon:
            return regular(5, rotation: 0, radii: [radius * 1.05])
        case .hexagon:
            return regular(6, rotation: 0, radii: [radius])
        case .star:
            return regular(5, rotation: 0, radii: [radius * 1.25, radius * 0.55])
        }
    }
}

/// One drawing operation. Both the raster and the SVG back end draw every element, so the PNG and
/// the SVG of a chart show the same layout.
enum SceneElement {
    case rect(Rect, fill: RGB)
    /// A rectangle with diagonal stripes, the mark for missing heatmap cells.
    case hatchedRect(Rect, background: RGB, stripe: RGB)
    /// A rectangle filled from `colormap` at 0 on its bottom edge to 1 on its top edge.
    case verticalGradient(Rect, colormap: Colormap)
    /// A polyline stroke with round joins and caps. `dash` lists on and off lengths in pixels, or is empty.
    case stroke(points: [Point], width: Double, color: RGB, dash: [Double])
    case marker(MarkerShape, center: Point, size: Double, fill: RGB)
    case text(TextItem)
}

/// A chart laid out in pixels, ready for `RasterRenderer` or `SVGRenderer`.
struct Scene {
    var width: Int
    var height: Int
    var background: RGB = .white
    var title: String
    var elements: [SceneElement] = []

    mutating func add(_ element: SceneElement) {
        elements.append(element)
    }

    mutating func addText(_ item: TextItem) {
        elements.append(.text(item))
    }
}
