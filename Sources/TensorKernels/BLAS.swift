import CBLAS

/// Row-major matrix products on OpenBLAS, with leading dimensions in floats.
///
/// Weight matrices are stored as `[outputs, inputs]` rows, as in GGUF and PyTorch, so a linear layer over a
/// batch of activation rows is `Y = X * W^T`.
public enum BLAS {
    /// `C[m, n] = alpha * A[m, k] * B[n, k]^T + beta * C`.
    @inlinable
    public static func gemmTransposedB(m: Int, n: Int, k: Int, alpha: Float = 1,
                                       a: UnsafePointer<Float>, lda: Int,
                                       b: UnsafePointer<Float>, ldb: Int,
                                       beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `C[m, n] = alpha * A[m, k] * B[k, n] + beta * C`.
    @inlinable
    public static func gemm(m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// `y[m] = alpha * A[m, n] * x + beta * y`.
    @inlinable
    public static func gemv(m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        guard m > 0 else { return }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
    }

    /// `y[n] = alpha * A[m, n]^T * x + beta * y`.
    @inlinable
    public static func gemvTransposed(m: Int, n: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                                      x: UnsafePointer<Float>, beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        guard n > 0 else { return }
        if m == 0 {
            for i in 0..<n { y[i] = beta == 0 ? 0 : beta * y[i] }
            return
        }
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(m), Int32(n), alpha, a, Int32(lda), x, 1, beta, y, 1)
    }
}
