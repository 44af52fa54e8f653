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
/// tiny temperature gives all the mass to the maximum), weights e^z (eight lanes at a time); with top-k, the k
/// largest weights (ties at the threshold: the lower indices); with top-p, then the most likely tokens until their
/// share of the mass reaches top-p (ties at the threshold all kept); the kept weights summed in double in index
/// order, and the first index whose running sum exceeds `uniform` × the total. Deterministic for a given `uniform`; `scratch` holds `count` floats.
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
    forEachLanes(n) { i, v in store8(expLanes(load8(w + i, valid: v)), w + i, valid: v) }  // weights e^z in [0, 1]
    if let k = rule.topK, k < n {
        // The k largest: the largest weight v with at least k weights >= v; of those equal to v, the lowest indices.
        let v = largestThreshold(w, count: n) { threshold in
            var count = 0
            for i in 0..<n where w[i] >= threshold { count += 1 }
            return count >= k
        }
        var above = 0
        for i in 0..<n where w[i] > v { above += 1 }
        var ties = k - above
        for i in 0..<n where w[i] <= v {
            if w[i] == v && ties > 0 { ties -= 1 } else { w[i] = 0 }
        }
    }
    if let p = rule.topP, p < 1 {
        // The most likely tokens until their mass reaches p: the largest weight v such that the weights >= v hold
        // at least p of the total (ties at v all kept).
        // One pass sums the mass per binary exponent (the weights are in [0, 1]: 128 buckets); the buckets from the
        // top that stay below p are kept whole, and only the boundary bucket's weights are sorted.
        var mass = [Double](repeating: 0, count: 129)
        var total = 0.0
        for i in 0..<n {
            mass[Int(w[i].bitPattern >> 23)] += Double(w[i])
            total += Double(w[i])
        }
        let goal = p * total
        var above = 0.0, boundary = 128
        while boundary > 0 && above + mass[boundary] < goal {
            above += mass[boundary]
            boundary -= 1
        }
        var candidates = (0..<n).filter { Int(w[$0].bitPattern >> 23) == boundary }.map { w[$0] }
        candidates.sort(by: >)
        var v = candidates.last ?? 0
        for c in candidates {
            above += Double(c)
            if above >= goal { v = c; break }
        }
        for i in 0..<n where w[i] < v { w[i] = 0 }
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

/// The largest value v in [0, 1] (a float, searched over its bit patterns: 31 probes) for which `enough(v)`
/// holds, `enough` being true at 0 and monotone (true for every smaller value once true).
func largestThreshold(_ w: UnsafeMutablePointer<Float>, count n: Int, _ enough: (Float) -> Bool) -> Float {
    var lo: UInt32 = 0, hi = Float(1).bitPattern  // enough(lo) holds; find the largest bits with enough
    if enough(Float(bitPattern: hi)) { return Float(bitPattern: hi) }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2
        if enough(Float(bitPattern: mid)) { lo = mid } else { hi = mid }
    }
    return Float(bitPattern: lo)
}
