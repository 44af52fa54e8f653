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

/// rnnBackward with dpre's rows padded (`paddedRowStride`, the default for H a multiple of 32 from 64 on)
/// against unpadded rows: the same bits for every gradient, across layers, directions, layouts, h0,
/// grad_hn and dropout masks.
@Suite struct PaddedBPTTTests {
    static let configs: [(RNNConfig, batch: Int, h0: Bool, gradHn: Bool, masks: Bool)] = [
        (RNNConfig(inputSize: 24, hiddenSize: 64), 5, false, false, false),
        (RNNConfig(inputSize: 24, hiddenSize: 64, nonlinearity: .relu), 3, true, true, false),
        (RNNConfig(inputSize: 16, hiddenSize: 96, numLayers: 2, batchFirst: true, bidirectional: true), 4, true, true, true),
        (RNNConfig(inputSize: 8, hiddenSize: 128, numLayers: 3, bias: false), 2, true, false, true),
        (RNNConfig(inputSize: 8, hiddenSize: 64, batchFirst: true), 7, false, true, false),
    ]

    @Test(arguments: 0..<configs.count)
    func paddedAndUnpaddedRowsGiveTheSameBits(_ which: Int) throws {
        let (c, N, withH0, withGradHn, withMasks) = Self.configs[which]
        #expect(paddedRowStride(c.hiddenSize) != c.hiddenSize)
        var r = TestRandom(state: UInt64(101 + which))
        let L = 6, D = c.numDirections, H = c.hiddenSize
        let params = c.parameterShapes.map { r.tensor($0, 0.3) }
        let x = r.tensor(c.batchFirst ? [N, L, c.inputSize] : [L, N, c.inputSize])
        let hShape = [D * c.numLayers, N, H]
        let h0 = withH0 ? r.tensor(hShape) : nil
        let masks: Tensor? = withMasks && c.numLayers > 1
            ? try Tensor(shape: [c.numLayers - 1, L, N, D * H],
                         scalars: (0..<((c.numLayers - 1) * L * N * D * H)).map { _ in r.next() > -0.4 ? 1.6 : 0 })
            : nil
        let rnn = try RNN(inputSize: c.inputSize, hiddenSize: H, numLayers: c.numLayers, nonlinearity: c.nonlinearity,
                          bias: c.bias, batchFirst: c.batchFirst, bidirectional: c.bidirectional, parameters: params)
        let (out, _, record) = try rnn.trainingForward(x, h0: h0, dropoutMasks: masks)
        let gradOut = r.tensor(out.shape)
        let gradHn = withGradHn ? r.tensor(hShape) : nil

        func run(pad: Bool) throws -> [[Float]] {
            var grads = params.map { [Float](repeating: 0.25, count: $0.count) }  // accumulated into
            var gx = [Float](repeating: 0, count: x.count), gh0 = [Float](repeating: 0, count: hShape.reduce(1, *))
            var failure: SwiftRNNError?
            let pointers = params.map { $0.scalars.withUnsafeBufferPointer { UnsafePointer($0.baseAddress!) } }
            var buffers: [UnsafeMutablePointer<Float>?] = []
            for i in grads.indices {
                let p = UnsafeMutablePointer<Float>.allocate(capacity: grads[i].count)
                p.initialize(from: grads[i], count: grads[i].count)
                buffers.append(p)
            }
            defer { for b in buffers { b?.deallocate() } }
            // The tensors stay alive (and unmodified) for the whole call: their storage is stable.
            withExtendedLifetime(params) {
                pointers.withUnsafeBufferPointer { pp in
                    buffers.withUnsafeBufferPointer { gp in
                        x.scalars.withUnsafeBufferPointer { xp in
                            record.states.scalars.withUnsafeBufferPointer { sp in
                                gradOut.scalars.withUnsafeBufferPointer { gop in
                                    gx.withUnsafeMutableBufferPointer { gxp in
                                        gh0.withUnsafeMutableBufferPointer { g0p in
                                            let h0p = h0?.scalars.withUnsafeBufferPointer { $0.baseAddress! }
                                            let mp = masks?.scalars.withUnsafeBufferPointer { $0.baseAddress! }
                                            let ghp = gradHn?.scalars.withUnsafeBufferPointer { $0.baseAddress! }
                                            do throws(SwiftRNNError) {
                                                try rnnBackward(config: c, parameters: pp, x: xp.baseAddress!, seqLen: L,
                                                                batch: N, h0: h0p, dropoutMasks: mp, saved: sp.baseAddress!,
                                                                gradOutput: gop.baseAddress!, gradHn: ghp,
                                                                parameterGradients: gp, gradInput: gxp.baseAddress!,
                                                                gradH0: g0p.baseAddress!, padRows: pad)
                                            } catch { failure = error }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if let failure { throw failure }
            for i in grads.indices { grads[i] = Array(UnsafeBufferPointer(start: buffers[i]!, count: grads[i].count)) }
            return grads + [gx, gh0]
        }
        let padded = try run(pad: true), plain = try run(pad: false)
        for (i, (a, b)) in zip(padded, plain).enumerated() {
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "gradient \(i)")
            #expect(a.contains { $0 != 0.25 && $0 != 0 }, "gradient \(i) is trivial")
        }
    }
}
