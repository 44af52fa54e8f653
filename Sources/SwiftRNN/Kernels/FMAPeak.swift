// The FMA peak of one core: the ceiling for every GEMM-bound workload, measured rather than taken
// from a datasheet (a VM's clock, and whether AVX-512 runs on one or two units, vary by host).

import SwiftRNNVectorMath
#if SWIFTRNN_X86_KERNELS
import SwiftRNNAVX512
#endif

/// GFLOP/s (2 per multiply-add) that the calling thread's core sustains on register-resident FMA
/// chains with the vector width the GEMM kernels use (16 lanes on the AVX-512 path, else 8): the best of
/// several rounds of about `seconds` / 10 each. No GEMM can exceed it, so a workload's flops / this is a
/// lower bound on its time (benchmarks/compare.py reports the ratio to PyTorch that bound allows).
public func fmaPeakGFLOPS(seconds: Double = 0.1) -> Double {
    let lanes: Int
    let run: (Int) -> Float
    #if SWIFTRNN_X86_KERNELS
    if gemmUsesAVX512 {
        (lanes, run) = (16, { avx512FMAChains(iterations: $0) })
    } else {
        (lanes, run) = (8, { fmaChains8(iterations: $0) })
    }
    #else
    (lanes, run) = (8, { fmaChains8(iterations: $0) })
    #endif
    var sink: Float = 0
    var iterations = 1 << 12
    while true {  // rounds of at least seconds / 10
        let t0 = monotonicSeconds()
        sink += run(iterations)
        if monotonicSeconds() - t0 >= max(seconds, 1e-4) / 10 || iterations >= 1 << 40 { break }
        iterations *= 2
    }
    var best = Double.infinity
    let deadline = monotonicSeconds() + max(seconds, 1e-4)
    repeat {
        let t0 = monotonicSeconds()
        sink += run(iterations)
        best = min(best, monotonicSeconds() - t0)
    } while monotonicSeconds() < deadline
    withExtendedLifetime(sink) {}
    return Double(iterations * fmaChainCount * lanes * 2) / best / 1e9
}

/// `fmaChains` on 8-lane vectors (AVX2 + FMA on x86-64, this module's code generation).
@inline(never)
func fmaChains8(iterations: Int) -> Float { fmaChains(SIMD8<Float>.self, iterations: iterations) }
