import Testing
@testable import SwiftRNN
import SwiftRNNVectorMath
#if SWIFTRNN_X86_KERNELS
import SwiftRNNAVX512
#endif

/// Without AVX-512 (an AVX2-only CPU, or SWIFTRNN_SIMD=avx2 on any): the switch to the AVX-512 kernels
/// stays off, so nothing can reach them.
@Suite(.disabled(if: cpuHasAVX512, "the CPU has AVX-512 and SWIFTRNN_SIMD does not turn it off"))
struct WithoutAVX512Tests {
    @Test func theAVX512KernelsCannotBeSwitchedOn() {
        #expect(!setGEMMUsesAVX512(true))
        #expect(!gemmUsesAVX512)
        #expect(gemmSIMDLevel != "avx512")
    }
}

#if SWIFTRNN_X86_KERNELS
/// The AVX-512 kernels against the AVX2 ones: bit-identical results for every shape, layout, accumulate
/// flag, epilogue, k-blocking and packed/unpacked op(B), and the epilogue, exponentials and FMA chains.
/// Every test here executes AVX-512 instructions: the whole suite runs only where `cpuHasAVX512` (the
/// CPU has AVX-512 and SWIFTRNN_SIMD does not say avx2); a test added here needs no guard of its own.
@Suite(.serialized, .enabled(if: cpuHasAVX512, "needs AVX-512 (absent, or SWIFTRNN_SIMD=avx2)"))
struct AVX512Tests {
    private static func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(s >> 40) / Float(1 << 23) - 1
        }
    }

    /// One GEMM through the current path: (sgemm, sgemmPacked) outputs.
    private static func run(m: Int, n: Int, k: Int, transA: Bool, transB: Bool, accumulate: Bool,
                            activation: GEMMActivation, a: [Float], b: [Float], c0: [Float], ldc: Int) -> ([Float], [Float]) {
        let lda = transA ? m + 1 : k + 3
        let ldb = transB ? k + 2 : n + 1
        var c1 = c0, c2 = c0
        var packed = [Float](repeating: .nan, count: packedBCount(k: k, n: n))
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c1.withUnsafeMutableBufferPointer { cp in
                    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ap.baseAddress!, lda: lda,
                          b: bp.baseAddress!, ldb: ldb, accumulate: accumulate, c: cp.baseAddress!, ldc: ldc,
                          activation: activation)
                }
                packed.withUnsafeMutableBufferPointer { pp in
                    packB(transB: transB, k: k, n: n, b: bp.baseAddress!, ldb: ldb, into: pp.baseAddress!)
                }
                packed.withUnsafeBufferPointer { pp in
                    c2.withUnsafeMutableBufferPointer { cp in
                        sgemmPacked(transA: transA, m: m, n: n, k: k, a: ap.baseAddress!, lda: lda,
                                    packedB: pp.baseAddress!, accumulate: accumulate, c: cp.baseAddress!, ldc: ldc,
                                    activation: activation)
                    }
                }
            }
        }
        return (c1, c2)
    }

    @Test func avx512MatchesAVX2BitForBit() {
        let had = gemmUsesAVX512
        defer { setGEMMUsesAVX512(had) }
        var shapes: [(Int, Int, Int)] = []
        for m in 1...13 { shapes.append((m, [5, 16, 33, 47][m % 4], [1, 7, 64, 130][m % 4])) }
        shapes += [(14, 31, 9), (16, 128, 128), (17, 130, 70),
                   // short rows read in place up to 272 floats apart (lda = k + 3), packed past that
                   (16, 96, 269), (12, 40, 270), (24, 64, 128), (25, 17, 600), (36, 48, 1100), (64, 128, 128),
                   (1, 512, 512), (5, 256, 256), (30, 200, 513), (130, 80, 40), (8, 33, 520), (61, 97, 33),
                   // every tile width and its remainders (13, 11, 9 and 7 panels), k blocks of 256
                   (12, 208, 20), (3, 176, 30), (4, 144, 260), (7, 112, 9), (23, 200, 3), (26, 47, 257)]
        var seed: UInt64 = 1
        var checked = 0
        for (m, n, k) in shapes {
            for threads in [1, 2] {
                setNumThreads(threads)
                for layout in 0..<4 {
                    let transA = layout & 1 != 0, transB = layout & 2 != 0
                    let accumulate = (m + n + layout) % 2 == 0
                    let activation: GEMMActivation = [.identity, .tanh, .relu][(m + k + layout) % 3]
                    let lda = transA ? m + 1 : k + 3
                    let ldb = transB ? k + 2 : n + 1
                    let ldc = n + 5
                    seed += 1
                    let a = Self.randomFloats((transA ? k : m) * lda, seed: seed)
                    let b = Self.randomFloats((transB ? n : k) * ldb, seed: seed + 1000)
                    // Scale so that tanh sees values across its branches and relu sees negatives.
                    let c0 = Self.randomFloats(m * ldc, seed: seed + 2000).map { $0 * 4 }
                    #expect(setGEMMUsesAVX512(true))
                    let (x1, x2) = Self.run(m: m, n: n, k: k, transA: transA, transB: transB, accumulate: accumulate,
                                            activation: activation, a: a, b: b, c0: c0, ldc: ldc)
                    setGEMMUsesAVX512(false)
                    let (y1, y2) = Self.run(m: m, n: n, k: k, transA: transA, transB: transB, accumulate: accumulate,
                                            activation: activation, a: a, b: b, c0: c0, ldc: ldc)
                    let same = zip(x1, y1).allSatisfy { $0.bitPattern == $1.bitPattern }
                        && zip(x2, y2).allSatisfy { $0.bitPattern == $1.bitPattern }
                        && zip(x1, x2).allSatisfy { $0.bitPattern == $1.bitPattern }
                    #expect(same, "m=\(m) n=\(n) k=\(k) transA=\(transA) transB=\(transB) acc=\(accumulate) \(activation) threads=\(threads)")
                    checked += 1
                }
            }
        }
        setNumThreads(1)
        #expect(checked == shapes.count * 8)
    }

    /// The bias start of the AVX-512 tiles (for the bias row of the GEMM): chains started from
    /// C + bias (accumulate) or from bias give the same bits as adding the bias to C first.
    @Test func avx512BiasStartsTheChains() {
        for (m, n, k) in [(1, 5, 3), (5, 40, 17), (12, 16, 9), (13, 33, 20), (30, 100, 64), (7, 130, 5)] {
            for load in [false, true] {
                let lda = k + 1, ldc = n + 3
                let a = Self.randomFloats(m * lda, seed: UInt64(m * 7 + n))
                let b = Self.randomFloats(k * n, seed: UInt64(k * 5 + n))
                let bias = Self.randomFloats(n, seed: UInt64(n))
                let c0 = Self.randomFloats(m * ldc, seed: UInt64(m + 99))
                var packed = [Float](repeating: 0, count: packedBCount(k: k, n: n))
                var c1 = c0, c2 = c0
                for i in 0..<m { for j in 0..<n { c2[i * ldc + j] = load ? c0[i * ldc + j] + bias[j] : bias[j] } }
                let panels = (n + 15) / 16
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        packed.withUnsafeMutableBufferPointer { pp in
                            packB(transB: false, k: k, n: n, b: bp.baseAddress!, ldb: n, into: pp.baseAddress!)
                        }
                    }
                    packed.withUnsafeBufferPointer { pp in
                        bias.withUnsafeBufferPointer { biasp in
                            c1.withUnsafeMutableBufferPointer { cp in
                                gemmBlockAVX512(mc: m, n: n, panels: panels, kc: k, aBlock: ap.baseAddress!, aStep: lda,
                                                rsA: lda, csA: 1, b: pp.baseAddress!, rsB: 16, panelStride: 16 * k,
                                                c: cp.baseAddress!, ldc: ldc, load: load, bias: biasp.baseAddress!,
                                                epilogue: .identity)
                            }
                        }
                        c2.withUnsafeMutableBufferPointer { cp in
                            gemmBlockAVX512(mc: m, n: n, panels: panels, kc: k, aBlock: ap.baseAddress!, aStep: lda,
                                            rsA: lda, csA: 1, b: pp.baseAddress!, rsB: 16, panelStride: 16 * k,
                                            c: cp.baseAddress!, ldc: ldc, load: true, epilogue: .identity)
                        }
                    }
                }
                #expect(zip(c1, c2).allSatisfy { $0.bitPattern == $1.bitPattern }, "m=\(m) n=\(n) k=\(k) load=\(load)")
            }
        }
    }

    /// The AVX-512 epilogue (16 lanes) gives tanhInPlace's / reluInPlace's bits (8 lanes): a sweep
    /// over every 4103rd float bit pattern (both signs, subnormals, ±Inf, NaNs) plus the tanh
    /// branch points, in rows with a ragged tail.
    @Test func avx512EpilogueMatchesAVX2BitForBit() {
        var values: [Float] = [0, -0, 0.625, -0.625, 9.5, -9.5, 9.0, .infinity, -.infinity, .nan,
                               .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0.6249999, 9.499999]
        var bits: UInt32 = 0
        while true {
            values.append(Float(bitPattern: bits))
            let (next, o) = bits.addingReportingOverflow(4096 + 7)
            if o { break }
            bits = next
        }
        let cols = 37, rows = (values.count + cols - 1) / cols
        values += [Float](repeating: 0.5, count: rows * cols - values.count)
        for kind in [1, 2] {
            var x16 = values, x8 = values
            x16.withUnsafeMutableBufferPointer { p in
                avx512ActivateRows(kind: kind, c: p.baseAddress!, ldc: cols, rows: rows, cols: cols)
            }
            x8.withUnsafeMutableBufferPointer { p in
                for r in 0..<rows {
                    if kind == 1 { tanhInPlace(p.baseAddress! + r * cols, count: cols) }
                    else { reluInPlace(p.baseAddress! + r * cols, count: cols) }
                }
            }
            // NaN in, NaN out; its sign and payload depend on operand order (not promised anywhere).
            let mismatches = zip(x16, x8).filter { $0.bitPattern != $1.bitPattern && !($0.isNaN && $1.isNaN) }.count
            #expect(mismatches == 0, "kind \(kind): \(mismatches) of \(values.count) differ")
        }
    }

    /// The LSTM and GRU cell epilogues in 16 lanes (`lstmCells` / `gruCells` with the AVX-512 switch on) give the
    /// 8-lane bits: every output (h', c', and with `save` the stored gates) over pre-activations swept through
    /// every 4103rd float bit pattern (both signs, subnormals, ±Inf, NaNs) and the functions' branch points,
    /// with H = 37 (two full vectors and a tail of 5) and row strides wider than the rows.
    @Test func avx512GatedCellsMatchAVX2BitForBit() {
        var values: [Float] = [0, -0, 0.625, -0.625, 9.5, -9.5, 88, -88, 88.8, -88.8, 100, -100, .infinity, -.infinity,
                               .nan, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        var bits: UInt32 = 0
        while true {
            values.append(Float(bitPattern: bits))
            let (next, o) = bits.addingReportingOverflow(4096 + 7)
            if o { break }
            bits = next
        }
        values += Self.randomFloats(20000, seed: 5).map { $0 * 12 }
        let H = 37, gateStride = 6 * H + 3, hStride = H + 2, rows = values.count / (4 * H) + 1
        func sample(_ count: Int, _ offset: Int) -> [Float] { (0..<count).map { values[($0 * 7 + offset) % values.count] } }
        let had = gemmUsesAVX512
        defer { setGEMMUsesAVX512(had) }
        func same(_ a: [Float], _ b: [Float]) -> Bool {
            zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
        }
        for save in [false, true] {
            // LSTM: gates i, f, g, o; the cell state from the sweep too.
            func lstm(_ wide: Bool) -> ([Float], [Float], [Float]) {
                setGEMMUsesAVX512(wide)
                var g = sample(rows * gateStride, 0), c = sample(rows * H, 3)
                var h = [Float](repeating: 7, count: rows * hStride)
                g.withUnsafeMutableBufferPointer { gp in c.withUnsafeMutableBufferPointer { cp in h.withUnsafeMutableBufferPointer { hp in
                    lstmCells(rows: rows, H: H, gates: gp.baseAddress!, gateStride: gateStride, c: cp.baseAddress!,
                              h: hp.baseAddress!, hStride: hStride, save: save)
                } } }
                return (g, c, h)
            }
            let (g8, c8, h8) = lstm(false), (g16, c16, h16) = lstm(true)
            #expect(same(g8, g16) && same(c8, c16) && same(h8, h16), "LSTM, save \(save)")
            // GRU: gates xr, xz, xn (+ room for hn), the step products and h from the sweep.
            func gru(_ wide: Bool) -> ([Float], [Float]) {
                setGEMMUsesAVX512(wide)
                var g = sample(rows * gateStride, 1)
                let products = sample(rows * 3 * H, 2), hPrev = sample(rows * hStride, 5)
                var h = [Float](repeating: 7, count: rows * hStride)
                g.withUnsafeMutableBufferPointer { gp in h.withUnsafeMutableBufferPointer { hp in
                    gruCells(rows: rows, H: H, gates: gp.baseAddress!, gateStride: gateStride, products: products,
                             productStride: 3 * H, hPrev: hPrev, hPrevStride: hStride, h: hp.baseAddress!, hStride: hStride,
                             save: save)
                } }
                return (g, h)
            }
            let (gr8, hr8) = gru(false), (gr16, hr16) = gru(true)
            #expect(same(gr8, gr16) && same(hr8, hr16), "GRU, save \(save)")
        }
    }

    /// The cross-entropy's exponentials and their sums, sixteen lanes at a time against eight: the same
    /// bits for every row length (the 16-wide loop, then eight-lane chunks, then the padded tail),
    /// over arguments from every binade, the edges of exp's range, infinities and NaN.
    @Test func avx512ExpShiftedMatchesAVX2BitForBit() {
        var values: [Float] = [0, -0, -87.33654, -87.3366, 88.72283, 88.7229, .infinity, -.infinity, .nan, -1e-30]
        var bits: UInt32 = 0
        while true {
            values.append(Float(bitPattern: bits))
            let (next, o) = bits.addingReportingOverflow(65536 * 8 + 13)
            if o { break }
            bits = next
        }
        values += Self.randomFloats(2000, seed: 11).map { $0 * 20 }
        for n in Array(1...40) + [459, values.count] {
            for start in stride(from: 0, to: values.count - n + 1, by: max(1, (values.count - n) / 7 + 1)) {
                values.withUnsafeBufferPointer { v in
                    let x = v.baseAddress! + start
                    var e16 = [Float](repeating: .nan, count: n), e8 = e16
                    let sum16 = e16.withUnsafeMutableBufferPointer { avx512ExpShifted(x, minus: 0.75, count: n, into: $0.baseAddress!) }
                    let sum8 = e8.withUnsafeMutableBufferPointer {
                        expShifted8(x, minus: 0.75, from: 0, count: n, into: $0.baseAddress!, acc: SIMD8())
                    }
                    let same = zip(e16, e8).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
                    let sameSum = (0..<8).allSatisfy { sum16[$0].bitPattern == sum8[$0].bitPattern || (sum16[$0].isNaN && sum8[$0].isNaN) }
                    #expect(same && sameSum, "n \(n) from \(start)")
                }
            }
        }
    }

    /// softmax / log_softmax rows and the row maximum (16-lane max and scaling on AVX-512) give the AVX2
    /// path's bits, for every row length around the vector widths, with NaN, infinities and zero ties.
    @Test func avx512SoftmaxRowsMatchAVX2BitForBit() {
        var values = Self.randomFloats(6000, seed: 21).map { $0 * 30 }
        for (i, v) in [Float.nan, .infinity, -.infinity, 0, -0, 0, -0, 1e-40].enumerated() { values[i * 97 + 5] = v }
        for n in Array(1...70) + [459, 5000] {
            for start in [0, 3, 90, 400, 990] where start + n <= values.count {
                values.withUnsafeBufferPointer { v in
                    let x = v.baseAddress! + start
                    var outs: [[Float]] = []
                    var maxima: [Float] = []
                    for avx512 in [true, false] {
                        setGEMMUsesAVX512(avx512)
                        maxima.append(rowMax(x, count: n))
                        for log in [false, true] {
                            var out = [Float](repeating: 7, count: n)
                            out.withUnsafeMutableBufferPointer {
                                softmaxForward(x, outer: 1, dim: n, inner: 1, log: log, out: $0.baseAddress!)
                            }
                            outs.append(out)
                        }
                    }
                    setGEMMUsesAVX512(true)
                    let same = (0..<2).allSatisfy { k in
                        zip(outs[k], outs[k + 2]).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }
                    }
                    #expect(same, "softmax n \(n) from \(start)")
                    #expect(maxima[0] == maxima[1] || (maxima[0].isNaN && maxima[1].isNaN), "max n \(n) from \(start)")
                }
            }
        }
    }

    /// The 16-lane FMA chains of the peak probe compute every chain for every iteration.
    @Test func fmaChains16Lanes() {
        for iterations in [0, 1, 1000, 4097] {
            let want = FMAPeakTests.expected(lanes: 16, iterations: iterations)
            let got = Double(avx512FMAChains(iterations: iterations))
            #expect(abs(got - want) <= 1e-6 * abs(want), "16 lanes, \(iterations) iterations: \(got) vs \(want)")
        }
    }
}
#endif
