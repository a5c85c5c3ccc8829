import Foundation

/// A labelled position on an axis, in data units.
struct AxisTick: Equatable {
    var value: Double
    var label: String
}

/// A mapping from data values to pixels along one axis, linear or base-2 logarithmic.
struct AxisScale {
    /// Data range shown, in data units. Both ends are positive on a log scale.
    var lower: Double
    var upper: Double
    var logarithmic: Bool
    /// Pixel positions of `lower` and `upper`. On a y axis the lower value sits at the larger pixel.
    var pixelLower: Double
    var pixelUpper: Double

    func pixel(_ value: Double) -> Double {
        let a = logarithmic ? log2(lower) : lower
        let b = logarithmic ? log2(upper) : upper
        let v = logarithmic ? log2(value) : value
        let fraction = b > a ? (v - a) / (b - a) : 0.5
        return pixelLower + fraction * (pixelUpper - pixelLower)
    }
}

enum AxisTicks {
    /// Returns a range and ticks for values in [minimum, maximum] on a linear axis. The range is the
    /// data range widened by 5% of the span on each side, like matplotlib's default axes margins.
    /// The ticks are the multiples inside it of a step of 1, 2, 2.5 or 5 times a power of ten, chosen
    /// for about `target` intervals.
    static func linear(minimum: Double, maximum: Double, target: Int = 5) -> (lower: Double, upper: Double, ticks: [AxisTick]) {
        var lower = minimum
        var upper = maximum
        if upper - lower <= 0 {
            let pad = lower == 0 ? 1 : abs(lower) * 0.1
            lower -= pad
            upper += pad
        } else {
            let pad = (upper - lower) * 0.05
            lower -= pad
            upper += pad
        }

        let step = niceStep(span: upper - lower, target: target)
        let decimals = decimalPlaces(step: step)
        var ticks: [AxisTick] = []
        // Tick values are index * step rather than a running sum, so rounding errors do not accumulate.
        // The count limit ends the loop where index + 1 == index, at magnitudes far beyond the span.
        var index = (lower / step).rounded(.up)
        while index * step <= upper && ticks.count < 4 * target + 4 {
            let value = index * step
            ticks.append(AxisTick(value: value, label: formatFixed(value, decimals: decimals)))
            index += 1
        }
        return (lower, upper, ticks)
    }

    /// Returns a range and ticks on a base-2 log axis: the data range widened by `paddingOctaves` on
    /// each side, and ticks on the powers of two inside it, thinned to at most 10. With fewer than two
    /// powers of two in range, the distinct data values become the ticks.
    static func log2(values: [Double], paddingOctaves: Double = 0.3) -> (lower: Double, upper: Double, ticks: [AxisTick]) {
        let minimum = values.min() ?? 1
        let maximum = values.max() ?? 1
        let lowOctave = Foundation.log2(minimum) - paddingOctaves
        let highOctave = Foundation.log2(maximum) + paddingOctaves
        let lower = pow(2, lowOctave)
        let upper = pow(2, highOctave)

        let firstPower = Int(lowOctave.rounded(.up))
        let lastPower = Int(highOctave.rounded(.down))
        var ticks: [AxisTick] = []
        if lastPower - firstPower >= 1 {
            let stride = max(1, (lastPower - firstPower + 10) / 10)
            for power in Swift.stride(from: firstPower, through: lastPower, by: stride) {
                let value = pow(2, Double(power))
                // 2^-k has exactly k decimals, so fixed notation is exact down to 2^-6.
                let label = power >= -6 ? formatFixed(value, decimals: max(0, -power)) : formatShortest(value)
                ticks.append(AxisTick(value: value, label: label))
            }
        } else {
            let distinct = Array(Set(values)).sorted().prefix(10)
            ticks = distinct.map { AxisTick(value: $0, label: formatShortest($0)) }
        }
        return (lower, upper, ticks)
    }

    static func niceStep(span: Double, target: Int) -> Double {
        let raw = span / Double(max(1, target))
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        for multiple in [1.0, 2.0, 2.5, 5.0] where multiple * magnitude >= raw * (1 - 1e-9) {
            return multiple * magnitude
        }
        return 10 * magnitude
    }

    /// Returns the decimals needed to write every multiple of `step` exactly, for steps from `niceStep`.
    static func decimalPlaces(step: Double) -> Int {
        let exponent = Int((log10(step)).rounded(.down))
        let leading = step / pow(10, Double(exponent))
        let extra = abs(leading - 2.5) < 1e-9 ? 1 : 0
        return max(0, -exponent + extra)
    }
}

/// Formats `value` with exactly `decimals` digits after the point, without locale or grouping, so the
/// same value always gives the same text. Magnitudes beyond 1e15 fall back to Swift's shortest form.
func formatFixed(_ value: Double, decimals: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    let factor = pow(10, Double(decimals))
    let scaled = (abs(value) * factor).rounded()
    guard scaled < 1e15 else { return formatShortest(value) }
    let units = Int(scaled)
    let negative = value < 0 && units != 0
    let factorInt = Int(factor)
    var text = "\(units / factorInt)"
    if decimals > 0 {
        var fraction = "\(units % factorInt)"
        while fraction.count < decimals { fraction = "0" + fraction }
        text += "." + fraction
    }
    return negative ? "-" + text : text
}

/// Formats `value` in Swift's shortest round-trip form, dropping a trailing ".0".
func formatShortest(_ value: Double) -> String {
    let text = "\(value)"
    return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
}
