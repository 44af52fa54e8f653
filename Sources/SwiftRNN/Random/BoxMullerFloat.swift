// The float32 Box-Muller step of torch's vectorised normal fill (`normal_fill_16_AVX2` in
// aten/src/ATen/native/cpu/DistributionTemplates.h), which is what torch runs for float tensors of
// >= 16 elements on AVX2 and AVX-512 CPUs. Its log, sin and cos are not libm's: they are the Cephes
// polynomials of avx_mathfun.h (Pommier / Garberoglio), evaluated here on SIMD8<Float> with the same
// operations in the same order (8 lanes, as the AVX2 kernel).
//
// Bit-exactness depends on where the compiler of torch's binary fused a multiply and an add into one
// FMA (GCC contracts the `_mm256_add_ps(_mm256_mul_ps(..))` pairs under -mfma). The pattern below
// is the one that reproduces torch 2.15's x86-64 wheel bit for bit (1.3M samples when it was derived;
// RandomTests and python/tests/test_random*.py keep checking it):
// every Horner step `y * x + c` is fused; in log, `y * z + e * q1` is fma(y, z, e * q1); in cos,
// `y * z - 0.5 * z` is fma(y, z, -(0.5 * z)); the argument reduction `x - j * DP` is fused. Swift never
// contracts on its own, so each fusion is spelled out with `addingProduct`.
//
// On an x86-64 CPU without AVX2, torch itself takes a different path (libm float log/sin/cos) and
// its numbers differ from these in the last bits.

typealias Float8 = SIMD8<Float>
typealias Int8x32 = SIMD8<Int32>

// Swift's SIMD comparisons, masks, `replacing(with:where:)` and float/int conversions go lane by lane;
// plain arithmetic and bitwise operators vectorise. So masks are built from integer arithmetic on
// bit patterns (all-ones or zero per lane) and conversions use the 1.5 * 2^23 trick, exact for the
// small integers seen here.

@inline(__always)
private func fma(_ a: Float8, _ b: Float8, _ c: Float8) -> Float8 { c.addingProduct(a, b) }

@inline(__always)
private func bits(_ x: Float8) -> Int8x32 { unsafeBitCast(x, to: Int8x32.self) }

@inline(__always)
private func float8(_ x: Int8x32) -> Float8 { unsafeBitCast(x, to: Float8.self) }

private let magic: Float = 0x1.8p23  // 1.5 * 2^23: m + k holds the integer k in its low mantissa bits

/// Float(k) for |k| < 2^22.
@inline(__always)
private func toFloat(_ k: Int8x32) -> Float8 { float8(bits(Float8(repeating: magic)) &+ k) - magic }

/// All-ones lanes where a < b, for non-negative finite floats (their bit patterns order as integers).
@inline(__always)
private func lessMask(_ a: Float8, _ b: Float8) -> Int8x32 { (bits(a) &- bits(b)) &>> 31 }

/// `log256_ps` on lanes in [2^-126, 1] (normal, <= 1: the kernel's u1 is in [2^-24, 1]). The intrinsic's
/// flush of denormals and NaN for x <= 0 cannot trigger there and are left out.
@inline(__always)
func cephesLog(_ input: Float8) -> Float8 {
    let one = Float8(repeating: 1)
    let biasedExponent = bits(input) &>> 23  // sign bit is 0
    var x = float8((bits(input) & ~0x7f80_0000) | bits(Float8(repeating: 0.5)))  // mantissa in [0.5, 1)
    var e = toFloat(biasedExponent &- 0x7f) + 1
    let small = lessMask(x, Float8(repeating: Float(0.707106781186547524)))
    let tmp = float8(bits(x) & small)
    x = x - 1
    e = e - float8(bits(one) & small)
    x = x + tmp

    let z = x * x
    var y = Float8(repeating: 7.0376836292E-2)
    y = fma(y, x, Float8(repeating: -1.1514610310E-1))
    y = fma(y, x, Float8(repeating: 1.1676998740E-1))
    y = fma(y, x, Float8(repeating: -1.2420140846E-1))
    y = fma(y, x, Float8(repeating: 1.4249322787E-1))
    y = fma(y, x, Float8(repeating: -1.6668057665E-1))
    y = fma(y, x, Float8(repeating: 2.0000714765E-1))
    y = fma(y, x, Float8(repeating: -2.4999993993E-1))
    y = fma(y, x, Float8(repeating: 3.3333331174E-1))
    y = y * x
    y = fma(y, z, e * -2.12194440e-4)
    y = y - z * 0.5
    x = x + y
    return x + e * 0.693359375  // exact product: fused or not gives the same
}

/// `sincos256_ps`: (sin x, cos x) on lanes in [0, 2^21) (the kernel's 2 pi u2 is in [0, 2 pi)).
@inline(__always)
func cephesSinCos(_ input: Float8) -> (sin: Float8, cos: Float8) {
    var x = input  // |x| == x here; the sign of the sine is then only the quadrant's

    // j = trunc(x * 4/pi) as cvttps: round to nearest through the magic number, minus 1 where that
    // rounded up.
    let scaled = x * Float(1.27323954473516)
    let nearest = scaled + magic
    let roundedUp = lessMask(scaled, nearest - magic)
    var j = (bits(nearest) &- bits(Float8(repeating: magic))) &+ roundedUp
    j = (j &+ 1) & ~1
    let y = toFloat(j)
    let signSin = (j & 4) &<< 29
    let usesSinPolynomial = ((j & 2) &>> 1) &- 1  // poly_mask: all-ones where j & 2 == 0

    // Extended-precision reduction x - y * pi/4 in three parts.
    x = fma(y, Float8(repeating: -0.78515625), x)
    x = fma(y, Float8(repeating: -2.4187564849853515625e-4), x)
    x = fma(y, Float8(repeating: -3.77489497744594108e-8), x)

    let signCos = (~(j &- 2) & 4) &<< 29
    let z = x * x

    var cosPoly = Float8(repeating: 2.443315711809948E-005)
    cosPoly = fma(cosPoly, z, Float8(repeating: -1.388731625493765E-003))
    cosPoly = fma(cosPoly, z, Float8(repeating: 4.166664568298827E-002))
    cosPoly = cosPoly * z
    cosPoly = fma(cosPoly, z, -(z * 0.5))
    cosPoly = cosPoly + 1

    var sinPoly = Float8(repeating: -1.9515295891E-4)
    sinPoly = fma(sinPoly, z, Float8(repeating: 8.3321608736E-3))
    sinPoly = fma(sinPoly, z, Float8(repeating: -1.6666654611E-1))
    sinPoly = sinPoly * z
    sinPoly = fma(sinPoly, x, x)

    // Same selection arithmetic as the intrinsics (adds and subtracts of +0 included).
    let sinFromSin = float8(bits(sinPoly) & usesSinPolynomial)
    let sinFromCos = float8(bits(cosPoly) & ~usesSinPolynomial)
    let cosFromSin = sinPoly - sinFromSin
    let cosFromCos = cosPoly - sinFromCos
    let s = sinFromCos + sinFromSin
    let c = cosFromCos + cosFromSin
    return (float8(bits(s) ^ signSin), float8(bits(c) ^ signCos))
}

/// One 16-element Box-Muller step in place: `d[0..<16]` holds uniforms in [0, 1) on entry and normals
/// on exit. For j < 8: u1 = 1 - d[j], u2 = d[j+8], r = sqrt(-2 log u1), t = 2 pi u2,
/// d[j] = fma(r cos t, std, mean), d[j+8] = fma(r sin t, std, mean).
@inline(__always)
func boxMuller16(_ d: UnsafeMutablePointer<Float>, mean: Float, std: Float) {
    let raw = UnsafeMutableRawPointer(d)
    let u1 = 1 - raw.loadUnaligned(as: Float8.self)
    let u2 = raw.loadUnaligned(fromByteOffset: 32, as: Float8.self)
    let radius = (-2 * cephesLog(u1)).squareRoot()
    let (s, c) = cephesSinCos(Float(2 * Double.pi) * u2)
    let meanV = Float8(repeating: mean), stdV = Float8(repeating: std)
    raw.storeBytes(of: fma(radius * c, stdV, meanV), as: Float8.self)
    raw.storeBytes(of: fma(radius * s, stdV, meanV), toByteOffset: 32, as: Float8.self)
}
