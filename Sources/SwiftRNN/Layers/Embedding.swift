#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Embedding: out[i] = weight[indices[i]], with torch's optional max_norm renormalisation.

/// Looks up `count` rows of `weight` (numEmbeddings, embeddingDim) into `out` (count, embeddingDim),
/// which must not overlap `weight`.
///
/// Every index is checked first: one outside `0..<numEmbeddings` throws `.indexOutOfRange` and
/// nothing is written (neither `out` nor `weight`). If `maxNorm` is given, each distinct looked-up
/// row whose `normType`-norm exceeds it is first scaled in place by `maxNorm / (norm + 1e-7)`,
/// exactly as `torch.embedding_renorm_` does.
public func embeddingForward(weight: UnsafeMutablePointer<Float>, numEmbeddings: Int, embeddingDim: Int,
                             indices: UnsafePointer<Int64>, count: Int,
                             maxNorm: Double?, normType: Double,
                             out: UnsafeMutablePointer<Float>) throws(SwiftRNNError) {
    func outOfRange(_ ix: Int64) -> SwiftRNNError {
        .indexOutOfRange("index \(ix) is out of range for Embedding(\(numEmbeddings), \(embeddingDim)): valid indices are 0 to \(numEmbeddings - 1)" + (numEmbeddings == 0 ? " (the table is empty)" : ""))
    }
    for i in 0..<count {
        let ix = indices[i]
        if ix < 0 || ix >= numEmbeddings { throw outOfRange(ix) }
    }
    if let maxNorm {
        try embeddingRenorm(weight: weight, numEmbeddings: numEmbeddings, embeddingDim: embeddingDim, indices: indices,
                            count: count, maxNorm: maxNorm, normType: normType)
    }
    // Each index is read once more here and the row address made from the value just checked: the caller
    // (a Python thread without the GIL) may share the array with a thread that writes into it meanwhile.
    // Such a change can alter which rows are copied, never send a read out of bounds (out is then partly
    // written: the error says what came).
    for i in 0..<count {
        let ix = indices[i]
        guard ix >= 0 && ix < numEmbeddings else { throw outOfRange(ix) }
        copyRow(from: weight + Int(ix) * embeddingDim, to: out + i * embeddingDim, count: embeddingDim)
    }
}

/// Copies `count` floats between buffers that do not overlap, with inline (unaligned) SIMD moves.
/// A lookup is a copy of many short rows: a `memmove` call per row (what `update(from:count:)` emits)
/// costs as much again as the copy itself (its size dispatch and unaligned-edge handling on every row);
/// four 32-byte moves per step keep the loads ahead of the stores, and the stores are 32-byte aligned.
/// Bit for bit the same as `memmove`.
@inline(__always)
func copyRow(from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int) {
    let src = UnsafeRawPointer(source), dst = UnsafeMutableRawPointer(destination)
    let bytes = count &* MemoryLayout<Float>.stride
    let v = MemoryLayout<SIMD8<Float>>.stride  // 32 bytes
    var o = 0
    // Copy single floats up to a 32-byte boundary of the destination first: a 32-byte store that straddles
    // two cache lines costs about twice one that does not (NumPy's outputs are only 16-byte aligned).
    let misalignment = Int(bitPattern: dst) & (v &- 1)
    let head = misalignment == 0 ? 0 : min(bytes, v &- misalignment)
    while o &+ MemoryLayout<UInt32>.stride <= head {
        dst.storeBytes(of: src.loadUnaligned(fromByteOffset: o, as: UInt32.self), toByteOffset: o, as: UInt32.self)
        o &+= MemoryLayout<UInt32>.stride
    }
    while o &+ 4 &* v <= bytes {
        let a = src.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
        let b = src.loadUnaligned(fromByteOffset: o &+ v, as: SIMD8<Float>.self)
        let c = src.loadUnaligned(fromByteOffset: o &+ 2 &* v, as: SIMD8<Float>.self)
        let d = src.loadUnaligned(fromByteOffset: o &+ 3 &* v, as: SIMD8<Float>.self)
        dst.storeBytes(of: a, toByteOffset: o, as: SIMD8<Float>.self)
        dst.storeBytes(of: b, toByteOffset: o &+ v, as: SIMD8<Float>.self)
        dst.storeBytes(of: c, toByteOffset: o &+ 2 &* v, as: SIMD8<Float>.self)
        dst.storeBytes(of: d, toByteOffset: o &+ 3 &* v, as: SIMD8<Float>.self)
        o &+= 4 &* v
    }
    while o &+ v <= bytes {
        dst.storeBytes(of: src.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), toByteOffset: o, as: SIMD8<Float>.self)
        o &+= v
    }
    // The last few floats copied as 32-bit patterns (a Float load/store could quiet a signalling NaN).
    while o < bytes {
        dst.storeBytes(of: src.loadUnaligned(fromByteOffset: o, as: UInt32.self), toByteOffset: o, as: UInt32.self)
        o &+= MemoryLayout<UInt32>.stride
    }
}

/// torch.embedding_renorm_: each distinct index's row, if its norm exceeds maxNorm, is scaled by
/// maxNorm / (norm + 1e-7). The norm is computed in float as torch reports it; the scale is applied
/// in float. Indices must already be valid.
func embeddingRenorm(weight: UnsafeMutablePointer<Float>, numEmbeddings: Int, embeddingDim: Int, indices: UnsafePointer<Int64>,
                     count: Int, maxNorm: Double, normType: Double) throws(SwiftRNNError) {
    // The distinct indices, in order: a malloc'd copy sorted in place, so that a huge index array is an
    // .outOfMemory error rather than a trap in Array's allocation.
    if count == 0 { return }
    let (bytes, o) = count.multipliedReportingOverflow(by: MemoryLayout<Int64>.stride)
    if o { throw .overflow("\(count) indices overflow") }
    guard let raw = malloc(bytes) else { throw .outOfMemory("cannot allocate \(bytes) bytes to sort the indices for max_norm") }
    defer { free(raw) }
    let sorted = UnsafeMutableBufferPointer(start: raw.bindMemory(to: Int64.self, capacity: count), count: count)
    _ = sorted.initialize(from: UnsafeBufferPointer(start: indices, count: count))
    heapSort(sorted)
    var previous: Int64 = -1
    for ix in sorted where ix != previous {
        previous = ix
        // The copy above is a second read of the caller's indices: check what it holds, not what was checked.
        guard ix >= 0 && ix < numEmbeddings else {
            throw .indexOutOfRange("index \(ix) is out of range for Embedding(\(numEmbeddings), \(embeddingDim))")
        }
        let row = weight + Int(ix) * embeddingDim
        let norm = Double(Float(pNorm(row, count: embeddingDim, p: normType)))
        if norm > maxNorm {
            let scale = Float(maxNorm / (norm + 1e-7))
            for j in 0..<embeddingDim { row[j] *= scale }
        }
    }
}

/// Sorts in place without allocating (Swift's sort may allocate a buffer of half the count).
func heapSort(_ a: UnsafeMutableBufferPointer<Int64>) {
    func siftDown(_ start: Int, _ end: Int) {
        var root = start
        while 2 * root + 1 < end {
            var child = 2 * root + 1
            if child + 1 < end && a[child] < a[child + 1] { child += 1 }
            if a[root] >= a[child] { return }
            a.swapAt(root, child)
            root = child
        }
    }
    let n = a.count
    var start = n / 2
    while start > 0 { start -= 1; siftDown(start, n) }
    var end = n
    while end > 1 { end -= 1; a.swapAt(0, end); siftDown(0, end) }
}

/// The p-norm of a vector, accumulated in double: p = inf is max |x|, -inf min |x|, 0 counts nonzeros.
/// A NaN element makes the norm NaN for every p but 0 (where it counts as nonzero), as in torch.
/// Squares and powers are taken in double, so a float vector's norm is finite (torch's float32 norm
/// overflows to inf once |x| > ~1.8e19).
func pNorm(_ x: UnsafePointer<Float>, count n: Int, p: Double) -> Double {
    if n == 0 { return 0 }
    if p == .infinity || p == -.infinity {
        // Swift's max / min drop a NaN operand; torch's amax / amin of |x| propagate it.
        var extreme = p == .infinity ? 0.0 : Double.infinity
        for i in 0..<n {
            let a = Double(abs(x[i]))
            if a.isNaN { return .nan }
            extreme = p == .infinity ? max(extreme, a) : min(extreme, a)
        }
        return extreme
    }
    if p == 0 { return Double((0..<n).reduce(0) { $0 + (x[$1] != 0 ? 1 : 0) }) }
    var s = 0.0
    if p == 2 {
        for i in 0..<n { s += Double(x[i]) * Double(x[i]) }
        return s.squareRoot()
    }
    if p == 1 {
        for i in 0..<n { s += Double(abs(x[i])) }
        return s
    }
    for i in 0..<n { s += pow(Double(abs(x[i])), p) }
    return pow(s, 1 / p)
}

/// A lookup table of vectors, `torch.nn.Embedding`.
public struct Embedding: Sendable {
    /// (numEmbeddings, embeddingDim). Rows are renormalised in place by lookups when `maxNorm` is set.
    public var weight: Tensor
    /// The row that stands for padding (already normalised to be non-negative), or nil.
    public let paddingIdx: Int?
    /// If set, looked-up rows with a larger `normType`-norm are rescaled to this norm.
    public let maxNorm: Double?
    /// The p of the p-norm used with `maxNorm`.
    public let normType: Double

    /// `num_embeddings`: rows of the table; valid indices are `0..<numEmbeddings`.
    public var numEmbeddings: Int { weight.shape[0] }
    /// `embedding_dim`: the size of each row, the output's last dimension.
    public var embeddingDim: Int { weight.shape[1] }

    /// Wraps an existing table. `paddingIdx` may be negative (counted from the end, as in torch);
    /// throws `.invalidArgument` if the weight is not 2-d or `paddingIdx` is out of range.
    /// The padding row is not zeroed: like torch's `from_pretrained`, the weight is taken as given.
    public init(weight: Tensor, paddingIdx: Int? = nil, maxNorm: Double? = nil, normType: Double = 2) throws(SwiftRNNError) {
        guard weight.rank == 2 else {
            throw .invalidArgument("Embedding expects a 2-d weight (num_embeddings, embedding_dim), got shape \(describeShape(weight.shape))")
        }
        self.weight = weight
        self.paddingIdx = try normalizedPaddingIndex(paddingIdx, numEmbeddings: weight.shape[0])
        self.maxNorm = maxNorm
        self.normType = normType
    }

    /// Looks up `indices`, read as an array of `shape` (default `[indices.count]`); returns
    /// (*shape, embeddingDim). Mutating because `maxNorm` renormalises rows of `weight`.
    public mutating func callAsFunction(_ indices: [Int], shape: [Int]? = nil) throws(SwiftRNNError) -> Tensor {
        let shape = shape ?? [indices.count]
        guard try Tensor.elementCount(shape) == indices.count else {
            throw .invalidArgument("\(indices.count) indices do not fill the shape \(describeShape(shape))")
        }
        let dim = embeddingDim, rows = numEmbeddings, maxNorm = maxNorm, normType = normType
        var out = Tensor(zeros: shape + [dim])
        let idx = indices.map { Int64($0) }
        var failure: SwiftRNNError?
        weight.scalars.withUnsafeMutableBufferPointer { w in
            idx.withUnsafeBufferPointer { ip in
                out.scalars.withUnsafeMutableBufferPointer { op in
                    do throws(SwiftRNNError) {
                        try embeddingForward(weight: w.nonNullBase, numEmbeddings: rows, embeddingDim: dim,
                                             indices: ip.nonNullBase, count: idx.count, maxNorm: maxNorm,
                                             normType: normType, out: op.nonNullBase)
                    } catch { failure = error }
                }
            }
        }
        if let failure { throw failure }
        return out
    }
}

/// torch's rule: a padding index in [-numEmbeddings, numEmbeddings) is valid; negative ones count
/// from the end. One source of truth for the Swift API and the C ABI.
public func normalizedPaddingIndex(_ paddingIdx: Int?, numEmbeddings: Int) throws(SwiftRNNError) -> Int? {
    guard let p = paddingIdx else { return nil }
    guard p >= -numEmbeddings && p < numEmbeddings else {
        throw .invalidArgument("padding_idx must be within num_embeddings: expected -\(numEmbeddings) <= padding_idx < \(numEmbeddings), got \(p)")
    }
    return p < 0 ? p + numEmbeddings : p
}
