/// Writes a `Scene` as an SVG 1.1 document with real `<text>` elements, so papers and browsers get
/// selectable, scalable labels. The layout is the one the PNG uses.
enum SVGRenderer {
    /// Fonts in order of preference. DejaVu Sans is Debian's default sans-serif font (`fonts-dejavu-core`).
    static let fontFamily = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif"
    /// Cap height of DejaVu Sans in em (the "H" is 1493 of 2048 units in Debian 12's DejaVuSans.ttf),
    /// used to give SVG capitals the height of the bitmap font's.
    static let capHeightPerEm = 0.729

    static func render(_ scene: Scene) -> String {
        var body: [String] = []
        var definitions: [String] = []
        var patternIDs: [String: String] = [:]
        var gradientCount = 0

        for element in scene.elements {
            switch element {
            case .rect(let rect, let fill):
                body.append("<rect \(rectAttributes(rect)) fill=\"\(fill.hexString)\"/>")

            case .hatchedRect(let rect, let background, let stripe):
                let key = background.hexString + stripe.hexString
                let id: String
                if let existing = patternIDs[key] {
                    id = existing
                } else {
                    id = "hatch\(patternIDs.count)"
                    patternIDs[key] = id
                    // Vertical 2-pixel stripes every 8 pixels, turned 45 degrees to match the raster hatching.
                    definitions.append(
                        "<pattern id=\"\(id)\" patternUnits=\"userSpaceOnUse\" width=\"8\" height=\"8\" "
                            + "patternTransform=\"rotate(45)\">"
                            + "<rect width=\"8\" height=\"8\" fill=\"\(background.hexString)\"/>"
                            + "<rect width=\"2\" height=\"8\" fill=\"\(stripe.hexString)\"/></pattern>")
                }
                body.append("<rect \(rectAttributes(rect)) fill=\"url(#\(id))\"/>")

            case .verticalGradient(let rect, let colormap):
                let id = "gradient\(gradientCount)"
                gradientCount += 1
                let stops = colormap.stops.map {
                    "<stop offset=\"\(number($0.position))\" stop-color=\"\($0.color.hexString)\"/>"
                }.joined()
                definitions.append("<linearGradient id=\"\(id)\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\(stops)</linearGradient>")
                body.append("<rect \(rectAttributes(rect)) fill=\"url(#\(id))\"/>")

            case .stroke(let points, let width, let color, let dash):
                let coordinates = points.map { "\(number($0.x)),\(number($0.y))" }.joined(separator: " ")
                var line = "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(color.hexString)\" "
                    + "stroke-width=\"\(number(width))\" stroke-linecap=\"round\" stroke-linejoin=\"round\""
                if !dash.isEmpty {
                    line += " stroke-dasharray=\"\(dash.map(number).joined(separator: " "))\""
                }
                body.append(line + "/>")

            case .marker(let shape, let center, let size, let fill):
                if let vertices = shape.vertices(center: center, size: size) {
                    let coordinates = vertices.map { "\(number($0.x)),\(number($0.y))" }.joined(separator: " ")
                    body.append("<polygon points=\"\(coordinates)\" fill=\"\(fill.hexString)\"/>")
                } else {
                    body.append("<circle cx=\"\(number(center.x))\" cy=\"\(number(center.y))\" "
                        + "r=\"\(number(size / 2))\" fill=\"\(fill.hexString)\"/>")
                }

            case .text(let item):
                body.append(text(item))
            }
        }

        var lines = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"\(scene.width)\" height=\"\(scene.height)\" "
                + "viewBox=\"0 0 \(scene.width) \(scene.height)\" font-family=\"\(fontFamily)\">",
            "<title>\(escape(scene.title))</title>",
        ]
        if !definitions.isEmpty {
            lines.append("<defs>")
            lines += definitions
            lines.append("</defs>")
        }
        lines.append("<rect width=\"\(scene.width)\" height=\"\(scene.height)\" fill=\"\(scene.background.hexString)\"/>")
        lines += body
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func rectAttributes(_ rect: Rect) -> String {
        "x=\"\(number(rect.x))\" y=\"\(number(rect.y))\" width=\"\(number(rect.width))\" height=\"\(number(rect.height))\""
    }

    /// Returns a `<text>` element whose capitals cover the same box as the bitmap text of `item`.
    private static func text(_ item: TextItem) -> String {
        let capHeight = Double(BitmapFont.capHeight * max(1, item.size))
        let fontSize = capHeight / capHeightPerEm
        let baselineOffset: Double
        switch item.alignment {
        case .top: baselineOffset = capHeight
        case .middle: baselineOffset = capHeight / 2
        case .baseline: baselineOffset = 0
        }
        let anchor: String
        switch item.anchor {
        case .start: anchor = "start"
        case .middle: anchor = "middle"
        case .end: anchor = "end"
        }

        var attributes = "font-size=\"\(number(fontSize))\" fill=\"\(item.color.hexString)\" text-anchor=\"\(anchor)\""
        if item.bold {
            attributes += " font-weight=\"bold\""
        }
        if item.rotated {
            // After rotate(-90) the local y axis points right, so the baseline offset moves the text right.
            attributes += " transform=\"translate(\(number(item.position.x)),\(number(item.position.y))) rotate(-90)\""
            attributes += " x=\"0\" y=\"\(number(baselineOffset))\""
        } else {
            attributes += " x=\"\(number(item.position.x))\" y=\"\(number(item.position.y + baselineOffset))\""
        }
        return "<text \(attributes)>\(escape(item.text))</text>"
    }

    /// Escapes XML markup characters and replaces control characters, which XML 1.0 forbids even escaped.
    static func escape(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            case "\t", "\n", "\r": result += " "
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    result += "\u{FFFD}"
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result
    }

    /// Formats a coordinate with at most two decimals and no locale, so output bytes never vary.
    static func number(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        let sign = hundredths < 0 ? "-" : ""
        let magnitude = abs(hundredths)
        let whole = magnitude / 100
        let fraction = magnitude % 100
        if fraction == 0 {
            return "\(sign)\(whole)"
        }
        let digits = fraction % 10 == 0 ? "\(fraction / 10)" : (fraction < 10 ? "0\(fraction)" : "\(fraction)")
        return "\(sign)\(whole).\(digits)"
    }
}
