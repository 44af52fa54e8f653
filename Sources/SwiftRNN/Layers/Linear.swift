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

/// `linearForward`, then the softmax (or log-softmax if `log`) of every output row, in place, a block of rows at a
/// time: each block's logits are still in cache when their softmax reads them, instead of a second pass over the
/// whole (m, outFeatures) output in memory. The bits of `linearForward` followed by `softmaxForward`.
/// Without `packedWeight`, more than `fewRowsMax` rows pack the weight once for all the blocks.
public func linearSoftmaxForward(x: UnsafePointer<Float>, m: Int, inFeatures: Int, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>?, outFeatures: Int, log: Bool, out: UnsafeMutablePointer<Float>,
                                 packedWeight: UnsafePointer<Float>? = nil) throws(SwiftRNNError) {
    if m <= 0 || outFeatures <= 0 { return }
    let packOnce = packedWeight == nil && m > fewRowsMax && inFeatures > 0
    let packing = try Workspace(count: packOnce ? packedWeightCount(rows: outFeatures, cols: inFeatures) : 0,
                                what: "the packed Linear weight")
    if packOnce { packWeight(weight, rows: outFeatures, cols: inFeatures, into: packing.pointer) }
    let packed = packOnce ? UnsafePointer(packing.pointer) : packedWeight
    // A log-softmax reads its input again after summing the exponentials, which a softmax in place has overwritten:
    // it writes each row to `scratch`, copied back while in cache.
    let scratch = try Workspace(count: log ? outFeatures : 0, what: "a log-softmax row")
    let block = gemmMC  // rows per block: the GEMM's own row block, so each block costs what it would in one call
    var r0 = 0
    while r0 < m {
        let rows = min(block, m - r0)
        linearForward(x: x + r0 * inFeatures, m: rows, inFeatures: inFeatures, weight: weight, bias: bias,
                      outFeatures: outFeatures, out: out + r0 * outFeatures, packedWeight: packed)
        for r in r0..<(r0 + rows) {
            let row = out + r * outFeatures
            if log {
                softmaxRow(row, count: outFeatures, log: true, out: scratch.pointer)
                row.update(from: scratch.pointer, count: outFeatures)
            } else {
                softmaxRow(row, count: outFeatures, log: false, out: row)
            }
        }
        r0 += rows
    }
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
