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
