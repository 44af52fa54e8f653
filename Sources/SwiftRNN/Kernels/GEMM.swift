/// C (m×n, row stride ldc) = (accumulate ? C : 0) + op(A) · op(B).
///
/// op(A) is m×k: A row-major with row stride `lda`, or, if `transA`, A is k×m (row stride `lda`)
/// and op(A) = Aᵀ. op(B) is k×n: if `transB`, B is n×k row-major (row stride `ldb`) and op(B) = Bᵀ
/// (the common case: weights are stored (out, in)); otherwise B is k×n row-major.
///
/// Every C[i][j] is reduced over k in one fixed order that depends on k only, never on m, on the
/// row's position or on the thread split: a sequence's result does not depend on the rest of its batch.
/// Sizes of zero are allowed (nothing is read; with `accumulate == false` C is zeroed).
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m {
        let ci = c + i * ldc
        for j in 0..<n {
            var s: Float = 0
            for p in 0..<k {
                let aip = transA ? a[p * lda + i] : a[i * lda + p]
                let bpj = transB ? b[j * ldb + p] : b[p * ldb + j]
                s = s.addingProduct(aip, bpj)
            }
            ci[j] = accumulate ? ci[j] + s : s
        }
    }
}
