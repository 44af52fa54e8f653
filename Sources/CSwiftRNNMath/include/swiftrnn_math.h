// Vector code that Swift's SIMD types do not lower well (internal to the package; header only).
#ifndef SWIFTRNN_MATH_H
#define SWIFTRNN_MATH_H

typedef float srnn_float8 __attribute__((ext_vector_type(8)));

/// The correctly rounded square root of each lane (IEEE sqrt: the same bits as sqrtf), as one vector
/// instruction (vsqrtps). Swift's `SIMD8<Float>.squareRoot()` becomes eight scalar square roots, each
/// with a branch to libm's sqrtf for negative inputs.
static inline __attribute__((always_inline)) srnn_float8 srnn_sqrt8(srnn_float8 x) {
    return __builtin_elementwise_sqrt(x);
}

/// The transpose of the 8×8 block whose rows are r[0..<8]: c[s] lane t = r[t] lane s. 24 shuffles
/// (unpack pairs of rows, then pairs of pairs, then the 128-bit halves), written with clang's vector
/// builtins because the same code in Swift SIMD is partly scalarised by the optimiser.
static inline __attribute__((always_inline)) void srnn_transpose8x8(const srnn_float8 r[8], srnn_float8 c[8]) {
    srnn_float8 t0 = __builtin_shufflevector(r[0], r[1], 0, 8, 1, 9, 4, 12, 5, 13);
    srnn_float8 t1 = __builtin_shufflevector(r[0], r[1], 2, 10, 3, 11, 6, 14, 7, 15);
    srnn_float8 t2 = __builtin_shufflevector(r[2], r[3], 0, 8, 1, 9, 4, 12, 5, 13);
    srnn_float8 t3 = __builtin_shufflevector(r[2], r[3], 2, 10, 3, 11, 6, 14, 7, 15);
    srnn_float8 t4 = __builtin_shufflevector(r[4], r[5], 0, 8, 1, 9, 4, 12, 5, 13);
    srnn_float8 t5 = __builtin_shufflevector(r[4], r[5], 2, 10, 3, 11, 6, 14, 7, 15);
    srnn_float8 t6 = __builtin_shufflevector(r[6], r[7], 0, 8, 1, 9, 4, 12, 5, 13);
    srnn_float8 t7 = __builtin_shufflevector(r[6], r[7], 2, 10, 3, 11, 6, 14, 7, 15);
    srnn_float8 u0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    srnn_float8 u1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    srnn_float8 u2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    srnn_float8 u3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    srnn_float8 u4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
    srnn_float8 u5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    srnn_float8 u6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
    srnn_float8 u7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    c[0] = __builtin_shufflevector(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11);
    c[1] = __builtin_shufflevector(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11);
    c[2] = __builtin_shufflevector(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11);
    c[3] = __builtin_shufflevector(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11);
    c[4] = __builtin_shufflevector(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15);
    c[5] = __builtin_shufflevector(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15);
    c[6] = __builtin_shufflevector(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15);
    c[7] = __builtin_shufflevector(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15);
}

/// Packs 16 columns of op(B) stored as 16 rows of a transposed B (row c at src + c·ld, contiguous in k)
/// for k steps 0..<k8 (a multiple of 8): out[p·16 + c] = src[c·ld + p] (GEMM.swift's `packTransposed16`).
static inline __attribute__((always_inline)) void srnn_pack_transposed16(long k8, const float *src, long ld,
                                                                          float *out) {
    for (long p = 0; p < k8; p += 8) {
        for (int half = 0; half < 2; half++) {
            srnn_float8 r[8], c[8];
            for (int t = 0; t < 8; t++) __builtin_memcpy(&r[t], src + (half * 8 + t) * ld + p, sizeof(srnn_float8));
            srnn_transpose8x8(r, c);
            for (int s = 0; s < 8; s++) __builtin_memcpy(out + (p + s) * 16 + half * 8, &c[s], sizeof(srnn_float8));
        }
    }
}

/// Packs six rows of a row-major op(A) (row r at src + r·ld) for k steps 0..<k8 (a multiple of 8) into a
/// 6-row micro-panel: out[p·6 + r] = src[r·ld + p] (GEMM.swift's `packABlock`). Each 6×8 block goes through
/// the 8×8 transpose with two zero rows; only out[0..<6·k8] is written.
static inline __attribute__((always_inline)) void srnn_pack_rows6(long k8, const float *src, long ld, float *out) {
    for (long p = 0; p < k8; p += 8) {
        srnn_float8 r[8], c[8];
        for (int t = 0; t < 6; t++) __builtin_memcpy(&r[t], src + t * ld + p, sizeof(srnn_float8));
        r[6] = (srnn_float8)(0.0f);
        r[7] = (srnn_float8)(0.0f);
        srnn_transpose8x8(r, c);
        float *o = out + p * 6;
        // Eight floats per store, each overlapping the next store's first two, then six for the last.
        for (int s = 0; s < 7; s++) __builtin_memcpy(o + s * 6, &c[s], sizeof(srnn_float8));
        __builtin_memcpy(o + 42, &c[7], 6 * sizeof(float));
    }
}

/// For a weight W read in place by a GEMM of up to four rows (SwiftRNN's `sgemmFewRowsTransB`): over k steps
/// 0..<k8 (a multiple of 8), acc[b·m + i] lane t += x_i[p]·W[8b + t][p] for `blocks` blocks of 8 rows of W
/// (row r at w + r·ldw), one FMA per k step in increasing order, for rows i < m of x (x_i[p] at x + i·rs + p·cs);
/// m·blocks ≤ 4, blocks ≤ 2; acc: 4 × 8 floats, any alignment (Swift's are 16-byte aligned). Compiled C (fewrows.c), not an inline function: imported into Swift, clang's
/// unrolled loops came out rolled, with the transposed blocks on the stack (1.7x slower).
void srnn_fewrows(const float *w, long ldw, long k8, const float *x, long rs, long cs, int m, int blocks,
                  float *acc);

#endif /* SWIFTRNN_MATH_H */
