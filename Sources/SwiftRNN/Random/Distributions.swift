#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// torch's CPU distributions (aten/src/ATen/core/{TransformationHelper,DistributionsHelper}.h and
// aten/src/ATen/native/cpu/DistributionTemplates.h) over float32 / int64 buffers, drawing from a
// GeneratorState in exactly the order torch draws. Every fill of zero elements draws nothing and
// skips the argument checks, as torch's CHECK_EMPTY_AND_RETURN does.
//
// Where torch's x86-64 binary fuses `a * b + c` into one FMA (it is built with -mfma for its AVX2 and
// AVX-512 kernels), the code below fuses too; see BoxMullerFloat.swift.

private let mask24: UInt32 = (1 << 24) - 1
private let mask53: UInt64 = (1 << 53) - 1

extension GeneratorState {
    /// `uniform_real_distribution<float>(0, 1)`: (random() & (2^24 - 1)) * 2^-24, in [0, 1).
    @inline(__always)
    mutating func uniformFloat() -> Float {
        Float(random() & mask24) * 0x1p-24
    }

    /// `uniform_real_distribution<double>(0, 1)`: (random64() & (2^53 - 1)) * 2^-53, in [0, 1).
    @inline(__always)
    mutating func uniformDouble() -> Double {
        Double(random64() & mask53) * 0x1p-53
    }

    /// `normal_distribution<double>(0, 1)`: returns the cached sample if there is one (and clears it);
    /// otherwise u1, u2 = two double uniforms, r = sqrt(-2 log1p(-u2)), t = 2 pi u1, caches r sin t and
    /// returns r cos t.
    @inline(__always)
    mutating func standardNormalDouble() -> Double {
        if let cached = nextDoubleNormal {
            nextDoubleNormal = nil
            return cached
        }
        let u1 = uniformDouble()
        let u2 = uniformDouble()
        let r = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        nextDoubleNormal = r * sin(theta)
        return r * cos(theta)
    }

    // MARK: uniform

    /// `Tensor.uniform_(from, to)` on a float32 tensor: `from` and `to` are rounded to float, then each
    /// element is v = fma(u, to - from, from) with u = `uniformFloat()`, one 32-bit draw per element,
    /// and a v that rounded up to `to` is replaced by `from` (torch's clamp, keeping [from, to)).
    /// Throws unless from and to are finite floats with from <= to.
    public mutating func fillUniform(_ out: UnsafeMutableBufferPointer<Float>, from: Double = 0, to: Double = 1)
        throws(RandomError)
    {
        guard !out.isEmpty else { return }
        let limit = Double(Float.greatestFiniteMagnitude)
        guard from.isFinite, to.isFinite, abs(from) <= limit, abs(to) <= limit else {
            throw .invalidArgument("uniform_: from=\(from) and to=\(to) must be finite float32 values")
        }
        guard from <= to else {
            throw .invalidArgument("uniform_ expects a [from, to) range, but from=\(from) > to=\(to)")
        }
        guard to - from <= limit else {
            throw .invalidArgument("uniform_: to - from = \(to - from) exceeds the float32 range")
        }
        let lo = Float(from), hi = Float(to)
        let width = hi - lo
        for i in out.indices {
            let v = lo.addingProduct(uniformFloat(), width)
            out[i] = v == hi ? lo : v
        }
    }

    // MARK: normal

    /// `Tensor.normal_(mean, std)` on a contiguous float32 tensor (so `randn` for mean 0, std 1).
    ///
    /// - n >= 16: fill all n with `uniformFloat()` draws, turn each 16-element chunk into normals with
    ///   the float32 Box-Muller of `boxMuller16`, and if n % 16 != 0 draw 16 fresh uniforms into the
    ///   last 16 elements and transform them again (so the tail overwrites part of the last full chunk).
    ///   Draws n (+ 16) 32-bit values; never touches the cached normal.
    /// - n < 16: each element is Float(fma(z, std, mean)) for z = `standardNormalDouble()`, which uses and
    ///   refills the cached double normal: an odd count leaves one cached for the next small fill.
    ///
    /// Throws unless std >= 0.
    public mutating func fillNormal(_ out: UnsafeMutableBufferPointer<Float>, mean: Double = 0, std: Double = 1)
        throws(RandomError)
    {
        guard !out.isEmpty else { return }
        guard std >= 0 else {
            throw .invalidArgument("normal_ expects std >= 0.0, but got std=\(std)")
        }
        let n = out.count
        guard n >= 16, let base = out.baseAddress else {
            for i in out.indices {
                out[i] = Float(mean.addingProduct(standardNormalDouble(), std))
            }
            return
        }
        for i in 0..<n { base[i] = uniformFloat() }
        let meanF = Float(mean), stdF = Float(std)
        var i = 0
        while i + 16 <= n {
            boxMuller16(base + i, mean: meanF, std: stdF)
            i += 16
        }
        if n % 16 != 0 {
            let tail = base + (n - 16)
            for k in 0..<16 { tail[k] = uniformFloat() }
            boxMuller16(tail, mean: meanF, std: stdF)
        }
    }

    // MARK: integers

    /// `Tensor.random_(low, high)` on an int64 tensor (what `torch.randint(low, high, size)` does):
    /// range = UInt64(high - low) (two's complement); each element draws `random64()` if
    /// range >= 2^28, else `random()`, and is low + (draw % range), wrapping.
    ///
    /// The 2^28 threshold is that of torch's non-fbcode builds since 2.x ("allow approx 5% skew");
    /// older releases and fbcode switch to 64-bit draws only at 2^32. Throws unless low < high.
    public mutating func fillRandInt(_ out: UnsafeMutableBufferPointer<Int64>, low: Int64, high: Int64)
        throws(RandomError)
    {
        guard !out.isEmpty else { return }
        guard low < high else {
            throw .invalidArgument("randint expects low < high, but got low=\(low) >= high=\(high)")
        }
        let range = UInt64(bitPattern: high) &- UInt64(bitPattern: low)
        let base = UInt64(bitPattern: low)
        if range >= 1 << 28 {
            for i in out.indices { out[i] = Int64(bitPattern: random64() % range &+ base) }
        } else {
            for i in out.indices { out[i] = Int64(bitPattern: UInt64(random()) % range &+ base) }
        }
    }

    // MARK: bernoulli / dropout

    /// `Tensor.bernoulli_(p)` on a float32 tensor through torch's generator: each element is 1 if
    /// `uniformDouble()` < p else 0 (two 32-bit draws per element). Throws unless 0 <= p <= 1.
    ///
    /// Torch matches this on its x86-64 2.x wheels as measured here (torch 2.15: `bernoulli_(p)`,
    /// `F.dropout` and `nn.RNN(dropout=)` masks reproduced bit for bit). Builds where
    /// `bernoulli_scalar_kernel` goes through MKL's VSL stream (some older MKL-enabled releases) draw
    /// from a separate MKL generator that swiftrnn does not model: masks then differ from torch's.
    public mutating func fillBernoulli(_ out: UnsafeMutableBufferPointer<Float>, p: Double) throws(RandomError) {
        guard !out.isEmpty else { return }
        guard p >= 0, p <= 1 else {
            throw .invalidArgument("bernoulli_ expects p in [0, 1], but got p=\(p)")
        }
        for i in out.indices { out[i] = uniformDouble() < p ? 1 : 0 }
    }

    /// The mask `F.dropout(x, p, training=True)` multiplies `x` by, already scaled: bernoulli(1 - p)
    /// divided by Float(1 - p), i.e. 0 or 1/(1-p). As torch: p == 0 gives all ones and p == 1 all zeros,
    /// both without drawing. Throws unless 0 <= p <= 1.
    public mutating func fillDropoutMask(_ out: UnsafeMutableBufferPointer<Float>, p: Double) throws(RandomError) {
        guard !out.isEmpty else { return }
        guard p >= 0, p <= 1 else {
            throw .invalidArgument("dropout probability has to be between 0 and 1, but got p=\(p)")
        }
        if p == 0 || p == 1 {
            out.update(repeating: p == 0 ? 1 : 0)
            return
        }
        let keep = 1 - p
        let scale = 1 / Float(keep)
        for i in out.indices { out[i] = uniformDouble() < keep ? scale : 0 }
    }
}
