#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftRNNVectorMath
#if SWIFTRNN_X86_KERNELS
import SwiftRNNAVX512
#endif

/// Softmax, or log-softmax if `log`, of `x` viewed as (outer, dim, inner) along the middle axis.
/// Numerically stable (the row maximum is subtracted first); NaN propagates; a slice that is all
/// -inf gives NaN, as in torch.
///
/// Eight lanes at a time with the lane exp (within ~1 ulp of expf): along contiguous rows (inner == 1) the
/// lanes run over the row as the cross-entropy's do (lane k sums the elements c ≡ k (mod 8), the lanes added in
/// a fixed order; sixteen at a time on AVX-512, the same bits); otherwise over eight inner positions at once.
/// Either way a slice's result depends only on that slice.
public func softmaxForward(_ x: UnsafePointer<Float>, outer: Int, dim: Int, inner: Int, log: Bool,
                           out: UnsafeMutablePointer<Float>) {
    if dim == 0 { return }
    if inner == 1 {
        for o in 0..<outer { softmaxRow(x + o * dim, count: dim, log: log, out: out + o * dim) }
        return
    }
    for o in 0..<outer {
        let xs = x + o * dim * inner, os = out + o * dim * inner
        forEachLanes(inner) { i, v in softmaxColumns(xs + i, count: dim, stride: inner, valid: v, log: log, out: os + i) }
    }
}

/// One contiguous row: exp(x − max) summed by lanes, then scaled by 1/sum, or x − max − log(sum).
@inline(__always)
func softmaxRow(_ x: UnsafePointer<Float>, count n: Int, log: Bool, out: UnsafeMutablePointer<Float>) {
    // The cross-entropy's row maximum and exponentials (CrossEntropy.swift): sixteen lanes on AVX-512.
    let maxv = rowMax(x, count: n)
    let sum = expShifted(x, minus: maxv, count: n, into: out)
    var c = 0
    if log {
        let logSum = logf(sum)
        while c + 8 <= n {
            storeF8(loadF8(x + c) - F8(repeating: maxv) - F8(repeating: logSum), out + c)
            c += 8
        }
        while c < n { out[c] = x[c] - maxv - logSum; c += 1 }
    } else {
        let inv = 1 / sum
        #if SWIFTRNN_X86_KERNELS
        if gemmUsesAVX512 { return avx512Scale(out, count: n, by: inv) }
        #endif
        let v = F8(repeating: inv)
        while c + 8 <= n { storeF8(loadF8(out + c) * v, out + c); c += 8 }
        while c < n { out[c] *= inv; c += 1 }
    }
}

/// Up to eight slices side by side: slice j is x[j + d·stride] for d in 0..<n (`valid` of them).
@inline(__always)
func softmaxColumns(_ x: UnsafePointer<Float>, count n: Int, stride: Int, valid: Int, log: Bool,
                    out: UnsafeMutablePointer<Float>) {
    var m = F8(repeating: -.infinity)
    var nan = SIMDMask<SIMD8<Int32>>(repeating: false)
    for d in 0..<n {
        let v = load8(x + d * stride, valid: valid)
        nan .|= v .!= v
        m = pointwiseMax(m, v)
    }
    m.replace(with: .nan, where: nan)
    var sum = F8()
    for d in 0..<n {
        let e = expLanes(load8(x + d * stride, valid: valid) - m)
        sum += e
        if !log { store8(e, out + d * stride, valid: valid) }
    }
    if log {
        var logSum = F8()
        for k in 0..<valid { logSum[k] = logf(sum[k]) }
        for d in 0..<n { store8(load8(x + d * stride, valid: valid) - m - logSum, out + d * stride, valid: valid) }
    } else {
        let inv = 1 / sum
        for d in 0..<n { store8(load8(out + d * stride, valid: valid) * inv, out + d * stride, valid: valid) }
    }
}

/// Softmax of `x` along `dim` (negative counts from the end), as `torch.softmax`.
public func softmax(_ x: Tensor, dim: Int) throws(SwiftRNNError) -> Tensor {
    try softmax(x, dim: dim, log: false)
}

/// Log-softmax of `x` along `dim`, as `torch.log_softmax`.
public func logSoftmax(_ x: Tensor, dim: Int) throws(SwiftRNNError) -> Tensor {
    try softmax(x, dim: dim, log: true)
}

func softmax(_ x: Tensor, dim: Int, log: Bool) throws(SwiftRNNError) -> Tensor {
    let span = max(x.rank, 1)  // a 0-d tensor takes dim 0 or -1, as in torch
    guard dim >= -span && dim < span else {
        throw .indexOutOfRange("dim \(dim) is out of range for a \(x.rank)-d input (expected \(-span) to \(span - 1))")
    }
    let d = dim < 0 ? dim + span : dim
    let outer = x.shape.prefix(d).reduce(1, *)
    let size = x.rank == 0 ? 1 : x.shape[d]
    let inner = x.rank == 0 ? 1 : x.shape.suffix(from: d + 1).reduce(1, *)
    var out = Tensor(zeros: x.shape)
    x.scalars.withUnsafeBufferPointer { xp in
        out.scalars.withUnsafeMutableBufferPointer { op in
            softmaxForward(xp.nonNullBase, outer: outer, dim: size, inner: inner, log: log, out: op.nonNullBase)
        }
    }
    return out
}
