import CSwiftRNN
import Testing
import SwiftRNNCAPI  // links the @_cdecl symbols; calls go through the C header (CSwiftRNN)

/// The C ABI never traps: bad arguments come back as status codes with a message.
@Suite struct CABITests {
    /// Calls `body` with an error buffer; returns (status, message).
    func call(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) -> (Int32, String) {
        var buffer = [CChar](repeating: 0, count: 512)
        let status = buffer.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        let message = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return (status, message)
    }

    @Test func abiFacts() {
        #expect(CSwiftRNN.srnn_abi_version() == SRNN_ABI_VERSION)
        #expect(String(cString: CSwiftRNN.srnn_simd_level()).isEmpty == false)
    }

    @Test func embeddingIndexErrorHasStatusAndMessage() {
        var weight: [Float] = [1, 2, 3, 4]
        let indices: [Int64] = [0, 7]
        var out = [Float](repeating: -1, count: 4)
        let (status, message) = call { err, cap in
            CSwiftRNN.srnn_embedding_forward(&weight, 2, 2, indices, 2, -1, 2, &out, err, cap)
        }
        #expect(status == Int32(SRNN_INDEX_ERROR.rawValue))
        #expect(message == "index 7 is out of range for Embedding(2, 2): valid indices are 0 to 1")
        #expect(out == [-1, -1, -1, -1])  // nothing written
    }

    @Test func nullAndNegativeArgumentsAreValueErrors() {
        var out = [Float](repeating: 0, count: 4)
        let (s1, _) = call { err, cap in CSwiftRNN.srnn_linear_forward(nil, 2, 2, nil, nil, 2, &out, err, cap) }
        #expect(s1 == Int32(SRNN_VALUE_ERROR.rawValue))
        let (s2, _) = call { err, cap in CSwiftRNN.srnn_softmax(nil, -1, 2, 2, 0, &out, err, cap) }
        #expect(s2 == Int32(SRNN_VALUE_ERROR.rawValue))
        let (s3, _) = call { err, cap in CSwiftRNN.srnn_rnn_forward(nil, nil, 0, nil, 1, 1, nil, nil, nil, nil, err, cap) }
        #expect(s3 == Int32(SRNN_VALUE_ERROR.rawValue))
    }

    @Test func overflowingSizesAreOverflowErrors() {
        var desc = srnn_rnn_desc(input_size: 1 << 31, hidden_size: 1 << 31, num_layers: 1, nonlinearity: 0,
                                 has_bias: 1, bidirectional: 0, batch_first: 0)
        #expect(CSwiftRNN.srnn_rnn_num_params(&desc) == -1)
        let (status, message) = call { err, cap in
            CSwiftRNN.srnn_rnn_forward(&desc, nil, 4, nil, 1, 1, nil, nil, nil, nil, err, cap)
        }
        #expect(status == Int32(SRNN_OVERFLOW_ERROR.rawValue))
        #expect(message.contains("overflows"))
        let (s2, _) = call { err, cap in CSwiftRNN.srnn_linear_forward(nil, Int64.max, 2, nil, nil, 2, nil, err, cap) }
        #expect(s2 == Int32(SRNN_OVERFLOW_ERROR.rawValue))
    }

    @Test func unknownNonlinearityIsRejected() {
        var desc = srnn_rnn_desc(input_size: 1, hidden_size: 1, num_layers: 1, nonlinearity: 7,
                                 has_bias: 0, bidirectional: 0, batch_first: 0)
        #expect(CSwiftRNN.srnn_rnn_num_params(&desc) == -1)
    }

    @Test func longMessagesAreTruncatedToTheBuffer() {
        var small = [CChar](repeating: 1, count: 8)
        let indices: [Int64] = [5]
        var weight: [Float] = [0]
        var out: [Float] = [0]
        let status = CSwiftRNN.srnn_embedding_forward(&weight, 1, 1, indices, 1, -1, 2, &out, &small, 8)
        #expect(status == Int32(SRNN_INDEX_ERROR.rawValue))
        #expect(small[7] == 0 && String(cString: small) == "index 5")
    }

    @Test func paramShapesComeFromTheCore() {
        var desc = srnn_rnn_desc(input_size: 5, hidden_size: 3, num_layers: 2, nonlinearity: 0,
                                 has_bias: 1, bidirectional: 1, batch_first: 0)
        #expect(CSwiftRNN.srnn_rnn_num_params(&desc) == 16)
        var shape: [Int64] = [0, 0]
        #expect(CSwiftRNN.srnn_rnn_param_shape(&desc, 8, &shape) == 2 && shape == [3, 6])
        #expect(CSwiftRNN.srnn_rnn_param_shape(&desc, 3, &shape) == 1 && shape[0] == 3)
        #expect(CSwiftRNN.srnn_rnn_param_shape(&desc, 16, &shape) == -1)
    }
}
