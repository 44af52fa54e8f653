// The C ABI: @_cdecl functions declared in Sources/CSwiftRNN/include/swiftrnn.h.
// Each one only converts C arguments, calls the core and turns a thrown SwiftRNNError into a status
// code plus message. No logic of its own, no Swift object crosses the boundary, nothing traps.
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

/// Rejects negative sizes and sizes whose weight, rows (output or its gradient) or indices overflow in bytes.
func checkEmbeddingSizes(_ numEmbeddings: Int64, _ embeddingDim: Int64, _ n: Int64) throws(SwiftRNNError) {
    guard numEmbeddings >= 0, embeddingDim >= 0, n >= 0 else {
        throw .invalidArgument("negative size: num_embeddings=\(numEmbeddings), embedding_dim=\(embeddingDim), n=\(n)")
    }
    let float = MemoryLayout<Float>.stride
    _ = try checkedProduct(Int(numEmbeddings), Int(embeddingDim), float, what: "the embedding weight in bytes")
    _ = try checkedProduct(Int(n), Int(embeddingDim), float, what: "the embedding output in bytes")
    _ = try checkedProduct(Int(n), MemoryLayout<Int64>.stride, what: "the indices in bytes")
}

@_cdecl("srnn_embedding_forward")
public func srnn_embedding_forward(_ weight: UnsafeMutablePointer<Float>?, _ numEmbeddings: Int64, _ embeddingDim: Int64,
                                   _ indices: UnsafePointer<Int64>?, _ n: Int64, _ maxNorm: Double, _ normType: Double,
                                   _ out: UnsafeMutablePointer<Float>?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        try checkEmbeddingSizes(numEmbeddings, embeddingDim, n)
        if n == 0 { return }
        try require(weight, "weight"); try require(indices, "indices"); try require(out, "out")
        try embeddingForward(weight: weight!, numEmbeddings: Int(numEmbeddings), embeddingDim: Int(embeddingDim),
                             indices: indices!, count: Int(n), maxNorm: maxNorm >= 0 ? maxNorm : nil,
                             normType: normType, out: out!)
    }
}

/// Rejects negative sizes and sizes whose input, output, weight or bias would not fit in memory's address range.
func checkLinearSizes(_ m: Int64, _ inFeatures: Int64, _ outFeatures: Int64) throws(SwiftRNNError) {
    guard m >= 0, inFeatures >= 0, outFeatures >= 0 else {
        throw .invalidArgument("negative size: m=\(m), in_features=\(inFeatures), out_features=\(outFeatures)")
    }
    let float = MemoryLayout<Float>.stride
    _ = try checkedProduct(Int(m), Int(max(inFeatures, outFeatures)), float, what: "the linear input/output in bytes")
    _ = try checkedProduct(Int(inFeatures), Int(outFeatures), float, what: "the linear weight in bytes")
    _ = try checkedProduct(Int(outFeatures), float, what: "the linear bias in bytes")
}

@_cdecl("srnn_linear_forward")
public func srnn_linear_forward(_ x: UnsafePointer<Float>?, _ m: Int64, _ inFeatures: Int64, _ weight: UnsafePointer<Float>?,
                                _ bias: UnsafePointer<Float>?, _ outFeatures: Int64, _ out: UnsafeMutablePointer<Float>?,
                                _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        try checkLinearSizes(m, inFeatures, outFeatures)
        if m == 0 || outFeatures == 0 { return }
        try require(out, "out")
        if inFeatures > 0 { try require(x, "x"); try require(weight, "weight") }
        let dangling = UnsafePointer<Float>(bitPattern: MemoryLayout<Float>.alignment)!
        linearForward(x: x ?? dangling, m: Int(m), inFeatures: Int(inFeatures), weight: weight ?? dangling,
                      bias: bias, outFeatures: Int(outFeatures), out: out!)
    }
}

/// Floats a packed (rows, cols) weight takes; nil for a negative size or an overflow.
func packedWeightSize(_ rows: Int64, _ cols: Int64) -> Int? {
    guard rows >= 0, cols >= 0,
          (try? checkedProduct(Int(cols), Int(rows) / 16 + 1, 16, MemoryLayout<Float>.stride, what: "")) != nil
    else { return nil }
    return packedWeightCount(rows: Int(rows), cols: Int(cols))
}

/// Rejects a packed weight of another size than a (rows, cols) weight packs to.
func checkPackedWeight(_ packed: UnsafePointer<Float>?, _ packedSize: Int64, rows: Int64, cols: Int64,
                       what: String) throws(SwiftRNNError) {
    guard let need = packedWeightSize(rows, cols) else {
        throw .overflow("\(what): a (\(rows), \(cols)) weight's packed size overflows")
    }
    guard packedSize == need else {
        throw .invalidArgument("\(what) must be the packing of a (\(rows), \(cols)) weight: \(need) floats, got \(packedSize)")
    }
    if need > 0 { try require(packed, what) }
}

@_cdecl("srnn_packed_weight_size")
public func srnn_packed_weight_size(_ rows: Int64, _ cols: Int64) -> Int64 {
    packedWeightSize(rows, cols).map { Int64($0) } ?? -1
}

@_cdecl("srnn_pack_weight")
public func srnn_pack_weight(_ weight: UnsafePointer<Float>?, _ rows: Int64, _ cols: Int64,
                             _ packed: UnsafeMutablePointer<Float>?, _ packedSize: Int64,
                             _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        guard rows >= 0, cols >= 0 else { throw .invalidArgument("negative size: rows=\(rows), cols=\(cols)") }
        try checkPackedWeight(packed, packedSize, rows: rows, cols: cols, what: "packed")
        if packedSize == 0 { return }
        try require(weight, "weight")
        packWeight(weight!, rows: Int(rows), cols: Int(cols), into: packed!)
    }
}

@_cdecl("srnn_linear_forward_packed")
public func srnn_linear_forward_packed(_ x: UnsafePointer<Float>?, _ m: Int64, _ inFeatures: Int64,
                                       _ packed: UnsafePointer<Float>?, _ packedSize: Int64,
                                       _ bias: UnsafePointer<Float>?, _ outFeatures: Int64, _ out: UnsafeMutablePointer<Float>?,
                                       _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        try checkLinearSizes(m, inFeatures, outFeatures)
        try checkPackedWeight(packed, packedSize, rows: outFeatures, cols: inFeatures, what: "the packed Linear weight")
        if m == 0 || outFeatures == 0 { return }
        try require(out, "out")
        if inFeatures > 0 { try require(x, "x") }
        let dangling = UnsafePointer<Float>(bitPattern: MemoryLayout<Float>.alignment)!
        linearForward(x: x ?? dangling, m: Int(m), inFeatures: Int(inFeatures), weight: dangling, bias: bias,
                      outFeatures: Int(outFeatures), out: out!, packedWeight: packed ?? dangling)
    }
}

@_cdecl("srnn_softmax")
public func srnn_softmax(_ x: UnsafePointer<Float>?, _ outer: Int64, _ dim: Int64, _ inner: Int64, _ log: Int32,
                         _ out: UnsafeMutablePointer<Float>?, _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        guard outer >= 0, dim >= 0, inner >= 0 else {
            throw .invalidArgument("negative size: outer=\(outer), dim=\(dim), inner=\(inner)")
        }
        if try checkedProduct(Int(outer), Int(dim), Int(inner), MemoryLayout<Float>.stride, what: "the softmax input in bytes") == 0 { return }
        try require(x, "x"); try require(out, "out")
        softmaxForward(x!, outer: Int(outer), dim: Int(dim), inner: Int(inner), log: log != 0, out: out!)
    }
}

/// The core's configuration for a C descriptor; throws for values outside the enums.
func rnnConfig(_ desc: UnsafePointer<srnn_rnn_desc>?) throws(SwiftRNNError) -> RNNConfig {
    guard let d = desc?.pointee else { throw .invalidArgument("desc must not be NULL") }
    guard let nonlinearity = Nonlinearity(rawValue: d.nonlinearity) else {
        throw .invalidArgument("unknown nonlinearity code \(d.nonlinearity): expected 0 (tanh) or 1 (relu)")
    }
    guard Int64(Int.min) <= d.input_size, d.input_size <= Int64(Int.max) else { throw .overflow("input_size does not fit in Int") }
    return RNNConfig(inputSize: Int(d.input_size), hiddenSize: Int(d.hidden_size), numLayers: Int(d.num_layers),
                     nonlinearity: nonlinearity, bias: d.has_bias != 0, batchFirst: d.batch_first != 0,
                     bidirectional: d.bidirectional != 0)
}

@_cdecl("srnn_rnn_num_params")
public func srnn_rnn_num_params(_ desc: UnsafePointer<srnn_rnn_desc>?) -> Int64 {
    guard let config = try? rnnConfig(desc), (try? config.validate()) != nil else { return -1 }
    return Int64(config.parameterCount)
}

@_cdecl("srnn_rnn_param_shape")
public func srnn_rnn_param_shape(_ desc: UnsafePointer<srnn_rnn_desc>?, _ index: Int64,
                                 _ shape: UnsafeMutablePointer<Int64>?) -> Int32 {
    guard let config = try? rnnConfig(desc), (try? config.validate()) != nil,
          index >= 0, index < config.parameterCount, let shape else { return -1 }
    let (rows, cols) = config.parameterShape(at: Int(index))
    shape[0] = Int64(rows)
    guard let cols else { return 1 }
    shape[1] = Int64(cols)
    return 2
}

@_cdecl("srnn_rnn_forward")
public func srnn_rnn_forward(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                             _ numParams: Int64, _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                             _ h0: UnsafePointer<Float>?, _ dropoutMasks: UnsafePointer<Float>?,
                             _ output: UnsafeMutablePointer<Float>?, _ hn: UnsafeMutablePointer<Float>?,
                             _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    rnnForwardExport(desc, params, numParams, packed: nil, x, seqLen, batch, h0, dropoutMasks, output, hn, err, cap)
}

@_cdecl("srnn_rnn_forward_packed")
public func srnn_rnn_forward_packed(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                                    _ numParams: Int64, _ packed: UnsafePointer<UnsafePointer<Float>?>?,
                                    _ packedSizes: UnsafePointer<Int64>?, _ numPacked: Int64,
                                    _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                                    _ h0: UnsafePointer<Float>?, _ dropoutMasks: UnsafePointer<Float>?,
                                    _ output: UnsafeMutablePointer<Float>?, _ hn: UnsafeMutablePointer<Float>?,
                                    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    rnnForwardExport(desc, params, numParams, packed: (packed, packedSizes, numPacked), x, seqLen, batch, h0,
                     dropoutMasks, output, hn, err, cap)
}

/// The packed weights of `srnn_rnn_forward_packed`, checked: W_ih and W_hh per layer and direction, each the
/// size its weight packs to (an empty one, input_size 0, may be NULL: it is never read).
private func rnnPackedWeights(_ config: RNNConfig, _ packed: UnsafePointer<UnsafePointer<Float>?>?,
                              _ packedSizes: UnsafePointer<Int64>?, _ numPacked: Int64) throws(SwiftRNNError) -> [UnsafePointer<Float>] {
    let D = config.numDirections, H = Int64(config.hiddenSize)
    try config.checkPackedWeightCount(Int(clamping: numPacked))
    guard let packed, let packedSizes else { throw .invalidArgument("packed and packed_sizes must not be NULL") }
    let dangling = UnsafePointer<Float>(bitPattern: MemoryLayout<Float>.alignment)!
    var pointers: [UnsafePointer<Float>] = []
    for i in 0..<Int(numPacked) {
        let layer = i / (2 * D), isHH = i % 2 == 1
        let cols = isHH ? H : Int64(layer == 0 ? config.inputSize : D * config.hiddenSize)
        try checkPackedWeight(packed[i], packedSizes[i], rows: H, cols: cols,
                              what: "packed weight \(i) (\(config.parameterName(at: (i / 2) * config.paramsPerDirection + i % 2)))")
        pointers.append(packed[i] ?? dangling)
    }
    return pointers
}

/// srnn_rnn_forward, with the caller's packed weights when `packed` is given.
private func rnnForwardExport(_ desc: UnsafePointer<srnn_rnn_desc>?, _ params: UnsafePointer<UnsafePointer<Float>?>?,
                              _ numParams: Int64,
                              packed: (UnsafePointer<UnsafePointer<Float>?>?, UnsafePointer<Int64>?, Int64)?,
                              _ x: UnsafePointer<Float>?, _ seqLen: Int64, _ batch: Int64,
                              _ h0: UnsafePointer<Float>?, _ dropoutMasks: UnsafePointer<Float>?,
                              _ output: UnsafeMutablePointer<Float>?, _ hn: UnsafeMutablePointer<Float>?,
                              _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        let config = try rnnConfig(desc)
        try config.validate()
        let pointers = try rnnParameterPointers(config, params, numParams)
        var packedPointers: [UnsafePointer<Float>]? = nil
        if let (p, sizes, count) = packed { packedPointers = try rnnPackedWeights(config, p, sizes, count) }
        try checkSequence(seqLen, batch)
        if batch == 0 { return }
        try require(x, "x"); try require(output, "output"); try require(hn, "hn")
        func run(_ packedWeights: UnsafeBufferPointer<UnsafePointer<Float>>?) throws(SwiftRNNError) {
            try rnnForward(config: config, parameters: pointers, x: x!, seqLen: Int(seqLen), batch: Int(batch), h0: h0,
                           dropoutMasks: dropoutMasks, output: output!, hn: hn!, packedWeights: packedWeights)
        }
        if let packedPointers {
            try packedPointers.withUnsafeBufferPointer { (buffer) throws(SwiftRNNError) in try run(buffer) }
        } else {
            try run(nil)
        }
    }
}
