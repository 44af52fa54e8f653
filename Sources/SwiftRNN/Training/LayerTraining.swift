// Training with the Swift layer types (the recurrent ones: RNN, LSTM, GRU alike): a training-mode forward that keeps what the backward needs,
// and backward methods that accumulate parameter gradients into caller-owned tensors.
//
//     let (out, hn, record) = try rnn.trainingForward(x)
//     let logits = try fc(out)
//     let (loss, dLogits) = try crossEntropy(logits: logits, targets: targets)
//     let dOut = try fc.backward(input: out, gradOutput: dLogits, weightGradient: &gW, biasGradient: &gB)
//     let (dx, _) = try rnn.backward(record, gradOutput: dOut, parameterGradients: &rnnGrads)
//     try adam.step(&rnn.parameters, gradients: rnnGrads)

/// What a training-mode forward of a recurrent layer (`RNN`, `LSTM`, `GRU`) keeps for its backward.
public struct RNNForwardRecord: Sendable {
    /// The input the forward took.
    public let input: Tensor
    /// The initial hidden state the forward took, or nil for zeros.
    public let h0: Tensor?
    /// An LSTM's initial cell state, or nil (zeros, or another cell).
    public let c0: Tensor?
    /// The dropout masks the forward applied, (numLayers − 1, L, N, D·P), or nil.
    public let dropoutMasks: Tensor?
    /// Every layer's output before dropout: (numLayers, L, N, D·H) time-major for the Elman RNN; for an
    /// LSTM or GRU followed by each step's gates, flat (`RNNCallShapes.savedCount` floats).
    public let states: Tensor
}

extension RecurrentLayer {
    /// The forward pass of training: `run` keeping the record `backward` needs.
    func recordedForward(_ x: Tensor, h0: Tensor?, c0: Tensor?, dropoutMasks: Tensor?)
        throws(SwiftRNNError) -> (output: Tensor, hn: Tensor, cn: Tensor?, record: RNNForwardRecord) {
        let (output, hn, cn, states) = try run(x, h0: h0, c0: c0, dropoutMasks: dropoutMasks, keepStates: true)
        return (output, hn, cn, RNNForwardRecord(input: x, h0: h0, c0: c0, dropoutMasks: dropoutMasks, states: states!))
    }

    /// Backpropagation through time for the forward that made `record` (`rnnBackward`): accumulates (+=)
    /// each parameter's gradient into `parameterGradients` and returns the gradients of the input, of h0
    /// and of an LSTM's c0 (nil for the others). `gradHn` / `gradCn` nil mean zeros.
    func recordedBackward(_ record: RNNForwardRecord, gradOutput: Tensor, gradHn: Tensor?, gradCn: Tensor?,
                          parameterGradients: inout [Tensor])
        throws(SwiftRNNError) -> (gradInput: Tensor, gradH0: Tensor, gradC0: Tensor?) {
        let c = config
        let x = record.input
        let shapes = try callShapes(x, h0: record.h0, c0: record.c0)
        try withShape(gradOutput.shape) { (go) throws(SwiftRNNError) in
            try withShape(gradHn?.shape) { (gh) throws(SwiftRNNError) in
                try withShape(gradCn?.shape) { (gc) throws(SwiftRNNError) in
                    try c.checkGradients(shapes, gradOutput: go!, gradHn: gh, gradCn: gc)
                }
            }
        }
        // A record of another layer's forward (or another input) cannot be read as this one's.
        try c.checkSavedSizes(shapes, saved: record.states.count, dropoutMasks: record.dropoutMasks?.count)
        let (L, N) = (shapes.seqLen, shapes.batch)
        let lstm = c.cell == .lstm
        guard parameterGradients.map(\.shape) == parameters.map(\.shape) else {
            throw .invalidArgument("expected parameter gradients of shapes \(parameters.map { describeShape($0.shape) }), got \(parameterGradients.map { describeShape($0.shape) })")
        }
        var gradInput = Tensor(zeros: x.shape)
        var gradH0 = Tensor(zeros: shapes.state.dims)
        var gradC0 = Tensor(zeros: lstm ? shapes.cellState.dims : [0])
        var failure: SwiftRNNError?
        withMutablePointers(&parameterGradients) { grads in
            withParameterPointers(parameters[...], collected: []) { pointers in
                pointers.withUnsafeBufferPointer { pp in
                    grads.withUnsafeBufferPointer { gp in
                        x.scalars.withUnsafeBufferPointer { xp in
                            withOptionalPointer(record.h0?.scalars) { hp in
                                withOptionalPointer(record.c0?.scalars) { cp in
                                    withOptionalPointer(record.dropoutMasks?.scalars) { mp in
                                        record.states.scalars.withUnsafeBufferPointer { sp in
                                            gradOutput.scalars.withUnsafeBufferPointer { gop in
                                                withOptionalPointer(gradHn?.scalars) { ghp in
                                                    withOptionalPointer(gradCn?.scalars) { gcp in
                                                        gradInput.scalars.withUnsafeMutableBufferPointer { gip in
                                                            gradH0.scalars.withUnsafeMutableBufferPointer { g0p in
                                                                gradC0.scalars.withUnsafeMutableBufferPointer { gc0p in
                                                                    do throws(SwiftRNNError) {
                                                                        try rnnBackward(
                                                                            config: c, parameters: pp, x: xp.nonNullBase, seqLen: L,
                                                                            batch: N, h0: hp, dropoutMasks: mp, saved: sp.nonNullBase,
                                                                            gradOutput: gop.nonNullBase, gradHn: ghp, parameterGradients: gp,
                                                                            gradInput: gip.nonNullBase, gradH0: g0p.nonNullBase, c0: cp,
                                                                            gradCn: gcp, gradC0: lstm ? gc0p.nonNullBase : nil)
                                                                    } catch { failure = error }
                                                                }
                                                            }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let failure { throw failure }
        return (gradInput, gradH0, lstm ? gradC0 : nil)
    }
}

/// The recurrent layers whose state is h alone (`RNN`, `GRU`): one training forward and backward for both.
public protocol HiddenStateRecurrentLayer: RecurrentLayer {}
extension RNN: HiddenStateRecurrentLayer {}
extension GRU: HiddenStateRecurrentLayer {}

extension HiddenStateRecurrentLayer {
    /// The forward pass of training: returns what `callAsFunction` returns plus the record `backward`
    /// needs. `dropoutMasks` (numLayers − 1, L, N, D·H), already scaled by 1/(1 − p), or nil.
    public func trainingForward(_ x: Tensor, h0: Tensor? = nil,
                                dropoutMasks: Tensor? = nil) throws(SwiftRNNError) -> (output: Tensor, hn: Tensor, record: RNNForwardRecord) {
        let (output, hn, _, record) = try recordedForward(x, h0: h0, c0: nil, dropoutMasks: dropoutMasks)
        return (output, hn, record)
    }

    /// Backpropagation through time for the forward that made `record`: accumulates (+=) each
    /// parameter's gradient into `parameterGradients` (shaped like `parameters`) and returns the
    /// gradients of the input and of h0 (shaped like the input and like hn). `gradHn` nil means zeros.
    public func backward(_ record: RNNForwardRecord, gradOutput: Tensor, gradHn: Tensor? = nil,
                         parameterGradients: inout [Tensor]) throws(SwiftRNNError) -> (gradInput: Tensor, gradH0: Tensor) {
        let (gradInput, gradH0, _) = try recordedBackward(record, gradOutput: gradOutput, gradHn: gradHn, gradCn: nil,
                                                          parameterGradients: &parameterGradients)
        return (gradInput, gradH0)
    }
}

extension LSTM {
    /// The forward pass of training: what `callAsFunction` returns plus the record `backward` needs.
    /// `dropoutMasks` (numLayers − 1, L, N, D·P), already scaled by 1/(1 − p), or nil.
    public func trainingForward(_ x: Tensor, h0: Tensor? = nil, c0: Tensor? = nil, dropoutMasks: Tensor? = nil)
        throws(SwiftRNNError) -> (output: Tensor, hn: Tensor, cn: Tensor, record: RNNForwardRecord) {
        let (output, hn, cn, record) = try recordedForward(x, h0: h0, c0: c0, dropoutMasks: dropoutMasks)
        return (output, hn, cn!, record)
    }

    /// Backpropagation through time for the forward that made `record`, torch's
    /// `grad_input, (grad_h0, grad_c0)` for upstream gradients of output, h_n (`gradHn`) and c_n (`gradCn`),
    /// either nil for zeros. Accumulates (+=) each parameter's gradient into `parameterGradients`.
    public func backward(_ record: RNNForwardRecord, gradOutput: Tensor, gradHn: Tensor? = nil, gradCn: Tensor? = nil,
                         parameterGradients: inout [Tensor])
        throws(SwiftRNNError) -> (gradInput: Tensor, gradH0: Tensor, gradC0: Tensor) {
        let (gradInput, gradH0, gradC0) = try recordedBackward(record, gradOutput: gradOutput, gradHn: gradHn, gradCn: gradCn,
                                                               parameterGradients: &parameterGradients)
        return (gradInput, gradH0, gradC0!)
    }
}

extension Linear {
    /// Backward of `callAsFunction(input)`: accumulates (+=) into `weightGradient` (and `biasGradient`,
    /// when the layer has a bias) and returns the gradient of the input.
    public func backward(input x: Tensor, gradOutput: Tensor, weightGradient: inout Tensor,
                         biasGradient: inout Tensor?) throws(SwiftRNNError) -> Tensor {
        guard x.rank >= 1, x.shape[x.rank - 1] == inFeatures else {
            throw .invalidArgument("Linear(in_features=\(inFeatures), out_features=\(outFeatures)) expects input of shape (*, \(inFeatures)), got \(describeShape(x.shape))")
        }
        let outShape = x.shape.dropLast() + [outFeatures]
        guard gradOutput.shape == Array(outShape) else {
            throw .invalidArgument("expected grad_output of shape \(describeShape(Array(outShape))), got \(describeShape(gradOutput.shape))")
        }
        guard weightGradient.shape == weight.shape else {
            throw .invalidArgument("expected a weight gradient of shape \(describeShape(weight.shape)), got \(describeShape(weightGradient.shape))")
        }
        if let bias, biasGradient?.shape != bias.shape {
            throw .invalidArgument("expected a bias gradient of shape \(describeShape(bias.shape)), got \(biasGradient.map { describeShape($0.shape) } ?? "nil")")
        }
        let rows = x.shape.dropLast().reduce(1, *)
        var gradInput = Tensor(zeros: x.shape)
        let (inF, outF) = (inFeatures, outFeatures)
        let hasBias = bias != nil
        var biasScalars = biasGradient?.scalars ?? []
        x.scalars.withUnsafeBufferPointer { xp in
            gradOutput.scalars.withUnsafeBufferPointer { gp in
                weight.scalars.withUnsafeBufferPointer { wp in
                    gradInput.scalars.withUnsafeMutableBufferPointer { gip in
                        weightGradient.scalars.withUnsafeMutableBufferPointer { gwp in
                            biasScalars.withUnsafeMutableBufferPointer { gbp in
                                linearBackward(x: xp.nonNullBase, gradOut: gp.nonNullBase, m: rows, inFeatures: inF,
                                               weight: wp.nonNullBase, outFeatures: outF, gradX: gip.nonNullBase,
                                               gradWeight: gwp.nonNullBase, gradBias: hasBias ? gbp.nonNullBase : nil)
                            }
                        }
                    }
                }
            }
        }
        if hasBias, let shape = bias?.shape { biasGradient = try Tensor(shape: shape, scalars: biasScalars) }
        return gradInput
    }
}

extension Embedding {
    /// Backward of `callAsFunction(indices, shape:)`: accumulates (+=) into `weightGradient` the
    /// gradient of every looked-up row; the padding row gets none. `gradOutput` is
    /// (indices.count, embeddingDim) or any shape with that many elements, e.g. (*shape, embeddingDim).
    public func backward(indices: [Int], gradOutput: Tensor, weightGradient: inout Tensor,
                         scaleGradByFreq: Bool = false) throws(SwiftRNNError) {
        guard gradOutput.count == indices.count * embeddingDim, gradOutput.shape.last == embeddingDim else {
            throw .invalidArgument("expected grad_output with \(indices.count) rows of \(embeddingDim), got shape \(describeShape(gradOutput.shape))")
        }
        guard weightGradient.shape == weight.shape else {
            throw .invalidArgument("expected a weight gradient of shape \(describeShape(weight.shape)), got \(describeShape(weightGradient.shape))")
        }
        let idx = indices.map { Int64($0) }
        let (rows, dim, padding) = (numEmbeddings, embeddingDim, paddingIdx)
        var failure: SwiftRNNError?
        idx.withUnsafeBufferPointer { ip in
            gradOutput.scalars.withUnsafeBufferPointer { gp in
                weightGradient.scalars.withUnsafeMutableBufferPointer { wp in
                    do throws(SwiftRNNError) {
                        try embeddingBackward(indices: ip.nonNullBase, count: idx.count, gradOut: gp.nonNullBase,
                                              numEmbeddings: rows, embeddingDim: dim, paddingIdx: padding,
                                              scaleGradByFreq: scaleGradByFreq, gradWeight: wp.nonNullBase)
                    } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
    }
}

/// Cross-entropy of `logits` — (N, C), (C,) or (N, C, d1, ...) — against class indices `targets`
/// (N·d1·… of them, in row-major order), with torch's options. Returns the loss (shape [] for
/// `.mean` / `.sum`, the targets' shape (N, d1, ...) for `.none`) and its gradient w.r.t. the logits
/// (for `.none`, of the sum of the per-position losses).
public func crossEntropy(logits: Tensor, targets: [Int], weight: Tensor? = nil, ignoreIndex: Int = -100,
                         reduction: LossReduction = .mean,
                         labelSmoothing: Double = 0) throws(SwiftRNNError) -> (loss: Tensor, gradLogits: Tensor) {
    guard logits.rank >= 1 else { throw .invalidArgument("cross_entropy expects logits with at least 1 dimension, got a 0-d tensor") }
    let classDim = logits.rank == 1 ? 0 : 1
    let C = logits.shape[classDim]
    let outer = logits.rank == 1 ? 1 : logits.shape[0]
    let inner = logits.shape.suffix(from: classDim + 1).reduce(1, *)
    var targetShape = logits.shape
    targetShape.remove(at: classDim)
    guard targets.count == outer * inner else {
        throw .invalidArgument("expected \(outer * inner) targets for logits of shape \(describeShape(logits.shape)), got \(targets.count)")
    }
    if let weight, weight.shape != [C] {
        throw .invalidArgument("expected a class weight of shape \(describeShape([C])), got \(describeShape(weight.shape))")
    }
    let t = targets.map { Int64($0) }
    var loss = Tensor(zeros: reduction == .none ? targetShape : [])
    var probabilities = Tensor(zeros: logits.shape)
    var grad = Tensor(zeros: logits.shape)
    let upstream = [Float](repeating: 1, count: reduction == .none ? targets.count : 1)
    var failure: SwiftRNNError?
    logits.scalars.withUnsafeBufferPointer { lp in
        t.withUnsafeBufferPointer { tp in
            withOptionalPointer(weight?.scalars) { wp in
                loss.scalars.withUnsafeMutableBufferPointer { op in
                    probabilities.scalars.withUnsafeMutableBufferPointer { pp in
                        grad.scalars.withUnsafeMutableBufferPointer { gp in
                            upstream.withUnsafeBufferPointer { up in
                                do throws(SwiftRNNError) {
                                    try crossEntropyForward(logits: lp.nonNullBase, outer: outer, classes: C, inner: inner,
                                                            targets: tp.nonNullBase, weight: wp, ignoreIndex: Int64(ignoreIndex),
                                                            reduction: reduction, labelSmoothing: labelSmoothing,
                                                            loss: op.nonNullBase, probabilities: pp.nonNullBase)
                                    try crossEntropyBackward(probabilities: UnsafePointer(pp.nonNullBase), outer: outer, classes: C,
                                                             inner: inner, targets: tp.nonNullBase, weight: wp,
                                                             ignoreIndex: Int64(ignoreIndex), reduction: reduction,
                                                             labelSmoothing: labelSmoothing, gradLoss: up.nonNullBase,
                                                             gradLogits: gp.nonNullBase)
                                } catch { failure = error }
                            }
                        }
                    }
                }
            }
        }
    }
    if let failure { throw failure }
    return (loss, grad)
}

/// Calls `body` with a mutable pointer to each tensor's elements (nil for none), writing the results
/// back afterwards. The elements are staged in one buffer, so the tensors need not be uniquely referenced.
func withMutablePointers<R>(_ tensors: inout [Tensor], _ body: ([UnsafeMutablePointer<Float>?]) -> R) -> R {
    var flat: [Float] = []
    var offsets: [Int] = []
    for t in tensors { offsets.append(flat.count); flat += t.scalars }
    let result = flat.withUnsafeMutableBufferPointer { fp in
        body(offsets.map { fp.nonNullBase + $0 })
    }
    for i in tensors.indices {
        let count = tensors[i].count
        tensors[i].scalars = Array(flat[offsets[i]..<(offsets[i] + count)])
    }
    return result
}
