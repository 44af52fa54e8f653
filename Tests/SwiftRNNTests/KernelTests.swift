import Testing
@testable import SwiftRNN

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Helpers

/// Deterministic values in [-1, 1) (xorshift).
private func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return Float(s >> 40) / Float(1 << 23) - 1
    }
}

/// A GEMM problem with strided storage: every operand row has `pad` unused floats after it.
private struct GEMMProblem {
    let transA: Bool, transB: Bool, m: Int, n: Int, k: Int, pad: Int
    var a: [Float], b: [Float], c: [Float]
    var lda: Int { (transA ? m : k) + pad }
    var ldb: Int { (transB ? k : n) + pad }
    var ldc: Int { n + pad }

    init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, pad: Int = 0, seed: UInt64 = 1) {
        self.transA = transA; self.transB = transB; self.m = m; self.n = n; self.k = k; self.pad = pad
        a = []; b = []; c = []
        a = randomFloats(max(1, (transA ? k : m) * lda), seed: seed)
        b = randomFloats(max(1, (transB ? n : k) * ldb), seed: seed + 1)
        c = randomFloats(max(1, m * ldc), seed: seed + 2)
    }

    func opA(_ i: Int, _ p: Int) -> Float { transA ? a[p * lda + i] : a[i * lda + p] }
    func opB(_ p: Int, _ j: Int) -> Float { transB ? b[j * ldb + p] : b[p * ldb + j] }

    /// Runs `sgemm` on a copy of c.
    func run(accumulate: Bool, bias: [Float]? = nil, activation: GEMMActivation = .identity) -> [Float] {
        var out = c
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { out in
                    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a.baseAddress!, lda: lda,
                          b: b.baseAddress!, ldb: ldb, accumulate: accumulate, c: out.baseAddress!, ldc: ldc,
                          bias: bias, activation: activation)
                }
            }
        }
        return out
    }

    /// Runs `packB` + `sgemmPacked` on a copy of c.
    func runPacked(accumulate: Bool, bias: [Float]? = nil, activation: GEMMActivation = .identity) -> [Float] {
        var out = c
        var packed = [Float](repeating: .nan, count: max(1, packedBCount(k: k, n: n)))
        b.withUnsafeBufferPointer { b in
            packed.withUnsafeMutableBufferPointer { p in
                packB(transB: transB, k: k, n: n, b: b.baseAddress!, ldb: ldb, into: p.baseAddress!)
            }
        }
        a.withUnsafeBufferPointer { a in
            packed.withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer { out in
                    sgemmPacked(transA: transA, m: m, n: n, k: k, a: a.baseAddress!, lda: lda, packedB: p.baseAddress!,
                                accumulate: accumulate, c: out.baseAddress!, ldc: ldc, bias: bias, activation: activation)
                }
            }
        }
        return out
    }

    /// The documented reduction: one FMA chain per element, in increasing k, from C or +0.
    func chain(_ i: Int, _ j: Int, accumulate: Bool) -> Float {
        var acc: Float = accumulate ? c[i * ldc + j] : 0
        for p in 0..<k { acc = acc.addingProduct(opA(i, p), opB(p, j)) }
        return acc
    }
}

private let transFlags: [(Bool, Bool)] = [(false, false), (false, true), (true, false), (true, true)]

// MARK: - SGEMM

@Suite struct SGEMMTests {
    static let shapes: [(Int, Int, Int)] = [
        (0, 0, 0), (0, 5, 3), (4, 0, 3), (3, 5, 0), (1, 1, 1), (1, 4, 4), (2, 3, 5), (5, 7, 9), (6, 16, 8),
        (7, 17, 33), (13, 40, 29), (1, 100, 70), (3, 48, 64), (12, 31, 130), (32, 256, 128), (37, 129, 300),
        (130, 20, 17), (121, 33, 260), (64, 64, 600),
    ]

    @Test("sgemm matches a double-precision reference and leaves padding alone", arguments: shapes)
    func matchesDoubleReference(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        for (transA, transB) in transFlags {
            for pad in [0, 3] {
                let problem = GEMMProblem(transA: transA, transB: transB, m: m, n: n, k: k, pad: pad,
                                          seed: UInt64(m * 7919 + n * 31 + k))
                for accumulate in [false, true] {
                    let out = problem.run(accumulate: accumulate)
                    let packed = problem.runPacked(accumulate: accumulate)
                    var worst = 0.0
                    for i in 0..<m {
                        for j in 0..<n {
                            var ref = accumulate ? Double(problem.c[i * problem.ldc + j]) : 0
                            var magnitude = abs(ref)
                            for p in 0..<k {
                                let prod = Double(problem.opA(i, p)) * Double(problem.opB(p, j))
                                ref += prod
                                magnitude += abs(prod)
                            }
                            let err = abs(Double(out[i * problem.ldc + j]) - ref) / (magnitude + 1e-30)
                            worst = max(worst, err)
                        }
                        for j in n..<problem.ldc {
                            #expect(out[i * problem.ldc + j].bitPattern == problem.c[i * problem.ldc + j].bitPattern)
                        }
                    }
                    #expect(worst <= Double(k + 1) * 1.2e-7,
                            "m=\(m) n=\(n) k=\(k) transA=\(transA) transB=\(transB) acc=\(accumulate): rel err \(worst)")
                    #expect(out.map(\.bitPattern) == packed.map(\.bitPattern), "packed path differs")
                }
            }
        }
    }

    @Test("every element is the documented FMA chain, bit for bit", arguments: [
        (1, 4, 4), (5, 37, 19), (6, 16, 256), (11, 50, 300), (40, 70, 9), (3, 200, 513),
        (1, 9, 300), (4, 23, 7), (2, 64, 17),  // few rows: W read in place when transposed
        (1, 45, 300), (2, 40, 77), (1, 16, 8), (3, 24, 64),  // one or two rows: two blocks of W side by side, tails
    ])
    func isTheDocumentedChain(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        for (transA, transB) in transFlags {
            let problem = GEMMProblem(transA: transA, transB: transB, m: m, n: n, k: k, pad: 1, seed: 9)
            for accumulate in [false, true] {
                let out = problem.run(accumulate: accumulate)
                for i in 0..<m {
                    for j in 0..<n {
                        #expect(out[i * problem.ldc + j].bitPattern == problem.chain(i, j, accumulate: accumulate).bitPattern)
                    }
                }
            }
        }
    }

    @Test("a bias row starts the chains: bit for bit a bias-filled C with accumulate", arguments: [
        (1, 4, 4), (3, 37, 20), (7, 64, 600), (40, 100, 33), (70, 256, 128), (2, 8, 0),
    ])
    func biasRow(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let bias = randomFloats(n, seed: 77)
        for (transA, transB) in transFlags {
            var problem = GEMMProblem(transA: transA, transB: transB, m: m, n: n, k: k, pad: 1, seed: 31)
            let original = problem.c
            // Reference 1: fill C's rows with the bias, then accumulate.
            for i in 0..<m { for j in 0..<n { problem.c[i * problem.ldc + j] = bias[j] } }
            let filled = problem.run(accumulate: true)
            problem.c = original
            for accumulate in [false, true] {
                let withBias = problem.run(accumulate: accumulate, bias: bias)
                let withBiasPacked = problem.runPacked(accumulate: accumulate, bias: bias)
                #expect(withBias.map(\.bitPattern) == withBiasPacked.map(\.bitPattern))
                for i in 0..<m {
                    for j in 0..<n {
                        let got = withBias[i * problem.ldc + j]
                        if accumulate {
                            // Reference 2: the chain from C + bias.
                            var acc = problem.c[i * problem.ldc + j] + bias[j]
                            for p in 0..<k { acc = acc.addingProduct(problem.opA(i, p), problem.opB(p, j)) }
                            #expect(got.bitPattern == acc.bitPattern)
                        } else {
                            #expect(got.bitPattern == filled[i * problem.ldc + j].bitPattern)
                        }
                    }
                }
            }
        }
    }

    @Test("k == 0 zeroes C unless accumulating")
    func emptyReduction() {
        var c: [Float] = [1, 2, 3, 4, 5, 6]
        let a: [Float] = [0], b: [Float] = [0]
        sgemm(transA: false, transB: true, m: 2, n: 2, k: 0, a: a, lda: 0, b: b, ldb: 0,
              accumulate: true, c: &c, ldc: 3)
        #expect(c == [1, 2, 3, 4, 5, 6])
        sgemm(transA: false, transB: true, m: 2, n: 2, k: 0, a: a, lda: 0, b: b, ldb: 0,
              accumulate: false, c: &c, ldc: 3)
        #expect(c == [0, 0, 3, 0, 0, 6])
    }

    /// A row's result must not depend on the batch around it: compute rows alone, then inside
    /// batches of many sizes at many positions, and require identical bits.
    @Test("batch invariance: a row alone equals the same row inside any batch", arguments: [
        (4, 4), (16, 16), (37, 19), (128, 128), (256, 300), (100, 513),
    ])
    func batchInvariance(nk: (Int, Int)) {
        let (n, k) = nk
        let maxM = 67
        for (transA, transB) in transFlags {
            // One big problem; sub-batches are windows of its rows (transA: columns of A).
            let big = GEMMProblem(transA: transA, transB: transB, m: maxM, n: n, k: k, pad: 0, seed: 5)
            let alone: [[Float]] = (0..<maxM).map { i in rows(big, from: i, count: 1, accumulate: true)[0] }
            for m in [2, 3, 5, 6, 7, 11, 12, 13, 16, 17, 24, 31, 32, 33, 64, 67] {
                for start in Set([0, 1, maxM - m, (maxM - m) / 2]) where start + m <= maxM {
                    let batch = rows(big, from: start, count: m, accumulate: true)
                    for r in 0..<m {
                        #expect(batch[r].map(\.bitPattern) == alone[start + r].map(\.bitPattern),
                                "n=\(n) k=\(k) transA=\(transA) transB=\(transB) m=\(m) start=\(start) row=\(r)")
                    }
                }
            }
        }
    }

    /// Rows start..<start+count of op(A)·op(B) (+C), computed as a GEMM of `count` rows, per-call and packed.
    private func rows(_ p: GEMMProblem, from start: Int, count: Int, accumulate: Bool) -> [[Float]] {
        var c = Array(p.c[(start * p.ldc)..<((start + count) * p.ldc)])
        var c2 = c
        var packed = [Float](repeating: 0, count: max(1, packedBCount(k: p.k, n: p.n)))
        p.a.withUnsafeBufferPointer { a in
            p.b.withUnsafeBufferPointer { b in
                let aStart = a.baseAddress! + (p.transA ? start : start * p.lda)
                c.withUnsafeMutableBufferPointer { c in
                    sgemm(transA: p.transA, transB: p.transB, m: count, n: p.n, k: p.k, a: aStart, lda: p.lda,
                          b: b.baseAddress!, ldb: p.ldb, accumulate: accumulate, c: c.baseAddress!, ldc: p.ldc)
                }
                packed.withUnsafeMutableBufferPointer { q in
                    packB(transB: p.transB, k: p.k, n: p.n, b: b.baseAddress!, ldb: p.ldb, into: q.baseAddress!)
                }
                packed.withUnsafeBufferPointer { q in
                    c2.withUnsafeMutableBufferPointer { c2 in
                        sgemmPacked(transA: p.transA, m: count, n: p.n, k: p.k, a: aStart, lda: p.lda,
                                    packedB: q.baseAddress!, accumulate: accumulate, c: c2.baseAddress!, ldc: p.ldc)
                    }
                }
            }
        }
        #expect(c.map(\.bitPattern) == c2.map(\.bitPattern), "packed and per-call sgemm differ")
        return (0..<count).map { Array(c[($0 * p.ldc)..<($0 * p.ldc + p.n)]) }
    }

    @Test("thread count does not change a bit (1 vs 2 vs 3 threads)", arguments: [
        (600, 512, 256), (64, 512, 512), (5, 1000, 700), (200, 100, 300), (1, 2000, 600), (4, 1000, 700),
    ])
    func threadInvariance(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        let saved = getNumThreads()
        defer { setNumThreads(saved) }
        for (transA, transB) in transFlags {
            let problem = GEMMProblem(transA: transA, transB: transB, m: m, n: n, k: k, pad: 2, seed: 11)
            setNumThreads(1)
            let one = problem.run(accumulate: true), onePacked = problem.runPacked(accumulate: true)
            for threads in [2, 3] {
                setNumThreads(threads)
                #expect(problem.run(accumulate: true).map(\.bitPattern) == one.map(\.bitPattern))
                #expect(problem.runPacked(accumulate: true).map(\.bitPattern) == onePacked.map(\.bitPattern))
            }
            #expect(one.map(\.bitPattern) == onePacked.map(\.bitPattern))
        }
    }

    @Test("a fused activation equals sgemm followed by tanhInPlace / reluInPlace, bit for bit", arguments: [
        (1, 4, 4), (3, 37, 20), (7, 64, 300), (32, 256, 256), (2, 8, 0),
    ])
    func fusedActivation(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        for (transA, transB) in transFlags {
            var problem = GEMMProblem(transA: transA, transB: transB, m: m, n: n, k: k, pad: 1, seed: 21)
            problem.a = problem.a.map { $0 * 3 }  // spread values over tanh's curve
            for accumulate in [false, true] {
                for activation in [GEMMActivation.tanh, .relu] {
                    var expected = problem.run(accumulate: accumulate)
                    for i in 0..<m {
                        expected.withUnsafeMutableBufferPointer { e in
                            if activation == .tanh { tanhInPlace(e.baseAddress! + i * problem.ldc, count: n) }
                            else { reluInPlace(e.baseAddress! + i * problem.ldc, count: n) }
                        }
                    }
                    let fused = problem.run(accumulate: accumulate, activation: activation)
                    let fusedPacked = problem.runPacked(accumulate: accumulate, activation: activation)
                    #expect(fused.map(\.bitPattern) == expected.map(\.bitPattern), "sgemm \(activation) acc=\(accumulate)")
                    #expect(fusedPacked.map(\.bitPattern) == expected.map(\.bitPattern), "sgemmPacked \(activation)")
                }
            }
        }
    }

    @Test("packedBCount rounds the columns up to whole panels, for every n up to Int.max")
    func packedCount() {
        #expect(packedBCount(k: 3, n: 17) == 96 && packedBCount(k: 2, n: 32) == 64 && packedBCount(k: 5, n: 0) == 0)
        #expect(packedBCount(k: 0, n: .max) == 0 && packedBCount(k: 0, n: .max - 15) == 0)
        #expect(packedBCount(k: 1, n: .max / 32) == (.max / 32 / 16 + 1) * 16)
    }

    @Test("PackedMatrix multiplies like sgemm")
    func packedMatrix() throws {
        let problem = GEMMProblem(transA: false, transB: true, m: 9, n: 70, k: 33, pad: 1, seed: 3)
        let matrix = try PackedMatrix(transB: true, k: 33, n: 70, b: problem.b, ldb: problem.ldb)
        var out = problem.c
        matrix.multiply(transA: false, m: 9, a: problem.a, lda: problem.lda, accumulate: true, c: &out, ldc: problem.ldc)
        #expect(out.map(\.bitPattern) == problem.run(accumulate: true).map(\.bitPattern))
    }

    @Test("parallelFor runs every task exactly once, back to back and nested")
    func parallelForCoversTasks() {
        let saved = getNumThreads()
        defer { setNumThreads(saved) }
        for threads in [1, 2, 4] {
            setNumThreads(threads)
            for round in 0..<3000 {
                let count = 1 + round % 9
                var hits = [Int](repeating: 0, count: count * 3)
                hits.withUnsafeMutableBufferPointer { h in
                    let base = h.baseAddress!
                    parallelFor(count) { t in
                        base[t] += 1
                        if round % 100 == 0 {  // nested: runs on the calling thread
                            parallelFor(2) { u in base[count + 2 * t + u] += 1 }
                        }
                    }
                }
                let nested = round % 100 == 0 ? 1 : 0
                #expect(hits == [Int](repeating: 1, count: count) + [Int](repeating: nested, count: 2 * count))
            }
        }
    }
}

// MARK: - Activations

/// |got - ref| in units of ref's ulp; 0 when both are the same NaN-ness / bits.
private func ulps(_ got: Float, _ ref: Float) -> Double {
    if ref.isNaN || got.isNaN { return ref.isNaN && got.isNaN ? 0 : .infinity }
    if ref.isInfinite || ref == 0 { return got.bitPattern == ref.bitPattern ? 0 : .infinity }
    return Double(abs(got - ref)) / Double(ref.ulp)
}

@Suite struct ActivationTests {
    /// Inputs: a strided sweep over all 2^32 bit patterns, dense runs where tanh is delicate (tiny
    /// values, the 0.625 branch switch, 9...10 where it saturates, denormals) and the specials.
    static func tanhInputs() -> [Float] {
        var xs: [Float] = [0, -0.0, .infinity, -.infinity, .nan, -.nan, .leastNonzeroMagnitude,
                           -.leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude,
                           -.greatestFiniteMagnitude, 0.625, -0.625, 9.5, -9.5, 9.01, 9.02]
        var pattern: UInt64 = 0
        while pattern < 1 << 32 { xs.append(Float(bitPattern: UInt32(pattern))); pattern += 4093 }
        for (lo, hi, step) in [(Float(0x1p-14), Float(0x1p-10), UInt32(61)), (0.6, 0.65, 3), (8.9, 10.1, 5),
                               (0.01, 0.03, 11)] {
            var bits = lo.bitPattern
            while bits < hi.bitPattern {
                xs.append(Float(bitPattern: bits)); xs.append(-Float(bitPattern: bits)); bits += step
            }
        }
        for i in 0..<100_000 { xs.append(Float(bitPattern: UInt32(i * 83))) }  // denormals
        return xs
    }

    @Test("tanhInPlace is within 2 ulp of tanhf and within 1 ulp of the correctly rounded tanh")
    func tanhAccuracy() {
        var xs = Self.tanhInputs()
        let inputs = xs
        xs.withUnsafeMutableBufferPointer { tanhInPlace($0.baseAddress!, count: $0.count) }
        var worstLibm = 0.0, worstExact = 0.0
        var worstAt: Float = 0
        for (x, got) in zip(inputs, xs) {
            let e = ulps(got, tanhf(x))
            if e > worstLibm { worstLibm = e; worstAt = x }
            if x.isFinite { worstExact = max(worstExact, ulps(got, Float(tanh(Double(x))))) }
        }
        #expect(worstLibm <= 2, "max \(worstLibm) ulp vs tanhf at x = \(worstAt)")
        #expect(worstExact <= 1, "max \(worstExact) ulp vs the correctly rounded tanh")
    }

    @Test("allFinite: false for one Inf or NaN at any position of any length, true for every finite value")
    func allFiniteFindsEveryNonFiniteValue() {
        let finite: [Float] = [0, -0, 1, -3.5, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                               .leastNonzeroMagnitude, -.leastNormalMagnitude]
        let nonFinite: [Float] = [.infinity, -.infinity, .nan, -.nan, .signalingNaN, Float(bitPattern: 0x7FFF_FFFF)]
        for n in 0...75 {
            var x = (0..<n).map { finite[$0 % finite.count] }
            #expect(allFinite(x, count: n), "n = \(n)")
            for position in 0..<n {
                for bad in nonFinite {
                    let kept = x[position]
                    x[position] = bad
                    #expect(!allFinite(x, count: n), "n = \(n), \(bad) at \(position)")
                    x[position] = kept
                }
            }
        }
    }

    @Test("tanh special values: signed zeros, infinities, NaN, saturation")
    func tanhSpecials() {
        let subnormal = Float(bitPattern: 0x0001_16C2)  // ≈ 1e-40
        var xs: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 20, -20, 1e30, subnormal]
        tanhInPlace(&xs, count: xs.count)
        #expect(xs[0].bitPattern == Float(0).bitPattern)
        #expect(xs[1].bitPattern == Float(-0.0).bitPattern)
        #expect(xs[2] == 1 && xs[3] == -1 && xs[4].isNaN)
        #expect(xs[5] == 1 && xs[6] == -1 && xs[7] == 1 && xs[8] == subnormal)
    }

    @Test("an element's tanh does not depend on its position or the count", arguments: [1, 5, 8, 13, 31])
    func tanhPositionInvariance(count: Int) {
        let values = randomFloats(count, seed: 7).map { $0 * 5 }
        var whole = values
        whole.withUnsafeMutableBufferPointer { tanhInPlace($0.baseAddress!, count: count) }
        for i in 0..<count {
            var one = [values[i]]
            tanhInPlace(&one, count: 1)
            #expect(one[0].bitPattern == whole[i].bitPattern)
        }
    }

    @Test("relu: negatives and -0 to +0, NaN stays NaN, others unchanged (as torch.relu)")
    func relu() {
        var xs: [Float] = [-1, 2, .nan, -.infinity, .infinity, 0, -3, 4, 5, -6, 0.5, -0.0, -0.0]
        reluInPlace(&xs, count: xs.count)
        #expect(xs[0] == 0 && xs[1] == 2 && xs[2].isNaN && xs[3] == 0 && xs[4] == .infinity)
        #expect(Array(xs[5...]) == [0, 0, 4, 5, 0, 0.5, 0, 0])
        #expect(xs[11].sign == .plus && xs[12].sign == .plus)  // both the SIMD body and the tail
    }
}

@Suite struct LinearSoftmaxTests {
    @Test("linearSoftmaxForward is linearForward then softmaxForward, bit for bit", arguments: [
        (1, 64, 300), (4, 9, 37), (130, 16, 50), (250, 32, 7),  // one row, few rows, blocks of rows with a tail
    ])
    func fusedEqualsTwoCalls(shape: (Int, Int, Int)) throws {
        let (m, k, n) = shape
        let x = randomFloats(m * k, seed: 5).map { $0 * 3 }, w = randomFloats(n * k, seed: 6), b = randomFloats(n, seed: 7)
        var packed = [Float](repeating: 0, count: packedWeightCount(rows: n, cols: k))
        packed.withUnsafeMutableBufferPointer { packWeight(w, rows: n, cols: k, into: $0.baseAddress!) }
        for log in [false, true] {
            var want = [Float](repeating: 0, count: m * n)
            want.withUnsafeMutableBufferPointer { o in
                linearForward(x: x, m: m, inFeatures: k, weight: w, bias: b, outFeatures: n, out: o.baseAddress!)
            }
            let logits = want
            want.withUnsafeMutableBufferPointer { o in
                softmaxForward(logits, outer: m, dim: n, inner: 1, log: log, out: o.baseAddress!)
            }
            for prePacked in [false, true] {
                var got = [Float](repeating: .nan, count: m * n)
                try got.withUnsafeMutableBufferPointer { o in
                    try packed.withUnsafeBufferPointer { p in
                        try linearSoftmaxForward(x: x, m: m, inFeatures: k, weight: w, bias: b, outFeatures: n, log: log,
                                                 out: o.baseAddress!, packedWeight: prePacked ? p.baseAddress : nil)
                    }
                }
                #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "log \(log), pre-packed \(prePacked)")
            }
        }
    }
}
