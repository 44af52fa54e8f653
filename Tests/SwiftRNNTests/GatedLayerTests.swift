// The Swift layer types `LSTM` and `GRU`: torch's initialisation, forward and gradients through the
// layer API (Generated/GatedTorchFixtures.swift), unbatched inputs, the shape errors, and a tiny model
// that learns.

import Testing
@testable import SwiftRNN

private func tensor(_ f: FixtureTensor) throws -> Tensor { try Tensor(shape: f.shape, scalars: f.scalars) }
private func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

@Suite struct GatedLayerTests {
    @Test("LSTM/GRU(..., generator:) draw torch's parameters; the layer's forward and backward give torch's values",
          arguments: 0..<GatedTorchParityTests.fixtures.count)
    func layerMatchesTorch(_ which: Int) throws {
        let (name, f) = GatedTorchParityTests.fixtures[which]
        let c = f.config
        let generator = Generator(seed: f.seed)
        let x = try tensor(f.x), h0 = try f.h0.map(tensor), c0 = try f.c0.map(tensor)
        var gradients = c.parameterShapes.map { Tensor(zeros: $0) }
        let output: Tensor, hn: Tensor, gradInput: Tensor, gradH0: Tensor
        if c.cell == .lstm {
            let lstm = try LSTM(inputSize: c.inputSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, bias: c.bias,
                                batchFirst: c.batchFirst, bidirectional: c.bidirectional, projSize: c.projSize,
                                generator: generator)
            #expect(lstm.config == c)
            #expect(lstm.parameters.map(bits) == f.parameters.map { $0.scalars.map(\.bitPattern) }, "\(name): init")
            let inference = try lstm(x, h0: h0, c0: c0)
            let trained = try lstm.trainingForward(x, h0: h0, c0: c0)
            #expect(bits(trained.output) == bits(inference.output) && bits(trained.cn) == bits(inference.cn))
            expectClose("\(name) cn", trained.cn.scalars, f.cn!.scalars)
            let g = try lstm.backward(trained.record, gradOutput: tensor(f.gradOutput), gradHn: tensor(f.gradHn),
                                      gradCn: tensor(f.gradCn!), parameterGradients: &gradients)
            (output, hn, gradInput, gradH0) = (trained.output, trained.hn, g.gradInput, g.gradH0)
            if let want = f.gradC0 { expectClose("\(name) grad c0", g.gradC0.scalars, want.scalars, atol: 5e-5) }
        } else {
            let gru = try GRU(inputSize: c.inputSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, bias: c.bias,
                              batchFirst: c.batchFirst, bidirectional: c.bidirectional, generator: generator)
            #expect(gru.config == c)
            #expect(gru.parameters.map(bits) == f.parameters.map { $0.scalars.map(\.bitPattern) }, "\(name): init")
            let inference = try gru(x, h0: h0)
            let trained = try gru.trainingForward(x, h0: h0)
            #expect(bits(trained.output) == bits(inference.output))
            let g = try gru.backward(trained.record, gradOutput: tensor(f.gradOutput), gradHn: tensor(f.gradHn),
                                     parameterGradients: &gradients)
            (output, hn, gradInput, gradH0) = (trained.output, trained.hn, g.gradInput, g.gradH0)
        }
        #expect(output.shape == f.output.shape && hn.shape == f.hn.shape && gradInput.shape == f.x.shape)
        expectClose("\(name) output", output.scalars, f.output.scalars)
        expectClose("\(name) hn", hn.scalars, f.hn.scalars)
        expectClose("\(name) grad x", gradInput.scalars, f.gradX.scalars, atol: 5e-5)
        if let want = f.gradH0 { expectClose("\(name) grad h0", gradH0.scalars, want.scalars, atol: 5e-5) }
        for (p, want) in f.parameterGradients.enumerated() {
            expectClose("\(name) grad \(c.parameterName(at: p))", gradients[p].scalars, want.scalars, atol: 5e-5)
        }
    }

    @Test("an unbatched LSTM (L, H_in) with (D·layers, P) / (D·layers, H) states is the batch of one, bit for bit")
    func unbatchedLSTMIsABatchOfOne() throws {
        let lstm = try LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, projSize: 2,
                            generator: Generator(seed: 4))
        var r = TestRandom(state: 8)
        let x = r.tensor([4, 3]), h0 = r.tensor([4, 2]), c0 = r.tensor([4, 5])
        let go = r.tensor([4, 4]), gh = r.tensor([4, 2]), gc = r.tensor([4, 5])
        func batched(_ t: Tensor, _ shape: [Int]) throws -> Tensor { try Tensor(shape: shape, scalars: t.scalars) }
        let one = try lstm.trainingForward(x, h0: h0, c0: c0)
        let batch = try lstm.trainingForward(batched(x, [4, 1, 3]), h0: batched(h0, [4, 1, 2]), c0: batched(c0, [4, 1, 5]))
        #expect(one.output.shape == [4, 4] && one.hn.shape == [4, 2] && one.cn.shape == [4, 5])
        #expect(bits(one.output) == bits(batch.output) && bits(one.hn) == bits(batch.hn) && bits(one.cn) == bits(batch.cn))
        var g1 = lstm.parameters.map { Tensor(zeros: $0.shape) }, g2 = g1
        let b1 = try lstm.backward(one.record, gradOutput: go, gradHn: gh, gradCn: gc, parameterGradients: &g1)
        let b2 = try lstm.backward(batch.record, gradOutput: batched(go, [4, 1, 4]), gradHn: batched(gh, [4, 1, 2]),
                                   gradCn: batched(gc, [4, 1, 5]), parameterGradients: &g2)
        #expect(b1.gradInput.shape == [4, 3] && b1.gradH0.shape == [4, 2] && b1.gradC0.shape == [4, 5])
        #expect(bits(b1.gradInput) == bits(b2.gradInput) && bits(b1.gradH0) == bits(b2.gradH0) && bits(b1.gradC0) == bits(b2.gradC0))
        #expect(g1.map(bits) == g2.map(bits))
    }

    @Test func shapeErrorsSayWhatWasExpected() throws {
        let lstm = try LSTM(inputSize: 3, hiddenSize: 4, projSize: 2, generator: Generator(seed: 1))
        var r = TestRandom(state: 2)
        let x = r.tensor([5, 2, 3])
        func message(_ body: () throws -> Void) -> String? {
            do { try body() } catch let e as SwiftRNNError { return "\(e)" } catch { return "other: \(error)" }
            return nil
        }
        // h0 has proj_size features, c0 hidden_size.
        #expect(message { _ = try lstm(x, h0: r.tensor([1, 2, 4])) }?.contains("expected h0 of shape (1, 2, 2)") == true)
        #expect(message { _ = try lstm(x, c0: r.tensor([1, 2, 2])) }?.contains("expected c0 of shape (1, 2, 4)") == true)
        #expect(message { _ = try LSTM(inputSize: 3, hiddenSize: 4, projSize: 4, generator: Generator(seed: 1)) }?
            .contains("proj_size has to be smaller than hidden_size") == true)
        #expect(message { _ = try GRU(inputSize: 3, hiddenSize: 4, parameters: Array(lstm.parameters.prefix(3))) }?
            .contains("RNN expects 4 parameter arrays, got 3") == true)
        #expect(message { _ = try GRU(inputSize: 3, hiddenSize: 4, parameters: Array(lstm.parameters[0..<4])) }?
            .contains("expected weight_ih_l0 of shape (12, 3), got (16, 3)") == true)
        let run = try lstm.trainingForward(x)
        var grads = lstm.parameters.map { Tensor(zeros: $0.shape) }
        #expect(message { _ = try lstm.backward(run.record, gradOutput: r.tensor([5, 2, 2]), gradCn: r.tensor([1, 2, 2]),
                                                parameterGradients: &grads) }?.contains("expected grad_cn of shape (1, 2, 4)") == true)
        // A record of another layer's forward is refused, not misread.
        let gru = try GRU(inputSize: 3, hiddenSize: 4, generator: Generator(seed: 1))
        var gruGrads = gru.parameters.map { Tensor(zeros: $0.shape) }
        #expect(message { _ = try gru.backward(run.record, gradOutput: r.tensor([5, 2, 4]), parameterGradients: &gruGrads) }?
            .contains("the saved layer outputs must hold") == true)
    }

    @Test("a tiny LSTM and GRU character model learns abcabc... with Adam", arguments: [RecurrentCell.lstm, .gru])
    func tinyCharModelLearns(_ cell: RecurrentCell) throws {
        let V = 3, E = 4, H = 8, L = 12
        let generator = Generator(seed: 11)
        var embedding = try Embedding(numEmbeddings: V, embeddingDim: E, generator: generator)
        var lstm = try LSTM(inputSize: E, hiddenSize: H, generator: generator)
        var gru = try GRU(inputSize: E, hiddenSize: H, generator: generator)
        var fc = try Linear(inFeatures: H, outFeatures: V, generator: generator)
        let tokens = (0..<L).map { $0 % V }, targets = (0..<L).map { ($0 + 1) % V }
        var adam = try Adam(lr: 0.05)
        var first: Float = 0, last: Float = 0
        for step in 0..<120 {
            let x = try embedding(tokens, shape: [L, 1])
            let (out, record) = cell == .lstm ? try { let r = try lstm.trainingForward(x); return (r.output, r.record) }()
                                              : try { let r = try gru.trainingForward(x); return (r.output, r.record) }()
            let logits = try fc(out)
            let (loss, dLogits) = try crossEntropy(logits: logits.reshapedToRows(), targets: targets)
            if step == 0 { first = loss.scalars[0] }
            last = loss.scalars[0]
            var gW = Tensor(zeros: fc.weight.shape), gB: Tensor? = Tensor(zeros: [V])
            let dOut = try fc.backward(input: out, gradOutput: Tensor(shape: logits.shape, scalars: dLogits.scalars),
                                       weightGradient: &gW, biasGradient: &gB)
            var grads = (cell == .lstm ? lstm.parameters : gru.parameters).map { Tensor(zeros: $0.shape) }
            let dx = cell == .lstm ? try lstm.backward(record, gradOutput: dOut, parameterGradients: &grads).gradInput
                                   : try gru.backward(record, gradOutput: dOut, parameterGradients: &grads).gradInput
            var gE = Tensor(zeros: embedding.weight.shape)
            try embedding.backward(indices: tokens, gradOutput: dx, weightGradient: &gE)
            var params = [embedding.weight] + (cell == .lstm ? lstm.parameters : gru.parameters) + [fc.weight, fc.bias!]
            try adam.step(&params, gradients: [gE] + grads + [gW, gB!])
            embedding.weight = params[0]
            if cell == .lstm { lstm.parameters = Array(params[1...4]) } else { gru.parameters = Array(params[1...4]) }
            fc.weight = params[5]; fc.bias = params[6]
        }
        #expect(first > 0.8)
        #expect(last < 0.05, "loss went from \(first) to \(last)")
    }
}
