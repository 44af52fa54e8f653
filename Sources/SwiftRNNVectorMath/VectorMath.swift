// Lane-wise math shared by every kernel module: one definition, specialised by each module for its
// own vector width and instruction set (SwiftRNN: SIMD8 with AVX2; SwiftRNNAVX512: SIMD16). Every
// lane goes through the same IEEE operations in the same order, so an element's result is the same
// bits whatever the vector width (tested: AVX512Tests, KernelTests).

/// A vector of Float lanes whose comparisons compile to vector compares. The standard library's
/// comparisons in generic SIMD code run lane by lane with branches even after specialisation; the
/// concrete types' own operators (used below) are single instructions.
public protocol FloatLanes: SIMD where Scalar == Float, MaskStorage.Scalar == Int32 {
    /// self[i] < bound (false for NaN).
    func lanesBelow(_ bound: Float) -> SIMDMask<MaskStorage>
    /// self[i] <= bound (false for NaN).
    func lanesAtMost(_ bound: Float) -> SIMDMask<MaskStorage>
    /// self[i] >= bound (false for NaN).
    func lanesAtLeast(_ bound: Float) -> SIMDMask<MaskStorage>
    /// self[i] > bound (false for NaN).
    func lanesAbove(_ bound: Float) -> SIMDMask<MaskStorage>
    /// self[i] is NaN.
    func lanesNaN() -> SIMDMask<MaskStorage>
}

extension SIMD8: FloatLanes where Scalar == Float {
    @inlinable @inline(__always)
    public func lanesBelow(_ bound: Float) -> SIMDMask<SIMD8<Int32>> { self .< SIMD8<Float>(repeating: bound) }
    @inlinable @inline(__always)
    public func lanesAtMost(_ bound: Float) -> SIMDMask<SIMD8<Int32>> { self .<= SIMD8<Float>(repeating: bound) }
    @inlinable @inline(__always)
    public func lanesAtLeast(_ bound: Float) -> SIMDMask<SIMD8<Int32>> { self .>= SIMD8<Float>(repeating: bound) }
    @inlinable @inline(__always)
    public func lanesAbove(_ bound: Float) -> SIMDMask<SIMD8<Int32>> { self .> SIMD8<Float>(repeating: bound) }
    @inlinable @inline(__always)
    public func lanesNaN() -> SIMDMask<SIMD8<Int32>> { self .!= self }
}

extension SIMD16: FloatLanes where Scalar == Float {
    @inlinable @inline(__always)
    public func lanesBelow(_ bound: Float) -> SIMDMask<SIMD16<Int32>> { self .< SIMD16<Float>(repeating: bound) }
    @inlinable @inline(__always)
    public func lanesAtMost(_ bound: Float) -> SIMDMask<SIMD16<Int32>> { self .<= SIMD16<Float>(repeating: bound) }
    @inlinable @inline(__always)
    public func lanesAtLeast(_ bound: Float) -> SIMDMask<SIMD16<Int32>> { self .>= SIMD16<Float>(repeating: bound) }
    @inlinable @inline(__always)
    public func lanesAbove(_ bound: Float) -> SIMDMask<SIMD16<Int32>> { self .> SIMD16<Float>(repeating: bound) }
    @inlinable @inline(__always)
    public func lanesNaN() -> SIMDMask<SIMD16<Int32>> { self .!= self }
}

/// max(x, 0) lane-wise: NaN stays NaN, -0 becomes +0, as torch's relu.
@inlinable @inline(__always)
public func reluLanes<V: FloatLanes>(_ x: V) -> V {
    x.replacing(with: 0, where: x.lanesAtMost(0))
}

/// tanh lane-wise: within 2 ulp of Glibc's `tanhf` over the whole float range (measured exhaustively
/// in SwiftRNN's KernelTests); ±0 keep their sign, ±Inf give ±1, NaN stays NaN.
///
/// With a = |x|:
/// - a < 0.625: tanh(a) = a + a³·q(a²), q a degree-4 minimax fit (relative error 4e-9);
/// - 0.625 <= a < 9.5: tanh(a) = t / (t + 2) with t = expm1(2a) = 2ⁿ·(1 + p(r)) - 1, r = 2a - n·ln2,
///   |r| <= ln2/2, p(r) = r + r²/2 + r³·Q(r) with Q a degree-3 fit (relative error 1.4e-8); the quotient t·(1/s), s = t + 2 rounded, gets one Newton correction that also
///   takes in the rounding error of t + 2 (Fast2Sum) and uses an exact FMA residual, so the result
///   is off by little more than t's own error;
/// - a >= 9.5 (and +Inf): 1, which is tanhf's value from a ≈ 9.011 on.
/// The sign of x is put back last (so tanh(-0) = -0); NaN stays NaN.
/// Transparent: with `@inline(__always)` the 16-lane LSTM/GRU cells still called it out of line.
@_transparent
public func tanhLanes<V: FloatLanes>(_ x: V) -> V {
    typealias F = V
    typealias Bits = V.MaskStorage
    let signMask = Bits(repeating: Int32.min)  // 0x8000_0000
    let bits = unsafeBitCast(x, to: Bits.self)
    let a = unsafeBitCast(bits & ~signMask, to: F.self)

    // Small branch.
    let z = a * a
    var q = F(repeating: -0.005704888608306646)
    q = F(repeating: 0.02063899114727974).addingProduct(q, z)
    q = F(repeating: -0.05373968183994293).addingProduct(q, z)
    q = F(repeating: 0.13331441581249237).addingProduct(q, z)
    q = F(repeating: -0.3333328068256378).addingProduct(q, z)
    let small = a.addingProduct(a * z, q)

    // Large branch: t = expm1(y), y = 2a clamped to keep 2ⁿ finite.
    let y = (a + a).replacing(with: 19, where: .!a.lanesBelow(9.5))                // NaN too: no NaN → Int
    // n = round(y / ln2) by the 1.5·2²³ trick: kf's low mantissa bits hold n as an integer.
    let magic = F(repeating: 12582912)
    let kf = magic.addingProduct(y, F(repeating: 1.4426950408889634))
    let n = kf - magic
    var r = y.addingProduct(n, F(repeating: -0.693145751953125))      // ln2's high bits: exact
    r = r.addingProduct(n, F(repeating: -1.4286068203094172e-06))      // ln2's low part
    var e = F(repeating: 0.0013899534242227674)
    e = F(repeating: 0.008366073481738567).addingProduct(e, r)
    e = F(repeating: 0.04166683927178383).addingProduct(e, r)
    e = F(repeating: 0.1666654795408249).addingProduct(e, r)
    let r2 = r * r
    let p = r.addingProduct(r2, F(repeating: 0.5).addingProduct(e, r))   // expm1(r)
    let kBits = unsafeBitCast(kf, to: Bits.self)
    let scale = unsafeBitCast((kBits &<< 23) &+ (127 << 23), to: F.self)                     // 2ⁿ
    let t = (scale - 1).addingProduct(scale, p)                         // 2ⁿ·p + (2ⁿ - 1)
    let s = t + 2
    let sErr = (t - s) + 2                                               // t + 2 - s, exact: t >= 2
    let inv = 1 / s
    let q0 = t * inv
    let residual = t.addingProduct(-q0, s)                               // t - q0·s, exact
    let large = q0.addingProduct(residual - q0 * sErr, inv)              // ≈ t / (t + 2)

    // NaN fails every comparison, so it takes the small branch, which propagates it.
    let result = large.replacing(with: small, where: .!a.lanesAtLeast(0.625))
    return unsafeBitCast(unsafeBitCast(result, to: Bits.self) | (bits & signMask), to: F.self)
}

/// exp lane-wise: n = round(x / ln 2), r = x − n·ln 2 (in two parts, exact high part), exp(r) by a
/// degree-6 polynomial (Cephes' expf coefficients), times 2ⁿ; within about 1 ulp of libm.
/// exp(−inf) = 0, arguments below about −87.3 flush to 0, above 88.7 give +inf, NaN stays NaN.
/// Only SIMD arithmetic and bit casts: no float-to-integer conversion calls.
/// Transparent: with `@inline(__always)` the optimizer still called the 16-lane specialisation out of
/// line from the cross-entropy loop, its argument and result split into four xmm registers.
@_transparent
public func expLanes<V: FloatLanes>(_ x: V) -> V {
    let tooSmall = x.lanesBelow(-87.33654), tooLarge = x.lanesAbove(88.72283), nan = x.lanesNaN()
    let xc = x.replacing(with: 0, where: tooSmall).replacing(with: 0, where: tooLarge).replacing(with: 0, where: nan)
    return expInRange(xc).replacing(with: 0, where: tooSmall).replacing(with: .infinity, where: tooLarge)
        .replacing(with: x, where: nan)
}

/// e^x without range checks, for x within [−88, 100] (the callers clamp or replace the rest): `expLanes`'s
/// reduction, polynomial and scaling, shared by `expLanes` and `sigmoidLanes`.
@_transparent
public func expInRange<V: FloatLanes>(_ xc: V) -> V {
    typealias F = V
    typealias Bits = V.MaskStorage
    // Adding 1.5·2²³ rounds to an integer (to nearest even) held in the low mantissa bits.
    let magic = F(repeating: 12582912)
    let shifted = xc * F(repeating: 1.4426950408889634) + magic
    let n = shifted - magic
    let ni = unsafeBitCast(shifted, to: Bits.self) &- Bits(repeating: 0x4B40_0000)
    var r = xc.addingProduct(n, F(repeating: -0.693359375))   // ln 2's high part: n·hi is exact
    r = r.addingProduct(n, F(repeating: 2.12194440e-4))       // and its low part
    var p = F(repeating: 1.9875691500e-4)
    p = F(repeating: 1.3981999507e-3).addingProduct(p, r)
    p = F(repeating: 8.3334519073e-3).addingProduct(p, r)
    p = F(repeating: 4.1665795894e-2).addingProduct(p, r)
    p = F(repeating: 1.6666665459e-1).addingProduct(p, r)
    p = F(repeating: 5.0000001201e-1).addingProduct(p, r)
    p = (r + F(repeating: 1)).addingProduct(p, r * r)
    // 2ⁿ in two factors, so n = 128 (x near the top of the range) does not overflow the exponent.
    let n1 = ni &>> 1, n2 = ni &- n1
    let s1 = unsafeBitCast((n1 &+ Bits(repeating: 127)) &<< 23, to: F.self)
    let s2 = unsafeBitCast((n2 &+ Bits(repeating: 127)) &<< 23, to: F.self)
    return (p * s1) * s2
}

/// e[c] = exp(x[c] − shift) for c in start..<n, eight at a time, added to `acc`: lane k adds e[c] for
/// c ≡ k (mod 8) in increasing c; the lanes past n of the last eight add exp(−inf) = +0. `start` must
/// be a multiple of 8. The cross-entropy's sums: a wider caller runs its own vectors up to a multiple
/// of their width, adding them to `acc` eight lanes at a time in order, then this for the rest, so the
/// sums are the same bits on every CPU.
@inlinable @inline(__always)
public func expShifted8(_ x: UnsafePointer<Float>, minus shift: Float, from start: Int, count n: Int,
                        into e: UnsafeMutablePointer<Float>, acc: SIMD8<Float>) -> SIMD8<Float> {
    var acc = acc
    var c = start
    let s = SIMD8<Float>(repeating: shift)
    let xr = UnsafeRawPointer(x), er = UnsafeMutableRawPointer(e)
    while c + 8 <= n {
        let v = expLanes(xr.loadUnaligned(fromByteOffset: c * 4, as: SIMD8<Float>.self) - s)
        er.storeBytes(of: v, toByteOffset: c * 4, as: SIMD8<Float>.self)
        acc += v
        c += 8
    }
    if c < n {
        var tail = SIMD8<Float>(repeating: -.infinity)
        for k in 0..<(n - c) { tail[k] = x[c + k] - shift }
        let v = expLanes(tail)
        for k in 0..<(n - c) { e[c + k] = v[k] }
        acc += v
    }
    return acc
}

/// `iterations` rounds of 12 independent FMA chains on vectors of V, registers only: the core's FMA
/// throughput, the ceiling every GEMM is measured against (12 chains cover the 4-cycle latency of two
/// FMA units). Returns a value of the chains so that nothing is optimised away; each chain runs
/// a ← a·b + c, which stays a normal number near 1.
@inlinable
public func fmaChains<V: FloatLanes>(_: V.Type, iterations: Int) -> Float {
    let b = V(repeating: 0.999_999), c = V(repeating: 1e-6)
    var a0 = V(repeating: 0.00), a1 = V(repeating: 0.01), a2 = V(repeating: 0.02), a3 = V(repeating: 0.03)
    var a4 = V(repeating: 0.04), a5 = V(repeating: 0.05), a6 = V(repeating: 0.06), a7 = V(repeating: 0.07)
    var a8 = V(repeating: 0.08), a9 = V(repeating: 0.09), a10 = V(repeating: 0.10), a11 = V(repeating: 0.11)
    for _ in 0..<iterations {
        a0 = c.addingProduct(a0, b); a1 = c.addingProduct(a1, b); a2 = c.addingProduct(a2, b)
        a3 = c.addingProduct(a3, b); a4 = c.addingProduct(a4, b); a5 = c.addingProduct(a5, b)
        a6 = c.addingProduct(a6, b); a7 = c.addingProduct(a7, b); a8 = c.addingProduct(a8, b)
        a9 = c.addingProduct(a9, b); a10 = c.addingProduct(a10, b); a11 = c.addingProduct(a11, b)
    }
    return (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11))).sum()
}

/// How many FMA chains `fmaChains` runs.
public let fmaChainCount = 12

/// σ(x) = 1 / (1 + e^−x) lane-wise, NaN stays NaN. e^−x as `expLanes` computes it (n = round(t / ln 2),
/// the same two-part reduction, polynomial and 2ⁿ in two factors), its range checks replaced by clamping
/// t = −x to [−88, 100]: from 88 on σ rounds to 1 anyway, and e^100 overflows to +inf, so σ = 0 below −88.7
/// as with the unclamped exponential. A third fewer operations than 1 / (1 + expLanes(−x)) for the
/// three sigmoids of every LSTM element. Transparent: with `@inline(__always)` the cell loops still
/// called it out of line.
@_transparent
public func sigmoidLanes<V: FloatLanes>(_ x: V) -> V {
    var t = -x
    t = t.replacing(with: -88, where: t.lanesBelow(-88))
    t = t.replacing(with: 100, where: t.lanesAbove(100))
    return 1 / (1 + expInRange(t))
}

/// The first `valid` (1...width) floats at p, the other lanes zero.
@inlinable @inline(__always)
public func loadLanes<V: FloatLanes>(_ p: UnsafePointer<Float>, _ valid: Int) -> V {
    if valid == V.scalarCount { return UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    var v = V()
    for t in 0..<valid { v[t] = p[t] }
    return v
}

/// Stores lanes 0..<valid (1...width) of v at p.
@inlinable @inline(__always)
public func storeLanes<V: FloatLanes>(_ v: V, _ p: UnsafeMutablePointer<Float>, _ valid: Int) {
    if valid == V.scalarCount {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    } else {
        for t in 0..<valid { p[t] = v[t] }
    }
}

/// The LSTM cell's pointwise step over `rows` rows, in vectors of V (every lane the same operations, so the
/// same bits at any width). Row r: the pre-activations i, f, g, o (H each) at gates + r·gateStride, its cell
/// state at c + r·H, replaced by c' = σ(f)·c + σ(i)·tanh(g); h' = σ(o)·tanh(c') goes to h + r·hStride.
/// `save` (training): the row's gates are replaced by their activations, and c' is also stored after them
/// (at gates + 4H), as backward reads them; otherwise only σ(o) is stored back, for the second pass.
/// Two passes per row (the gates and c', then h'): each has a chain of dependent operations about half as long
/// as one fused pass, and the two ran ~14 % faster (AVX2; ~5 % with 16 lanes).
@inlinable @inline(__always)
public func lstmCellRows<V: FloatLanes>(_: V.Type, rows: Int, H: Int, gates: UnsafeMutablePointer<Float>, gateStride: Int,
                                        c: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, hStride: Int,
                                        save: Bool) {
    // Nested functions, each called for the full vectors and then for the tail, so `valid == width` folds away
    // in each copy (as closures passed to a shared loop helper, both 16-lane passes stayed out-of-line calls).
    let w = V.scalarCount
    for r in 0..<rows {
        let row = gates + r * gateStride, cr = c + r * H, hr = h + r * hStride
        @inline(__always) func gatesAndC(_ j: Int, _ v: Int) {
            let i: V = sigmoidLanes(loadLanes(row + j, v)), f: V = sigmoidLanes(loadLanes(row + H + j, v))
            let g: V = tanhLanes(loadLanes(row + 2 * H + j, v)), o: V = sigmoidLanes(loadLanes(row + 3 * H + j, v))
            let cNew = (f * loadLanes(cr + j, v)).addingProduct(i, g)
            if save {
                storeLanes(i, row + j, v)
                storeLanes(f, row + H + j, v)
                storeLanes(g, row + 2 * H + j, v)
                storeLanes(cNew, row + 4 * H + j, v)
            }
            storeLanes(o, row + 3 * H + j, v)
            storeLanes(cNew, cr + j, v)
        }
        @inline(__always) func hidden(_ j: Int, _ v: Int) {
            let o: V = loadLanes(row + 3 * H + j, v)
            storeLanes(o * tanhLanes(loadLanes(cr + j, v) as V), hr + j, v)
        }
        var j = 0
        while j + w <= H { gatesAndC(j, w); j += w }
        if j < H { gatesAndC(j, H - j) }
        j = 0
        while j + w <= H { hidden(j, w); j += w }
        if j < H { hidden(j, H - j) }
    }
}

/// The GRU cell's pointwise step over `rows` rows, in vectors of V. Row r: the input projections xr, xz, xn
/// (H each) at gates + r·gateStride, the step products hr, hz, hn (h·W_hhᵀ + b_hh) at products + r·productStride,
/// h at hPrev + r·hPrevStride; r = σ(xr + hr), z = σ(xz + hz), n = tanh(xn + r·hn), h' = (1 − z)·n + z·h
/// (as n + z·(h − n)) goes to h + r·hStride. r and z replace xr and xz (for the second pass); `save`
/// (training): n and hn are also stored after them, as backward reads them. Two passes per row, as the LSTM's.
@inlinable @inline(__always)
public func gruCellRows<V: FloatLanes>(_: V.Type, rows: Int, H: Int, gates: UnsafeMutablePointer<Float>, gateStride: Int,
                                       products: UnsafePointer<Float>, productStride: Int,
                                       hPrev: UnsafePointer<Float>, hPrevStride: Int,
                                       h: UnsafeMutablePointer<Float>, hStride: Int, save: Bool) {
    let w = V.scalarCount
    for q in 0..<rows {
        let row = gates + q * gateStride, pr = products + q * productStride
        let hp = hPrev + q * hPrevStride, hq = h + q * hStride
        @inline(__always) func resetAndUpdate(_ j: Int, _ v: Int) {
            let r: V = sigmoidLanes(loadLanes(row + j, v) + loadLanes(pr + j, v))
            let z: V = sigmoidLanes(loadLanes(row + H + j, v) + loadLanes(pr + H + j, v))
            storeLanes(r, row + j, v)
            storeLanes(z, row + H + j, v)
        }
        @inline(__always) func hidden(_ j: Int, _ v: Int) {
            let r: V = loadLanes(row + j, v), z: V = loadLanes(row + H + j, v)
            let hn: V = loadLanes(pr + 2 * H + j, v)
            let n = tanhLanes((loadLanes(row + 2 * H + j, v) as V).addingProduct(r, hn))
            if save {
                storeLanes(n, row + 2 * H + j, v)
                storeLanes(hn, row + 3 * H + j, v)
            }
            let hPrevLanes: V = loadLanes(hp + j, v)
            storeLanes(n.addingProduct(z, hPrevLanes - n), hq + j, v)
        }
        var j = 0
        while j + w <= H { resetAndUpdate(j, w); j += w }
        if j < H { resetAndUpdate(j, H - j) }
        j = 0
        while j + w <= H { hidden(j, w); j += w }
        if j < H { hidden(j, H - j) }
    }
}
