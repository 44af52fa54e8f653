/// Why a random fill or a state load was refused.
public enum RandomError: Error, Equatable, Sendable {
    /// An argument is out of range (`low >= high`, `std < 0`, `p` outside `[0, 1]`, ...).
    case invalidArgument(String)
    /// Serialised generator state that is the wrong size or inconsistent.
    case invalidState(String)

    /// The reason, for messages.
    public var message: String {
        switch self {
        case .invalidArgument(let m), .invalidState(let m): m
        }
    }
}

/// Everything PyTorch's `CPUGeneratorImpl` holds: the mt19937 engine and the two cached normal
/// samples. A plain value (2.5 KB): the draw and fill functions are `mutating` methods on it, and the
/// thread-safe `Generator` class wraps one behind a lock.
///
/// Only `nextDoubleNormal` is ever filled by the fills here (the scalar normal path, as in torch);
/// `nextFloatNormal` is carried so that states move losslessly to and from torch.
public struct GeneratorState: Sendable {
    /// The seed `torch.Generator()` starts from (`default_rng_seed_val`). torch's *default* generator
    /// is different: a fresh process seeds it from /dev/urandom (see `Generator.default`).
    public static let defaultSeed: UInt64 = 67_280_421_310_721

    /// The mt19937 engine (624 words of state and the position in it).
    public var engine: MT19937
    /// The second Box-Muller sample of the scalar double normal path, if one is cached.
    public var nextDoubleNormal: Double?
    /// The cached float normal sample (carried for torch's state format; not filled here).
    public var nextFloatNormal: Float?

    /// `CPUGeneratorImpl(seed)` / `manual_seed(seed)`: a freshly seeded engine, no cached normals.
    public init(seed: UInt64 = GeneratorState.defaultSeed) {
        engine = MT19937(seed: seed)
        nextDoubleNormal = nil
        nextFloatNormal = nil
    }

    /// A state from its parts.
    public init(engine: MT19937, nextDoubleNormal: Double? = nil, nextFloatNormal: Float? = nil) {
        self.engine = engine
        self.nextDoubleNormal = nextDoubleNormal
        self.nextFloatNormal = nextFloatNormal
    }

    /// The seed the engine was last seeded with (`initial_seed()`).
    public var initialSeed: UInt64 { engine.seed }

    /// `manual_seed(seed)`: reseeds and drops the cached normals.
    public mutating func reseed(_ seed: UInt64) {
        self = GeneratorState(seed: seed)
    }

    /// `CPUGeneratorImpl::random()`: one 32-bit draw.
    @inline(__always)
    public mutating func random() -> UInt32 { engine.next32() }

    /// `CPUGeneratorImpl::random64()`: two 32-bit draws, the first one the high half.
    @inline(__always)
    public mutating func random64() -> UInt64 {
        let hi = UInt64(engine.next32())
        let lo = UInt64(engine.next32())
        return (hi << 32) | lo
    }
}

// MARK: - torch.get_rng_state() / set_rng_state() bytes

extension GeneratorState {
    /// Size of the byte tensor `torch.get_rng_state()` returns: `CPUGeneratorImplState`, i.e. the
    /// legacy `THGeneratorState` POD followed by the float-normal cache, with x86-64/arm64 alignment.
    public static let torchStateByteCount = 5056

    // Offsets in CPUGeneratorImplState (aten/src/ATen/CPUGeneratorImpl.cpp).
    private enum TorchLayout {
        static let initialSeed = 0      // uint64_t the_initial_seed
        static let left = 8             // int left
        static let seeded = 12          // int seeded
        static let next = 16            // uint64_t next
        static let state = 24           // uint64_t state[624]
        static let normalX = 5016       // double normal_x   (unused, 0)
        static let normalY = 5024       // double normal_y   (the cached double normal)
        static let normalRho = 5032     // double normal_rho (unused, 0)
        static let normalIsValid = 5040 // int normal_is_valid
        static let nextFloatNormal = 5048        // float next_float_normal_sample
        static let isNextFloatNormalValid = 5052 // bool is_next_float_normal_sample_valid
    }

    /// Writes the state in torch's `get_rng_state()` layout (little-endian, padding zeroed):
    /// the result can be passed to `torch.set_rng_state(torch.from_numpy(...))`.
    /// `out` must hold at least `torchStateByteCount` bytes.
    public func writeTorchState(to out: UnsafeMutableRawBufferPointer) {
        guard out.count >= Self.torchStateByteCount else {
            fatalError("writeTorchState(to:) needs \(Self.torchStateByteCount) bytes")
        }
        let bytes = UnsafeMutableRawBufferPointer(rebasing: out[0..<Self.torchStateByteCount])
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
        bytes.storeBytes(of: engine.seed.littleEndian, toByteOffset: TorchLayout.initialSeed, as: UInt64.self)
        bytes.storeBytes(of: Int32(engine.left).littleEndian, toByteOffset: TorchLayout.left, as: Int32.self)
        bytes.storeBytes(of: Int32(1).littleEndian, toByteOffset: TorchLayout.seeded, as: Int32.self)
        bytes.storeBytes(of: UInt64(engine.next).littleEndian, toByteOffset: TorchLayout.next, as: UInt64.self)
        let words = engine.state.span
        for j in 0..<MT19937.stateCount {
            bytes.storeBytes(of: UInt64(words[j]).littleEndian, toByteOffset: TorchLayout.state + 8 * j, as: UInt64.self)
        }
        if let y = nextDoubleNormal {
            bytes.storeBytes(of: y.bitPattern.littleEndian, toByteOffset: TorchLayout.normalY, as: UInt64.self)
            bytes.storeBytes(of: Int32(1).littleEndian, toByteOffset: TorchLayout.normalIsValid, as: Int32.self)
        }
        if let f = nextFloatNormal {
            bytes.storeBytes(of: f.bitPattern.littleEndian, toByteOffset: TorchLayout.nextFloatNormal, as: UInt32.self)
            bytes.storeBytes(of: UInt8(1), toByteOffset: TorchLayout.isNextFloatNormalValid, as: UInt8.self)
        }
    }

    /// The state as `torch.get_rng_state()` bytes.
    public var torchState: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: Self.torchStateByteCount) { buffer, count in
            writeTorchState(to: UnsafeMutableRawBufferPointer(buffer))
            count = Self.torchStateByteCount
        }
    }

    /// Loads `torch.get_rng_state()` bytes, with the checks `CPUGeneratorImpl::set_state` makes
    /// (exact size, `seeded`, `left` in 1...624, `next` <= 624) plus `next + left <= 625`, which torch
    /// does not check but without which a draw would read past the state. State words are truncated to
    /// 32 bits as torch does.
    public init(torchState bytes: UnsafeRawBufferPointer) throws(RandomError) {
        guard bytes.count == Self.torchStateByteCount else {
            throw .invalidState("expected a torch CPU generator state of \(Self.torchStateByteCount) bytes, "
                + "got \(bytes.count)")
        }
        func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        let seeded = load(TorchLayout.seeded, Int32.self)
        guard seeded != 0 else { throw .invalidState("invalid mt19937 state: 'seeded' flag is 0") }
        let left = Int(load(TorchLayout.left, Int32.self))
        let next = load(TorchLayout.next, UInt64.self)
        guard next <= UInt64(MT19937.stateCount) else {
            throw .invalidState("invalid mt19937 state: next=\(next) > 624")
        }
        var words = [UInt32](repeating: 0, count: MT19937.stateCount)
        for j in 0..<MT19937.stateCount {
            words[j] = UInt32(truncatingIfNeeded: load(TorchLayout.state + 8 * j, UInt64.self))
        }
        let seed = load(TorchLayout.initialSeed, UInt64.self)
        let engine = words.withUnsafeBufferPointer { w in
            Result { () throws(RandomError) in try MT19937(seed: seed, state: w, left: left, next: Int(next)) }
        }
        self.engine = try engine.get()
        nextDoubleNormal = load(TorchLayout.normalIsValid, Int32.self) != 0
            ? Double(bitPattern: load(TorchLayout.normalY, UInt64.self)) : nil
        nextFloatNormal = load(TorchLayout.isNextFloatNormalValid, UInt8.self) != 0
            ? Float(bitPattern: load(TorchLayout.nextFloatNormal, UInt32.self)) : nil
    }

    /// Loads the 5056-byte state of `torch.get_rng_state()` / `Generator.get_state()`.
    ///
    /// - Throws: `RandomError.invalidState` when the bytes are the wrong size or inconsistent.
    public init(torchState bytes: [UInt8]) throws(RandomError) {
        let loaded = bytes.withUnsafeBytes { raw in
            Result { () throws(RandomError) in try GeneratorState(torchState: raw) }
        }
        self = try loaded.get()
    }
}
