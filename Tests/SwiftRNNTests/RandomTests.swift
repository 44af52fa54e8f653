import CSwiftRNN
import SwiftRNN
import Testing

// MARK: - Fixture types (the data is in Generated/RandomFixtures.swift, written from random_streams.npz)

enum RandomOp: Sendable {
    case rand(Int)
    case randn(Int)
    case normal(Int, Double, Double)
    case uniform(Int, Double, Double)
    case randint(Int, Int64, Int64)
    case bernoulli(Int, Double)
    case dropout(Int, Double)
    case state
    case linear(in: Int, out: Int, bias: Bool)
    case rnn(input: Int, hidden: Int, layers: Int, bias: Bool, bidirectional: Bool)
    case embedding(Int, Int, paddingIdx: Int?)
}

enum Expected: Sendable {
    case float(count: Int, hash: UInt64, head: [UInt32])
    case int(count: Int, hash: UInt64, head: [Int64])
    case bytes(count: Int, hash: UInt64, head: [UInt8])
}

struct RandomStep: Sendable {
    let op: RandomOp
    let expected: [Expected]
    init(_ op: RandomOp, _ expected: [Expected]) {
        self.op = op
        self.expected = expected
    }
}

struct RandomScript: Sendable, CustomTestStringConvertible {
    let name: String
    let seed: UInt64
    let steps: [RandomStep]
    var testDescription: String { name }
}

/// One output of an op, as the bytes torch would hold.
enum Output {
    case float([Float])
    case int([Int64])
    case bytes([UInt8])
}

func fnv1a64<T>(_ values: [T]) -> UInt64 {
    values.withUnsafeBytes { raw in
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in raw { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }
}

/// The shapes of nn.RNN's parameters in state_dict order.
func rnnParameterSizes(input: Int, hidden: Int, layers: Int, bias: Bool, bidirectional: Bool) -> [Int] {
    var sizes: [Int] = []
    let directions = bidirectional ? 2 : 1
    for layer in 0..<layers {
        let layerInput = layer == 0 ? input : hidden * directions
        for _ in 0..<directions {
            sizes += [hidden * layerInput, hidden * hidden]
            if bias { sizes += [hidden, hidden] }
        }
    }
    return sizes
}

func run(_ op: RandomOp, on state: inout GeneratorState) throws -> [Output] {
    func floats(_ n: Int, _ fill: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows -> Output {
        var a = [Float](repeating: .nan, count: n)
        try a.withUnsafeMutableBufferPointer { try fill($0) }
        return .float(a)
    }
    switch op {
    case .rand(let n): return [try floats(n) { try state.fillUniform($0) }]
    case .randn(let n): return [try floats(n) { try state.fillNormal($0) }]
    case .normal(let n, let mean, let std): return [try floats(n) { try state.fillNormal($0, mean: mean, std: std) }]
    case .uniform(let n, let a, let b): return [try floats(n) { try state.fillUniform($0, from: a, to: b) }]
    case .bernoulli(let n, let p): return [try floats(n) { try state.fillBernoulli($0, p: p) }]
    case .dropout(let n, let p): return [try floats(n) { try state.fillDropoutMask($0, p: p) }]
    case .randint(let n, let low, let high):
        var a = [Int64](repeating: 0, count: n)
        try a.withUnsafeMutableBufferPointer { try state.fillRandInt($0, low: low, high: high) }
        return [.int(a)]
    case .state:
        return [.bytes(state.torchState)]
    case .linear(let fanIn, let fanOut, let hasBias):
        var w = [Float](repeating: .nan, count: fanIn * fanOut)
        var b = [Float](repeating: .nan, count: hasBias ? fanOut : 0)
        try w.withUnsafeMutableBufferPointer { wp in
            try b.withUnsafeMutableBufferPointer { bp in
                try state.initLinear(weight: wp, outFeatures: fanOut, inFeatures: fanIn, bias: hasBias ? bp : nil)
            }
        }
        return hasBias ? [.float(w), .float(b)] : [.float(w)]
    case .rnn(let input, let hidden, let layers, let bias, let bidirectional):
        let sizes = rnnParameterSizes(input: input, hidden: hidden, layers: layers, bias: bias, bidirectional: bidirectional)
        let pointers = sizes.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0) }
        defer { pointers.forEach { $0.deallocate() } }
        try state.initRNN(parameters: pointers, hiddenSize: hidden)
        return pointers.map { .float(Array($0)) }
    case .embedding(let num, let dim, let paddingIdx):
        var w = [Float](repeating: .nan, count: num * dim)
        try w.withUnsafeMutableBufferPointer { wp in
            try state.initEmbedding(weight: wp, numEmbeddings: num, embeddingDim: dim,
                                    paddingIdx: paddingIdx.map { $0 < 0 ? $0 + num : $0 })
        }
        return [.float(w)]
    }
}

/// Nil if `output` matches, else what differs.
func mismatch(_ output: Output, _ expected: Expected) -> String? {
    switch (output, expected) {
    case (.float(let a), .float(let count, let hash, let head)):
        let bits = a.map(\.bitPattern)
        if a.count == count, fnv1a64(a) == hash { return nil }
        return "float[\(a.count)] vs torch [\(count)]; first values \(a.prefix(head.count)) vs torch "
            + "\(head.map { Float(bitPattern: $0) }), first differing index "
            + "\(zip(bits, head).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? -1) (head only)"
    case (.int(let a), .int(let count, let hash, let head)):
        if a.count == count, fnv1a64(a) == hash { return nil }
        return "int64[\(a.count)] vs torch [\(count)]; first values \(a.prefix(head.count)) vs torch \(head)"
    case (.bytes(let a), .bytes(let count, let hash, let head)):
        if a.count == count, fnv1a64(a) == hash { return nil }
        return "bytes[\(a.count)] vs torch [\(count)]; first values \(a.prefix(head.count)) vs torch \(head)"
    default:
        return "output kind differs from the fixture's"
    }
}

// MARK: - Streams against torch

@Suite("Random streams reproduce torch bit for bit")
struct TorchStreamTests {
    @Test("each script, run on a freshly seeded generator, gives torch's outputs", arguments: randomScripts)
    func scriptMatchesTorch(_ script: RandomScript) throws {
        var state = GeneratorState(seed: script.seed)
        for (index, step) in script.steps.enumerated() {
            let outputs = try run(step.op, on: &state)
            #expect(outputs.count == step.expected.count, "step \(index) \(step.op): number of outputs")
            for (k, (output, expected)) in zip(outputs, step.expected).enumerated() {
                let problem = mismatch(output, expected)
                #expect(problem == nil, "\(script.name) step \(index) \(step.op) output \(k): \(problem ?? "")")
            }
        }
    }

    @Test("loading torch's saved state mid-script continues torch's stream")
    func torchStateRoundTrip() throws {
        for script in randomScripts where script.name.hasPrefix("state/") {
            var state = GeneratorState(seed: script.seed)
            for (index, step) in script.steps.enumerated() {
                let outputs = try run(step.op, on: &state)
                if case .state = step.op, case .bytes(let bytes) = outputs[0] {
                    // Reload our own serialisation (equal to torch's, checked above) and carry on.
                    state = try GeneratorState(torchState: bytes)
                    #expect(state.torchState == bytes, "\(script.name) step \(index): state round trip")
                }
            }
        }
    }
}

// MARK: - Engine and serialisation

@Suite("MT19937 and state bytes")
struct EngineTests {
    @Test("mt19937 matches the reference generator (seed 5489: first output 3499211612, 10000th 4123659995)")
    func referenceOutputs() {
        var engine = MT19937(seed: 5489)
        #expect(engine.next32() == 3_499_211_612)
        for _ in 2..<10000 { _ = engine.next32() }
        #expect(engine.next32() == 4_123_659_995)
    }

    @Test("only the low 32 bits of the seed enter the state, the full seed is kept")
    func seedTruncation() {
        var a = GeneratorState(seed: 7)
        var b = GeneratorState(seed: (1 << 32) + 7)
        #expect(b.initialSeed == (1 << 32) + 7)
        #expect((0..<700).allSatisfy { _ in a.random() == b.random() })
    }

    @Test("random64 is the first 32-bit draw in the high half")
    func random64Order() {
        var a = GeneratorState(seed: 3), b = GeneratorState(seed: 3)
        let hi = UInt64(b.random()), lo = UInt64(b.random())
        #expect(a.random64() == hi << 32 | lo)
    }

    @Test("state bytes keep the cached normal and refuse wrong sizes and positions")
    func stateBytesValidation() throws {
        var state = GeneratorState(seed: 11)
        var three = [Float](repeating: 0, count: 3)
        try three.withUnsafeMutableBufferPointer { try state.fillNormal($0) }
        #expect(state.nextDoubleNormal != nil)
        let bytes = state.torchState
        #expect(bytes.count == GeneratorState.torchStateByteCount)
        let loaded = try GeneratorState(torchState: bytes)
        #expect(loaded.nextDoubleNormal == state.nextDoubleNormal)
        #expect(loaded.torchState == bytes)

        #expect(throws: RandomError.self) { try GeneratorState(torchState: Array(bytes.dropLast())) }
        var badLeft = bytes
        badLeft[8] = 0  // left = 0
        badLeft[9] = 0
        #expect(throws: RandomError.self) { try GeneratorState(torchState: badLeft) }
        var unseeded = bytes
        unseeded[12] = 0
        #expect(throws: RandomError.self) { try GeneratorState(torchState: unseeded) }
        var pastEnd = GeneratorState(seed: 1).torchState
        pastEnd[8] = 100  // left = 100 with next = 600: would read past the state
        pastEnd[16] = 0x58
        pastEnd[17] = 0x02
        #expect(throws: RandomError.self) { try GeneratorState(torchState: pastEnd) }
    }
}

// MARK: - Distributions: edges and errors

@Suite("Distribution arguments")
struct DistributionArgumentTests {
    @Test("invalid arguments throw and draw nothing")
    func invalidArgumentsThrow() {
        var state = GeneratorState(seed: 5)
        let before = state.torchState
        var f = [Float](repeating: 0, count: 4)
        var i = [Int64](repeating: 0, count: 4)
        f.withUnsafeMutableBufferPointer { b in
            #expect(throws: RandomError.self) { try state.fillUniform(b, from: 2, to: 1) }
            #expect(throws: RandomError.self) { try state.fillUniform(b, from: 0, to: .infinity) }
            #expect(throws: RandomError.self) { try state.fillUniform(b, from: -3e38, to: 3e38) }
            #expect(throws: RandomError.self) { try state.fillNormal(b, mean: 0, std: -1) }
            #expect(throws: RandomError.self) { try state.fillNormal(b, mean: 0, std: .nan) }
            #expect(throws: RandomError.self) { try state.fillBernoulli(b, p: 1.5) }
            #expect(throws: RandomError.self) { try state.fillDropoutMask(b, p: -0.1) }
        }
        _ = i.withUnsafeMutableBufferPointer { b in
            #expect(throws: RandomError.self) { try state.fillRandInt(b, low: 5, high: 5) }
        }
        #expect(state.torchState == before)
    }

    @Test("empty fills draw nothing and skip the checks, as torch")
    func emptyFills() throws {
        var state = GeneratorState(seed: 5)
        let before = state.torchState
        let empty = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
        try state.fillUniform(empty, from: 2, to: 1)
        try state.fillNormal(empty, mean: 0, std: -1)
        #expect(state.torchState == before)
    }

    @Test("the vectorised normal path does not touch the cached scalar sample")
    func vectorPathKeepsCache() throws {
        var state = GeneratorState(seed: 2)
        var one = [Float](repeating: 0, count: 1), many = [Float](repeating: 0, count: 40)
        try one.withUnsafeMutableBufferPointer { try state.fillNormal($0) }
        let cached = state.nextDoubleNormal
        try many.withUnsafeMutableBufferPointer { try state.fillNormal($0) }
        #expect(cached != nil && state.nextDoubleNormal == cached)
    }
}

// MARK: - Generator class

@Suite("Generator")
struct GeneratorTests {
    @Test("manualSeed resets the stream and the cached normal, and returns the generator")
    func manualSeed() {
        let g = Generator(seed: 1)
        let first = g.randn([3]).scalars
        #expect(g.state.nextDoubleNormal != nil)
        #expect(g.manualSeed(1) === g)
        #expect(g.state.nextDoubleNormal == nil)
        #expect(g.randn([3]).scalars == first)
        #expect(g.initialSeed == 1)
        #expect(Generator().initialSeed == 67_280_421_310_721)
    }

    @Test("concurrent calls are serialised: each gets a contiguous run of the stream")
    func concurrentCallsAreContiguous() async {
        let g = Generator(seed: 9)
        let chunks = await withTaskGroup(of: [Float].self) { group in
            for _ in 0..<8 { group.addTask { g.rand([500]).scalars } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let sequential = Generator(seed: 9).rand([4000]).scalars
        let expected = (0..<8).map { Array(sequential[($0 * 500)..<($0 * 500 + 500)]) }
        #expect(chunks.allSatisfy { expected.contains($0) })
        #expect(Set(chunks.map { fnv1a64($0) }).count == 8)
    }

    @Test("shapes multiply out; randint validates")
    func shapes() throws {
        let g = Generator(seed: 0)
        #expect(g.rand([2, 3, 4]).shape == [2, 3, 4])
        #expect(g.randn([]).count == 1)
        #expect(g.rand([3, 0]).count == 0)
        #expect(try g.randint(low: 0, high: 10, shape: [5]).allSatisfy { (0..<10).contains($0) })
        #expect(throws: RandomError.self) { try g.randint(low: 3, high: 3, shape: [2]) }
    }

    @Test("layers built with a generator hold torch's initial parameters")
    func layerInitialisers() throws {
        // modules/0 in the fixtures: torch.manual_seed(0), then Linear(3, 5), Linear(64, 32), Linear(10, 4,
        // bias=False), Linear(0, 4), RNN(8, 16, 2, bidirectional), RNN(4, 3, bias=False), RNN(5, 7, 3),
        // Embedding(10, 4, padding_idx=2), Embedding(3, 4), Embedding(50, 16, padding_idx=-1).
        let script = try #require(randomScripts.first { $0.name == "modules/0" })
        let g = Generator(seed: 0)
        var outputs: [[Tensor]] = []
        outputs.append(try Linear(inFeatures: 3, outFeatures: 5, generator: g).parametersForTest)
        outputs.append(try Linear(inFeatures: 64, outFeatures: 32, generator: g).parametersForTest)
        outputs.append(try Linear(inFeatures: 10, outFeatures: 4, bias: false, generator: g).parametersForTest)
        outputs.append(try Linear(inFeatures: 0, outFeatures: 4, generator: g).parametersForTest)
        outputs.append(try RNN(inputSize: 8, hiddenSize: 16, numLayers: 2, bidirectional: true, generator: g).parameters)
        outputs.append(try RNN(inputSize: 4, hiddenSize: 3, bias: false, generator: g).parameters)
        outputs.append(try RNN(inputSize: 5, hiddenSize: 7, numLayers: 3, generator: g).parameters)
        outputs.append([try Embedding(numEmbeddings: 10, embeddingDim: 4, paddingIdx: 2, generator: g).weight])
        outputs.append([try Embedding(numEmbeddings: 3, embeddingDim: 4, generator: g).weight])
        outputs.append([try Embedding(numEmbeddings: 50, embeddingDim: 16, paddingIdx: -1, generator: g).weight])
        outputs.append([g.randn([7])])
        #expect(outputs.count == script.steps.count)
        for (step, tensors) in zip(script.steps, outputs) {
            #expect(tensors.count == step.expected.count)
            for (tensor, expected) in zip(tensors, step.expected) {
                let problem = mismatch(.float(tensor.scalars), expected)
                #expect(problem == nil, "\(step.op): \(problem ?? "")")
            }
        }
    }

    @Test("the default generator starts from a nondeterministic seed")
    func defaultGenerator() {
        // Two fresh nondeterministic seeds colliding is a 2^-64 event.
        #expect(Generator.nondeterministicSeed() != Generator.nondeterministicSeed())
        _ = Generator.default.initialSeed
    }
}

extension Linear {
    var parametersForTest: [Tensor] { bias.map { [weight, $0] } ?? [weight] }
}

// MARK: - C ABI

@Suite("C ABI")
struct RandomCABITests {
    func fresh(_ seed: UInt64) -> srnn_generator {
        var g = srnn_generator()
        srnn_generator_seed(&g, seed)
        return g
    }

    @Test("srnn_generator is the documented plain struct")
    func size() {
        #expect(srnn_generator_size() == MemoryLayout<srnn_generator>.size)
        #expect(srnn_generator_size() == 8 + 4 * 624 + 4 + 4 + 8 + 4 + 4)
    }

    @Test("fills through the ABI equal the core's and keep the state between calls")
    func fillsMatchCore() throws {
        var g = fresh(123)
        var core = GeneratorState(seed: 123)
        var err = [CChar](repeating: 0, count: 256)
        var a = [Float](repeating: 0, count: 37), b = [Float](repeating: 0, count: 37)
        #expect(srnn_fill_normal(&g, &a, 37, 0, 1, &err, 256) == Int32(SRNN_OK.rawValue))
        try b.withUnsafeMutableBufferPointer { try core.fillNormal($0) }
        #expect(a == b)
        var c = [Float](repeating: 0, count: 3), d = [Float](repeating: 0, count: 3)
        #expect(srnn_fill_normal(&g, &c, 3, 0, 1, &err, 256) == Int32(SRNN_OK.rawValue))
        try d.withUnsafeMutableBufferPointer { try core.fillNormal($0) }
        #expect(c == d)
        var bytes = [UInt8](repeating: 0, count: Int(SRNN_TORCH_STATE_BYTES))
        #expect(srnn_generator_get_state(&g, &bytes, bytes.count, &err, 256) == Int32(SRNN_OK.rawValue))
        #expect(bytes == core.torchState)
        var h = srnn_generator()
        #expect(srnn_generator_set_state(&h, bytes, bytes.count, &err, 256) == Int32(SRNN_OK.rawValue))
        var e = [Int64](repeating: 0, count: 9), f = [Int64](repeating: 0, count: 9)
        #expect(srnn_fill_randint(&h, &e, 9, -4, 1 << 40, &err, 256) == Int32(SRNN_OK.rawValue))
        try f.withUnsafeMutableBufferPointer { try core.fillRandInt($0, low: -4, high: 1 << 40) }
        #expect(e == f)
    }

    @Test("bad arguments come back as SRNN_VALUE_ERROR with a message, state untouched")
    func errors() {
        var g = fresh(1)
        let before = g
        var err = [CChar](repeating: 0, count: 256)
        var out = [Float](repeating: 0, count: 4)
        var ints = [Int64](repeating: 0, count: 4)
        let valueError = Int32(SRNN_VALUE_ERROR.rawValue)
        #expect(srnn_fill_randint(&g, &ints, 4, 3, 3, &err, 256) == valueError)
        #expect(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            .contains("low=3 >= high=3"))
        #expect(srnn_fill_uniform(&g, &out, -1, 0, 1, &err, 256) == valueError)
        #expect(srnn_fill_uniform(&g, nil, 4, 0, 1, &err, 256) == valueError)
        #expect(srnn_fill_normal(nil, &out, 4, 0, 1, &err, 256) == valueError)
        #expect(srnn_fill_bernoulli(&g, &out, 4, 2, &err, 256) == valueError)
        #expect(srnn_init_embedding(&g, &out, 2, 2, 2, &err, 256) == valueError)
        #expect(srnn_init_linear(&g, &out, 2, -3, nil, &err, 256) == valueError)
        let unchanged = withUnsafeBytes(of: g) { Array($0) } == withUnsafeBytes(of: before) { Array($0) }
        #expect(unchanged, "a failed call must leave the generator as it was")
        var short = [CChar](repeating: 0x41, count: 4)
        #expect(srnn_fill_randint(&g, &ints, 4, 3, 3, &short, 4) == valueError)
        #expect(short[3] == 0)  // truncated and terminated
        var corrupt = fresh(1)
        corrupt.left = 700
        #expect(srnn_fill_uniform(&corrupt, &out, 4, 0, 1, &err, 256) == valueError)
        var bytes = [UInt8](repeating: 0, count: 10)
        #expect(srnn_generator_set_state(&g, &bytes, 10, &err, 256) == valueError)
        #expect(srnn_generator_get_state(&g, &bytes, 10, &err, 256) == valueError)
    }
}
