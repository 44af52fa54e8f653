// The float32 Box-Muller step of torch's vectorised normal fill (`normal_fill_16_AVX2` in
// aten/src/ATen/native/cpu/DistributionTemplates.h), which is what torch runs for float tensors of
// >= 16 elements on AVX2 and AVX-512 CPUs. Its log, sin and cos are not libm's: they are the Cephes
// polynomials of avx_mathfun.h (Pommier / Garberoglio), evaluated lane by lane here.
//
// Bit-exactness depends on where the compiler of torch's binary fused a multiply and an add into one
// FMA (GCC contracts the `_mm256_add_ps(_mm256_mul_ps(..))` pairs under -mfma). The pattern below
// is the one that reproduces torch 2.15's x86-64 wheel bit for bit (1.3M samples, see RandomTests):
// every Horner step `y * x + c` is fused; in log, `y * z + e * q1` is fma(y, z, e * q1); in cos,
// `y * z - 0.5 * z` is fma(y, z, -(0.5 * z)); the argument reduction `x - j * DP` is fused. Swift never
// contracts on its own, so each fusion is spelled out with `addingProduct`.
//
// On an x86-64 CPU without AVX2, torch itself takes a different path (libm float log/sin/cos) and
// its numbers differ from these in the last bits.

@inline(__always)
private func fma(_ a: Float, _ b: Float, _ c: Float) -> Float { c.addingProduct(a, b) }

/// `log256_ps` for one lane: natural log of `x`, NaN for `x <= 0`.
@inline(__always)
func cephesLog(_ input: Float) -> Float {
    var x = max(input, Float(bitPattern: 0x0080_0000))  // flush denormals to the smallest normal
    let biasedExponent = Int32(bitPattern: x.bitPattern >> 23)
    x = Float(bitPattern: (x.bitPattern & ~UInt32(0x7f80_0000)) | Float(0.5).bitPattern)  // mantissa in [0.5, 1)
    var e = Float(biasedExponent - 0x7f) + 1
    let small = x < Float(0.707106781186547524)
    let tmp: Float = small ? x : 0
    x = x - 1
    e = e - (small ? 1 : 0)
    x = x + tmp

    let z = x * x
    var y: Float = 7.0376836292E-2
    y = fma(y, x, -1.1514610310E-1)
    y = fma(y, x, 1.1676998740E-1)
    y = fma(y, x, -1.2420140846E-1)
    y = fma(y, x, 1.4249322787E-1)
    y = fma(y, x, -1.6668057665E-1)
    y = fma(y, x, 2.0000714765E-1)
    y = fma(y, x, -2.4999993993E-1)
    y = fma(y, x, 3.3333331174E-1)
    y = y * x
    y = fma(y, z, e * -2.12194440e-4)
    y = y - z * 0.5
    x = x + y
    x = x + e * 0.693359375  // exact product: fused or not gives the same
    return input <= 0 ? .nan : x
}

/// `sincos256_ps` for one lane: (sin x, cos x).
@inline(__always)
func cephesSinCos(_ input: Float) -> (sin: Float, cos: Float) {
    var x = abs(input)
    let signSin = input.bitPattern & 0x8000_0000

    var j = Int32(x * Float(1.27323954473516))  // 4/pi; truncation as cvttps
    j = (j &+ 1) & ~1
    let y = Float(j)
    let swapSignSin = UInt32(bitPattern: j & 4) << 29
    let usesSinPolynomial = (j & 2) == 0  // poly_mask: lanes where sin takes the sine polynomial

    // Extended-precision reduction x - y * pi/4 in three parts.
    x = fma(y, -0.78515625, x)
    x = fma(y, -2.4187564849853515625e-4, x)
    x = fma(y, -3.77489497744594108e-8, x)

    let signCos = UInt32(bitPattern: ~(j &- 2) & 4) << 29
    let z = x * x

    var cosPoly: Float = 2.443315711809948E-005
    cosPoly = fma(cosPoly, z, -1.388731625493765E-003)
    cosPoly = fma(cosPoly, z, 4.166664568298827E-002)
    cosPoly = cosPoly * z
    cosPoly = fma(cosPoly, z, -(z * 0.5))
    cosPoly = cosPoly + 1

    var sinPoly: Float = -1.9515295891E-4
    sinPoly = fma(sinPoly, z, 8.3321608736E-3)
    sinPoly = fma(sinPoly, z, -1.6666654611E-1)
    sinPoly = sinPoly * z
    sinPoly = fma(sinPoly, x, x)

    // Same selection arithmetic as the intrinsics (adds and subtracts of +0 included).
    let sinFromSin: Float = usesSinPolynomial ? sinPoly : 0
    let sinFromCos: Float = usesSinPolynomial ? 0 : cosPoly
    let cosFromSin = sinPoly - sinFromSin
    let cosFromCos = cosPoly - sinFromCos
    let s = sinFromCos + sinFromSin
    let c = cosFromCos + cosFromSin
    return (Float(bitPattern: s.bitPattern ^ (signSin ^ swapSignSin)),
            Float(bitPattern: c.bitPattern ^ signCos))
}

/// One 16-element Box-Muller step in place: `d[0..<16]` holds uniforms in [0, 1) on entry and normals
/// on exit. For j < 8: u1 = 1 - d[j], u2 = d[j+8], r = sqrt(-2 log u1), t = 2 pi u2,
/// d[j] = fma(r cos t, std, mean), d[j+8] = fma(r sin t, std, mean).
@inline(__always)
func boxMuller16(_ d: UnsafeMutablePointer<Float>, mean: Float, std: Float) {
    let twoPi = Float(2 * Double.pi)
    for j in 0..<8 {
        let u1 = 1 - d[j]
        let u2 = d[j + 8]
        let radius = (-2 * cephesLog(u1)).squareRoot()
        let (s, c) = cephesSinCos(twoPi * u2)
        d[j] = fma(radius * c, std, mean)
        d[j + 8] = fma(radius * s, std, mean)
    }
}
