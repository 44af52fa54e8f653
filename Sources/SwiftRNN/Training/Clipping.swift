// Gradient clipping, as torch.nn.utils.clip_grad_norm_ and clip_grad_value_.

/// The norm of several gradients viewed as one vector, as torch's `get_total_norm`: the `normType`-norm
/// of each buffer (accumulated in double, rounded to float as torch reports it), then the same norm of
/// those norms. `normType` may be any p > 0, 0 (count of nonzeros), or ±infinity. No buffers: 0.
public func totalGradientNorm(_ gradients: UnsafeBufferPointer<UnsafePointer<Float>>,
                              counts: UnsafeBufferPointer<Int>, normType: Double) -> Float {
    var norms = [Float]()
    norms.reserveCapacity(gradients.count)
    for (g, n) in zip(gradients, counts) { norms.append(Float(pNorm(g, count: n, p: normType))) }
    return norms.withUnsafeBufferPointer { Float(pNorm($0.nonNullBase, count: $0.count, p: normType)) }
}

/// The factor torch's `clip_grad_norm_` scales every gradient by: min(maxNorm / (totalNorm + 1e-6), 1),
/// in float as torch computes it (the reciprocal of totalNorm + 1e-6, times maxNorm). NaN stays NaN.
public func clipCoefficient(maxNorm: Double, totalNorm: Float) -> Float {
    let coefficient = (1 / (totalNorm + Float(1e-6))) * Float(maxNorm)
    return coefficient.isNaN ? coefficient : min(coefficient, 1)
}

/// x[i] *= factor over `count` floats.
public func scaleInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
    for i in 0..<count { x[i] *= factor }
}

/// x[i] = clamp(x[i], −clipValue, clipValue) over `count` floats; NaN stays NaN (as torch.clamp_).
public func clampInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, clipValue: Float) {
    for i in 0..<count where !x[i].isNaN { x[i] = min(max(x[i], -clipValue), clipValue) }
}

/// `clip_grad_norm_` for Swift tensors: scales every gradient in place so that their total
/// `normType`-norm is at most `maxNorm`; returns the total norm before clipping.
@discardableResult
public func clipGradNorm(_ gradients: inout [Tensor], maxNorm: Double, normType: Double = 2) -> Float {
    let total: Float = withParameterPointers(gradients[...], collected: []) { pointers in
        let counts = gradients.map(\.count)
        return pointers.withUnsafeBufferPointer { p in
            counts.withUnsafeBufferPointer { c in totalGradientNorm(p, counts: c, normType: normType) }
        }
    }
    let factor = clipCoefficient(maxNorm: maxNorm, totalNorm: total)
    for i in gradients.indices {
        gradients[i].scalars.withUnsafeMutableBufferPointer { scaleInPlace($0.nonNullBase, count: $0.count, by: factor) }
    }
    return total
}

/// `clip_grad_value_` for Swift tensors: clamps every gradient element to [−clipValue, clipValue].
public func clipGradValue(_ gradients: inout [Tensor], clipValue: Double) {
    for i in gradients.indices {
        gradients[i].scalars.withUnsafeMutableBufferPointer {
            clampInPlace($0.nonNullBase, count: $0.count, clipValue: Float(clipValue))
        }
    }
}
