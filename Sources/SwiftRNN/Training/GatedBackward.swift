// Backpropagation through time for the LSTM and GRU of `gatedForward`: every layer, both directions, from
// what the forward saved (the layer outputs, then each step's activated gates and c' or W_hn·h + b_hn).
//
// Per layer and direction, walking the direction's steps backwards with dh = dout_t + dh_next:
//   LSTM: dh_pre = dh·W_hr if projected; dc = dc_next + dh_pre·o·(1 − tanh²c'); do = dh_pre·tanh c';
//         di = dc·g, df = dc·c, dg = dc·i, dc_next = dc·f; da = (di·i(1−i), df·f(1−f), dg·(1−g²), do·o(1−o));
//         dh_next = da·W_hh.
//   GRU:  dn = dh·(1 − z), dz = dh·(h − n); da_n = dn·(1 − n²); dr = da_n·(W_hn·h + b_hn);
//         da_x = (dr·r(1−r), dz·z(1−z), da_n) for the input projection, da_h = (.., .., da_n·r) for W_hh·h;
//         dh_next = dh·z + da_h·W_hh.
// After the steps, one GEMM each over all of them: dW_ih += da_xᵀ·x, dW_hh += da_hᵀ·h_prev, dx += da_x·W_ih,
// dW_hr += dhᵀ·h_pre, and the bias gradients are column sums of da_x / da_h.

/// The backward of `gatedForward`; `rnnBackward` checked every size and dispatches here. Accumulates (+=)
/// into the parameter gradients (nil entries skipped), `gradInput`, `gradH0` and an LSTM's `gradC0`. With
/// `batchSizes` the arrays are packed rows, as the forward's.
func gatedBackward(config c: RNNConfig, parameters: UnsafeBufferPointer<UnsafePointer<Float>>,
                   x: UnsafePointer<Float>, seqLen L: Int, batch N: Int, h0: UnsafePointer<Float>?,
                   c0: UnsafePointer<Float>?, dropoutMasks: UnsafePointer<Float>?, saved: UnsafePointer<Float>,
                   gradOutput: UnsafePointer<Float>, gradHn: UnsafePointer<Float>?, gradCn: UnsafePointer<Float>?,
                   parameterGradients grads: UnsafeBufferPointer<UnsafeMutablePointer<Float>?>,
                   gradInput: UnsafeMutablePointer<Float>?, gradH0: UnsafeMutablePointer<Float>?,
                   gradC0: UnsafeMutablePointer<Float>?, batchSizes: UnsafeBufferPointer<Int>? = nil) throws(SwiftRNNError) {
    let H = c.hiddenSize, P = c.stateSize, GH = c.gateRows, D = c.numDirections, S = gateRowFloats(c)
    let steps = batchSizes.map { StepRows(batchSizes: $0) } ?? StepRows(seqLen: L, batch: N)
    let rows = steps.total, outWidth = D * P, layerCount = rows * outWidth, gateCount = rows * S
    let isLSTM = c.cell == .lstm, projected = c.projSize > 0
    let batchFirst = c.batchFirst && batchSizes == nil
    let maxIn = max(c.inputSize, outWidth)

    let xTime = try Workspace(count: batchFirst ? rows * c.inputSize : 0, what: "time-major input")
    if batchFirst { transposeRows(from: x, to: xTime.pointer, outer: N, inner: L, width: c.inputSize) }
    let dOut = try Workspace(count: layerCount, what: "layer output gradient")
    if batchFirst {
        transposeRows(from: gradOutput, to: dOut.pointer, outer: N, inner: L, width: outWidth)
    } else {
        dOut.pointer.update(from: gradOutput, count: layerCount)
    }
    let dInput = try Workspace(count: rows * maxIn, what: "layer input gradient")
    let maskedInput = try Workspace(count: c.numLayers > 1 && dropoutMasks != nil ? layerCount : 0, what: "masked layer input")
    let dAx = try Workspace(count: rows * GH, what: "gate gradients")
    let dAh = try Workspace(count: c.cell == .gru ? rows * GH : 0, what: "recurrent gate gradients")
    let hPrevRows = try Workspace(count: rows * P, what: "previous states")
    let dHAll = try Workspace(count: projected ? rows * P : 0, what: "projected state gradients")
    let dh = try Workspace(count: N * P, what: "state gradient")
    let dhNext = try Workspace(count: N * P, what: "next state gradient")
    let dhPre = try Workspace(count: projected ? N * H : 0, what: "pre-projection gradient")
    let dcNext = try Workspace(count: isLSTM ? N * H : 0, what: "cell state gradient")
    let zeros = try Workspace(count: N * max(P, H), what: "zero initial state")
    zeros.pointer.initialize(repeating: 0, count: zeros.count)
    let savedGates = saved + c.numLayers * layerCount

    for layer in stride(from: c.numLayers - 1, through: 0, by: -1) {
        let layerOut = saved + layer * layerCount
        let inWidth = layer == 0 ? c.inputSize : outWidth
        let input: UnsafePointer<Float>
        if layer == 0 {
            input = batchFirst ? UnsafePointer(xTime.pointer) : x
        } else if let dropoutMasks {
            let below = saved + (layer - 1) * layerCount, mask = dropoutMasks + (layer - 1) * layerCount
            for i in 0..<layerCount { maskedInput.pointer[i] = below[i] * mask[i] }
            input = UnsafePointer(maskedInput.pointer)
        } else {
            input = saved + (layer - 1) * layerCount
        }
        dInput.pointer.initialize(repeating: 0, count: rows * inWidth)
        for d in 0..<D {
            let p = GatedParameters(c, parameters, layer: layer, direction: d)
            let group = (layer * D + d) * c.paramsPerDirection
            let gates = savedGates + (layer * D + d) * gateCount
            let state = (layer * D + d) * N
            let out = layerOut + d * P  // this direction's h_t rows: stride outWidth
            // The previous step (in the direction's order) of row n at step t, if the row was active there: else
            // the row starts at t (h0 / c0).
            func previous(_ t: Int, _ n: Int) -> Int? {
                let q = d == 0 ? t - 1 : t + 1
                return q >= 0 && q < L && n < steps.count[q] ? steps.start[q] + n : nil
            }
            func hPrev(_ t: Int, _ n: Int) -> UnsafePointer<Float> {
                if let r = previous(t, n) { return out + r * outWidth }
                return h0.map { $0 + (state + n) * P } ?? UnsafePointer(zeros.pointer)
            }
            func cPrev(_ t: Int, _ n: Int) -> UnsafePointer<Float> {
                if let r = previous(t, n) { return gates + r * S + GH }
                return c0.map { $0 + (state + n) * H } ?? UnsafePointer(zeros.pointer)
            }
            for n in 0..<N {
                for j in 0..<P { dhNext.pointer[n * P + j] = gradHn?[(state + n) * P + j] ?? 0 }
                if isLSTM { for j in 0..<H { dcNext.pointer[n * H + j] = gradCn?[(state + n) * H + j] ?? 0 } }
            }
            for step in stride(from: L - 1, through: 0, by: -1) {
                let t = d == 0 ? step : L - 1 - step
                let m = steps.count[t], r0 = steps.start[t]
                let g = gates + r0 * S
                for n in 0..<m {
                    let o = dOut.pointer + (r0 + n) * outWidth + d * P, a = dhNext.pointer + n * P, b = dh.pointer + n * P
                    for j in 0..<P { b[j] = o[j] + a[j] }
                    (hPrevRows.pointer + (r0 + n) * P).update(from: hPrev(t, n), count: P)
                }
                switch c.cell {
                case .lstm:
                    var dState = UnsafePointer(dh.pointer), dStride = P
                    if let wHR = p.wHR {
                        (dHAll.pointer + r0 * P).update(from: dh.pointer, count: m * P)
                        sgemm(transA: false, transB: false, m: m, n: H, k: P, a: dh.pointer, lda: P, b: wHR, ldb: H,
                              accumulate: false, c: dhPre.pointer, ldc: H)
                        dState = UnsafePointer(dhPre.pointer)
                        dStride = H
                    }
                    for n in 0..<m {
                        lstmCellBackward(g + n * S, cPrev: cPrev(t, n), dh: dState + n * dStride,
                                         dc: dcNext.pointer + n * H, da: dAx.pointer + (r0 + n) * GH, H: H)
                    }
                    // dh_next = da · W_hh
                    sgemm(transA: false, transB: false, m: m, n: P, k: GH, a: dAx.pointer + r0 * GH, lda: GH,
                          b: p.wHH, ldb: P, accumulate: false, c: dhNext.pointer, ldc: P)
                case .gru:
                    for n in 0..<m {
                        gruCellBackward(g + n * S, hPrev: hPrev(t, n), dh: dh.pointer + n * P,
                                        dhPrev: dhNext.pointer + n * P, dax: dAx.pointer + (r0 + n) * GH,
                                        dah: dAh.pointer + (r0 + n) * GH, H: H)
                    }
                    sgemm(transA: false, transB: false, m: m, n: P, k: GH, a: dAh.pointer + r0 * GH, lda: GH,
                          b: p.wHH, ldb: P, accumulate: true, c: dhNext.pointer, ldc: P)
                case .elman:
                    let relu = c.nonlinearity == .relu
                    for n in 0..<m {
                        let hRow = g + n * S, da = dAx.pointer + (r0 + n) * GH, b = dh.pointer + n * P
                        for j in 0..<H { da[j] = relu ? (hRow[j] > 0 ? b[j] : 0) : b[j] * (1 - hRow[j] * hRow[j]) }
                    }
                    sgemm(transA: false, transB: false, m: m, n: P, k: GH, a: dAx.pointer + r0 * GH, lda: GH,
                          b: p.wHH, ldb: P, accumulate: false, c: dhNext.pointer, ldc: P)
                }
            }
            // The state gradients at each row's first step.
            if let gradH0 { for i in 0..<N * P { gradH0[state * P + i] += dhNext.pointer[i] } }
            if isLSTM, let gradC0 { for i in 0..<N * H { gradC0[state * H + i] += dcNext.pointer[i] } }

            let daH = c.cell == .gru ? dAh.pointer : dAx.pointer
            // dW_ih += da_xᵀ · x;  dW_hh += da_hᵀ · h_prev (each row's previous state, gathered above)
            if let gW = grads[group] {
                sgemm(transA: true, transB: false, m: GH, n: inWidth, k: rows, a: dAx.pointer, lda: GH, b: input,
                      ldb: inWidth, accumulate: true, c: gW, ldc: inWidth)
            }
            if let gW = grads[group + 1] {
                sgemm(transA: true, transB: false, m: GH, n: P, k: rows, a: daH, lda: GH, b: hPrevRows.pointer, ldb: P,
                      accumulate: true, c: gW, ldc: P)
            }
            if c.bias {
                if let gB = grads[group + 2] { addColumnSums(dAx.pointer, rows: rows, cols: GH, into: gB) }
                if let gB = grads[group + 3] { addColumnSums(daH, rows: rows, cols: GH, into: gB) }
            }
            if projected, let gW = grads[group + (c.bias ? 4 : 2)] {  // dW_hr += dhᵀ · h_pre
                sgemm(transA: true, transB: false, m: P, n: H, k: rows, a: dHAll.pointer, lda: P, b: gates + GH + H,
                      ldb: S, accumulate: true, c: gW, ldc: H)
            }
            // dx += da_x · W_ih
            sgemm(transA: false, transB: false, m: rows, n: inWidth, k: GH, a: dAx.pointer, lda: GH, b: p.wIH,
                  ldb: inWidth, accumulate: true, c: dInput.pointer, ldc: inWidth)
        }
        if layer > 0 {
            // The layer below's output gradient: through the dropout mask the forward applied.
            if let dropoutMasks {
                let mask = dropoutMasks + (layer - 1) * layerCount
                for i in 0..<layerCount { dOut.pointer[i] = dInput.pointer[i] * mask[i] }
            } else {
                dOut.pointer.update(from: dInput.pointer, count: layerCount)
            }
        } else if let gradInput {
            if batchFirst {
                for n in 0..<N {
                    for t in 0..<L {
                        let dst = gradInput + (n * L + t) * c.inputSize, src = dInput.pointer + (t * N + n) * c.inputSize
                        for j in 0..<c.inputSize { dst[j] += src[j] }
                    }
                }
            } else {
                for i in 0..<rows * c.inputSize { gradInput[i] += dInput.pointer[i] }
            }
        }
    }
}

/// One LSTM row's backward: `row` the activated gates i, f, g, o and c' (after them); `dh` the gradient of h'
/// (before the projection), `dc` of c' (replaced by the gradient of c); `da` receives the gates' pre-activation
/// gradients (4·H).
@inline(__always)
func lstmCellBackward(_ row: UnsafePointer<Float>, cPrev: UnsafePointer<Float>, dh: UnsafePointer<Float>,
                      dc: UnsafeMutablePointer<Float>, da: UnsafeMutablePointer<Float>, H: Int) {
    let one = F8(repeating: 1)
    forEachLanes(H) { j, v in
        let i = load8(row + j, valid: v), f = load8(row + H + j, valid: v)
        let g = load8(row + 2 * H + j, valid: v), o = load8(row + 3 * H + j, valid: v)
        let tc = tanh8(load8(row + 4 * H + j, valid: v))
        let dH = load8(dh + j, valid: v)
        let dC = load8(dc + j, valid: v) + dH * o * (one - tc * tc)
        let dO = dH * tc
        store8((dC * g) * i * (one - i), da + j, valid: v)
        store8((dC * load8(cPrev + j, valid: v)) * f * (one - f), da + H + j, valid: v)
        store8((dC * i) * (one - g * g), da + 2 * H + j, valid: v)
        store8(dO * o * (one - o), da + 3 * H + j, valid: v)
        store8(dC * f, dc + j, valid: v)
    }
}

/// One GRU row's backward: `row` r, z, n and W_hn·h + b_hn; `dh` the gradient of h'. Writes the direct part of
/// h's gradient (dh·z) to `dhPrev` and the pre-activation gradients for the input projection (`dax`) and for
/// W_hh·h + b_hh (`dah`).
@inline(__always)
func gruCellBackward(_ row: UnsafePointer<Float>, hPrev: UnsafePointer<Float>, dh: UnsafePointer<Float>,
                     dhPrev: UnsafeMutablePointer<Float>, dax: UnsafeMutablePointer<Float>,
                     dah: UnsafeMutablePointer<Float>, H: Int) {
    let one = F8(repeating: 1)
    forEachLanes(H) { j, v in
        let r = load8(row + j, valid: v), z = load8(row + H + j, valid: v), n = load8(row + 2 * H + j, valid: v)
        let hn = load8(row + 3 * H + j, valid: v), hp = load8(hPrev + j, valid: v), dH = load8(dh + j, valid: v)
        let daN = dH * (one - z) * (one - n * n)
        let daR = (daN * hn) * r * (one - r)
        let daZ = (dH * (hp - n)) * z * (one - z)
        store8(daR, dax + j, valid: v)
        store8(daZ, dax + H + j, valid: v)
        store8(daN, dax + 2 * H + j, valid: v)
        store8(daR, dah + j, valid: v)
        store8(daZ, dah + H + j, valid: v)
        store8(daN * r, dah + 2 * H + j, valid: v)
        store8(dH * z, dhPrev + j, valid: v)
    }
}

/// into[j] += Σ_r a[r][j] (a: rows × cols, row-major).
func addColumnSums(_ a: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let row = a + r * cols
        forEachLanes(cols) { j, v in store8(load8(out + j, valid: v) + load8(row + j, valid: v), out + j, valid: v) }
    }
}
