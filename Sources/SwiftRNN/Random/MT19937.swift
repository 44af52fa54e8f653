/// The 32-bit Mersenne Twister as PyTorch's CPU generator runs it (`at::mt19937`,
/// aten/src/ATen/core/MT19937RNGEngine.h): standard `init_genrand` seeding from the low 32 bits of
/// the seed, the full 64-bit seed kept only as `seed` (what `initial_seed()` reports), and the
/// lazy refill bookkeeping (`left`, `next`) that torch's `get_rng_state()` serialises.
///
/// A plain value: copying it forks the stream.
public struct MT19937: Sendable {
    /// Number of 32-bit words of state.
    public static let stateCount = 624
    static let shift = 397
    static let matrixA: UInt32 = 0x9908_b0df

    /// The seed passed to `init(seed:)`; only its low 32 bits enter the state.
    public private(set) var seed: UInt64
    var state: InlineArray<624, UInt32>
    /// Draws left before the next refill, in `1...624` (1 right after seeding: the first draw refills).
    public private(set) var left: Int
    /// Index of the next word of `state` to temper, in `0...623`.
    public private(set) var next: Int

    /// Seeds as `mt19937(seed)` does: `state[0] = seed & 0xffffffff`,
    /// `state[j] = 1812433253 * (state[j-1] ^ (state[j-1] >> 30)) + j`.
    public init(seed: UInt64) {
        self.seed = seed
        state = InlineArray(repeating: 0)
        var previous = UInt32(truncatingIfNeeded: seed)
        state[0] = previous
        for j in 1..<Self.stateCount {
            previous = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(j)
            state[j] = previous
        }
        left = 1
        next = 0
    }

    /// Rebuilds an engine from serialised parts (`get_rng_state()` or an `srnn_generator`).
    ///
    /// Throws unless `state.count == 624`, `left` is in `1...624` and `next + left <= 625`. The last
    /// condition is what keeps every draw inside the state array; every state torch produces meets it
    /// (`next + left == 625`, or `left == 1, next == 0` right after seeding).
    public init(seed: UInt64, state words: UnsafeBufferPointer<UInt32>, left: Int, next: Int) throws(RandomError) {
        guard words.count == Self.stateCount else {
            throw .invalidState("mt19937 state must have \(Self.stateCount) words, got \(words.count)")
        }
        guard (1...Self.stateCount).contains(left), next >= 0, next + left <= Self.stateCount + 1 else {
            throw .invalidState("mt19937 position is inconsistent: left=\(left), next=\(next) "
                + "(need 1 <= left <= 624 and 0 <= next <= 625 - left)")
        }
        self.seed = seed
        state = InlineArray { words[$0] }
        self.left = left
        self.next = next
    }

    /// Copies the 624 state words into `out` (which must hold at least 624).
    public func copyState(into out: UnsafeMutableBufferPointer<UInt32>) {
        guard out.count >= Self.stateCount else { fatalError("copyState(into:) needs room for 624 words") }
        let words = state.span  // a span: element reads through the InlineArray getter copy it whole
        for j in 0..<Self.stateCount { out[j] = words[j] }
    }

    /// The next 32-bit output.
    @inline(__always)
    public mutating func next32() -> UInt32 {
        left -= 1
        if left == 0 { refill() }
        var y = state[next]
        next += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    @inline(never)
    mutating func refill() {
        @inline(__always) func twist(_ u: UInt32, _ v: UInt32) -> UInt32 {
            let mixed = (u & 0x8000_0000) | (v & 0x7fff_ffff)
            return (mixed >> 1) ^ ((v & 1) != 0 ? Self.matrixA : 0)
        }
        let n = Self.stateCount, m = Self.shift
        for k in 0..<(n - m) {
            state[k] = state[k + m] ^ twist(state[k], state[k + 1])
        }
        for k in (n - m)..<(n - 1) {
            state[k] = state[k + m - n] ^ twist(state[k], state[k + 1])
        }
        state[n - 1] = state[m - 1] ^ twist(state[n - 1], state[0])
        left = n
        next = 0
    }
}
