// Runtime dispatch to the AVX-512 micro-kernels (module SwiftRNNAVX512) for `gemmBlocked`.
//
// The AVX-512 module is compiled for AVX-512; this module (compiled for AVX2 + FMA) only calls into
// it when the CPU has AVX-512 F/VL/BW/DQ and the environment does not say SWIFTRNN_SIMD=avx2. The
// kernels compute the same FMA chains as the AVX2 ones (see the top of GEMM.swift), so the two
// paths give bit-identical results.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
#if SWIFTRNN_X86_KERNELS
import CSwiftRNNCPU
import SwiftRNNAVX512
#endif

/// Whether the AVX-512 kernels may run: the CPU (and OS) support AVX-512 F/VL/BW/DQ and the environment
/// does not say SWIFTRNN_SIMD=avx2, which makes an AVX-512 machine one without it for the whole process,
/// tests included (they are gated on this, so such a run executes no AVX-512 instruction, as an
/// AVX2-only CPU would).
let cpuHasAVX512: Bool = {
    #if SWIFTRNN_X86_KERNELS
    let forced = getenv("SWIFTRNN_SIMD").map { String(cString: $0).lowercased() }
    return forced != "avx2" && forced != "avx2+fma" && srnn_cpu_has_avx512() != 0
    #else
    return false
    #endif
}()

/// The kernel family in use: "avx512", "avx2+fma" or "portable" (decided once per process).
public let gemmSIMDLevel: String = {
    #if SWIFTRNN_X86_KERNELS
    return cpuHasAVX512 ? "avx512" : "avx2+fma"
    #else
    return "portable"
    #endif
}()

/// Whether `gemmBlocked` (and the cross-entropy's `expShifted`) use the AVX-512 kernels (only ever true
/// on a CPU with AVX-512). Tests flip it (`setGEMMUsesAVX512`) to compare the two paths, which give the
/// same bits.
private let avx512Switch = Atomic<Bool>(gemmSIMDLevel == "avx512")

var gemmUsesAVX512: Bool { avx512Switch.load(ordering: .relaxed) }

/// For tests and benchmarks: selects the AVX-512 kernels (if `cpuHasAVX512`) or the AVX2 ones.
/// Returns whether the AVX-512 kernels are now in use. GEMMs running meanwhile may use either
/// (same results).
@discardableResult
public func setGEMMUsesAVX512(_ on: Bool) -> Bool {
    avx512Switch.store(on && cpuHasAVX512, ordering: .relaxed)
    return gemmUsesAVX512
}

/// The AVX-512 version of one row block of `gemmBlocked`: rows 0..<mc of the block (row r of op(A)
/// at aBlock + (r - r mod 6)·aStep + (r mod 6)·rsA, k step csA) against `panels` panels of op(B)
/// (columns 0..<n), C row 0 at `c`; with `bias` (n floats; only for the first k block) the chains
/// start from C + bias (`load`) or from bias, as the AVX2 kernels' bias in the speed branch.
/// Tiles of 12 rows × 2 panels (24 zmm accumulators: per k step 2 loads of op(B) and 12 broadcasts
/// feed 24 FMAs, so the FMA ports, not the load ports, are the limit), each column group of op(B)
/// reused by every row tile while it is in L1; then the leftover rows under wider tiles.
func gemmBlockAVX512(mc: Int, n: Int, panels: Int, kc: Int, aBlock: UnsafePointer<Float>, aStep: Int,
                     rsA: Int, csA: Int, b: UnsafePointer<Float>, rsB: Int, panelStride: Int,
                     c: UnsafeMutablePointer<Float>, ldc: Int, load: Bool, bias: UnsafePointer<Float>? = nil,
                     epilogue: GEMMActivation) {
    #if SWIFTRNN_X86_KERNELS
    // Strided (unpacked) A: 6-row tiles, except for the few short rows `gemmReadsRowsInPlace` leaves
    // unpacked, which run fastest under the 12-row tiles too.
    let rowStep = rsA == 1 || gemmReadsRowsInPlace(m: mc, rs: rsA, cs: csA) ? 12 : 6
    let full = mc / rowStep * rowStep
    @inline(__always) func tiles(rows: Int, from r0: Int, to r1: Int, panels q0: Int = 0, _ q1: Int = panels) {
        var q = q0
        while q < q1 {
            let width = avx512TileWidth(rows: rows, panelsLeft: q1 - q)
            let cols = min(width * gemmNR, n - q * gemmNR)
            var ir = r0
            while ir < r1 {
                let ct = c + ir * ldc + q * gemmNR
                avx512Tile(rows: rows, panels: width, kc: kc, a0: aBlock + ir * aStep, a1: aBlock + (ir + 6) * aStep,
                           rsA: rsA, csA: csA, b: b + q * panelStride, rsB: rsB, panelStride: panelStride,
                           c: ct, ldc: ldc, cols: cols, load: load, bias: bias.map { $0 + q * gemmNR })
                if epilogue != .identity {
                    avx512ActivateRows(kind: epilogue == .tanh ? 1 : 2, c: ct, ldc: ldc, rows: rows, cols: cols)
                }
                ir += rows
            }
            q += width
        }
    }
    if rowStep == 12 && (12...17).contains(mc) && (mc > 12 || rsA != 1) {
        // 13...17 rows (a batch of 16's recurrent step): tiles of 6 and 7...11 rows rather than 12 and a
        // thin 1...5, whose few accumulators per op(B) vector read a wide strip of op(B) again
        // (`SwiftRNNBench`: 16x256x256 3-5 %, 13x256x256 ~16 % faster). No gain measured for more rows.
        // 12 rows read in place: two 6x4 tiles, as the 12x2 tile with a run-time row stride keeps
        // accumulators on the stack (LLVM hoists its twelve broadcasts: `SwiftRNNBench tile`, 12x2 in
        // place ~110 GFLOP/s against ~160 for 6x4 in place).
        // With 6 or 9...11 rows in the second tile (four or two panels wide), four panels at a time when
        // their kc×64 floats of op(B) fit in L1 (kc <= 128: 32 KB): its tiles then read from L1 what the
        // first 6x4 tile just brought in, rather than all of op(B) from L2 again. The same tiles, in another
        // order (`SwiftRNNBench`, interleaved: 16x128x128 4-6 %, RNN(128,128) T100 N16 ~2 % faster; with
        // kc = 256 a group is 64 KB, and no gain was measured for groups of two panels).
        let group = kc <= 128 && (mc == 12 || mc >= 15) ? 4 : panels
        var q = 0
        while q < panels {
            let qe = min(q + group, panels)
            tiles(rows: 6, from: 0, to: 6, panels: q, qe)
            tiles(rows: mc - 6, from: 6, to: mc, panels: q, qe)
            q = qe
        }
        return
    }
    if full > 0 { tiles(rows: rowStep, from: 0, to: full) }
    if mc > full { tiles(rows: mc - full, from: full, to: mc) }
    #endif
}
