import Foundation

/// Rotary position embedding (RoPE) in the Hugging Face "rotate half" layout: within a head of `d` channels,
/// channel `i` and channel `i + d/2` form a rotation pair with angle `position * inverseFrequencies[i]`.
///
/// The inverse frequencies and angles are rounded to float32 the way transformers computes them
/// (`inv_freq` in float32, `angle = inv_freq * position` in float32), so positions in the thousands
/// rotate by the same angles as the reference.
public struct RotaryEmbedding: Sendable {
    public let headDim: Int
    /// `1 / (base^(2i/d) * scale_i)` for `i < d/2`, where `scale_i` combines linear scaling and per-frequency factors.
    public let inverseFrequencies: [Float]

    /// - Parameters:
    ///   - base: `rope_theta`.
    ///   - linearFactor: linear RoPE scaling: positions are divided by this factor.
    ///   - frequencyFactors: per-frequency divisors of `d/2` entries, the `rope_freqs` tensor of Llama 3.1 GGUF files.
    public init(headDim: Int, base: Float, linearFactor: Float = 1, frequencyFactors: [Float]? = nil) {
        precondition(headDim > 0 && headDim % 2 == 0, "RoPE needs an even head dimension, got \(headDim)")
        precondition(frequencyFactors == nil || frequencyFactors!.count == headDim / 2)
        self.headDim = headDim
        var frequencies: [Float] = []
        for i in 0..<(headDim / 2) {
            let exponent = Float(2 * i) / Float(headDim)
            var frequency = 1 / Float(pow(Double(base), Double(exponent)))
            if linearFactor != 1 { frequency /= linearFactor }
            if let factors = frequencyFactors { frequency /= factors[i] }
            frequencies.append(frequency)
        }
        inverseFrequencies = frequencies
    }

    /// Writes `cos` and `sin` of the `d/2` rotation angles of `position`.
    @inlinable
    public func fillTable(position: Int, cos cosines: UnsafeMutablePointer<Float>, sin sines: UnsafeMutablePointer<Float>) {
        let p = Float(position)
        inverseFrequencies.withUnsafeBufferPointer { frequencies in
            for i in 0..<frequencies.count {
                let angle = Double(p * frequencies[i])
                cosines[i] = Float(Foundation.cos(angle))
                sines[i] = Float(Foundation.sin(angle))
            }
        }
    }

    /// Rotates `heads` consecutive heads of `headDim` channels starting at `x`, using one position's table.
    @inlinable
    public static func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int,
                             cos cosines: UnsafePointer<Float>, sin sines: UnsafePointer<Float>) {
        let half = headDim / 2
        for head in 0..<heads {
            let first = x + head * headDim
            let second = first + half
            var i = 0
            while i + 8 <= half {
                let a = UnsafeRawPointer(first + i).loadUnaligned(as: SIMD8<Float>.self)
                let b = UnsafeRawPointer(second + i).loadUnaligned(as: SIMD8<Float>.self)
                let c = UnsafeRawPointer(cosines + i).loadUnaligned(as: SIMD8<Float>.self)
                let s = UnsafeRawPointer(sines + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(first + i).storeBytes(of: a * c - b * s, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(second + i).storeBytes(of: b * c + a * s, as: SIMD8<Float>.self)
                i += 8
            }
            while i < half {
                let a = first[i], b = second[i]
                first[i] = a * cosines[i] - b * sines[i]
                second[i] = b * cosines[i] + a * sines[i]
                i += 1
            }
        }
    }
}
