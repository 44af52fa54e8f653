// The C ABI of the optimizers and gradient clipping: @_cdecl functions declared in Sources/CSwiftRNN/include/swiftrnn*.h.
// Each one converts C arguments, checks sizes and pointers, calls the core and maps a thrown error to a
// status code plus message (ABISupport.swift). No logic of its own, no Swift object crosses the boundary,
// nothing traps.
import CSwiftRNN
import SwiftRNN

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
