import Testing
@testable import SwiftRNN

/// The vectorised helpers of the training code against their scalar definitions, bit for bit.
@Suite struct TrainingKernelTests {
    @Test func lanewiseSquareRootIsSqrtfLaneByLane() {
        var r = TestRandom(state: 7)
        var values: [Float] = [0, -0, 1, 2, .infinity, -1, .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                               .leastNormalMagnitude, 1e-30, 3e38]
        for _ in 0..<4000 { values.append(abs(r.next(1000))) }
        while values.count % 8 != 0 { values.append(4) }
        for i in stride(from: 0, to: values.count, by: 8) {
            let v = SIMD8<Float>((0..<8).map { values[i + $0] })
            let s = lanewiseSquareRoot(v)
            for t in 0..<8 {
                let want = v[t].squareRoot()
                #expect(s[t].bitPattern == want.bitPattern || (s[t].isNaN && want.isNaN), "sqrt(\(v[t]))")
            }
        }
    }

    @Test(arguments: [Nonlinearity.tanh, .relu], [1, 7, 8, 9, 31, 256, 1000])
    func activationBackwardMatchesTheScalarFormula(_ act: Nonlinearity, _ n: Int) {
        var r = TestRandom(state: UInt64(n) &* 31 &+ (act == .tanh ? 1 : 2))
        var y = (0..<n).map { _ in r.next(1) }
        if n > 3 { y[1] = 0; y[2] = -0.0; y[3] = .nan }
        let g = (0..<n).map { _ in r.next(5) }
        var out = g
        y.withUnsafeBufferPointer { yp in
            out.withUnsafeMutableBufferPointer { op in
                activationBackward(act, grad: op.baseAddress!, output: yp.baseAddress!, count: n)
            }
        }
        for i in 0..<n {
            let want: Float
            switch act {
            case .tanh: want = g[i] * (1 - y[i] * y[i])
            case .relu: want = y[i] <= 0 ? 0 : g[i]
            }
            #expect(out[i].bitPattern == want.bitPattern || (out[i].isNaN && want.isNaN), "element \(i)")
        }
    }
}
