// C ABI of the random generator (declared in Sources/CSwiftRNN/include/swiftrnn_random.h).
// Each export validates its arguments (errors map to status codes through ABISupport.swift), loads the caller's srnn_generator into a GeneratorState,
// runs the core fill, and stores the state back only on success. Nothing here traps on bad input.
import CSwiftRNN
import SwiftRNN

private let mtOffset = MemoryLayout<srnn_generator>.offset(of: \srnn_generator.mt)!

extension GeneratorState {
    /// Reads an srnn_generator; throws if its position fields are inconsistent.
    init(loading g: UnsafePointer<srnn_generator>) throws(RandomError) {
        let words = UnsafeBufferPointer(
            start: (UnsafeRawPointer(g) + mtOffset).assumingMemoryBound(to: UInt32.self),
            count: MT19937.stateCount)
        let c = g.pointee
        guard c.flags & ~UInt32(SRNN_GENERATOR_HAS_DOUBLE_NORMAL | SRNN_GENERATOR_HAS_FLOAT_NORMAL) == 0 else {
            throw .invalidState("srnn_generator has unknown flags 0x\(String(c.flags, radix: 16))")
        }
        let engine = try MT19937(seed: c.initial_seed, state: words, left: Int(c.left), next: Int(c.next))
        self.init(
            engine: engine,
            nextDoubleNormal: c.flags & UInt32(SRNN_GENERATOR_HAS_DOUBLE_NORMAL) != 0 ? c.next_double_normal : nil,
            nextFloatNormal: c.flags & UInt32(SRNN_GENERATOR_HAS_FLOAT_NORMAL) != 0 ? c.next_float_normal : nil)
    }

    /// Writes this state into an srnn_generator.
    func store(into g: UnsafeMutablePointer<srnn_generator>) {
        engine.copyState(into: UnsafeMutableBufferPointer(
            start: (UnsafeMutableRawPointer(g) + mtOffset).assumingMemoryBound(to: UInt32.self),
            count: MT19937.stateCount))
        g.pointee.initial_seed = engine.seed
        g.pointee.left = Int32(engine.left)
        g.pointee.next = Int32(engine.next)
        var flags: UInt32 = 0
        g.pointee.next_double_normal = nextDoubleNormal ?? 0
        if nextDoubleNormal != nil { flags |= UInt32(SRNN_GENERATOR_HAS_DOUBLE_NORMAL) }
        g.pointee.next_float_normal = nextFloatNormal ?? 0
        if nextFloatNormal != nil { flags |= UInt32(SRNN_GENERATOR_HAS_FLOAT_NORMAL) }
        g.pointee.flags = flags
    }
}

/// Loads the generator, runs `body` on it, stores it back if `body` succeeds.
private func withGenerator(_ g: UnsafeMutablePointer<srnn_generator>?, _ err: UnsafeMutablePointer<CChar>?,
                           _ cap: Int, _ body: (inout GeneratorState) throws(RandomError) -> Void) -> Int32
{
    guard let g else { return fail(SwiftRNNError.invalidArgument("generator pointer is NULL"), err, cap) }
    do {
        var state = try GeneratorState(loading: g)
        try body(&state)
        state.store(into: g)
        return ok
    } catch {
        return fail(error, err, cap)
    }
}

/// A buffer view of (pointer, n), or a message saying why it is not one.
private func buffer<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int64, _ name: String) -> Result<UnsafeMutableBufferPointer<T>, RandomError> {
    guard n >= 0 else { return .failure(.invalidArgument("\(name): element count must be >= 0, got \(n)")) }
    guard n <= Int64(Int.max / MemoryLayout<T>.stride) else {
        return .failure(.invalidArgument("\(name): element count \(n) is too large"))
    }
    guard n == 0 || p != nil else { return .failure(.invalidArgument("\(name): buffer is NULL but n = \(n)")) }
    return .success(UnsafeMutableBufferPointer(start: p, count: Int(n)))
}

@_cdecl("srnn_generator_size")
public func srnn_generator_size() -> Int { MemoryLayout<srnn_generator>.size }

@_cdecl("srnn_generator_seed")
public func srnn_generator_seed(_ g: UnsafeMutablePointer<srnn_generator>?, _ seed: UInt64) {
    guard let g else { return }
    GeneratorState(seed: seed).store(into: g)
}

@_cdecl("srnn_generator_get_state")
public func srnn_generator_get_state(_ g: UnsafePointer<srnn_generator>?, _ out: UnsafeMutablePointer<UInt8>?,
                                     _ outLen: Int, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32
{
    guard let g else { return fail(SwiftRNNError.invalidArgument("generator pointer is NULL"), err, cap) }
    guard let out, outLen >= GeneratorState.torchStateByteCount else {
        return fail(SwiftRNNError.invalidArgument("state buffer must hold \(GeneratorState.torchStateByteCount) bytes"), err, cap)
    }
    do {
        let state = try GeneratorState(loading: g)
        state.writeTorchState(to: UnsafeMutableRawBufferPointer(start: out, count: outLen))
        return ok
    } catch {
        return fail(error, err, cap)
    }
}

@_cdecl("srnn_generator_set_state")
public func srnn_generator_set_state(_ g: UnsafeMutablePointer<srnn_generator>?, _ bytes: UnsafePointer<UInt8>?,
                                     _ len: Int, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32
{
    guard let g else { return fail(SwiftRNNError.invalidArgument("generator pointer is NULL"), err, cap) }
    guard let bytes else { return fail(SwiftRNNError.invalidArgument("state pointer is NULL"), err, cap) }
    do {
        let state = try GeneratorState(torchState: UnsafeRawBufferPointer(start: bytes, count: len))
        state.store(into: g)
        return ok
    } catch {
        return fail(error, err, cap)
    }
}

@_cdecl("srnn_fill_uniform")
public func srnn_fill_uniform(_ g: UnsafeMutablePointer<srnn_generator>?, _ out: UnsafeMutablePointer<Float>?,
                              _ n: Int64, _ from: Double, _ to: Double,
                              _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32
{
    withGenerator(g, err, cap) { (state) throws(RandomError) in
        try state.fillUniform(buffer(out, n, "uniform_").get(), from: from, to: to)
    }
}

@_cdecl("srnn_fill_normal")
public func srnn_fill_normal(_ g: UnsafeMutablePointer<srnn_generator>?, _ out: UnsafeMutablePointer<Float>?,
                             _ n: Int64, _ mean: Double, _ std: Double,
                             _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32
{
    withGenerator(g, err, cap) { (state) throws(RandomError) in
        try state.fillNormal(buffer(out, n, "normal_").get(), mean: mean, std: std)
    }
}

@_cdecl("srnn_fill_randint")
public func srnn_fill_randint(_ g: UnsafeMutablePointer<srnn_generator>?, _ out: UnsafeMutablePointer<Int64>?,
                              _ n: Int64, _ low: Int64, _ high: Int64,
                              _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32
{
    withGenerator(g, err, cap) { (state) throws(RandomError) in
        try state.fillRandInt(buffer(out, n, "randint").get(), low: low, high: high)
    }
}

@_cdecl("srnn_fill_bernoulli")
public func srnn_fill_bernoulli(_ g: UnsafeMutablePointer<srnn_generator>?, _ out: UnsafeMutablePointer<Float>?,
                                _ n: Int64, _ p: Double, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32
{
    withGenerator(g, err, cap) { (state) throws(RandomError) in
        try state.fillBernoulli(buffer(out, n, "bernoulli_").get(), p: p)
    }
}

@_cdecl("srnn_fill_dropout_mask")
public func srnn_fill_dropout_mask(_ g: UnsafeMutablePointer<srnn_generator>?, _ out: UnsafeMutablePointer<Float>?,
                                   _ n: Int64, _ p: Double, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32
{
    withGenerator(g, err, cap) { (state) throws(RandomError) in
        try state.fillDropoutMask(buffer(out, n, "dropout").get(), p: p)
    }
}

@_cdecl("srnn_init_linear")
public func srnn_init_linear(_ g: UnsafeMutablePointer<srnn_generator>?, _ weight: UnsafeMutablePointer<Float>?,
                             _ outFeatures: Int64, _ inFeatures: Int64, _ bias: UnsafeMutablePointer<Float>?,
                             _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32
{
    withGenerator(g, err, cap) { (state) throws(RandomError) in
        guard outFeatures >= 0, inFeatures >= 0 else {
            throw .invalidArgument("Linear: in_features and out_features must be >= 0, got \(inFeatures) and \(outFeatures)")
        }
        let (count, overflow) = outFeatures.multipliedReportingOverflow(by: inFeatures)
        guard !overflow else { throw .invalidArgument("Linear: weight size overflows") }
        let w = try buffer(weight, count, "Linear weight").get()
        let b = try bias.map { (p) throws(RandomError) in try buffer(p, outFeatures, "Linear bias").get() }
        try state.initLinear(weight: w, outFeatures: Int(outFeatures), inFeatures: Int(inFeatures), bias: b)
    }
}

@_cdecl("srnn_init_rnn")
public func srnn_init_rnn(_ g: UnsafeMutablePointer<srnn_generator>?,
                          _ params: UnsafePointer<UnsafeMutablePointer<Float>?>?, _ sizes: UnsafePointer<Int64>?,
                          _ numParams: Int64, _ hiddenSize: Int64,
                          _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32
{
    withGenerator(g, err, cap) { (state) throws(RandomError) in
        guard numParams >= 0 else { throw .invalidArgument("RNN: num_params must be >= 0, got \(numParams)") }
        guard numParams == 0 || (params != nil && sizes != nil) else {
            throw .invalidArgument("RNN: params or sizes is NULL")
        }
        var buffers: [UnsafeMutableBufferPointer<Float>] = []
        for i in 0..<Int(numParams) {
            buffers.append(try buffer(params![i], sizes![i], "RNN parameter \(i)").get())
        }
        try state.initRNN(parameters: buffers, hiddenSize: Int(hiddenSize))
    }
}

@_cdecl("srnn_init_embedding")
public func srnn_init_embedding(_ g: UnsafeMutablePointer<srnn_generator>?, _ weight: UnsafeMutablePointer<Float>?,
                                _ numEmbeddings: Int64, _ embeddingDim: Int64, _ paddingIdx: Int64,
                                _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32
{
    withGenerator(g, err, cap) { (state) throws(RandomError) in
        guard numEmbeddings >= 0, embeddingDim >= 0 else {
            throw .invalidArgument("Embedding: sizes must be >= 0, got (\(numEmbeddings), \(embeddingDim))")
        }
        let (count, overflow) = numEmbeddings.multipliedReportingOverflow(by: embeddingDim)
        guard !overflow else { throw .invalidArgument("Embedding: weight size overflows") }
        guard paddingIdx >= -1, paddingIdx < numEmbeddings else {
            throw .invalidArgument("Embedding: padding_idx must be in [0, \(numEmbeddings)) or -1 for none, got \(paddingIdx)")
        }
        try state.initEmbedding(weight: buffer(weight, count, "Embedding weight").get(),
                                numEmbeddings: Int(numEmbeddings), embeddingDim: Int(embeddingDim),
                                paddingIdx: paddingIdx >= 0 ? Int(paddingIdx) : nil)
    }
}
