// AVX-512 micro-kernels for SwiftRNN's GEMM (compiled with -mavx512f/vl/bw/dq; see Package.swift).
//
// Only called after a runtime check that the CPU has AVX-512 (SwiftRNN's `gemmUsesAVX512`): nothing
// in this module may run on other CPUs. The kernels work on the packed formats of GEMM.swift (op(B)
// in 16-column panels, op(A) packed in 6-row micro-panels or strided) and compute exactly the same
// chains: each C[i][j] is one FMA chain over k in increasing order, started from C[i][j] (`load`)
// or +0, in a lane of its own — so results are bit-identical to the AVX2 kernels. No epilogue here:
// the caller applies the activation to the stored tile (an elementwise function, so the same bits).

import SwiftRNNVectorMath

public typealias F16 = SIMD16<Float>

/// A tile of R rows × P panels (16·P columns): R·P zmm accumulators (at most 24). The chains start
/// from C (`load`) plus `bias` (one rounded add, 16·P floats) if given, else from `bias`, else +0.
/// Rows 0..<min(R, 6) are read from `a0`, rows 6..<R from `a1` (row r at a0/a1 + (r mod 6)·rsA,
/// k step csA). op(B) panel q at b + q·panelStride, k step rsB. `cols` (≤ 16·P) columns of C are loaded/stored.
@inline(__always)
func tile512(_ R: Int, _ P: Int, kc: Int, a0: UnsafePointer<Float>, a1: UnsafePointer<Float>, rsA: Int, csA: Int,
             b: UnsafePointer<Float>, rsB: Int, panelStride: Int,
             c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, load: Bool, bias: UnsafePointer<Float>?) {
    var acc = InlineArray<24, F16>(repeating: F16())
    let full = cols == 16 * P
    if load || bias != nil {
        for q in 0..<P {
            let valid = full ? 16 : max(0, min(16, cols - q * 16))
            if valid == 0 { continue }
            let biasV = bias.map { load16($0 + q * 16, valid) }
            for r in 0..<R {
                if load {
                    let cv = load16(UnsafePointer(c + r * ldc + q * 16), valid)
                    acc[r * P + q] = biasV.map { cv + $0 } ?? cv
                } else if let biasV {
                    acc[r * P + q] = biasV
                }
            }
        }
    }
    var ap0 = a0
    var ap1 = a1
    var bp = b
    for _ in 0..<kc {
        // The P vectors of op(B) first, then the rows in two separate loops (a0's, a1's): written
        // this way LLVM unrolls everything and keeps all R·P accumulators in registers.
        var bv = InlineArray<8, F16>(repeating: F16())
        for q in 0..<P { bv[q] = UnsafeRawPointer(bp + q * panelStride).loadUnaligned(as: F16.self) }
        for r in 0..<min(R, 6) {
            let av = F16(repeating: ap0[r * rsA])
            for q in 0..<P { acc[r * P + q] = acc[r * P + q].addingProduct(av, bv[q]) }
        }
        if R > 6 {
            for r in 6..<R {
                let av = F16(repeating: ap1[(r - 6) * rsA])
                for q in 0..<P { acc[r * P + q] = acc[r * P + q].addingProduct(av, bv[q]) }
            }
        }
        ap0 += csA
        ap1 += csA
        bp += rsB
    }
    for r in 0..<R {
        for q in 0..<P {
            let cv = c + r * ldc + q * 16
            if full {
                UnsafeMutableRawPointer(cv).storeBytes(of: acc[r * P + q], as: F16.self)
            } else {
                let valid = min(16, cols - q * 16)
                if valid == 16 {
                    UnsafeMutableRawPointer(cv).storeBytes(of: acc[r * P + q], as: F16.self)
                } else if valid > 0 {
                    let v = acc[r * P + q]
                    for t in 0..<valid { cv[t] = v[t] }
                }
            }
        }
    }
}

/// The first `valid` (1...16) floats at p, the other lanes zero.
@inline(__always)
func load16(_ p: UnsafePointer<Float>, _ valid: Int) -> F16 {
    if valid == 16 { return UnsafeRawPointer(p).loadUnaligned(as: F16.self) }
    var v = F16()
    for t in 0..<valid { v[t] = p[t] }
    return v
}

/// The signature of the generated tile functions (Kernel512Tiles.swift).
typealias Tile512 = (Int, UnsafePointer<Float>, UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, Int, Int,
                     UnsafeMutablePointer<Float>, Int, Int, Bool, UnsafePointer<Float>?) -> Void

/// C rows 0..<rows (1...12) × columns of `panels` panels (a width from `avx512TileWidth`): rows 0..<6
/// of op(A) from a0, 6..<12 from a1 (row r at a0/a1 + (r mod 6)·rsA, k step csA); panel q of op(B)
/// at b + q·panelStride (k step rsB); `cols` (≤ 16·panels) columns of C loaded/stored; chains started
/// as `tile512` says.
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
    @inline(__always) func apply(_ v: F16) -> F16 { kind == 1 ? tanhLanes(v) : reluLanes(v) }
    guard kind == 1 || kind == 2 else { return }
    for r in 0..<rows {
        let row = c + r * ldc
        var j = 0
        while j + 16 <= cols {
            let v = apply(UnsafeRawPointer(row + j).loadUnaligned(as: F16.self))
            UnsafeMutableRawPointer(row + j).storeBytes(of: v, as: F16.self)
            j += 16
        }
        if j < cols {
            let v = apply(load16(UnsafePointer(row + j), cols - j))
            for t in 0..<(cols - j) { row[j + t] = v[t] }
        }
    }
}

/// `fmaChains` on 16-lane vectors (see SwiftRNN's `fmaPeakGFLOPS`).
@inline(never)
public func avx512FMAChains(iterations: Int) -> Float { fmaChains(F16.self, iterations: iterations) }
