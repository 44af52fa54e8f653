// Elementwise activations over float buffers, eight lanes at a time.
//
// Every element goes through the same SIMD8 code, the tail included (it is copied into a padded
// vector), so an element's result never depends on its position in the buffer or on the count.

import SwiftRNNVectorMath

/// In place: x[i] = tanh(x[i]) over `n` elements.
///
/// Within 2 ulp of Glibc's `tanhf` over the whole float range (measured exhaustively: see
/// KernelTests); ±0 keep their sign, ±Inf give ±1, NaN stays NaN. `n == 0` does nothing.
public func tanhInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    var i = 0
    while i + 16 <= n {
        // Two independent vectors per iteration give the scheduler more to overlap.
        let u = tanh8(loadF8(x + i)), v = tanh8(loadF8(x + i + 8))
        storeF8(u, x + i)
        storeF8(v, x + i + 8)
        i += 16
    }
    while i + 8 <= n {
        storeF8(tanh8(loadF8(x + i)), x + i)
        i += 8
    }
    if i < n {
        let rest = n - i
        storePartialF8(tanh8(loadPartialF8(x + i, rest)), x + i, rest)
    }
}

/// In place: x[i] = max(x[i], 0) over `n` elements; NaN stays NaN and -0 becomes +0, as torch's relu.
public func reluInPlace(_ x: UnsafeMutablePointer<Float>, count n: Int) {
    var i = 0
    while i + 8 <= n {
        storeF8(relu8(loadF8(x + i)), x + i)
        i += 8
    }
    while i < n {
        if x[i] <= 0 { x[i] = 0 }
        i += 1
    }
}

/// Whether none of x[0..<n] is ±Inf or NaN: the largest |x| bit pattern stays below the exponent's
/// all-ones (0x7F80_0000). Four accumulators of eight lanes, integer max (no float compares).
func allFinite(_ x: UnsafePointer<Float>, count n: Int) -> Bool {
    typealias U8 = SIMD8<UInt32>
    let magnitude = U8(repeating: 0x7FFF_FFFF)
    var m0 = U8(), m1 = U8(), m2 = U8(), m3 = U8()
    let raw = UnsafeRawPointer(x)
    var i = 0
    while i + 32 <= n {
        m0 = pointwiseMax(m0, raw.loadUnaligned(fromByteOffset: i * 4, as: U8.self) & magnitude)
        m1 = pointwiseMax(m1, raw.loadUnaligned(fromByteOffset: i * 4 + 32, as: U8.self) & magnitude)
        m2 = pointwiseMax(m2, raw.loadUnaligned(fromByteOffset: i * 4 + 64, as: U8.self) & magnitude)
        m3 = pointwiseMax(m3, raw.loadUnaligned(fromByteOffset: i * 4 + 96, as: U8.self) & magnitude)
        i += 32
    }
    var largest = pointwiseMax(pointwiseMax(m0, m1), pointwiseMax(m2, m3)).max()
    while i < n {
        largest = max(largest, x[i].bitPattern & 0x7FFF_FFFF)
        i += 1
    }
    return largest < 0x7F80_0000
}

/// max(x, 0) lane-wise: NaN stays NaN, -0 becomes +0.
@inline(__always)
func relu8(_ x: SIMD8<Float>) -> SIMD8<Float> { reluLanes(x) }

/// tanh of eight floats (see `tanhLanes` in SwiftRNNVectorMath for the method and the accuracy).
@inline(__always)
func tanh8(_ x: SIMD8<Float>) -> SIMD8<Float> { tanhLanes(x) }

typealias F8 = SIMD8<Float>

@inline(__always)
func loadF8(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }

@inline(__always)
func loadF8(_ p: UnsafeMutablePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }

@inline(__always)
func storeF8(_ v: F8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: F8.self)
}

/// The first `count` (< 8) lanes from memory, the others zero.
@inline(__always)
func loadPartialF8(_ p: UnsafePointer<Float>, _ count: Int) -> F8 {
    var v = F8()
    for t in 0..<count { v[t] = p[t] }
    return v
}

@inline(__always)
func loadPartialF8(_ p: UnsafeMutablePointer<Float>, _ count: Int) -> F8 {
    loadPartialF8(UnsafePointer(p), count)
}

/// Stores the first `count` (< 8) lanes.
@inline(__always)
func storePartialF8(_ v: F8, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    for t in 0..<count { p[t] = v[t] }
}
