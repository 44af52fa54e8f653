import CSwiftRNNMath

// Eight-lane loads and stores for the training kernels' SIMD loops.

@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

@inline(__always)
func loadLanes(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

@inline(__always)
func storeLanes(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// The square root of each lane (correctly rounded, as sqrtf): one vsqrtps (CSwiftRNNMath). SIMD8's
/// `squareRoot()` lowers to eight scalar square roots, each with a branch to libm's sqrtf.
@inline(__always)
func lanewiseSquareRoot(_ x: SIMD8<Float>) -> SIMD8<Float> {
    srnn_sqrt8(x)
}
