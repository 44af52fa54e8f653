// Single-precision GEMM: C = act(start + op(A)·op(B)), start = accumulate ? C : 0 (+ a bias row).
//
// # The reduction order (batch invariance)
// Every output element is computed by one chain of fused multiply-adds in increasing k:
//     acc = start[i][j];  for p in 0..<k { acc = fma(opA[i][p], opB[p][j], acc) };  C[i][j] = act(acc)
// where start[i][j] = accumulate ? C[i][j] (+ bias[j], one rounded add, with a bias) : (bias[j] or +0).
// Each C[i][j] lives in one SIMD lane (or a scalar) of its own, so no path ever combines partial sums:
// the register-blocked micro-kernels, the row-count-specialised edge tiles, the zero-padded last
// column panel, the direct path for tiny problems, the k-blocking (a partial chain is stored to C
// exactly and resumed from it) and every thread split compute the same chain. The value of C[i][j]
// therefore depends only on row i of op(A), column j of op(B), k and C[i][j]'s input — never on m,
// on the row's position, on n, on the tiling or on the number of threads.
//
// # The fast path
// op(B) is packed into panels of 16 columns (`gemmNR`), each k×16 contiguous, the last one
// zero-padded; a micro-kernel keeps a 6×16 tile of C in 12 ymm accumulators and streams a panel
// (two loads and six broadcasts per k step, twelve FMAs). Leftover rows (1...5) use kernels that cover
// several panels at once, so that even one row has at least eight independent accumulator chains.
// On an AVX-512 CPU the same panels go to 12×32 tiles in 24 zmm accumulators instead (GEMMAVX512.swift).
// Both families of tiles are generated, one function per shape (GEMMTilesAVX2.swift, Kernel512Tiles.swift;
// scripts/gen_gemm_tiles.py). Blocks of op(A) are packed into 6-row micro-panels when enough panels reuse
// them (on AVX-512, up to 17 short rows are read in place: `gemmReadsRowsInPlace`). With more than
// one thread (`setNumThreads`), big problems split the column panels among the pool's threads.
// Weights that are reused (the recurrent matrix of every time step) can be packed once:
// `packB` / `PackedMatrix` and `sgemmPacked`.

/// Columns per packed panel of op(B): two SIMD8 vectors.
let gemmNR = 16
/// Rows of the main micro-kernel.
let gemmMR = 6
/// k block: the op(B) columns of one tile (16 for AVX2, 32 for AVX-512's 12×32 tile) over kc rows,
/// 16 or 32 KB, stay in L1 (48 KB here) while the row tiles of A pass by.
let gemmKC = 256
/// Rows of op(A) per block (a multiple of `gemmMR`): mc × kc floats of A stay in L2 across panels.
let gemmMC = 120

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CSwiftRNNMath
#if SWIFTRNN_X86_KERNELS
import SwiftRNNAVX512
#endif

// MARK: - Public entry points

/// A function applied to every element of C once its reduction is complete, while it is still in
/// registers (a fused epilogue): `sgemm(..., activation: .tanh)` gives bit for bit
/// `sgemm(...)` followed by `tanhInPlace` on C, without the second pass over memory.
public enum GEMMActivation: Sendable {
    case identity
    case tanh
    case relu
}

/// C (m×n, row stride ldc) = (accumulate ? C : 0) + op(A) · op(B).
///
/// op(A) is m×k: A row-major with row stride `lda`, or, if `transA`, A is k×m (row stride `lda`)
/// and op(A) = Aᵀ. op(B) is k×n: if `transB`, B is n×k row-major (row stride `ldb`) and op(B) = Bᵀ
/// (the common case: weights are stored (out, in)); otherwise B is k×n row-major.
///
/// Every C[i][j] is one chain of FMAs over k in increasing order, started from C[i][j] itself when
/// `accumulate` (else from +0): its value never depends on m, on the row's position, on the tiling
/// or on the thread count (see the top of this file). Sizes of zero are allowed (nothing is read;
/// with k == 0 and `accumulate == false` C is zeroed). Uses the kernel thread pool for large
/// problems (`setNumThreads`), and per-thread scratch memory for packing op(B) that is allocated once
/// and reused.
///
/// - `bias`: nil, or n floats added to every row: the chains start from bias[j] (exactly as if C had
///   been filled with the bias and `accumulate` were true), or from C[i][j] + bias[j] when
///   `accumulate`. Saves the pass that copies a bias into every row of C.
/// - `activation`: applied to each finished element in registers (see `GEMMActivation`).
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int,
                  bias: UnsafePointer<Float>? = nil, activation: GEMMActivation = .identity) {
    if m <= 0 || n <= 0 { return }
    if k <= 0 {
        emptyReduction(m: m, n: n, accumulate: accumulate, c: c, ldc: ldc, bias: bias, activation: activation)
        return
    }
    let opA = OperandA(base: a, rs: transA ? 1 : lda, cs: transA ? lda : 1)
    let opB = OperandB(base: b, rs: transB ? 1 : ldb, cs: transB ? ldb : 1)
    if multiplyAdds(m, n, k) <= 128 {
        sgemmDirect(m: m, n: n, k: k, a: opA, b: opB, accumulate: accumulate, c: c, ldc: ldc, bias: bias,
                    activation: activation)
        return
    }
    let panels = (n + gemmNR - 1) / gemmNR
    if transB && m <= fewRowsMax {
        // A weight times a few rows (a generation step): packing W would cost more than the product.
        let threads = gemmThreads(m: m, n: n, k: k, panels: panels)
        parallelFor(threads, maxThreads: threads) { t in
            let (q0, q1) = splitPanels(panels, threads, t)
            let j0 = q0 * gemmNR
            sgemmFewRowsTransB(m: m, n: min(n, q1 * gemmNR) - j0, k: k, a: opA, w: b + j0 * ldb, ldw: ldb,
                               accumulate: accumulate, c: c + j0, ldc: ldc, bias: bias.map { $0 + j0 },
                               activation: activation)
        }
        return
    }
    let threads = gemmThreads(m: m, n: n, k: k, panels: panels)
    let tasks = gemmTasks(threads: threads, panels: panels)
    // op(B) rows are contiguous (B not transposed) and few rows of A will pass over each panel:
    // read B in place rather than pay for packing it (measured: as fast or faster up to m = 64).
    let inPlace = !transB && m <= 64
    parallelFor(tasks, maxThreads: threads) { t in
        let (q0, q1) = splitPanels(panels, tasks, t)
        let j0 = q0 * gemmNR
        let width = min(n, q1 * gemmNR) - j0
        let cSlice = c + j0
        let biasSlice = bias.map { $0 + j0 }
        if inPlace {
            // Scratch: the last, partial panel (it cannot be read 16 wide in place), then op(A) blocks.
            let full = width / gemmNR
            let rest = width - full * gemmNR
            let packA = gemmShouldPackA(m: m, panels: q1 - q0, a: opA)
            let scratch = kernelScratch(floats: gemmNR * k + (packA ? gemmPackedABlock : 0))
            let aScratch = packA ? scratch.map { $0 + gemmNR * k } : nil
            if full > 0 {
                gemmBlocked(m: m, n: full * gemmNR, k: k, a: opA,
                            b: Panels(base: b + j0, rs: ldb, panelStride: gemmNR),
                            accumulate: accumulate, c: cSlice, ldc: ldc, bias: biasSlice, activation: activation,
                            aScratch: aScratch)
            }
            if rest > 0 {
                let jr = j0 + full * gemmNR
                let tailB = OperandB(base: b + jr, rs: ldb, cs: 1)
                if let scratch {
                    packPanels(k: k, n: rest, b: tailB, into: scratch)
                    gemmBlocked(m: m, n: rest, k: k, a: opA, b: Panels(base: scratch, rs: gemmNR, panelStride: gemmNR * k),
                                accumulate: accumulate, c: c + jr, ldc: ldc, bias: bias.map { $0 + jr },
                                activation: activation, aScratch: aScratch)
                } else {
                    sgemmDirect(m: m, n: rest, k: k, a: opA, b: tailB, accumulate: accumulate, c: c + jr, ldc: ldc,
                                bias: bias.map { $0 + jr }, activation: activation)
                }
            }
            return
        }
        let sliceB = OperandB(base: opB.base + j0 * opB.cs, rs: opB.rs, cs: opB.cs)
        let bFloats = (q1 - q0) * gemmNR * k
        let packA = gemmShouldPackA(m: m, panels: q1 - q0, a: opA)
        guard let scratch = kernelScratch(floats: bFloats + (packA ? gemmPackedABlock : 0)) else {
            sgemmDirect(m: m, n: width, k: k, a: opA, b: sliceB, accumulate: accumulate, c: cSlice, ldc: ldc,
                        bias: biasSlice, activation: activation)
            return
        }
        packPanels(k: k, n: width, b: sliceB, into: scratch)
        gemmBlocked(m: m, n: width, k: k, a: opA, b: Panels(base: scratch, rs: gemmNR, panelStride: gemmNR * k),
                    accumulate: accumulate, c: cSlice, ldc: ldc, bias: biasSlice, activation: activation,
                    aScratch: packA ? scratch + bFloats : nil)
    }
}

/// How many floats `packB` writes for a k×n op(B): k × n rounded up to a multiple of 16.
public func packedBCount(k: Int, n: Int) -> Int {
    max(k, 0) * ((max(n, 0) + gemmNR - 1) / gemmNR) * gemmNR
}

/// Packs op(B) (k×n; `transB` and `ldb` as in `sgemm`) into `packed`, which must hold
/// `packedBCount(k:n:)` floats: panels of 16 columns, each k×16 row-major, the last zero-padded.
/// Pack a weight once and multiply by it many times with `sgemmPacked` (same results as `sgemm`).
public func packB(transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int,
                  into packed: UnsafeMutablePointer<Float>) {
    if k <= 0 || n <= 0 { return }
    packPanels(k: k, n: n, b: OperandB(base: b, rs: transB ? 1 : ldb, cs: transB ? ldb : 1), into: packed)
}

/// Floats `packWeight` writes for a weight of `rows` × `cols` (0 for negative sizes).
public func packedWeightCount(rows: Int, cols: Int) -> Int { packedBCount(k: cols, n: rows) }

/// Packs a layer weight W stored (out, in) = (rows, cols) row-major, as Linear and RNN keep theirs, for
/// products x·Wᵀ: `packB(transB: true, ...)`, the `packedB` of `sgemmPacked`. `packed` must hold
/// `packedWeightCount(rows:cols:)` floats. Pack once, multiply many times (a generation loop).
public func packWeight(_ w: UnsafePointer<Float>, rows: Int, cols: Int, into packed: UnsafeMutablePointer<Float>) {
    packB(transB: true, k: cols, n: rows, b: w, ldb: cols, into: packed)
}

/// C (m×n) = (accumulate ? C : 0) + op(A) · op(B), with op(B) (k×n) packed by `packB`.
/// Bit-identical to `sgemm` with the unpacked op(B), for every m; `bias` and `activation` as in `sgemm`.
public func sgemmPacked(transA: Bool, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                        packedB: UnsafePointer<Float>, accumulate: Bool,
                        c: UnsafeMutablePointer<Float>, ldc: Int,
                        bias: UnsafePointer<Float>? = nil, activation: GEMMActivation = .identity) {
    if m <= 0 || n <= 0 { return }
    if k <= 0 {
        emptyReduction(m: m, n: n, accumulate: accumulate, c: c, ldc: ldc, bias: bias, activation: activation)
        return
    }
    let opA = OperandA(base: a, rs: transA ? 1 : lda, cs: transA ? lda : 1)
    if n <= gemmNR && multiplyAdds(m, n, k) <= 128 {
        // Tiny (RNN(4,4)): one panel, read as a k×n matrix with row stride 16.
        sgemmDirect(m: m, n: n, k: k, a: opA, b: OperandB(base: packedB, rs: gemmNR, cs: 1),
                    accumulate: accumulate, c: c, ldc: ldc, bias: bias, activation: activation)
        return
    }
    let panels = (n + gemmNR - 1) / gemmNR
    let threads = gemmThreads(m: m, n: n, k: k, panels: panels)
    let tasks = gemmTasks(threads: threads, panels: panels)
    parallelFor(tasks, maxThreads: threads) { t in
        let (q0, q1) = splitPanels(panels, tasks, t)
        let j0 = q0 * gemmNR
        // Without scratch memory for op(A), run unpacked: same results, a little slower.
        let aScratch = gemmShouldPackA(m: m, panels: q1 - q0, a: opA) ? kernelScratch(floats: gemmPackedABlock) : nil
        gemmBlocked(m: m, n: min(n, q1 * gemmNR) - j0, k: k, a: opA,
                    b: Panels(base: packedB + q0 * gemmNR * k, rs: gemmNR, panelStride: gemmNR * k),
                    accumulate: accumulate, c: c + j0, ldc: ldc, bias: bias.map { $0 + j0 }, activation: activation,
                    aScratch: aScratch)
    }
}

/// A k×n matrix op(B) packed for `sgemmPacked`, owning its memory. Immutable once made (Sendable).
public struct PackedMatrix: @unchecked Sendable {
    /// Rows of op(B): the shared (inner) dimension of the product.
    public let k: Int
    /// Columns of op(B): the output's columns.
    public let n: Int
    private let storage: Storage

    private final class Storage {
        let pointer: UnsafeMutablePointer<Float>?
        init(pointer: UnsafeMutablePointer<Float>?) { self.pointer = pointer }
        deinit { free(pointer) }
    }

    /// Packs op(B): `transB` and `ldb` as in `sgemm`. Throws `.outOfMemory` if the copy cannot be
    /// allocated, `.invalidArgument` for negative sizes.
    public init(transB: Bool, k: Int, n: Int, b: UnsafePointer<Float>, ldb: Int) throws(SwiftRNNError) {
        guard k >= 0, n >= 0 else { throw .invalidArgument("PackedMatrix: negative size k=\(k), n=\(n)") }
        self.k = k
        self.n = n
        let count = packedBCount(k: k, n: n)
        if count == 0 { storage = Storage(pointer: nil); return }
        guard let raw = malloc(count * MemoryLayout<Float>.stride) else {
            throw .outOfMemory("cannot allocate \(count * 4) bytes for a packed \(k)x\(n) matrix")
        }
        let p = raw.bindMemory(to: Float.self, capacity: count)
        packB(transB: transB, k: k, n: n, b: b, ldb: ldb, into: p)
        storage = Storage(pointer: p)
    }

    /// C (m×n) = (accumulate ? C : 0) + op(A) · self; as `sgemmPacked`.
    public func multiply(transA: Bool, m: Int, a: UnsafePointer<Float>, lda: Int,
                         accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int,
                         bias: UnsafePointer<Float>? = nil, activation: GEMMActivation = .identity) {
        if let p = storage.pointer {
            sgemmPacked(transA: transA, m: m, n: n, k: k, a: a, lda: lda, packedB: p,
                        accumulate: accumulate, c: c, ldc: ldc, bias: bias, activation: activation)
        } else if n > 0 {
            emptyReduction(m: m, n: n, accumulate: accumulate, c: c, ldc: ldc, bias: bias, activation: activation)
        }
    }
}

// MARK: - Operands

/// op(A)[i][p] = base[i·rs + p·cs].
struct OperandA {
    let base: UnsafePointer<Float>
    let rs: Int
    let cs: Int
}

/// op(B)[p][j] = base[p·rs + j·cs].
struct OperandB {
    let base: UnsafePointer<Float>
    let rs: Int
    let cs: Int
}

/// op(B) as 16-column panels: op(B)[p][16q + c] = base[q·panelStride + p·rs + c] (c < 16).
struct Panels {
    let base: UnsafePointer<Float>
    let rs: Int
    let panelStride: Int
}

// MARK: - Threads

/// Threads for a problem: one unless it is big enough to pay for waking the pool
/// (~1 M multiply-adds, some tens of microseconds), and never more than one per two panels.
@inline(__always)
func gemmThreads(m: Int, n: Int, k: Int, panels: Int) -> Int {
    let threads = getNumThreads()
    if threads <= 1 || panels < 2 { return 1 }
    let work = multiplyAdds(m, n, k)
    if work < 1 << 20 { return 1 }
    return min(threads, panels / 2, max(1, work >> 19))
}

/// m·n·k, saturating at Int.max instead of overflowing.
@inline(__always)
func multiplyAdds(_ m: Int, _ n: Int, _ k: Int) -> Int {
    let (mn, o1) = m.multipliedReportingOverflow(by: n)
    let (mnk, o2) = mn.multipliedReportingOverflow(by: k)
    return o1 || o2 ? .max : mnk
}

/// Tasks for `threads` threads: one each. Every task packs its own copy of op(A) (and in `sgemm` its
/// panels of op(B)), so more tasks cost more: at the recurrent step of RNN(256,512,2) N64 (m=64,
/// n=k=512) four 8-panel tasks took 5-13 % more CPU time in all than two 16-panel ones (both the 6x16
/// and the 12x32 AVX-512 tiles; `SwiftRNNBench step`). A delayed helper still never holds the caller
/// up: the caller takes any task no helper has started.
@inline(__always)
func gemmTasks(threads: Int, panels: Int) -> Int {
    threads
}

/// Task t's contiguous share of `panels` panels (the first `panels % tasks` get one more).
@inline(__always)
func splitPanels(_ panels: Int, _ tasks: Int, _ t: Int) -> (Int, Int) {
    let base = panels / tasks, extra = panels % tasks
    let q0 = t * base + min(t, extra)
    return (q0, q0 + base + (t < extra ? 1 : 0))
}

// MARK: - Packing

/// Packs op(B) (k×n) into ⌈n/16⌉ panels of k×16 floats, zero-padding the last panel's columns.
func packPanels(k: Int, n: Int, b: OperandB, into dst: UnsafeMutablePointer<Float>) {
    let panels = (n + gemmNR - 1) / gemmNR
    for q in 0..<panels {
        let j0 = q * gemmNR
        let width = min(gemmNR, n - j0)
        let out = dst + q * gemmNR * k
        if b.cs == 1 && width == gemmNR {
            // Rows of op(B) are contiguous: copy 16 floats per row.
            var src = b.base + j0
            for p in 0..<k {
                storeF8(loadF8(src), out + p * gemmNR)
                storeF8(loadF8(src + 8), out + p * gemmNR + 8)
                src += b.rs
            }
        } else if b.rs == 1 && width == gemmNR {
            // Columns of op(B) are contiguous (B transposed): transpose 8×8 blocks through registers.
            packTransposed16(k: k, src: b.base + j0 * b.cs, ld: b.cs, out: out)
        } else {
            for p in 0..<k {
                let row = out + p * gemmNR
                for c in 0..<width { row[c] = b.base[p * b.rs + (j0 + c) * b.cs] }
                for c in width..<gemmNR { row[c] = 0 }
            }
        }
    }
}

/// out[p·16 + c] = src[c·ld + p] for c < 16, p < k: 8×8 blocks transposed in registers
/// (`srnn_pack_transposed16`), then the k % 8 last steps one by one.
@inline(__always)
func packTransposed16(k: Int, src: UnsafePointer<Float>, ld: Int, out: UnsafeMutablePointer<Float>) {
    let k8 = k / 8 * 8
    srnn_pack_transposed16(k8, src, ld, out)
    for p in k8..<k {
        let row = out + p * gemmNR
        for c in 0..<gemmNR { row[c] = src[c * ld + p] }
    }
}

// MARK: - Blocked driver

/// Floats of scratch `gemmBlocked` needs to pack blocks of op(A).
let gemmPackedABlock = gemmMC * gemmKC

/// Whether packing op(A) pays: each packed block is reused by every panel, and it turns strided or
/// transposed rows (and rows 4 KB apart, which alias in L1) into one contiguous stream.
@inline(__always)
func gemmShouldPackA(m: Int, panels: Int, a: OperandA) -> Bool {
    if gemmUsesAVX512 && gemmReadsRowsInPlace(m: m, rs: a.rs, cs: a.cs) { return false }
    return m >= gemmMR && (a.cs != 1 ? panels >= 2 : panels >= 8)
}

/// Row-major op(A) of at most 17 rows (one 12-row tile, or tiles of 6 and 7...11) at most 272 floats
/// apart (256, or 256 padded by `paddedRowStride` as the training workspaces are): the AVX-512 tiles
/// read the rows in place faster than packing them first, which costs as much as the tiles' own loads
/// at these sizes (`SwiftRNNBench`, interleaved: 16x128x128 ~10 %, 16x256x256 ~6 %, 8x256x256 ~4 %
/// faster; the backward step's 16x256x256 with rows 272 apart 7-10 %). Rows farther apart are packed:
/// 12 rows 2 KB apart ran 20 % slower in place (L1 set conflicts).
@inline(__always)
func gemmReadsRowsInPlace(m: Int, rs: Int, cs: Int) -> Bool {
    cs == 1 && m <= 17 && rs <= 272
}

/// C[0..<m][0..<n] over panels of op(B) covering columns 0..<n (panel q = columns 16q..<16q+16;
/// columns past n in the last panel are computed from padding and not stored). With `aScratch`
/// (`gemmPackedABlock` floats), blocks of op(A) are first packed into 6-row micro-panels.
func gemmBlocked(m: Int, n: Int, k: Int, a: OperandA, b: Panels, accumulate: Bool,
                 c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, activation: GEMMActivation,
                 aScratch: UnsafeMutablePointer<Float>? = nil) {
    let panels = (n + gemmNR - 1) / gemmNR
    var pc = 0
    while pc < k {
        let kc = min(gemmKC, k - pc)
        let load = accumulate || pc > 0
        let blockBias = pc == 0 ? bias : nil  // the chains start from it; later k blocks resume from C
        let epilogue = pc + kc == k ? activation : .identity
        let ak = a.base + pc * a.cs
        let bk = b.base + pc * b.rs
        var ic = 0
        while ic < m {
            let mc = min(gemmMC, m - ic)
            let full = mc / gemmMR * gemmMR
            // Row ir of the block starts at aBlock + (ir - ic)·aStep (ir - ic a multiple of 6).
            let aBlock: UnsafePointer<Float>, aStep: Int, rsA: Int, csA: Int
            if let aScratch {
                packABlock(rows: mc, kc: kc, a: OperandA(base: ak + ic * a.rs, rs: a.rs, cs: a.cs), into: aScratch)
                (aBlock, aStep, rsA, csA) = (UnsafePointer(aScratch), kc, 1, gemmMR)
            } else {
                (aBlock, aStep, rsA, csA) = (ak + ic * a.rs, a.rs, a.rs, a.cs)
            }
            if gemmUsesAVX512 {
                gemmBlockAVX512(mc: mc, n: n, panels: panels, kc: kc, aBlock: aBlock, aStep: aStep, rsA: rsA, csA: csA,
                                b: bk, rsB: b.rs, panelStride: b.panelStride, c: c + ic * ldc, ldc: ldc,
                                load: load, bias: blockBias, epilogue: epilogue)
                ic += mc
                continue
            }
            if full > 0 {
                for q in 0..<panels {
                    let cols = min(gemmNR, n - q * gemmNR)
                    let bq = bk + q * b.panelStride
                    var ir = ic
                    while ir < ic + full {
                        kernel6x1(kc: kc, a: aBlock + (ir - ic) * aStep, rsA: rsA, csA: csA, b: bq, rsB: b.rs,
                                  panelStride: b.panelStride, c: c + ir * ldc + q * gemmNR, ldc: ldc,
                                  cols: cols, load: load, bias: blockBias.map { $0 + q * gemmNR },
                                  epilogue: epilogue)
                        ir += gemmMR
                    }
                }
            }
            let rows = mc - full
            if rows > 0 {
                let ir = ic + full
                var q = 0
                while q < panels {
                    let g = min(edgePanels(rows: rows), panels - q)
                    edgeKernel(rows: rows, panels: g, kc: kc, a: aBlock + (ir - ic) * aStep, rsA: rsA, csA: csA,
                               b: bk + q * b.panelStride, rsB: b.rs, panelStride: b.panelStride,
                               c: c + ir * ldc + q * gemmNR, ldc: ldc, cols: min(g * gemmNR, n - q * gemmNR),
                               load: load, bias: blockBias.map { $0 + q * gemmNR }, epilogue: epilogue)
                    q += g
                }
            }
            ic += mc
        }
        pc += kc
    }
}

/// Packs rows 0..<rows, k steps 0..<kc of op(A) into micro-panels of 6 rows: micro-panel u holds
/// rows 6u..<6u+6 as kc×6 (the last one may have fewer rows; its unused slots are not read).
/// Row r (a multiple of 6) then starts at dst + r·kc, with row stride 1 and k stride 6.
@inline(__always)
func packABlock(rows: Int, kc: Int, a: OperandA, into dst: UnsafeMutablePointer<Float>) {
    var r0 = 0
    while r0 < rows {
        let h = min(gemmMR, rows - r0)
        let out = dst + r0 * kc
        let src = a.base + r0 * a.rs
        if a.rs == 1 && h == gemmMR {
            // Transposed A: each k step's six rows are contiguous.
            for p in 0..<kc {
                let s = src + p * a.cs, o = out + p * gemmMR
                UnsafeMutableRawPointer(o).storeBytes(of: UnsafeRawPointer(s).loadUnaligned(as: SIMD4<Float>.self),
                                                      as: SIMD4<Float>.self)
                o[4] = s[4]
                o[5] = s[5]
            }
        } else if a.rs == 1 {
            for p in 0..<kc {
                let s = src + p * a.cs
                for r in 0..<h { out[p * gemmMR + r] = s[r] }
            }
        } else if a.cs == 1 && h == gemmMR {
            // Row-major A: eight k steps of the six rows at a time, transposed in registers into 48
            // contiguous floats (k step j, row r at 6j + r; `srnn_pack_rows6`). Scalar stores were ~9 %
            // of a training step, Swift SIMD lane inserts ~6 %.
            var p = kc / 8 * 8
            srnn_pack_rows6(p, src, a.rs, out)
            while p < kc {
                for r in 0..<gemmMR { out[p * gemmMR + r] = src[r * a.rs + p] }
                p += 1
            }
        } else {
            for r in 0..<h {
                let s = src + r * a.rs
                for p in 0..<kc { out[p * gemmMR + r] = s[p * a.cs] }
            }
        }
        r0 += gemmMR
    }
}

// MARK: - Micro-kernels

/// The signature of the generated AVX2 tiles (GEMMTilesAVX2.swift, scripts/gen_gemm_tiles.py): `kc`, A (row r
/// at a + r·rsA, k step csA), op(B) (panel q at b + q·panelStride, k step rsB), C (`ldc`), `cols`, `load`,
/// `bias`. A tile of R rows × P panels keeps R·2P ymm accumulators (at most 12), one FMA chain per element
/// over the kc steps, started from C if `load`, from the tile's `bias` columns if given (from C + bias if
/// both), else from +0; `cols` (≤ 16·P) columns of C are loaded/stored. No epilogue in the tile.
typealias Tile8 = (Int, UnsafePointer<Float>, Int, Int, UnsafePointer<Float>, Int, Int,
                   UnsafeMutablePointer<Float>, Int, Int, Bool, UnsafePointer<Float>?) -> Void

/// The start of one accumulator's 8 chains (C at `c`, `valid` of 0...8 columns): as the AVX-512 tiles'
/// `chainStart`; lanes past `valid` are +0 and nothing past them is read.
@inline(__always)
func chainStart8(_ c: UnsafeMutablePointer<Float>, _ valid: Int, _ load: Bool, _ bias: F8?) -> F8 {
    if !load { return bias ?? F8() }
    let cv = load8(UnsafePointer(c), valid)
    return bias.map { cv + $0 } ?? cv
}

/// Stores the first `valid` (0...8) lanes of an accumulator.
@inline(__always)
func chainStore8(_ v: F8, _ c: UnsafeMutablePointer<Float>, _ valid: Int) {
    if valid == 8 { storeF8(v, c) } else { storePartialF8OutOfLine(v, c, valid) }
}

/// The first `valid` (0...8) floats at p, the other lanes zero.
@inline(__always)
func load8(_ p: UnsafePointer<Float>, _ valid: Int) -> F8 {
    valid == 8 ? loadF8(p) : loadPartialF8OutOfLine(p, valid)
}

/// The last column panel's partial loads and stores, out of line so that the generated tiles stay small
/// enough for the optimizer to inline their full-vector loads.
@inline(never)
func loadPartialF8OutOfLine(_ p: UnsafePointer<Float>, _ count: Int) -> F8 { loadPartialF8(p, count) }

@inline(never)
func storePartialF8OutOfLine(_ v: F8, _ p: UnsafeMutablePointer<Float>, _ count: Int) { storePartialF8(v, p, count) }

/// The main AVX2 tile, 6 rows × 16 columns, then the epilogue on the stored tile (elementwise: the same
/// bits as in registers).
@inline(never)
func kernel6x1(kc: Int, a: UnsafePointer<Float>, rsA: Int, csA: Int, b: UnsafePointer<Float>, rsB: Int,
               panelStride: Int, c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, load: Bool,
               bias: UnsafePointer<Float>?, epilogue: GEMMActivation) {
    tile8_6x1(kc, a, rsA, csA, b, rsB, panelStride, c, ldc, cols, load, bias)
    activateRows(epilogue, c: c, ldc: ldc, rows: gemmMR, cols: cols)
}

/// Leftover rows (1...5) × `panels` panels, at most `edgePanels(rows:)` of them; then the epilogue.
@inline(never)
func edgeKernel(rows: Int, panels: Int, kc: Int, a: UnsafePointer<Float>, rsA: Int, csA: Int,
                b: UnsafePointer<Float>, rsB: Int, panelStride: Int,
                c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int, load: Bool, bias: UnsafePointer<Float>?,
                epilogue: GEMMActivation) {
    tile8Function(rows: rows, panels: panels)(kc, a, rsA, csA, b, rsB, panelStride, c, ldc, cols, load, bias)
    activateRows(epilogue, c: c, ldc: ldc, rows: rows, cols: cols)
}

// MARK: - Direct path (tiny problems, or no scratch memory)

/// The same FMA chains, one scalar at a time, without packing: for problems so small that setting
/// up panels costs more than the arithmetic, and as the fallback when scratch memory is unavailable.
func sgemmDirect(m: Int, n: Int, k: Int, a: OperandA, b: OperandB, accumulate: Bool,
                 c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?, activation: GEMMActivation) {
    for i in 0..<m {
        let ai = a.base + i * a.rs
        let ci = c + i * ldc
        for j in 0..<n {
            var acc = chainStart(accumulate: accumulate, c: ci[j], bias: bias?[j])
            var ap = ai
            var bp = b.base + j * b.cs
            for _ in 0..<k {
                acc = acc.addingProduct(ap.pointee, bp.pointee)
                ap += a.cs
                bp += b.rs
            }
            // The epilogue through the vector code, so that it matches the kernels' bit for bit.
            ci[j] = activation == .identity ? acc : activate(activation, F8(repeating: acc))[0]
        }
    }
}

/// Up to this many rows, `sgemm` with a transposed op(B) reads W in place (`sgemmFewRowsTransB`).
let fewRowsMax = 4

/// C (m ≤ `fewRowsMax` rows) = start + op(A)·Wᵀ, W (n×k) row-major read in place, no packing: blocks of
/// 8 rows × 8 k steps of W are transposed in registers, so each lane (an output column j) runs its own
/// chain of FMAs over k in increasing order from the same start — the kernels' chains, bit for bit.
func sgemmFewRowsTransB(m: Int, n: Int, k: Int, a: OperandA, w: UnsafePointer<Float>, ldw: Int, accumulate: Bool,
                        c: UnsafeMutablePointer<Float>, ldc: Int, bias: UnsafePointer<Float>?,
                        activation: GEMMActivation) {
    let zeros = F8()
    var j0 = 0
    while j0 < n {
        let width = min(8, n - j0)
        var acc = InlineArray<4, F8>(repeating: zeros)
        for i in 0..<m {
            for t in 0..<width {
                acc[i][t] = chainStart(accumulate: accumulate, c: c[i * ldc + j0 + t], bias: bias?[j0 + t])
            }
        }
        var p = 0
        if width == 8 && k >= 8 {  // whole blocks of 8 k steps (a partial last block of columns gathers below)
            p = k / 8 * 8
            withUnsafeMutablePointer(to: &acc) {
                $0.withMemoryRebound(to: F8.self, capacity: 4) {
                    srnn_fewrows_columns8(w + j0 * ldw, ldw, p, a.base, a.rs, a.cs, Int32(m), OpaquePointer($0))
                }
            }
        }
        while p < k {
            var column = zeros
            for t in 0..<width { column[t] = w[(j0 + t) * ldw + p] }
            for i in 0..<m { acc[i] = acc[i].addingProduct(F8(repeating: a.base[i * a.rs + p * a.cs]), column) }
            p += 1
        }
        for i in 0..<m {
            let v = activate(activation, acc[i])
            if width == 8 { storeF8(v, c + i * ldc + j0) } else { storePartialF8(v, c + i * ldc + j0, width) }
        }
        j0 += 8
    }
}

/// The value an element's chain starts from (see the top of the file); the kernels do the same.
@inline(__always)
func chainStart(accumulate: Bool, c: Float, bias: Float?) -> Float {
    accumulate ? (bias.map { c + $0 } ?? c) : (bias ?? 0)
}

/// k == 0: C = activation(start).
func emptyReduction(m: Int, n: Int, accumulate: Bool, c: UnsafeMutablePointer<Float>, ldc: Int,
                    bias: UnsafePointer<Float>?, activation: GEMMActivation) {
    for i in 0..<m {
        let row = c + i * ldc
        for j in 0..<n { row[j] = chainStart(accumulate: accumulate, c: row[j], bias: bias?[j]) }
    }
    activateRows(activation, c: c, ldc: ldc, rows: m, cols: n)
}

/// C[i][0..<n] = activation(C[i][0..<n]) for each of the m rows: the epilogue as a pass of its own
/// (elementwise, so the same bits as in registers; 16 lanes at a time on the AVX-512 path).
func activateRows(_ activation: GEMMActivation, c: UnsafeMutablePointer<Float>, ldc: Int, rows m: Int, cols n: Int) {
    #if SWIFTRNN_X86_KERNELS
    if gemmUsesAVX512 && activation != .identity {
        avx512ActivateRows(kind: activation == .tanh ? 1 : 2, c: c, ldc: ldc, rows: m, cols: n)
        return
    }
    #endif
    for i in 0..<m {
        switch activation {
        case .identity: return
        case .tanh: tanhInPlace(c + i * ldc, count: n)
        case .relu: reluInPlace(c + i * ldc, count: n)
        }
    }
}

/// The epilogue on one vector.
@inline(__always)
func activate(_ activation: GEMMActivation, _ v: F8) -> F8 {
    switch activation {
    case .identity: return v
    case .tanh: return tanh8(v)
    case .relu: return relu8(v)
    }
}
