import Testing
@testable import SwiftRNN
import SwiftRNNVectorMath

/// The FMA-peak probe that benchmarks/compare.py and `python -m swiftrnn info` report.
@Suite struct FMAPeakTests {
    /// The chains' value by scalar fused multiply-adds: every lane of chain i runs a ← a·b + c from 0.01·i.
    static func expected(lanes: Int, iterations: Int) -> Double {
        var total = 0.0
        for i in 0..<fmaChainCount {
            var a = Float(i) * 0.01
            for _ in 0..<iterations { a = Float(1e-6).addingProduct(a, 0.999_999) }
            total += Double(a) * Double(lanes)
        }
        return total
    }

    @Test("fmaChains runs every chain for every iteration (8 lanes; AVX512Tests checks 16)")
    func chainsCompute() {
        for iterations in [0, 1, 1000, 4097] {
            let want = Self.expected(lanes: 8, iterations: iterations)
            let got = Double(fmaChains(SIMD8<Float>.self, iterations: iterations))
            #expect(abs(got - want) <= 1e-6 * abs(want), "8 lanes, \(iterations) iterations: \(got) vs \(want)")
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
