#if canImport(Glibc)
import Glibc
#endif
import CSwiftRNN
import SwiftRNNVectorMath
import Testing
import SwiftRNNCAPI
@testable import SwiftRNN

/// Deterministic pseudo-random numbers for the tests (a 64-bit LCG), uniform in [-scale, scale).
struct TestRandom {
    var state: UInt64
    mutating func next(_ scale: Float = 1) -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
    }
    mutating func tensor(_ shape: [Int], _ scale: Float = 1) -> Tensor {
        try! Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in next(scale) })
    }
    mutating func index(_ bound: Int) -> Int { Int((next() + 1) / 2 * Float(bound)) % bound }
}

/// Embedding -> RNN -> Linear -> cross-entropy (sum) + Σ hn·R, small enough for finite differences.
struct TinyModel {
    var embedding: Embedding
    var rnn: RNN
    var fc: Linear
    let tokens: [Int], tokenShape: [Int], targets: [Int]
    let h0: Tensor?, masks: Tensor?, hnWeight: Tensor

    init(config c: RNNConfig, vocab: Int, seqLen L: Int, batch N: Int?, seed: UInt64, withH0: Bool, dropout: Bool) throws {
        var r = TestRandom(state: seed)
        embedding = try Embedding(weight: r.tensor([vocab, c.inputSize]))
        rnn = try RNN(inputSize: c.inputSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers,
                      nonlinearity: c.nonlinearity, bias: c.bias, batchFirst: c.batchFirst,
                      bidirectional: c.bidirectional, parameters: c.parameterShapes.map { r.tensor($0, 0.6) })
        let D = c.numDirections, H = c.hiddenSize
        fc = try Linear(weight: r.tensor([vocab, D * H], 0.5), bias: r.tensor([vocab], 0.5))
        tokenShape = N.map { c.batchFirst ? [$0, L] : [L, $0] } ?? [L]
        let count = tokenShape.reduce(1, *)
        tokens = (0..<count).map { _ in r.index(vocab) }
        targets = (0..<count).map { _ in r.index(vocab) }
        let hShape = N.map { [D * c.numLayers, $0, H] } ?? [D * c.numLayers, H]
        h0 = withH0 ? r.tensor(hShape, 0.5) : nil
        masks = dropout && c.numLayers > 1
            ? try Tensor(shape: [c.numLayers - 1, L, N ?? 1, D * H], scalars: (0..<((c.numLayers - 1) * L * (N ?? 1) * D * H)).map { _ in r.next() > 0 ? 2 : 0 })
            : nil
        hnWeight = r.tensor(hShape)
    }

    func loss() throws -> Float {
        var e = embedding
        let x = try e(tokens, shape: tokenShape)
        let (out, hn, _) = try rnn.trainingForward(x, h0: h0, dropoutMasks: masks)
        let logits = try fc(out)
        let (ce, _) = try crossEntropy(logits: logits.reshapedToRows(), targets: targets, reduction: .sum)
        return ce.scalars[0] + zip(hn.scalars, hnWeight.scalars).reduce(0) { $0 + $1.0 * $1.1 }
    }

    /// Analytic gradients: embedding weight, RNN parameters, fc weight and bias, h0.
    func gradients() throws -> (embedding: Tensor, rnn: [Tensor], fcWeight: Tensor, fcBias: Tensor, h0: Tensor) {
        var e = embedding
        let x = try e(tokens, shape: tokenShape)
        let (out, _, record) = try rnn.trainingForward(x, h0: h0, dropoutMasks: masks)
        let logits = try fc(out)
        let (_, dLogits) = try crossEntropy(logits: logits.reshapedToRows(), targets: targets, reduction: .sum)
        var gW = Tensor(zeros: fc.weight.shape)
        var gB: Tensor? = Tensor(zeros: fc.bias!.shape)
        let dOut = try fc.backward(input: out, gradOutput: Tensor(shape: logits.shape, scalars: dLogits.scalars),
                                   weightGradient: &gW, biasGradient: &gB)
        var rnnGrads = rnn.parameters.map { Tensor(zeros: $0.shape) }
        let (dx, dh0) = try rnn.backward(record, gradOutput: dOut, gradHn: hnWeight, parameterGradients: &rnnGrads)
        var gE = Tensor(zeros: embedding.weight.shape)
        try embedding.backward(indices: tokens, gradOutput: dx, weightGradient: &gE)
        return (gE, rnnGrads, gW, gB!, dh0)
    }
}

extension Tensor {
    /// The same elements as (rows, last dimension).
    func reshapedToRows() throws -> Tensor {
        try Tensor(shape: [count / shape[rank - 1], shape[rank - 1]], scalars: scalars)
    }
}

/// Central differences of `f` w.r.t. a few entries of a tensor, compared with `analytic`.
func checkFiniteDifferences(_ name: String, _ analytic: Tensor, entries: Int = 12, eps: Float = 1e-2,
                            perturb: (Int, Float) throws -> Float) throws {
    let stride = max(1, analytic.count / entries)
    var worst: Float = 0
    for i in Swift.stride(from: 0, to: analytic.count, by: stride) {
        let fd = (try perturb(i, eps) - perturb(i, -eps)) / (2 * eps)
        let a = analytic.scalars[i]
        let err = abs(fd - a) / (5e-3 + 2e-2 * abs(a))
        worst = max(worst, err)
        #expect(err <= 1, "\(name)[\(i)]: analytic \(a), finite difference \(fd)")
    }
    #expect(worst <= 1)
}

@Suite struct TrainingTests {
    static let configs: [(RNNConfig, batch: Int?, h0: Bool, dropout: Bool)] = [
        (RNNConfig(inputSize: 3, hiddenSize: 4), 2, false, false),
        (RNNConfig(inputSize: 3, hiddenSize: 4, numLayers: 2, batchFirst: true, bidirectional: true), 3, true, true),
        (RNNConfig(inputSize: 2, hiddenSize: 3, numLayers: 3, bias: false), 2, true, false),
        (RNNConfig(inputSize: 3, hiddenSize: 4, bidirectional: true), nil, true, false),  // unbatched
    ]

    @Test(arguments: 0..<configs.count)
    func gradientsMatchFiniteDifferences(_ which: Int) throws {
        let (config, batch, withH0, dropout) = Self.configs[which]
        let model = try TinyModel(config: config, vocab: 5, seqLen: 4, batch: batch, seed: UInt64(17 + which),
                                  withH0: withH0, dropout: dropout)
        let g = try model.gradients()
        for (p, name) in config.parameterNames.enumerated() {
            try checkFiniteDifferences(name, g.rnn[p]) { i, d in
                var m = model
                m.rnn.parameters[p].scalars[i] += d
                return try m.loss()
            }
        }
        try checkFiniteDifferences("fc.weight", g.fcWeight) { i, d in
            var m = model; m.fc.weight.scalars[i] += d; return try m.loss()
        }
        try checkFiniteDifferences("fc.bias", g.fcBias) { i, d in
            var m = model; m.fc.bias!.scalars[i] += d; return try m.loss()
        }
        try checkFiniteDifferences("embedding.weight", g.embedding) { i, d in
            var m = model; m.embedding.weight.scalars[i] += d; return try m.loss()
        }
        if let h0 = model.h0 {
            try checkFiniteDifferences("h0", g.h0) { i, d in
                var s = h0; s.scalars[i] += d
                return try model.replacingH0(s).loss()
            }
        }
    }

    @Test func tinyCharModelLearnsARepeatingSequence() throws {
        // "abcabc...": after training, the loss of predicting the next letter is far below chance (ln 3).
        var r = TestRandom(state: 3)
        let V = 3, E = 4, H = 8, L = 12
        var embedding = try Embedding(weight: r.tensor([V, E]))
        var rnn = try RNN(inputSize: E, hiddenSize: H, parameters: RNNConfig(inputSize: E, hiddenSize: H).parameterShapes.map { r.tensor($0, 0.35) })
        var fc = try Linear(weight: r.tensor([V, H], 0.35), bias: r.tensor([V], 0.35))
        let tokens = (0..<L).map { $0 % V }, targets = (0..<L).map { ($0 + 1) % V }
        var adam = try Adam(lr: 0.05)
        var first: Float = 0, last: Float = 0
        for step in 0..<150 {
            let x = try embedding(tokens, shape: [L, 1])
            let (out, _, record) = try rnn.trainingForward(x)
            let logits = try fc(out)
            let (loss, dLogits) = try crossEntropy(logits: logits.reshapedToRows(), targets: targets)
            if step == 0 { first = loss.scalars[0] }
            last = loss.scalars[0]
            var gW = Tensor(zeros: fc.weight.shape), gB: Tensor? = Tensor(zeros: [V])
            let dOut = try fc.backward(input: out, gradOutput: Tensor(shape: logits.shape, scalars: dLogits.scalars),
                                       weightGradient: &gW, biasGradient: &gB)
            var rnnGrads = rnn.parameters.map { Tensor(zeros: $0.shape) }
            let (dx, _) = try rnn.backward(record, gradOutput: dOut, parameterGradients: &rnnGrads)
            var gE = Tensor(zeros: embedding.weight.shape)
            try embedding.backward(indices: tokens, gradOutput: dx, weightGradient: &gE)
            var params = [embedding.weight] + rnn.parameters + [fc.weight, fc.bias!]
            try adam.step(&params, gradients: [gE] + rnnGrads + [gW, gB!])
            embedding.weight = params[0]
            rnn.parameters = Array(params[1...4])
            fc.weight = params[5]; fc.bias = params[6]
        }
        #expect(first > 0.8)
        #expect(last < 0.05, "loss went from \(first) to \(last)")
    }

    @Test func inputGradientOfASequenceDoesNotDependOnItsBatch() throws {
        // The same sequence alone and as row 1 of a batch of 3: bitwise the same input and h0 gradients.
        var r = TestRandom(state: 99)
        let c = RNNConfig(inputSize: 5, hiddenSize: 7, numLayers: 2, bidirectional: true)
        let rnn = try RNN(inputSize: 5, hiddenSize: 7, numLayers: 2, bidirectional: true,
                          parameters: c.parameterShapes.map { r.tensor($0, 0.4) })
        let L = 6, N = 3
        let xb = r.tensor([L, N, 5]), gb = r.tensor([L, N, 14])
        let x1 = try Tensor(shape: [L, 1, 5], scalars: (0..<L).flatMap { t in xb.scalars[(t * N + 1) * 5..<(t * N + 2) * 5] })
        let g1 = try Tensor(shape: [L, 1, 14], scalars: (0..<L).flatMap { t in gb.scalars[(t * N + 1) * 14..<(t * N + 2) * 14] })
        var gradsB = rnn.parameters.map { Tensor(zeros: $0.shape) }, grads1 = gradsB
        let (_, _, recB) = try rnn.trainingForward(xb)
        let (dxB, dh0B) = try rnn.backward(recB, gradOutput: gb, parameterGradients: &gradsB)
        let (_, _, rec1) = try rnn.trainingForward(x1)
        let (dx1, dh01) = try rnn.backward(rec1, gradOutput: g1, parameterGradients: &grads1)
        for t in 0..<L {
            #expect(Array(dxB.scalars[(t * N + 1) * 5..<(t * N + 2) * 5]) == Array(dx1.scalars[t * 5..<(t + 1) * 5]))
        }
        for s in 0..<4 {
            #expect(Array(dh0B.scalars[(s * N + 1) * 7..<(s * N + 2) * 7]) == Array(dh01.scalars[s * 7..<(s + 1) * 7]))
        }
    }

    @Test("without h0, an Inf or NaN in the first step's dpre makes dW_hh NaN, as torch's zero h0 does",
          arguments: [Float.infinity, .nan])
    func omittedH0GradientMatchesAnExplicitZeroH0(bad: Float) throws {
        // torch adds dpre_firstᵀ·h0 with h0 = 0, NaN where dpre is not finite (0·Inf): an omitted h0 must
        // give the bits of an explicit zero h0, in both directions (the reverse one starts at t = L - 1).
        var r = TestRandom(state: 17)
        let c = RNNConfig(inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true)
        let rnn = try RNN(inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true,
                          parameters: c.parameterShapes.map { r.tensor($0, 0.5) })
        let L = 4, N = 2
        let x = r.tensor([L, N, 3])
        var g = r.tensor([L, N, 10])
        var scalars = g.scalars
        scalars[1 * 10 + 2] = bad                // t = 0, sequence 1, forward direction
        scalars[((L - 1) * N) * 10 + 5 + 3] = bad  // t = L - 1, sequence 0, reverse direction
        g = try Tensor(shape: g.shape, scalars: scalars)
        func grads(_ h0: Tensor?) throws -> [[UInt32]] {
            var gs = rnn.parameters.map { Tensor(zeros: $0.shape) }
            let (_, _, record) = try rnn.trainingForward(x, h0: h0)
            let (dx, _) = try rnn.backward(record, gradOutput: g, parameterGradients: &gs)
            return (gs + [dx]).map { $0.scalars.map(\.bitPattern) }
        }
        let omitted = try grads(nil), explicit = try grads(Tensor(zeros: [4, N, 5]))
        #expect(omitted == explicit)
        let hhGradients = [1, 5, 9, 13].map { omitted[$0] }  // weight_hh of each layer and direction
        let nanCounts = hhGradients.map { $0.filter { Float(bitPattern: $0).isNaN }.count }
        #expect(nanCounts[0] > 0 && nanCounts[1] > 0)
    }

    @Test func trainingForwardMatchesInference() throws {
        var r = TestRandom(state: 5)
        let c = RNNConfig(inputSize: 3, hiddenSize: 4, numLayers: 3, batchFirst: true, bidirectional: true)
        let rnn = try RNN(inputSize: 3, hiddenSize: 4, numLayers: 3, batchFirst: true, bidirectional: true,
                          parameters: c.parameterShapes.map { r.tensor($0) })
        let x = r.tensor([2, 5, 3]), h0 = r.tensor([6, 2, 4])
        let (out, hn) = try rnn(x, h0: h0)
        let (tOut, tHn, record) = try rnn.trainingForward(x, h0: h0)
        #expect(out == tOut && hn == tHn)
        #expect(record.states.shape == [3, 5, 2, 8])
        // The last layer's saved states are the output, time-major.
        #expect(record.states.scalars[(2 * 5 * 2 + 3 * 2 + 1) * 8] == out.scalars[(1 * 5 + 3) * 8])
    }

    @Test func crossEntropyByHand() throws {
        // logits (0, 0), target 0: loss ln 2, gradient (p − onehot) = (−0.5, 0.5).
        let (loss, grad) = try crossEntropy(logits: Tensor(shape: [1, 2], scalars: [0, 0]), targets: [0])
        #expect(abs(loss.scalars[0] - 0.6931472) < 1e-6)
        #expect(grad.scalars == [-0.5, 0.5])
        // Label smoothing 0.2 over 2 classes: the target is (0.9, 0.1); the gradient p − target.
        let (_, smooth) = try crossEntropy(logits: Tensor(shape: [1, 2], scalars: [0, 0]), targets: [0], labelSmoothing: 0.2)
        #expect(abs(smooth.scalars[0] + 0.4) < 1e-6 && abs(smooth.scalars[1] - 0.4) < 1e-6)
        // An ignored position: no loss, no gradient; the mean is over the others.
        let (l2, g2) = try crossEntropy(logits: Tensor(shape: [2, 2], scalars: [0, 0, 5, -5]), targets: [0, -100])
        #expect(abs(l2.scalars[0] - 0.6931472) < 1e-6)
        #expect(g2.scalars[2] == 0 && g2.scalars[3] == 0)
        // All ignored with 'mean': NaN, as torch.
        let (l3, _) = try crossEntropy(logits: Tensor(shape: [1, 2], scalars: [1, 2]), targets: [-100])
        #expect(l3.scalars[0].isNaN)
        #expect(throws: SwiftRNNError.indexOutOfRange("target 2 is out of range for 2 classes: expected 0 to 1 or ignore_index (-100)")) {
            try crossEntropy(logits: Tensor(shape: [1, 2], scalars: [0, 0]), targets: [2])
        }
    }

    @Test func crossEntropyInPlaceBackwardEqualsAccumulatingIntoZeros() throws {
        // (N, C, d) logits with class weights, smoothing, 'none' and an ignored position.
        var r = TestRandom(state: 11)
        let logits = r.tensor([2, 3, 4], 3), weight = r.tensor([3], 0.4).scalars.map { $0 + 1 }
        let targets: [Int64] = [0, 2, 1, -1, 2, 2, 0, 1], gradLoss = r.tensor([2, 4]).scalars
        var probs = [Float](repeating: 0, count: 24), loss = [Float](repeating: 0, count: 8)
        var accumulated = [Float](repeating: 0, count: 24)
        try logits.scalars.withUnsafeBufferPointer { lp in
            try crossEntropyForward(logits: lp.baseAddress!, outer: 2, classes: 3, inner: 4, targets: targets, weight: weight,
                                    ignoreIndex: -1, reduction: .none, labelSmoothing: 0.1, loss: &loss, probabilities: &probs)
        }
        try crossEntropyBackward(probabilities: probs, outer: 2, classes: 3, inner: 4, targets: targets, weight: weight,
                                 ignoreIndex: -1, reduction: .none, labelSmoothing: 0.1, gradLoss: gradLoss,
                                 gradLogits: &accumulated)
        try crossEntropyBackwardInPlace(probabilities: &probs, outer: 2, classes: 3, inner: 4, targets: targets,
                                        weight: weight, ignoreIndex: -1, reduction: .none, labelSmoothing: 0.1,
                                        gradLoss: gradLoss)
        #expect(probs == accumulated)
        #expect(loss[3] == 0 && probs[3] == 0 && probs[7] == 0 && probs[11] == 0)  // the ignored position
    }

    @Test("rowMax: the largest element wherever it is, for every row length; NaN anywhere gives NaN")
    func rowMaxEveryPositionAndLength() {
        var r = TestRandom(state: 5)
        for n in [1, 2, 7, 8, 9, 31, 32, 33, 40, 63, 64, 65, 100, 459] {
            var row = (0..<n).map { _ in r.next(50) }
            for at in 0..<n {
                let saved = row[at]
                row[at] = 60
                #expect(rowMax(row, count: n) == 60, "n \(n), max at \(at)")
                row[at] = .nan
                #expect(rowMax(row, count: n).isNaN, "n \(n), NaN at \(at)")
                row[at] = saved
            }
            #expect(rowMax(row, count: n) == row.max()!)
            let negative = row.map { -abs($0) - 1 }  // all below -1: the max is not the -inf start value
            #expect(rowMax(negative, count: n) == negative.max()!)
        }
    }

    @Test func expLanesIsCloseToLibm() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88.5 {
            let v = expLanes(SIMD8(repeating: x))[0], e = expf(x)
            worst = max(worst, abs(v - e) / e.ulp)
            x += 0.0137
        }
        #expect(worst <= 2, "worst error \(worst) ulp")
        let edge = expLanes(SIMD8(-.infinity, .infinity, .nan, -100, 100, 0, -0.0, 88.7))
        #expect(edge[0] == 0 && edge[1] == .infinity && edge[2].isNaN && edge[3] == 0 && edge[4] == .infinity)
        #expect(edge[5] == 1 && edge[6] == 1 && edge[7].isFinite)
    }

    @Test("pNorm: a NaN makes every p-norm NaN but p = 0's count; huge floats keep a finite norm")
    func pNormNaNAndRange() {
        let x: [Float] = [3, .nan, -4]
        for p: Double in [.infinity, -Double.infinity, 2, 1, 3] { #expect(pNorm(x, count: 3, p: p).isNaN, "p = \(p)") }
        #expect(pNorm(x, count: 3, p: 0) == 3)
        #expect(Float(pNorm([3e30, -4e30], count: 2, p: 2)) == 5e30)  // squares in double: no float overflow
        #expect(pNorm([3, -4], count: 2, p: .infinity) == 4 && pNorm([3, -4], count: 2, p: -.infinity) == 3)
    }

    @Test func sgdAndAdamByHand() throws {
        // SGD, momentum 0.9: buf = g = 0.5, p = 1 − 0.1·0.5 = 0.95; then buf = 0.9·0.5 + 0.5 = 0.95, p = 0.95 − 0.095.
        var sgd = try SGD(lr: 0.1, momentum: 0.9)
        var p = [try Tensor(shape: [1], scalars: [1])]
        let g = [try Tensor(shape: [1], scalars: [0.5])]
        try sgd.step(&p, gradients: g)
        #expect(p[0].scalars[0] == 0.95)
        try sgd.step(&p, gradients: g)
        #expect(abs(p[0].scalars[0] - 0.855) < 1e-6)
        // Adam's first step moves each parameter by lr against its gradient's sign (|m̂ / sqrt(v̂)| = 1).
        var adam = try Adam(lr: 0.01)
        var q = [try Tensor(shape: [2], scalars: [1, 1])]
        try adam.step(&q, gradients: [try Tensor(shape: [2], scalars: [3, -0.001])])
        #expect(abs(q[0].scalars[0] - 0.99) < 1e-6 && abs(q[0].scalars[1] - 1.01) < 1e-5)
        // AdamW first decays: p·(1 − lr·wd).
        var adamW = try Adam.adamW(lr: 0.1, weightDecay: 0.5)
        var w = [try Tensor(shape: [1], scalars: [2])]
        try adamW.step(&w, gradients: [try Tensor(shape: [1], scalars: [0])])
        #expect(w[0].scalars[0] == 2 * Float(1 - 0.1 * 0.5))
        #expect(throws: SwiftRNNError.self) { try SGD(lr: 0.1, nesterov: true) }
        #expect(throws: SwiftRNNError.self) { try adam.step(&q, gradients: []) }
    }

    @Test func clippingByHand() {
        var grads = [try! Tensor(shape: [2], scalars: [3, 0]), try! Tensor(shape: [1], scalars: [4])]
        let total = clipGradNorm(&grads, maxNorm: 1)
        #expect(total == 5)
        #expect(abs(grads[0].scalars[0] - 0.6) < 1e-6 && abs(grads[1].scalars[0] - 0.8) < 1e-6)
        var small = [try! Tensor(shape: [1], scalars: [0.5])]
        #expect(clipGradNorm(&small, maxNorm: 1) == 0.5)
        #expect(small[0].scalars[0] == 0.5)  // a norm under max_norm is left alone (the factor clamps to 1)
        var values = [try! Tensor(shape: [3], scalars: [-2, 0.1, .nan])]
        clipGradValue(&values, clipValue: 1)
        #expect(values[0].scalars[0] == -1 && values[0].scalars[1] == 0.1 && values[0].scalars[2].isNaN)
    }

    @Test func embeddingBackwardSkipsPaddingAndScalesByFrequency() throws {
        let e = try Embedding(weight: Tensor(zeros: [3, 1]), paddingIdx: 2)
        var g = Tensor(zeros: [3, 1])
        try e.backward(indices: [0, 0, 1, 2], gradOutput: Tensor(shape: [4, 1], scalars: [1, 2, 3, 4]), weightGradient: &g,
                       scaleGradByFreq: true)
        #expect(g.scalars == [1.5, 3, 0])  // (1 + 2) / 2; 3 / 1; the padding row gets nothing
    }
}

/// The training half of the C ABI: status codes and messages, never a trap.
@Suite struct TrainingCABITests {
    func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> (Int32, String) {
        var buffer = [CChar](repeating: 0, count: 512)
        let status = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        return (status, buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    @Test func crossEntropyTargetOutOfRangeIsAnIndexError() {
        let logits: [Float] = [0, 1, 2]
        let targets: [Int64] = [3]
        var loss: [Float] = [-1]
        let (status, message) = call { err, cap in
            CSwiftRNN.srnn_cross_entropy_forward(logits, 1, 3, 1, targets, nil, -100, 1, 0, &loss, nil, err, cap)
        }
        #expect(status == Int32(SRNN_INDEX_ERROR.rawValue))
        #expect(message == "target 3 is out of range for 3 classes: expected 0 to 2 or ignore_index (-100)")
        #expect(loss == [-1])
    }

    @Test func missingBuffersAndBadCodesAreValueErrors() {
        var desc = srnn_rnn_desc(input_size: 2, hidden_size: 2, num_layers: 1, nonlinearity: 0, has_bias: 0,
                                 bidirectional: 0, batch_first: 0, cell: 0, reserved: 0, proj_size: 0)
        let (s1, m1) = call { err, cap in
            CSwiftRNN.srnn_rnn_backward(&desc, nil, 2, nil, 1, 1, nil, nil, nil, nil, nil, nil, nil, nil, err, cap)
        }
        #expect(s1 == Int32(SRNN_VALUE_ERROR.rawValue) && m1 == "params must not be NULL")
        var loss: [Float] = [0]
        let (s2, m2) = call { err, cap in
            CSwiftRNN.srnn_cross_entropy_forward(nil, 0, 3, 1, nil, nil, -100, 9, 0, &loss, nil, err, cap)
        }
        #expect(s2 == Int32(SRNN_VALUE_ERROR.rawValue) && m2.contains("unknown reduction code 9"))
        let (s3, _) = call { err, cap in CSwiftRNN.srnn_adam_step(nil, nil, 4, nil, nil, nil, 0, 0.1, 0.9, 0.99, 1e-8, 0, 0, 0, err, cap) }
        #expect(s3 == Int32(SRNN_VALUE_ERROR.rawValue))
    }

    @Test func nonFiniteNormWithErrorFlagIsARuntimeErrorAndScalesNothing() {
        var g: [Float] = [1, .infinity]
        var total: Float = 0
        let counts: [Int64] = [2]
        let (status, message) = g.withUnsafeMutableBufferPointer { gp in
            var pointers: [UnsafeMutablePointer<Float>?] = [gp.baseAddress]
            return call { err, cap in CSwiftRNN.srnn_clip_grad_norm(&pointers, counts, 1, 1, 2, 1, &total, err, cap) }
        }
        #expect(status == Int32(SRNN_RUNTIME_ERROR.rawValue))
        #expect(message.hasPrefix("The total norm of order 2.0 for gradients from `parameters` is non-finite"))
        #expect(g == [1, .infinity] && total == .infinity)
    }
}

extension TinyModel {
    func replacingH0(_ h: Tensor) -> TinyModel {
        TinyModel(embedding: embedding, rnn: rnn, fc: fc, tokens: tokens, tokenShape: tokenShape, targets: targets,
                  h0: h, masks: masks, hnWeight: hnWeight)
    }

    init(embedding: Embedding, rnn: RNN, fc: Linear, tokens: [Int], tokenShape: [Int], targets: [Int],
         h0: Tensor?, masks: Tensor?, hnWeight: Tensor) {
        self.embedding = embedding; self.rnn = rnn; self.fc = fc; self.tokens = tokens; self.tokenShape = tokenShape
        self.targets = targets; self.h0 = h0; self.masks = masks; self.hnWeight = hnWeight
    }
}
