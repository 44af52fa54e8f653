// LSTM and GRU (GatedRecurrence.swift, GatedBackward.swift) through `rnnForward` / `rnnBackward`:
// every gradient against central differences of a plain double-precision implementation of torch's
// equations (which the float forward must also match), batch and thread-count invariance bit for bit,
// omitted states == explicit zeros, one step of each cell worked out by hand, and the C ABI's refusals.

#if canImport(Glibc)
import Glibc
#endif
import CSwiftRNN
import Testing
import SwiftRNNCAPI
@testable import SwiftRNN
import SwiftRNNVectorMath

/// Floats at a fixed address for the raw entry points (deallocated with the object).
final class FloatBuffer {
    let count: Int
    let pointer: UnsafeMutablePointer<Float>
    init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(count, 1))
        pointer.initialize(from: values, count: count)
    }
    convenience init(count: Int, repeating value: Float) { self.init([Float](repeating: value, count: count)) }
    var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
    var bits: [UInt32] { array.map(\.bitPattern) }
    deinit { pointer.deallocate() }
}

/// One call of a gated layer: configuration, parameters, inputs, the upstream gradients of the loss
/// Σ output·gradOutput + Σ hn·gradHn + Σ cn·gradCn, in the entry points' layouts.
struct GatedCase {
    var config: RNNConfig
    var L: Int, N: Int
    var parameters: [[Float]]
    var x: [Float]
    var h0: [Float]?, c0: [Float]?
    var masks: [Float]?
    var gradOutput: [Float], gradHn: [Float], gradCn: [Float]

    init(_ c: RNNConfig, L: Int, N: Int, seed: UInt64, h0: Bool, c0: Bool, dropout: Bool = false, scale: Float = 0.6) {
        var r = TestRandom(state: seed)
        config = c
        self.L = L
        self.N = N
        let D = c.numDirections, P = c.stateSize, H = c.hiddenSize
        parameters = c.parameterShapes.map { s in (0..<s.reduce(1, *)).map { _ in r.next(scale) } }
        x = (0..<L * N * c.inputSize).map { _ in r.next() }
        let states = D * c.numLayers * N
        self.h0 = h0 ? (0..<states * P).map { _ in r.next() } : nil
        self.c0 = c0 && c.cell == .lstm ? (0..<states * H).map { _ in r.next() } : nil
        masks = dropout && c.numLayers > 1 ? (0..<(c.numLayers - 1) * L * N * D * P).map { _ in r.next() > -0.3 ? 1 / 0.65 : 0 } : nil
        gradOutput = (0..<L * N * D * P).map { _ in r.next() }
        gradHn = (0..<states * P).map { _ in r.next() }
        gradCn = c.cell == .lstm ? (0..<states * H).map { _ in r.next() } : []
    }

    var stateCount: Int { config.numDirections * config.numLayers * N * config.stateSize }
    var cellCount: Int { config.numDirections * config.numLayers * N * config.hiddenSize }
    var savedCount: Int {
        let input = config.batchFirst ? [N, L, config.inputSize] : [L, N, config.inputSize]
        return try! withShape(input) { (s) throws(SwiftRNNError) in try config.callShapes(input: s!, h0: nil) }.savedCount
    }

    struct Forward { let output: FloatBuffer, hn: FloatBuffer, cn: FloatBuffer, saved: FloatBuffer }
    struct Backward { let parameters: [FloatBuffer], x: FloatBuffer, h0: FloatBuffer, c0: FloatBuffer }

    /// The inputs and parameters at fixed addresses, alive as long as the value.
    final class Inputs {
        let parameters: [FloatBuffer], x: FloatBuffer, h0: FloatBuffer?, c0: FloatBuffer?, masks: FloatBuffer?
        init(_ c: GatedCase) {
            parameters = c.parameters.map(FloatBuffer.init)
            x = FloatBuffer(c.x)
            h0 = c.h0.map(FloatBuffer.init)
            c0 = c.c0.map(FloatBuffer.init)
            masks = c.masks.map(FloatBuffer.init)
        }
        var pointers: [UnsafePointer<Float>] { parameters.map { UnsafePointer($0.pointer) } }
    }

    /// `rnnForward`; `training` keeps the saved buffer the backward needs.
    func forward(training: Bool = true, inputs: Inputs? = nil) throws -> Forward {
        let i = inputs ?? Inputs(self)
        let D = config.numDirections
        let f = Forward(output: FloatBuffer(count: L * N * D * config.stateSize, repeating: .nan),
                        hn: FloatBuffer(count: stateCount, repeating: .nan),
                        cn: FloatBuffer(count: config.cell == .lstm ? cellCount : 0, repeating: .nan),
                        saved: FloatBuffer(count: training ? savedCount : 0, repeating: .nan))
        try i.pointers.withUnsafeBufferPointer { pp in
            try rnnForward(config: config, parameters: pp, x: i.x.pointer, seqLen: L, batch: N, h0: i.h0?.pointer,
                           dropoutMasks: i.masks?.pointer, output: f.output.pointer, hn: f.hn.pointer,
                           saved: training ? f.saved.pointer : nil, c0: i.c0?.pointer,
                           cn: config.cell == .lstm ? f.cn.pointer : nil)
        }
        return f
    }

    /// `rnnBackward` of `forward()` with this case's upstream gradients, into zeroed buffers.
    func backward(_ f: Forward? = nil, inputs: Inputs? = nil) throws -> Backward {
        let i = inputs ?? Inputs(self)
        let f = try f ?? forward(inputs: i)
        let lstm = config.cell == .lstm
        let b = Backward(parameters: parameters.map { FloatBuffer(count: $0.count, repeating: 0) },
                         x: FloatBuffer(count: x.count, repeating: 0), h0: FloatBuffer(count: stateCount, repeating: 0),
                         c0: FloatBuffer(count: lstm ? cellCount : 0, repeating: 0))
        let gradOutput = FloatBuffer(self.gradOutput), gradHn = FloatBuffer(self.gradHn), gradCn = FloatBuffer(self.gradCn)
        let grads: [UnsafeMutablePointer<Float>?] = b.parameters.map(\.pointer)
        try withExtendedLifetime((gradOutput, gradHn, gradCn)) {
            try i.pointers.withUnsafeBufferPointer { pp in
                try grads.withUnsafeBufferPointer { gp in
                    try rnnBackward(config: config, parameters: pp, x: i.x.pointer, seqLen: L, batch: N, h0: i.h0?.pointer,
                                    dropoutMasks: i.masks?.pointer, saved: f.saved.pointer, gradOutput: gradOutput.pointer,
                                    gradHn: gradHn.pointer, parameterGradients: gp, gradInput: b.x.pointer,
                                    gradH0: b.h0.pointer, c0: i.c0?.pointer, gradCn: lstm ? gradCn.pointer : nil,
                                    gradC0: lstm ? b.c0.pointer : nil)
                }
            }
        }
        return b
    }
}

/// torch's LSTM / GRU equations in double precision, loop by loop: the reference for the float kernels.
struct GatedReference {
    let c: RNNConfig, L: Int, N: Int

    func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }

    /// (output in the caller's layout, hn, cn).
    func forward(parameters: [[Double]], x: [Double], h0: [Double]?, c0: [Double]?,
                 masks: [Double]?) -> (output: [Double], hn: [Double], cn: [Double]) {
        let H = c.hiddenSize, P = c.stateSize, D = c.numDirections, G = c.gateRows, I = c.inputSize
        var input = [Double](repeating: 0, count: L * N * I)  // time-major
        for t in 0..<L {
            for n in 0..<N {
                for k in 0..<I { input[(t * N + n) * I + k] = x[(c.batchFirst ? n * L + t : t * N + n) * I + k] }
            }
        }
        var width = I
        var hn = [Double](repeating: 0, count: c.numLayers * D * N * P)
        var cn = [Double](repeating: 0, count: c.numLayers * D * N * H)
        var out: [Double] = []
        for layer in 0..<c.numLayers {
            out = [Double](repeating: 0, count: L * N * D * P)
            for d in 0..<D {
                let base = (layer * D + d) * c.paramsPerDirection
                let wIH = parameters[base], wHH = parameters[base + 1]
                let bIH = c.bias ? parameters[base + 2] : [Double](repeating: 0, count: G)
                let bHH = c.bias ? parameters[base + 3] : [Double](repeating: 0, count: G)
                let wHR: [Double]? = c.projSize > 0 ? parameters[base + (c.bias ? 4 : 2)] : nil
                let state = (layer * D + d) * N
                for n in 0..<N {
                    var h = h0.map { Array($0[(state + n) * P ..< (state + n + 1) * P]) } ?? [Double](repeating: 0, count: P)
                    var cs = c0.map { Array($0[(state + n) * H ..< (state + n + 1) * H]) } ?? [Double](repeating: 0, count: H)
                    for step in 0..<L {
                        let t = d == 0 ? step : L - 1 - step
                        let xin = (t * N + n) * width
                        var gx = bIH, gh = bHH
                        for r in 0..<G {
                            for k in 0..<width { gx[r] += wIH[r * width + k] * input[xin + k] }
                            for k in 0..<P { gh[r] += wHH[r * P + k] * h[k] }
                        }
                        if c.cell == .lstm {
                            var hPre = [Double](repeating: 0, count: H)
                            for j in 0..<H {
                                let i = sigmoid(gx[j] + gh[j]), f = sigmoid(gx[H + j] + gh[H + j])
                                let g = tanh(gx[2 * H + j] + gh[2 * H + j]), o = sigmoid(gx[3 * H + j] + gh[3 * H + j])
                                cs[j] = f * cs[j] + i * g
                                hPre[j] = o * tanh(cs[j])
                            }
                            if let wHR {
                                for p in 0..<P { h[p] = (0..<H).reduce(0) { $0 + wHR[p * H + $1] * hPre[$1] } }
                            } else {
                                h = hPre
                            }
                        } else {
                            for j in 0..<H {
                                let r = sigmoid(gx[j] + gh[j]), z = sigmoid(gx[H + j] + gh[H + j])
                                let nn = tanh(gx[2 * H + j] + r * gh[2 * H + j])
                                h[j] = (1 - z) * nn + z * h[j]
                            }
                        }
                        for p in 0..<P { out[(t * N + n) * D * P + d * P + p] = h[p] }
                    }
                    for p in 0..<P { hn[(state + n) * P + p] = h[p] }
                    for j in 0..<H { cn[(state + n) * H + j] = cs[j] }
                }
            }
            input = out
            if layer < c.numLayers - 1, let masks {
                for i in input.indices { input[i] *= masks[layer * out.count + i] }
            }
            width = D * P
        }
        var output = out
        if c.batchFirst {
            for t in 0..<L {
                for n in 0..<N {
                    for k in 0..<width { output[(n * L + t) * width + k] = out[(t * N + n) * width + k] }
                }
            }
        }
        return (output, hn, c.cell == .lstm ? cn : [])
    }
}

extension GatedCase {
    var reference: GatedReference { GatedReference(c: config, L: L, N: N) }

    /// The loss of the double reference with the parameters and inputs given (defaults: this case's).
    func referenceLoss(parameters p: [[Double]]? = nil, x xd: [Double]? = nil, h0 hd: [Double]? = nil,
                       c0 cd: [Double]? = nil) -> Double {
        let d = { (a: [Float]) in a.map(Double.init) }
        let (out, hn, cn) = reference.forward(parameters: p ?? parameters.map(d), x: xd ?? d(x), h0: hd ?? h0.map(d),
                                              c0: cd ?? c0.map(d), masks: masks.map(d))
        func dot(_ a: [Double], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * Double($1.1) } }
        return dot(out, gradOutput) + dot(hn, gradHn) + dot(cn, gradCn)
    }
}

/// Each analytic (float) gradient entry against the double central difference of `loss` in that entry.
func expectCentralDifferences(_ name: String, analytic: [Float], at values: [Double],
                              _ loss: ([Double]) -> Double, sourceLocation: SourceLocation = #_sourceLocation) {
    let eps = 1e-6
    var worst = 0.0, worstIndex = -1
    for i in values.indices {
        var v = values
        v[i] += eps
        let up = loss(v)
        v[i] -= 2 * eps
        let fd = (up - loss(v)) / (2 * eps)
        let err = abs(Double(analytic[i]) - fd) / (2e-5 + 1e-4 * abs(fd))
        if err > worst { worst = err; worstIndex = i }
    }
    #expect(worst <= 1, "\(name)[\(worstIndex)]: analytic \(worstIndex >= 0 ? analytic[worstIndex] : 0) is \(worst)x the tolerance off",
            sourceLocation: sourceLocation)
}

@Suite struct GatedRecurrenceTests {
    typealias Case = (config: RNNConfig, L: Int, N: Int, h0: Bool, c0: Bool, dropout: Bool)
    static let cases: [Case] = [
        (RNNConfig(inputSize: 3, hiddenSize: 4, cell: .lstm), 3, 2, true, true, false),
        (RNNConfig(inputSize: 3, hiddenSize: 5, numLayers: 2, batchFirst: true, bidirectional: true, cell: .lstm), 3, 2, false, false, true),
        (RNNConfig(inputSize: 3, hiddenSize: 5, numLayers: 2, bias: false, bidirectional: true, cell: .lstm, projSize: 2), 3, 2, true, true, false),
        (RNNConfig(inputSize: 2, hiddenSize: 4, numLayers: 2, batchFirst: true, cell: .lstm, projSize: 3), 4, 3, true, false, true),
        (RNNConfig(inputSize: 4, hiddenSize: 11, bidirectional: true, cell: .lstm), 3, 2, false, true, false),
        (RNNConfig(inputSize: 3, hiddenSize: 4, cell: .gru), 3, 2, true, false, false),
        (RNNConfig(inputSize: 3, hiddenSize: 5, numLayers: 2, batchFirst: true, bidirectional: true, cell: .gru), 3, 2, false, false, true),
        (RNNConfig(inputSize: 2, hiddenSize: 9, numLayers: 3, bias: false, cell: .gru), 3, 2, true, false, false),
    ]

    @Test("the float forward is torch's equations; every gradient matches double-precision central differences",
          arguments: 0..<cases.count)
    func gradientsMatchCentralDifferences(_ which: Int) throws {
        let (config, L, N, withH0, withC0, dropout) = Self.cases[which]
        let c = GatedCase(config, L: L, N: N, seed: 100 + UInt64(which), h0: withH0, c0: withC0, dropout: dropout)
        let d = { (a: [Float]) in a.map(Double.init) }
        // The forward first: the reference is only worth differentiating if it is what the kernels compute.
        let f = try c.forward()
        let ref = c.reference.forward(parameters: c.parameters.map(d), x: d(c.x), h0: c.h0.map(d), c0: c.c0.map(d),
                                      masks: c.masks.map(d))
        for (name, got, want) in [("output", f.output.array, ref.output), ("hn", f.hn.array, ref.hn), ("cn", f.cn.array, ref.cn)] {
            #expect(got.count == want.count)
            let worst = zip(got, want).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(worst <= 2e-6, "\(name): max |float - double| = \(worst)")
        }

        let g = try c.backward(f)
        let params = c.parameters.map(d)
        for p in params.indices {
            expectCentralDifferences(config.parameterName(at: p), analytic: g.parameters[p].array, at: params[p]) { v in
                var q = params
                q[p] = v
                return c.referenceLoss(parameters: q)
            }
        }
        expectCentralDifferences("input", analytic: g.x.array, at: d(c.x)) { c.referenceLoss(x: $0) }
        // An omitted state is zeros: its gradient is the same as an explicit zero state's.
        expectCentralDifferences("h0", analytic: g.h0.array, at: c.h0.map(d) ?? [Double](repeating: 0, count: c.stateCount)) {
            c.referenceLoss(h0: $0)
        }
        if config.cell == .lstm {
            expectCentralDifferences("c0", analytic: g.c0.array, at: c.c0.map(d) ?? [Double](repeating: 0, count: c.cellCount)) {
                c.referenceLoss(c0: $0)
            }
        }
    }

    static let invarianceConfigs: [(RNNConfig, L: Int)] = [
        (RNNConfig(inputSize: 5, hiddenSize: 13, numLayers: 2, bidirectional: true, cell: .lstm), 4),
        (RNNConfig(inputSize: 5, hiddenSize: 12, numLayers: 2, batchFirst: true, cell: .lstm, projSize: 7), 4),
        (RNNConfig(inputSize: 5, hiddenSize: 13, numLayers: 2, batchFirst: true, bidirectional: true, cell: .gru), 4),
        // Big enough for threaded GEMMs and for the recurrence to be cut into batch groups.
        (RNNConfig(inputSize: 24, hiddenSize: 64, bidirectional: true, cell: .lstm), 24),
        (RNNConfig(inputSize: 24, hiddenSize: 64, batchFirst: true, cell: .gru), 24),
    ]

    @Test("a sequence alone gives the bits it gives inside a batch: output, hn, cn and the input, h0 and c0 gradients",
          arguments: 0..<invarianceConfigs.count)
    func batchInvariance(_ which: Int) throws {
        let (config, L) = Self.invarianceConfigs[which]
        let N = 12
        let batch = GatedCase(config, L: L, N: N, seed: 300 + UInt64(which), h0: true, c0: true, dropout: true)
        let whole = try batch.forward(), wholeGrads = try batch.backward(whole)
        let D = config.numDirections, P = config.stateSize, H = config.hiddenSize, I = config.inputSize
        let states = D * config.numLayers
        // Sequence n's rows: row n of each of `outer` blocks of N rows of `w` floats.
        func rowsOf(_ a: [Float], _ n: Int, outer: Int, _ w: Int) -> [Float] {
            var r: [Float] = []
            for o in 0..<outer { r += a[(o * N + n) * w ..< (o * N + n + 1) * w] }
            return r
        }
        func seqRows(_ a: [Float], _ n: Int, _ w: Int) -> [Float] {
            config.batchFirst ? rowsOf(a, n, outer: 1, L * w) : rowsOf(a, n, outer: L, w)
        }
        func stateRows(_ a: [Float], _ n: Int, _ w: Int) -> [Float] { rowsOf(a, n, outer: states, w) }
        // The masks are (layers − 1, L, N, D·P), time-major.
        func maskRows(_ a: [Float], _ n: Int) -> [Float] { rowsOf(a, n, outer: (config.numLayers - 1) * L, D * P) }
        for n in [0, 5, N - 1] {
            var one = batch
            one.N = 1
            one.x = seqRows(batch.x, n, I)
            one.h0 = stateRows(batch.h0!, n, P)
            one.c0 = config.cell == .lstm ? stateRows(batch.c0!, n, H) : nil
            one.masks = batch.masks.map { maskRows($0, n) }
            one.gradOutput = seqRows(batch.gradOutput, n, D * P)
            one.gradHn = stateRows(batch.gradHn, n, P)
            one.gradCn = config.cell == .lstm ? stateRows(batch.gradCn, n, H) : []
            let f = try one.forward(), g = try one.backward(f)
            let bits = { (a: [Float]) in a.map(\.bitPattern) }
            #expect(f.output.bits == bits(seqRows(whole.output.array, n, D * P)), "output of sequence \(n)")
            #expect(f.hn.bits == bits(stateRows(whole.hn.array, n, P)), "hn of sequence \(n)")
            #expect(g.x.bits == bits(seqRows(wholeGrads.x.array, n, I)), "input gradient of sequence \(n)")
            #expect(g.h0.bits == bits(stateRows(wholeGrads.h0.array, n, P)), "h0 gradient of sequence \(n)")
            if config.cell == .lstm {
                #expect(f.cn.bits == bits(stateRows(whole.cn.array, n, H)), "cn of sequence \(n)")
                #expect(g.c0.bits == bits(stateRows(wholeGrads.c0.array, n, H)), "c0 gradient of sequence \(n)")
            }
        }
    }

    @Test("1, 2 and 4 threads give the same bits, forward and backward", arguments: [3, 4])
    func threadCountInvariance(_ which: Int) throws {
        let (config, L) = Self.invarianceConfigs[which]
        let c = GatedCase(config, L: L, N: 16, seed: 400, h0: true, c0: true)
        func run(_ threads: Int) throws -> [[UInt32]] {
            setNumThreads(threads)
            defer { setNumThreads(1) }
            let f = try c.forward(), g = try c.backward(f)
            return [f.output.bits, f.hn.bits, f.cn.bits, g.x.bits, g.h0.bits, g.c0.bits] + g.parameters.map(\.bits)
        }
        let one = try run(1)
        for threads in [2, 4] { #expect(try run(threads) == one, "\(threads) threads") }
    }

    @Test("omitted h0 and c0 are explicit zeros, bit for bit, forward and backward", arguments: [0, 2, 5, 6])
    func omittedStatesAreZeros(_ which: Int) throws {
        let (config, L, N, _, _, dropout) = Self.cases[which]
        let omitted = GatedCase(config, L: L, N: N, seed: 500, h0: false, c0: false, dropout: dropout)
        var zeros = omitted
        zeros.h0 = [Float](repeating: 0, count: omitted.stateCount)
        zeros.c0 = config.cell == .lstm ? [Float](repeating: 0, count: omitted.cellCount) : nil
        let (f0, f1) = (try omitted.forward(), try zeros.forward())
        let (g0, g1) = (try omitted.backward(f0), try zeros.backward(f1))
        #expect(f0.output.bits == f1.output.bits)
        #expect(f0.hn.bits == f1.hn.bits)
        #expect(f0.cn.bits == f1.cn.bits)
        #expect(g0.x.bits == g1.x.bits)
        #expect(g0.h0.bits == g1.h0.bits)
        #expect(g0.c0.bits == g1.c0.bits)
        #expect(g0.parameters.map(\.bits) == g1.parameters.map(\.bits))
    }

    @Test("without h0, an Inf in W_hh makes the output NaN, as torch's zero state does (0·Inf)", arguments: [RecurrentCell.lstm, .gru])
    func omittedStateMultipliesANonFiniteWHH(_ cell: RecurrentCell) throws {
        var c = GatedCase(RNNConfig(inputSize: 2, hiddenSize: 3, cell: cell), L: 2, N: 1, seed: 7, h0: false, c0: false)
        c.parameters[1][0] = .infinity  // W_hh's first row: the i (or r) gate of unit 0
        let f = try c.forward(training: false)
        #expect(f.output.array[0].isNaN)
    }

    @Test func lstmStepByHand() throws {
        // One unit, one step: x = 1, h0 = 0.5, c0 = 0.4. Pre-activations (W_ih·x + b_ih + W_hh·h0 + b_hh):
        //   i: 0.5·1 + 0.1 + 2·0.5 − 0.2 = 1.4     f: −1 + 0 + 0.6·0.5 + 0.3 = −0.4
        //   g: 0.25 + 0.05 + (−1)·0.5 + 0 = −0.2   o: 2 − 0.5 + 0 + 0.5 = 2.0
        var c = GatedCase(RNNConfig(inputSize: 1, hiddenSize: 1, cell: .lstm), L: 1, N: 1, seed: 1, h0: true, c0: true)
        c.parameters = [[0.5, -1, 0.25, 2], [2, 0.6, -1, 0], [0.1, 0, 0.05, -0.5], [-0.2, 0.3, 0, 0.5]]
        c.x = [1]
        c.h0 = [0.5]
        c.c0 = [0.4]
        func s(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        let cNew = s(-0.4) * 0.4 + s(1.4) * tanh(-0.2)
        let hNew = s(2.0) * tanh(cNew)
        let f = try c.forward(training: false)
        #expect(abs(Double(f.cn.array[0]) - cNew) < 1e-6, "c1 = \(f.cn.array[0]), by hand \(cNew)")
        #expect(abs(Double(f.hn.array[0]) - hNew) < 1e-6, "h1 = \(f.hn.array[0]), by hand \(hNew)")
        #expect(f.output.array == f.hn.array)
    }

    @Test func gruStepByHand() throws {
        // One unit, one step: x = 1, h0 = 0.5. r = σ(0.3 + 0.1 + 0.4·0.5 + 0) = σ(0.6), z = σ(−0.5 + 0 + 1·0.5 + 0.2)
        // = σ(0.2); n = tanh(0.3 + 0.1 + r·(0.8·0.5 + 0.2)), b_hn inside r·(...) as torch has it;
        // h1 = (1 − z)·n + z·h0.
        var c = GatedCase(RNNConfig(inputSize: 1, hiddenSize: 1, cell: .gru), L: 1, N: 1, seed: 1, h0: true, c0: false)
        c.parameters = [[0.3, -0.5, 0.3], [0.4, 1, 0.8], [0.1, 0, 0.1], [0, 0.2, 0.2]]
        c.x = [1]
        c.h0 = [0.5]
        func s(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        let r = s(0.6), z = s(0.2)
        let n = tanh(0.4 + r * 0.6)
        let hNew = (1 - z) * n + z * 0.5
        let f = try c.forward(training: false)
        #expect(abs(Double(f.hn.array[0]) - hNew) < 1e-6, "h1 = \(f.hn.array[0]), by hand \(hNew)")
        #expect(f.output.array == f.hn.array)
    }
}

/// srnn_recurrent_forward / srnn_recurrent_backward refuse what they cannot run, with a status and a message.
@Suite struct GatedCABITests {
    func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> (Int32, String) {
        var buffer = [CChar](repeating: 0, count: 512)
        let status = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        return (status, buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
    }

    static let value = Int32(SRNN_VALUE_ERROR.rawValue)

    /// A C array of pointers (freed by the caller).
    func cArray<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let p = UnsafeMutablePointer<T>.allocate(capacity: values.count)
        p.initialize(from: values, count: values.count)
        return p
    }

    @Test(arguments: [RecurrentCell.lstm, .gru])
    func nullsAndBadSizesAreValueErrors(_ cell: RecurrentCell) throws {
        let config = RNNConfig(inputSize: 2, hiddenSize: 3, cell: cell)
        var desc = srnn_rnn_desc(input_size: 2, hidden_size: 3, num_layers: 1, nonlinearity: 0, has_bias: 1,
                                 bidirectional: 0, batch_first: 0, cell: cell.rawValue, reserved: 0, proj_size: 0)
        let c = GatedCase(config, L: 2, N: 1, seed: 9, h0: true, c0: cell == .lstm)
        let inputs = GatedCase.Inputs(c)
        let want = try c.forward()
        let out = FloatBuffer(count: want.output.count, repeating: .nan), hn = FloatBuffer(count: want.hn.count, repeating: .nan)
        let cn = FloatBuffer(count: 3, repeating: .nan), saved = FloatBuffer(count: c.savedCount, repeating: .nan)
        let np = Int64(config.parameterCount)
        let x = UnsafePointer(inputs.x.pointer), h0 = inputs.h0.map { UnsafePointer($0.pointer) }
        let c0 = inputs.c0.map { UnsafePointer($0.pointer) }
        let params = cArray(inputs.pointers.map { Optional($0) })
        var withNull = inputs.pointers.map { Optional($0) }
        withNull[1] = nil
        let nullParam = cArray(withNull)
        defer { params.deallocate(); nullParam.deallocate() }

        struct Forward { var desc: srnn_rnn_desc; var params: UnsafePointer<UnsafePointer<Float>?>?; var count: Int64
                         var x: UnsafePointer<Float>?; var seqLen: Int64 = 2, batch: Int64 = 1
                         var output, hn, cn: UnsafeMutablePointer<Float>?; var nullDesc = false }
        let good = Forward(desc: desc, params: params, count: np, x: x, output: out.pointer, hn: hn.pointer, cn: cn.pointer)
        func run(_ f: Forward) -> (Int32, String) {
            var d = f.desc
            return withUnsafePointer(to: &d) { dp in call { err, cap in
                srnn_recurrent_forward(f.nullDesc ? nil : dp, f.params, f.count, f.x, f.seqLen, f.batch, nil, h0, c0, nil,
                                       f.output, f.hn, f.cn, saved.pointer, err, cap)
            } }
        }
        var bad: [Forward] = []
        var f = good; f.nullDesc = true; bad.append(f)
        f = good; f.params = nil; bad.append(f)
        f = good; f.params = UnsafePointer(nullParam); bad.append(f)
        f = good; f.count = np - 1; bad.append(f)
        f = good; f.x = nil; bad.append(f)
        f = good; f.output = nil; bad.append(f)
        f = good; f.hn = nil; bad.append(f)
        f = good; f.seqLen = 0; bad.append(f)
        f = good; f.batch = -1; bad.append(f)
        f = good; f.desc.proj_size = cell == .lstm ? 3 : 1; bad.append(f)  // not below hidden_size / not an LSTM
        if cell == .lstm { f = good; f.cn = nil; bad.append(f) }
        for (i, b) in bad.enumerated() {
            let (status, message) = run(b)
            #expect(status == Self.value, "case \(i): \(status) \(message)")
            #expect(!message.isEmpty)
        }
        #expect(run(bad[3]).1 == "RNN expects \(np) parameter arrays, got \(np - 1)")
        #expect(out.array.allSatisfy { $0.isNaN }, "nothing written by a refused call")
        // A good call writes what rnnForward does.
        #expect(run(good).0 == Int32(SRNN_OK.rawValue))
        #expect(out.bits == want.output.bits)

        let grads = c.parameters.map { FloatBuffer(count: $0.count, repeating: 0) }
        let gradPointers = cArray(grads.map { Optional($0.pointer) })
        defer { gradPointers.deallocate() }
        let gradOut = FloatBuffer(c.gradOutput), gx = FloatBuffer(count: c.x.count, repeating: 0)
        struct Backward { var params: UnsafePointer<UnsafePointer<Float>?>?; var x: UnsafePointer<Float>?
                          var saved, gradOutput: UnsafePointer<Float>?; var grads: UnsafePointer<UnsafeMutablePointer<Float>?>? }
        let goodBack = Backward(params: params, x: x, saved: saved.pointer, gradOutput: gradOut.pointer, grads: gradPointers)
        func run(_ b: Backward) -> Int32 {
            call { err, cap in
                srnn_recurrent_backward(&desc, b.params, np, b.x, 2, 1, nil, h0, c0, nil, b.saved, b.gradOutput, nil, nil, b.grads,
                                        gx.pointer, nil, nil, err, cap)
            }.0
        }
        var b = goodBack; b.params = nil; #expect(run(b) == Self.value)
        b = goodBack; b.x = nil; #expect(run(b) == Self.value)
        b = goodBack; b.saved = nil; #expect(run(b) == Self.value)
        b = goodBack; b.gradOutput = nil; #expect(run(b) == Self.value)
        b = goodBack; b.grads = nil; #expect(run(b) == Self.value)
        #expect(gx.array.allSatisfy { $0 == 0 } && grads.allSatisfy { $0.array.allSatisfy { $0 == 0 } })
        #expect(run(goodBack) == Int32(SRNN_OK.rawValue))
        #expect(gx.array.contains { $0 != 0 })
        withExtendedLifetime((inputs, grads, gradOut)) {}
    }
}

/// One case of Generated/GatedTorchFixtures.swift (torch's forward and autograd gradients).
protocol GatedFixture {
    static var config: RNNConfig { get }
    static var seed: UInt64 { get }
    static var seqLen: Int { get }
    static var batch: Int { get }
    static var parameters: [FixtureTensor] { get }
    static var parameterGradients: [FixtureTensor] { get }
    static var x: FixtureTensor { get }
    static var gradX: FixtureTensor { get }
    static var h0: FixtureTensor? { get }
    static var gradH0: FixtureTensor? { get }
    static var c0: FixtureTensor? { get }
    static var gradC0: FixtureTensor? { get }
    static var output: FixtureTensor { get }
    static var hn: FixtureTensor { get }
    static var cn: FixtureTensor? { get }
    static var gradOutput: FixtureTensor { get }
    static var gradHn: FixtureTensor { get }
    static var gradCn: FixtureTensor? { get }
}

extension GatedTorchFixtures.LSTMBidirectional2Layer: GatedFixture {}
extension GatedTorchFixtures.LSTMProjectedBatchFirstNoBias: GatedFixture {}
extension GatedTorchFixtures.LSTMWithoutStates: GatedFixture {}
extension GatedTorchFixtures.GRUBidirectionalBatchFirst: GatedFixture {}
extension GatedTorchFixtures.GRUNoBias: GatedFixture {}

/// Every element within atol + rtol·|expected| (torch's float32 against ours: different summation orders).
func expectClose(_ name: String, _ actual: [Float], _ expected: [Float], rtol: Float = 1e-4, atol: Float = 2e-5,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, "\(name): \(actual.count) elements, expected \(expected.count)",
            sourceLocation: sourceLocation)
    let bad = zip(actual, expected).enumerated().filter { !(abs($1.0 - $1.1) <= atol + rtol * abs($1.1)) }
    #expect(bad.isEmpty, "\(name): \(bad.count) elements differ, first at \(bad.first.map { "\($0.offset): \($0.element)" } ?? "")",
            sourceLocation: sourceLocation)
}

@Suite("LSTM and GRU against torch (Generated/GatedTorchFixtures.swift)")
struct GatedTorchParityTests {
    nonisolated(unsafe) static let fixtures: [(String, any GatedFixture.Type)] = [
        ("LSTM 2 layers bidirectional (h0, c0)", GatedTorchFixtures.LSTMBidirectional2Layer.self),
        ("LSTM proj_size batch_first no bias (h0, c0)", GatedTorchFixtures.LSTMProjectedBatchFirstNoBias.self),
        ("LSTM without states", GatedTorchFixtures.LSTMWithoutStates.self),
        ("GRU 2 layers bidirectional batch_first", GatedTorchFixtures.GRUBidirectionalBatchFirst.self),
        ("GRU 2 layers no bias (h0)", GatedTorchFixtures.GRUNoBias.self),
    ]

    @Test("forward, h_n, c_n and every gradient match torch", arguments: 0..<fixtures.count)
    func matchesTorch(_ which: Int) throws {
        let (name, f) = Self.fixtures[which]
        var c = GatedCase(f.config, L: f.seqLen, N: f.batch, seed: 0, h0: false, c0: false)
        #expect(f.parameters.map(\.shape) == f.config.parameterShapes)
        c.parameters = f.parameters.map(\.scalars)
        c.x = f.x.scalars
        c.h0 = f.h0?.scalars
        c.c0 = f.c0?.scalars
        c.gradOutput = f.gradOutput.scalars
        c.gradHn = f.gradHn.scalars
        c.gradCn = f.gradCn?.scalars ?? []
        let forward = try c.forward(), g = try c.backward(forward)
        expectClose("\(name) output", forward.output.array, f.output.scalars)
        expectClose("\(name) hn", forward.hn.array, f.hn.scalars)
        expectClose("\(name) cn", forward.cn.array, f.cn?.scalars ?? [])
        for (p, want) in f.parameterGradients.enumerated() {
            expectClose("\(name) grad \(f.config.parameterName(at: p))", g.parameters[p].array, want.scalars, atol: 5e-5)
        }
        expectClose("\(name) grad x", g.x.array, f.gradX.scalars, atol: 5e-5)
        if let want = f.gradH0 { expectClose("\(name) grad h0", g.h0.array, want.scalars, atol: 5e-5) }
        if let want = f.gradC0 { expectClose("\(name) grad c0", g.c0.array, want.scalars, atol: 5e-5) }
    }
}

@Suite struct GateActivationTests {
    @Test("sigmoidLanes: within 3 ulp of the double-precision sigmoid from −120 to 120 (4e-39 where it is subnormal); exact ends, NaN stays NaN")
    func sigmoidAccuracyAndEnds() {
        var worst: Double = 0, worstAt: Float = 0
        var x: Float = -120
        while x <= 120 {
            let lanes = F8((0..<8).map { x + Float($0) * 1e-3 })
            let got = sigmoidLanes(lanes)
            for k in 0..<8 {
                let want = 1 / (1 + exp(-Double(lanes[k])))
                let err = abs(Double(got[k]) - want)
                let ulps = err / Double(Float(want).ulp)
                if err > 4e-39 && ulps > worst { worst = ulps; worstAt = lanes[k] }
            }
            x += 0.0137
        }
        #expect(worst <= 3, "worst \(worst) ulp at \(worstAt)")
        let ends = sigmoidLanes(F8(-.infinity, .infinity, -1000, 1000, 0, -0.0, .nan, -88.5))
        #expect(ends[0] == 0 && ends[1] == 1 && ends[2] == 0 && ends[3] == 1 && ends[4] == 0.5 && ends[5] == 0.5)
        #expect(ends[6].isNaN)
        #expect(ends[7] > 0 && ends[7] < 1e-38)
    }
}
