// Elementwise activations over float buffers, eight lanes at a time.
//
// Every element goes through the same SIMD8 code, the tail included (it is copied into a padded
// vector), so an element's result never depends on its position in the buffer or on the count.

/// In place: x[i] = tanh(x[i]) over `n` elements.
///
/// Within 2 ulp of Glibc's `tanhf` over the whole float range (measured exhaustively: see
/// KernelTests); ±0 keep their sign, ±Inf give ±1, NaN stays NaN. `n == 0` does nothing.
public func tanhInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    var i = 0
    while i + 16 <= n {
        // Two independent vectors per iteration give the scheduler more to overlap.
        let u = tanh8(loadF8(x + i)), v = tanh8(loadF8(x + i + 8))
        storeF8(u, x + i)
        storeF8(v, x + i + 8)
        i += 16
    }
    while i + 8 <= n {
        storeF8(tanh8(loadF8(x + i)), x + i)
        i += 8
    }
    if i < n {
        let rest = n - i
        storePartialF8(tanh8(loadPartialF8(x + i, rest)), x + i, rest)
    }
}

/// In place: x[i] = max(x[i], 0) over `n` elements; NaN stays NaN and -0 becomes +0, as torch's relu.
public func reluInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    var i = 0
    while i + 8 <= n {
        storeF8(relu8(loadF8(x + i)), x + i)
        i += 8
    }
    while i < n {
        if x[i] <= 0 { x[i] = 0 }
        i += 1
    }
}

/// max(x, 0) lane-wise: NaN stays NaN, -0 becomes +0.
@inline(__always)
func relu8(_ x: SIMD8<Float>) -> SIMD8<Float> { x.replacing(with: 0, where: x .<= 0) }

/// tanh of eight floats (see `tanhInPlace` for the accuracy).
///
/// With a = |x|:
/// - a < 0.625: tanh(a) = a + a³·q(a²), q a degree-4 minimax fit (relative error 4e-9);
/// - 0.625 <= a < 9.5: tanh(a) = t / (t + 2) with t = expm1(2a) = 2ⁿ·(1 + p(r)) - 1, r = 2a - n·ln2,
///   |r| <= ln2/2, p(r) = r + r²/2 + r³·Q(r) with Q a degree-3 fit (relative error 1.4e-8); the quotient t·(1/s), s = t + 2 rounded, gets one Newton correction that also
///   takes in the rounding error of t + 2 (Fast2Sum) and uses an exact FMA residual, so the result
///   is off by little more than t's own error;
/// - a >= 9.5 (and +Inf): 1, which is tanhf's value from a ≈ 9.011 on.
/// The sign of x is put back last (so tanh(-0) = -0); NaN stays NaN.
@inline(__always)
func tanh8(_ x: SIMD8<Float>) -> SIMD8<Float> {
    typealias F = SIMD8<Float>
    let signMask = SIMD8<UInt32>(repeating: 0x8000_0000)
    let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
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
    let y = (a + a).replacing(with: 19, where: .!(a .< 9.5))                // NaN too: no NaN → Int
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
    let kBits = unsafeBitCast(kf, to: SIMD8<UInt32>.self)
    let scale = unsafeBitCast((kBits &<< 23) &+ (127 << 23), to: F.self)                     // 2ⁿ
    let t = (scale - 1).addingProduct(scale, p)                         // 2ⁿ·p + (2ⁿ - 1)
    let s = t + 2
    let sErr = (t - s) + 2                                               // t + 2 - s, exact: t >= 2
    let inv = 1 / s
    let q0 = t * inv
    let residual = t.addingProduct(-q0, s)                               // t - q0·s, exact
    let large = q0.addingProduct(residual - q0 * sErr, inv)              // ≈ t / (t + 2)

    // NaN fails every comparison, so it takes the small branch, which propagates it.
    let result = large.replacing(with: small, where: .!(a .>= 0.625))
    return unsafeBitCast(unsafeBitCast(result, to: SIMD8<UInt32>.self) | (bits & signMask), to: F.self)
}

typealias F8 = SIMD8<Float>

@inline(__always)
func loadF8(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }

@inline(__always)
func loadF8(_ p: UnsafeMutablePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }

@inline(__always)
func storeF8(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
}

/// The first `count` (< 8) lanes from memory, the others zero.
@inline(__always)
func loadPartialF8(_ p: UnsafePointer<Float>, _ count: Int) -> F8 {
    var v = F8()
    for t in 0..<count { v[t] = p[t] }
    return v
}

@inline(__always)
func loadPartialF8(_ p: UnsafeMutablePointer<Float>, _ count: Int) -> F8 {
    loadPartialF8(UnsafePointer(p), count)
}

/// Stores the first `count` (< 8) lanes.
@inline(__always)
func storePartialF8(_ v: F8, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    for t in 0..<count { p[t] = v[t] }
}
