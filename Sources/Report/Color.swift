/// An opaque 8-bit sRGB colour.
public struct RGB: Equatable, Hashable, Sendable {
    public var red: UInt8
    public var green: UInt8
    public var blue: UInt8

    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// Creates a colour from a 24-bit value written as 0xRRGGBB.
    public init(hex: UInt32) {
        self.init(UInt8((hex >> 16) & 0xFF), UInt8((hex >> 8) & 0xFF), UInt8(hex & 0xFF))
    }

    /// The colour as `#rrggbb`, the form SVG attributes take.
    public var hexString: String {
        let digits = Array("0123456789abcdef")
        var text = "#"
        for component in [red, green, blue] {
            text.append(digits[Int(component >> 4)])
            text.append(digits[Int(component & 0x0F)])
        }
        return text
    }

    /// Mixes `self` toward `other` by `fraction` in [0, 1], per channel in sRGB values, rounded half up.
    func mixed(with other: RGB, fraction: Double) -> RGB {
        let t = min(max(fraction, 0), 1)
        func channel(_ a: UInt8, _ b: UInt8) -> UInt8 {
            UInt8((Double(a) + (Double(b) - Double(a)) * t + 0.5).rounded(.down))
        }
        return RGB(channel(red, other.red), channel(green, other.green), channel(blue, other.blue))
    }

    static let white = RGB(255, 255, 255)
    static let black = RGB(0, 0, 0)
}

/// A piecewise-linear colour map over [0, 1], interpolated in sRGB values like matplotlib's
/// `LinearSegmentedColormap.from_list` and SVG's default `color-interpolation`.
public struct Colormap: Sendable {
    /// Stops as (position in [0, 1], colour), sorted by position, first at 0 and last at 1.
    public let stops: [(position: Double, color: RGB)]

    /// Red, yellow and green, the colours that common needle-in-a-haystack plotting scripts pass to
    /// matplotlib's `LinearSegmentedColormap.from_list`: 0 is red and 1 is green.
    public static let redYellowGreen = Colormap(stops: [
        (0.0, RGB(hex: 0xF0496E)),
        (0.5, RGB(hex: 0xEBB839)),
        (1.0, RGB(hex: 0x0CD79F)),
    ])

    /// Returns the colour at `value`, clamping values outside [0, 1] to the end colours as a heatmap
    /// with vmin 0 and vmax 1 does.
    public func color(at value: Double) -> RGB {
        let t = min(max(value, 0), 1)
        for index in 1..<stops.count where t <= stops[index].position {
            let lower = stops[index - 1]
            let upper = stops[index]
            let span = upper.position - lower.position
            let fraction = span > 0 ? (t - lower.position) / span : 0
            return lower.color.mixed(with: upper.color, fraction: fraction)
        }
        return stops[stops.count - 1].color
    }
}
