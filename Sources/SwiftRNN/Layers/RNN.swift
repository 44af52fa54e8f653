// The recurrent layers of torch.nn on one configuration: the Elman RNN, h_t = act(W_ih x_t + b_ih +
// W_hh h_{t-1} + b_hh), here; LSTM and GRU (GatedRecurrence.swift) share its parameter layout, shape
// rules (RNNShapes.swift), C ABI and Python modules. Stacked layers, optional reverse direction.

/// The activation of an Elman RNN.
public enum Nonlinearity: Int32, Sendable {
    case tanh = 0
    case relu = 1
}

/// Which recurrence a layer runs: torch.nn.RNN, LSTM or GRU.
public enum RecurrentCell: Int32, Sendable {
    /// h' = act(W_ih x + b_ih + W_hh h + b_hh): one gate block.
    case elman = 0
    /// Gates i, f, g, o (torch's row order): c' = f·c + i·g, h' = o·tanh(c'), optionally projected.
    case lstm = 1
    /// Gates r, z, n: n = tanh(W_in x + b_in + r·(W_hn h + b_hn)), h' = (1 − z)·n + z·h.
    case gru = 2

    /// Gate blocks of H rows in W_ih, W_hh and the biases.
    public var gateCount: Int {
        switch self {
        case .elman: return 1
        case .lstm: return 4
        case .gru: return 3
        }
    }
}

/// The constructor arguments of `torch.nn.RNN` / `LSTM` / `GRU` that fix the shapes.
public struct RNNConfig: Equatable, Sendable {
    /// `input_size`: features of each input step, H_in.
    public var inputSize: Int
    /// `hidden_size`: features of the hidden state, H (> 0).
    public var hiddenSize: Int
    /// `num_layers`: stacked recurrent layers (>= 1).
    public var numLayers: Int
    /// `.tanh` or `.relu` (the Elman cell's activation; ignored by LSTM and GRU).
    public var nonlinearity: Nonlinearity
    /// Whether the layers have `bias_ih` / `bias_hh`.
    public var bias: Bool
    /// Inputs and outputs are (N, L, *) instead of (L, N, *); h0 and hn are not affected.
    public var batchFirst: Bool
    /// A reverse direction too (D = 2).
    public var bidirectional: Bool
    /// The recurrence: Elman, LSTM or GRU.
    public var cell: RecurrentCell
    /// LSTM only: h is projected to this size by `weight_hr` (0: no projection).
    public var projSize: Int

    /// `torch.nn.RNN(input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, bidirectional)`
    /// (`cell: .lstm`, `.gru` for LSTM and GRU, `projSize` for LSTM's `proj_size`); the sizes are checked when
    /// a layer is made from the configuration, not here.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, nonlinearity: Nonlinearity = .tanh,
                bias: Bool = true, batchFirst: Bool = false, bidirectional: Bool = false,
                cell: RecurrentCell = .elman, projSize: Int = 0) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.nonlinearity = nonlinearity
        self.bias = bias
        self.batchFirst = batchFirst
        self.bidirectional = bidirectional
        self.cell = cell
        self.projSize = projSize
    }

    /// 2 if bidirectional, else 1.
    public var numDirections: Int { bidirectional ? 2 : 1 }
    /// Rows of W_ih, W_hh and each bias: gate blocks × H.
    public var gateRows: Int { cell.gateCount * hiddenSize }
    /// Features of h (the output's per direction, and h0/hn's): proj_size if projected, else H.
    public var stateSize: Int { projSize > 0 ? projSize : hiddenSize }
    /// Parameter arrays per layer and direction: weight_ih, weight_hh (+ bias_ih, bias_hh) (+ weight_hr).
    public var paramsPerDirection: Int { 2 + (bias ? 2 : 0) + (projSize > 0 ? 1 : 0) }
    /// How many parameter arrays `rnnForward` takes.
    public var parameterCount: Int { numLayers * numDirections * paramsPerDirection }
    /// How many packed weights `rnnForward(..., packedWeights:)` takes: W_ih and W_hh per layer and direction.
    public var packedWeightCount: Int { 2 * numLayers * numDirections }

    /// Throws `.invalidArgument` for sizes torch rejects.
    public func validate() throws(SwiftRNNError) {
        guard inputSize >= 0 else { throw .invalidArgument("input_size must be non-negative, got \(inputSize)") }
        guard hiddenSize > 0 else { throw .invalidArgument("hidden_size must be greater than zero, got \(hiddenSize)") }
        guard numLayers > 0 else { throw .invalidArgument("num_layers must be greater than zero, got \(numLayers)") }
        guard projSize >= 0 else { throw .invalidArgument("proj_size should be a positive integer or zero to disable projections") }
        if projSize > 0 {
            guard cell == .lstm else { throw .invalidArgument("proj_size argument is only supported for LSTM, not RNN or GRU") }
            guard projSize < hiddenSize else { throw .invalidArgument("proj_size has to be smaller than hidden_size") }
        }
        // Every later size computation (G·H, D·H, a weight, all weights, the parameter count and the array of
        // parameter pointers, in bytes) stays within Int once this passes.
        let G = cell.gateCount, P = stateSize
        let outWidth = try checkedProduct(numDirections, hiddenSize, what: "num_directions x hidden_size")
        _ = try checkedProduct(G, numDirections, hiddenSize, max(inputSize, outWidth), MemoryLayout<Float>.stride,
                               what: "the RNN's weights in bytes")
        _ = try checkedProduct(numLayers, numDirections, paramsPerDirection, MemoryLayout<UnsafePointer<Float>>.stride,
                               what: "the RNN's parameter list (num_layers x num_directions x parameters per direction)")
        // One direction's parameters in floats: weight_ih (G·H x in), weight_hh (G·H x P), two biases (G·H
        // each), weight_hr (P x H).
        func directionFloats(_ layerInput: Int) -> Int {
            G * hiddenSize * (layerInput + P + 2) + (projSize > 0 ? P * hiddenSize : 0)
        }
        let first = directionFloats(inputSize), later = directionFloats(numDirections * P)  // cannot overflow: checked above
        let rest = try checkedProduct(numLayers - 1, later, what: "the RNN's parameters")
        let (perDirection, o) = first.addingReportingOverflow(rest)
        if o { throw .overflow("the RNN's parameters overflow: num_layers=\(numLayers), hidden_size=\(hiddenSize) do not fit in 64 bits") }
        _ = try checkedProduct(perDirection, numDirections, MemoryLayout<Float>.stride, what: "the RNN's parameters in bytes")
    }

    /// Throws `.invalidArgument` unless `count` is `packedWeightCount`.
    public func checkPackedWeightCount(_ count: Int) throws(SwiftRNNError) {
        guard count == packedWeightCount else {
            throw .invalidArgument("the RNN expects \(packedWeightCount) packed weights (W_ih and W_hh per layer "
                                   + "and direction), got \(count)")
        }
    }

    /// What parameter `index` of a direction's group is: 0 weight_ih, 1 weight_hh, 2 bias_ih, 3 bias_hh,
    /// 4 weight_hr (torch's order; without biases weight_hr is the third).
    @inlinable
    func parameterKind(at index: Int) -> Int {
        let k = index % paramsPerDirection
        return !bias && k == 2 ? 4 : k
    }

    /// The name of parameter `index` in state_dict order (`0 ..< parameterCount`), without building the
    /// whole list (num_layers may be large).
    public func parameterName(at index: Int) -> String {
        let perLayer = numDirections * paramsPerDirection
        let layer = index / perLayer, direction = (index % perLayer) / paramsPerDirection
        let kind = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"][parameterKind(at: index)]
        return kind + "_l\(layer)" + (direction == 1 ? "_reverse" : "")
    }

    /// torch's parameter names in state_dict order, e.g. `weight_ih_l0`, `bias_hh_l1_reverse`.
    public var parameterNames: [String] { (0..<parameterCount).map(parameterName(at:)) }

    /// The shape of each parameter, in state_dict order.
    public var parameterShapes: [[Int]] {
        (0..<parameterCount).map { i in
            let (rows, cols) = parameterShape(at: i)
            return cols.map { [rows, $0] } ?? [rows]
        }
    }

    /// The shape of parameter `index` (state_dict order) without allocating: (rows, cols) for a weight,
    /// (rows, nil) for a bias. `index` must be in `0..<parameterCount`.
    @inlinable
    public func parameterShape(at index: Int) -> (rows: Int, cols: Int?) {
        let layer = index / (numDirections * paramsPerDirection)
        let G = cell.gateCount
        switch parameterKind(at: index) {
        case 0: return (G * hiddenSize, layer == 0 ? inputSize : numDirections * stateSize)  // weight_ih
        case 1: return (G * hiddenSize, stateSize)                                            // weight_hh
        case 4: return (projSize, hiddenSize)                                                 // weight_hr
        default: return (G * hiddenSize, nil)                                                 // bias_ih, bias_hh
        }
    }
}

/// Rejects batch sizes of a packed batch that are not `seqLen` non-increasing values from `batch` down to at least 1.
func checkBatchSizes(_ b: UnsafeBufferPointer<Int>, seqLen: Int, batch: Int) throws(SwiftRNNError) {
    guard b.count == seqLen, b.first == batch else {
        throw .invalidArgument("batch_sizes must hold seq_len = \(seqLen) values starting at the batch \(batch)")
    }
    for t in 1..<max(b.count, 1) where !(b[t] >= 1 && b[t] <= b[t - 1]) {
        throw .invalidArgument("batch_sizes must be positive and non-increasing, got batch_sizes[\(t)] = \(b[t])")
    }
}

/// Runs an RNN over a whole sequence: every layer, both directions. An LSTM or GRU configuration runs the
/// gated recurrence (GatedRecurrence.swift); the rest of this documentation speaks of the Elman RNN's shapes,
/// which hold for the others with P (`stateSize`) for H in h0, hn and the output, plus an LSTM's `c0` and `cn`
/// ((D·numLayers, batch, hiddenSize); c0 nil for zeros) and its larger `saved` (`RNNCallShapes.savedCount`).
/// With `batchSizes` (seqLen values, the first `batch`: a packed batch, torch's PackedSequence), `x` and
/// `output` hold packed rows (sum(batchSizes), features) and step t runs the first batchSizes[t] sequences.
///
/// - `parameters`: `config.parameterCount` pointers in torch's state_dict order (see `RNNConfig.parameterShapes`).
/// - `x`: (seqLen, batch, inputSize), or (batch, seqLen, inputSize) if `config.batchFirst`.
/// - `h0`: (numDirections·numLayers, batch, hiddenSize), or nil for zeros.
/// - `dropoutMasks`: nil, or numLayers − 1 time-major masks of (seqLen, batch, D·H), multiplied into
///   every layer's output except the last before it feeds the next layer (training-mode dropout).
/// - `output`: (seqLen, batch, D·H), or (batch, seqLen, D·H) if batchFirst; `hn` is shaped like h0.
/// - `saved`: nil (inference), or (numLayers, seqLen, batch, D·H) time-major: every layer's output
///   before dropout, which `rnnBackward` needs (training). The layers then compute into it instead
///   of the internal ping-pong buffers, and the last layer's slice is copied into `output`.
///
/// - `packedWeights`: nil, or for each layer and direction (state_dict order) W_ih then W_hh, each
///   packed by `packWeight` (`packedWeightCount(rows: gateRows, cols: its columns)` floats; an LSTM's W_hr is
///   packed by the call): the call then packs nothing, which is most of the cost of a one-token step (generation). The packings must be
///   of the current `parameters` (the caller's job); the results are bit-identical.
///
/// A few workspace allocations per call, none per time step. Each sequence's result depends only on its
/// own inputs: the batch dimension never changes a reduction order.
public func rnnForward(config: RNNConfig, parameters: UnsafeBufferPointer<UnsafePointer<Float>>,
                       x: UnsafePointer<Float>, seqLen: Int, batch: Int, h0: UnsafePointer<Float>?,
                       dropoutMasks: UnsafePointer<Float>?,
                       output: UnsafeMutablePointer<Float>, hn: UnsafeMutablePointer<Float>,
                       saved: UnsafeMutablePointer<Float>? = nil,
                       packedWeights: UnsafeBufferPointer<UnsafePointer<Float>>? = nil,
                       c0: UnsafePointer<Float>? = nil, cn: UnsafeMutablePointer<Float>? = nil,
                       batchSizes: UnsafeBufferPointer<Int>? = nil) throws(SwiftRNNError) {
    try config.validate()
    try config.checkParameterCount(parameters.count)
    if let packedWeights { try config.checkPackedWeightCount(packedWeights.count) }
    try config.checkSequence(seqLen: seqLen, batch: batch)

    let H = config.hiddenSize, D = config.numDirections, L = seqLen, N = batch
    let outWidth = D * H
    let rows = try checkedProduct(L, N, what: "seq_len x batch")
    let layerCount = try checkedProduct(rows, outWidth, what: "a layer's output")
    _ = try checkedProduct(layerCount, MemoryLayout<Float>.stride, what: "a layer's output in bytes")
    _ = try checkedProduct(rows, max(config.inputSize, 1), MemoryLayout<Float>.stride, what: "the input in bytes")
    _ = try checkedProduct(config.numLayers, D, N, H, MemoryLayout<Float>.stride, what: "h0 / hn in bytes")
    if dropoutMasks != nil {
        _ = try checkedProduct(config.numLayers - 1, layerCount, MemoryLayout<Float>.stride, what: "the dropout masks in bytes")
    }
    if rows == 0 { return }  // batch 0: empty output and hn, as torch
    if config.cell != .elman || batchSizes != nil {
        guard config.cell == .lstm || c0 == nil else { throw .invalidArgument("only an LSTM has a cell state c0") }
        guard config.cell != .lstm || cn != nil else { throw .invalidArgument("an LSTM needs a buffer for c_n") }
        if let batchSizes { try checkBatchSizes(batchSizes, seqLen: L, batch: N) }
        try gatedForward(config: config, parameters: parameters, x: x, seqLen: L, batch: N, h0: h0, c0: c0,
                         dropoutMasks: dropoutMasks, output: output, hn: hn, cn: cn, saved: saved, batchSizes: batchSizes,
                         packedWeights: packedWeights)
        return
    }

    // Without h0 the state starts at zero and step 0 skips its GEMM, as 0·W_hh adds nothing, unless
    // W_hh holds an Inf or a NaN: torch multiplies its zero state anyway, 0·Inf = NaN, and the NaN
    // spreads through every later step. Such a call multiplies an explicit zero state too.
    var h0 = h0
    var needsZeroState = false
    if h0 == nil {
        for layer in 0..<config.numLayers {
            for direction in 0..<D where !allFinite(parameters[(layer * D + direction) * config.paramsPerDirection + 1],
                                                    count: H * H) {
                needsZeroState = true
            }
        }
    }
    let zeroState = try Workspace(count: needsZeroState ? config.numLayers * D * N * H : 0, what: "RNN zero initial state")
    if needsZeroState {
        zeroState.pointer.initialize(repeating: 0, count: zeroState.count)
        h0 = UnsafePointer(zeroState.pointer)
    }

    // Each direction's input projection is written straight into its columns of the layer's output
    // (row stride D·H), its chains started from b_ih + b_hh through the GEMM's bias; the time steps then
    // add h·W_hhᵀ in place. When the input's rows are in another order than the output's (batch-first
    // on one side only), W_ih is packed once and the projection runs as min(L, N) strided GEMMs.
    // Up to two layer buffers ping-pong between layers (inference; one for two layers), or each layer
    // writes its slice of `saved` and, with dropout, one buffer holds the masked copy the next layer
    // reads (training).
    let bufferCount = saved == nil ? try checkedProduct(min(config.numLayers - 1, 2), layerCount, what: "the RNN's layer buffers")
                                   : (config.numLayers > 1 && dropoutMasks != nil ? layerCount : 0)
    let layerBuffers = try Workspace(count: bufferCount, what: "RNN layer output")
    // Per direction (their recurrences run concurrently with more than one thread): W_hh packed once
    // per layer and reused by every time step's GEMM; b_ih + b_hh; W_ih packed for the reordering projection.
    let hhCount = packedBCount(k: H, n: H)
    // W_hh is packed unless the caller did, or no step multiplies by it (h0 = 0 and one step), or there
    // is a single step of a few rows (a generation step): `sgemm` then reads W_hh in place, same bits.
    let packHH = packedWeights == nil && (L > 1 || h0 != nil) && !(L == 1 && N <= fewRowsMax)
    let packedHH = try Workspace(count: packHH ? try checkedProduct(D, hhCount, what: "the packed recurrent weights") : 0,
                                 what: "RNN packed recurrent weight")
    let biasSum = try Workspace(count: config.bias ? outWidth : 0, what: "RNN summed biases")
    var reorderWidth = 0  // the widest layer input whose rows are in another order than its output's
    for layer in 0..<config.numLayers {
        let inBatchFirst = layer == 0 && config.batchFirst
        let outBatchFirst = layer == config.numLayers - 1 && config.batchFirst && saved == nil
        if inBatchFirst != outBatchFirst { reorderWidth = max(reorderWidth, layer == 0 ? config.inputSize : outWidth) }
    }
    let ihCount = packedBCount(k: reorderWidth, n: H)
    let packedIH = try Workspace(count: packedWeights != nil ? 0 : try checkedProduct(D, ihCount, what: "the packed input weights"),
                                 what: "RNN packed input weight")
    /// Direction d's packed W_ih and W_hh of `layer`: the caller's, or this call's workspaces.
    func packedIHPointer(_ layer: Int, _ direction: Int) -> UnsafePointer<Float> {
        packedWeights?[2 * (layer * D + direction)] ?? UnsafePointer(packedIH.pointer + direction * ihCount)
    }
    func packedHHPointer(_ layer: Int, _ direction: Int) -> UnsafePointer<Float> {
        packedWeights?[2 * (layer * D + direction) + 1] ?? UnsafePointer(packedHH.pointer + direction * hhCount)
    }
    let activation: GEMMActivation = config.nonlinearity == .tanh ? .tanh : .relu

    var input = UnsafePointer(x)
    var inputWidth = config.inputSize
    var inputBatchFirst = config.batchFirst
    for layer in 0..<config.numLayers {
        let isLast = layer == config.numLayers - 1
        let layerOut = saved.map { $0 + layer * layerCount }
            ?? (isLast ? output : layerBuffers.pointer + (layer % 2) * layerCount)
        let outBatchFirst = isLast && config.batchFirst && saved == nil
        let layerInput = input, layerInputWidth = inputWidth, layerInputBatchFirst = inputBatchFirst

        /// Direction d's chains start from b_ih + b_hh (nil without biases).
        func directionBias(_ direction: Int) -> UnsafePointer<Float>? {
            config.bias ? UnsafePointer(biasSum.pointer + direction * H) : nil
        }
        // A time step's output rows for a direction, as (pointer to row 0, row stride), in either layout.
        func outRows(_ direction: Int, _ t: Int) -> (UnsafeMutablePointer<Float>, Int) {
            let columns = layerOut + direction * H
            return outBatchFirst ? (columns + t * outWidth, L * outWidth) : (columns + t * N * outWidth, outWidth)
        }

        // Phase 1, the input projection of every time step: out = x·W_ihᵀ + (b_ih + b_hh), one GEMM per
        // direction (threaded inside) when the row orders agree; else min(L, N) strided GEMMs per
        // direction, spread over the pool.
        var reorderCalls = 0
        for direction in 0..<D {
            let p = (layer * D + direction) * config.paramsPerDirection
            if config.bias {
                let bIH = parameters[p + 2], bHH = parameters[p + 3], sum = biasSum.pointer + direction * H
                for j in 0..<H { sum[j] = bIH[j] + bHH[j] }
            }
            if layerInputBatchFirst == outBatchFirst {
                if packedWeights != nil {
                    sgemmPacked(transA: false, m: rows, n: H, k: layerInputWidth, a: layerInput, lda: layerInputWidth,
                                packedB: packedIHPointer(layer, direction), accumulate: false,
                                c: layerOut + direction * H, ldc: outWidth, bias: directionBias(direction))
                } else {
                    sgemm(transA: false, transB: true, m: rows, n: H, k: layerInputWidth, a: layerInput,
                          lda: layerInputWidth, b: parameters[p], ldb: layerInputWidth, accumulate: false,
                          c: layerOut + direction * H, ldc: outWidth, bias: directionBias(direction))
                }
            } else {
                if packedWeights == nil {
                    packB(transB: true, k: layerInputWidth, n: H, b: parameters[p], ldb: layerInputWidth,
                          into: packedIH.pointer + direction * ihCount)
                }
                reorderCalls = min(L, N)
            }
        }
        if packHH {
            // Each direction's W_hh for phase 2, packed here: its column panels spread over the pool when
            // it is big (512x512: ~90 us on one thread, long enough for an idle helper to go to sleep
            // and then cost a wake-up at phase 2). The same bytes as one `packB` call.
            let panels = (H + gemmNR - 1) / gemmNR
            let chunks = H * H >= 1 << 16 ? min(panels, getNumThreads()) : 1
            parallelFor(D * chunks) { task in
                let direction = task / chunks
                let (q0, q1) = splitPanels(panels, chunks, task % chunks)
                let j0 = q0 * gemmNR, width = min(H, q1 * gemmNR) - j0
                if width <= 0 { return }
                let wHH = parameters[(layer * D + direction) * config.paramsPerDirection + 1]
                packB(transB: true, k: H, n: width, b: wHH + j0 * H, ldb: H,
                      into: packedHH.pointer + direction * hhCount + j0 * H)
            }
        }
        if reorderCalls > 0 {
            // Input row (n, t) is at index n·L + t if batch-first, t·N + n otherwise; output likewise.
            let inT = layerInputBatchFirst ? 1 : N, inN = layerInputBatchFirst ? L : 1
            let outT = outBatchFirst ? 1 : N, outN = outBatchFirst ? L : 1
            parallelFor(D * reorderCalls) { task in
                let direction = task / reorderCalls, i = task % reorderCalls
                let packed = packedIHPointer(layer, direction), columns = layerOut + direction * H
                if N <= L {  // the L steps of sequence i
                    sgemmPacked(transA: false, m: L, n: H, k: layerInputWidth,
                                a: layerInput + i * inN * layerInputWidth, lda: inT * layerInputWidth,
                                packedB: packed, accumulate: false, c: columns + i * outN * outWidth,
                                ldc: outT * outWidth, bias: directionBias(direction))
                } else {  // the N sequences at step i
                    sgemmPacked(transA: false, m: N, n: H, k: layerInputWidth,
                                a: layerInput + i * inT * layerInputWidth, lda: inN * layerInputWidth,
                                packedB: packed, accumulate: false, c: columns + i * outT * outWidth,
                                ldc: outN * outWidth, bias: directionBias(direction))
                }
            }
        }

        // Phase 2, the recurrence: h_t = act(out_t + h_{t-1}·W_hhᵀ) in place. The sequences of a batch
        // are independent, so each task runs every time step for one direction and one group of batch
        // rows: no synchronisation per step, and each thread keeps its rows' states in its own cache.
        // The same chains as one GEMM over the whole batch, so the same bits.
        let groups = recurrentGroups(batch: N, hidden: H, seqLen: L, directions: D, threads: getNumThreads())
        func recurrence(_ task: Int) {
            let direction = task / groups, group = task % groups
            let n0 = N * group / groups, m = N * (group + 1) / groups - n0
            if m == 0 { return }
            let hh = packedHHPointer(layer, direction)
            var previous: (UnsafePointer<Float>, Int)? = h0.map { ($0 + ((layer * D + direction) * N + n0) * H, H) }
            for step in 0..<L {
                let t = direction == 0 ? step : L - 1 - step
                let (rows0, stride) = outRows(direction, t)
                let dst = rows0 + n0 * stride
                if let (h, hStride) = previous {
                    // dst = act(dst + h·W_hhᵀ), the activation fused into the GEMM's epilogue.
                    if packedWeights != nil || packHH {
                        sgemmPacked(transA: false, m: m, n: H, k: H, a: h, lda: hStride, packedB: hh,
                                    accumulate: true, c: dst, ldc: stride, activation: activation)
                    } else {
                        let wHH = parameters[(layer * D + direction) * config.paramsPerDirection + 1]
                        sgemm(transA: false, transB: true, m: m, n: H, k: H, a: h, lda: hStride, b: wHH, ldb: H,
                              accumulate: true, c: dst, ldc: stride, activation: activation)
                    }
                } else {
                    activateRows(activation, c: dst, ldc: stride, rows: m, cols: H)  // h0 = 0: no GEMM
                }
                previous = (UnsafePointer(dst), stride)
            }
            let (last, lastStride) = previous!
            let hnRows = hn + ((layer * D + direction) * N + n0) * H
            for n in 0..<m { (hnRows + n * H).update(from: last + n * lastStride, count: H) }
        }
        if D * groups > 1 {
            parallelFor(D * groups) { recurrence($0) }
        } else {
            recurrence(0)  // one task: its GEMMs may use the pool themselves
        }

        var nextInput = layerOut
        if !isLast, let dropoutMasks {
            let mask = dropoutMasks + layer * layerCount
            if saved != nil { nextInput = layerBuffers.pointer }  // keep the saved output unmasked
            for i in 0..<layerCount { nextInput[i] = layerOut[i] * mask[i] }
        }
        if isLast, saved != nil {
            copyRows(from: layerOut, to: output, seqLen: L, batch: N, width: outWidth, toBatchFirst: config.batchFirst)
        }
        input = UnsafePointer(nextInput)
        inputWidth = outWidth
        inputBatchFirst = false
    }
}

/// How many groups of batch rows each direction's recurrence is cut into (see `rnnForward`): one per
/// thread not already taken by the other direction, when the recurrence is worth a fork-join (about a
/// million multiply-adds in all) and each group keeps at least 4 rows (fewer rows per GEMM waste most
/// of the micro-kernel). One group leaves the threading to each step's GEMM (a small batch with a
/// large hidden size), or to the two directions running side by side.
func recurrentGroups(batch N: Int, hidden H: Int, seqLen L: Int, directions D: Int, threads: Int) -> Int {
    let perDirection = threads / D
    if perDirection < 2 || N < 8 { return 1 }
    if multiplyAdds(L, N, multiplyAdds(H, H, 1)) < 1 << 20 { return 1 }
    return min(perDirection, N / 4)
}

/// Copies a time-major (L, N, width) array into `dst`, as (N, L, width) if `toBatchFirst`.
func copyRows(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>,
              seqLen L: Int, batch N: Int, width: Int, toBatchFirst: Bool) {
    if !toBatchFirst { dst.update(from: src, count: L * N * width); return }
    for t in 0..<L {
        for n in 0..<N { (dst + (n * L + t) * width).update(from: src + (t * N + n) * width, count: width) }
    }
}

/// What the recurrent layer types (`RNN`, `LSTM`, `GRU`) share: a configuration and the parameters in
/// torch's state_dict order, run by one forward (`rnnForward`) and one backward (`rnnBackward`).
public protocol RecurrentLayer: Sendable {
    /// The sizes and options the layer was made with.
    var config: RNNConfig { get }
    /// The parameters in state_dict order; names and shapes in `config.parameterNames` / `parameterShapes`.
    var parameters: [Tensor] { get set }
}

extension RecurrentLayer {
    /// The parameter called `name` (torch's name, e.g. "weight_hh_l1_reverse"), or nil.
    public func parameter(named name: String) -> Tensor? {
        config.parameterNames.firstIndex(of: name).map { parameters[$0] }
    }

    /// Throws `.invalidArgument` for invalid sizes or parameters of the wrong count or shape.
    static func checked(_ config: RNNConfig, _ parameters: [Tensor]) throws(SwiftRNNError) -> RNNConfig {
        try config.validate()
        try config.checkParameterCount(parameters.count)
        for (i, p) in parameters.enumerated() {
            try withShape(p.shape) { (shape) throws(SwiftRNNError) in try config.checkParameter(i, shape: shape!) }
        }
        return config
    }

    /// The shapes of a call on `x` with these states, checked (`RNNConfig.callShapes`).
    func callShapes(_ x: Tensor, h0: Tensor?, c0: Tensor?) throws(SwiftRNNError) -> RNNCallShapes {
        let c = config
        return try withShape(x.shape) { (xs) throws(SwiftRNNError) in
            try withShape(h0?.shape) { (hs) throws(SwiftRNNError) in
                try withShape(c0?.shape) { (cs) throws(SwiftRNNError) in try c.callShapes(input: xs!, h0: hs, c0: cs) }
            }
        }
    }

    /// The forward pass; with `keepStates` also what `rnnBackward` needs (`RNNForwardRecord.states`).
    /// `cn` is an LSTM's final cell state (nil for the others).
    func run(_ x: Tensor, h0: Tensor?, c0: Tensor?, dropoutMasks: Tensor?,
             keepStates: Bool) throws(SwiftRNNError) -> (output: Tensor, hn: Tensor, cn: Tensor?, states: Tensor?) {
        let c = config
        let shapes = try callShapes(x, h0: h0, c0: c0)
        try c.checkSavedSizes(shapes, saved: nil, dropoutMasks: dropoutMasks?.count)
        let (L, N) = (shapes.seqLen, shapes.batch)
        let lstm = c.cell == .lstm
        var output = Tensor(zeros: shapes.output.dims)
        var hn = Tensor(zeros: shapes.state.dims)
        var cn = Tensor(zeros: lstm ? shapes.cellState.dims : [0])
        // The Elman RNN keeps the layer outputs alone, (numLayers, L, N, D·H); LSTM and GRU their gates too.
        let statesShape = c.cell == .elman ? [c.numLayers, L, N, c.numDirections * c.hiddenSize] : [shapes.savedCount]
        var states = Tensor(zeros: keepStates ? statesShape : [0])
        var failure: SwiftRNNError?
        withParameterPointers(parameters[...], collected: []) { pointers in
            pointers.withUnsafeBufferPointer { pp in
                x.scalars.withUnsafeBufferPointer { xp in
                    withOptionalPointer(h0?.scalars) { hp in
                        withOptionalPointer(c0?.scalars) { cp in
                            withOptionalPointer(dropoutMasks?.scalars) { mp in
                                output.scalars.withUnsafeMutableBufferPointer { op in
                                    hn.scalars.withUnsafeMutableBufferPointer { hnp in
                                        cn.scalars.withUnsafeMutableBufferPointer { cnp in
                                            states.scalars.withUnsafeMutableBufferPointer { sp in
                                                do throws(SwiftRNNError) {
                                                    try rnnForward(config: c, parameters: pp, x: xp.nonNullBase, seqLen: L,
                                                                   batch: N, h0: hp, dropoutMasks: mp, output: op.nonNullBase,
                                                                   hn: hnp.nonNullBase, saved: keepStates ? sp.nonNullBase : nil,
                                                                   c0: cp, cn: lstm ? cnp.nonNullBase : nil)
                                                } catch { failure = error }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let failure { throw failure }
        return (output, hn, lstm ? cn : nil, keepStates ? states : nil)
    }
}

/// An Elman RNN, `torch.nn.RNN`, holding its parameters as tensors in torch's state_dict order.
public struct RNN: RecurrentLayer {
    /// The sizes and options the layer was made with.
    public let config: RNNConfig
    /// The parameters in state_dict order; names and shapes in `config.parameterNames` / `parameterShapes`.
    public var parameters: [Tensor]

    /// Throws `.invalidArgument` for invalid sizes or parameters of the wrong count or shape.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, nonlinearity: Nonlinearity = .tanh,
                bias: Bool = true, batchFirst: Bool = false, bidirectional: Bool = false,
                parameters: [Tensor]) throws(SwiftRNNError) {
        config = try Self.checked(RNNConfig(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                                            nonlinearity: nonlinearity, bias: bias, batchFirst: batchFirst,
                                            bidirectional: bidirectional), parameters)
        self.parameters = parameters
    }

    /// Runs the RNN. x is (L, N, inputSize) — (N, L, inputSize) if batchFirst — or unbatched
    /// (L, inputSize); h0 is (D·numLayers, N, H), or (D·numLayers, H) unbatched, or nil for zeros.
    /// Returns output (L, N, D·H) (batch-first / unbatched as x) and hn shaped like h0.
    public func callAsFunction(_ x: Tensor, h0: Tensor? = nil) throws(SwiftRNNError) -> (output: Tensor, hn: Tensor) {
        let (output, hn, _, _) = try run(x, h0: h0, c0: nil, dropoutMasks: nil, keepStates: false)
        return (output, hn)
    }
}

/// A long short-term memory network, `torch.nn.LSTM`: gates i, f, g, o (torch's row order), optionally
/// projected (`projSize`, torch's proj_size: h has P = projSize features, c keeps hiddenSize).
public struct LSTM: RecurrentLayer {
    /// The sizes and options the layer was made with (`config.cell == .lstm`).
    public let config: RNNConfig
    /// The parameters in state_dict order (weight_ih, weight_hh, bias_ih, bias_hh, weight_hr per layer and
    /// direction); names and shapes in `config.parameterNames` / `parameterShapes`.
    public var parameters: [Tensor]

    /// Throws `.invalidArgument` for invalid sizes (torch's messages) or parameters of the wrong count or shape.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                bidirectional: Bool = false, projSize: Int = 0, parameters: [Tensor]) throws(SwiftRNNError) {
        config = try Self.checked(RNNConfig(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                                            bias: bias, batchFirst: batchFirst, bidirectional: bidirectional,
                                            cell: .lstm, projSize: projSize), parameters)
        self.parameters = parameters
    }

    /// Runs the LSTM: torch's `output, (h_n, c_n) = lstm(x, (h0, c0))`. x is (L, N, inputSize) — (N, L,
    /// inputSize) if batchFirst — or unbatched (L, inputSize); h0 is (D·numLayers, N, P) and c0
    /// (D·numLayers, N, hiddenSize) (without N unbatched), nil for zeros. Returns output (L, N, D·P)
    /// (batch-first / unbatched as x), hn shaped like h0 and cn like c0.
    public func callAsFunction(_ x: Tensor, h0: Tensor? = nil,
                               c0: Tensor? = nil) throws(SwiftRNNError) -> (output: Tensor, hn: Tensor, cn: Tensor) {
        let (output, hn, cn, _) = try run(x, h0: h0, c0: c0, dropoutMasks: nil, keepStates: false)
        return (output, hn, cn!)
    }
}

/// A gated recurrent unit network, `torch.nn.GRU`: gates r, z, n with torch's equations
/// (n = tanh(W_in x + b_in + r·(W_hn h + b_hn)), h' = (1 − z)·n + z·h).
public struct GRU: RecurrentLayer {
    /// The sizes and options the layer was made with (`config.cell == .gru`).
    public let config: RNNConfig
    /// The parameters in state_dict order; names and shapes in `config.parameterNames` / `parameterShapes`.
    public var parameters: [Tensor]

    /// Throws `.invalidArgument` for invalid sizes or parameters of the wrong count or shape.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                bidirectional: Bool = false, parameters: [Tensor]) throws(SwiftRNNError) {
        config = try Self.checked(RNNConfig(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                                            bias: bias, batchFirst: batchFirst, bidirectional: bidirectional,
                                            cell: .gru), parameters)
        self.parameters = parameters
    }

    /// Runs the GRU: torch's `output, h_n = gru(x, h0)`, shapes as `RNN.callAsFunction`.
    public func callAsFunction(_ x: Tensor, h0: Tensor? = nil) throws(SwiftRNNError) -> (output: Tensor, hn: Tensor) {
        let (output, hn, _, _) = try run(x, h0: h0, c0: nil, dropoutMasks: nil, keepStates: false)
        return (output, hn)
    }
}

/// Calls `body` with a pointer to each tensor's elements, all valid for the duration of the call.
func withParameterPointers<R>(_ tensors: ArraySlice<Tensor>, collected: [UnsafePointer<Float>],
                              _ body: ([UnsafePointer<Float>]) -> R) -> R {
    guard let first = tensors.first else { return body(collected) }
    return first.scalars.withUnsafeBufferPointer { p in
        withParameterPointers(tensors.dropFirst(), collected: collected + [p.nonNullBase], body)
    }
}
