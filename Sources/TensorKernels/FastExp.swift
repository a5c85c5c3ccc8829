/// A vectorised float32 `exp`, for softmax and SiLU where the C library's scalar `expf` would dominate
/// the prefill time (a 2048-token prefill of a 30-layer model takes over half a billion exponentials).
///
/// Method: write `x = n * ln 2 + r` with integer `n` and `|r| <= ln 2 / 2`, evaluate `e^r` with its
/// degree-7 Taylor polynomial (truncation error below 1e-8 relative on that interval), and multiply by
/// `2^n` built directly in the exponent bits. Inputs are clamped to [-87, 88], so the result is finite
/// and normal; `exp(-inf)` gives about 1.6e-38, not 0, so callers that mask entries set them to 0 themselves.
/// The relative error is about 2 ulp; `ExpTests` checks it against `Foundation.exp`.
public enum FastExp {
    public typealias Vector = SIMD8<Float>

    @inlinable @inline(__always)
    public static func exp(_ x: Vector) -> Vector {
        // Selects instead of `clamped(lowerBound:upperBound:)`, which does not inline to vector code.
        let low = Vector(repeating: -87), high = Vector(repeating: 88)
        var clamped = x.replacing(with: low, where: x .< low)
        clamped.replace(with: high, where: clamped .> high)
        // Adding 1.5 * 2^23 rounds x / ln 2 to the nearest integer n and leaves n in the low mantissa bits.
        let shifter = Vector(repeating: 12_582_912)
        let t = (clamped * 1.442_695_04) + shifter
        let n = t - shifter
        // r = x - n * ln 2, with ln 2 split into a high part of 16 significant bits and a low correction,
        // so n * high is exact without a fused multiply-add.
        var r = clamped - n * 0.693_145_751_953_125
        r = r - n * 1.428_606_820_309_417_3e-6

        // Horner evaluation of sum r^k / k! for k = 0...7. Plain multiply and add: `addingProduct` becomes a
        // libm call per lane unless the build enables FMA instructions.
        var p = Vector(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1

        // 2^n as float bits: the biased exponent n + 127 in bits 23...30. The bits of t are 0x4B40_0000 + n.
        let bits = unsafeBitCast(t, to: SIMD8<UInt32>.self)
        let scale = unsafeBitCast((bits &- 0x4B40_0000 &+ 127) &<< 23, to: Vector.self)
        return p * scale
    }

    /// Scalar form of `exp(_:)`, with identical rounding, for loop tails.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        exp(Vector(repeating: x))[0]
    }
}
