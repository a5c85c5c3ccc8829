/// Element-wise and reduction kernels over float32 buffers, written with SIMD8 so they compile to AVX2.
///
/// Every kernel processes its elements in a fixed order, independent of thread count and alignment, so the
/// same input always gives the same bits.
public enum VectorOps {
    public typealias Vector = SIMD8<Float>

    @inlinable @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self)
    }

    @inlinable @inline(__always)
    static func store(_ value: Vector, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Vector.self)
    }

    /// Sum of `x[i]^2`.
    @inlinable
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var accumulator = Vector()
        var i = 0
        while i + 8 <= count {
            let v = load(x + i)
            accumulator += v * v
            i += 8
        }
        var sum = accumulator.sum()
        while i < count {
            sum += x[i] * x[i]
            i += 1
        }
        return sum
    }

    /// RMSNorm: `output[i] = x[i] / sqrt(mean(x^2) + epsilon) * weight[i]`. `output` may equal `x`.
    @inlinable
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, epsilon: Float, count: Int,
                               output: UnsafeMutablePointer<Float>) {
        let meanSquare = sumOfSquares(x, count: count) / Float(count)
        let scale = 1 / (meanSquare + epsilon).squareRoot()
        let scaleVector = Vector(repeating: scale)
        var i = 0
        while i + 8 <= count {
            store(load(x + i) * scaleVector * load(weight + i), output + i)
            i += 8
        }
        while i < count {
            output[i] = x[i] * scale * weight[i]
            i += 1
        }
    }

    /// RMSNorm of `rows` rows, each `count` long, read with stride `inputStride` and written with stride
    /// `outputStride` (both in floats).
    @inlinable
    public static func rmsNormRows(_ x: UnsafePointer<Float>, inputStride: Int, weight: UnsafePointer<Float>,
                                   epsilon: Float, count: Int, rows: Int,
                                   output: UnsafeMutablePointer<Float>, outputStride: Int) {
        for row in 0..<rows {
            rmsNorm(x + row * inputStride, weight: weight, epsilon: epsilon, count: count,
                    output: output + row * outputStride)
        }
    }

    /// In-place softmax of `x[0..<count]`. Entries equal to `-infinity` are masked: they get weight 0.
    /// The maximum is subtracted first for range safety. When every entry is masked, all weights are 0.
    @inlinable
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        let maximum = self.maximum(x, count: count)
        guard maximum > -.infinity else {
            x.update(repeating: 0, count: count)
            return
        }
        let negatedMaximum = Vector(repeating: -maximum)
        let masked = Vector(repeating: -.infinity)
        var sumVector = Vector()
        var i = 0
        while i + 8 <= count {
            let v = load(x + i)
            var e = FastExp.exp(v + negatedMaximum)
            e.replace(with: 0, where: v .== masked)
            store(e, x + i)
            sumVector += e
            i += 8
        }
        var sum = sumVector.sum()
        while i < count {
            let e = x[i] == -.infinity ? 0 : FastExp.exp(x[i] - maximum)
            x[i] = e
            sum += e
            i += 1
        }
        scale(x, by: 1 / sum, count: count)
    }

    /// Returns the largest of `x[0..<count]`, or `-infinity` when `count` is 0.
    @inlinable
    public static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var best = Vector(repeating: -.infinity)
        var i = 0
        while i + 8 <= count {
            let v = load(x + i)
            best.replace(with: v, where: v .> best)
            i += 8
        }
        var result = best.max()
        while i < count {
            result = Swift.max(result, x[i])
            i += 1
        }
        return result
    }

    /// `x[i] *= factor`.
    @inlinable
    public static func scale(_ x: UnsafeMutablePointer<Float>, by factor: Float, count: Int) {
        let factorVector = Vector(repeating: factor)
        var i = 0
        while i + 8 <= count {
            store(load(x + i) * factorVector, x + i)
            i += 8
        }
        while i < count {
            x[i] *= factor
            i += 1
        }
    }

    /// `y[i] += x[i]`.
    @inlinable
    public static func add(_ x: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            store(load(y + i) + load(x + i), y + i)
            i += 8
        }
        while i < count {
            y[i] += x[i]
            i += 1
        }
    }

    /// SwiGLU activation in place: `gate[i] = silu(gate[i]) * up[i]`, with `silu(g) = g / (1 + e^-g)`.
    @inlinable
    public static func swiGLU(gate: UnsafeMutablePointer<Float>, up: UnsafePointer<Float>, count: Int) {
        let one = Vector(repeating: 1)
        var i = 0
        while i + 8 <= count {
            let g = load(gate + i)
            let sigmoid = one / (one + FastExp.exp(-g))
            store(g * sigmoid * load(up + i), gate + i)
            i += 8
        }
        while i < count {
            let g = gate[i]
            gate[i] = g / (1 + FastExp.exp(-g)) * up[i]
            i += 1
        }
    }

    /// Index of the largest element; the first one on ties. NaN entries are never chosen unless all are NaN.
    @inlinable
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
        var bestIndex = 0
        var best = -Float.infinity
        for i in 0..<count where x[i] > best {
            best = x[i]
            bestIndex = i
        }
        return bestIndex
    }
}
