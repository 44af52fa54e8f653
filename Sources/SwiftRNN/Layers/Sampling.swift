// Choosing the next token from a row of logits: greedy, or a draw from softmax(logits / temperature) restricted
// to the top-k largest and/or the smallest set of most likely tokens whose probability reaches top-p (nucleus).
// The text generators' per-token step, without a probability array in the caller's language.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftRNNVectorMath

/// How `sampleToken` chooses.
public struct SamplingRule: Equatable, Sendable {
    /// The most likely token (the first of equal maxima); the other settings are then not used.
    public var greedy: Bool
    /// Divides the logits (> 0 and finite; tiny values tend to greedy and never overflow).
    public var temperature: Double
    /// Keep only the k largest logits (nil: all).
    public var topK: Int?
    /// Keep only the smallest set of most likely tokens whose probabilities add up to at least this (in (0, 1];
    /// nil or 1: all).
    public var topP: Double?

    public init(greedy: Bool = false, temperature: Double = 1, topK: Int? = nil, topP: Double? = nil) {
        self.greedy = greedy
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    /// Throws `.invalidArgument` for a temperature that is not positive and finite, a top-k below 1 or a top-p
    /// outside (0, 1].
    public func validate() throws(SwiftRNNError) {
        guard temperature > 0, temperature.isFinite else {
            throw .invalidArgument("temperature must be a positive finite number, got \(temperature)")
        }
        if let topK, topK < 1 { throw .invalidArgument("top_k must be at least 1, got \(topK)") }
        if let topP, !(topP > 0 && topP <= 1) { throw .invalidArgument("top_p must be in (0, 1], got \(topP)") }
    }
}

/// The index chosen from `logits[0..<count]` by `rule`, drawing with `uniform` (in [0, 1)) unless greedy.
///
/// The draw: z = (logits − max) / temperature (divided in double precision: every z ≤ 0, nothing overflows, a
/// tiny temperature gives all the mass to the maximum); with top-k, the k largest z (ties at the threshold: the
/// lower indices); with top-p, then the most likely tokens, largest first, until their share of the mass reaches
/// top-p; weights e^z (eight lanes at a time) summed in double in index order, and the first index whose running
/// sum exceeds `uniform` × the total. Deterministic for a given `uniform`; `scratch` holds `count` floats.
/// Throws `.invalidArgument` for non-finite logits (a diverged model), an empty row or a bad rule.
public func sampleToken(_ logits: UnsafePointer<Float>, count n: Int, rule: SamplingRule, uniform: Double,
                        scratch w: UnsafeMutablePointer<Float>) throws(SwiftRNNError) -> Int {
    guard n > 0 else { throw .invalidArgument("there are no logits to choose from") }
    try rule.validate()
    guard uniform >= 0, uniform < 1 else { throw .invalidArgument("the uniform draw must be in [0, 1), got \(uniform)") }
    var best = 0
    for i in 0..<n {
        guard logits[i].isFinite else {
            throw .invalidArgument("the logits contain NaN or infinite values (are the model's weights finite?)")
        }
        if logits[i] > logits[best] { best = i }
    }
    if rule.greedy || n == 1 { return best }
    let maxLogit = Double(logits[best])
    for i in 0..<n { w[i] = Float((Double(logits[i]) - maxLogit) / rule.temperature) }  // z, all <= 0
    if let k = rule.topK, k < n {
        // The k-th largest z, then the tokens above it and, of those equal to it, the lowest indices.
        let threshold = (0..<n).map { w[$0] }.sorted(by: >)[k - 1]
        var above = 0
        for i in 0..<n where w[i] > threshold { above += 1 }
        var ties = k - above
        for i in 0..<n {
            if w[i] > threshold { continue }
            if w[i] == threshold && ties > 0 { ties -= 1; continue }
            w[i] = -.infinity
        }
    }
    forEachLanes(n) { i, v in store8(expLanes(load8(w + i, valid: v)), w + i, valid: v) }  // weights e^z
    if let p = rule.topP, p < 1 {
        var total = 0.0
        for i in 0..<n { total += Double(w[i]) }
        let order = (0..<n).filter { w[$0] > 0 }.sorted { w[$0] > w[$1] || (w[$0] == w[$1] && $0 < $1) }
        var mass = 0.0, count = 0
        for i in order {
            mass += Double(w[i])
            count += 1
            if mass >= p * total { break }
        }
        for i in order.dropFirst(count) { w[i] = 0 }
    }
    var total = 0.0
    for i in 0..<n { total += Double(w[i]) }
    let target = uniform * total
    var running = 0.0, last = best
    for i in 0..<n where w[i] > 0 {
        running += Double(w[i])
        last = i
        if running > target { return i }
    }
    return last  // rounding left the target at the total: the last kept token
}
