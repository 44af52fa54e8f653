// LSTM and GRU on the RNN's engine: the same configuration, parameter layout, shape rules and entry points
// (`rnnForward` dispatches here for a gated cell), the same GEMMs.
//
// Per layer and direction: one GEMM projects every time step's input onto all gate blocks at once,
// X·W_ihᵀ + bias → (L·N, G·H); each step then adds h_{t−1}·W_hhᵀ (W_hh packed once) and runs the cell's
// pointwise epilogue, eight lanes at a time:
//   LSTM (rows i, f, g, o): c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c'), then h' = h'·W_hrᵀ if projected;
//   GRU (rows r, z, n): r, z = σ(xr + hr), σ(xz + hz); n = tanh(xn + r·(W_hn·h + b_hn)); h' = (1 − z)·n + z·h.
// The biases of the i/f/g/o (and r/z) blocks start the projection's chains as b_ih + b_hh; the GRU's b_hn
// stays inside r·(...) as torch has it. Every output element is a fixed chain of operations on its own row:
// a sequence's results never depend on the rest of the batch (batch invariance, as for the Elman RNN).
//
// Saved for backward (training): the layer outputs, as for the Elman RNN, then per layer, direction, step
// and batch row `RNNConfig.savedPerRow` floats: the activated gates, c' (and h' before the projection) for
// an LSTM; r, z, n and W_hn·h + b_hn for a GRU. In inference the same rows live in a workspace.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftRNNVectorMath

/// σ(x) = 1 / (1 + e^−x) lane-wise: 0 and 1 at the ends (e^−x overflows to +inf below −88.7), NaN stays NaN.
@inline(__always)
func sigmoid8(_ x: F8) -> F8 { 1 / (1 + expLanes(-x)) }

/// Runs `body(j, valid)` over 0..<n in blocks of eight lanes (`valid` < 8 for the last, partial one).
@inline(__always)
func forEachLanes(_ n: Int, _ body: (Int, Int) -> Void) {
    var j = 0
    while j < n {
        body(j, min(8, n - j))
        j += 8
    }
}

@inline(__always)
func load8(_ p: UnsafeMutablePointer<Float>, valid: Int) -> F8 { valid == 8 ? loadF8(p) : loadPartialF8(p, valid) }

@inline(__always)
func load8(_ p: UnsafePointer<Float>, valid: Int) -> F8 { valid == 8 ? loadF8(p) : loadPartialF8(p, valid) }

@inline(__always)
func store8(_ v: F8, _ p: UnsafeMutablePointer<Float>, valid: Int) {
    if valid == 8 { storeF8(v, p) } else { storePartialF8(v, p, valid) }
}

/// Where one layer-direction's parameters are (state_dict order within its group).
struct GatedParameters {
    let wIH: UnsafePointer<Float>, wHH: UnsafePointer<Float>
    let bIH: UnsafePointer<Float>?, bHH: UnsafePointer<Float>?
    let wHR: UnsafePointer<Float>?

    init(_ c: RNNConfig, _ parameters: UnsafeBufferPointer<UnsafePointer<Float>>, layer: Int, direction: Int) {
        let p = (layer * c.numDirections + direction) * c.paramsPerDirection
        wIH = parameters[p]
        wHH = parameters[p + 1]
        bIH = c.bias ? parameters[p + 2] : nil
        bHH = c.bias ? parameters[p + 3] : nil
        wHR = c.projSize > 0 ? parameters[p + (c.bias ? 4 : 2)] : nil
    }
}

/// The bias the input projection's chains start from: b_ih + b_hh on every block, except the GRU's n block
/// (b_in alone: b_hn is added inside r·(...)). Written into `into` (G·H floats); nil without biases.
func projectionBias(_ c: RNNConfig, _ p: GatedParameters, into sum: UnsafeMutablePointer<Float>) -> UnsafePointer<Float>? {
    guard let bIH = p.bIH, let bHH = p.bHH else { return nil }
    let H = c.hiddenSize, summed = c.cell == .gru ? 2 * H : c.gateRows
    for j in 0..<summed { sum[j] = bIH[j] + bHH[j] }
    for j in summed..<c.gateRows { sum[j] = bIH[j] }
    return UnsafePointer(sum)
}

/// Which rows of a layer's (time-major) arrays step t works on: rows start[t] ..< start[t] + count[t]. A padded
/// batch has count N at every step; a packed one (`batchSizes`, torch's PackedSequence) count batch_sizes[t]:
/// the sequences are sorted longest first, so the active rows are always a prefix of the batch.
struct StepRows {
    let start: [Int]
    let count: [Int]
    var total: Int { start[start.count - 1] }

    init(seqLen L: Int, batch N: Int) {
        start = (0...L).map { $0 * N }
        count = [Int](repeating: N, count: L)
    }

    init(batchSizes: UnsafeBufferPointer<Int>) {
        var s = [0]
        for b in batchSizes { s.append(s[s.count - 1] + b) }
        start = s
        count = Array(batchSizes)
    }
}

/// Floats a gated step keeps per row: an Elman RNN run by this engine (a packed batch) keeps its activated h.
@inline(__always)
func gateRowFloats(_ c: RNNConfig) -> Int { c.cell == .elman ? c.hiddenSize : c.savedPerRow }

/// The LSTM/GRU forward over every layer and direction (and the Elman RNN's over a packed batch); `rnnForward`
/// checked every size before calling. `x`, `output`: the caller's layout (batch-first or not), or packed rows
/// (total, features) with `batchSizes`; `h0`/`c0`/`hn`/`cn`: (D·numLayers, N, P or H).
///
/// Each direction carries its states in (N, P) and (N, H) buffers: a step reads the first count[t] rows and
/// writes them back, so the rows of a packed batch that have ended keep their last state (h_n) and, in the
/// reverse direction, the rows that have not started keep h0 until their own last step.
func gatedForward(config c: RNNConfig, parameters: UnsafeBufferPointer<UnsafePointer<Float>>, x: UnsafePointer<Float>,
                  seqLen L: Int, batch N: Int, h0: UnsafePointer<Float>?, c0: UnsafePointer<Float>?,
                  dropoutMasks: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                  hn: UnsafeMutablePointer<Float>, cn: UnsafeMutablePointer<Float>?,
                  saved: UnsafeMutablePointer<Float>?, batchSizes: UnsafeBufferPointer<Int>? = nil) throws(SwiftRNNError) {
    let H = c.hiddenSize, P = c.stateSize, GH = c.gateRows, D = c.numDirections, S = gateRowFloats(c)
    let steps = batchSizes.map { StepRows(batchSizes: $0) } ?? StepRows(seqLen: L, batch: N)
    let rows = steps.total, outWidth = D * P, layerCount = rows * outWidth, gateCount = rows * S
    let batchFirst = c.batchFirst && batchSizes == nil
    // Time-major copies of a batch-first input; layer outputs (the saved ones in training); the gate rows.
    let xTime = try Workspace(count: batchFirst ? rows * c.inputSize : 0, what: "time-major input")
    if batchFirst { transposeRows(from: x, to: xTime.pointer, outer: N, inner: L, width: c.inputSize) }
    let layerBuffers = try Workspace(count: saved == nil ? 2 * layerCount : 0, what: "layer output")
    let masked = try Workspace(count: dropoutMasks != nil && c.numLayers > 1 ? layerCount : 0, what: "masked layer output")
    let gateBuffers = try Workspace(count: saved == nil ? D * gateCount : 0, what: "gate rows")
    let biasSums = try Workspace(count: D * GH, what: "summed biases")
    let hState = try Workspace(count: D * N * P, what: "hidden state")
    let cState = try Workspace(count: c.cell == .lstm ? D * N * H : 0, what: "cell state")
    // W_hh packed once per layer and direction: all of it; a GRU's r, z rows and n rows apart.
    let packedGates = c.cell == .gru ? 2 * H : GH
    let packedCount = packedBCount(k: P, n: packedGates) + (c.cell == .gru ? packedBCount(k: P, n: H) : 0)
    let packed = try Workspace(count: D * packedCount, what: "packed recurrent weights")
    let activation: GEMMActivation = c.nonlinearity == .tanh ? .tanh : .relu

    var input = UnsafePointer(batchFirst ? UnsafePointer(xTime.pointer) : x)
    var inputWidth = c.inputSize
    for layer in 0..<c.numLayers {
        let layerOut = saved.map { $0 + layer * layerCount } ?? layerBuffers.pointer + (layer % 2) * layerCount
        let gatesOfLayer = saved.map { $0 + c.numLayers * layerCount + layer * D * gateCount } ?? gateBuffers.pointer
        let layerInput = input, layerInputWidth = inputWidth
        func direction(_ d: Int) {
            let p = GatedParameters(c, parameters, layer: layer, direction: d)
            let gates = gatesOfLayer + d * gateCount
            let bias = projectionBias(c, p, into: biasSums.pointer + d * GH)
            // Every step's input projection at once, into the gate rows (row stride S).
            sgemm(transA: false, transB: true, m: rows, n: GH, k: layerInputWidth, a: layerInput, lda: layerInputWidth,
                  b: p.wIH, ldb: layerInputWidth, accumulate: false, c: gates, ldc: S, bias: bias)
            let hh = packed.pointer + d * packedCount, hhN = hh + packedBCount(k: P, n: packedGates)
            packWeight(p.wHH, rows: packedGates, cols: P, into: hh)
            if c.cell == .gru { packWeight(p.wHH + 2 * H * P, rows: H, cols: P, into: hhN) }
            let state = (layer * D + d) * N
            let hs = hState.pointer + d * N * P, cs = cState.pointer + d * N * H
            if let h0 { hs.update(from: h0 + state * P, count: N * P) } else { hs.initialize(repeating: 0, count: N * P) }
            if c.cell == .lstm {
                if let c0 { cs.update(from: c0 + state * H, count: N * H) } else { cs.initialize(repeating: 0, count: N * H) }
            }
            for step in 0..<L {
                let t = d == 0 ? step : L - 1 - step
                let m = steps.count[t]
                let g = gates + steps.start[t] * S
                let h = layerOut + steps.start[t] * outWidth + d * P
                switch c.cell {
                case .lstm:
                    sgemmPacked(transA: false, m: m, n: GH, k: P, a: hs, lda: P, packedB: hh, accumulate: true, c: g, ldc: S)
                    for n in 0..<m {
                        let row = g + n * S
                        lstmCellForward(row, cPrev: cs + n * H, cOut: row + GH, hOut: p.wHR != nil ? row + GH + H : h + n * outWidth, H: H)
                        (cs + n * H).update(from: row + GH, count: H)
                    }
                    if let wHR = p.wHR {  // h = h_pre · W_hrᵀ
                        sgemm(transA: false, transB: true, m: m, n: P, k: H, a: g + GH + H, lda: S, b: wHR, ldb: H,
                              accumulate: false, c: h, ldc: outWidth)
                    }
                case .gru:
                    // r and z blocks: += h·W_h(r,z)ᵀ; the n block's h·W_hnᵀ + b_hn goes beside the gates.
                    sgemmPacked(transA: false, m: m, n: 2 * H, k: P, a: hs, lda: P, packedB: hh, accumulate: true, c: g, ldc: S)
                    sgemmPacked(transA: false, m: m, n: H, k: P, a: hs, lda: P, packedB: hhN, accumulate: false,
                                c: g + 3 * H, ldc: S, bias: p.bHH.map { $0 + 2 * H })
                    for n in 0..<m { gruCellForward(g + n * S, hPrev: hs + n * P, hOut: h + n * outWidth, H: H) }
                case .elman:
                    sgemmPacked(transA: false, m: m, n: H, k: P, a: hs, lda: P, packedB: hh, accumulate: true, c: g, ldc: S,
                                activation: activation)
                    for n in 0..<m { (h + n * outWidth).update(from: g + n * S, count: H) }
                }
                for n in 0..<m { (hs + n * P).update(from: h + n * outWidth, count: P) }
            }
            (hn + state * P).update(from: hs, count: N * P)
            if let cn, c.cell == .lstm { (cn + state * H).update(from: cs, count: N * H) }
        }
        for d in 0..<D { direction(d) }

        var nextInput = UnsafePointer(layerOut)
        if layer < c.numLayers - 1, let dropoutMasks {
            let mask = dropoutMasks + layer * layerCount
            for i in 0..<layerCount { masked.pointer[i] = layerOut[i] * mask[i] }
            nextInput = UnsafePointer(masked.pointer)
        }
        if layer == c.numLayers - 1 {
            copyRows(from: layerOut, to: output, seqLen: batchSizes == nil ? L : 1, batch: batchSizes == nil ? N : rows,
                     width: outWidth, toBatchFirst: batchFirst)
        }
        input = nextInput
        inputWidth = outWidth
    }
}

/// One LSTM row: `row` holds the pre-activations i, f, g, o (H each), replaced by their activations;
/// c' = f·c + i·g goes to `cOut`, h' = o·tanh(c') to `hOut`.
@inline(__always)
func lstmCellForward(_ row: UnsafeMutablePointer<Float>, cPrev: UnsafePointer<Float>, cOut: UnsafeMutablePointer<Float>,
                     hOut: UnsafeMutablePointer<Float>, H: Int) {
    forEachLanes(H) { j, v in
        let i = sigmoid8(load8(row + j, valid: v)), f = sigmoid8(load8(row + H + j, valid: v))
        let g = tanh8(load8(row + 2 * H + j, valid: v)), o = sigmoid8(load8(row + 3 * H + j, valid: v))
        let cNew = (f * load8(cPrev + j, valid: v)).addingProduct(i, g)
        store8(i, row + j, valid: v)
        store8(f, row + H + j, valid: v)
        store8(g, row + 2 * H + j, valid: v)
        store8(o, row + 3 * H + j, valid: v)
        store8(cNew, cOut + j, valid: v)
        store8(o * tanh8(cNew), hOut + j, valid: v)
    }
}

/// One GRU row: `row` holds xr + hr, xz + hz, xn (H each; replaced by r, z, n) and then W_hn·h + b_hn;
/// h' = (1 − z)·n + z·h goes to `hOut`.
@inline(__always)
func gruCellForward(_ row: UnsafeMutablePointer<Float>, hPrev: UnsafePointer<Float>, hOut: UnsafeMutablePointer<Float>,
                    H: Int) {
    forEachLanes(H) { j, v in
        let r = sigmoid8(load8(row + j, valid: v)), z = sigmoid8(load8(row + H + j, valid: v))
        let n = tanh8(load8(row + 2 * H + j, valid: v).addingProduct(r, load8(row + 3 * H + j, valid: v)))
        store8(r, row + j, valid: v)
        store8(z, row + H + j, valid: v)
        store8(n, row + 2 * H + j, valid: v)
        let hp = load8(hPrev + j, valid: v)
        store8(n.addingProduct(z, hp - n), hOut + j, valid: v)  // (1 − z)·n + z·h = n + z·(h − n)
    }
}

/// dst (inner, outer, width) = src (outer, inner, width) with the two leading axes swapped.
func transposeRows(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, outer: Int, inner: Int, width: Int) {
    for o in 0..<outer {
        for i in 0..<inner { (dst + (i * outer + o) * width).update(from: src + (o * inner + i) * width, count: width) }
    }
}
