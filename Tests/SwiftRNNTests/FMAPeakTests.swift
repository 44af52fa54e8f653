import Testing
@testable import SwiftRNN
import SwiftRNNVectorMath
#if SWIFTRNN_X86_KERNELS
import SwiftRNNAVX512
#endif

/// The FMA-peak probe that benchmarks/compare.py and `python -m swiftrnn info` report.
@Suite struct FMAPeakTests {
    /// The chains' value by scalar fused multiply-adds: every lane of chain i runs a ← a·b + c from 0.01·i.
    private static func expected(lanes: Int, iterations: Int) -> Double {
        var total = 0.0
        for i in 0..<fmaChainCount {
            var a = Float(i) * 0.01
            for _ in 0..<iterations { a = Float(1e-6).addingProduct(a, 0.999_999) }
            total += Double(a) * Double(lanes)
        }
        return total
    }

    @Test("fmaChains runs every chain for every iteration (8 and, where available, 16 lanes)")
    func chainsCompute() {
        for iterations in [0, 1, 1000, 4097] {
            let want = Self.expected(lanes: 8, iterations: iterations)
            let got = Double(fmaChains(SIMD8<Float>.self, iterations: iterations))
            #expect(abs(got - want) <= 1e-6 * abs(want), "8 lanes, \(iterations) iterations: \(got) vs \(want)")
            #if SWIFTRNN_X86_KERNELS
            if cpuHasAVX512 {
                let want16 = Self.expected(lanes: 16, iterations: iterations)
                let got16 = Double(avx512FMAChains(iterations: iterations))
                #expect(abs(got16 - want16) <= 1e-6 * abs(want16), "16 lanes: \(got16) vs \(want16)")
            }
            #endif
        }
    }

    @Test("fmaPeakGFLOPS returns a positive, finite rate, even for a tiny time budget")
    func peakIsARate() {
        for seconds in [0.0, 1e-4, 0.01] {
            let peak = fmaPeakGFLOPS(seconds: seconds)
            #expect(peak.isFinite && peak > 0, "\(seconds) s: \(peak)")
        }
    }
}
