/// A dense, row-major (C-order) array of `Float` with a shape: the value type the Swift layers take
/// and return. Copy-on-write through its `scalars` array.
///
/// A shape of `[]` is a scalar holding one element; any dimension may be zero.
public struct Tensor: Equatable, Sendable, CustomStringConvertible {
    /// The size of each dimension, outermost first.
    public let shape: [Int]
    /// The elements in row-major order; `scalars.count` is the product of `shape`.
    public var scalars: [Float]

    /// Wraps `scalars` with `shape`. Throws `.invalidArgument` if a dimension is negative or the
    /// element count does not match the shape.
    public init(shape: [Int], scalars: [Float]) throws(SwiftRNNError) {
        let count = try Tensor.elementCount(shape)
        guard count == scalars.count else {
            throw .invalidArgument("a tensor of shape \(describeShape(shape)) needs \(count) elements, got \(scalars.count)")
        }
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of zeros. Traps on a negative dimension (a programming error, like `Array(repeating:count:)`).
    public init(zeros shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(describeShape(shape))")
        self.shape = shape
        self.scalars = Array(repeating: 0, count: shape.reduce(1, *))
    }

    /// The number of dimensions.
    public var rank: Int { shape.count }
    /// The number of elements.
    public var count: Int { scalars.count }

    /// The element at a full index, e.g. `t[1, 0, 2]`.
    public subscript(_ index: Int...) -> Float {
        get { scalars[flatIndex(index)] }
        set { scalars[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "expected \(shape.count) indices, got \(index.count)")
        var flat = 0
        for (i, (ix, dim)) in zip(index, shape).enumerated() {
            precondition(ix >= 0 && ix < dim, "index \(ix) is out of range for dimension \(i) of size \(dim)")
            flat = flat * dim + ix
        }
        return flat
    }

    /// The shape and the scalars, for printing.
    public var description: String { "Tensor(shape: \(describeShape(shape)), scalars: \(scalars))" }

    /// The product of a shape's dimensions, checked for negative sizes and overflow.
    static func elementCount(_ shape: [Int]) throws(SwiftRNNError) -> Int {
        var count = 1
        for d in shape {
            guard d >= 0 else { throw .invalidArgument("negative dimension in shape \(describeShape(shape))") }
            let (p, o) = count.multipliedReportingOverflow(by: d)
            if o { throw .overflow("the shape \(describeShape(shape)) has more elements than fit in 64 bits") }
            count = p
        }
        return count
    }
}
