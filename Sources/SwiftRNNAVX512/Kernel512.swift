// AVX-512 micro-kernels for SwiftRNN's GEMM, and the cross-entropy's exponentials (compiled with
// -mavx512f/vl/bw/dq; see Package.swift).
//
// Only called after a runtime check that the CPU has AVX-512 (SwiftRNN's `gemmUsesAVX512`): nothing
// in this module may run on other CPUs. The kernels work on the packed formats of GEMM.swift (op(B)
// in 16-column panels, op(A) packed in 6-row micro-panels or strided) and compute exactly the same
// chains: each C[i][j] is one FMA chain over k in increasing order, started from C[i][j] (`load`)
// or +0, in a lane of its own — so results are bit-identical to the AVX2 kernels. No epilogue here:
// the caller applies the activation to the stored tile (an elementwise function, so the same bits).

import SwiftRNNVectorMath

public typealias F16 = SIMD16<Float>

/// The start of one accumulator's 16 chains (columns of C at `c`, `valid` of them, 0...16): C plus the
/// bias (one rounded add) when `load`, C alone, the bias alone, or +0; lanes past `valid` are +0 and
/// nothing past them is read.
@inline(__always)
func chainStart(_ c: UnsafeMutablePointer<Float>, _ valid: Int, _ load: Bool, _ bias: F16?) -> F16 {
    if !load { return bias ?? F16() }
    let cv = load16(UnsafePointer(c), valid)
    return bias.map { cv + $0 } ?? cv
}

/// Stores the first `valid` (0...16) lanes of an accumulator to C at `c`.
@inline(__always)
func chainStore(_ v: F16, _ c: UnsafeMutablePointer<Float>, _ valid: Int) {
    if valid == 16 {
        UnsafeMutableRawPointer(c).storeBytes(of: v, as: F16.self)
    } else {
        storePartial16(v, c, valid)
    }
}

/// The first `valid` (0...16) floats at p, the other lanes zero. Out of line, as `storePartial16`: the
/// last column panel's path, kept out of the generated tiles so that they stay small enough for the
/// optimizer to inline their full-vector loads.
@inline(never)
func loadPartial16(_ p: UnsafePointer<Float>, _ valid: Int) -> F16 {
    var v = F16()
    for t in 0..<valid { v[t] = p[t] }
    return v
}

/// Stores lanes 0..<valid (0...16) of v at p.
@inline(never)
func storePartial16(_ v: F16, _ p: UnsafeMutablePointer<Float>, _ valid: Int) {
    for t in 0..<valid { p[t] = v[t] }
}

/// The first `valid` (0...16) floats at p, the other lanes zero.
@inline(__always)
func load16(_ p: UnsafePointer<Float>, _ valid: Int) -> F16 {
    valid == 16 ? UnsafeRawPointer(p).loadUnaligned(as: F16.self) : loadPartial16(p, valid)
}

/// The signature of the generated tile functions (Generated/GEMMTilesAVX512.swift): `kc`, `a0`, `a1`, `rsA`,
/// `csA`, `b`, `rsB`, `panelStride`, `c`, `ldc`, `cols`, `load`, `bias` as in `avx512Tile`. A tile of R
/// rows × P panels keeps R·P zmm accumulators (at most 24); per k step it loads the P vectors of op(B)
/// and broadcasts the R values of op(A).
typealias Tile512 = (Int, UnsafePointer<Float>, UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, Int, Int,
                     UnsafeMutablePointer<Float>, Int, Int, Bool, UnsafePointer<Float>?) -> Void

/// C rows 0..<rows (1...12) × columns of `panels` panels (a width from `avx512TileWidth`): rows 0..<6
/// of op(A) from a0, 6..<12 from a1 (row r at a0/a1 + (r mod 6)·rsA, k step csA); panel q of op(B)
/// at b + q·panelStride (k step rsB); `cols` (≤ 16·panels) columns of C loaded/stored; chains started
/// from C (`load`) plus `bias` (one rounded add, 16·panels floats) if given, else from `bias`, else +0.
public func avx512Tile(rows: Int, panels: Int, kc: Int, a0: UnsafePointer<Float>, a1: UnsafePointer<Float>,
                       rsA: Int, csA: Int, b: UnsafePointer<Float>, rsB: Int, panelStride: Int,
                       c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, load: Bool,
                       bias: UnsafePointer<Float>? = nil) {
    tile512Function(rows: rows, panels: panels)(kc, a0, a1, rsA, csA, b, rsB, panelStride, c, ldc, cols, load, bias)
}

/// The epilogue on a stored tile, 16 lanes at a time: `kind` 1 = tanh, 2 = relu (SwiftRNN's
/// `GEMMActivation`), anything else leaves C alone. The same lane-wise functions as the AVX2 path
/// (SwiftRNNVectorMath), so the same bits; a row's tail goes through a zero-padded vector.
public func avx512ActivateRows(kind: Int, c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int) {
    // One loop per function, each with the lane function inlined: a shared loop calling a closure
    // that picked the function made it an out-of-line call per vector, its argument and result
    // split into four xmm registers and a vzeroupper each time.
    switch kind {
    case 1: mapRows(c, ldc: ldc, rows: rows, cols: cols) { tanhLanes($0) }
    case 2: mapRows(c, ldc: ldc, rows: rows, cols: cols) { reluLanes($0) }
    default: return
    }
}

/// c[r·ldc + j] = f(c[r·ldc + j]) for r < rows, j < cols, 16 lanes at a time; a row's tail goes
/// through a zero-padded vector.
@inline(__always)
func mapRows(_ c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int, _ f: (F16) -> F16) {
    for r in 0..<rows {
        let row = c + r * ldc
        var j = 0
        while j + 16 <= cols {
            let v = f(UnsafeRawPointer(row + j).loadUnaligned(as: F16.self))
            UnsafeMutableRawPointer(row + j).storeBytes(of: v, as: F16.self)
            j += 16
        }
        if j < cols {
            storePartial16(f(load16(UnsafePointer(row + j), cols - j)), row + j, cols - j)
        }
    }
}

/// The cross-entropy's exponentials, e[c] = exp(x[c] − shift) for c < n, sixteen at a time; returns the
/// eight partial sums of `expShifted8`, added in the same order (each vector's low eight lanes, then its
/// high eight), so the same bits as the AVX2 path.
public func avx512ExpShifted(_ x: UnsafePointer<Float>, minus shift: Float, count n: Int,
                             into e: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    var acc = SIMD8<Float>()
    var c = 0
    let s = F16(repeating: shift)
    while c + 16 <= n {
        let v = expLanes(UnsafeRawPointer(x + c).loadUnaligned(as: F16.self) - s)
        UnsafeMutableRawPointer(e + c).storeBytes(of: v, as: F16.self)
        acc += v.lowHalf
        acc += v.highHalf
        c += 16
    }
    return expShifted8(x, minus: shift, from: c, count: n, into: e, acc: acc)
}

/// The largest of x[0..<n] (n ≥ 1), NaN if any is NaN: SwiftRNN's `rowMax` sixteen lanes at a time, two
/// vectors per step. A maximum is exact, so the value is the same in any order (of two zeros of either sign the
/// one kept may differ, which no softmax or cross-entropy output can show: the shifted zeros' exponentials are 1).
public func avx512RowMax(_ x: UnsafePointer<Float>, count n: Int) -> Float {
    var b0 = F16(repeating: -.infinity), b1 = b0
    var nan = SIMDMask<SIMD16<Int32>>(repeating: false)
    var c = 0
    let raw = UnsafeRawPointer(x)
    while c + 32 <= n {
        let v0 = raw.loadUnaligned(fromByteOffset: c * 4, as: F16.self)
        let v1 = raw.loadUnaligned(fromByteOffset: c * 4 + 64, as: F16.self)
        nan .|= (v0 .!= v0) .| (v1 .!= v1)
        b0.replace(with: v0, where: v0 .> b0)
        b1.replace(with: v1, where: v1 .> b1)
        c += 32
    }
    b0.replace(with: b1, where: b1 .> b0)
    var m = -Float.infinity
    for k in 0..<16 where b0[k] > m { m = b0[k] }
    while c < n {
        let v = x[c]
        if v.isNaN { return v }
        if v > m { m = v }
        c += 1
    }
    return any(nan) ? .nan : m
}

/// p[c] = p[c]·s for c < n, sixteen at a time (each product rounded once: the same bits in any width).
public func avx512Scale(_ p: UnsafeMutablePointer<Float>, count n: Int, by s: Float) {
    let v = F16(repeating: s)
    var c = 0
    let raw = UnsafeMutableRawPointer(p)
    while c + 16 <= n {
        raw.storeBytes(of: raw.loadUnaligned(fromByteOffset: c * 4, as: F16.self) * v, toByteOffset: c * 4, as: F16.self)
        c += 16
    }
    while c < n { p[c] *= s; c += 1 }
}

/// `fmaChains` on 16-lane vectors (see SwiftRNN's `fmaPeakGFLOPS`).
@inline(never)
public func avx512FMAChains(iterations: Int) -> Float { fmaChains(F16.self, iterations: iterations) }

/// `lstmCellRows` (SwiftRNNVectorMath) in 16-lane vectors: the same lane-wise operations as SwiftRNN's
/// 8-lane calls, so the same bits. On Zen 4 the LSTM's ran ~12 % faster than the 8-lane AVX2 build: half the
/// instructions per element, and 32 registers keep the functions' constants out of memory.
public func avx512LSTMCells(rows: Int, H: Int, gates: UnsafeMutablePointer<Float>, gateStride: Int,
                            c: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, hStride: Int, save: Bool) {
    lstmCellRows(F16.self, rows: rows, H: H, gates: gates, gateStride: gateStride, c: c, h: h, hStride: hStride,
                 save: save)
}

/// `gruCellRows` (SwiftRNNVectorMath) in 16-lane vectors, as `avx512LSTMCells`.
public func avx512GRUCells(rows: Int, H: Int, gates: UnsafeMutablePointer<Float>, gateStride: Int,
                           products: UnsafePointer<Float>, productStride: Int, hPrev: UnsafePointer<Float>,
                           hPrevStride: Int, h: UnsafeMutablePointer<Float>, hStride: Int, save: Bool) {
    gruCellRows(F16.self, rows: rows, H: H, gates: gates, gateStride: gateStride, products: products,
                productStride: productStride, hPrev: hPrev, hPrevStride: hPrevStride, h: h, hStride: hStride, save: save)
}
