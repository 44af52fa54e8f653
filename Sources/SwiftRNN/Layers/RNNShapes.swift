// The shape rules of an RNN call, in one place: how an input, h0, the parameters and a backward's
// gradients must be shaped for a configuration, and the messages that say what was expected and what
// came. The Swift `RNN` layer, `rnnForward`/`rnnBackward` and the C ABI (`srnn_rnn_check_call`, which the
// Python extension calls once per forward or backward) all check through these functions.

/// A shape of at most 3 dimensions, held inline (no allocation on the per-call path).
public struct SmallShape: Equatable, Sendable {
    public private(set) var rank: Int
    private var d: (Int, Int, Int)

    public init(_ a: Int) { rank = 1; d = (a, 0, 0) }
    public init(_ a: Int, _ b: Int) { rank = 2; d = (a, b, 0) }
    public init(_ a: Int, _ b: Int, _ c: Int) { rank = 3; d = (a, b, c) }

    /// The first (at most 3) dimensions of `dims`.
    init(_ dims: UnsafeBufferPointer<Int>) {
        rank = min(dims.count, 3)
        d = (0, 0, 0)
        for i in 0..<rank { self[i] = dims[i] }
    }

    public subscript(i: Int) -> Int {
        get { i == 0 ? d.0 : i == 1 ? d.1 : d.2 }
        set { if i == 0 { d.0 = newValue } else if i == 1 { d.1 = newValue } else { d.2 = newValue } }
    }

    public static func == (a: SmallShape, b: SmallShape) -> Bool { a.dims == b.dims }

    /// The dimensions as an array.
    public var dims: [Int] { (0..<rank).map { self[$0] } }

    /// The product of the dimensions (the caller has checked it fits).
    public var count: Int { (0..<rank).reduce(1) { $0 * self[$1] } }

    func matches(_ other: UnsafeBufferPointer<Int>) -> Bool {
        other.count == rank && (0..<rank).allSatisfy { other[$0] == self[$0] }
    }
}

/// What one RNN call works with, derived from the configuration and the input's shape.
public struct RNNCallShapes: Equatable, Sendable {
    /// L and N (N = 1 for an unbatched input).
    public var seqLen: Int
    public var batch: Int
    /// (L, N, D·H), (N, L, D·H) if batch-first, or (L, D·H) unbatched.
    public var output: SmallShape
    /// h0 and hn: (D·numLayers, N, P), or (D·numLayers, P) unbatched (P: the state size, H unless projected).
    public var state: SmallShape
    /// An LSTM's c0 and cn: (D·numLayers, N, H), or (D·numLayers, H) unbatched; the state's shape otherwise.
    public var cellState: SmallShape
    /// Floats a training forward keeps: every layer's output before dropout, numLayers·L·N·D·P, then for a
    /// gated cell what each step's backward needs (`RNNConfig.savedPerRow` per row, layer and direction).
    public var savedCount: Int
    /// Floats of the dropout masks, (numLayers − 1)·L·N·D·P.
    public var dropoutMaskCount: Int
}

extension RNNConfig {
    /// Rejects a sequence length below 1 and a negative batch; `input` (the input's shape) makes the
    /// message name it.
    public func checkSequence(seqLen: Int, batch: Int, input: UnsafeBufferPointer<Int>? = nil) throws(SwiftRNNError) {
        guard seqLen > 0 else {
            let shape = input.map { ", got input of shape \(describeShape(Array($0)))" } ?? ", got \(seqLen)"
            throw .invalidArgument("the sequence length must be at least 1" + shape)
        }
        guard batch >= 0 else { throw .invalidArgument("the batch size must be non-negative, got \(batch)") }
    }

    /// Rejects a parameter list (or a list of their gradient buffers) of another length than `parameterCount`.
    public func checkParameterCount(_ count: Int, of what: String = "parameter arrays") throws(SwiftRNNError) {
        guard count == parameterCount else { throw .invalidArgument("RNN expects \(parameterCount) \(what), got \(count)") }
    }

    /// Checks parameter `index`'s shape (state_dict order), naming it when it does not fit.
    public func checkParameter(_ index: Int, shape got: UnsafeBufferPointer<Int>) throws(SwiftRNNError) {
        let (rows, cols) = parameterShape(at: index)
        let expected = cols.map { SmallShape(rows, $0) } ?? SmallShape(rows)
        guard expected.matches(got) else {
            throw .invalidArgument("expected \(parameterName(at: index)) of shape \(describeShape(expected.dims)), "
                                   + "got \(describeShape(Array(got)))")
        }
    }

    /// Floats a training forward keeps per time step, batch row, layer and direction besides the layer's
    /// output: an LSTM's gates i, f, g, o (activated) and c_t (and h before the projection), a GRU's r, z, n
    /// and W_hn·h + b_hn.
    public var savedPerRow: Int {
        switch cell {
        case .elman: return 0
        case .lstm: return 5 * hiddenSize + (projSize > 0 ? hiddenSize : 0)
        case .gru: return 4 * hiddenSize
        }
    }

    /// The shapes of a call on an input of shape `input`, after checking it, h0's shape (nil: no h0) and an
    /// LSTM's c0 (nil: none). The configuration must be valid (`validate()`).
    public func callShapes(input: UnsafeBufferPointer<Int>, h0: UnsafeBufferPointer<Int>?,
                           c0: UnsafeBufferPointer<Int>? = nil) throws(SwiftRNNError) -> RNNCallShapes {
        let rank = input.count
        guard rank == 2 || rank == 3 else {
            throw .invalidArgument("RNN expects a 2-d (unbatched) or 3-d (batched) input, got a \(rank)-d input "
                                   + "of shape \(describeShape(Array(input)))")
        }
        guard input[rank - 1] == inputSize else {
            throw .invalidArgument("RNN(input_size=\(inputSize)) expects input with \(inputSize) features in its last "
                                   + "dimension, got shape \(describeShape(Array(input)))")
        }
        let unbatched = rank == 2
        let L = unbatched ? input[0] : input[batchFirst ? 1 : 0]
        let N = unbatched ? 1 : input[batchFirst ? 0 : 1]
        try checkSequence(seqLen: L, batch: N, input: input)
        let D = numDirections, H = hiddenSize, P = stateSize
        let stateRows = D * numLayers  // fits: validate() checked the parameter list
        let state = unbatched ? SmallShape(stateRows, P) : SmallShape(stateRows, N, P)
        let cellState = unbatched ? SmallShape(stateRows, H) : SmallShape(stateRows, N, H)
        if let h0, !state.matches(h0) {
            throw .invalidArgument("expected h0 of shape \(describeShape(state.dims)) (num_layers * num_directions, "
                                   + "\(unbatched ? "" : "batch, ")H_out), got \(describeShape(Array(h0)))")
        }
        if let c0 {
            guard cell == .lstm else { throw .invalidArgument("only an LSTM has a cell state c0") }
            guard cellState.matches(c0) else {
                throw .invalidArgument("expected c0 of shape \(describeShape(cellState.dims)) (num_layers * num_directions, "
                                       + "\(unbatched ? "" : "batch, ")H_cell), got \(describeShape(Array(c0)))")
            }
        }
        var output = SmallShape(input)
        output[rank - 1] = D * P
        let layer = try checkedProduct(L, N, D * P, MemoryLayout<Float>.stride, what: "a layer's output in bytes")
            / MemoryLayout<Float>.stride
        let extra = try checkedProduct(L, N, D, savedPerRow, MemoryLayout<Float>.stride, what: "a layer's saved gates in bytes")
            / MemoryLayout<Float>.stride
        _ = try checkedProduct(numLayers, layer + extra, MemoryLayout<Float>.stride, what: "the saved layer outputs in bytes")
        return RNNCallShapes(seqLen: L, batch: N, output: output, state: state, cellState: cell == .lstm ? cellState : state,
                             savedCount: numLayers * (layer + extra), dropoutMaskCount: (numLayers - 1) * layer)
    }

    /// The shapes of a call on a packed batch (torch's PackedSequence): `input` is its data, (total, input_size),
    /// `batchSizes` how many sequences are active at each step (non-increasing, each at least 1, summing to
    /// total); h0/c0 as for a padded batch of batchSizes[0] sequences. The output is packed like the input.
    public func packedCallShapes(input: UnsafeBufferPointer<Int>, batchSizes: UnsafeBufferPointer<Int>,
                                 h0: UnsafeBufferPointer<Int>?, c0: UnsafeBufferPointer<Int>? = nil) throws(SwiftRNNError) -> RNNCallShapes {
        guard input.count == 2 else {
            throw .invalidArgument("a packed sequence's data must be 2-d (total steps, input_size), got shape "
                                   + describeShape(Array(input)))
        }
        guard input[1] == inputSize else {
            throw .invalidArgument("RNN(input_size=\(inputSize)) expects packed data with \(inputSize) features, got "
                                   + "shape \(describeShape(Array(input)))")
        }
        guard let first = batchSizes.first, first >= 1 else {
            throw .invalidArgument("batch_sizes must hold at least one step with at least one sequence")
        }
        var total = 0
        for (t, b) in batchSizes.enumerated() {
            guard b >= 1, b <= (t == 0 ? b : batchSizes[t - 1]) else {
                throw .invalidArgument("batch_sizes must be positive and non-increasing, got batch_sizes[\(t)] = \(b)"
                                       + (t > 0 ? " after \(batchSizes[t - 1])" : ""))
            }
            total += b  // cannot overflow: each b <= first, and first * count fits (checked below)
            if total > input[0] { break }
        }
        guard total == input[0] else {
            throw .invalidArgument("batch_sizes add up to \(total), but the packed data has \(input[0]) rows")
        }
        // The padded call with batch batchSizes[0] checks h0, c0 and the sizes; its (L, N) ranks give the states.
        var padded = [batchSizes.count, first, inputSize]
        var shapes = try padded.withUnsafeMutableBufferPointer { (b) throws(SwiftRNNError) in
            try RNNConfig(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, nonlinearity: nonlinearity,
                          bias: bias, batchFirst: false, bidirectional: bidirectional, cell: cell, projSize: projSize)
                .callShapes(input: UnsafeBufferPointer(b), h0: h0, c0: c0)
        }
        let D = numDirections, perRow = cell == .elman ? hiddenSize : savedPerRow
        shapes.output = SmallShape(total, D * stateSize)
        shapes.savedCount = try checkedProduct(numLayers, total, D, stateSize + perRow, MemoryLayout<Float>.stride,
                                               what: "the saved layer outputs in bytes") / MemoryLayout<Float>.stride
        shapes.dropoutMaskCount = (numLayers - 1) * total * D * stateSize
        return shapes
    }

    /// Checks a backward's gradients against the forward's shapes: grad_output like the output, grad_hn
    /// (nil: none) like hn, an LSTM's grad_cn (nil: none) like cn.
    public func checkGradients(_ shapes: RNNCallShapes, gradOutput: UnsafeBufferPointer<Int>,
                               gradHn: UnsafeBufferPointer<Int>?, gradCn: UnsafeBufferPointer<Int>? = nil) throws(SwiftRNNError) {
        guard shapes.output.matches(gradOutput) else {
            throw .invalidArgument("expected grad_output of shape \(describeShape(shapes.output.dims)), "
                                   + "got \(describeShape(Array(gradOutput)))")
        }
        if let gradHn, !shapes.state.matches(gradHn) {
            throw .invalidArgument("expected grad_hn of shape \(describeShape(shapes.state.dims)), "
                                   + "got \(describeShape(Array(gradHn)))")
        }
        if let gradCn {
            guard cell == .lstm else { throw .invalidArgument("only an LSTM has a cell state to take grad_cn for") }
            guard shapes.cellState.matches(gradCn) else {
                throw .invalidArgument("expected grad_cn of shape \(describeShape(shapes.cellState.dims)), "
                                       + "got \(describeShape(Array(gradCn)))")
            }
        }
    }

    /// Checks the sizes of the arrays a training forward keeps (nil: absent) against the call's shapes.
    public func checkSavedSizes(_ shapes: RNNCallShapes, saved: Int?, dropoutMasks: Int?) throws(SwiftRNNError) {
        if let saved, saved != shapes.savedCount {
            throw .invalidArgument("the saved layer outputs must hold \(shapes.savedCount) floats, got \(saved)")
        }
        if let dropoutMasks, dropoutMasks != shapes.dropoutMaskCount {
            throw .invalidArgument("the dropout masks must hold \(shapes.dropoutMaskCount) floats, got \(dropoutMasks)")
        }
    }
}

/// Calls `body` with `shape` as a buffer (the form the checks above take), nil for nil.
public func withShape<R, E: Error>(_ shape: [Int]?, _ body: (UnsafeBufferPointer<Int>?) throws(E) -> R) throws(E) -> R {
    guard let shape else { return try body(nil) }
    var result: Result<R, E>!
    shape.withUnsafeBufferPointer { b in result = Result { () throws(E) in try body(b) } }
    return try result.get()
}
