#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The parameter initialisation of torch.nn.Linear, nn.RNN and nn.Embedding (their reset_parameters
// and torch/nn/init.py), drawing in the same order, so that after the same seed a freshly built
// module holds the same numbers as torch's. Bounds are computed in double as Python does, then the
// uniform fill rounds them to float as torch's kernel does.

extension GeneratorState {
    /// `nn.init.kaiming_uniform_(w, a)` bound for leaky_relu: gain = sqrt(2 / (1 + a**2)),
    /// bound = sqrt(3) * gain / sqrt(fanIn). `a**2` goes through `pow` as in CPython.
    public static func kaimingUniformBound(fanIn: Int, a: Double) -> Double {
        let gain = (2.0 / (1 + pow(a, 2))).squareRoot()
        let std = gain / Double(fanIn).squareRoot()
        return 3.0.squareRoot() * std
    }

    /// `nn.Linear.reset_parameters`: weight (outFeatures, inFeatures) gets
    /// kaiming_uniform_(a=sqrt(5)) (no draws if it has no elements), then bias (outFeatures) gets
    /// uniform(-1/sqrt(inFeatures), 1/sqrt(inFeatures)) (bound 0 when inFeatures == 0). `bias` may be nil.
    /// Throws if the buffers do not hold outFeatures * inFeatures and outFeatures elements.
    public mutating func initLinear(weight: UnsafeMutableBufferPointer<Float>, outFeatures: Int, inFeatures: Int,
                                    bias: UnsafeMutableBufferPointer<Float>?) throws(RandomError)
    {
        guard outFeatures >= 0, inFeatures >= 0,
              outFeatures.multipliedReportingOverflow(by: inFeatures) == (weight.count, false)
        else {
            throw .invalidArgument("Linear weight must have out_features * in_features = \(outFeatures) * "
                + "\(inFeatures) elements, got \(weight.count)")
        }
        if let bias, bias.count != outFeatures {
            throw .invalidArgument("Linear bias must have out_features = \(outFeatures) elements, got \(bias.count)")
        }
        if !weight.isEmpty {
            let bound = Self.kaimingUniformBound(fanIn: inFeatures, a: 5.0.squareRoot())
            try fillUniform(weight, from: -bound, to: bound)
        }
        if let bias {
            let bound = inFeatures > 0 ? 1 / Double(inFeatures).squareRoot() : 0
            try fillUniform(bias, from: Self.negated(bound), to: bound)
        }
    }

    /// `nn.RNN.reset_parameters`: every parameter, in state_dict order (weight_ih_l0, weight_hh_l0,
    /// bias_ih_l0, bias_hh_l0, then _reverse, then the next layer), gets
    /// uniform(-1/sqrt(hiddenSize), 1/sqrt(hiddenSize)) (bound 0 when hiddenSize == 0).
    public mutating func initRNN(parameters: [UnsafeMutableBufferPointer<Float>], hiddenSize: Int) throws(RandomError) {
        guard hiddenSize >= 0 else {
            throw .invalidArgument("RNN hidden_size must be >= 0, got \(hiddenSize)")
        }
        let bound = hiddenSize > 0 ? 1.0 / Double(hiddenSize).squareRoot() : 0
        for parameter in parameters {
            try fillUniform(parameter, from: Self.negated(bound), to: bound)
        }
    }

    /// `-bound` as Python computes it for torch's bounds: the bound-0 fallback there is the int 0, whose
    /// negation is +0 (a float -0.0 would come out of the uniform clamp as -0.0 where torch gives +0).
    private static func negated(_ bound: Double) -> Double { bound == 0 ? 0 : -bound }

    /// `nn.Embedding.reset_parameters`: weight (numEmbeddings, embeddingDim) gets normal_(0, 1), then row
    /// `paddingIdx` (already normalised to 0..<numEmbeddings; nil for none) is zeroed.
    public mutating func initEmbedding(weight: UnsafeMutableBufferPointer<Float>, numEmbeddings: Int,
                                       embeddingDim: Int, paddingIdx: Int?) throws(RandomError)
    {
        guard numEmbeddings >= 0, embeddingDim >= 0,
              numEmbeddings.multipliedReportingOverflow(by: embeddingDim) == (weight.count, false)
        else {
            throw .invalidArgument("Embedding weight must have num_embeddings * embedding_dim = \(numEmbeddings) * "
                + "\(embeddingDim) elements, got \(weight.count)")
        }
        if let paddingIdx, !(0..<numEmbeddings).contains(paddingIdx) {
            throw .invalidArgument("padding_idx must be within num_embeddings (0..<\(numEmbeddings)), got \(paddingIdx)")
        }
        try fillNormal(weight)
        if let paddingIdx {
            let row = paddingIdx * embeddingDim
            for j in row..<(row + embeddingDim) { weight[j] = 0 }
        }
    }
}
