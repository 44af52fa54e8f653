// What every export of the C ABI shares: error messages and status codes, NULL checks, library facts.
// An export only converts C arguments, calls the core and turns a thrown SwiftRNNError (or RandomError)
// into a status code plus message. No logic of its own, no Swift object crosses the boundary, nothing traps.
import CSwiftRNN
import SwiftRNN

/// Writes `message` (truncated, NUL-terminated) into the caller's buffer.
func writeMessage(_ message: String, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) {
    guard let err, cap > 0 else { return }
    var utf8 = Array(message.utf8.prefix(cap - 1))
    // Never cut a multi-byte UTF-8 sequence in half.
    while let last = utf8.last, last & 0xC0 == 0x80 || (last & 0x80 != 0 && utf8.count == cap - 1) {
        utf8.removeLast()
        if last & 0xC0 != 0x80 { break }
    }
    utf8.withUnsafeBufferPointer { b in
        for (i, byte) in b.enumerated() { err[i] = CChar(bitPattern: byte) }
    }
    err[utf8.count] = 0
}

/// The status code for an error, with its message written to `err`.
func fail(_ error: SwiftRNNError, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    writeMessage(error.description, err, cap)
    switch error {
    case .invalidArgument: return Int32(SRNN_VALUE_ERROR.rawValue)
    case .indexOutOfRange: return Int32(SRNN_INDEX_ERROR.rawValue)
    case .overflow: return Int32(SRNN_OVERFLOW_ERROR.rawValue)
    case .outOfMemory: return Int32(SRNN_MEMORY_ERROR.rawValue)
    }
}

/// A refused random fill or generator state (ValueError), with its message written to `err`.
func fail(_ error: RandomError, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    fail(SwiftRNNError.invalidArgument(error.message), err, cap)
}

let ok = Int32(SRNN_OK.rawValue)

/// Runs `body`, mapping a thrown error to its status code.
@inline(__always)
func guarded(_ err: UnsafeMutablePointer<CChar>?, _ cap: Int, _ body: () throws(SwiftRNNError) -> Void) -> Int32 {
    do throws(SwiftRNNError) { try body(); return ok } catch { return fail(error, err, cap) }
}

/// Rejects a null pointer for a buffer that must exist.
func require(_ p: UnsafeRawPointer?, _ name: String) throws(SwiftRNNError) {
    if p == nil { throw .invalidArgument("\(name) must not be NULL") }
}

@_cdecl("srnn_abi_version")
public func srnn_abi_version() -> Int32 { SRNN_ABI_VERSION }

/// The GEMM kernels actually used: "avx512" (CPU has AVX-512 and SWIFTRNN_SIMD is not "avx2"),
/// "avx2+fma" (other x86-64) or "portable".
private let simdLevel: StaticString = {
    switch gemmSIMDLevel {
    case "avx512": return "avx512"
    case "avx2+fma": return "avx2+fma"
    default: return "portable"
    }
}()

@_cdecl("srnn_simd_level")
public func srnn_simd_level() -> UnsafePointer<CChar> {
    UnsafeRawPointer(simdLevel.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("srnn_fma_peak_gflops")
public func srnn_fma_peak_gflops(_ seconds: Double) -> Double {
    fmaPeakGFLOPS(seconds: seconds.isFinite ? min(max(seconds, 1e-4), 10) : 0.1)
}

@_cdecl("srnn_max_num_threads")
public func srnn_max_num_threads() -> Int32 { Int32(maxKernelThreads) }

@_cdecl("srnn_set_num_threads")
public func srnn_set_num_threads(_ n: Int32) { setNumThreads(Int(n)) }

@_cdecl("srnn_get_num_threads")
public func srnn_get_num_threads() -> Int32 { Int32(clamping: getNumThreads()) }
