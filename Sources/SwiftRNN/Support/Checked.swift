#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The product of the factors (two to five), or `.overflow` naming `what` if it does not fit in `Int`.
/// Negative factors are the caller's to reject first. Fixed arities rather than a variadic list: every
/// layer call validates its sizes with these, and a variadic call builds an array each time (an
/// allocation and a release per call, a visible share of a tiny RNN call).
@inlinable
public func checkedProduct(_ a: Int, _ b: Int, what: @autoclosure () -> String) throws(SwiftRNNError) -> Int {
    try checkedProduct(factors: (a, b, 1, 1, 1), count: 2, what: what())
}

@inlinable
public func checkedProduct(_ a: Int, _ b: Int, _ c: Int, what: @autoclosure () -> String) throws(SwiftRNNError) -> Int {
    try checkedProduct(factors: (a, b, c, 1, 1), count: 3, what: what())
}

@inlinable
public func checkedProduct(_ a: Int, _ b: Int, _ c: Int, _ d: Int,
                           what: @autoclosure () -> String) throws(SwiftRNNError) -> Int {
    try checkedProduct(factors: (a, b, c, d, 1), count: 4, what: what())
}

@inlinable
public func checkedProduct(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ e: Int,
                           what: @autoclosure () -> String) throws(SwiftRNNError) -> Int {
    try checkedProduct(factors: (a, b, c, d, e), count: 5, what: what())
}

/// The first `count` of `factors` multiplied (the others are 1), the error naming them.
@usableFromInline @inline(__always)
func checkedProduct(factors: (Int, Int, Int, Int, Int), count: Int,
                    what: @autoclosure () -> String) throws(SwiftRNNError) -> Int {
    let (p1, o1) = factors.0.multipliedReportingOverflow(by: factors.1)
    let (p2, o2) = p1.multipliedReportingOverflow(by: factors.2)
    let (p3, o3) = p2.multipliedReportingOverflow(by: factors.3)
    let (p4, o4) = p3.multipliedReportingOverflow(by: factors.4)
    if o1 || o2 || o3 || o4 {
        let sizes = [factors.0, factors.1, factors.2, factors.3, factors.4].prefix(count)
        throw .overflow("\(what()) overflows: the sizes \(sizes.map(String.init).joined(separator: " x ")) do not fit in 64 bits")
    }
    return p4
}

/// A malloc'd Float workspace that reports allocation failure as `.outOfMemory` instead of trapping.
/// Large blocks come from (and go back to) `workspaceBlocks`: a backward pass allocates the same
/// workspaces every step, and fresh large mallocs are fresh mmaps whose every page faults.
struct Workspace: ~Copyable {
    let base: UnsafeMutablePointer<Float>?
    let count: Int

    init(count: Int, what: String) throws(SwiftRNNError) {
        self.count = count
        if count == 0 { base = nil; return }
        let (bytes, o) = count.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        if o { throw .overflow("\(what) workspace of \(count) floats overflows") }
        guard let raw = workspaceBlocks.take(bytes: bytes) ?? malloc(bytes) else {
            throw .outOfMemory("cannot allocate \(bytes) bytes for the \(what) workspace")
        }
        base = raw.bindMemory(to: Float.self, capacity: count)
    }

    /// A valid pointer even for an empty workspace (never dereferenced then).
    var pointer: UnsafeMutablePointer<Float> { base ?? UnsafeMutablePointer(bitPattern: MemoryLayout<Float>.alignment)! }

    deinit {
        if let base { workspaceBlocks.give(UnsafeMutableRawPointer(base), bytes: count * MemoryLayout<Float>.stride) }
    }
}

/// Freed workspace blocks of at least `minBytes`, kept for the next workspace of exactly the same
/// size: at most `maxBlocks` blocks and `maxBytes` bytes (the oldest are freed first). Thread-safe.
final class BlockCache: Sendable {
    static let minBytes = 64 * 1024
    let maxBlocks: Int
    let maxBytes: Int
    /// (address, bytes), oldest first.
    private let blocks = PthreadLocked<[(UInt, Int)]>([])

    init(maxBlocks: Int, maxBytes: Int) {
        self.maxBlocks = maxBlocks
        self.maxBytes = maxBytes
    }

    deinit {
        blocks.withLock { b in for (address, _) in b { free(UnsafeMutableRawPointer(bitPattern: address)) } }
    }

    private func withLock<R>(_ body: (inout [(UInt, Int)]) -> R) -> R { blocks.withLock(body) }

    /// A cached block of exactly `bytes` bytes, or nil.
    func take(bytes: Int) -> UnsafeMutableRawPointer? {
        if bytes < Self.minBytes { return nil }
        let address: UInt? = withLock { b in
            guard let i = b.lastIndex(where: { $0.1 == bytes }) else { return nil }
            return b.remove(at: i).0
        }
        return address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
    }

    /// Keeps `pointer` (a malloc'd block of `bytes`) for reuse, or frees it.
    func give(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        if bytes < Self.minBytes || bytes > maxBytes / 4 { free(pointer); return }
        let evicted: [UInt] = withLock { b in
            var out: [UInt] = []
            var total = b.reduce(0) { $0 + $1.1 }
            while !b.isEmpty && (b.count >= maxBlocks || total + bytes > maxBytes) {
                let (address, size) = b.removeFirst()
                out.append(address)
                total -= size
            }
            b.append((UInt(bitPattern: pointer), bytes))
            return out
        }
        for address in evicted { free(UnsafeMutableRawPointer(bitPattern: address)) }
    }

    /// (blocks, bytes) waiting for reuse.
    var contents: (blocks: Int, bytes: Int) {
        withLock { b in (b.count, b.reduce(0) { $0 + $1.1 }) }
    }
}

/// The workspaces' block cache (16 blocks, 64 MB at most).
let workspaceBlocks = BlockCache(maxBlocks: 16, maxBytes: 64 << 20)
