// The core's kernels alone: SGEMM GFLOP/s at the RNN shapes (1 and 2 threads, op(B) packed per call
// and pre-packed) and tanh throughput.
//
//   swift run -c release SwiftRNNBench            all the tables
//   swift run -c release SwiftRNNBench peak|gemm|small|pack|rnn|gated|tanh|train   only those
//   swift run -c release SwiftRNNBench gated 'LSTM(128,128)'   the LSTM/GRU rows whose label contains it
//   swift run -c release SwiftRNNBench tanh-ulp   exhaustive max-ulp of tanhInPlace vs Glibc tanhf
//   swift run -c release SwiftRNNBench step       the recurrent step's thread split, piece by piece
//   swift run -c release SwiftRNNBench tile       the AVX-512 tiles alone, by k depth

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftRNN
#if SWIFTRNN_X86_KERNELS
import SwiftRNNAVX512
#endif

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// CPU time of the calling thread: unaffected by time slices lost to other processes on a shared
/// machine (used for single-threaded figures).
func threadCPUTime() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Best time per call of `body` over many batches of about 2 ms: wall-clock time, or the calling
/// thread's CPU time when `cpuTime` (only meaningful when the work runs on this thread).
func bestTime(cpuTime: Bool = false, _ body: () -> Void) -> Double {
    let clock = cpuTime ? threadCPUTime : now
    body()
    var reps = 1
    while true {
        let t0 = clock()
        for _ in 0..<reps { body() }
        if clock() - t0 >= 0.002 { break }
        reps *= 2
    }
    var best = Double.infinity
    let deadline = now() + 0.25
    var batches = 0
    while batches < 15 || now() < deadline {
        let t0 = clock()
        for _ in 0..<reps { body() }
        best = min(best, (clock() - t0) / Double(reps))
        batches += 1
    }
    return best
}

/// Deterministic values in [-1, 1).
func fill(_ p: UnsafeMutablePointer<Float>, _ count: Int, seed: UInt64) {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    for i in 0..<count {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        p[i] = Float(s >> 40) / Float(1 << 23) - 1
    }
}

func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
func fmt(_ x: Double, _ digits: Int = 1) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let r = (x * scale).rounded() / scale
    var s = "\(r)"
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
    }
    return s
}

func gemmTable() {
    let shapes: [(Int, Int, Int, String)] = [
        (1, 4, 4, "RNN(4,4) N1 step"),
        (1, 512, 512, "RNN(.,512) unbatched step"),
        (5, 256, 256, "RNN(.,256) N5 step"),
        (16, 128, 128, "RNN(128,128) N16 step"),
        (32, 256, 128, "RNN(128,256) N32 input proj"),
        (32, 256, 256, "RNN(128,256) N32 step"),
        (64, 512, 256, "RNN(256,512) N64 input proj"),
        (64, 512, 512, "RNN(256,512) N64 step"),
        (3200, 512, 256, "T50xN64 input proj"),
        (1024, 1024, 1024, "1024^3"),
    ]
    print("SGEMM GFLOP/s, C(m x n) = A(m x k) . W^T, W (n x k) row-major (transB); kernels: \(gemmSIMDLevel)"
          + " (SWIFTRNN_SIMD=avx2 forces AVX2)")
    print("  per-call: sgemm (packs W each call); packed: sgemmPacked (W packed once)")
    print("  best of many ~2 ms batches; 1T: thread CPU time, 2T: wall time")
    print(pad("m x n x k", 16) + pad("1T per-call", 13) + pad("1T packed", 11) + pad("2T per-call", 13)
          + pad("2T packed", 11) + pad("1T us", 10) + "   workload")
    for (m, n, k, label) in shapes {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
        let w = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: packedBCount(k: k, n: n))
        defer { a.deallocate(); w.deallocate(); c.deallocate(); packed.deallocate() }
        fill(a, m * k, seed: 1)
        fill(w, n * k, seed: 2)
        packB(transB: true, k: k, n: n, b: w, ldb: k, into: packed)
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        var row = pad("\(m)x\(n)x\(k)", 16)
        var oneThreadTime = 0.0
        for threads in [1, 2] {
            setNumThreads(threads)
            let tCall = bestTime(cpuTime: threads == 1) {
                sgemm(transA: false, transB: true, m: m, n: n, k: k, a: a, lda: k, b: w, ldb: k,
                      accumulate: false, c: c, ldc: n)
            }
            let tPacked = bestTime(cpuTime: threads == 1) {
                sgemmPacked(transA: false, m: m, n: n, k: k, a: a, lda: k, packedB: packed,
                            accumulate: false, c: c, ldc: n)
            }
            if threads == 1 { oneThreadTime = tPacked }
            row += pad(fmt(flops / tCall / 1e9), 13) + pad(fmt(flops / tPacked / 1e9), 11)
        }
        row += pad(fmt(oneThreadTime * 1e6, 2), 10) + "   " + label
        print(row)
    }
    setNumThreads(1)

    print("\nSGEMM GFLOP/s, other layouts, 1 thread (per-call)")
    print(pad("m x n x k", 16) + pad("NN", 9) + pad("TN", 9) + pad("NT", 9) + pad("TT", 9))
    for (m, n, k) in [(64, 512, 512), (512, 512, 512), (32, 256, 256), (16, 256, 256), (24, 512, 512), (5, 512, 512)] {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        fill(a, m * k, seed: 3)
        fill(b, n * k, seed: 4)
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        var row = pad("\(m)x\(n)x\(k)", 16)
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let t = bestTime(cpuTime: true) {
                sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k, b: b, ldb: tb ? k : n,
                      accumulate: false, c: c, ldc: n)
            }
            row += pad(fmt(flops / t / 1e9), 9)
        }
        print(row)
    }
}

func packTable() {
    print("\npackB (1 thread), ns per element")
    for (k, n) in [(128, 128), (256, 256), (512, 512)] {
        let b = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: packedBCount(k: k, n: n))
        defer { b.deallocate(); packed.deallocate() }
        fill(b, n * k, seed: 6)
        var row = "  k=\(k) n=\(n):"
        for transB in [true, false] {
            let t = bestTime(cpuTime: true) { packB(transB: transB, k: k, n: n, b: b, ldb: transB ? k : n, into: packed) }
            row += "  transB=\(transB) \(fmt(t / Double(n * k) * 1e9, 3))"
        }
        print(row)
    }
}

/// rnnForward at the speed targets' workloads (the core alone: no Python, no copies in or out).
func rnnTable() {
    print("\nrnnForward (tanh), best time (1T: thread CPU time); GFLOP/s counts the GEMMs only")
    print(pad("workload", 44) + pad("1T us", 11) + pad("1T GF/s", 9) + pad("2T us", 11) + pad("2T GF/s", 9))
    let workloads: [(RNNConfig, Int, Int, String)] = [
        (RNNConfig(inputSize: 4, hiddenSize: 4), 3, 1, "RNN(4,4) T3 N1"),
        (RNNConfig(inputSize: 128, hiddenSize: 256), 5, 32, "RNN(128,256) T5 N32"),
        (RNNConfig(inputSize: 128, hiddenSize: 128), 100, 16, "RNN(128,128) T100 N16"),
        (RNNConfig(inputSize: 256, hiddenSize: 512, numLayers: 2), 50, 64, "RNN(256,512,2) T50 N64"),
        (RNNConfig(inputSize: 64, hiddenSize: 128, numLayers: 2, batchFirst: true, bidirectional: true), 32, 8,
         "RNN(64,128,2,bidir,batch_first) T32 N8"),
    ]
    for (config, L, N, label) in workloads {
        let shapes = config.parameterShapes
        let params = shapes.enumerated().map { i, shape -> UnsafeMutablePointer<Float> in
            let count = shape.reduce(1, *)
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            fill(p, count, seed: UInt64(10 + i))
            for j in 0..<count { p[j] *= 0.1 }
            return p
        }
        let pointers = params.map { UnsafePointer($0) }
        let H = config.hiddenSize, D = config.numDirections
        let x = UnsafeMutablePointer<Float>.allocate(capacity: L * N * config.inputSize)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: L * N * D * H)
        let hn = UnsafeMutablePointer<Float>.allocate(capacity: config.numLayers * D * N * H)
        fill(x, L * N * config.inputSize, seed: 99)
        var flops = 0.0
        for layer in 0..<config.numLayers {
            let inWidth = layer == 0 ? config.inputSize : D * H
            flops += Double(D * 2 * L * N * H * (inWidth + H))
        }
        var row = pad(label, 44)
        for threads in [1, 2] {
            setNumThreads(threads)
            let t = pointers.withUnsafeBufferPointer { ps in
                bestTime(cpuTime: threads == 1) {
                    try! rnnForward(config: config, parameters: ps, x: x, seqLen: L, batch: N, h0: nil,
                                    dropoutMasks: nil, output: out, hn: hn)
                }
            }
            row += pad(fmt(t * 1e6, 1), 11) + pad(fmt(flops / t / 1e9), 9)
        }
        print(row)
        setNumThreads(1)
        params.forEach { $0.deallocate() }
        x.deallocate(); out.deallocate(); hn.deallocate()
    }
}

/// LSTM and GRU (rnnForward / rnnBackward on a gated configuration): inference forward, training forward
/// (keeping the gates) and backward, 1 thread (thread CPU time), and the inference forward on 2 threads.
func gatedTable() {
    print("\nLSTM / GRU, best time in us (1T: thread CPU time): forward, training forward, backward; forward on 2 threads")
    print(pad("workload", 44) + pad("fwd 1T", 10) + pad("train 1T", 10) + pad("bwd 1T", 10) + pad("fwd 2T", 10))
    var workloads: [(RNNConfig, Int, Int, String)] = []
    for cell in [RecurrentCell.lstm, .gru] {
        let name = cell == .lstm ? "LSTM" : "GRU"
        workloads += [
            (RNNConfig(inputSize: 128, hiddenSize: 256, cell: cell), 5, 32, "\(name)(128,256) T5 N32"),
            (RNNConfig(inputSize: 4, hiddenSize: 4, cell: cell), 3, 1, "\(name)(4,4) T3 N1"),
            (RNNConfig(inputSize: 128, hiddenSize: 128, cell: cell), 100, 16, "\(name)(128,128) T100 N16"),
            (RNNConfig(inputSize: 256, hiddenSize: 512, numLayers: 2, cell: cell), 50, 64, "\(name)(256,512,2) T50 N64"),
        ]
    }
    workloads.append((RNNConfig(inputSize: 64, hiddenSize: 128, numLayers: 2, batchFirst: true, bidirectional: true,
                                cell: .lstm), 32, 8, "LSTM(64,128,2,bidir,batch_first) T32 N8"))
    // An argument with a parenthesis picks the workloads whose label contains it, e.g. "LSTM(4,4)".
    let filter = CommandLine.arguments.dropFirst().first { $0.contains("(") }
    for (config, L, N, label) in workloads where filter.map(label.contains) ?? true {
        let params = config.parameterShapes.enumerated().map { i, shape -> UnsafeMutablePointer<Float> in
            let count = shape.reduce(1, *)
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            fill(p, count, seed: UInt64(10 + i))
            for j in 0..<count { p[j] *= 0.1 }
            return p
        }
        let grads = config.parameterShapes.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.reduce(1, *)) }
        let pointers = params.map { UnsafePointer($0) }
        let gradPointers: [UnsafeMutablePointer<Float>?] = grads
        let input = config.batchFirst ? [N, L, config.inputSize] : [L, N, config.inputSize]
        let shapes = try! withShape(input) { (s) throws(SwiftRNNError) in try config.callShapes(input: s!, h0: nil) }
        func buffer(_ count: Int, _ seed: UInt64) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            fill(p, count, seed: seed)
            return p
        }
        let x = buffer(L * N * config.inputSize, 99), out = buffer(shapes.output.count, 1)
        let hn = buffer(shapes.state.count, 2), cn = buffer(shapes.cellState.count, 3)
        let h0 = buffer(shapes.state.count, 4), c0 = buffer(shapes.cellState.count, 5)
        let saved = buffer(shapes.savedCount, 6), gradOut = buffer(shapes.output.count, 7)
        let gx = buffer(L * N * config.inputSize, 8), gh0 = buffer(shapes.state.count, 9), gc0 = buffer(shapes.cellState.count, 10)
        let lstm = config.cell == .lstm
        var row = pad(label, 44)
        pointers.withUnsafeBufferPointer { ps in
            gradPointers.withUnsafeBufferPointer { gs in
                func forward(_ keep: Bool) {
                    try! rnnForward(config: config, parameters: ps, x: x, seqLen: L, batch: N, h0: h0, dropoutMasks: nil,
                                    output: out, hn: hn, saved: keep ? saved : nil, c0: lstm ? c0 : nil, cn: lstm ? cn : nil)
                }
                setNumThreads(1)
                let tf = bestTime(cpuTime: true) { forward(false) }
                let tt = bestTime(cpuTime: true) { forward(true) }
                forward(true)
                let tb = bestTime(cpuTime: true) {
                    try! rnnBackward(config: config, parameters: ps, x: x, seqLen: L, batch: N, h0: h0, dropoutMasks: nil,
                                     saved: saved, gradOutput: gradOut, gradHn: nil, parameterGradients: gs, gradInput: gx,
                                     gradH0: gh0, c0: lstm ? c0 : nil, gradCn: nil, gradC0: lstm ? gc0 : nil)
                }
                setNumThreads(2)
                let t2 = bestTime { forward(false) }
                setNumThreads(1)
                row += [tf, tt, tb, t2].map { pad(fmt($0 * 1e6, 1), 10) }.joined()
            }
        }
        print(row)
        (params + grads + [x, out, hn, cn, h0, c0, saved, gradOut, gx, gh0, gc0]).forEach { $0.deallocate() }
    }
}

/// Small problems (per-call sgemm, transB, 1 thread): nanoseconds per call, to spot cliffs.
func smallTable() {
    let sizes = [4, 16, 64, 128]
    print("\nsmall sgemm (transB, per call, 1 thread): ns per call [GFLOP/s], rows m, columns n = k")
    print(pad("m", 5) + sizes.map { pad("n=k=\($0)", 18) }.joined())
    for m in [1, 2, 3, 4, 5, 8, 16, 32] {
        var row = pad("\(m)", 5)
        for nk in sizes {
            let a = UnsafeMutablePointer<Float>.allocate(capacity: m * nk)
            let w = UnsafeMutablePointer<Float>.allocate(capacity: nk * nk)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: m * nk)
            fill(a, m * nk, seed: 1); fill(w, nk * nk, seed: 2)
            let t = bestTime(cpuTime: true) {
                sgemm(transA: false, transB: true, m: m, n: nk, k: nk, a: a, lda: nk, b: w, ldb: nk,
                      accumulate: true, c: c, ldc: nk)
            }
            row += pad("\(Int((t * 1e9).rounded())) [\(fmt(2.0 * Double(m * nk * nk) / t / 1e9))]", 18)
            a.deallocate(); w.deallocate(); c.deallocate()
        }
        print(row)
    }
}

func tanhTable() {
    print("\ntanh throughput (1 thread), values in [-6, 6)")
    for count in [256, 4096, 32768] {
        let x = UnsafeMutablePointer<Float>.allocate(capacity: count)
        let src = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { x.deallocate(); src.deallocate() }
        fill(src, count, seed: 5)
        for i in 0..<count { src[i] *= 6 }
        let tVec = bestTime(cpuTime: true) {
            x.update(from: src, count: count)
            tanhInPlace(x, count: count)
        }
        let tCopy = bestTime(cpuTime: true) { x.update(from: src, count: count) }
        let tLibm = bestTime(cpuTime: true) {
            x.update(from: src, count: count)
            for i in 0..<count { x[i] = tanhf(x[i]) }
        }
        let perVec = max(tVec - tCopy, 1e-12) / Double(count) * 1e9
        let perLibm = max(tLibm - tCopy, 1e-12) / Double(count) * 1e9
        print("  n=\(pad("\(count)", 6)):  tanhInPlace \(pad(fmt(perVec, 3), 7)) ns/elem   "
              + "Glibc tanhf \(pad(fmt(perLibm, 3), 7)) ns/elem   (\(fmt(perLibm / perVec))x)")
    }
}

/// Exhaustive: every float bit pattern, tanhInPlace vs tanhf, in ulps of tanhf's result.
func tanhUlp() {
    let chunk = 1 << 16
    let x = UnsafeMutablePointer<Float>.allocate(capacity: chunk)
    defer { x.deallocate() }
    var worst = 0.0
    var worstInput: Float = 0
    var mismatchedSpecials = 0
    var worstExact = 0.0
    var worstExactInput: Float = 0
    var notCorrectlyRounded = 0
    var pattern: UInt64 = 0
    while pattern < 1 << 32 {
        for i in 0..<chunk { x[i] = Float(bitPattern: UInt32(pattern) &+ UInt32(i)) }
        tanhInPlace(x, count: chunk)
        for i in 0..<chunk {
            let input = Float(bitPattern: UInt32(pattern) &+ UInt32(i))
            let ref = tanhf(input), got = x[i]
            if ref.isNaN || got.isNaN || ref.isInfinite || ref == 0 {
                if !(ref.isNaN && got.isNaN) && ref.bitPattern != got.bitPattern { mismatchedSpecials += 1 }
                continue
            }
            let err = Double(abs(got - ref)) / Double(ref.ulp)
            if err > worst { worst = err; worstInput = input }
            let exact = Float(tanh(Double(input)))
            let errExact = Double(abs(got - exact)) / Double(exact.ulp)
            if errExact > worstExact { worstExact = errExact; worstExactInput = input }
            if got != exact { notCorrectlyRounded += 1 }
        }
        pattern += UInt64(chunk)
    }
    print("tanhInPlace over all 2^32 floats:")
    print("  vs Glibc tanhf: max \(worst) ulp (at x = \(worstInput)); "
          + "special-value mismatches (NaN/0/±Inf): \(mismatchedSpecials)")
    print("  vs tanh in double, rounded to float: max \(worstExact) ulp (at x = \(worstExactInput)); "
          + "\(notCorrectlyRounded) finite inputs not correctly rounded")
}

/// The GEMMs of one char-LM training step (benchmarks/train_char_lm.py: V=459, E=64, H=256, 16 x 64
/// tokens), each with the layout the training code uses, and the time of each per step.
func trainTable() {
    let (V, E, H, N, L) = (459, 64, 256, 16, 64)
    let R = N * L
    // The RNN's rows are `P` floats apart where the training code pads them (see paddedRowStride).
    let P = H + 16
    // (label, transA, transB, m, n, k, lda, ldb, packed B, calls per step)
    let shapes: [(String, Bool, Bool, Int, Int, Int, Int, Int, Bool, Int)] = [
        ("linear fwd  x.W^T", false, true, R, V, H, H, H, false, 1),
        ("linear bwd  dY.W (dX)", false, false, R, H, V, V, H, false, 1),
        ("linear bwd  dY^T.x (dW)", true, false, V, H, R, V, H, false, 1),
        ("rnn fwd  x.W_ih^T", false, true, R, H, E, E, E, false, 1),
        ("rnn fwd  step h.W_hh^T (packed)", false, true, N, H, H, H, H, true, L),
        ("rnn bwd  step d.W_hh (packed)", false, false, N, H, H, P, H, true, L - 1),
        ("rnn bwd  d^T.h (dW_hh)", true, false, H, H, R - N, P, H, false, 1),
        ("rnn bwd  d^T.x (dW_ih)", true, false, H, E, R, P, E, false, 1),
        ("rnn bwd  d.W_ih (dx)", false, false, R, E, H, P, E, false, 1),
    ]
    print("GEMMs of one char-LM training step (V=\(V) E=\(E) H=\(H), \(N)x\(L) tokens), 1 thread, kernels: \(gemmSIMDLevel)")
    print(pad("GFLOP/s", 9) + pad("us/call", 10) + pad("ms/step", 9) + "   m x n x k, layout, workload")
    var total = 0.0, flopsTotal = 0.0
    setNumThreads(1)
    for (label, ta, tb, m, n, k, lda, ldb, packed, calls) in shapes {
        let aCount = (ta ? k : m) * lda, bCount = (tb ? n : k) * ldb
        let a = UnsafeMutablePointer<Float>.allocate(capacity: aCount)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: bCount)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        let pb = UnsafeMutablePointer<Float>.allocate(capacity: packedBCount(k: k, n: n))
        defer { a.deallocate(); b.deallocate(); c.deallocate(); pb.deallocate() }
        fill(a, aCount, seed: 5)
        fill(b, bCount, seed: 6)
        fill(c, m * n, seed: 7)
        packB(transB: tb, k: k, n: n, b: b, ldb: ldb, into: pb)
        let flops = 2.0 * Double(m) * Double(n) * Double(k)
        let t = bestTime(cpuTime: true) {
            if packed {
                sgemmPacked(transA: ta, m: m, n: n, k: k, a: a, lda: lda, packedB: pb, accumulate: true, c: c, ldc: n)
            } else {
                sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb,
                      accumulate: true, c: c, ldc: n)
            }
        }
        total += t * Double(calls)
        flopsTotal += flops * Double(calls)
        print(pad(fmt(flops / t / 1e9), 9) + pad(fmt(t * 1e6, 1), 10) + pad(fmt(t * Double(calls) * 1e3, 2), 9)
              + "   \(m)x\(n)x\(k) \(ta ? "T" : "N")\(tb ? "T" : "N") x\(calls)  \(label)")
    }
    print(pad(fmt(flopsTotal / total / 1e9), 9) + pad("", 10) + pad(fmt(total * 1e3, 2), 9) + "   all GEMMs of a step")
}

let args = CommandLine.arguments.dropFirst()
if args.contains("tile") {
    tileTable()
} else if args.contains("tanh-ulp") {
    tanhUlp()
} else if args.contains("step") {
    stepTable()
} else {
    let only = ["peak", "gemm", "small", "pack", "tanh", "rnn", "gated", "train"].filter { args.contains($0) }
    if only.isEmpty || only.contains("peak") {
        print("FMA peak of one core (\(gemmSIMDLevel), register-resident chains): \(fmt(fmaPeakGFLOPS(seconds: 0.3))) GFLOP/s")
    }
    if only.isEmpty || only.contains("gemm") { gemmTable() }
    if only.isEmpty || only.contains("small") { smallTable() }
    if only.isEmpty || only.contains("pack") { packTable() }
    if only.isEmpty || only.contains("rnn") { rnnTable() }
    if only.isEmpty || only.contains("gated") { gatedTable() }
    if only.isEmpty || only.contains("tanh") { tanhTable() }
    if only.isEmpty || only.contains("train") { trainTable() }
}

/// The recurrent step of RNN(256,512,2) T50 N64 alone (m=64, n=k=512, tanh): the 1-thread CPU time of
/// the pieces a 2-thread split makes (row halves, column halves and quarters), the same for the layer-1
/// input projection (3200x512x512), and wall times of single steps and of 50 chained steps, 1 vs 2
/// threads interleaved (percentiles: on a shared machine the low ones are the clean windows).
func stepTable() {
    let m = 64, H = 512, L = 50
    let w = UnsafeMutablePointer<Float>.allocate(capacity: H * H); fill(w, H * H, seed: 3)
    for i in 0..<H * H { w[i] *= 0.05 }
    let packed = UnsafeMutablePointer<Float>.allocate(capacity: packedBCount(k: H, n: H))
    packB(transB: true, k: H, n: H, b: w, ldb: H, into: packed)
    let out = UnsafeMutablePointer<Float>.allocate(capacity: (L + 1) * m * H); fill(out, (L + 1) * m * H, seed: 4)
    func run() {
        for t in 1...L {
            sgemmPacked(transA: false, m: m, n: H, k: H, a: out + (t - 1) * m * H, lda: H, packedB: packed,
                        accumulate: true, c: out + t * m * H, ldc: H, activation: .tanh)
        }
    }
    // One thread's share of the split, by thread CPU time (robust to a loaded machine).
    setNumThreads(1)
    var shares = "1T CPU time per share (k=512):"
    for (mm, nn) in [(64, 512), (64, 256), (64, 128), (32, 512), (36, 512), (28, 512), (24, 512), (16, 512), (12, 512)] {
        let t = bestTime(cpuTime: true) {
            sgemmPacked(transA: false, m: mm, n: nn, k: H, a: out, lda: H, packedB: packed,
                        accumulate: true, c: out + m * H, ldc: H, activation: .tanh)
        }
        shares += " \(mm)x\(nn): \(fmt(t * 1e6, 1))us"
    }
    print(shares)
    // The input projection of layer 1 (3200 x 512 x 512, W transposed) and its halves / quarters.
    let bigA = UnsafeMutablePointer<Float>.allocate(capacity: 3200 * 512); fill(bigA, 3200 * 512, seed: 5)
    let bigC = UnsafeMutablePointer<Float>.allocate(capacity: 3200 * 512)
    var proj = "1T CPU time, projection shares (k=512, transB):"
    for (mm, nn) in [(3200, 512), (1600, 512), (3200, 256), (3200, 128), (800, 512)] {
        let t = bestTime(cpuTime: true) {
            sgemm(transA: false, transB: true, m: mm, n: nn, k: 512, a: bigA, lda: 512, b: w, ldb: 512,
                  accumulate: false, c: bigC, ldc: 512)
        }
        proj += " \(mm)x\(nn): \(fmt(t * 1e3, 2))ms"
    }
    print(proj)
    var times: [Int: [Double]] = [1: [], 2: []]
    for _ in 0..<40 {
        for threads in [1, 2] {
            setNumThreads(threads)
            run()
            let t0 = now(); run(); times[threads]!.append((now() - t0) / Double(L))
        }
    }
    // Single calls (one step each), so that a clean window is likely even on a loaded machine.
    var single: [Int: [Double]] = [1: [], 2: []]
    for _ in 0..<100 {
        for threads in [1, 2] {
            setNumThreads(threads)
            for t in 1...L {
                let t0 = now()
                sgemmPacked(transA: false, m: m, n: H, k: H, a: out + (t - 1) * m * H, lda: H, packedB: packed,
                            accumulate: true, c: out + t * m * H, ldc: H, activation: .tanh)
                single[threads]!.append(now() - t0)
            }
        }
    }
    func pct(_ a: [Double], _ p: Double) -> Double { let s = a.sorted(); return s[Int(Double(s.count - 1) * p)] }
    let s1 = single[1]!, s2 = single[2]!
    print("single steps: 1T p1 \(fmt(pct(s1, 0.01) * 1e6, 1)) p10 \(fmt(pct(s1, 0.1) * 1e6, 1)) p50 \(fmt(pct(s1, 0.5) * 1e6, 1)); "
          + "2T p1 \(fmt(pct(s2, 0.01) * 1e6, 1)) p10 \(fmt(pct(s2, 0.1) * 1e6, 1)) p50 \(fmt(pct(s2, 0.5) * 1e6, 1)) us; "
          + "scaling p1 \(fmt(pct(s1, 0.01) / pct(s2, 0.01), 2)) p10 \(fmt(pct(s1, 0.1) / pct(s2, 0.1), 2))")
    setNumThreads(1)
    func med(_ a: [Double]) -> Double { a.sorted()[a.count / 2] }
    let t1 = times[1]!, t2 = times[2]!
    print("step m=64 n=k=512 tanh: 1T min \(fmt(t1.min()! * 1e6, 1)) med \(fmt(med(t1) * 1e6, 1)) us; "
          + "2T min \(fmt(t2.min()! * 1e6, 1)) med \(fmt(med(t2) * 1e6, 1)) us; scaling min \(fmt(t1.min()! / t2.min()!)) "
          + "med \(fmt(med(t1) / med(t2)))")
}

/// The AVX-512 tiles alone, in L1, by k depth: a tile's fixed cost (starting and storing its
/// accumulators) shows as lost GFLOP/s at small kc. Packed A (6-row micro-panels), and A's rows read
/// in place 272 floats apart (the recurrent step of a batch of 16: tiles of 6 and 10 rows). Three
/// rounds, each after an FMA peak measurement.
func tileTable() {
    #if SWIFTRNN_X86_KERNELS
    guard gemmSIMDLevel == "avx512" else { print("tile: needs the AVX-512 kernels"); return }
    let rowStride = 272
    let a = UnsafeMutablePointer<Float>.allocate(capacity: 12 * rowStride); fill(a, 12 * rowStride, seed: 1)
    let b = UnsafeMutablePointer<Float>.allocate(capacity: 96 * 256); fill(b, 96 * 256, seed: 2)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: 12 * 96); fill(c, 12 * 96, seed: 3)
    let packed = [(12, 2), (8, 3), (6, 4), (4, 6)].map { ($0.0, $0.1, true) }
    let inPlace = [(12, 2), (10, 2), (6, 4)].map { ($0.0, $0.1, false) }
    for _ in 0..<3 {
        print("FMA peak \(fmt(fmaPeakGFLOPS(seconds: 0.3))) GFLOP/s; tile GFLOP/s by kc (C loaded; A packed, "
              + "or its rows in place \(rowStride) floats apart):")
        for (rows, panels, isPacked) in packed + inPlace {
            var line = pad("\(rows)x\(panels)", 6) + (isPacked ? " packed  " : " in place")
            for kc in [16, 32, 64, 128, 256] {
                let (a1, rsA, csA) = isPacked ? (a + 6 * kc, 1, 6) : (a + 6 * rowStride, rowStride, 1)
                let t = bestTime(cpuTime: true) {
                    for _ in 0..<100 {
                        avx512Tile(rows: rows, panels: panels, kc: kc, a0: a, a1: a1, rsA: rsA, csA: csA, b: b,
                                   rsB: 16, panelStride: 16 * kc, c: c, ldc: 96, cols: 16 * panels, load: true)
                    }
                }
                line += " kc=\(kc): " + pad(fmt(Double(2 * rows * 16 * panels * kc) * 100 / t / 1e9), 6)
            }
            print(line)
        }
    }
    #endif
}

