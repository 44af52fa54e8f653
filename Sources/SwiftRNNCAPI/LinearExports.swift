// The C ABI of nn.Linear (forward, backward, packed weights): @_cdecl functions declared in Sources/CSwiftRNN/include/swiftrnn*.h.
// Each one converts C arguments, checks sizes and pointers, calls the core and maps a thrown error to a
// status code plus message (ABISupport.swift). No logic of its own, no Swift object crosses the boundary,
// nothing traps.
import CSwiftRNN
import SwiftRNN

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

@_cdecl("srnn_linear_softmax_forward")
public func srnn_linear_softmax_forward(_ x: UnsafePointer<Float>?, _ m: Int64, _ inFeatures: Int64,
                                        _ weight: UnsafePointer<Float>?, _ packed: UnsafePointer<Float>?,
                                        _ packedSize: Int64, _ bias: UnsafePointer<Float>?, _ outFeatures: Int64,
                                        _ log: Int32, _ out: UnsafeMutablePointer<Float>?,
                                        _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        try checkLinearSizes(m, inFeatures, outFeatures)
        if packed != nil || packedSize != 0 {
            try checkPackedWeight(packed, packedSize, rows: outFeatures, cols: inFeatures, what: "the packed Linear weight")
        }
        if m == 0 || outFeatures == 0 { return }
        try require(out, "out")
        if inFeatures > 0 { try require(x, "x"); if packed == nil { try require(weight, "weight") } }
        let dangling = UnsafePointer<Float>(bitPattern: MemoryLayout<Float>.alignment)!
        try linearSoftmaxForward(x: x ?? dangling, m: Int(m), inFeatures: Int(inFeatures), weight: weight ?? dangling,
                                 bias: bias, outFeatures: Int(outFeatures), log: log != 0, out: out!,
                                 packedWeight: packed)
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

@_cdecl("srnn_linear_backward")
public func srnn_linear_backward(_ x: UnsafePointer<Float>?, _ gradOut: UnsafePointer<Float>?, _ m: Int64,
                                 _ inFeatures: Int64, _ weight: UnsafePointer<Float>?, _ outFeatures: Int64,
                                 _ gradX: UnsafeMutablePointer<Float>?, _ gradWeight: UnsafeMutablePointer<Float>?,
                                 _ gradBias: UnsafeMutablePointer<Float>?,
                                 _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        try checkLinearSizes(m, inFeatures, outFeatures)
        if m == 0 || outFeatures == 0 { return }
        try require(gradOut, "grad_out")
        if inFeatures > 0 { try require(x, "x"); try require(weight, "weight") }
        let dangling = UnsafePointer<Float>(bitPattern: MemoryLayout<Float>.alignment)!
        linearBackward(x: x ?? dangling, gradOut: gradOut!, m: Int(m), inFeatures: Int(inFeatures),
                       weight: weight ?? dangling, outFeatures: Int(outFeatures),
                       gradX: inFeatures > 0 ? gradX : nil, gradWeight: inFeatures > 0 ? gradWeight : nil,
                       gradBias: gradBias)
    }
}
