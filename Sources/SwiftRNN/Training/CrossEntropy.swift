#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftRNNVectorMath
#if SWIFTRNN_X86_KERNELS
import SwiftRNNAVX512
#endif

// Cross-entropy over class logits with torch's options: per-class weights, ignore_index, label smoothing
// and the three reductions. The forward also writes the softmax probabilities its backward uses
// (llm.c's crossentropy_softmax_backward), so exp runs once per logit per training step.
//
// For a position with target t (not ignored), lp = log_softmax(x), w = weight (all ones if none),
// W = Σ_c w_c, ε = label smoothing, C = classes:
//   loss = (1 − ε) · (−w_t lp_t) + (ε / C) · (−Σ_c w_c lp_c)
//   ∂loss/∂x_c = (1 − ε) w_t (p_c − [c = t]) + (ε / C) (W p_c − w_c)
// 'mean' divides the sum over positions by Σ w_t over the positions not ignored (NaN if there are
// none, as torch); 'sum' adds up; 'none' keeps one loss per position (0 where ignored).

/// How the per-position losses are combined, as torch's `reduction=`.
public enum LossReduction: Int32, Sendable {
    case none = 0
    case mean = 1
    case sum = 2
}

/// Cross-entropy forward. `logits` is viewed as (outer, classes, inner) with the classes along the
/// middle axis (torch's (N, C), (C,) and (N, C, d1, ...) inputs); `targets` holds outer·inner class
/// indices, each in `0..<classes` or equal to `ignoreIndex`; `weight` is (classes) or nil.
///
/// Writes `loss`: outer·inner values for `.none`, else one. If `probabilities` is given it receives
/// softmax(logits) along the classes, shaped like logits, for `crossEntropyBackward`.
/// Throws `.indexOutOfRange` for a target outside the classes (nothing written), `.invalidArgument`
/// for a label smoothing outside [0, 1] or zero classes with positions to score.
public func crossEntropyForward(logits: UnsafePointer<Float>, outer: Int, classes C: Int, inner: Int,
                                targets: UnsafePointer<Int64>, weight: UnsafePointer<Float>?, ignoreIndex: Int64,
                                reduction: LossReduction, labelSmoothing: Double,
                                loss: UnsafeMutablePointer<Float>,
                                probabilities: UnsafeMutablePointer<Float>?) throws(SwiftRNNError) {
    let positions = try checkCrossEntropyArguments(outer: outer, classes: C, inner: inner, targets: targets,
                                                   ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing)
    let eps = labelSmoothing
    let rowBuffer = try Workspace(count: inner > 1 ? C : 0, what: "cross-entropy row")
    let expBuffer = try Workspace(count: probabilities == nil || inner > 1 ? C : 0, what: "cross-entropy exponentials")
    var nllTotal = 0.0, smoothTotal = 0.0, weightTotal = 0.0

    for o in 0..<(positions == 0 ? 0 : outer) {  // inner == 0: nothing to score, however large outer is
        for i in 0..<inner {
            let pos = o * inner + i
            let base = o * C * inner + i
            // The logits row, contiguous (gathered if the classes are strided).
            let row: UnsafePointer<Float>
            if inner == 1 {
                row = logits + base
            } else {
                for c in 0..<C { rowBuffer.pointer[c] = logits[base + c * inner] }
                row = UnsafePointer(rowBuffer.pointer)
            }
            let e = (probabilities != nil && inner == 1) ? probabilities! + base : expBuffer.pointer
            let maxv = rowMax(row, count: C)
            let sum = expShifted(row, minus: maxv, count: C, into: e)
            let logSum = logf(sum)
            if let probabilities {
                let inv = 1 / sum
                if inner == 1 {
                    for c in 0..<C { e[c] *= inv }
                } else {
                    for c in 0..<C { probabilities[base + c * inner] = e[c] * inv }
                }
            }

            let t = targets[pos]
            if t == ignoreIndex {
                if reduction == .none { loss[pos] = 0 }
                continue
            }
            let wt = weight.map { Double($0[Int(t)]) } ?? 1
            let lpT = Double((row[Int(t)] - maxv) - logSum)
            let nll = -wt * lpT
            var smooth = 0.0
            if eps > 0 {
                if let weight {
                    for c in 0..<C { smooth -= Double(weight[c]) * Double((row[c] - maxv) - logSum) }
                } else {
                    for c in 0..<C { smooth -= Double((row[c] - maxv) - logSum) }
                }
            }
            if reduction == .none {
                loss[pos] = Float((1 - eps) * nll + eps / Double(C) * smooth)
            } else {
                nllTotal += nll
                smoothTotal += smooth
                weightTotal += wt
            }
        }
    }
    switch reduction {
    case .none: break
    case .sum: loss[0] = Float((1 - eps) * nllTotal + (positions > 0 ? eps / Double(C) * smoothTotal : 0))
    case .mean: loss[0] = Float(((1 - eps) * nllTotal + (positions > 0 ? eps / Double(C) * smoothTotal : 0)) / weightTotal)
    }
}

/// Cross-entropy backward: accumulates (+=) into `gradLogits` (shaped like the logits) the gradient
/// of the loss, given the probabilities the forward wrote and the gradient of the loss (`gradLoss`:
/// one value for `.mean` / `.sum`, outer·inner values for `.none`). The other arguments are the
/// forward's. Ignored positions get no gradient.
public func crossEntropyBackward(probabilities: UnsafePointer<Float>, outer: Int, classes C: Int, inner: Int,
                                 targets: UnsafePointer<Int64>, weight: UnsafePointer<Float>?, ignoreIndex: Int64,
                                 reduction: LossReduction, labelSmoothing: Double,
                                 gradLoss: UnsafePointer<Float>,
                                 gradLogits: UnsafeMutablePointer<Float>) throws(SwiftRNNError) {
    try crossEntropyGradient(probabilities: probabilities, outer: outer, classes: C, inner: inner, targets: targets,
                             weight: weight, ignoreIndex: ignoreIndex, reduction: reduction,
                             labelSmoothing: labelSmoothing, gradLoss: gradLoss, into: gradLogits, overwrite: false)
}

/// `crossEntropyBackward` that turns the forward's `probabilities` into the gradient in place (rows of
/// ignored positions become zeros), for a caller that has no further use for them: no second buffer.
public func crossEntropyBackwardInPlace(probabilities: UnsafeMutablePointer<Float>, outer: Int, classes C: Int,
                                        inner: Int, targets: UnsafePointer<Int64>, weight: UnsafePointer<Float>?,
                                        ignoreIndex: Int64, reduction: LossReduction, labelSmoothing: Double,
                                        gradLoss: UnsafePointer<Float>) throws(SwiftRNNError) {
    try crossEntropyGradient(probabilities: UnsafePointer(probabilities), outer: outer, classes: C, inner: inner,
                             targets: targets, weight: weight, ignoreIndex: ignoreIndex, reduction: reduction,
                             labelSmoothing: labelSmoothing, gradLoss: gradLoss, into: probabilities, overwrite: true)
}

/// g (+)= upstream · ∂loss/∂logits from the probabilities p; `g` may be `p` itself when `overwrite`.
func crossEntropyGradient(probabilities: UnsafePointer<Float>, outer: Int, classes C: Int, inner: Int,
                          targets: UnsafePointer<Int64>, weight: UnsafePointer<Float>?, ignoreIndex: Int64,
                          reduction: LossReduction, labelSmoothing: Double, gradLoss: UnsafePointer<Float>,
                          into gradLogits: UnsafeMutablePointer<Float>, overwrite: Bool) throws(SwiftRNNError) {
    _ = try checkCrossEntropyArguments(outer: outer, classes: C, inner: inner, targets: targets,
                                       ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing)
    let eps = labelSmoothing
    var weightSum = 0.0  // W
    if let weight { for c in 0..<C { weightSum += Double(weight[c]) } } else { weightSum = Double(C) }
    var denominator = 1.0
    if reduction == .mean {
        denominator = 0
        for pos in 0..<(outer * inner) where targets[pos] != ignoreIndex {
            denominator += weight.map { Double($0[Int(targets[pos])]) } ?? 1
        }
    }
    for o in 0..<outer {
        for i in 0..<inner {
            let pos = o * inner + i
            let t = targets[pos]
            let base = o * C * inner + i
            if t == ignoreIndex {
                if overwrite { for c in 0..<C { gradLogits[base + c * inner] = 0 } }
                continue
            }
            let upstream = reduction == .none ? Double(gradLoss[pos]) : Double(gradLoss[0]) / denominator
            let wt = weight.map { Double($0[Int(t)]) } ?? 1
            // g_c = a · p_c − b · w_c − [c = t] · d
            let a = Float(upstream * ((1 - eps) * wt + eps / Double(C) * weightSum))
            let b = Float(upstream * eps / Double(C))
            let d = Float(upstream * (1 - eps) * wt)
            if inner == 1 {
                let p = probabilities + base, g = gradLogits + base
                switch (weight, overwrite) {
                case (let w?, false): for c in 0..<C { g[c] += a * p[c] - b * w[c] }
                case (let w?, true): for c in 0..<C { g[c] = a * p[c] - b * w[c] }
                case (nil, false): for c in 0..<C { g[c] += a * p[c] - b }
                case (nil, true): for c in 0..<C { g[c] = a * p[c] - b }
                }
            } else {
                for c in 0..<C {
                    let k = base + c * inner
                    let v = a * probabilities[k] - b * (weight?[c] ?? 1)
                    gradLogits[k] = overwrite ? v : gradLogits[k] + v
                }
            }
            gradLogits[base + Int(t) * inner] -= d
        }
    }
}

/// Shared checks; returns the number of positions not ignored.
func checkCrossEntropyArguments(outer: Int, classes C: Int, inner: Int, targets: UnsafePointer<Int64>,
                                ignoreIndex: Int64, labelSmoothing: Double) throws(SwiftRNNError) -> Int {
    guard outer >= 0, C >= 0, inner >= 0 else {
        throw .invalidArgument("negative size: outer=\(outer), classes=\(C), inner=\(inner)")
    }
    _ = try checkedProduct(outer, C, inner, what: "the cross-entropy input")
    guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
        throw .invalidArgument("label_smoothing must be between 0.0 and 1.0, got \(labelSmoothing)")
    }
    var positions = 0
    for pos in 0..<(outer * inner) {
        let t = targets[pos]
        if t == ignoreIndex { continue }
        guard t >= 0 && t < C else {
            throw .indexOutOfRange("target \(t) is out of range for \(C) classes: expected 0 to \(C - 1) or ignore_index (\(ignoreIndex))")
        }
        positions += 1
    }
    return positions
}

/// The largest element; NaN if any element is NaN.
@inline(__always)
func rowMax(_ x: UnsafePointer<Float>, count n: Int) -> Float {
    #if SWIFTRNN_X86_KERNELS
    if gemmUsesAVX512 { return avx512RowMax(x, count: n) }
    #endif
    typealias F = SIMD8<Float>
    var best = F(repeating: -.infinity)
    var nan = SIMDMask<SIMD8<Int32>>()
    var c = 0
    let raw = UnsafeRawPointer(x)
    while c + 8 <= n {
        let v = raw.loadUnaligned(fromByteOffset: c * 4, as: F.self)
        nan .|= v .!= v
        best.replace(with: v, where: v .> best)
        c += 8
    }
    var m = -Float.infinity
    for k in 0..<8 where best[k] > m { m = best[k] }
    for k in c..<n {
        let v = x[k]
        if v.isNaN { return v }
        if v > m { m = v }
    }
    return any(nan) ? .nan : m
}

/// e[c] = exp(x[c] − shift) for c < n; returns Σ e[c] (eight interleaved partial sums, then combined:
/// the order depends on n only; `expShifted8`). Sixteen lanes at a time on AVX-512, the same bits.
func expShifted(_ x: UnsafePointer<Float>, minus shift: Float, count n: Int,
                into e: UnsafeMutablePointer<Float>) -> Float {
    #if SWIFTRNN_X86_KERNELS
    if gemmUsesAVX512 { return avx512ExpShifted(x, minus: shift, count: n, into: e).sum() }
    #endif
    return expShifted8(x, minus: shift, from: 0, count: n, into: e, acc: SIMD8()).sum()
}
