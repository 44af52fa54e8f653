// The C ABI of nn.Embedding (lookup and backward): @_cdecl functions declared in Sources/CSwiftRNN/include/swiftrnn*.h.
// Each one converts C arguments, checks sizes and pointers, calls the core and maps a thrown error to a
// status code plus message (ABISupport.swift). No logic of its own, no Swift object crosses the boundary,
// nothing traps.
import CSwiftRNN
import SwiftRNN

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

@_cdecl("srnn_embedding_backward")
public func srnn_embedding_backward(_ indices: UnsafePointer<Int64>?, _ n: Int64, _ gradOut: UnsafePointer<Float>?,
                                    _ numEmbeddings: Int64, _ embeddingDim: Int64, _ paddingIdx: Int64,
                                    _ scaleGradByFreq: Int32, _ gradWeight: UnsafeMutablePointer<Float>?,
                                    _ err: UnsafeMutablePointer<CChar>?, _ cap: Int) -> Int32 {
    guarded(err, cap) { () throws(SwiftRNNError) in
        try checkEmbeddingSizes(numEmbeddings, embeddingDim, n)
        if n == 0 { return }
        try require(indices, "indices"); try require(gradOut, "grad_out"); try require(gradWeight, "grad_weight")
        try embeddingBackward(indices: indices!, count: Int(n), gradOut: gradOut!, numEmbeddings: Int(numEmbeddings),
                              embeddingDim: Int(embeddingDim), paddingIdx: paddingIdx >= 0 ? Int(paddingIdx) : nil,
                              scaleGradByFreq: scaleGradByFreq != 0, gradWeight: gradWeight!)
    }
}
