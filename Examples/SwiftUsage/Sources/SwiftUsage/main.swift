// The tutorial's embedding -> RNN -> linear model from Swift: torch-initialised layers, a forward,
// a few training steps with explicit backwards and Adam, then greedy generation.
import SwiftRNN

let generator = Generator(seed: 0)            // torch.manual_seed(0): the same initial weights as torch
let vocabSize = 5, embeddingDim = 8, hiddenSize = 16

var embedding = try Embedding(numEmbeddings: vocabSize, embeddingDim: embeddingDim, generator: generator)
var rnn = try RNN(inputSize: embeddingDim, hiddenSize: hiddenSize, generator: generator)
var fc = try Linear(inFeatures: hiddenSize, outFeatures: vocabSize, generator: generator)

// The tutorial's shapes: output (5, 32, 256), hn (1, 32, 256).
let big = try RNN(inputSize: 128, hiddenSize: 256, generator: generator)
let (output, hn) = try big(generator.randn([5, 32, 128]), h0: Tensor(zeros: [1, 32, 256]))
print("output \(output.shape), hn \(hn.shape)")

// Training: each token of a repeating sequence predicts the next one (seq_len L, batch 1).
let data = Array(repeating: [0, 1, 2, 3, 4], count: 6).flatMap { $0 }
let inputs = Array(data.dropLast()), targets = Array(data.dropFirst())
var optimizer = try Adam(lr: 0.05)
for step in 0..<60 {
    let x = try embedding(inputs, shape: [inputs.count, 1])                 // (L, 1, E)
    let (out, _, record) = try rnn.trainingForward(x)                        // (L, 1, H)
    let logits = try fc(out)                                                 // (L, 1, V)
    let flat = try Tensor(shape: [inputs.count, vocabSize], scalars: logits.scalars)
    let (loss, gradFlat) = try crossEntropy(logits: flat, targets: targets)
    let gradLogits = try Tensor(shape: logits.shape, scalars: gradFlat.scalars)

    var weightGrad = Tensor(zeros: fc.weight.shape)
    var biasGrad: Tensor? = fc.bias.map { Tensor(zeros: $0.shape) }
    let gradOut = try fc.backward(input: out, gradOutput: gradLogits, weightGradient: &weightGrad,
                                  biasGradient: &biasGrad)
    var rnnGrads = rnn.parameters.map { Tensor(zeros: $0.shape) }
    let (gradX, _) = try rnn.backward(record, gradOutput: gradOut, parameterGradients: &rnnGrads)
    var embeddingGrad = Tensor(zeros: embedding.weight.shape)
    try embedding.backward(indices: inputs, gradOutput: gradX, weightGradient: &embeddingGrad)

    // One optimizer over all parameters, in a fixed order.
    var parameters = [embedding.weight] + rnn.parameters + [fc.weight] + (fc.bias.map { [$0] } ?? [])
    var gradients = [embeddingGrad] + rnnGrads + [weightGrad] + (biasGrad.map { [$0] } ?? [])
    _ = clipGradNorm(&gradients, maxNorm: 1)
    try optimizer.step(&parameters, gradients: gradients)
    let n = rnn.parameters.count
    embedding.weight = parameters[0]
    rnn.parameters = Array(parameters[1...n])
    fc.weight = parameters[n + 1]
    if fc.bias != nil { fc.bias = parameters[n + 2] }
    if step % 20 == 0 || step == 59 { print("step \(step): loss \(loss.scalars[0])") }
}

// Greedy generation: feed the most likely next token back in, carrying the hidden state.
var token = 0, h: Tensor? = nil, generated = [token]
for _ in 0..<8 {
    let (out, hNext) = try rnn(try embedding([token], shape: [1, 1]), h0: h)
    h = hNext
    let probabilities = try softmax(try fc(out), dim: -1)
    token = probabilities.scalars.indices.max { probabilities.scalars[$0] < probabilities.scalars[$1] }!
    generated.append(token)
}
print("generated: \(generated)")
// The model has learned the cycle (CI runs this example and relies on this check).
if generated != [0, 1, 2, 3, 4, 0, 1, 2, 3] { fatalError("expected the learned cycle 0 1 2 3 4, got \(generated)") }
