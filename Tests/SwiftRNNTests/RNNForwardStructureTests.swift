import Testing
@testable import SwiftRNN

/// The inference forward written the plain way, as the oracle of the optimised one: serial directions,
/// a projection buffer filled with b_ih + b_hh, accumulated into by one GEMM, copied row by row into
/// the output at each step. The core (projection straight into the output rows, concurrent directions,
/// pre-packed weights) must give the same bits.
private func serialBufferedRNNForward(config: RNNConfig, parameters: [UnsafePointer<Float>], x: UnsafePointer<Float>,
                                      seqLen L: Int, batch N: Int, h0: UnsafePointer<Float>?,
                                      output: UnsafeMutablePointer<Float>, hn: UnsafeMutablePointer<Float>) {
    let H = config.hiddenSize, D = config.numDirections
    let outWidth = D * H, rows = L * N, layerCount = rows * outWidth
    let proj = UnsafeMutablePointer<Float>.allocate(capacity: max(rows * H, 1))
    let buffers = UnsafeMutablePointer<Float>.allocate(capacity: max(2 * layerCount, 1))
    let packedHH = UnsafeMutablePointer<Float>.allocate(capacity: max(packedBCount(k: H, n: H), 1))
    defer { proj.deallocate(); buffers.deallocate(); packedHH.deallocate() }
    let activation: GEMMActivation = config.nonlinearity == .tanh ? .tanh : .relu
    var input = x, inputWidth = config.inputSize, inputBatchFirst = config.batchFirst
    for layer in 0..<config.numLayers {
        let isLast = layer == config.numLayers - 1
        let layerOut = isLast ? output : buffers + (layer % 2) * layerCount
        let outBatchFirst = isLast && config.batchFirst
        for direction in 0..<D {
            let p = (layer * D + direction) * config.paramsPerDirection
            let wIH = parameters[p], wHH = parameters[p + 1]
            if config.bias {
                let bIH = parameters[p + 2], bHH = parameters[p + 3]
                for j in 0..<H { proj[j] = bIH[j] + bHH[j] }
                for r in 1..<rows { (proj + r * H).update(from: proj, count: H) }
            }
            sgemm(transA: false, transB: true, m: rows, n: H, k: inputWidth, a: input, lda: inputWidth,
                  b: wIH, ldb: inputWidth, accumulate: config.bias, c: proj, ldc: H)
            func projRows(_ t: Int) -> (UnsafeMutablePointer<Float>, Int) {
                inputBatchFirst ? (proj + t * H, L * H) : (proj + t * N * H, H)
            }
            func outRows(_ t: Int) -> (UnsafeMutablePointer<Float>, Int) {
                outBatchFirst ? (layerOut + t * outWidth + direction * H, L * outWidth)
                              : (layerOut + t * N * outWidth + direction * H, outWidth)
            }
            var previous: (UnsafePointer<Float>, Int)? = h0.map { ($0 + (layer * D + direction) * N * H, H) }
            packB(transB: true, k: H, n: H, b: wHH, ldb: H, into: packedHH)
            for step in 0..<L {
                let t = direction == 0 ? step : L - 1 - step
                let (src, srcStride) = projRows(t)
                let (dst, dstStride) = outRows(t)
                for n in 0..<N { (dst + n * dstStride).update(from: src + n * srcStride, count: H) }
                if let (h, hStride) = previous {
                    sgemmPacked(transA: false, m: N, n: H, k: H, a: h, lda: hStride, packedB: packedHH,
                                accumulate: true, c: dst, ldc: dstStride, activation: activation)
                } else {
                    for n in 0..<N {
                        switch config.nonlinearity {
                        case .tanh: tanhInPlace(dst + n * dstStride, count: H)
                        case .relu: reluInPlace(dst + n * dstStride, count: H)
                        }
                    }
                }
                previous = (UnsafePointer(dst), dstStride)
            }
            let (last, lastStride) = previous!
            let hnSlot = hn + (layer * D + direction) * N * H
            for n in 0..<N { (hnSlot + n * H).update(from: last + n * lastStride, count: H) }
        }
        input = UnsafePointer(layerOut)
        inputWidth = outWidth
        inputBatchFirst = false
    }
}

private func floats(_ count: Int, seed: UInt64, scale: Float) -> [Float] {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return (Float(s >> 40) / Float(1 << 24) - 0.5) * scale
    }
}

/// Bit patterns, so that NaNs and signed zeros compare exactly too.
private func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }

@Suite struct RNNForwardStructureTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let input: Int, hidden: Int, layers: Int, L: Int, N: Int
        let bidirectional: Bool, batchFirst: Bool, bias: Bool, relu: Bool, withH0: Bool
        var testDescription: String {
            "RNN(\(input),\(hidden),\(layers)\(bidirectional ? ",bidir" : "")\(batchFirst ? ",batch_first" : "")"
                + "\(bias ? "" : ",no bias")\(relu ? ",relu" : "")) L\(L) N\(N)\(withH0 ? " h0" : "")"
        }
    }

    /// Every layout / direction / depth / h0 / bias combination, with N < L and N > L (the two ways the
    /// reordering projection is cut) and hidden sizes that are not multiples of 16.
    static let cases: [Case] = {
        var all: [Case] = []
        // (7, 100, 9, 13): the recurrence is big enough to be cut into groups of batch rows (N = 13 -> 4, 4, 5 rows).
        // (8, 260, 3, 5): W_hh big enough to be packed in parallel chunks, its last panel partial.
        // (6, 30, 1, 3), (9, 20, 1, 1): one step of a few rows (generation): W_hh read in place, not packed.
        let shapes = [(5, 7, 4, 3), (3, 20, 3, 6), (17, 33, 1, 9), (0, 5, 2, 2), (24, 40, 6, 1), (7, 100, 9, 13),
                      (8, 260, 3, 5), (6, 30, 1, 3), (9, 20, 1, 1)]
        for (i, (input, hidden, L, N)) in shapes.enumerated() {
            for layers in [1, 2, 3] {
                for bidirectional in [false, true] {
                    for batchFirst in [false, true] {
                        for withH0 in [false, true] {
                            all.append(Case(input: input, hidden: hidden, layers: layers, L: L, N: N,
                                            bidirectional: bidirectional, batchFirst: batchFirst,
                                            bias: (i + layers) % 3 != 0, relu: (i + layers) % 2 == 1, withH0: withH0))
                        }
                    }
                }
            }
        }
        return all
    }()

    @Test("projection into the output rows, concurrent directions, pre-packed weights: the plain serial forward's bits, 1-4 threads",
          arguments: cases)
    func sameBitsAsTheSerialBufferedForward(c: Case) throws {
        let config = RNNConfig(inputSize: c.input, hiddenSize: c.hidden, numLayers: c.layers,
                               nonlinearity: c.relu ? .relu : .tanh, bias: c.bias, batchFirst: c.batchFirst,
                               bidirectional: c.bidirectional)
        let D = config.numDirections
        let params = config.parameterShapes.enumerated().map { i, s in floats(s.reduce(1, *), seed: UInt64(i + 1), scale: 0.8) }
        let x = floats(c.L * c.N * c.input, seed: 77, scale: 2)
        let h0 = floats(c.layers * D * c.N * c.hidden, seed: 78, scale: 1.5)
        var wantOut = [Float](repeating: 0, count: c.L * c.N * D * c.hidden)
        var wantHn = [Float](repeating: 0, count: c.layers * D * c.N * c.hidden)
        let pointers = params.map { p in p.withUnsafeBufferPointer { UnsafePointer<Float>(OpaquePointer($0.baseAddress!)) } }
        // W_ih and W_hh of each layer and direction packed once, as a generation loop passes them.
        let packed: [[Float]] = (0..<c.layers * D).flatMap { i -> [[Float]] in
            let p = i * config.paramsPerDirection, inWidth = i / D == 0 ? c.input : D * c.hidden
            return [(p, inWidth), (p + 1, c.hidden)].map { index, cols in
                var w = [Float](repeating: .nan, count: packedWeightCount(rows: c.hidden, cols: cols))
                if !w.isEmpty { w.withUnsafeMutableBufferPointer { packWeight(pointers[index], rows: c.hidden, cols: cols, into: $0.baseAddress!) } }
                return w
            }
        }
        let packedPointers = packed.map { p in
            p.withUnsafeBufferPointer { UnsafePointer<Float>(OpaquePointer($0.baseAddress ?? UnsafePointer(bitPattern: 4)!)) }
        }
        // (The arrays outlive every use below: they are not mutated, so their storage does not move.)
        try withExtendedLifetime((params, packed)) {
            try x.withUnsafeBufferPointer { xp in
                try h0.withUnsafeBufferPointer { hp in
                    let xBase = xp.baseAddress ?? UnsafePointer(bitPattern: 4)!
                    let h0p = c.withH0 ? hp.baseAddress : nil
                    setNumThreads(1)
                    wantOut.withUnsafeMutableBufferPointer { o in
                        wantHn.withUnsafeMutableBufferPointer { h in
                            serialBufferedRNNForward(config: config, parameters: pointers, x: xBase, seqLen: c.L, batch: c.N,
                                                     h0: h0p, output: o.baseAddress!, hn: h.baseAddress!)
                        }
                    }
                    for threads in [1, 2, 3, 4] {
                        setNumThreads(threads)
                        defer { setNumThreads(1) }
                        for prePacked in [false, true] {  // packing per call, or the caller's packed weights
                            var out = [Float](repeating: .nan, count: wantOut.count)
                            var hn = [Float](repeating: .nan, count: wantHn.count)
                            try pointers.withUnsafeBufferPointer { pp in
                                try packedPointers.withUnsafeBufferPointer { packs in
                                    try out.withUnsafeMutableBufferPointer { o in
                                        try hn.withUnsafeMutableBufferPointer { h in
                                            try rnnForward(config: config, parameters: pp, x: xBase, seqLen: c.L, batch: c.N,
                                                           h0: h0p, dropoutMasks: nil, output: o.baseAddress!, hn: h.baseAddress!,
                                                           packedWeights: prePacked ? packs : nil)
                                        }
                                    }
                                }
                            }
                            #expect(bits(out) == bits(wantOut), "output, \(threads) threads, pre-packed \(prePacked)")
                            #expect(bits(hn) == bits(wantHn), "hn, \(threads) threads, pre-packed \(prePacked)")
                        }
                    }
                }
            }
        }
    }

    @Test("bidirectional, big enough for threaded GEMMs and batch groups: 2 and 4 threads == 1 thread, bit for bit")
    func bidirectionalThreads() throws {
        let config = RNNConfig(inputSize: 48, hiddenSize: 160, numLayers: 2, batchFirst: true, bidirectional: true)
        let L = 7, N = 70
        let params = config.parameterShapes.enumerated().map { i, s in floats(s.reduce(1, *), seed: UInt64(i + 40), scale: 0.3) }
        let x = floats(L * N * 48, seed: 5, scale: 2)
        let pointers = params.map { p in p.withUnsafeBufferPointer { UnsafePointer<Float>(OpaquePointer($0.baseAddress!)) } }
        var results: [[UInt32]] = []
        try withExtendedLifetime(params) {
            for threads in [1, 2, 1, 2, 4] {
                setNumThreads(threads)
                defer { setNumThreads(1) }
                var out = [Float](repeating: .nan, count: L * N * 2 * 160)
                var hn = [Float](repeating: .nan, count: 2 * 2 * N * 160)
                try pointers.withUnsafeBufferPointer { pp in
                    try x.withUnsafeBufferPointer { xp in
                        try out.withUnsafeMutableBufferPointer { o in
                            try hn.withUnsafeMutableBufferPointer { h in
                                try rnnForward(config: config, parameters: pp, x: xp.baseAddress!, seqLen: L, batch: N,
                                               h0: nil, dropoutMasks: nil, output: o.baseAddress!, hn: h.baseAddress!)
                            }
                        }
                    }
                }
                results.append(bits(out) + bits(hn))
            }
        }
        for r in results.dropFirst() { #expect(r == results[0]) }
    }

    @Test("the recurrence is cut into batch groups only when it pays")
    func recurrentGroupChoice() {
        #expect(recurrentGroups(batch: 13, hidden: 100, seqLen: 9, directions: 1, threads: 3) == 3)  // the case above
        #expect(recurrentGroups(batch: 13, hidden: 100, seqLen: 9, directions: 2, threads: 4) == 2)
        #expect(recurrentGroups(batch: 13, hidden: 100, seqLen: 9, directions: 2, threads: 3) == 1)
        #expect(recurrentGroups(batch: 64, hidden: 512, seqLen: 50, directions: 1, threads: 2) == 2)
        #expect(recurrentGroups(batch: 64, hidden: 512, seqLen: 50, directions: 1, threads: 1) == 1)
        #expect(recurrentGroups(batch: 7, hidden: 2048, seqLen: 50, directions: 1, threads: 2) == 1)  // per-step GEMM threads
        #expect(recurrentGroups(batch: 16, hidden: 8, seqLen: 3, directions: 1, threads: 2) == 1)     // too little work
    }

    @Test("training forward (saved states, dropout masks): 1, 2 and 4 threads give the same bits; without masks it equals inference",
          arguments: [false, true])
    func trainingForwardThreads(bidirectional: Bool) throws {
        let config = RNNConfig(inputSize: 6, hiddenSize: 100, numLayers: 3, batchFirst: true, bidirectional: bidirectional)
        let D = config.numDirections, L = 9, N = 13, H = 100
        let params = config.parameterShapes.enumerated().map { i, s in floats(s.reduce(1, *), seed: UInt64(i + 90), scale: 0.4) }
        let x = floats(L * N * 6, seed: 8, scale: 2)
        let h0 = floats(3 * D * N * H, seed: 9, scale: 1)
        let masks = floats(2 * L * N * D * H, seed: 10, scale: 2).map { $0 > 0 ? Float(2) : 0 }
        let pointers = params.map { p in p.withUnsafeBufferPointer { UnsafePointer<Float>(OpaquePointer($0.baseAddress!)) } }
        func run(threads: Int, withMasks: Bool, saving: Bool) throws -> [UInt32] {
            setNumThreads(threads)
            defer { setNumThreads(1) }
            var out = [Float](repeating: .nan, count: L * N * D * H)
            var hn = [Float](repeating: .nan, count: 3 * D * N * H)
            var saved = [Float](repeating: .nan, count: saving ? 3 * L * N * D * H : 1)
            try pointers.withUnsafeBufferPointer { pp in
                try x.withUnsafeBufferPointer { xp in
                    try h0.withUnsafeBufferPointer { hp in
                        try masks.withUnsafeBufferPointer { mp in
                            try out.withUnsafeMutableBufferPointer { o in
                                try hn.withUnsafeMutableBufferPointer { h in
                                    try saved.withUnsafeMutableBufferPointer { sp in
                                        try rnnForward(config: config, parameters: pp, x: xp.baseAddress!, seqLen: L, batch: N,
                                                       h0: hp.baseAddress, dropoutMasks: withMasks ? mp.baseAddress : nil,
                                                       output: o.baseAddress!, hn: h.baseAddress!,
                                                       saved: saving ? sp.baseAddress! : nil)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            return bits(out) + bits(hn) + (saving ? bits(saved) : [])
        }
        try withExtendedLifetime(params) {
            let trained = try run(threads: 1, withMasks: true, saving: true)
            for threads in [2, 4] { #expect(try run(threads: threads, withMasks: true, saving: true) == trained) }
            let inference = try run(threads: 1, withMasks: false, saving: false)
            for threads in [1, 2] {
                let plain = try run(threads: threads, withMasks: false, saving: true)
                #expect(Array(plain.prefix(inference.count)) == inference)
            }
        }
    }

    @Test("without h0, an Inf or NaN in a W_hh gives torch's NaNs: the bits of an explicit zero h0",
          arguments: [(0, 0, Float.infinity), (1, 1, -Float.infinity), (1, 0, Float.nan)])
    func nonFiniteRecurrentWeightWithoutH0(layer: Int, direction: Int, value: Float) throws {
        // 0·Inf = NaN: torch multiplies its zero initial state by W_hh, so the NaN reaches every later step.
        let config = RNNConfig(inputSize: 5, hiddenSize: 20, numLayers: 2, bidirectional: true)
        let D = 2, L = 4, N = 3, H = 20
        var params = config.parameterShapes.enumerated().map { i, s in floats(s.reduce(1, *), seed: UInt64(i + 40), scale: 0.4) }
        params[(layer * D + direction) * config.paramsPerDirection + 1][2 * H + 7] = value
        let x = floats(L * N * 5, seed: 3, scale: 1)
        let zeros = [Float](repeating: 0, count: 2 * D * N * H)
        let pointers = params.map { p in p.withUnsafeBufferPointer { UnsafePointer<Float>(OpaquePointer($0.baseAddress!)) } }
        func run(h0: [Float]?) throws -> (out: [Float], hn: [Float]) {
            var out = [Float](repeating: 7, count: L * N * D * H), hn = [Float](repeating: 7, count: 2 * D * N * H)
            try pointers.withUnsafeBufferPointer { pp in
                try x.withUnsafeBufferPointer { xp in
                    try out.withUnsafeMutableBufferPointer { o in
                        try hn.withUnsafeMutableBufferPointer { h in
                            if let h0 {
                                try h0.withUnsafeBufferPointer { hp in
                                    try rnnForward(config: config, parameters: pp, x: xp.baseAddress!, seqLen: L, batch: N,
                                                   h0: hp.baseAddress, dropoutMasks: nil, output: o.baseAddress!, hn: h.baseAddress!)
                                }
                            } else {
                                try rnnForward(config: config, parameters: pp, x: xp.baseAddress!, seqLen: L, batch: N,
                                               h0: nil, dropoutMasks: nil, output: o.baseAddress!, hn: h.baseAddress!)
                            }
                        }
                    }
                }
            }
            return (out, hn)
        }
        let (omitted, explicit) = try withExtendedLifetime(params) { (try run(h0: nil), try run(h0: zeros)) }
        #expect(bits(omitted.out) == bits(explicit.out))
        #expect(bits(omitted.hn) == bits(explicit.hn))
        // The NaN reaches hn of that layer and direction for every sequence, and the last layer's output.
        let block = (layer * D + direction) * N * H
        let hnAllNaN = omitted.hn[block..<(block + N * H)].allSatisfy { $0.isNaN }
        let outHasNaN = omitted.out.contains { $0.isNaN }
        #expect(hnAllNaN)
        #expect(outHasNaN)
    }

}
