// Backward of Linear: y = x · Wᵀ + b.

/// Backward of `linearForward`: x is (m, inFeatures), gradOut (m, outFeatures), weight
/// (outFeatures, inFeatures). Accumulates (+=), skipping nil buffers:
///   gradX (m, inFeatures)            += gradOut · W
///   gradWeight (outFeatures, inFeatures) += gradOutᵀ · x      (one GEMM over all m rows)
///   gradBias (outFeatures)           += Σ_rows gradOut          (summed in row order, in double)
/// Each row of gradX depends only on its own row of gradOut.
public func linearBackward(x: UnsafePointer<Float>, gradOut: UnsafePointer<Float>, m: Int, inFeatures: Int,
                           weight: UnsafePointer<Float>, outFeatures: Int,
                           gradX: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
                           gradBias: UnsafeMutablePointer<Float>?) {
    if let gradX {
        sgemm(transA: false, transB: false, m: m, n: inFeatures, k: outFeatures, a: gradOut, lda: outFeatures,
              b: weight, ldb: inFeatures, accumulate: true, c: gradX, ldc: inFeatures)
    }
    if let gradWeight {
        sgemm(transA: true, transB: false, m: outFeatures, n: inFeatures, k: m, a: gradOut, lda: outFeatures,
              b: x, ldb: inFeatures, accumulate: true, c: gradWeight, ldc: inFeatures)
    }
    if let gradBias, outFeatures > 0 {
        var sums = [Float](repeating: 0, count: outFeatures)
        sums.withUnsafeMutableBufferPointer { s in
            columnSums(gradOut, rows: m, columns: outFeatures, into: s.baseAddress!)
            for j in 0..<outFeatures { gradBias[j] += s[j] }
        }
    }
}
