// AVX-512 micro-kernels for SwiftRNN's GEMM (compiled with -mavx512f/vl/bw/dq; see Package.swift).
//
// Only called after a runtime check that the CPU has AVX-512 (SwiftRNN's `gemmUsesAVX512`): nothing
// in this module may run on other CPUs. The kernels work on the packed formats of GEMM.swift (op(B)
// in 16-column panels, op(A) packed in 6-row micro-panels or strided) and compute exactly the same
// chains: each C[i][j] is one FMA chain over k in increasing order, started from C[i][j] (`load`)
// or +0, in a lane of its own — so results are bit-identical to the AVX2 kernels. No epilogue here:
// the caller applies the activation to the stored tile (an elementwise function, so the same bits).

public typealias F16 = SIMD16<Float>

/// A tile of R rows × P panels (16·P columns): R·P zmm accumulators (at most 12). The chains start
/// from C (`load`) plus `bias` (one rounded add, 16·P floats) if given, else from `bias`, else +0.
/// Rows 0..<min(R, 6) are read from `a0`, rows 6..<R from `a1` (row r at a0/a1 + (r mod 6)·rsA,
/// k step csA). op(B) panel q at b + q·panelStride, k step rsB. `cols` (≤ 16·P) columns of C are loaded/stored.
@inline(__always)
func tile512(_ R: Int, _ P: Int, kc: Int, a0: UnsafePointer<Float>, a1: UnsafePointer<Float>, rsA: Int, csA: Int,
             b: UnsafePointer<Float>, rsB: Int, panelStride: Int,
             c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, load: Bool, bias: UnsafePointer<Float>?) {
    var acc = InlineArray<12, F16>(repeating: F16())
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
        if P == 1 {
            let bv = UnsafeRawPointer(bp).loadUnaligned(as: F16.self)
            for r in 0..<R {
                let av = F16(repeating: r < 6 ? ap0[r * rsA] : ap1[(r - 6) * rsA])
                acc[r] = acc[r].addingProduct(av, bv)
            }
        } else {
            for r in 0..<R {
                let av = F16(repeating: r < 6 ? ap0[r * rsA] : ap1[(r - 6) * rsA])
                for q in 0..<P {
                    let bv = UnsafeRawPointer(bp + q * panelStride).loadUnaligned(as: F16.self)
                    acc[r * P + q] = acc[r * P + q].addingProduct(av, bv)
                }
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

/// Panels a tile of `rows` rows covers at once (so that it has 8-12 accumulators).
public func avx512PanelGroup(rows: Int) -> Int {
    switch rows {
    case 1: return 8
    case 2: return 6
    case 3: return 4
    case 4: return 3
    case 5, 6: return 2
    default: return 1
    }
}

/// A 12-row × 16-column tile (the main kernel): rows 0..<6 from a0, 6..<12 from a1.
@inline(never)
public func avx512Kernel12(kc: Int, a0: UnsafePointer<Float>, a1: UnsafePointer<Float>, rsA: Int, csA: Int,
                           b: UnsafePointer<Float>, rsB: Int,
                           c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, load: Bool,
                           bias: UnsafePointer<Float>? = nil) {
    if rsA == 1 {
        tile512(12, 1, kc: kc, a0: a0, a1: a1, rsA: 1, csA: csA, b: b, rsB: rsB, panelStride: 0,
                c: c, ldc: ldc, cols: cols, load: load, bias: bias)
    } else {
        tile512(12, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: 0,
                c: c, ldc: ldc, cols: cols, load: load, bias: bias)
    }
}

/// `rows` (1...11) rows × `panels` (1...avx512PanelGroup(rows)) panels.
public func avx512EdgeKernel(rows: Int, panels: Int, kc: Int, a0: UnsafePointer<Float>, a1: UnsafePointer<Float>,
                             rsA: Int, csA: Int, b: UnsafePointer<Float>, rsB: Int, panelStride: Int,
                             c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, load: Bool,
                             bias: UnsafePointer<Float>? = nil) {
    // One function per shape: in a single function LLVM leaves some of the loops rolled.
    let g = min(panels, avx512PanelGroup(rows: rows))
    let kernel: Edge512
    switch (rows, g) {
    case (11, 1): kernel = edge512_11x1
    case (10, 1): kernel = edge512_10x1
    case (9, 1): kernel = edge512_9x1
    case (8, 1): kernel = edge512_8x1
    case (7, 1): kernel = edge512_7x1
    case (6, 1): kernel = edge512_6x1
    case (6, 2): kernel = edge512_6x2
    case (5, 1): kernel = edge512_5x1
    case (5, 2): kernel = edge512_5x2
    case (4, 1): kernel = edge512_4x1
    case (4, 2): kernel = edge512_4x2
    case (4, 3): kernel = edge512_4x3
    case (3, 1): kernel = edge512_3x1
    case (3, 2): kernel = edge512_3x2
    case (3, 3): kernel = edge512_3x3
    case (3, 4): kernel = edge512_3x4
    case (2, 1): kernel = edge512_2x1
    case (2, 2): kernel = edge512_2x2
    case (2, 3): kernel = edge512_2x3
    case (2, 4): kernel = edge512_2x4
    case (2, 5): kernel = edge512_2x5
    case (2, 6): kernel = edge512_2x6
    case (1, 1): kernel = edge512_1x1
    case (1, 2): kernel = edge512_1x2
    case (1, 3): kernel = edge512_1x3
    case (1, 4): kernel = edge512_1x4
    case (1, 5): kernel = edge512_1x5
    case (1, 6): kernel = edge512_1x6
    case (1, 7): kernel = edge512_1x7
    case (1, 8): kernel = edge512_1x8
    default: kernel = edge512_1x8
    }
    kernel(kc, a0, a1, rsA, csA, b, rsB, panelStride, c, ldc, cols, load, bias)
}

typealias Edge512 = (Int, UnsafePointer<Float>, UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, Int, Int,
                     UnsafeMutablePointer<Float>, Int, Int, Bool, UnsafePointer<Float>?) -> Void

@inline(never)
func edge512_11x1(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(11, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_10x1(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(10, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_9x1(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(9, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_8x1(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(8, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_7x1(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(7, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_6x1(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(6, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_6x2(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(6, 2, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_5x1(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(5, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_5x2(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(5, 2, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_4x1(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(4, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_4x2(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(4, 2, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_4x3(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(4, 3, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_3x1(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(3, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_3x2(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(3, 2, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_3x3(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(3, 3, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_3x4(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(3, 4, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_2x1(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(2, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_2x2(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(2, 2, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_2x3(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(2, 3, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_2x4(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(2, 4, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_2x5(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(2, 5, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_2x6(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(2, 6, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_1x1(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(1, 1, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_1x2(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(1, 2, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_1x3(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(1, 3, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_1x4(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(1, 4, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_1x5(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(1, 5, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_1x6(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(1, 6, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_1x7(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(1, 7, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}

@inline(never)
func edge512_1x8(_ kc: Int, _ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ rsA: Int, _ csA: Int,
                  _ b: UnsafePointer<Float>, _ rsB: Int, _ panelStride: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ load: Bool,
                  _ bias: UnsafePointer<Float>?) {
    tile512(1, 8, kc: kc, a0: a0, a1: a1, rsA: rsA, csA: csA, b: b, rsB: rsB, panelStride: panelStride,
            c: c, ldc: ldc, cols: cols, load: load, bias: bias)
}
