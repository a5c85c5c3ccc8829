import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import Report

/// Parses an SVG with Foundation's XMLParser and collects what the tests look for.
final class SVGSummary: NSObject, XMLParserDelegate {
    private(set) var elementCounts: [String: Int] = [:]
    /// Contents of `<text>` elements in document order.
    private(set) var texts: [String] = []
    private(set) var title = ""
    private(set) var rootAttributes: [String: String] = [:]
    private var current = ""
    private var inText = false
    private var inTitle = false

    /// Throws the parser error when the document is not well-formed XML.
    static func parse(_ svg: String) throws -> SVGSummary {
        let summary = SVGSummary()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = summary
        guard parser.parse() else {
            throw parser.parserError ?? NSError(domain: "SVGSummary", code: 1)
        }
        return summary
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        elementCounts[elementName, default: 0] += 1
        if elementName == "svg" { rootAttributes = attributes }
        if elementName == "text" { inText = true; current = "" }
        if elementName == "title" { inTitle = true; current = "" }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inText || inTitle { current += string }
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        if elementName == "text" { texts.append(current); inText = false }
        if elementName == "title" { title = current; inTitle = false }
    }
}

/// Layout checks on scenes.
enum SceneChecks {
    /// Returns the pixel box a text item covers in the raster, descender rows included.
    static func box(of item: TextItem) -> Rect {
        let scale = Double(max(1, item.size))
        let width = Double(BitmapFont.width(of: item.text, scale: Int(scale)))
        let capHeight = Double(BitmapFont.capHeight) * scale
        let fullHeight = Double(BitmapFont.rowCount) * scale
        let along: Double = item.anchor == .start ? 0 : (item.anchor == .middle ? width / 2 : width)
        let across: Double = item.alignment == .top ? 0 : (item.alignment == .middle ? capHeight / 2 : capHeight)
        if item.rotated {
            return Rect(x: item.position.x - across, y: item.position.y + along - width, width: fullHeight, height: width)
        }
        return Rect(x: item.position.x - along, y: item.position.y - across, width: width, height: fullHeight)
    }

    static func texts(in scene: Scene) -> [TextItem] {
        scene.elements.compactMap { element in
            if case .text(let item) = element { return item }
            return nil
        }
    }

    /// Returns descriptions of text pairs whose boxes overlap and of texts that leave the image.
    static func layoutProblems(in scene: Scene) -> [String] {
        let items = texts(in: scene).filter { !$0.text.isEmpty }
        let boxes = items.map(box)
        var problems: [String] = []
        for i in 0..<boxes.count {
            let a = boxes[i]
            if a.x < 0 || a.y < 0 || a.maxX > Double(scene.width) || a.maxY > Double(scene.height) {
                problems.append("\"\(items[i].text)\" at \(a) leaves the \(scene.width)x\(scene.height) image")
            }
            for j in (i + 1)..<boxes.count {
                let b = boxes[j]
                if a.x < b.maxX && b.x < a.maxX && a.y < b.maxY && b.y < a.maxY {
                    problems.append("\"\(items[i].text)\" overlaps \"\(items[j].text)\"")
                }
            }
        }
        return problems
    }

    /// Returns the rectangles filled with `color`, in drawing order.
    static func filledRects(in scene: Scene, color: RGB) -> [Rect] {
        scene.elements.compactMap { element in
            if case .rect(let rect, let fill) = element, fill == color { return rect }
            return nil
        }
    }
}

extension DecodedPNG {
    func rgb(atX x: Int, y: Int) -> RGB {
        let bytes = pixel(x, y)
        return RGB(bytes[0], bytes[1], bytes[2])
    }

    /// Counts pixels in a rectangle whose channels are all below `limit`.
    func darkPixelCount(x0: Int, y0: Int, x1: Int, y1: Int, limit: UInt8 = 90) -> Int {
        var count = 0
        for y in max(0, y0)..<min(height, y1) {
            for x in max(0, x0)..<min(width, x1) {
                let bytes = pixel(x, y)
                if bytes[0] < limit && bytes[1] < limit && bytes[2] < limit { count += 1 }
            }
        }
        return count
    }
}
