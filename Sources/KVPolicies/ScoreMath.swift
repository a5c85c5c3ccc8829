import CBLAS
import TensorKernels

/// Numeric building blocks of the scorers: top-k, pooling, GQA group reduction, softmax and the BLAS product.
/// Everything runs in float32 on one thread in a fixed order, so results do not depend on the thread count.
enum ScoreMath {
    /// Indices of the `count` largest scores, in descending score order. Ties go to the lower index, and NaN
    /// ranks below every number.
    static func topIndices(_ scores: [Float], count: Int) -> [Int] {
        let count = min(max(count, 0), scores.count)
        if count == 0 { return [] }
        // One sort key per entry: the score mapped to an order-preserving integer and inverted so that larger
        // scores come first, with the index in the low bits to break ties toward the lower index.
        var keys = [UInt64](repeating: 0, count: scores.count)
        scores.withUnsafeBufferPointer { source in
            keys.withUnsafeMutableBufferPointer { target in
                for index in 0..<source.count {
                    target[index] = (UInt64(~orderedBits(source[index])) << 32) | UInt64(index)
                }
            }
        }
        if count < scores.count / 4 {
            partialSort(&keys, count: count)
        } else {
            keys.sort()
        }
        return (0..<count).map { Int(keys[$0] & 0xFFFF_FFFF) }
    }

    /// Maps a float to a UInt32 with the same order; NaN maps below negative infinity and -0 equals +0.
    @inline(__always)
    static func orderedBits(_ value: Float) -> UInt32 {
        if value.isNaN { return 0 }
        let bits = (value == 0 ? Float(0) : value).bitPattern
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    /// Moves the `count` smallest keys to the front, sorted, by a quickselect-partition followed by a sort.
    private static func partialSort(_ keys: inout [UInt64], count: Int) {
        keys.withUnsafeMutableBufferPointer { buffer in
            var low = 0
            var high = buffer.count - 1
            while low < high {
                // Median of three keeps sorted and reversed input linear on average.
                let middle = low + (high - low) / 2
                let a = buffer[low], b = buffer[middle], c = buffer[high]
                let pivot = max(min(a, b), min(max(a, b), c))
                var i = low
                var j = high
                while i <= j {
                    while buffer[i] < pivot { i += 1 }
                    while buffer[j] > pivot { j -= 1 }
                    if i <= j {
                        buffer.swapAt(i, j)
                        i += 1
                        j -= 1
                    }
                }
                if count - 1 <= j {
                    high = j
                } else if count - 1 >= i {
                    low = i
                } else {
                    break
                }
            }
            var front = UnsafeMutableBufferPointer(rebasing: buffer[0..<count])
            front.sort()
        }
    }

    /// 1-D pooling with stride 1 and padding kernel/2, so the output has the input's length for odd kernels.
    /// Average pooling divides by the full kernel at the edges (zero padding counts), as PyTorch's default does.
    static func pool(_ scores: [Float], kernel: Int, mode: Pooling) -> [Float] {
        let count = scores.count
        let half = kernel / 2
        if count == 0 || kernel <= 1 { return scores }
        var output = [Float](repeating: 0, count: count)
        scores.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { result in
                for index in 0..<count {
                    let first = max(0, index - half)
                    let last = min(count - 1, index + half)
                    switch mode {
                    case .maxpool:
                        var best = -Float.infinity
                        for j in first...last where input[j] > best { best = input[j] }
                        result[index] = best
                    case .avgpool:
                        var sum: Float = 0
                        for j in first...last { sum += input[j] }
                        result[index] = sum / Float(kernel)
                    }
                }
            }
        }
        return output
    }

    /// Reduces per-query-head rows to per-stored-head rows. In query_head granularity the rows pass through;
    /// in kv_head granularity query head h belongs to KV head h / groupSize.
    static func reduceGroups(_ perQueryHead: [[Float]], cache: LayerCache, aggregation: GroupAggregation) -> [[Float]] {
        guard cache.granularity == .kvHead, cache.groupSize > 1 else { return perQueryHead }
        let group = cache.groupSize
        return (0..<cache.kvHeads).map { kvHead in
            var reduced = perQueryHead[kvHead * group]
            for member in 1..<group {
                let row = perQueryHead[kvHead * group + member]
                for index in reduced.indices {
                    switch aggregation {
                    case .mean, .sum: reduced[index] += row[index]
                    case .max: reduced[index] = max(reduced[index], row[index])
                    }
                }
            }
            if aggregation == .mean {
                let scale = Float(group)
                for index in reduced.indices { reduced[index] /= scale }
            }
            return reduced
        }
    }

    /// C[m, n] = alpha * A[m, k] * B[n, k]^T with row-major operands (BLAS sgemm).
    @inline(__always)
    static func multiplyTransposed(m: Int, n: Int, k: Int, alpha: Float,
                                   a: UnsafePointer<Float>, lda: Int,
                                   b: UnsafePointer<Float>, ldb: Int,
                                   c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), alpha,
                    a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
    }

    /// Replaces `row[0..<count]` by its softmax. Returns nothing; an empty row is left alone.
    static func softmaxInPlace(_ row: UnsafeMutablePointer<Float>, count: Int) {
        if count == 0 { return }
        var maximum = -Float.infinity
        for index in 0..<count where row[index] > maximum { maximum = row[index] }
        if maximum == -.infinity {
            // Every logit is -inf (no visible key); a zero row keeps the scores finite.
            row.update(repeating: 0, count: count)
            return
        }
        let sum = exponentiateShifted(row, count: count, shift: maximum)
        let scale = 1 / sum
        for index in 0..<count { row[index] *= scale }
    }

    /// Adds the softmax of `logits[0..<count]` to `target[0..<count]`; the logits are overwritten by their
    /// exponentials. The logits must be finite. H2O runs this on every row of the causal n x n matrix, so it uses
    /// explicit 8-lane vectors and `FastExp` (about 2 ulp) rather than relying on the compiler to vectorize.
    static func accumulateSoftmax(_ logits: UnsafeMutablePointer<Float>, count: Int, into target: UnsafeMutablePointer<Float>) {
        if count == 0 { return }
        let maximum = VectorOps.maximum(logits, count: count)
        let shift = SIMD8<Float>(repeating: -maximum)
        var lanes = SIMD8<Float>(repeating: 0)
        var index = 0
        while index + 8 <= count {
            let exponentials = FastExp.exp(loadVector(logits + index) + shift)
            storeVector(exponentials, logits + index)
            lanes += exponentials
            index += 8
        }
        var sum = lanes.sum()
        while index < count {
            logits[index] = FastExp.exp(logits[index] - maximum)
            sum += logits[index]
            index += 1
        }

        let scale = 1 / sum
        let scaleVector = SIMD8<Float>(repeating: scale)
        index = 0
        while index + 8 <= count {
            storeVector(loadVector(target + index) + loadVector(logits + index) * scaleVector, target + index)
            index += 8
        }
        while index < count {
            target[index] += logits[index] * scale
            index += 1
        }
    }

    @inline(__always)
    private static func loadVector(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    private static func storeVector(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
    }

    /// Replaces each x by exp(x - shift) and returns the sum, accumulated in 8 lanes and then across lanes.
    @inline(__always)
    static func exponentiateShifted(_ row: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        // A branch-free loop that the compiler vectorizes; the sum runs separately in a fixed lane order.
        for index in 0..<count { row[index] = exp(row[index] - shift) }
        var lanes = SIMD8<Float>(repeating: 0)
        let raw = UnsafeRawPointer(row)
        var index = 0
        while index + 8 <= count {
            lanes += raw.loadUnaligned(fromByteOffset: index * 4, as: SIMD8<Float>.self)
            index += 8
        }
        var sum = lanes.sum()
        while index < count {
            sum += row[index]
            index += 1
        }
        return sum
    }

    /// exp(x) by Cody-Waite range reduction to r in [-ln2/2, ln2/2] and a degree-6 polynomial (the Cephes expf
    /// coefficients); relative error about 2e-7. Inputs below -87.3, including -inf, give 0, and NaN gives about
    /// 1e-38 rather than trapping.
    @inline(__always)
    static func exp(_ input: Float) -> Float {
        // Written without calls or branches so that the loops around it vectorize with baseline SSE2.
        let x = input >= -87.3 ? min(input, 88.3) : -87.3
        // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer without a floor instruction.
        let magic: Float = 12_582_912
        let n = (x * 1.442_695_04 + magic) - magic
        var r = x - n * 0.693_359_375
        r = r + n * 2.121_944_4e-4
        let r2 = r * r
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_6e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_1e-1
        let y = p * r2 + r + 1
        let scale = Float(bitPattern: UInt32(bitPattern: Int32(n) &+ 127) &<< 23)
        return input < -87.3 ? 0 : y * scale
    }
}
