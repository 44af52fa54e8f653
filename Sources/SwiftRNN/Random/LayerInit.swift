// Layers built with PyTorch's initialisation: `Linear(inFeatures: 3, outFeatures: 5)` after
// `Generator.default.manualSeed(0)` holds the parameters `torch.nn.Linear(3, 5)` holds after
// `torch.manual_seed(0)`. The draws follow GeneratorState.initLinear / initRNN / initEmbedding.

extension Linear {
    /// `torch.nn.Linear(inFeatures, outFeatures, bias)`: weight kaiming_uniform_(a: sqrt 5), then bias
    /// uniform(±1/sqrt(inFeatures)), drawn from `generator`.
    public init(inFeatures: Int, outFeatures: Int, bias: Bool = true, generator: Generator = .default)
        throws(SwiftRNNError)
    {
        guard inFeatures >= 0, outFeatures >= 0 else {
            throw .invalidArgument("Linear sizes must be non-negative, got in_features=\(inFeatures), "
                + "out_features=\(outFeatures)")
        }
        var weight = Tensor(zeros: [outFeatures, inFeatures])
        var biasTensor = bias ? Tensor(zeros: [outFeatures]) : nil
        try initialise(generator) { (state) throws(RandomError) in
            try weight.withMutableBuffer { (w) throws(RandomError) in
                if biasTensor == nil {
                    try state.initLinear(weight: w, outFeatures: outFeatures, inFeatures: inFeatures, bias: nil)
                } else {
                    try biasTensor!.withMutableBuffer { (b) throws(RandomError) in
                        try state.initLinear(weight: w, outFeatures: outFeatures, inFeatures: inFeatures, bias: b)
                    }
                }
            }
        }
        try self.init(weight: weight, bias: biasTensor)
    }
}

/// torch's initial parameters of a recurrent layer: every parameter, in state_dict order, uniform
/// (±1/sqrt(hiddenSize)), drawn from `generator` (RNN, LSTM and GRU alike).
func torchRecurrentParameters(_ config: RNNConfig, generator: Generator) throws(SwiftRNNError) -> [Tensor] {
    try config.validate()
    var parameters = config.parameterShapes.map { Tensor(zeros: $0) }
    try initialise(generator) { (state) throws(RandomError) in
        var buffers: [UnsafeMutableBufferPointer<Float>] = []
        for i in parameters.indices {
            buffers.append(UnsafeMutableBufferPointer<Float>.allocate(capacity: parameters[i].count))
        }
        defer { buffers.forEach { $0.deallocate() } }
        try state.initRNN(parameters: buffers, hiddenSize: config.hiddenSize)
        for i in parameters.indices { parameters[i].scalars = Array(buffers[i]) }
    }
    return parameters
}

extension RNN {
    /// `torch.nn.RNN(...)`: every parameter, in state_dict order, uniform(±1/sqrt(hiddenSize)), drawn
    /// from `generator`.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, nonlinearity: Nonlinearity = .tanh,
                bias: Bool = true, batchFirst: Bool = false, bidirectional: Bool = false,
                generator: Generator = .default) throws(SwiftRNNError)
    {
        let config = RNNConfig(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                               nonlinearity: nonlinearity, bias: bias, batchFirst: batchFirst,
                               bidirectional: bidirectional)
        try self.init(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, nonlinearity: nonlinearity,
                      bias: bias, batchFirst: batchFirst, bidirectional: bidirectional,
                      parameters: torchRecurrentParameters(config, generator: generator))
    }
}

extension LSTM {
    /// `torch.nn.LSTM(...)`: every parameter, in state_dict order, uniform(±1/sqrt(hiddenSize)), drawn
    /// from `generator`.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                bidirectional: Bool = false, projSize: Int = 0, generator: Generator = .default) throws(SwiftRNNError)
    {
        let config = RNNConfig(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                               batchFirst: batchFirst, bidirectional: bidirectional, cell: .lstm, projSize: projSize)
        try self.init(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                      batchFirst: batchFirst, bidirectional: bidirectional, projSize: projSize,
                      parameters: torchRecurrentParameters(config, generator: generator))
    }
}

extension GRU {
    /// `torch.nn.GRU(...)`: every parameter, in state_dict order, uniform(±1/sqrt(hiddenSize)), drawn
    /// from `generator`.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                bidirectional: Bool = false, generator: Generator = .default) throws(SwiftRNNError)
    {
        let config = RNNConfig(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                               batchFirst: batchFirst, bidirectional: bidirectional, cell: .gru)
        try self.init(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                      batchFirst: batchFirst, bidirectional: bidirectional,
                      parameters: torchRecurrentParameters(config, generator: generator))
    }
}

extension Embedding {
    /// `torch.nn.Embedding(numEmbeddings, embeddingDim, paddingIdx, ...)`: weight normal_(0, 1) drawn from
    /// `generator`, then the padding row (negative `paddingIdx` counts from the end) zeroed.
    public init(numEmbeddings: Int, embeddingDim: Int, paddingIdx: Int? = nil, maxNorm: Double? = nil,
                normType: Double = 2, generator: Generator = .default) throws(SwiftRNNError)
    {
        guard numEmbeddings >= 0, embeddingDim >= 0 else {
            throw .invalidArgument("Embedding sizes must be non-negative, got num_embeddings=\(numEmbeddings), "
                + "embedding_dim=\(embeddingDim)")
        }
        let padding = try normalizedPaddingIndex(paddingIdx, numEmbeddings: numEmbeddings)
        var weight = Tensor(zeros: [numEmbeddings, embeddingDim])
        try initialise(generator) { (state) throws(RandomError) in
            try weight.withMutableBuffer { (w) throws(RandomError) in
                try state.initEmbedding(weight: w, numEmbeddings: numEmbeddings, embeddingDim: embeddingDim,
                                        paddingIdx: padding)
            }
        }
        try self.init(weight: weight, paddingIdx: paddingIdx, maxNorm: maxNorm, normType: normType)
    }
}

/// Runs `body` on the generator's state under its lock, reporting a refusal as `.invalidArgument`.
private func initialise(_ generator: Generator, _ body: (inout GeneratorState) throws(RandomError) -> Void)
    throws(SwiftRNNError)
{
    do {
        try generator.withState(body)
    } catch {
        throw .invalidArgument(error.message)
    }
}

extension Tensor {
    /// `body` over the scalars as a mutable buffer, with typed throws.
    mutating func withMutableBuffer(_ body: (UnsafeMutableBufferPointer<Float>) throws(RandomError) -> Void)
        throws(RandomError)
    {
        let outcome = scalars.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(RandomError) in try body(buffer) }
        }
        try outcome.get()
    }
}
