// The training half of the C ABI: @_cdecl functions declared in Sources/CSwiftRNN/include/swiftrnn_train.h.
// Like Exports.swift: convert C arguments, check sizes and pointers, call the core, map errors to
// status codes. No logic of its own, nothing traps.
import CSwiftRNN
import SwiftRNN

/// The RNN's parameter pointers, checked for NULL, in state_dict order (a view of the caller's array:
/// no allocation on the per-call path).
func rnnParameterPointers(_ config: RNNConfig, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                          _ numParams: Int64) throws(SwiftRNNError) -> UnsafeBufferPointer<UnsafePointer<Float>> {
    guard numParams == config.parameterCount else {
        throw .invalidArgument("RNN expects \(config.parameterCount) parameter arrays, got \(numParams)")
    }
    guard let params else { throw .invalidArgument("params must not be NULL") }
    for i in 0..<Int(numParams) where params[i] == nil {
        throw .invalidArgument("parameter \(config.parameterName(at: i)) is NULL")
    }
    // Checked non-null above: an array of optional pointers has the layout of an array of pointers.
    return UnsafeBufferPointer(start: UnsafeRawPointer(params).assumingMemoryBound(to: UnsafePointer<Float>.self),
                               count: Int(numParams))
}

/// Rejects a sequence length below 1 and a negative batch.
func checkSequence(_ seqLen: Int64, _ batch: Int64) throws(SwiftRNNError) {
    guard seqLen > 0 else { throw .invalidArgument("the sequence length must be at least 1, got \(seqLen)") }
    guard batch >= 0 else { throw .invalidArgument("the batch size must be non-negative, got \(batch)") }
}

@_cdecl("srnn_rnn_forward_train")
public func srnn_rnn_forward_train(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                                   _ numParams: Int64, _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                                   _ h0: UnsafePointer<Float>?, _ dropoutMasks: UnsafePointer<Float>?,
                                   _ output: UnsafeMutablePointer<Float>?, _ hn: UnsafeMutablePointer<Float>?,
                                   _ saved: UnsafeMutablePointer<Float>?,
                                   _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        let config = try rnnConfig(desc)
        try config.validate()
        let pointers = try rnnParameterPointers(config, params, numParams)
        try checkSequence(seqLen, batch)
        if batch == 0 { return }
        try require(x, "x"); try require(output, "output"); try require(hn, "hn"); try require(saved, "saved")
        try rnnForward(config: config, parameters: pointers, x: x!, seqLen: Int(seqLen), batch: Int(batch), h0: h0,
                       dropoutMasks: dropoutMasks, output: output!, hn: hn!, saved: saved!)
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
    guarded(err, cap) { () throws(SwiftRNNError) in
        let config = try rnnConfig(desc)
        try config.validate()
        let pointers = try rnnParameterPointers(config, params, numParams)
        try require(paramGrads, "param_grads")
        let grads = (0..<Int(numParams)).map { paramGrads![$0] }
        try checkSequence(seqLen, batch)
        if batch == 0 { return }
        try require(x, "x"); try require(saved, "saved"); try require(gradOutput, "grad_output")
        var failure: SwiftRNNError?
        grads.withUnsafeBufferPointer { gp in
            do throws(SwiftRNNError) {
                try rnnBackward(config: config, parameters: pointers, x: x!, seqLen: Int(seqLen), batch: Int(batch), h0: h0,
                                dropoutMasks: dropoutMasks, saved: saved!, gradOutput: gradOutput!, gradHn: gradHn,
                                parameterGradients: gp, gradInput: gradX, gradH0: gradH0)
            } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

@_cdecl("srnn_linear_backward")
public func srnn_linear_backward(_ x: UnsafePointer<Float>?, _ gradOut: UnsafePointer<Float>?, _ m: Int64,
                                 _ inFeatures: Int64, _ weight: UnsafePointer<Float>?, _ outFeatures: Int64,
                                 _ gradX: UnsafeMutablePointer<Float>?, _ gradWeight: UnsafeMutablePointer<Float>?,
                                 _ gradBias: UnsafeMutablePointer<Float>?,
                                 _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        try checkLinearSizes(m, inFeatures, outFeatures)
        if m == 0 || outFeatures == 0 { return }
        try require(gradOut, "grad_out")
        if inFeatures > 0 { try require(x, "x"); try require(weight, "weight") }
        let dangling = UnsafePointer<Float>(bitPattern: MemoryLayout<Float>.alignment)!
        linearBackward(x: x ?? dangling, gradOut: gradOut!, m: Int(m), inFeatures: Int(inFeatures),
                       weight: weight ?? dangling, outFeatures: Int(outFeatures),
                       gradX: inFeatures > 0 ? gradX : nil, gradWeight: inFeatures > 0 ? gradWeight : nil,
                       gradBias: gradBias)
    }
}

@_cdecl("srnn_embedding_backward")
public func srnn_embedding_backward(_ indices: UnsafePointer<Int64>?, _ n: Int64, _ gradOut: UnsafePointer<Float>?,
                                    _ numEmbeddings: Int64, _ embeddingDim: Int64, _ paddingIdx: Int64,
                                    _ scaleGradByFreq: Int32, _ gradWeight: UnsafeMutablePointer<Float>?,
                                    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        try checkEmbeddingSizes(numEmbeddings, embeddingDim, n)
        if n == 0 { return }
        try require(indices, "indices"); try require(gradOut, "grad_out"); try require(gradWeight, "grad_weight")
        try embeddingBackward(indices: indices!, count: Int(n), gradOut: gradOut!, numEmbeddings: Int(numEmbeddings),
                              embeddingDim: Int(embeddingDim), paddingIdx: paddingIdx >= 0 ? Int(paddingIdx) : nil,
                              scaleGradByFreq: scaleGradByFreq != 0, gradWeight: gradWeight!)
    }
}

/// The core's reduction for a C code.
func lossReduction(_ code: Int32) throws(SwiftRNNError) -> LossReduction {
    guard let r = LossReduction(rawValue: code) else {
        throw .invalidArgument("unknown reduction code \(code): expected 0 (none), 1 (mean) or 2 (sum)")
    }
    return r
}

/// Checks the sizes of a cross-entropy call; returns false if there is nothing to compute.
func checkCrossEntropySizes(_ outer: Int64, _ classes: Int64, _ inner: Int64) throws(SwiftRNNError) -> Bool {
    guard outer >= 0, classes >= 0, inner >= 0 else {
        throw .invalidArgument("negative size: outer=\(outer), classes=\(classes), inner=\(inner)")
    }
    _ = try checkedProduct(Int(outer), Int(classes), Int(inner), MemoryLayout<Float>.stride, what: "the cross-entropy input in bytes")
    _ = try checkedProduct(Int(outer), Int(inner), MemoryLayout<Int64>.stride, what: "the cross-entropy targets in bytes")
    _ = try checkedProduct(Int(classes), MemoryLayout<Float>.stride, what: "the class weights in bytes")
    return outer * inner > 0
}

@_cdecl("srnn_cross_entropy_forward")
public func srnn_cross_entropy_forward(_ logits: UnsafePointer<Float>?, _ outer: Int64, _ classes: Int64, _ inner: Int64,
                                       _ targets: UnsafePointer<Int64>?, _ weight: UnsafePointer<Float>?,
                                       _ ignoreIndex: Int64, _ reduction: Int32, _ labelSmoothing: Double,
                                       _ loss: UnsafeMutablePointer<Float>?, _ probs: UnsafeMutablePointer<Float>?,
                                       _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        let r = try lossReduction(reduction)
        let any = try checkCrossEntropySizes(outer, classes, inner)
        try require(loss, "loss")
        if !any && r == .none { return }
        let dangling = UnsafePointer<Float>(bitPattern: MemoryLayout<Float>.alignment)!
        let noTargets = UnsafePointer<Int64>(bitPattern: MemoryLayout<Int64>.alignment)!
        if any { try require(logits, "logits"); try require(targets, "targets") }
        try crossEntropyForward(logits: logits ?? dangling, outer: Int(outer), classes: Int(classes), inner: Int(inner),
                                targets: targets ?? noTargets, weight: weight, ignoreIndex: ignoreIndex, reduction: r,
                                labelSmoothing: labelSmoothing, loss: loss!, probabilities: any ? probs : nil)
    }
}

@_cdecl("srnn_cross_entropy_backward")
public func srnn_cross_entropy_backward(_ probs: UnsafePointer<Float>?, _ outer: Int64, _ classes: Int64, _ inner: Int64,
                                        _ targets: UnsafePointer<Int64>?, _ weight: UnsafePointer<Float>?,
                                        _ ignoreIndex: Int64, _ reduction: Int32, _ labelSmoothing: Double,
                                        _ gradLoss: UnsafePointer<Float>?, _ gradLogits: UnsafeMutablePointer<Float>?,
                                        _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        let r = try lossReduction(reduction)
        guard try checkCrossEntropySizes(outer, classes, inner) else { return }
        try require(probs, "probs"); try require(targets, "targets"); try require(gradLoss, "grad_loss")
        try require(gradLogits, "grad_logits")
        try crossEntropyBackward(probabilities: probs!, outer: Int(outer), classes: Int(classes), inner: Int(inner),
                                 targets: targets!, weight: weight, ignoreIndex: ignoreIndex, reduction: r,
                                 labelSmoothing: labelSmoothing, gradLoss: gradLoss!, gradLogits: gradLogits!)
    }
}

@_cdecl("srnn_cross_entropy_backward_in_place")
public func srnn_cross_entropy_backward_in_place(_ probs: UnsafeMutablePointer<Float>?, _ outer: Int64, _ classes: Int64,
                                                 _ inner: Int64, _ targets: UnsafePointer<Int64>?,
                                                 _ weight: UnsafePointer<Float>?, _ ignoreIndex: Int64, _ reduction: Int32,
                                                 _ labelSmoothing: Double, _ gradLoss: UnsafePointer<Float>?,
                                                 _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        let r = try lossReduction(reduction)
        guard try checkCrossEntropySizes(outer, classes, inner) else { return }
        try require(probs, "probs"); try require(targets, "targets"); try require(gradLoss, "grad_loss")
        try crossEntropyBackwardInPlace(probabilities: probs!, outer: Int(outer), classes: Int(classes),
                                        inner: Int(inner), targets: targets!, weight: weight, ignoreIndex: ignoreIndex,
                                        reduction: r, labelSmoothing: labelSmoothing, gradLoss: gradLoss!)
    }
}

@_cdecl("srnn_sgd_step")
public func srnn_sgd_step(_ param: UnsafeMutablePointer<Float>?, _ grad: UnsafePointer<Float>?, _ n: Int64,
                          _ momentumBuffer: UnsafeMutablePointer<Float>?, _ bufferIsNew: Int32,
                          _ lr: Double, _ momentum: Double, _ dampening: Double, _ weightDecay: Double,
                          _ nesterov: Int32, _ maximize: Int32,
                          _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        guard n >= 0 else { throw .invalidArgument("negative size: n=\(n)") }
        if n == 0 { return }
        try require(param, "param"); try require(grad, "grad")
        if momentum != 0 { try require(momentumBuffer, "momentum_buffer") }
        sgdStep(parameter: param!, gradient: grad!, count: Int(n), momentumBuffer: momentumBuffer,
                momentumBufferIsNew: bufferIsNew != 0, lr: lr, momentum: momentum, dampening: dampening,
                weightDecay: weightDecay, nesterov: nesterov != 0, maximize: maximize != 0)
    }
}

@_cdecl("srnn_adam_step")
public func srnn_adam_step(_ param: UnsafeMutablePointer<Float>?, _ grad: UnsafePointer<Float>?, _ n: Int64,
                           _ expAvg: UnsafeMutablePointer<Float>?, _ expAvgSq: UnsafeMutablePointer<Float>?,
                           _ maxExpAvgSq: UnsafeMutablePointer<Float>?, _ step: Int64, _ lr: Double,
                           _ beta1: Double, _ beta2: Double, _ eps: Double, _ weightDecay: Double,
                           _ decoupledWeightDecay: Int32, _ maximize: Int32,
                           _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        guard n >= 0 else { throw .invalidArgument("negative size: n=\(n)") }
        guard step >= 1 else { throw .invalidArgument("the step number must be at least 1, got \(step)") }
        if n == 0 { return }
        try require(param, "param"); try require(grad, "grad")
        try require(expAvg, "exp_avg"); try require(expAvgSq, "exp_avg_sq")
        adamStep(parameter: param!, gradient: grad!, count: Int(n), expAvg: expAvg!, expAvgSq: expAvgSq!,
                 maxExpAvgSq: maxExpAvgSq, step: Int(step), lr: lr, beta1: beta1, beta2: beta2, eps: eps,
                 weightDecay: weightDecay, decoupledWeightDecay: decoupledWeightDecay != 0, maximize: maximize != 0)
    }
}

/// The gradient pointers and element counts of a clipping call, checked.
func gradientBuffers(_ grads: UnsafePointer<UnsafeMutablePointer<Float>?>?, _ counts: UnsafePointer<Int64>?,
                     _ num: Int64) throws(SwiftRNNError) -> [(UnsafeMutablePointer<Float>, Int)] {
    guard num >= 0 else { throw .invalidArgument("negative number of gradients: \(num)") }
    if num == 0 { return [] }
    try require(grads, "grads"); try require(counts, "counts")
    var result: [(UnsafeMutablePointer<Float>, Int)] = []
    for i in 0..<Int(num) {
        let n = counts![i]
        guard n >= 0 else { throw .invalidArgument("gradient \(i) has a negative element count \(n)") }
        if n == 0 { result.append((UnsafeMutablePointer(bitPattern: MemoryLayout<Float>.alignment)!, 0)); continue }
        guard let g = grads![i] else { throw .invalidArgument("gradient \(i) is NULL") }
        result.append((g, Int(n)))
    }
    return result
}

@_cdecl("srnn_clip_grad_norm")
public func srnn_clip_grad_norm(_ grads: UnsafePointer<UnsafeMutablePointer<Float>?>?, _ counts: UnsafePointer<Int64>?,
                                _ num: Int64, _ maxNorm: Double, _ normType: Double, _ errorIfNonfinite: Int32,
                                _ totalNorm: UnsafeMutablePointer<Float>?,
                                _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    var nonfinite = false
    let status = guarded(err, cap) { () throws(SwiftRNNError) in
        let buffers = try gradientBuffers(grads, counts, num)
        try require(totalNorm, "total_norm")
        let pointers = buffers.map { UnsafePointer($0.0) }, sizes = buffers.map(\.1)
        let total = pointers.withUnsafeBufferPointer { p in
            sizes.withUnsafeBufferPointer { c in totalGradientNorm(p, counts: c, normType: normType) }
        }
        totalNorm!.pointee = total
        if errorIfNonfinite != 0 && !total.isFinite { nonfinite = true; return }
        let factor = clipCoefficient(maxNorm: maxNorm, totalNorm: total)
        for (g, n) in buffers { scaleInPlace(g, count: n, by: factor) }
    }
    if status == ok && nonfinite {
        writeMessage("The total norm of order \(normType) for gradients from `parameters` is non-finite, so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, set `error_if_nonfinite=False`", err, cap)
        return Int32(SRNN_RUNTIME_ERROR.rawValue)
    }
    return status
}

@_cdecl("srnn_clip_grad_value")
public func srnn_clip_grad_value(_ grads: UnsafePointer<UnsafeMutablePointer<Float>?>?, _ counts: UnsafePointer<Int64>?,
                                 _ num: Int64, _ clipValue: Double,
                                 _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        let buffers = try gradientBuffers(grads, counts, num)
        for (g, n) in buffers { clampInPlace(g, count: n, clipValue: Float(clipValue)) }
    }
}
