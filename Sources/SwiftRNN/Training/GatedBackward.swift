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
    // Per direction (their steps run side by side): the gate gradients of every step, each row's previous state
    // (for dW_hh), the state gradients, and W_hh (for da·W_hh) and W_hr (for dh·W_hr) packed once per layer.
    let dAx = try Workspace(count: D * rows * GH, what: "gate gradients")
    let dAh = try Workspace(count: c.cell == .gru ? D * rows * GH : 0, what: "recurrent gate gradients")
    let hPrevRows = try Workspace(count: D * rows * P, what: "previous states")
    let dHAll = try Workspace(count: projected ? D * rows * P : 0, what: "projected state gradients")
    let dh = try Workspace(count: D * N * P, what: "state gradient")
    let dhNext = try Workspace(count: D * N * P, what: "next state gradient")
    let dhPre = try Workspace(count: projected ? D * N * H : 0, what: "pre-projection gradient")
    let dcNext = try Workspace(count: isLSTM ? D * N * H : 0, what: "cell state gradient")
    let hrOffset = packedBCount(k: GH, n: P)
    let packedCount = hrOffset + (projected ? packedBCount(k: P, n: H) : 0)
    let packed = try Workspace(count: D * packedCount, what: "packed recurrent weights")
    let zeros = try Workspace(count: max(P, H), what: "zero initial state")
    zeros.pointer.initialize(repeating: 0, count: zeros.count)
    let savedGates = saved + c.numLayers * layerCount
    let groups = recurrentGroups(batch: N, hidden: H, seqLen: L, directions: D, threads: getNumThreads())

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
            let pk = packed.pointer + d * packedCount
            packB(transB: false, k: GH, n: P, b: p.wHH, ldb: P, into: pk)
            if let wHR = p.wHR { packB(transB: false, k: P, n: H, b: wHR, ldb: H, into: pk + hrOffset) }
        }
        // Row n's previous step (in direction d's order) before step t, if the row was active there; else the
        // row starts at t, from h0 / c0 (zeros if none).
        func previous(_ d: Int, _ t: Int, _ n: Int) -> Int? {
            let q = d == 0 ? t - 1 : t + 1
            return q >= 0 && q < L && n < steps.count[q] ? steps.start[q] + n : nil
        }
        func hPrev(_ d: Int, _ t: Int, _ n: Int) -> UnsafePointer<Float> {
            if let r = previous(d, t, n) { return layerOut + r * outWidth + d * P }
            return h0.map { $0 + ((layer * D + d) * N + n) * P } ?? UnsafePointer(zeros.pointer)
        }
        func cPrev(_ d: Int, _ t: Int, _ n: Int) -> UnsafePointer<Float> {
            if let r = previous(d, t, n) { return savedGates + (layer * D + d) * gateCount + r * S + GH }
            return c0.map { $0 + ((layer * D + d) * N + n) * H } ?? UnsafePointer(zeros.pointer)
        }
        // Phase 1, the steps of rows n0 ..< n0 + m of direction d, backwards: the gate gradients of every
        // step and the gradients of h0 and c0. Each row's chain is the same in any group.
        func stepsBackward(_ task: Int) {
            let d = task / groups, group = task % groups
            let n0 = N * group / groups, m = N * (group + 1) / groups - n0
            if m == 0 { return }
            let pk = UnsafePointer(packed.pointer + d * packedCount)
            let gates = savedGates + (layer * D + d) * gateCount
            let state = (layer * D + d) * N + n0
            let dhD = dh.pointer + (d * N + n0) * P, dhNextD = dhNext.pointer + (d * N + n0) * P
            let dhPreD = dhPre.pointer + (d * N + n0) * H, dcNextD = dcNext.pointer + (d * N + n0) * H
            let dAxD = dAx.pointer + d * rows * GH, dAhD = dAh.pointer + d * rows * GH
            let prevD = hPrevRows.pointer + d * rows * P
            for i in 0..<m * P { dhNextD[i] = gradHn?[state * P + i] ?? 0 }
            if isLSTM { for i in 0..<m * H { dcNextD[i] = gradCn?[state * H + i] ?? 0 } }
            for step in stride(from: L - 1, through: 0, by: -1) {
                let t = d == 0 ? step : L - 1 - step
                let ma = steps.active(t, from: n0, of: m)
                if ma == 0 { continue }
                let r0 = steps.start[t] + n0
                let g = gates + r0 * S
                for n in 0..<ma {
                    let o = dOut.pointer + (r0 + n) * outWidth + d * P, a = dhNextD + n * P, b = dhD + n * P
                    for j in 0..<P { b[j] = o[j] + a[j] }
                    (prevD + (r0 + n) * P).update(from: hPrev(d, t, n0 + n), count: P)
                }
                let da = dAxD + r0 * GH
                switch c.cell {
                case .lstm:
                    var dState = UnsafePointer(dhD), dStride = P
                    if projected {
                        (dHAll.pointer + d * rows * P + r0 * P).update(from: dhD, count: ma * P)
                        sgemmPacked(transA: false, m: ma, n: H, k: P, a: dhD, lda: P, packedB: pk + hrOffset,
                                    accumulate: false, c: dhPreD, ldc: H)
                        dState = UnsafePointer(dhPreD)
                        dStride = H
                    }
                    for n in 0..<ma {
                        lstmCellBackward(g + n * S, cPrev: cPrev(d, t, n0 + n), dh: dState + n * dStride,
                                         dc: dcNextD + n * H, da: da + n * GH, H: H)
                    }
                    // dh_next = da · W_hh
                    sgemmPacked(transA: false, m: ma, n: P, k: GH, a: da, lda: GH, packedB: pk,
                                accumulate: false, c: dhNextD, ldc: P)
                case .gru:
                    let dah = dAhD + r0 * GH
                    for n in 0..<ma {
                        gruCellBackward(g + n * S, hPrev: hPrev(d, t, n0 + n), dh: dhD + n * P, dhPrev: dhNextD + n * P,
                                        dax: da + n * GH, dah: dah + n * GH, H: H)
                    }
                    sgemmPacked(transA: false, m: ma, n: P, k: GH, a: dah, lda: GH, packedB: pk,
                                accumulate: true, c: dhNextD, ldc: P)
                case .elman:
                    let relu = c.nonlinearity == .relu
                    for n in 0..<ma {
                        let hRow = g + n * S, a = da + n * GH, b = dhD + n * P
                        for j in 0..<H { a[j] = relu ? (hRow[j] > 0 ? b[j] : 0) : b[j] * (1 - hRow[j] * hRow[j]) }
                    }
                    sgemmPacked(transA: false, m: ma, n: P, k: GH, a: da, lda: GH, packedB: pk,
                                accumulate: false, c: dhNextD, ldc: P)
                }
            }
            // The state gradients at each row's first step.
            if let gradH0 { for i in 0..<m * P { gradH0[state * P + i] += dhNextD[i] } }
            if isLSTM, let gradC0 { for i in 0..<m * H { gradC0[state * H + i] += dcNextD[i] } }
        }
        if D * groups > 1 {
            parallelFor(D * groups) { stepsBackward($0) }
        } else {
            stepsBackward(0)  // one task: its GEMMs may use the pool themselves
        }

        // Phase 2, per direction: the weight gradients and the input's, one GEMM each over all steps.
        for d in 0..<D {
            let p = GatedParameters(c, parameters, layer: layer, direction: d)
            let group = (layer * D + d) * c.paramsPerDirection
            let gates = savedGates + (layer * D + d) * gateCount
            let daX = dAx.pointer + d * rows * GH
            let daH = c.cell == .gru ? dAh.pointer + d * rows * GH : daX
            // dW_ih += da_xᵀ · x;  dW_hh += da_hᵀ · h_prev (each row's previous state, gathered above)
            if let gW = grads[group] {
                sgemm(transA: true, transB: false, m: GH, n: inWidth, k: rows, a: daX, lda: GH, b: input,
                      ldb: inWidth, accumulate: true, c: gW, ldc: inWidth)
            }
            if let gW = grads[group + 1] {
                sgemm(transA: true, transB: false, m: GH, n: P, k: rows, a: daH, lda: GH, b: hPrevRows.pointer + d * rows * P,
                      ldb: P, accumulate: true, c: gW, ldc: P)
            }
            if c.bias {
                if let gB = grads[group + 2] { addColumnSums(daX, rows: rows, cols: GH, into: gB) }
                if let gB = grads[group + 3] { addColumnSums(daH, rows: rows, cols: GH, into: gB) }
            }
            if projected, let gW = grads[group + (c.bias ? 4 : 2)] {  // dW_hr += dhᵀ · h_pre
                sgemm(transA: true, transB: false, m: P, n: H, k: rows, a: dHAll.pointer + d * rows * P, lda: P,
                      b: gates + GH + H, ldb: S, accumulate: true, c: gW, ldc: H)
            }
            // dx += da_x · W_ih
            sgemm(transA: false, transB: false, m: rows, n: inWidth, k: GH, a: daX, lda: GH, b: p.wIH,
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
    @inline(__always) func lanes(_ j: Int, _ v: Int) {
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
    var j = 0
    while j + 8 <= H { lanes(j, 8); j += 8 }  // full blocks, then the tail: `v` folds away in each
    if j < H { lanes(j, H - j) }
}

/// One GRU row's backward: `row` r, z, n and W_hn·h + b_hn; `dh` the gradient of h'. Writes the direct part of
/// h's gradient (dh·z) to `dhPrev` and the pre-activation gradients for the input projection (`dax`) and for
/// W_hh·h + b_hh (`dah`).
@inline(__always)
func gruCellBackward(_ row: UnsafePointer<Float>, hPrev: UnsafePointer<Float>, dh: UnsafePointer<Float>,
                     dhPrev: UnsafeMutablePointer<Float>, dax: UnsafeMutablePointer<Float>,
                     dah: UnsafeMutablePointer<Float>, H: Int) {
    let one = F8(repeating: 1)
    @inline(__always) func lanes(_ j: Int, _ v: Int) {
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
    var j = 0
    while j + 8 <= H { lanes(j, 8); j += 8 }  // full blocks, then the tail: `v` folds away in each
    if j < H { lanes(j, H - j) }
}

/// into[j] += Σ_r a[r][j] (a: rows × cols, row-major).
func addColumnSums(_ a: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let row = a + r * cols
        forEachLanes(cols) { j, v in store8(load8(out + j, valid: v) + load8(row + j, valid: v), out + j, valid: v) }
    }
}
