import CSwiftRNN
import Synchronization
import Testing
import SwiftRNN
import SwiftRNNCAPI

#if canImport(Glibc)
import Glibc
#endif

/// Sizes at the edge of 64 bits, and concurrent use (run under `swift test --sanitize=thread` in CI).
@Suite struct ReliabilityTests {
    let ok = Int32(SRNN_OK.rawValue)

    func desc(_ input: Int64, _ hidden: Int64, layers: Int64 = 1, bias: Bool = true, bidirectional: Bool = false) -> srnn_rnn_desc {
        srnn_rnn_desc(input_size: input, hidden_size: hidden, num_layers: layers, nonlinearity: 0,
                      has_bias: bias ? 1 : 0, bidirectional: bidirectional ? 1 : 0, batch_first: 0, cell: 0, reserved: 0, proj_size: 0)
    }

    /// A parameter count or total parameter size beyond 64 bits is an invalid description, not a
    /// wrapped-around count (num_layers 2^61 bidirectional with biases once gave 2^64 = 0 parameters).
    @Test(arguments: [
        (Int64(0), Int64(4), Int64(1) << 61, true, true),
        (Int64(0), Int64(34), Int64(1) << 61, false, false),
        (Int64(0), Int64(1), Int64(1) << 60, true, false),
        (Int64(1) << 31, Int64(1) << 31, Int64(1), true, false),
        (Int64(4), Int64(1) << 62, Int64(1), true, false),
        (Int64(1) << 62, Int64(4), Int64(1), true, false),
        (Int64(16), Int64(1) << 30, Int64(1) << 20, true, true),
    ])
    func hugeDescriptionsAreInvalid(_ input: Int64, _ hidden: Int64, _ layers: Int64, _ bias: Bool, _ bidirectional: Bool) {
        var d = desc(input, hidden, layers: layers, bias: bias, bidirectional: bidirectional)
        #expect(CSwiftRNN.srnn_rnn_num_params(&d) == -1)
        var shape: [Int64] = [0, 0]
        #expect(CSwiftRNN.srnn_rnn_param_shape(&d, 0, &shape) == -1)
        var err = [CChar](repeating: 0, count: 256)
        var x: Float = 0, out: Float = 0, hn: Float = 0
        let status = CSwiftRNN.srnn_rnn_forward(&d, nil, 0, &x, 1, 1, nil, nil, &out, &hn, &err, err.count)
        #expect(status == Int32(SRNN_OVERFLOW_ERROR.rawValue) || status == Int32(SRNN_VALUE_ERROR.rawValue))
        #expect(err[0] != 0)
    }

    /// Large but representable: the count comes back at once and param_shape answers in constant time
    /// (it once built the list of every parameter's shape on each call).
    @Test func largeLayerCountsAnswerInConstantTime() {
        var d = desc(3, 2, layers: 1 << 40, bidirectional: true)
        #expect(CSwiftRNN.srnn_rnn_num_params(&d) == (1 << 40) * 2 * 4)
        var shape: [Int64] = [0, 0]
        let last = (Int64(1) << 40) * 8 - 1
        #expect(CSwiftRNN.srnn_rnn_param_shape(&d, last, &shape) == 1)
        #expect(shape[0] == 2)
        #expect(CSwiftRNN.srnn_rnn_param_shape(&d, last - 3, &shape) == 2)
        #expect(shape == [2, 4])  // a later layer's weight_ih: (H, D*H)
        #expect(CSwiftRNN.srnn_rnn_param_shape(&d, 0, &shape) == 2)
        #expect(shape == [2, 3])
        let config = RNNConfig(inputSize: 3, hiddenSize: 2, numLayers: 3, bidirectional: true)
        for i in 0..<config.parameterCount {
            let (rows, cols) = config.parameterShape(at: i)
            #expect((cols.map { [rows, $0] } ?? [rows]) == config.parameterShapes[i])
            #expect(config.parameterName(at: i) == config.parameterNames[i])
        }
    }

    /// Buffers whose byte size cannot exist are rejected before anything is read.
    @Test func impossibleBufferSizesAreRejected() {
        var err = [CChar](repeating: 0, count: 256)
        var w: Float = 0, out: Float = 0
        let idx: [Int64] = [0]
        let overflow = Int32(SRNN_OVERFLOW_ERROR.rawValue)
        // weight of 2^62 x 2 floats (2^66 bytes), even with nothing to look up
        #expect(CSwiftRNN.srnn_embedding_forward(&w, 1 << 62, 2, idx, 0, -1, 2, &out, &err, err.count) == overflow)
        #expect(CSwiftRNN.srnn_embedding_forward(&w, 1, 1 << 62, idx, 1, -1, 2, &out, &err, err.count) == overflow)
        #expect(CSwiftRNN.srnn_linear_forward(&w, 0, 0, &w, &w, 1 << 62, &out, &err, err.count) == overflow)
        #expect(CSwiftRNN.srnn_linear_forward(&w, 1 << 61, 1, &w, nil, 1, &out, &err, err.count) == overflow)
        #expect(CSwiftRNN.srnn_softmax(&w, 1 << 31, 1 << 31, 1, 0, &out, &err, err.count) == overflow)
        var d = desc(1, 1)
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 4)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: 0, count: 4)
        let p: [UnsafePointer<Float>?] = Array(repeating: UnsafePointer(buffer), count: 4)
        #expect(CSwiftRNN.srnn_rnn_forward(&d, p, 4, buffer, 1 << 31, 1 << 31, nil, nil, buffer, buffer, &err, err.count) == overflow)
    }

    /// The shared parameters are read by many threads at once; each thread's output equals the serial one.
    /// Under ThreadSanitizer this also checks the core for data races (thread pool, settings).
    @Test func concurrentForwardEqualsSerial() throws {
        let config = RNNConfig(inputSize: 5, hiddenSize: 7, numLayers: 2, bidirectional: true)
        var seed: UInt32 = 12345
        func next() -> Float { seed = seed &* 1664525 &+ 1013904223; return Float(Int32(bitPattern: seed >> 8) % 1000) / 1000 }
        let params = config.parameterShapes.map { shape in
            try! Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in next() })
        }
        let rnn = try RNN(inputSize: 5, hiddenSize: 7, numLayers: 2, bidirectional: true, parameters: params)
        let inputs = (0..<8).map { i in try! Tensor(shape: [3 + i % 3, 4, 5], scalars: (0..<(3 + i % 3) * 20).map { _ in next() }) }
        let serial = try inputs.map { try rnn($0) }
        let linear = try Linear(weight: Tensor(shape: [3, 5], scalars: (0..<15).map { _ in next() }), bias: Tensor(shape: [3], scalars: [1, 2, 3]))
        let serialLinear = try inputs.map { try linear($0) }

        let mismatches = Atomic<Int>(0)
        let threads = 8
        var handles: [pthread_t] = []
        final class Job: @unchecked Sendable {
            let body: () -> Void
            init(_ body: @escaping () -> Void) { self.body = body }
        }
        for t in 0..<threads {
            let job = Job {
                for round in 0..<6 {
                    let i = (t + round) % inputs.count
                    setNumThreads(1 + (t + round) % 3)  // settings change while others compute
                    let (out, hn) = try! rnn(inputs[i])
                    if out != serial[i].output || hn != serial[i].hn { mismatches.add(1, ordering: .relaxed) }
                    if try! linear(inputs[i]) != serialLinear[i] { mismatches.add(1, ordering: .relaxed) }
                }
            }
            var handle = pthread_t()
            let box = Unmanaged.passRetained(job).toOpaque()
            let rc = pthread_create(&handle, nil, { raw in
                let job = Unmanaged<Job>.fromOpaque(raw!).takeRetainedValue()
                job.body()
                return nil
            }, box)
            #expect(rc == 0)
            handles.append(handle)
        }
        for h in handles { pthread_join(h, nil) }
        setNumThreads(1)
        #expect(mismatches.load(ordering: .relaxed) == 0)
    }
}
