import CSwiftRNN
import SwiftRNN
import SwiftRNNCAPI  // links the @_cdecl symbols; calls go through the C header (CSwiftRNN)
import Testing

/// The shape rules of an RNN call have one owner (RNNShapes.swift): the Swift layer and the C ABI's
/// srnn_rnn_check_call, which the Python extension calls, derive the same shapes and say the same words.
@Suite struct RNNShapesTests {
    let config = RNNConfig(inputSize: 3, hiddenSize: 4, numLayers: 2, batchFirst: true, bidirectional: true)

    /// srnn_rnn_check_call over Swift shapes: (status, message, plan).
    func checkCall(_ c: RNNConfig, params: [[Int]], x: [Int], h0: [Int]? = nil, c0: [Int]? = nil, gradOutput: [Int]? = nil,
                   gradHn: [Int]? = nil, gradCn: [Int]? = nil, saved: Int64 = -1, masks: Int64 = -1) -> (Int32, String, srnn_rnn_plan) {
        var desc = srnn_rnn_desc(input_size: Int64(c.inputSize), hidden_size: Int64(c.hiddenSize),
                                 num_layers: Int64(c.numLayers), nonlinearity: 0, has_bias: c.bias ? 1 : 0,
                                 bidirectional: c.bidirectional ? 1 : 0, batch_first: c.batchFirst ? 1 : 0,
                                 cell: c.cell.rawValue, reserved: 0, proj_size: Int64(c.projSize))
        let dims = ([x] + params + [h0 ?? [], c0 ?? [], gradOutput ?? [], gradHn ?? [], gradCn ?? []]).map { $0.map(Int64.init) }
        var plan = srnn_rnn_plan()
        var buffer = [CChar](repeating: 0, count: 512)
        let storage = dims.map { d in UnsafeMutableBufferPointer<Int64>.allocate(capacity: max(d.count, 1)) }
        defer { storage.forEach { $0.deallocate() } }
        for (s, d) in zip(storage, dims) { _ = s.initialize(from: d) }
        func shape(_ i: Int) -> srnn_shape { srnn_shape(ndim: Int32(dims[i].count), dims: UnsafePointer(storage[i].baseAddress)) }
        var shapes = (0..<dims.count).map(shape)
        let n = params.count
        let status = buffer.withUnsafeMutableBufferPointer { err in
            shapes.withUnsafeMutableBufferPointer { s in
                let b = s.baseAddress!
                return CSwiftRNN.srnn_rnn_check_call(&desc, b + 1, Int64(n), b, nil, 0, h0 == nil ? nil : b + n + 1,
                                                     c0 == nil ? nil : b + n + 2, gradOutput == nil ? nil : b + n + 3,
                                                     gradHn == nil ? nil : b + n + 4, gradCn == nil ? nil : b + n + 5,
                                                     saved, masks, &plan, err.baseAddress!, err.count)
            }
        }
        return (status, String(cString: buffer), plan)
    }

    /// The message the Swift layer throws for the same call, or "" if it succeeds.
    func layerMessage(_ c: RNNConfig, x: [Int], h0: [Int]? = nil) -> String {
        do {
            let rnn = try RNN(inputSize: c.inputSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers,
                              batchFirst: c.batchFirst, bidirectional: c.bidirectional,
                              parameters: c.parameterShapes.map { Tensor(zeros: $0) })
            _ = try rnn(Tensor(zeros: x), h0: h0.map { Tensor(zeros: $0) })
            return ""
        } catch { return error.description }
    }

    @Test func aValidCallGivesTheShapesOfItsOutputs() {
        let (status, message, plan) = checkCall(config, params: config.parameterShapes, x: [5, 7, 3], h0: [4, 5, 4])
        #expect(status == Int32(SRNN_OK.rawValue), "\(message)")
        #expect(plan.seq_len == 7 && plan.batch == 5)
        #expect(plan.output_ndim == 3 && [plan.output_dims.0, plan.output_dims.1, plan.output_dims.2] == [5, 7, 8])
        #expect(plan.state_ndim == 3 && [plan.state_dims.0, plan.state_dims.1, plan.state_dims.2] == [4, 5, 4])
        #expect(plan.saved_size == 2 * 7 * 5 * 8 && plan.dropout_mask_size == 7 * 5 * 8)
        let (_, _, unbatched) = checkCall(config, params: config.parameterShapes, x: [7, 3])
        #expect(unbatched.output_ndim == 2 && unbatched.batch == 1 && unbatched.state_ndim == 2)
    }

    @Test(arguments: [
        ([5, 7], nil as [Int]?, "RNN(input_size=3) expects input with 3 features in its last dimension, got shape (5, 7)"),
        ([3], nil, "RNN expects a 2-d (unbatched) or 3-d (batched) input, got a 1-d input of shape (3,)"),
        ([5, 0, 3], nil, "the sequence length must be at least 1, got input of shape (5, 0, 3)"),
        ([5, 7, 3], [4, 7, 4], "expected h0 of shape (4, 5, 4) (num_layers * num_directions, batch, H_out), got (4, 7, 4)"),
        ([7, 3], [4, 1, 4], "expected h0 of shape (4, 4) (num_layers * num_directions, H_out), got (4, 1, 4)"),
    ])
    func theLayerAndTheCABISayTheSameWords(x: [Int], h0: [Int]?, expected: String) {
        let (status, message, _) = checkCall(config, params: config.parameterShapes, x: x, h0: h0)
        #expect(status == Int32(SRNN_VALUE_ERROR.rawValue))
        #expect(message == expected)
        #expect(layerMessage(config, x: x, h0: h0) == expected)
    }

    @Test func parametersGradientsAndSavedSizesAreChecked() {
        var params = config.parameterShapes
        params[6] = [4, 9]
        #expect(checkCall(config, params: params, x: [5, 7, 3]).1 == "expected bias_ih_l0_reverse of shape (4,), got (4, 9)")
        #expect(checkCall(config, params: Array(params.prefix(3)), x: [5, 7, 3]).1 == "RNN expects 16 parameter arrays, got 3")
        let good = config.parameterShapes
        #expect(checkCall(config, params: good, x: [5, 7, 3], gradOutput: [5, 7, 4]).1
                == "expected grad_output of shape (5, 7, 8), got (5, 7, 4)")
        #expect(checkCall(config, params: good, x: [5, 7, 3], gradOutput: [5, 7, 8], gradHn: [4, 4]).1
                == "expected grad_hn of shape (4, 5, 4), got (4, 4)")
        #expect(checkCall(config, params: good, x: [5, 7, 3], saved: 12).1
                == "the saved layer outputs must hold 560 floats, got 12")
        #expect(checkCall(config, params: good, x: [5, 7, 3], masks: 1).1 == "the dropout masks must hold 280 floats, got 1")
    }

    @Test func badDescriptionsAndShapesComeBackAsStatusCodes() {
        let bad = RNNConfig(inputSize: 3, hiddenSize: 0)
        #expect(checkCall(bad, params: [], x: [1, 1, 3]).0 == Int32(SRNN_VALUE_ERROR.rawValue))
        var plan = srnn_rnn_plan()
        var desc = srnn_rnn_desc(input_size: 1, hidden_size: 1, num_layers: 1, nonlinearity: 0, has_bias: 0,
                                 bidirectional: 0, batch_first: 0, cell: 0, reserved: 0, proj_size: 0)
        var negative = srnn_shape(ndim: -2, dims: nil)
        let status = CSwiftRNN.srnn_rnn_check_call(&desc, nil, 2, &negative, nil, 0, nil, nil, nil, nil, nil, -1, -1, &plan, nil, 0)
        #expect(status == Int32(SRNN_VALUE_ERROR.rawValue))
        #expect(CSwiftRNN.srnn_rnn_check_call(&desc, nil, 0, nil, nil, 0, nil, nil, nil, nil, nil, -1, -1, &plan, nil, 0)
                == Int32(SRNN_VALUE_ERROR.rawValue))
    }

    @Test func anLSTMsStatesAndSavedGates() {
        let lstm = RNNConfig(inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, cell: .lstm, projSize: 2)
        #expect(lstm.parameterNames.prefix(5) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"])
        #expect(lstm.parameterShapes.prefix(5) == [[20, 3], [20, 2], [20], [20], [2, 5]])
        #expect(lstm.parameterShapes[10] == [20, 4])  // layer 1 reads both directions' projected states
        let (status, message, plan) = checkCall(lstm, params: lstm.parameterShapes, x: [7, 4, 3], h0: [4, 4, 2], c0: [4, 4, 5])
        #expect(status == Int32(SRNN_OK.rawValue), "\(message)")
        #expect([plan.output_dims.0, plan.output_dims.1, plan.output_dims.2] == [7, 4, 4])
        #expect([plan.state_dims.0, plan.state_dims.1, plan.state_dims.2] == [4, 4, 2])
        #expect([plan.cell_state_dims.0, plan.cell_state_dims.1, plan.cell_state_dims.2] == [4, 4, 5])
        #expect(plan.saved_size == 2 * 7 * 4 * (2 * 2 + 2 * (5 * 5 + 5)))
        #expect(checkCall(lstm, params: lstm.parameterShapes, x: [7, 4, 3], c0: [4, 4, 2]).1
                == "expected c0 of shape (4, 4, 5) (num_layers * num_directions, batch, H_cell), got (4, 4, 2)")
        #expect(checkCall(lstm, params: lstm.parameterShapes, x: [7, 4, 3], gradOutput: [7, 4, 4], gradCn: [4, 5]).1
                == "expected grad_cn of shape (4, 4, 5), got (4, 5)")
        let gru = RNNConfig(inputSize: 3, hiddenSize: 5, cell: .gru)
        #expect(checkCall(gru, params: gru.parameterShapes, x: [7, 4, 3], c0: [1, 4, 5]).1 == "only an LSTM has a cell state c0")
        #expect(gru.parameterShapes == [[15, 3], [15, 5], [15], [15]])
        var bad = gru
        bad.projSize = 2
        #expect(throws: SwiftRNNError.invalidArgument("proj_size argument is only supported for LSTM, not RNN or GRU")) {
            try bad.validate()
        }
    }
}
