#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import SwiftRNN

/// Hand-computed cases for the Swift layer API: each expected value is worked out in the comment.
@Suite struct LayerTests {
    @Test func tensorRejectsMismatchedCount() {
        #expect(throws: SwiftRNNError.invalidArgument("a tensor of shape (2, 2) needs 4 elements, got 3")) {
            try Tensor(shape: [2, 2], scalars: [1, 2, 3])
        }
        #expect(throws: SwiftRNNError.self) { try Tensor(shape: [-1], scalars: []) }
    }

    @Test func linearComputesXWTransposePlusBias() throws {
        // W = [[1, 2], [3, 4], [5, 6]], b = [0.5, -1, 0]; x = [1, -1]  ->  [1-2+0.5, 3-4-1, 5-6] = [-0.5, -2, -1]
        let linear = try Linear(weight: Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]),
                                bias: Tensor(shape: [3], scalars: [0.5, -1, 0]))
        let y = try linear(Tensor(shape: [1, 1, 2], scalars: [1, -1]))
        #expect(y.shape == [1, 1, 3])
        #expect(y.scalars == [-0.5, -2, -1])
    }

    @Test func linearRejectsWrongFeatureCount() throws {
        let linear = try Linear(weight: Tensor(zeros: [3, 2]), bias: nil)
        #expect(throws: SwiftRNNError.self) { try linear(Tensor(zeros: [4, 3])) }
    }

    @Test func embeddingLooksUpRowsInIndexShape() throws {
        var embedding = try Embedding(weight: Tensor(shape: [3, 2], scalars: [0, 1, 10, 11, 20, 21]))
        let out = try embedding([2, 0, 2, 1], shape: [2, 2])
        #expect(out.shape == [2, 2, 2])
        #expect(out.scalars == [20, 21, 0, 1, 20, 21, 10, 11])
    }

    @Test func embeddingRowCopyIsBitExactForEveryWidthAndOffset() throws {
        // The inline SIMD row copy (4 x 8 floats, then 8, then single floats) against a plain element
        // copy of the bit patterns: widths 0...70 cover every path and tail, row starts at every float
        // offset (unaligned loads and stores), and the payload includes signalling NaNs, -0 and denormals.
        let rows = 5
        for dim in 0...70 {
            let count = rows * dim + 8
            let weight = UnsafeMutablePointer<Float>.allocate(capacity: count)
            let out = UnsafeMutablePointer<Float>.allocate(capacity: 3 * dim + 8)
            defer { weight.deallocate(); out.deallocate() }
            let patterns: [UInt32] = [0x7F80_0001, 0xFFBF_FFFF, 0x8000_0000, 0x0000_0001, 0x7FC0_1234]
            for i in 0..<count { weight[i] = Float(bitPattern: i % 7 == 0 ? patterns[i % patterns.count] : UInt32(truncatingIfNeeded: i &* 2_654_435_761)) }
            for offset in [0, 1, 3] {
                let indices: [Int64] = [4, 0, 2]
                let base = weight + offset
                out.update(repeating: 0, count: 3 * dim + 8)
                try indices.withUnsafeBufferPointer { ip in
                    try embeddingForward(weight: base, numEmbeddings: rows, embeddingDim: dim, indices: ip.baseAddress!,
                                         count: 3, maxNorm: nil, normType: 2, out: out + offset)
                }
                for (i, ix) in indices.enumerated() {
                    for j in 0..<dim {
                        #expect(out[offset + i * dim + j].bitPattern == base[Int(ix) * dim + j].bitPattern)
                    }
                }
                #expect(out[offset + 3 * dim].bitPattern == 0)  // nothing written past the last row
            }
        }
    }

    @Test func embeddingOutOfRangeNamesTheIndexAndWritesNothing() throws {
        var embedding = try Embedding(weight: Tensor(shape: [2, 1], scalars: [3, 4]), maxNorm: 1)
        #expect(throws: SwiftRNNError.indexOutOfRange("index 2 is out of range for Embedding(2, 1): valid indices are 0 to 1")) {
            try embedding([0, 2])
        }
        #expect(embedding.weight.scalars == [3, 4])  // max_norm did not touch row 0 before failing
        #expect(throws: SwiftRNNError.self) { try embedding([-1]) }
    }

    @Test func embeddingMaxNormRenormalisesLookedUpRowsInPlace() throws {
        // Row 0 = (3, 4) has norm 5 > 2: scaled by 2 / (5 + 1e-7). Row 1 = (0.6, 0.8) has norm 1: kept.
        var embedding = try Embedding(weight: Tensor(shape: [3, 2], scalars: [3, 4, 0.6, 0.8, 30, 40]), maxNorm: 2)
        let out = try embedding([0, 1, 0])
        let scale = Float(2.0 / (5.0 + 1e-7))
        #expect(embedding.weight.scalars == [3 * scale, 4 * scale, 0.6, 0.8, 30, 40])  // row 2 not looked up
        #expect(out.scalars == [3 * scale, 4 * scale, 0.6, 0.8, 3 * scale, 4 * scale])
    }

    @Test func paddingIndexIsNormalisedLikeTorch() throws {
        #expect(try normalizedPaddingIndex(-1, numEmbeddings: 10) == 9)
        #expect(try normalizedPaddingIndex(nil, numEmbeddings: 10) == nil)
        #expect(throws: SwiftRNNError.self) { try normalizedPaddingIndex(10, numEmbeddings: 10) }
        #expect(throws: SwiftRNNError.self) { try normalizedPaddingIndex(-11, numEmbeddings: 10) }
    }

    @Test func rnnTwoStepsByHand() throws {
        // input_size 1, hidden 1: W_ih = 0.5, W_hh = -1, b_ih = 0.1, b_hh = 0.2; x = [1, 2], h0 = 0.3.
        // h1 = tanh(0.5 + 0.3 - 0.3) = tanh(0.5); h2 = tanh(1.0 + 0.3 - h1).
        let params = try [Tensor(shape: [1, 1], scalars: [0.5]), Tensor(shape: [1, 1], scalars: [-1]),
                          Tensor(shape: [1], scalars: [0.1]), Tensor(shape: [1], scalars: [0.2])]
        let rnn = try RNN(inputSize: 1, hiddenSize: 1, parameters: params)
        let (output, hn) = try rnn(Tensor(shape: [2, 1, 1], scalars: [1, 2]), h0: Tensor(shape: [1, 1, 1], scalars: [0.3]))
        let h1 = tanh(0.5), h2 = tanh(1.3 - h1)
        #expect(output.shape == [2, 1, 1] && hn.shape == [1, 1, 1])
        #expect(abs(Double(output.scalars[0]) - h1) < 1e-6)
        #expect(abs(Double(output.scalars[1]) - h2) < 1e-6)
        #expect(hn.scalars == [output.scalars[1]])
    }

    @Test func reverseDirectionReadsTheSequenceBackwards() throws {
        // Bidirectional relu, identity-like weights, no bias: forward h_t = relu(x_t + h_{t-1}) (cumulative sum),
        // reverse the cumulative sum from the end. x = [1, 2, 3] -> forward [1, 3, 6], reverse [6, 5, 3].
        let one = try Tensor(shape: [1, 1], scalars: [1])
        let rnn = try RNN(inputSize: 1, hiddenSize: 1, nonlinearity: .relu, bias: false, bidirectional: true,
                          parameters: [one, one, one, one])
        let (output, hn) = try rnn(Tensor(shape: [3, 1], scalars: [1, 2, 3]))  // unbatched
        #expect(output.shape == [3, 2])
        #expect(output.scalars == [1, 6, 3, 5, 6, 3])
        #expect(hn.shape == [2, 1])
        #expect(hn.scalars == [6, 6])
    }

    @Test func batchFirstMatchesTimeMajor() throws {
        var state: UInt32 = 1
        func next() -> Float { state = state &* 1664525 &+ 1013904223; return Float(state >> 8) / Float(1 << 24) - 0.5 }
        let config = RNNConfig(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true)
        let params = try config.parameterShapes.map { s in try Tensor(shape: s, scalars: (0..<s.reduce(1, *)).map { _ in next() }) }
        let L = 5, N = 2
        let xTimeMajor = try Tensor(shape: [L, N, 3], scalars: (0..<L * N * 3).map { _ in next() })
        var xBatchFirst = Tensor(zeros: [N, L, 3])
        for t in 0..<L { for n in 0..<N { for i in 0..<3 { xBatchFirst[n, t, i] = xTimeMajor[t, n, i] } } }
        let a = try RNN(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, parameters: params)
        let b = try RNN(inputSize: 3, hiddenSize: 4, numLayers: 2, batchFirst: true, bidirectional: true, parameters: params)
        let (outA, hnA) = try a(xTimeMajor)
        let (outB, hnB) = try b(xBatchFirst)
        #expect(hnA == hnB)
        for t in 0..<L { for n in 0..<N { for j in 0..<8 { #expect(outA[t, n, j] == outB[n, t, j]) } } }
    }

    @Test func rnnRejectsBadShapesWithExpectedAndActual() throws {
        let config = RNNConfig(inputSize: 2, hiddenSize: 3, numLayers: 2)
        let params = config.parameterShapes.map { Tensor(zeros: $0) }
        let rnn = try RNN(inputSize: 2, hiddenSize: 3, numLayers: 2, parameters: params)
        // The messages of the one owner of the shape rules (RNNShapes.swift), which Python users see too.
        #expect(throws: SwiftRNNError.invalidArgument(
            "expected h0 of shape (2, 4, 3) (num_layers * num_directions, batch, H_out), got (1, 4, 3)")) {
            try rnn(Tensor(zeros: [5, 4, 2]), h0: Tensor(zeros: [1, 4, 3]))
        }
        #expect(throws: SwiftRNNError.invalidArgument(
            "RNN(input_size=2) expects input with 2 features in its last dimension, got shape (5, 4, 3)")) {
            try rnn(Tensor(zeros: [5, 4, 3]))
        }
        #expect(throws: SwiftRNNError.invalidArgument("the sequence length must be at least 1, got input of shape (0, 4, 2)")) {
            try rnn(Tensor(zeros: [0, 4, 2]))
        }
        #expect(throws: SwiftRNNError.invalidArgument("expected weight_hh_l1 of shape (3, 3), got (3, 2)")) {
            var bad = params
            bad[5] = Tensor(zeros: [3, 2])
            _ = try RNN(inputSize: 2, hiddenSize: 3, numLayers: 2, parameters: bad)
        }
        #expect(throws: SwiftRNNError.self) { try RNN(inputSize: 2, hiddenSize: 0, parameters: []) }
    }

    @Test func emptyBatchGivesEmptyOutputs() throws {
        let config = RNNConfig(inputSize: 2, hiddenSize: 3)
        let rnn = try RNN(inputSize: 2, hiddenSize: 3, parameters: config.parameterShapes.map { Tensor(zeros: $0) })
        let (output, hn) = try rnn(Tensor(zeros: [4, 0, 2]))
        #expect(output.shape == [4, 0, 3] && hn.shape == [1, 0, 3])
    }

    @Test func parameterNamesFollowTorchStateDictOrder() {
        let config = RNNConfig(inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true)
        #expect(config.parameterNames.prefix(8) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                                    "weight_ih_l0_reverse", "weight_hh_l0_reverse",
                                                    "bias_ih_l0_reverse", "bias_hh_l0_reverse"])
        #expect(config.parameterShapes[8] == [3, 6])  // weight_ih_l1 takes both directions of layer 0
    }

    @Test func softmaxAndLogSoftmaxAlongMiddleAxis() throws {
        // x = [[0, ln 3]] along dim 1 -> [1/4, 3/4]; log -> [ln 1/4, ln 3/4].
        let x = try Tensor(shape: [1, 2], scalars: [0, logf(3)])
        let s = try softmax(x, dim: 1), l = try logSoftmax(x, dim: -1)
        #expect(abs(s.scalars[0] - 0.25) < 1e-7 && abs(s.scalars[1] - 0.75) < 1e-7)
        #expect(abs(l.scalars[0] - logf(0.25)) < 1e-6 && abs(l.scalars[1] - logf(0.75)) < 1e-6)
        #expect(throws: SwiftRNNError.self) { try softmax(x, dim: 2) }
        // Large magnitudes stay finite; an all -inf slice is NaN as in torch.
        let big = try softmax(Tensor(shape: [2], scalars: [1000, -1000]), dim: 0)
        #expect(big.scalars == [1, 0])
        #expect(try softmax(Tensor(shape: [2], scalars: [-.infinity, -.infinity]), dim: 0).scalars.allSatisfy(\.isNaN))
    }
}
