// The few-rows GEMM's inner loop over a weight read in place (SwiftRNN's `sgemmFewRowsTransB`).
#include "swiftrnn_math.h"

typedef float srnn_float4 __attribute__((ext_vector_type(4)));

/// c[s] lane t = W[t][s] for the 8×8 block of rows t at w + t·ld (ld3 = 3·ld): as `srnn_transpose8x8` over the
/// loaded rows, with the 128-bit halves exchanged by the loads (row t's and row t + 4's halves in one register)
/// instead of by eight cross-lane shuffles: 16 in-lane shuffles. The rows are addressed from two bases as
/// base + {0, 1, 2, 3}·ld (x86's scaled index), so two blocks need 4 pointers, not 16 (which spilled).
static inline __attribute__((always_inline)) void load_transposed8x8(const float *w, long ld, long ld3,
                                                                      srnn_float8 c[8]) {
    const float *w4 = w + 4 * ld;
#pragma clang loop unroll(full)
    for (int h = 0; h < 2; h++) {  /* k steps 4h ..< 4h + 4 */
        srnn_float8 r[4];
#pragma clang loop unroll(full)
        for (int t = 0; t < 4; t++) {
            const long o = (t == 3 ? ld3 : t * ld) + 4 * h;
            srnn_float4 lo, hi;
            __builtin_memcpy(&lo, w + o, sizeof(lo));
            __builtin_memcpy(&hi, w4 + o, sizeof(hi));
            r[t] = __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7);
        }
        srnn_float8 t0 = __builtin_shufflevector(r[0], r[1], 0, 8, 1, 9, 4, 12, 5, 13);
        srnn_float8 t1 = __builtin_shufflevector(r[0], r[1], 2, 10, 3, 11, 6, 14, 7, 15);
        srnn_float8 t2 = __builtin_shufflevector(r[2], r[3], 0, 8, 1, 9, 4, 12, 5, 13);
        srnn_float8 t3 = __builtin_shufflevector(r[2], r[3], 2, 10, 3, 11, 6, 14, 7, 15);
        c[4 * h + 0] = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
        c[4 * h + 1] = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
        c[4 * h + 2] = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
        c[4 * h + 3] = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    }
}

/// `srnn_fewrows` for constant m and blocks. Each 8×8 block of W is transposed in registers as it is loaded.
/// Two blocks side by side give one row of x two independent chains: one block's eight dependent FMAs per
/// 8×8 block held a row to the FMA latency (~2 floats of W a cycle; two blocks ~4, what the shuffles allow;
/// four blocks ran slower: the sixteen ymm registers spill).
static inline __attribute__((always_inline)) void fewrows_columns8(const float *w, long ldw, long k8, const float *x,
                                                                    long rs, long cs, int m, int blocks,
                                                                    float *acc) {
    srnn_float8 a[4];
#pragma clang loop unroll(full)
    for (int q = 0; q < 4; q++) __builtin_memcpy(&a[q], acc + 8 * q, sizeof(srnn_float8));
    const long ld3 = 3 * ldw;
    const float *w8 = w + 8 * ldw;
    for (long p = 0; p < k8; p += 8) {
        const float *x0 = x + p * cs;
        const float *wp = w + p, *w8p = w8 + p;
#pragma clang loop unroll(full)
        for (int b = 0; b < blocks; b++) {
            srnn_float8 c[8];  /* c[s] lane t = W[8b + t][p + s] */
            load_transposed8x8(b == 0 ? wp : w8p, ldw, ld3, c);
#pragma clang loop unroll(full)
            for (int i = 0; i < m; i++) {
#pragma clang loop unroll(full)
                for (int s = 0; s < 8; s++)
                    a[b * m + i] = __builtin_elementwise_fma((srnn_float8)(x0[i * rs + s * cs]), c[s], a[b * m + i]);
            }
        }
    }
#pragma clang loop unroll(full)
    for (int q = 0; q < 4; q++) __builtin_memcpy(acc + 8 * q, &a[q], sizeof(srnn_float8));
}

void srnn_fewrows(const float *w, long ldw, long k8, const float *x, long rs, long cs, int m, int blocks,
                  float *acc) {
    // Each combination compiles to its own straight-line loop (registers chosen at compile time); x's k steps
    // one float apart (cs = 1, row-major x) spare the registers a stride takes (the 16 row pointers of two
    // blocks already spill).
    if (cs == 1 && m * 8 + blocks == 1 * 8 + 2) { fewrows_columns8(w, ldw, k8, x, rs, 1, 1, 2, acc); return; }
    if (cs == 1 && m * 8 + blocks == 2 * 8 + 2) { fewrows_columns8(w, ldw, k8, x, rs, 1, 2, 2, acc); return; }
    switch (m * 8 + blocks) {
    case 1 * 8 + 2: fewrows_columns8(w, ldw, k8, x, rs, cs, 1, 2, acc); break;
    case 2 * 8 + 2: fewrows_columns8(w, ldw, k8, x, rs, cs, 2, 2, acc); break;
    case 1 * 8 + 1: fewrows_columns8(w, ldw, k8, x, rs, cs, 1, 1, acc); break;
    case 2 * 8 + 1: fewrows_columns8(w, ldw, k8, x, rs, cs, 2, 1, acc); break;
    case 3 * 8 + 1: fewrows_columns8(w, ldw, k8, x, rs, cs, 3, 1, acc); break;
    default: fewrows_columns8(w, ldw, k8, x, rs, cs, 4, 1, acc); break;
    }
}
