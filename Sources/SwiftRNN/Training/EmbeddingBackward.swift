// Backward of Embedding: the gradient of a looked-up row is the sum of the output gradients of the
// positions that looked it up.

/// Backward of `embeddingForward`: for each of the `count` positions i, in order,
/// gradWeight[indices[i]] += scale · gradOut[i], where scale is 1, or 1 / (the number of times
/// indices[i] occurs among the `count` indices) if `scaleGradByFreq` — as torch's
/// embedding_dense_backward. Positions whose index is `paddingIdx` contribute nothing.
///
/// gradOut is (count, embeddingDim), gradWeight (numEmbeddings, embeddingDim). Every index is checked
/// first: one outside `0..<numEmbeddings` throws `.indexOutOfRange` and nothing is written.
public func embeddingBackward(indices: UnsafePointer<Int64>, count: Int, gradOut: UnsafePointer<Float>,
                              numEmbeddings: Int, embeddingDim: Int, paddingIdx: Int?, scaleGradByFreq: Bool,
                              gradWeight: UnsafeMutablePointer<Float>) throws(SwiftRNNError) {
    for i in 0..<count {
        let ix = indices[i]
        if ix < 0 || ix >= numEmbeddings {
            throw .indexOutOfRange("index \(ix) is out of range for Embedding(\(numEmbeddings), \(embeddingDim)): valid indices are 0 to \(numEmbeddings - 1)" + (numEmbeddings == 0 ? " (the table is empty)" : ""))
        }
    }
    let padding = paddingIdx.map(Int64.init) ?? -1
    var counts: [Int64: Int] = [:]
    if scaleGradByFreq {
        for i in 0..<count { counts[indices[i], default: 0] += 1 }
    }
    for i in 0..<count where indices[i] != padding {
        let row = gradWeight + Int(indices[i]) * embeddingDim
        let g = gradOut + i * embeddingDim
        if scaleGradByFreq {
            let scale = Float(1.0 / Double(counts[indices[i]]!))
            for j in 0..<embeddingDim { row[j] = row[j].addingProduct(g[j], scale) }
        } else {
            for j in 0..<embeddingDim { row[j] += g[j] }
        }
    }
}
