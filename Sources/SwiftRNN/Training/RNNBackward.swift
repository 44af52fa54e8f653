// Backpropagation through time for the Elman RNN of `rnnForward`: every layer, both directions.
//
// Per layer and direction, with pre_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh and h_t = act(pre_t):
//   dpre_t  = (dh_t + dpre_{t+1} W_hh) ⊙ act'(h_t)          (one small GEMM per step: the recurrence)
//   dW_ih  += Σ_t dpre_tᵀ x_t       dW_hh += Σ_t dpre_tᵀ h_{t-1}     db_ih = db_hh += Σ_t dpre_t
//   dx_t   += dpre_t W_ih                                      (these three: one GEMM each over all steps)
//   dh0    += dpre_0 W_hh
// where "t+1" is the next step in the direction's own order (t-1 for the reverse direction).

/// Backward of `rnnForward` (training): accumulates (+=) the gradients of every parameter, of the
/// input and of h0, given the gradients of `output` and `hn`. An LSTM or GRU runs `gatedBackward`
/// (GatedBackward.swift); an LSTM also takes the forward's `c0`, the gradient of `cn` and a buffer for c0's.
///
/// - `parameters`, `x`, `seqLen`, `batch`, `h0`, `dropoutMasks`: exactly what the forward took.
/// - `saved`: the forward's `saved` buffer, (numLayers, seqLen, batch, D·H) time-major.
/// - `gradOutput`: shaped like `output`; `gradHn`: shaped like hn, or nil for zeros.
/// - `parameterGradients`: `config.parameterCount` buffers shaped like the parameters, in the same
///   order; a nil entry is skipped (a parameter that needs no gradient).
/// - `gradInput`: shaped like `x`, or nil; `gradH0`: shaped like h0, or nil.
///
/// Gradient buffers are accumulated into, never overwritten: the caller zeroes them (or keeps earlier
/// gradients, which then add up as in torch). The weight gradients are each one GEMM over all time
/// steps; only the recurrence dpre_{t+1} W_hh runs per step. The gradients of one sequence's input and
/// h0 depend only on that sequence: no reduction order depends on the batch.
public func rnnBackward(config: RNNConfig, parameters: UnsafeBufferPointer<UnsafePointer<Float>>,
                        x: UnsafePointer<Float>, seqLen: Int, batch: Int, h0: UnsafePointer<Float>?,
                        dropoutMasks: UnsafePointer<Float>?, saved: UnsafePointer<Float>,
                        gradOutput: UnsafePointer<Float>, gradHn: UnsafePointer<Float>?,
                        parameterGradients: UnsafeBufferPointer<UnsafeMutablePointer<Float>?>,
                        gradInput: UnsafeMutablePointer<Float>?, gradH0: UnsafeMutablePointer<Float>?,
                        c0: UnsafePointer<Float>? = nil, gradCn: UnsafePointer<Float>? = nil,
                        gradC0: UnsafeMutablePointer<Float>? = nil,
                        batchSizes: UnsafeBufferPointer<Int>? = nil) throws(SwiftRNNError) {
    if config.cell != .elman || batchSizes != nil {
        try config.validate()
        try config.checkParameterCount(parameters.count)
        try config.checkParameterCount(parameterGradients.count, of: "parameter gradient buffers")
        try config.checkSequence(seqLen: seqLen, batch: batch)
        guard config.cell == .lstm || (c0 == nil && gradCn == nil && gradC0 == nil) else {
            throw .invalidArgument("only an LSTM has a cell state")
        }
        if seqLen * batch == 0 { return }
        if let batchSizes { try checkBatchSizes(batchSizes, seqLen: seqLen, batch: batch) }
        try gatedBackward(config: config, parameters: parameters, x: x, seqLen: seqLen, batch: batch, h0: h0, c0: c0,
                          dropoutMasks: dropoutMasks, saved: saved, gradOutput: gradOutput, gradHn: gradHn,
                          gradCn: gradCn, parameterGradients: parameterGradients, gradInput: gradInput,
                          gradH0: gradH0, gradC0: gradC0, batchSizes: batchSizes)
        return
    }
    try rnnBackward(config: config, parameters: parameters, x: x, seqLen: seqLen, batch: batch, h0: h0,
                    dropoutMasks: dropoutMasks, saved: saved, gradOutput: gradOutput, gradHn: gradHn,
                    parameterGradients: parameterGradients, gradInput: gradInput, gradH0: gradH0, padRows: true)
}

/// `rnnBackward` with the choice of padding dpre's rows (`paddedRowStride`): the results are the same
/// bits either way (a GEMM's value never depends on the leading dimensions); tests compare the two.
func rnnBackward(config: RNNConfig, parameters: UnsafeBufferPointer<UnsafePointer<Float>>,
                 x: UnsafePointer<Float>, seqLen: Int, batch: Int, h0: UnsafePointer<Float>?,
                 dropoutMasks: UnsafePointer<Float>?, saved: UnsafePointer<Float>,
                 gradOutput: UnsafePointer<Float>, gradHn: UnsafePointer<Float>?,
                 parameterGradients: UnsafeBufferPointer<UnsafeMutablePointer<Float>?>,
                 gradInput: UnsafeMutablePointer<Float>?, gradH0: UnsafeMutablePointer<Float>?,
                 padRows: Bool) throws(SwiftRNNError) {
    try config.validate()
    try config.checkParameterCount(parameters.count)
    try config.checkParameterCount(parameterGradients.count, of: "parameter gradient buffers")
    try config.checkSequence(seqLen: seqLen, batch: batch)

    let H = config.hiddenSize, D = config.numDirections, L = seqLen, N = batch
    let outWidth = D * H, inputSize = config.inputSize
    let rows = try checkedProduct(L, N, what: "seq_len x batch")
    let layerCount = try checkedProduct(rows, outWidth, what: "a layer's output")
    let inputCount = try checkedProduct(rows, max(inputSize, 1), what: "the input")
    _ = try checkedProduct(rows, H, what: "a direction's pre-activation gradient")
    if rows == 0 { return }
    let numLayers = config.numLayers

    // Workspaces, allocated once: the gradient w.r.t. the current layer's output and the one below
    // (time-major), one direction's dpre, the bias-gradient sums, and for batch-first input a
    // time-major copy of x and of its gradient.
    // dpre rows are `ldp` floats apart: H padded so that a row is an odd number of cache lines. With
    // H a multiple of 32 floats (256, 512...), rows 2^k bytes apart map to a few L1 sets, and the GEMMs
    // that read dpre transposed (the weight gradients) thrashed L1: dW_hh ran at 58 instead of 81 GFLOP/s.
    let ldp = padRows ? paddedRowStride(H) : H
    // With one direction dOut's rows hold dpre (stride ldp), else the layer's full output gradient.
    let ldo = D == 1 ? ldp : outWidth
    let dOut = try Workspace(count: try checkedProduct(rows, ldo, what: "a layer's output gradient"),
                             what: "RNN output gradient")
    let dBelow = try Workspace(count: numLayers > 1 ? layerCount : 0, what: "RNN layer-input gradient")
    // With one direction, dpre is computed in place in dOut (its only reader): no copy.
    let dPre = try Workspace(count: D > 1 ? try checkedProduct(rows, ldp, what: "dpre") : 0,
                             what: "RNN pre-activation gradient")
    // W_hh packed once per direction for the per-step recurrence GEMMs (same results as unpacked).
    let packedHH = try Workspace(count: packedBCount(k: H, n: H), what: "RNN packed recurrent weight")
    let biasSum = try Workspace(count: config.bias ? H : 0, what: "RNN bias gradient")
    let transposeInput = config.batchFirst && N > 1
    let xTimeMajor = try Workspace(count: transposeInput ? inputCount : 0, what: "RNN time-major input")
    let dxTimeMajor = try Workspace(count: transposeInput && gradInput != nil ? inputCount : 0,
                                    what: "RNN time-major input gradient")
    let maskedInput = try Workspace(count: numLayers > 1 && dropoutMasks != nil ? layerCount : 0,
                                    what: "RNN masked layer input")

    // The gradient w.r.t. the last layer's output, time-major.
    if config.batchFirst {
        for t in 0..<L {
            for n in 0..<N {
                (dOut.pointer + (t * N + n) * ldo).update(from: gradOutput + (n * L + t) * outWidth, count: outWidth)
            }
        }
    } else {
        for r in 0..<rows { (dOut.pointer + r * ldo).update(from: gradOutput + r * outWidth, count: outWidth) }
    }
    let x0: UnsafePointer<Float>
    if transposeInput {
        for t in 0..<L {
            for n in 0..<N {
                (xTimeMajor.pointer + (t * N + n) * inputSize).update(from: x + (n * L + t) * inputSize, count: inputSize)
            }
        }
        x0 = UnsafePointer(xTimeMajor.pointer)
    } else {
        x0 = x
    }

    for layer in stride(from: numLayers - 1, through: 0, by: -1) {
        let layerSaved = saved + layer * layerCount
        // This layer's input (as the forward saw it: the layer below's output after dropout) and
        // where the gradient w.r.t. it goes.
        let input: UnsafePointer<Float>
        let inWidth = layer == 0 ? inputSize : outWidth
        let dIn: UnsafeMutablePointer<Float>?
        if layer == 0 {
            input = x0
            if let gradInput {
                dIn = transposeInput ? dxTimeMajor.pointer : gradInput
                if transposeInput { dIn!.update(repeating: 0, count: rows * inputSize) }
            } else {
                dIn = nil
            }
        } else {
            let below = saved + (layer - 1) * layerCount
            if let dropoutMasks {
                let mask = dropoutMasks + (layer - 1) * layerCount
                for i in 0..<layerCount { maskedInput.pointer[i] = below[i] * mask[i] }
                input = UnsafePointer(maskedInput.pointer)
            } else {
                input = below
            }
            dIn = dBelow.pointer
            dBelow.pointer.update(repeating: 0, count: layerCount)
        }

        for direction in 0..<D {
            let p = (layer * D + direction) * config.paramsPerDirection
            let wIH = parameters[p], wHH = parameters[p + 1]
            let slot = (layer * D + direction) * N * H
            let reverse = direction == 1
            let dp = D > 1 ? dPre.pointer : dOut.pointer  // row r of step-major (t, n) at dp + r·ldp
            // h_t of this direction: rows of `layerSaved` at column offset direction·H.
            let hBase = layerSaved + direction * H

            // dpre_t starts as dh_t from above (plus dhn at the direction's last step) ...
            if D > 1 {
                for t in 0..<L {
                    for n in 0..<N {
                        (dp + (t * N + n) * ldp).update(from: dOut.pointer + (t * N + n) * ldo + direction * H, count: H)
                    }
                }
            }
            if L > 1 { packB(transB: false, k: H, n: H, b: wHH, ldb: H, into: packedHH.pointer) }
            let lastT = reverse ? 0 : L - 1
            if let gradHn {
                let g = gradHn + slot, d = dp + lastT * N * ldp
                for n in 0..<N {
                    for i in 0..<H { d[n * ldp + i] += g[n * H + i] }
                }
            }
            // ... then, walking back through the direction's steps, gains the recurrence's share and
            // the activation's derivative.
            for s in 0..<L {
                let t = reverse ? s : L - 1 - s
                let d = dp + t * N * ldp
                if s > 0 {
                    let later = reverse ? t - 1 : t + 1
                    sgemmPacked(transA: false, m: N, n: H, k: H, a: dp + later * N * ldp, lda: ldp,
                                packedB: packedHH.pointer, accumulate: true, c: d, ldc: ldp)
                }
                for n in 0..<N {
                    activationBackward(config.nonlinearity, grad: d + n * ldp,
                                       output: hBase + (t * N + n) * outWidth, count: H)
                }
            }
            let firstT = reverse ? L - 1 : 0  // the forward's first step: its h_{t-1} is h0
            if let gradH0 {
                sgemm(transA: false, transB: false, m: N, n: H, k: H, a: dp + firstT * N * ldp, lda: ldp,
                      b: wHH, ldb: H, accumulate: true, c: gradH0 + slot, ldc: H)
            }

            // Weight gradients: one GEMM each over all (t, n) rows.
            if let gIH = parameterGradients[p] {
                sgemm(transA: true, transB: false, m: H, n: inWidth, k: rows, a: dp, lda: ldp,
                      b: input, ldb: inWidth, accumulate: true, c: gIH, ldc: inWidth)
            }
            if let gHH = parameterGradients[p + 1] {
                // Pairs (dpre_t, h_{t-1}) for every step but the first: dpre rows t = 1..<L against h rows
                // 0..<L-1 (forward direction), dpre rows 0..<L-1 against h rows 1..<L (reverse).
                if L > 1 {
                    let a = reverse ? dp : dp + N * ldp
                    let b = reverse ? hBase + N * outWidth : hBase
                    sgemm(transA: true, transB: false, m: H, n: H, k: (L - 1) * N, a: a, lda: ldp,
                          b: b, ldb: outWidth, accumulate: true, c: gHH, ldc: H)
                }
                if let h0 {
                    sgemm(transA: true, transB: false, m: H, n: H, k: N, a: dp + firstT * N * ldp, lda: ldp,
                          b: h0 + slot, ldb: H, accumulate: true, c: gHH, ldc: H)
                } else if !(0..<N).allSatisfy({ allFinite(dp + (firstT * N + $0) * ldp, count: H) }) {
                    // No h0: torch still adds dpre_firstᵀ·(its zero state), NaN where dpre holds an Inf
                    // or a NaN (0·Inf). Skipped when dpre is finite, as it then adds nothing.
                    let zeros = try Workspace(count: N * H, what: "RNN zero initial state")
                    zeros.pointer.initialize(repeating: 0, count: N * H)
                    sgemm(transA: true, transB: false, m: H, n: H, k: N, a: dp + firstT * N * ldp, lda: ldp,
                          b: zeros.pointer, ldb: H, accumulate: true, c: gHH, ldc: H)
                }
            }
            if config.bias, parameterGradients[p + 2] != nil || parameterGradients[p + 3] != nil {
                columnSums(dp, rows: rows, columns: H, stride: ldp, into: biasSum.pointer)
                for g in [parameterGradients[p + 2], parameterGradients[p + 3]] {
                    guard let g else { continue }
                    for j in 0..<H { g[j] += biasSum.pointer[j] }
                }
            }
            // The gradient w.r.t. this layer's input, one GEMM over all rows.
            if let dIn {
                sgemm(transA: false, transB: false, m: rows, n: inWidth, k: H, a: dp, lda: ldp,
                      b: wIH, ldb: inWidth, accumulate: true, c: dIn, ldc: inWidth)
            }
        }

        if layer > 0 {
            // Through the dropout between this layer and the one below.
            if let dropoutMasks {
                let mask = dropoutMasks + (layer - 1) * layerCount
                for r in 0..<rows {
                    let o = dOut.pointer + r * ldo, b = dBelow.pointer + r * outWidth, k = mask + r * outWidth
                    for i in 0..<outWidth { o[i] = b[i] * k[i] }
                }
            } else {
                for r in 0..<rows { (dOut.pointer + r * ldo).update(from: dBelow.pointer + r * outWidth, count: outWidth) }
            }
        }
    }
    if let gradInput, transposeInput {
        for t in 0..<L {
            for n in 0..<N {
                let src = dxTimeMajor.pointer + (t * N + n) * inputSize, dst = gradInput + (n * L + t) * inputSize
                for i in 0..<inputSize { dst[i] += src[i] }
            }
        }
    }
}

/// grad[i] *= act'(pre_i), written in terms of the activation's output y = act(pre), as torch:
/// tanh: grad · (1 − y²); relu: 0 where y <= 0, else grad.
@inline(__always)
func activationBackward(_ nonlinearity: Nonlinearity, grad: UnsafeMutablePointer<Float>,
                        output y: UnsafePointer<Float>, count n: Int) {
    typealias F = SIMD8<Float>
    var i = 0
    switch nonlinearity {
    case .tanh:
        let one = F(repeating: 1)
        while i + 8 <= n {
            let yv = loadLanes(y + i)
            storeLanes(loadLanes(grad + i) * (one - yv * yv), grad + i)
            i += 8
        }
        while i < n { grad[i] = grad[i] * (1 - y[i] * y[i]); i += 1 }
    case .relu:
        while i + 8 <= n {
            let g = loadLanes(grad + i)
            storeLanes(g.replacing(with: 0, where: loadLanes(y + i) .<= 0), grad + i)
            i += 8
        }
        while i < n { if y[i] <= 0 { grad[i] = 0 }; i += 1 }
    }
}

/// A row stride of at least `n` floats for a workspace of many rows that GEMMs read (often transposed):
/// `n` plus 16 when `n` is a multiple of 32 floats (an even number of 64-byte lines, so rows a power of
/// two apart in bytes would share a few L1 sets), else `n`. Small rows are left alone.
func paddedRowStride(_ n: Int) -> Int {
    n >= 64 && n % 32 == 0 ? n + 16 : n
}

/// out[j] = Σ_i x[i][j] over `rows` rows of `columns` floats (rows `stride` floats apart, default
/// `columns`), summed in row order in double precision. The order depends only on `rows`.
func columnSums(_ x: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int? = nil,
                into out: UnsafeMutablePointer<Float>) {
    let stride = stride ?? columns
    var acc = [Double](repeating: 0, count: columns)
    acc.withUnsafeMutableBufferPointer { a in
        for i in 0..<rows {
            let row = x + i * stride
            for j in 0..<columns { a[j] += Double(row[j]) }
        }
        for j in 0..<columns { out[j] = Float(a[j]) }
    }
}
