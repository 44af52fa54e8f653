#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Optimizer updates over plain buffers, following torch.optim's single-tensor (CPU) code paths step by
// step, with hyperparameters rounded to float where torch passes them to its float kernels, and fused
// multiply-adds where torch's vectorised kernels use them (add with alpha, lerp, addcmul). The state (momentum
// buffers, moments) is plain float buffers the caller owns.

/// One `torch.optim.SGD` step for one parameter of `count` floats (torch's `_single_tensor_sgd`):
///
///     g = ±grad (+ weight_decay · p)
///     buf = g                                   on the first step (`momentumBufferIsNew`)
///     buf = momentum · buf + (1 − dampening) · g  afterwards
///     g = g + momentum · buf if nesterov, else buf   (only when momentum != 0)
///     p -= lr · g
///
/// `momentumBuffer` is needed (count floats) when momentum != 0, and ignored otherwise.
public func sgdStep(parameter p: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, count: Int,
                    momentumBuffer buf: UnsafeMutablePointer<Float>?, momentumBufferIsNew: Bool,
                    lr: Double, momentum: Double, dampening: Double, weightDecay: Double,
                    nesterov: Bool, maximize: Bool) {
    let wd = Float(weightDecay), mom = Float(momentum), damp = Float(1 - dampening), negLR = Float(-lr)
    let useMomentum = momentum != 0 && buf != nil
    for i in 0..<count {
        var g = maximize ? -gradient[i] : gradient[i]
        if weightDecay != 0 { g = g.addingProduct(p[i], wd) }
        if useMomentum {
            let b: Float
            if momentumBufferIsNew { b = g } else { b = (buf![i] * mom).addingProduct(g, damp) }
            buf![i] = b
            g = nesterov ? g.addingProduct(b, mom) : b
        }
        p[i] = p[i].addingProduct(g, negLR)
    }
}

/// One `torch.optim.Adam` / `AdamW` step for one parameter of `count` floats (torch's
/// `_single_tensor_adam`); `step` is the step number after this update (1 on the first call):
///
///     g = ±grad;  p *= 1 − lr · weight_decay  (decoupled, AdamW)  or  g += weight_decay · p  (Adam)
///     m = lerp(m, g, 1 − β1);  v = β2 · v + (1 − β2) · g²;  v̂ = max(v̂, v) if amsgrad
///     p += −(lr / (1 − β1^step)) · m / (sqrt(v or v̂) / sqrt(1 − β2^step) + eps)
///
/// `maxExpAvgSq` (amsgrad's running maximum) is nil when amsgrad is off.
public func adamStep(parameter p: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, count: Int,
                     expAvg m: UnsafeMutablePointer<Float>, expAvgSq v: UnsafeMutablePointer<Float>,
                     maxExpAvgSq vmax: UnsafeMutablePointer<Float>?, step: Int,
                     lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double,
                     decoupledWeightDecay: Bool, maximize: Bool) {
    let s = Double(step)
    let biasCorrection1 = 1 - pow(beta1, s)
    let biasCorrection2Sqrt = pow(1 - pow(beta2, s), 0.5)
    let k = AdamConstants(negStepSize: Float(-(lr / biasCorrection1)), w1: Float(1 - beta1), b2: Float(beta2),
                          w2: Float(1 - beta2), bc2: Float(biasCorrection2Sqrt), eps: Float(eps),
                          decay: Float(1 - lr * weightDecay), wd: Float(weightDecay))
    // One specialised loop per flag combination, eight lanes at a time (the same per-element
    // arithmetic as the scalar tail).
    switch (weightDecay != 0 ? (decoupledWeightDecay ? 2 : 1) : 0, maximize, vmax != nil) {
    case (0, false, false): adamLoop(p, gradient, count, m, v, vmax, k, decay: 0, negate: false, amsgrad: false)
    case (1, false, false): adamLoop(p, gradient, count, m, v, vmax, k, decay: 1, negate: false, amsgrad: false)
    case (2, false, false): adamLoop(p, gradient, count, m, v, vmax, k, decay: 2, negate: false, amsgrad: false)
    default: adamLoop(p, gradient, count, m, v, vmax, k, decay: weightDecay != 0 ? (decoupledWeightDecay ? 2 : 1) : 0,
                      negate: maximize, amsgrad: vmax != nil)
    }
}

struct AdamConstants {
    var negStepSize, w1, b2, w2, bc2, eps, decay, wd: Float
}

/// The Adam update of `count` elements; `decay`: 0 none, 1 L2 (into the gradient), 2 decoupled.
@inline(__always)
func adamLoop(_ p: UnsafeMutablePointer<Float>, _ gradient: UnsafePointer<Float>, _ count: Int,
              _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
              _ vmax: UnsafeMutablePointer<Float>?, _ k: AdamConstants, decay: Int, negate: Bool, amsgrad: Bool) {
    typealias F = SIMD8<Float>
    @inline(__always) func update(_ p: F, _ g: F, _ m: F, _ v: F, _ vmax: F) -> (p: F, m: F, v: F, vmax: F) {
        var g = negate ? -g : g
        var p = p
        if decay == 2 { p = p * F(repeating: k.decay) } else if decay == 1 { g = g.addingProduct(p, F(repeating: k.wd)) }
        let mi = m.addingProduct(F(repeating: k.w1), g - m)  // torch's lerp for a weight below 0.5
        let vi = (v * F(repeating: k.b2)).addingProduct(F(repeating: k.w2) * g, g)  // torch's addcmul: one FMA
        var second = vi, mx = vmax
        if amsgrad {
            // torch.maximum: NaN in either wins.
            mx = vmax.replacing(with: vi, where: vi .> vmax .| (vi .!= vi))
            second = mx
        }
        let denom = lanewiseSquareRoot(second) / F(repeating: k.bc2) + F(repeating: k.eps)
        return ((F(repeating: k.negStepSize) * mi) / denom + p, mi, vi, mx)
    }
    var i = 0
    while i < count {
        let lanes = min(8, count - i)
        var pv = F(), gv = F(), mv = F(), vv = F(), xv = F()
        if lanes == 8 {
            pv = loadLanes(p + i); gv = loadLanes(gradient + i); mv = loadLanes(m + i); vv = loadLanes(v + i)
            if amsgrad { xv = loadLanes(vmax! + i) }
        } else {
            for t in 0..<lanes {
                pv[t] = p[i + t]; gv[t] = gradient[i + t]; mv[t] = m[i + t]; vv[t] = v[i + t]
                if amsgrad { xv[t] = vmax![i + t] }
            }
        }
        let r = update(pv, gv, mv, vv, xv)
        if lanes == 8 {
            storeLanes(r.p, p + i); storeLanes(r.m, m + i); storeLanes(r.v, v + i)
            if amsgrad { storeLanes(r.vmax, vmax! + i) }
        } else {
            for t in 0..<lanes {
                p[i + t] = r.p[t]; m[i + t] = r.m[t]; v[i + t] = r.v[t]
                if amsgrad { vmax![i + t] = r.vmax[t] }
            }
        }
        i += 8
    }
}

/// `torch.optim.SGD` for Swift tensors. Parameters are identified by their position in the array
/// passed to `step`; the momentum buffers live here.
public struct SGD: Sendable {
    /// Hyperparameters, as `torch.optim.SGD`'s (`lr`, `momentum`, `dampening`, `weight_decay`).
    public var lr: Double, momentum: Double, dampening: Double, weightDecay: Double
    /// Nesterov momentum; `maximize` ascends the objective instead.
    public var nesterov: Bool, maximize: Bool
    /// One momentum buffer per parameter once a step has made it.
    public private(set) var momentumBuffers: [[Float]?] = []

    /// Throws `.invalidArgument` for the values torch rejects (negative lr, momentum or weight decay,
    /// nesterov without momentum or with dampening).
    public init(lr: Double, momentum: Double = 0, dampening: Double = 0, weightDecay: Double = 0,
                nesterov: Bool = false, maximize: Bool = false) throws(SwiftRNNError) {
        guard lr >= 0 else { throw .invalidArgument("Invalid learning rate: \(lr)") }
        guard momentum >= 0 else { throw .invalidArgument("Invalid momentum value: \(momentum)") }
        guard weightDecay >= 0 else { throw .invalidArgument("Invalid weight_decay value: \(weightDecay)") }
        if nesterov && (momentum <= 0 || dampening != 0) {
            throw .invalidArgument("Nesterov momentum requires a momentum and zero dampening")
        }
        self.lr = lr; self.momentum = momentum; self.dampening = dampening; self.weightDecay = weightDecay
        self.nesterov = nesterov; self.maximize = maximize
    }

    /// Updates `parameters` in place from `gradients` (same count and shapes).
    public mutating func step(_ parameters: inout [Tensor], gradients: [Tensor]) throws(SwiftRNNError) {
        try checkGradients(parameters, gradients)
        if momentumBuffers.count != parameters.count { momentumBuffers = Array(repeating: nil, count: parameters.count) }
        for i in parameters.indices {
            let isNew = momentumBuffers[i] == nil
            var buffer = momentumBuffers[i] ?? [Float](repeating: 0, count: momentum != 0 ? parameters[i].count : 0)
            momentumBuffers[i] = nil  // keep `buffer` uniquely referenced while it is written
            let (lr, momentum, dampening, weightDecay, nesterov, maximize) =
                (self.lr, self.momentum, self.dampening, self.weightDecay, self.nesterov, self.maximize)
            parameters[i].scalars.withUnsafeMutableBufferPointer { p in
                gradients[i].scalars.withUnsafeBufferPointer { g in
                    buffer.withUnsafeMutableBufferPointer { b in
                        sgdStep(parameter: p.nonNullBase, gradient: g.nonNullBase, count: p.count,
                                momentumBuffer: momentum != 0 ? b.nonNullBase : nil, momentumBufferIsNew: isNew,
                                lr: lr, momentum: momentum, dampening: dampening, weightDecay: weightDecay,
                                nesterov: nesterov, maximize: maximize)
                    }
                }
            }
            if momentum != 0 { momentumBuffers[i] = buffer }
        }
    }
}

/// `torch.optim.Adam`, or `torch.optim.AdamW` with `decoupledWeightDecay` (see `Adam.adamW`), for
/// Swift tensors. Parameters are identified by their position in the array passed to `step`.
public struct Adam: Sendable {
    /// Hyperparameters, as `torch.optim.Adam`'s (`lr`, `betas`, `eps`, `weight_decay`).
    public var lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double
    /// AMSGrad; AdamW's decoupled weight decay; `maximize` ascends the objective instead.
    public var amsgrad: Bool, decoupledWeightDecay: Bool, maximize: Bool
    /// Steps taken so far (the same for every parameter).
    public private(set) var stepCount = 0
    /// Per parameter: exp_avg, exp_avg_sq and (amsgrad) max_exp_avg_sq.
    public private(set) var expAvg: [[Float]] = [], expAvgSq: [[Float]] = [], maxExpAvgSq: [[Float]] = []

    /// Throws `.invalidArgument` for values torch rejects.
    public init(lr: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                weightDecay: Double = 0, amsgrad: Bool = false, decoupledWeightDecay: Bool = false,
                maximize: Bool = false) throws(SwiftRNNError) {
        guard lr >= 0 else { throw .invalidArgument("Invalid learning rate: \(lr)") }
        guard eps >= 0 else { throw .invalidArgument("Invalid epsilon value: \(eps)") }
        guard beta1 >= 0 && beta1 < 1 else { throw .invalidArgument("Invalid beta parameter at index 0: \(beta1)") }
        guard beta2 >= 0 && beta2 < 1 else { throw .invalidArgument("Invalid beta parameter at index 1: \(beta2)") }
        guard weightDecay >= 0 else { throw .invalidArgument("Invalid weight_decay value: \(weightDecay)") }
        self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        self.amsgrad = amsgrad; self.decoupledWeightDecay = decoupledWeightDecay; self.maximize = maximize
    }

    /// `torch.optim.AdamW`: Adam with decoupled weight decay (default 1e-2).
    public static func adamW(lr: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8,
                             weightDecay: Double = 1e-2, amsgrad: Bool = false) throws(SwiftRNNError) -> Adam {
        try Adam(lr: lr, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, amsgrad: amsgrad,
                 decoupledWeightDecay: true)
    }

    /// Updates `parameters` in place from `gradients` (same count and shapes).
    public mutating func step(_ parameters: inout [Tensor], gradients: [Tensor]) throws(SwiftRNNError) {
        try checkGradients(parameters, gradients)
        if expAvg.count != parameters.count {
            expAvg = parameters.map { [Float](repeating: 0, count: $0.count) }
            expAvgSq = expAvg
            maxExpAvgSq = amsgrad ? expAvg : []
            stepCount = 0
        }
        stepCount += 1
        let settings = self
        for i in parameters.indices {
            var m = expAvg[i], v = expAvgSq[i], vmax = amsgrad ? maxExpAvgSq[i] : []
            expAvg[i] = []; expAvgSq[i] = []  // unique references while written
            if amsgrad { maxExpAvgSq[i] = [] }
            parameters[i].scalars.withUnsafeMutableBufferPointer { p in
                gradients[i].scalars.withUnsafeBufferPointer { g in
                    m.withUnsafeMutableBufferPointer { mp in
                        v.withUnsafeMutableBufferPointer { vp in
                            vmax.withUnsafeMutableBufferPointer { xp in
                                adamStep(parameter: p.nonNullBase, gradient: g.nonNullBase, count: p.count,
                                         expAvg: mp.nonNullBase, expAvgSq: vp.nonNullBase,
                                         maxExpAvgSq: settings.amsgrad ? xp.nonNullBase : nil, step: settings.stepCount,
                                         lr: settings.lr, beta1: settings.beta1, beta2: settings.beta2, eps: settings.eps,
                                         weightDecay: settings.weightDecay,
                                         decoupledWeightDecay: settings.decoupledWeightDecay, maximize: settings.maximize)
                            }
                        }
                    }
                }
            }
            expAvg[i] = m; expAvgSq[i] = v
            if amsgrad { maxExpAvgSq[i] = vmax }
        }
    }
}

/// Parameters and gradients must pair up one to one, shape for shape.
func checkGradients(_ parameters: [Tensor], _ gradients: [Tensor]) throws(SwiftRNNError) {
    guard parameters.count == gradients.count else {
        throw .invalidArgument("expected \(parameters.count) gradients (one per parameter), got \(gradients.count)")
    }
    for (i, (p, g)) in zip(parameters, gradients).enumerated() where p.shape != g.shape {
        throw .invalidArgument("expected the gradient of parameter \(i) to have shape \(describeShape(p.shape)), got \(describeShape(g.shape))")
    }
}
