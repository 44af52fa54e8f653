// Runtime CPU feature detection for the kernels' dispatch (internal to the package).
#ifndef SWIFTRNN_CPU_H
#define SWIFTRNN_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

/// 1 if the CPU and OS support AVX-512 F, VL, BW and DQ (zmm state enabled in XCR0), else 0.
int srnn_cpu_has_avx512(void);

/// 1 if the CPU and OS support AVX2 and FMA, else 0.
int srnn_cpu_has_avx2_fma(void);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTRNN_CPU_H */
