/// A thread-safe random generator that reproduces PyTorch's CPU generator (`torch.Generator()`):
/// after the same seed, `rand`, `randn`, `randint` and the parameter initialisers give the numbers
/// torch gives. The state is a `GeneratorState` behind a mutex: concurrent calls are serialised,
/// each call's draws are contiguous in the stream.
///
/// `rand` and `randn` return tensors; `randint` returns the int64 values as a flat row-major array.
/// A negative dimension or an element count that overflows `Int` traps.
public final class Generator: Sendable {
    private let box: PthreadLocked<GeneratorState>

    /// `torch.Generator().manual_seed(seed)`; the default seed is torch's `default_rng_seed_val`.
    public init(seed: UInt64 = GeneratorState.defaultSeed) {
        box = PthreadLocked(GeneratorState(seed: seed))
    }

    /// A generator that starts from `state` (e.g. one loaded from torch's state bytes).
    public init(state: GeneratorState) {
        box = PthreadLocked(state)
    }

    /// The process-wide generator, the counterpart of torch's default CPU generator. Like torch's, it
    /// starts from a nondeterministic 64-bit seed (torch reads /dev/urandom; `torch.initial_seed()` in a
    /// fresh process is not `GeneratorState.defaultSeed`); call `manualSeed(_:)` for reproducible runs.
    public static let `default` = Generator(seed: nondeterministicSeed())

    /// A fresh 64-bit seed from the system's entropy source.
    public static func nondeterministicSeed() -> UInt64 {
        var system = SystemRandomNumberGenerator()
        return system.next()
    }

    /// Reseeds (dropping any cached normal sample) and returns `self`, like `Generator.manual_seed`.
    @discardableResult
    public func manualSeed(_ seed: UInt64) -> Generator {
        box.withLock { $0.reseed(seed) }
        return self
    }

    /// Reseeds from a nondeterministic seed and returns that seed (`Generator.seed()`).
    @discardableResult
    public func seed() -> UInt64 {
        let seed = Self.nondeterministicSeed()
        box.withLock { $0.reseed(seed) }
        return seed
    }

    /// The seed last set (`initial_seed()`).
    public var initialSeed: UInt64 { box.withLock { $0.initialSeed } }

    /// A copy of the whole state; setting it replaces the state (`get_state` / `set_state`).
    public var state: GeneratorState {
        get { box.withLock { $0 } }
        set { box.withLock { $0 = newValue } }
    }

    /// Runs `body` on the state under the lock: the way to make several fills one atomic sequence.
    public func withState<Result: Sendable, E: Error>(_ body: (inout GeneratorState) throws(E) -> Result)
        throws(E) -> Result
    {
        try box.withLock { (state) throws(E) -> Result in try body(&state) }
    }

    // MARK: new tensors

    /// `torch.rand(shape)`: uniform [0, 1) floats.
    public func rand(_ shape: [Int]) -> Tensor {
        floatTensor(shape) { (state, buffer) throws(RandomError) in try state.fillUniform(buffer) }
    }

    /// `torch.randn(shape)`: standard normal floats.
    public func randn(_ shape: [Int]) -> Tensor {
        floatTensor(shape) { (state, buffer) throws(RandomError) in try state.fillNormal(buffer) }
    }

    /// `torch.randint(low, high, shape)`: int64 values in [low, high). Throws unless low < high (for a
    /// non-empty shape).
    public func randint(low: Int64 = 0, high: Int64, shape: [Int]) throws(RandomError) -> [Int64] {
        try makeArray(shape, Int64(0)) { (state, buffer) throws(RandomError) in
            try state.fillRandInt(buffer, low: low, high: high)
        }
    }

    // MARK: in-place fills

    /// `Tensor.uniform_(from, to)` on `buffer`.
    public func uniform_(_ buffer: UnsafeMutableBufferPointer<Float>, from: Double = 0, to: Double = 1)
        throws(RandomError)
    {
        try withState { (state) throws(RandomError) in try state.fillUniform(buffer, from: from, to: to) }
    }

    /// `Tensor.normal_(mean, std)` on `buffer` (contiguous: the >= 16-element path applies).
    public func normal_(_ buffer: UnsafeMutableBufferPointer<Float>, mean: Double = 0, std: Double = 1)
        throws(RandomError)
    {
        try withState { (state) throws(RandomError) in try state.fillNormal(buffer, mean: mean, std: std) }
    }

    /// `Tensor.bernoulli_(p)` on `buffer`.
    public func bernoulli_(_ buffer: UnsafeMutableBufferPointer<Float>, p: Double) throws(RandomError) {
        try withState { (state) throws(RandomError) in try state.fillBernoulli(buffer, p: p) }
    }

    /// The scaled dropout mask `F.dropout` would multiply by (0 or 1/(1-p)).
    public func dropoutMask(_ buffer: UnsafeMutableBufferPointer<Float>, p: Double) throws(RandomError) {
        try withState { (state) throws(RandomError) in try state.fillDropoutMask(buffer, p: p) }
    }

    /// Allocates `shape.product` elements and fills them under the lock.
    private func makeArray<T: BitwiseCopyable & Sendable>(
        _ shape: [Int], _ zero: T,
        _ fill: (inout GeneratorState, UnsafeMutableBufferPointer<T>) throws(RandomError) -> Void
    ) throws(RandomError) -> [T] {
        var result = [T](repeating: zero, count: Self.elementCount(shape))
        let outcome = result.withUnsafeMutableBufferPointer { buffer in
            Result { () throws(RandomError) in
                try withState { (state) throws(RandomError) in try fill(&state, buffer) }
            }
        }
        try outcome.get()
        return result
    }

    /// A tensor filled by a fill that cannot fail (its arguments are constants known to be valid).
    private func floatTensor(_ shape: [Int],
                             _ fill: (inout GeneratorState, UnsafeMutableBufferPointer<Float>) throws(RandomError) -> Void)
        -> Tensor
    {
        do {
            return try Tensor(shape: shape, scalars: makeArray(shape, Float(0), fill))
        } catch {
            fatalError("unreachable: \(error)")
        }
    }

    static func elementCount(_ shape: [Int]) -> Int {
        var count = 1
        for dim in shape {
            guard dim >= 0 else { fatalError("negative dimension \(dim) in shape \(shape)") }
            let (product, overflow) = count.multipliedReportingOverflow(by: dim)
            guard !overflow else { fatalError("shape \(shape) has more elements than Int can count") }
            count = product
        }
        return count
    }
}
