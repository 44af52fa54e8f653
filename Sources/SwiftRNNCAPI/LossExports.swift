// The C ABI of softmax, cross-entropy and sampling: @_cdecl functions declared in Sources/CSwiftRNN/include/swiftrnn*.h.
// Each one converts C arguments, checks sizes and pointers, calls the core and maps a thrown error to a
// status code plus message (ABISupport.swift). No logic of its own, no Swift object crosses the boundary,
// nothing traps.
import CSwiftRNN
import SwiftRNN

@_cdecl("srnn_softmax")
public func srnn_softmax(_ x: UnsafePointer<Float>?, _ outer: Int64, _ dim: Int64, _ inner: Int64, _ log: Int32,
                         _ out: UnsafeMutablePointer<Float>?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        guard outer >= 0, dim >= 0, inner >= 0 else {
            throw .invalidArgument("negative size: outer=\(outer), dim=\(dim), inner=\(inner)")
        }
        if try checkedProduct(Int(outer), Int(dim), Int(inner), MemoryLayout<Float>.stride, what: "the softmax input in bytes") == 0 { return }
        try require(x, "x"); try require(out, "out")
        softmaxForward(x!, outer: Int(outer), dim: Int(dim), inner: Int(inner), log: log != 0, out: out!)
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

@_cdecl("srnn_sample")
public func srnn_sample(_ logits: UnsafePointer<Float>?, _ n: Int64, _ greedy: Int32, _ temperature: Double,
                        _ topK: Int64, _ topP: Double, _ uniform: Double, _ index: UnsafeMutablePointer<Int64>?,
                        _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        guard n > 0 else { throw .invalidArgument("there are no logits to choose from (n = \(n))") }
        _ = try checkedProduct(Int(n), MemoryLayout<Float>.stride, what: "the logits in bytes")
        try require(logits, "logits"); try require(index, "index")
        let rule = SamplingRule(greedy: greedy != 0, temperature: temperature, topK: topK > 0 ? Int(topK) : nil,
                                topP: topP < 1 ? topP : nil)
        var scratch = [Float](repeating: 0, count: Int(n))
        let chosen = try scratch.withUnsafeMutableBufferPointer { (w) throws(SwiftRNNError) in
            try sampleToken(logits!, count: Int(n), rule: rule, uniform: uniform, scratch: w.baseAddress!)
        }
        index!.pointee = Int64(chosen)
    }
}
