#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The product of `factors`, or `.overflow` naming `what` if it does not fit in `Int`.
/// Negative factors are the caller's to reject first.
@inlinable
public func checkedProduct(_ factors: Int..., what: @autoclosure () -> String) throws(SwiftRNNError) -> Int {
    var result = 1
    for f in factors {
        let (p, o) = result.multipliedReportingOverflow(by: f)
        if o { throw .overflow("\(what()) overflows: the sizes \(factors.map(String.init).joined(separator: " x ")) do not fit in 64 bits") }
        result = p
    }
    return result
}

/// A malloc'd Float workspace that reports allocation failure as `.outOfMemory` instead of trapping.
struct Workspace: ~Copyable {
    let base: UnsafeMutablePointer<Float>?
    let count: Int

    init(count: Int, what: String) throws(SwiftRNNError) {
        self.count = count
        if count == 0 { base = nil; return }
        let (bytes, o) = count.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        if o { throw .overflow("\(what) workspace of \(count) floats overflows") }
        guard let raw = malloc(bytes) else {
            throw .outOfMemory("cannot allocate \(bytes) bytes for the \(what) workspace")
        }
        base = raw.bindMemory(to: Float.self, capacity: count)
    }

    /// A valid pointer even for an empty workspace (never dereferenced then).
    var pointer: UnsafeMutablePointer<Float> { base ?? UnsafeMutablePointer(bitPattern: MemoryLayout<Float>.alignment)! }

    deinit { free(base) }
}
