// Linear: y = x · Wᵀ + b.

/// out (m, outFeatures) = x (m, inFeatures) · weightᵀ (+ bias). weight is (outFeatures, inFeatures);
/// a nil bias means none. `packedWeight`: nil, or `packWeight` of the current weight, which is then
/// not read (a loop of one-row calls, as in generation, skips packing it every call; same bits).
public func linearForward(x: UnsafePointer<Float>, m: Int, inFeatures: Int,
                          weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
                          out: UnsafeMutablePointer<Float>, packedWeight: UnsafePointer<Float>? = nil) {
    // The chains start from the bias (sgemm's `bias:`): the same bits as filling every row of `out`
    // with the bias and accumulating, without that extra pass over the output.
    if let packedWeight {  // `packWeight` of this weight: nothing to pack per call, the same bits
        sgemmPacked(transA: false, m: m, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                    packedB: packedWeight, accumulate: false, c: out, ldc: outFeatures, bias: bias)
        return
    }
    sgemm(transA: false, transB: true, m: m, n: outFeatures, k: inFeatures,
          a: x, lda: inFeatures, b: weight, ldb: inFeatures,
          accumulate: false, c: out, ldc: outFeatures, bias: bias)
}

/// A fully connected layer, `torch.nn.Linear`: y = x · Wᵀ + b over the last dimension of x.
public struct Linear: Sendable {
    /// (outFeatures, inFeatures).
    public var weight: Tensor
    /// (outFeatures), or nil for no bias.
    public var bias: Tensor?

    /// `in_features`: the size of the input's last dimension (`weight.shape[1]`).
    public var inFeatures: Int { weight.shape[1] }
    /// `out_features`: the size of the output's last dimension (`weight.shape[0]`).
    public var outFeatures: Int { weight.shape[0] }

    /// Throws `.invalidArgument` unless weight is 2-d and bias (if any) is (weight.shape[0]).
    public init(weight: Tensor, bias: Tensor?) throws(SwiftRNNError) {
        guard weight.rank == 2 else {
            throw .invalidArgument("Linear expects a 2-d weight (out_features, in_features), got shape \(describeShape(weight.shape))")
        }
        if let bias, bias.shape != [weight.shape[0]] {
            throw .invalidArgument("Linear expects a bias of shape \(describeShape([weight.shape[0]])), got \(describeShape(bias.shape))")
        }
        self.weight = weight
        self.bias = bias
    }

    /// Applies the layer to x of shape (*, inFeatures); returns (*, outFeatures).
    public func callAsFunction(_ x: Tensor) throws(SwiftRNNError) -> Tensor {
        guard x.rank >= 1, x.shape[x.rank - 1] == inFeatures else {
            throw .invalidArgument("Linear(in_features=\(inFeatures), out_features=\(outFeatures)) expects input of shape (*, \(inFeatures)), got \(describeShape(x.shape))")
        }
        let m = x.shape.dropLast().reduce(1, *)
        var outShape = x.shape
        outShape[outShape.count - 1] = outFeatures
        var out = Tensor(zeros: outShape)
        x.scalars.withUnsafeBufferPointer { xp in
            weight.scalars.withUnsafeBufferPointer { wp in
                out.scalars.withUnsafeMutableBufferPointer { op in
                    withOptionalPointer(bias?.scalars) { bp in
                        linearForward(x: xp.nonNullBase, m: m, inFeatures: inFeatures, weight: wp.nonNullBase,
                                      bias: bp, outFeatures: outFeatures, out: op.nonNullBase)
                    }
                }
            }
        }
        return out
    }
}

/// Calls `body` with a pointer to `array`'s elements, or nil when `array` is nil.
@inline(__always)
func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.nonNullBase) }
}

extension UnsafeBufferPointer {
    /// The base address, or a valid dangling address for an empty buffer (never dereferenced then).
    @inline(__always) var nonNullBase: UnsafePointer<Element> {
        baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Element>.alignment)!
    }
}

extension UnsafeMutableBufferPointer {
    /// The base address, or a valid dangling address for an empty buffer (never dereferenced then).
    @inline(__always) var nonNullBase: UnsafeMutablePointer<Element> {
        baseAddress ?? UnsafeMutablePointer(bitPattern: MemoryLayout<Element>.alignment)!
    }
}
