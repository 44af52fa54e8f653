#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Softmax, or log-softmax if `log`, of `x` viewed as (outer, dim, inner) along the middle axis.
/// Numerically stable (the row maximum is subtracted first); NaN propagates; a slice that is all
/// -inf gives NaN, as in torch.
public func softmaxForward(_ x: UnsafePointer<Float>, outer: Int, dim: Int, inner: Int, log: Bool,
                           out: UnsafeMutablePointer<Float>) {
    for o in 0..<outer {
        for i in 0..<inner {
            let base = o * dim * inner + i
            var maxv = -Float.infinity
            for d in 0..<dim {
                let v = x[base + d * inner]
                if v.isNaN { maxv = v; break }
                if v > maxv { maxv = v }
            }
            var sum: Float = 0
            for d in 0..<dim { sum += expf(x[base + d * inner] - maxv) }
            if log {
                let logSum = logf(sum)
                for d in 0..<dim { out[base + d * inner] = x[base + d * inner] - maxv - logSum }
            } else {
                let inv = 1 / sum
                for d in 0..<dim { out[base + d * inner] = expf(x[base + d * inner] - maxv) * inv }
            }
        }
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
