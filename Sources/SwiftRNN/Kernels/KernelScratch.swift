// Per-thread scratch memory for the kernels (packing buffers): grow-only, 64-byte aligned, kept in
// thread-local storage and freed when the thread exits. After a thread's first call at a given
// size, a kernel call allocates nothing.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

private struct ScratchHeader {
    var buffer: UnsafeMutableRawPointer?
    var bytes: Int
}

private let scratchKey: pthread_key_t = {
    var key = pthread_key_t()
    let rc = pthread_key_create(&key) { raw in
        guard let header = raw?.assumingMemoryBound(to: ScratchHeader.self) else { return }
        free(header.pointee.buffer)
        header.deinitialize(count: 1)
        header.deallocate()
    }
    precondition(rc == 0, "pthread_key_create failed")
    return key
}()

/// This thread's scratch buffer of at least `count` floats, or nil if it cannot be allocated.
/// Valid until the next call on the same thread; contents are unspecified.
func kernelScratch(floats count: Int) -> UnsafeMutablePointer<Float>? {
    let needed = count * MemoryLayout<Float>.stride
    let header: UnsafeMutablePointer<ScratchHeader>
    if let raw = pthread_getspecific(scratchKey) {
        header = raw.assumingMemoryBound(to: ScratchHeader.self)
    } else {
        header = .allocate(capacity: 1)
        header.initialize(to: ScratchHeader(buffer: nil, bytes: 0))
        pthread_setspecific(scratchKey, header)
    }
    if header.pointee.bytes < needed {
        free(header.pointee.buffer)
        header.pointee.buffer = nil
        header.pointee.bytes = 0
        // Grow by half again so that slowly growing sizes do not reallocate every call.
        let bytes = max(needed, needed / 2 * 3, 64 * 1024)
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else { return nil }
        header.pointee.buffer = raw
        header.pointee.bytes = bytes
    }
    return header.pointee.buffer!.assumingMemoryBound(to: Float.self)
}
