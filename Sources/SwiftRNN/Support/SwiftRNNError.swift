/// Every failure the core reports. Each case maps to one status code of the C ABI and, from there,
/// to one Python exception type (named in the case's documentation).
public enum SwiftRNNError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A size, shape or value is invalid (Python: `ValueError`).
    case invalidArgument(String)
    /// An index is out of range (Python: `IndexError`).
    case indexOutOfRange(String)
    /// Size arithmetic overflows `Int` (Python: `OverflowError`).
    case overflow(String)
    /// A workspace could not be allocated (Python: `MemoryError`).
    case outOfMemory(String)

    /// The error's message: what was expected and what came.
    public var description: String {
        switch self {
        case .invalidArgument(let m), .indexOutOfRange(let m), .overflow(let m), .outOfMemory(let m): return m
        }
    }
}

/// Formats a shape the way Python prints a tuple: `(4, 2, 3)`, `(5,)`, `()`.
@inlinable
public func describeShape(_ shape: [Int]) -> String {
    if shape.count == 1 { return "(\(shape[0]),)" }
    return "(" + shape.map(String.init).joined(separator: ", ") + ")"
}
