#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// In place: x[i] = tanh(x[i]) over `n` elements (NaN and ±Inf as `tanhf`).
public func tanhInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n { x[i] = tanhf(x[i]) }
}

/// In place: x[i] = max(x[i], 0); NaN stays NaN, as torch's relu.
public func reluInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    for i in 0..<n where x[i] < 0 { x[i] = 0 }
}
