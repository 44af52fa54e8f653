// LSTM and GRU on the RNN's engine: the same configuration, parameter layout, shape rules and entry points
// (`rnnForward` dispatches here for a gated cell), the same GEMMs.
//
// Per layer and direction: one GEMM projects every time step's input onto all gate blocks at once,
// X·W_ihᵀ + bias → (L·N, G·H); each step then multiplies h_{t−1} by W_hhᵀ (W_hh packed once; one GEMM
// over all gate blocks) and runs the cell's pointwise epilogue, 8 lanes at a time (16 on an AVX-512 CPU):
//   LSTM (rows i, f, g, o): c' = σ(f)·c + σ(i)·tanh(g), h' = σ(o)·tanh(c'), then h' = h'·W_hrᵀ if projected;
//   GRU (rows r, z, n): r, z = σ(xr + hr), σ(xz + hz); n = tanh(xn + r·hn); h' = (1 − z)·n + z·h.
// An LSTM's step GEMM adds into the projection, whose chains start from b_ih + b_hh. A GRU's writes
// h·W_hhᵀ + b_hh (hr, hz, hn) beside it, as the n block needs W_hn·h + b_hn apart (inside r·(...), as
// torch has it); its projection starts from b_ih. Every output element is a fixed chain of operations on its own row:
// a sequence's results never depend on the rest of the batch (batch invariance, as for the Elman RNN).
//
// Saved for backward (training): the layer outputs, as for the Elman RNN, then per layer, direction, step
// and batch row `RNNConfig.savedPerRow` floats: the activated gates, c' (and h' before the projection) for
// an LSTM; r, z, n and W_hn·h + b_hn for a GRU. In inference the same rows live in a workspace, and the
// epilogue skips the stores only backward reads.
//
// W_ih and W_hh packed by the caller (`packedWeights`, as for the Elman RNN: a generation loop packs them once)
// replace the call's own packing; a call of one step over at most `fewRowsMax` rows (a generation step) packs
// nothing and reads W_hh in place, since packing it would cost more than the one product. Same bits either way.
//
// Packed batches (torch's PackedSequence) run here too, the Elman RNN's included (one gate block, its h kept
// per row): step t computes only the batch_sizes[t] sequences that have a step t (`StepRows`).

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

/// Runs `body(j, valid)` over 0..<n in blocks of eight lanes (`valid` < 8 for the last, partial one).
/// The full blocks and the tail are separate calls, so the inlined body's `valid == 8` tests fold away.
@inline(__always)
func forEachLanes(_ n: Int, _ body: (Int, Int) -> Void) {
    var j = 0
    while j + 8 <= n {
        body(j, 8)
        j += 8
    }
    if j < n { body(j, n - j) }
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

/// The bias the input projection's chains start from: an LSTM's (and an Elman RNN's) b_ih + b_hh (written into
/// `into`, G·H floats), a GRU's b_ih (its step GEMM adds b_hh); nil without biases.
func projectionBias(_ c: RNNConfig, _ p: GatedParameters, into sum: UnsafeMutablePointer<Float>) -> UnsafePointer<Float>? {
    guard let bIH = p.bIH, let bHH = p.bHH else { return nil }
    if c.cell == .gru { return bIH }
    for j in 0..<c.gateRows { sum[j] = bIH[j] + bHH[j] }
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

    /// Of the rows n0 ..< n0 + m, how many are active at step t (a prefix of them).
    @inline(__always)
    func active(_ t: Int, from n0: Int, of m: Int) -> Int { min(m, max(0, count[t] - n0)) }
}

/// Floats a gated step keeps per row: an Elman RNN run by this engine (a packed batch) keeps its activated h.
@inline(__always)
func gateRowFloats(_ c: RNNConfig) -> Int { c.cell == .elman ? c.hiddenSize : c.savedPerRow }

/// The LSTM/GRU forward over every layer and direction (and the Elman RNN's over a packed batch); `rnnForward`
/// checked every size before calling. `x`, `output`: the caller's layout (batch-first or not), or packed rows
/// (total, features) with `batchSizes`; `h0`/`c0`/`hn`/`cn`: (D·numLayers, N, P or H).
///
/// Each direction carries its states in (N, P) and (N, H) buffers: a step reads the rows active at it and writes
/// them back, so the rows of a packed batch that have ended keep their last state (h_n) and, in the reverse
/// direction, the rows that have not started keep h0 until their own last step.
func gatedForward(config c: RNNConfig, parameters: UnsafeBufferPointer<UnsafePointer<Float>>, x: UnsafePointer<Float>,
                  seqLen L: Int, batch N: Int, h0: UnsafePointer<Float>?, c0: UnsafePointer<Float>?,
                  dropoutMasks: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                  hn: UnsafeMutablePointer<Float>, cn: UnsafeMutablePointer<Float>?,
                  saved: UnsafeMutablePointer<Float>?, batchSizes: UnsafeBufferPointer<Int>? = nil,
                  packedWeights: UnsafeBufferPointer<UnsafePointer<Float>>? = nil) throws(SwiftRNNError) {
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
    // Per direction, packed once per layer: W_hh and an LSTM's W_hr; a GRU's step products h·W_hhᵀ + b_hh.
    let hrOffset = packedWeightCount(rows: GH, cols: P)
    let packedCount = hrOffset + (c.projSize > 0 ? packedWeightCount(rows: P, cols: H) : 0)
    // One step of a few rows reads W_hh (and W_hr) in place: packing would cost more than the product.
    let packsRecurrent = L > 1 || N > fewRowsMax
    let packed = try Workspace(count: packsRecurrent ? D * packedCount : 0, what: "packed recurrent weights")
    let stepProducts = try Workspace(count: c.cell == .gru ? D * N * GH : 0, what: "recurrent products")
    let activation: GEMMActivation = c.nonlinearity == .tanh ? .tanh : .relu
    // The recurrence of a direction runs over groups of batch rows, all (direction, group) pairs side by
    // side: each row's chain of operations is the same in any group (batch invariance), so any split gives
    // the same bits.
    let groups = recurrentGroups(batch: N, hidden: H, seqLen: L, directions: D, threads: getNumThreads())

    var input = UnsafePointer(batchFirst ? UnsafePointer(xTime.pointer) : x)
    var inputWidth = c.inputSize
    for layer in 0..<c.numLayers {
        let layerOut = saved.map { $0 + layer * layerCount } ?? layerBuffers.pointer + (layer % 2) * layerCount
        let gatesOfLayer = saved.map { $0 + c.numLayers * layerCount + layer * D * gateCount } ?? gateBuffers.pointer
        let layerInput = input, layerInputWidth = inputWidth
        // Phase 1, per direction (each GEMM threaded inside): every step's input projection at once, into
        // the gate rows (row stride S), and the packed weights.
        for d in 0..<D {
            let p = GatedParameters(c, parameters, layer: layer, direction: d)
            let bias = projectionBias(c, p, into: biasSums.pointer + d * GH)
            if let packedWeights {
                sgemmPacked(transA: false, m: rows, n: GH, k: layerInputWidth, a: layerInput, lda: layerInputWidth,
                            packedB: packedWeights[2 * (layer * D + d)], accumulate: false, c: gatesOfLayer + d * gateCount,
                            ldc: S, bias: bias)
            } else {
                sgemm(transA: false, transB: true, m: rows, n: GH, k: layerInputWidth, a: layerInput, lda: layerInputWidth,
                      b: p.wIH, ldb: layerInputWidth, accumulate: false, c: gatesOfLayer + d * gateCount, ldc: S, bias: bias)
            }
            if !packsRecurrent { continue }
            let hh = packed.pointer + d * packedCount
            if packedWeights == nil { packWeight(p.wHH, rows: GH, cols: P, into: hh) }
            if let wHR = p.wHR { packWeight(wHR, rows: P, cols: H, into: hh + hrOffset) }
        }
        // Phase 2, the recurrence of rows n0 ..< n0 + m of direction d.
        func recurrence(_ task: Int) {
            let d = task / groups, group = task % groups
            let n0 = N * group / groups, m = N * (group + 1) / groups - n0
            if m == 0 { return }
            let p = GatedParameters(c, parameters, layer: layer, direction: d)
            let gates = gatesOfLayer + d * gateCount
            let hh = UnsafePointer(packed.pointer + d * packedCount)
            let packedHH = packedWeights?[2 * (layer * D + d) + 1] ?? (packsRecurrent ? hh : nil)
            let packedHR = packsRecurrent ? hh + hrOffset : nil
            // h·W_hhᵀ (n = G·H) or h_pre·W_hrᵀ (n = P) for `rows` rows: packed, or W read in place (see above).
            func product(_ w: UnsafePointer<Float>, packedW: UnsafePointer<Float>?, n: Int, k: Int, rows: Int,
                         a: UnsafePointer<Float>, lda: Int, accumulate: Bool, c out: UnsafeMutablePointer<Float>, ldc: Int,
                         bias: UnsafePointer<Float>? = nil, activation: GEMMActivation = .identity) {
                if let packedW {
                    sgemmPacked(transA: false, m: rows, n: n, k: k, a: a, lda: lda, packedB: packedW, accumulate: accumulate,
                                c: out, ldc: ldc, bias: bias, activation: activation)
                } else {
                    sgemm(transA: false, transB: true, m: rows, n: n, k: k, a: a, lda: lda, b: w, ldb: k,
                          accumulate: accumulate, c: out, ldc: ldc, bias: bias, activation: activation)
                }
            }
            let state = (layer * D + d) * N + n0
            let hs = hState.pointer + (d * N + n0) * P, cs = cState.pointer + (d * N + n0) * H
            if let h0 { hs.update(from: h0 + state * P, count: m * P) } else { hs.initialize(repeating: 0, count: m * P) }
            if c.cell == .lstm {
                if let c0 { cs.update(from: c0 + state * H, count: m * H) } else { cs.initialize(repeating: 0, count: m * H) }
            }
            // A padded batch has every row active at every step: a step's GEMM reads h_{t−1} where the previous
            // step wrote it (the layer output, rows outWidth apart), rather than from a copy in hs. A packed
            // batch keeps copying into hs, where the rows that have not started (reverse direction) hold h0.
            let inPlace = batchSizes == nil
            var hPrev = UnsafePointer(hs), ldh = P
            for step in 0..<L {
                let t = d == 0 ? step : L - 1 - step
                let ma = steps.active(t, from: n0, of: m)
                if ma == 0 { continue }
                let g = gates + (steps.start[t] + n0) * S
                let h = layerOut + (steps.start[t] + n0) * outWidth + d * P
                switch c.cell {
                case .lstm:
                    product(p.wHH, packedW: packedHH, n: GH, k: P, rows: ma, a: hPrev, lda: ldh, accumulate: true,
                            c: g, ldc: S)
                    let projected = p.wHR != nil
                    lstmCells(rows: ma, H: H, gates: g, gateStride: S, c: cs, h: projected ? g + GH + H : h,
                              hStride: projected ? S : outWidth, save: saved != nil)
                    if projected {  // h = h_pre · W_hrᵀ
                        product(p.wHR!, packedW: packedHR, n: P, k: H, rows: ma, a: g + GH + H, lda: S,
                                accumulate: false, c: h, ldc: outWidth)
                    }
                case .gru:
                    let products = stepProducts.pointer + (d * N + n0) * GH
                    product(p.wHH, packedW: packedHH, n: GH, k: P, rows: ma, a: hPrev, lda: ldh, accumulate: false,
                            c: products, ldc: GH, bias: p.bHH)
                    gruCells(rows: ma, H: H, gates: g, gateStride: S, products: products, productStride: GH,
                             hPrev: hPrev, hPrevStride: ldh, h: h, hStride: outWidth, save: saved != nil)
                case .elman:
                    product(p.wHH, packedW: packedHH, n: H, k: P, rows: ma, a: hPrev, lda: ldh, accumulate: true, c: g,
                            ldc: S, activation: activation)
                    for n in 0..<ma { (h + n * outWidth).update(from: g + n * S, count: H) }
                }
                if inPlace {
                    hPrev = UnsafePointer(h)
                    ldh = outWidth
                } else {
                    for n in 0..<ma { (hs + n * P).update(from: h + n * outWidth, count: P) }
                }
            }
            for n in 0..<m { (hn + (state + n) * P).update(from: hPrev + n * ldh, count: P) }
            if let cn, c.cell == .lstm { (cn + state * H).update(from: cs, count: m * H) }
        }
        if D * groups > 1 {
            parallelFor(D * groups) { recurrence($0) }
        } else {
            recurrence(0)  // one task: its GEMMs may use the pool themselves
        }

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

/// The LSTM cell's pointwise step over `rows` rows (`lstmCellRows`): 16 lanes at a time on an AVX-512 CPU,
/// else 8; every lane goes through the same operations, so the same bits.
func lstmCells(rows: Int, H: Int, gates: UnsafeMutablePointer<Float>, gateStride: Int, c: UnsafeMutablePointer<Float>,
               h: UnsafeMutablePointer<Float>, hStride: Int, save: Bool) {
    #if SWIFTRNN_X86_KERNELS
    if gemmUsesAVX512 {
        avx512LSTMCells(rows: rows, H: H, gates: gates, gateStride: gateStride, c: c, h: h, hStride: hStride, save: save)
        return
    }
    #endif
    lstmCellRows(F8.self, rows: rows, H: H, gates: gates, gateStride: gateStride, c: c, h: h, hStride: hStride, save: save)
}

/// The GRU cell's pointwise step over `rows` rows (`gruCellRows`), 16 or 8 lanes at a time as `lstmCells`.
func gruCells(rows: Int, H: Int, gates: UnsafeMutablePointer<Float>, gateStride: Int, products: UnsafePointer<Float>,
              productStride: Int, hPrev: UnsafePointer<Float>, hPrevStride: Int, h: UnsafeMutablePointer<Float>,
              hStride: Int, save: Bool) {
    #if SWIFTRNN_X86_KERNELS
    if gemmUsesAVX512 {
        avx512GRUCells(rows: rows, H: H, gates: gates, gateStride: gateStride, products: products,
                       productStride: productStride, hPrev: hPrev, hPrevStride: hPrevStride, h: h, hStride: hStride,
                       save: save)
        return
    }
    #endif
    gruCellRows(F8.self, rows: rows, H: H, gates: gates, gateStride: gateStride, products: products,
                productStride: productStride, hPrev: hPrev, hPrevStride: hPrevStride, h: h, hStride: hStride, save: save)
}

/// dst (inner, outer, width) = src (outer, inner, width) with the two leading axes swapped.
func transposeRows(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, outer: Int, inner: Int, width: Int) {
    for o in 0..<outer {
        for i in 0..<inner { (dst + (i * outer + o) * width).update(from: src + (o * inner + i) * width, count: width) }
    }
}
