// The C ABI of nn.RNN (shape plan, forward, backward): @_cdecl functions declared in Sources/CSwiftRNN/include/swiftrnn*.h.
// Each one converts C arguments, checks sizes and pointers, calls the core and maps a thrown error to a
// status code plus message (ABISupport.swift). No logic of its own, no Swift object crosses the boundary,
// nothing traps.
import CSwiftRNN
import SwiftRNN

/// The core's configuration for a C descriptor; throws for values outside the enums.
func rnnConfig(_ desc: UnsafePointer<srnn_rnn_desc>?) throws(SwiftRNNError) -> RNNConfig {
    guard let d = desc?.pointee else { throw .invalidArgument("desc must not be NULL") }
    guard let nonlinearity = Nonlinearity(rawValue: d.nonlinearity) else {
        throw .invalidArgument("unknown nonlinearity code \(d.nonlinearity): expected 0 (tanh) or 1 (relu)")
    }
    guard let cell = RecurrentCell(rawValue: d.cell) else {
        throw .invalidArgument("unknown cell code \(d.cell): expected 0 (RNN), 1 (LSTM) or 2 (GRU)")
    }
    return RNNConfig(inputSize: Int(d.input_size), hiddenSize: Int(d.hidden_size), numLayers: Int(d.num_layers),
                     nonlinearity: nonlinearity, bias: d.has_bias != 0, batchFirst: d.batch_first != 0,
                     bidirectional: d.bidirectional != 0, cell: cell, projSize: Int(d.proj_size))
}

@_cdecl("srnn_rnn_num_params")
public func srnn_rnn_num_params(_ desc: UnsafePointer<srnn_rnn_desc>?) -> Int64 {
    guard let config = try? rnnConfig(desc), (try? config.validate()) != nil else { return -1 }
    return Int64(config.parameterCount)
}

@_cdecl("srnn_rnn_param_shape")
public func srnn_rnn_param_shape(_ desc: UnsafePointer<srnn_rnn_desc>?, _ index: Int64,
                                 _ shape: UnsafeMutablePointer<Int64>?) -> Int32 {
    guard let config = try? rnnConfig(desc), (try? config.validate()) != nil,
          index >= 0, index < config.parameterCount, let shape else { return -1 }
    let (rows, cols) = config.parameterShape(at: Int(index))
    shape[0] = Int64(rows)
    guard let cols else { return 1 }
    shape[1] = Int64(cols)
    return 2
}

/// `count` int64 values as a buffer of Int (64 bits wide wherever the core builds).
func intBuffer(_ p: UnsafePointer<Int64>, _ count: Int64) -> UnsafeBufferPointer<Int> {
    UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: Int.self), count: Int(count))
}

/// A C shape as a buffer of Int (64 bits wide wherever the core builds), nil for a NULL shape.
func shapeBuffer(_ s: UnsafePointer<srnn_shape>?, _ name: String) throws(SwiftRNNError) -> UnsafeBufferPointer<Int>? {
    guard let s else { return nil }
    let ndim = Int(s.pointee.ndim)
    guard ndim >= 0 else { throw .invalidArgument("\(name) has a negative number of dimensions, \(ndim)") }
    if ndim == 0 { return UnsafeBufferPointer(start: nil, count: 0) }
    guard let dims = s.pointee.dims else { throw .invalidArgument("\(name)'s dims must not be NULL") }
    return UnsafeBufferPointer(start: UnsafeRawPointer(dims).assumingMemoryBound(to: Int.self), count: ndim)
}

@_cdecl("srnn_rnn_check_call")
public func srnn_rnn_check_call(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<srnn_shape>?, _ numParams: Int64,
                                _ x: UnsafePointer<srnn_shape>?, _ batchSizes: UnsafePointer<Int64>?, _ numSteps: Int64,
                                _ h0: UnsafePointer<srnn_shape>?,
                                _ c0: UnsafePointer<srnn_shape>?, _ gradOutput: UnsafePointer<srnn_shape>?,
                                _ gradHn: UnsafePointer<srnn_shape>?, _ gradCn: UnsafePointer<srnn_shape>?,
                          _ savedSize: Int64, _ dropoutMaskSize: Int64, _ plan: UnsafeMutablePointer<srnn_rnn_plan>?,
                          _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        let config = try rnnConfig(desc)
        try config.validate()
        try config.checkParameterCount(Int(clamping: numParams))
        if numParams > 0 { try require(params, "params") }
        for i in 0..<Int(numParams) { try config.checkParameter(i, shape: try shapeBuffer(params! + i, "a parameter's shape")!) }
        guard let input = try shapeBuffer(x, "x") else { throw .invalidArgument("x must not be NULL") }
        let shapes: RNNCallShapes
        if let batchSizes {
            guard numSteps >= 1 else { throw .invalidArgument("a packed batch needs at least one step, got \(numSteps)") }
            shapes = try config.packedCallShapes(input: input, batchSizes: intBuffer(batchSizes, numSteps),
                                                 h0: try shapeBuffer(h0, "h0"), c0: try shapeBuffer(c0, "c0"))
        } else {
            shapes = try config.callShapes(input: input, h0: try shapeBuffer(h0, "h0"), c0: try shapeBuffer(c0, "c0"))
        }
        if let g = try shapeBuffer(gradOutput, "grad_output") {
            try config.checkGradients(shapes, gradOutput: g, gradHn: try shapeBuffer(gradHn, "grad_hn"),
                                      gradCn: try shapeBuffer(gradCn, "grad_cn"))
        }
        try config.checkSavedSizes(shapes, saved: savedSize >= 0 ? Int(savedSize) : nil,
                                   dropoutMasks: dropoutMaskSize >= 0 ? Int(dropoutMaskSize) : nil)
        guard let plan else { throw .invalidArgument("plan must not be NULL") }
        func dims(_ s: SmallShape) -> (Int64, Int64, Int64) { (Int64(s[0]), Int64(s[1]), Int64(s[2])) }
        plan.pointee = srnn_rnn_plan(seq_len: Int64(shapes.seqLen), batch: Int64(shapes.batch),
                                     output_ndim: Int32(shapes.output.rank), state_ndim: Int32(shapes.state.rank),
                                     output_dims: dims(shapes.output), state_dims: dims(shapes.state),
                                     cell_state_dims: dims(shapes.cellState), saved_size: Int64(shapes.savedCount), dropout_mask_size: Int64(shapes.dropoutMaskCount))
    }
}

@_cdecl("srnn_rnn_forward")
public func srnn_rnn_forward(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                             _ numParams: Int64, _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                             _ h0: UnsafePointer<Float>?, _ dropoutMasks: UnsafePointer<Float>?,
                             _ output: UnsafeMutablePointer<Float>?, _ hn: UnsafeMutablePointer<Float>?,
                             _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    rnnForwardExport(desc, params, numParams, packed: nil, x, seqLen, batch, h0, nil, dropoutMasks, output, hn, nil,
                     err, cap)
}

@_cdecl("srnn_rnn_forward_packed")
public func srnn_rnn_forward_packed(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                                    _ numParams: Int64, _ packed: UnsafePointer<UnsafePointer<Float>?>?,
                                    _ packedSizes: UnsafePointer<Int64>?, _ numPacked: Int64,
                                    _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                                    _ h0: UnsafePointer<Float>?, _ dropoutMasks: UnsafePointer<Float>?,
                                    _ output: UnsafeMutablePointer<Float>?, _ hn: UnsafeMutablePointer<Float>?,
                                    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    rnnForwardExport(desc, params, numParams, packed: (packed, packedSizes, numPacked), x, seqLen, batch, h0, nil,
                     dropoutMasks, output, hn, nil, err, cap)
}

@_cdecl("srnn_recurrent_forward_packed")
public func srnn_recurrent_forward_packed(_ desc: UnsafePointer<srnn_rnn_desc>?,
                                          _ params: UnsafePointer<UnsafePointer<Float>?>?, _ numParams: Int64,
                                          _ packed: UnsafePointer<UnsafePointer<Float>?>?,
                                          _ packedSizes: UnsafePointer<Int64>?, _ numPacked: Int64,
                                          _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                                          _ h0: UnsafePointer<Float>?, _ c0: UnsafePointer<Float>?,
                                          _ dropoutMasks: UnsafePointer<Float>?, _ output: UnsafeMutablePointer<Float>?,
                                          _ hn: UnsafeMutablePointer<Float>?, _ cn: UnsafeMutablePointer<Float>?,
                                          _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    rnnForwardExport(desc, params, numParams, packed: (packed, packedSizes, numPacked), x, seqLen, batch, h0, c0,
                     dropoutMasks, output, hn, cn, err, cap)
}

/// The packed weights of `srnn_recurrent_forward_packed`, checked: W_ih and W_hh per layer and direction, each the
/// size its weight packs to (an empty one, input_size 0, may be NULL: it is never read).
private func rnnPackedWeights(_ config: RNNConfig, _ packed: UnsafePointer<UnsafePointer<Float>?>?,
                              _ packedSizes: UnsafePointer<Int64>?, _ numPacked: Int64) throws(SwiftRNNError) -> [UnsafePointer<Float>] {
    let D = config.numDirections, rows = Int64(config.gateRows), P = Int64(config.stateSize)
    try config.checkPackedWeightCount(Int(clamping: numPacked))
    guard let packed, let packedSizes else { throw .invalidArgument("packed and packed_sizes must not be NULL") }
    let dangling = UnsafePointer<Float>(bitPattern: MemoryLayout<Float>.alignment)!
    var pointers: [UnsafePointer<Float>] = []
    for i in 0..<Int(numPacked) {
        let layer = i / (2 * D), isHH = i % 2 == 1
        let cols = isHH ? P : (layer == 0 ? Int64(config.inputSize) : Int64(D) * P)
        try checkPackedWeight(packed[i], packedSizes[i], rows: rows, cols: cols,
                              what: "packed weight \(i) (\(config.parameterName(at: (i / 2) * config.paramsPerDirection + i % 2)))")
        pointers.append(packed[i] ?? dangling)
    }
    return pointers
}

/// srnn_recurrent_forward over a padded batch, with the caller's packed weights when `packed` is given.
private func rnnForwardExport(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                              _ numParams: Int64,
                              packed: (UnsafePointer<UnsafePointer<Float>?>?, UnsafePointer<Int64>?, Int64)?,
                              _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                              _ h0: UnsafePointer<Float>?, _ c0: UnsafePointer<Float>?,
                              _ dropoutMasks: UnsafePointer<Float>?,
                              _ output: UnsafeMutablePointer<Float>?, _ hn: UnsafeMutablePointer<Float>?,
                              _ cn: UnsafeMutablePointer<Float>?,
                              _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        let config = try rnnConfig(desc)
        try config.validate()
        let pointers = try rnnParameterPointers(config, params, numParams)
        var packedPointers: [UnsafePointer<Float>]? = nil
        if let (p, sizes, count) = packed { packedPointers = try rnnPackedWeights(config, p, sizes, count) }
        try config.checkSequence(seqLen: Int(clamping: seqLen), batch: Int(clamping: batch))
        if batch == 0 { return }
        try require(x, "x"); try require(output, "output"); try require(hn, "hn")
        if config.cell == .lstm { try require(cn, "cn") }
        func run(_ packedWeights: UnsafeBufferPointer<UnsafePointer<Float>>?) throws(SwiftRNNError) {
            try rnnForward(config: config, parameters: pointers, x: x!, seqLen: Int(seqLen), batch: Int(batch), h0: h0,
                           dropoutMasks: dropoutMasks, output: output!, hn: hn!, packedWeights: packedWeights,
                           c0: config.cell == .lstm ? c0 : nil, cn: config.cell == .lstm ? cn : nil)
        }
        if let packedPointers {
            try packedPointers.withUnsafeBufferPointer { (buffer) throws(SwiftRNNError) in try run(buffer) }
        } else {
            try run(nil)
        }
    }
}

/// The RNN's parameter pointers, checked for NULL, in state_dict order (a view of the caller's array:
/// no allocation on the per-call path).
func rnnParameterPointers(_ config: RNNConfig, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                          _ numParams: Int64) throws(SwiftRNNError) -> UnsafeBufferPointer<UnsafePointer<Float>> {
    try config.checkParameterCount(Int(clamping: numParams))
    guard let params else { throw .invalidArgument("params must not be NULL") }
    for i in 0..<Int(numParams) where params[i] == nil {
        throw .invalidArgument("parameter \(config.parameterName(at: i)) is NULL")
    }
    // Checked non-null above: an array of optional pointers has the layout of an array of pointers.
    return UnsafeBufferPointer(start: UnsafeRawPointer(params).assumingMemoryBound(to: UnsafePointer<Float>.self),
                               count: Int(numParams))
}

@_cdecl("srnn_rnn_forward_train")
public func srnn_rnn_forward_train(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                                   _ numParams: Int64, _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                                   _ h0: UnsafePointer<Float>?, _ dropoutMasks: UnsafePointer<Float>?,
                                   _ output: UnsafeMutablePointer<Float>?, _ hn: UnsafeMutablePointer<Float>?,
                                   _ saved: UnsafeMutablePointer<Float>?,
                                   _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    if saved == nil { return fail(SwiftRNNError.invalidArgument("saved must not be NULL"), err, cap) }
    return srnn_recurrent_forward(desc, params, numParams, x, seqLen, batch, nil, h0, nil, dropoutMasks, output, hn, nil,
                                  saved, err, cap)
}

@_cdecl("srnn_recurrent_forward")
public func srnn_recurrent_forward(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                                   _ numParams: Int64, _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                                   _ batchSizes: UnsafePointer<Int64>?,
                                   _ h0: UnsafePointer<Float>?, _ c0: UnsafePointer<Float>?,
                                   _ dropoutMasks: UnsafePointer<Float>?, _ output: UnsafeMutablePointer<Float>?,
                                   _ hn: UnsafeMutablePointer<Float>?, _ cn: UnsafeMutablePointer<Float>?,
                                   _ saved: UnsafeMutablePointer<Float>?,
                                   _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        let config = try rnnConfig(desc)
        try config.validate()
        let pointers = try rnnParameterPointers(config, params, numParams)
        try config.checkSequence(seqLen: Int(clamping: seqLen), batch: Int(clamping: batch))
        if batch == 0 { return }
        try require(x, "x"); try require(output, "output"); try require(hn, "hn")
        if config.cell == .lstm { try require(cn, "cn") }
        try rnnForward(config: config, parameters: pointers, x: x!, seqLen: Int(seqLen), batch: Int(batch), h0: h0,
                       dropoutMasks: dropoutMasks, output: output!, hn: hn!, saved: saved,
                       c0: config.cell == .lstm ? c0 : nil, cn: config.cell == .lstm ? cn : nil,
                       batchSizes: batchSizes.map { intBuffer($0, seqLen) })
    }
}

@_cdecl("srnn_rnn_backward")
public func srnn_rnn_backward(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                              _ numParams: Int64, _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                              _ h0: UnsafePointer<Float>?, _ dropoutMasks: UnsafePointer<Float>?,
                              _ saved: UnsafePointer<Float>?, _ gradOutput: UnsafePointer<Float>?,
                              _ gradHn: UnsafePointer<Float>?, _ paramGrads: UnsafePointer<UnsafeMutablePointer<Float>?>?,
                              _ gradX: UnsafeMutablePointer<Float>?, _ gradH0: UnsafeMutablePointer<Float>?,
                              _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    srnn_recurrent_backward(desc, params, numParams, x, seqLen, batch, nil, h0, nil, dropoutMasks, saved, gradOutput,
                            gradHn, nil, paramGrads, gradX, gradH0, nil, err, cap)
}

@_cdecl("srnn_recurrent_backward")
public func srnn_recurrent_backward(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                                    _ numParams: Int64, _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                                    _ batchSizes: UnsafePointer<Int64>?,
                                    _ h0: UnsafePointer<Float>?, _ c0: UnsafePointer<Float>?,
                                    _ dropoutMasks: UnsafePointer<Float>?, _ saved: UnsafePointer<Float>?,
                                    _ gradOutput: UnsafePointer<Float>?, _ gradHn: UnsafePointer<Float>?,
                                    _ gradCn: UnsafePointer<Float>?,
                                    _ paramGrads: UnsafePointer<UnsafeMutablePointer<Float>?>?,
                                    _ gradX: UnsafeMutablePointer<Float>?, _ gradH0: UnsafeMutablePointer<Float>?,
                                    _ gradC0: UnsafeMutablePointer<Float>?,
                                    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        let config = try rnnConfig(desc)
        try config.validate()
        let pointers = try rnnParameterPointers(config, params, numParams)
        try require(paramGrads, "param_grads")
        let grads = UnsafeBufferPointer(start: paramGrads!, count: Int(numParams))  // count checked above
        try config.checkSequence(seqLen: Int(clamping: seqLen), batch: Int(clamping: batch))
        if batch == 0 { return }
        try require(x, "x"); try require(saved, "saved"); try require(gradOutput, "grad_output")
        let lstm = config.cell == .lstm
        try rnnBackward(config: config, parameters: pointers, x: x!, seqLen: Int(seqLen), batch: Int(batch), h0: h0,
                        dropoutMasks: dropoutMasks, saved: saved!, gradOutput: gradOutput!, gradHn: gradHn,
                        parameterGradients: grads, gradInput: gradX, gradH0: gradH0, c0: lstm ? c0 : nil,
                        gradCn: lstm ? gradCn : nil, gradC0: lstm ? gradC0 : nil,
                        batchSizes: batchSizes.map { intBuffer($0, seqLen) })
    }
}
