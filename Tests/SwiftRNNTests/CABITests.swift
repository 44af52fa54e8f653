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
                                 has_bias: 1, bidirectional: 0, batch_first: 0, cell: 0, reserved: 0, proj_size: 0)
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
                                 has_bias: 0, bidirectional: 0, batch_first: 0, cell: 0, reserved: 0, proj_size: 0)
        #expect(CSwiftRNN.srnn_rnn_num_params(&desc) == -1)
    }

    @Test func longMessagesAreTruncatedToTheBuffer() {
        var small = [CChar](repeating: 1, count: 8)
        let indices: [Int64] = [5]
        var weight: [Float] = [0]
        var out: [Float] = [0]
        let status = CSwiftRNN.srnn_embedding_forward(&weight, 1, 1, indices, 1, -1, 2, &out, &small, 8)
        #expect(status == Int32(SRNN_INDEX_ERROR.rawValue))
        #expect(small[7] == 0 && small.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } == "index 5")
    }

    @Test func paramShapesComeFromTheCore() {
        var desc = srnn_rnn_desc(input_size: 5, hidden_size: 3, num_layers: 2, nonlinearity: 0,
                                 has_bias: 1, bidirectional: 1, batch_first: 0, cell: 0, reserved: 0, proj_size: 0)
        #expect(CSwiftRNN.srnn_rnn_num_params(&desc) == 16)
        var shape: [Int64] = [0, 0]
        #expect(CSwiftRNN.srnn_rnn_param_shape(&desc, 8, &shape) == 2 && shape == [3, 6])
        #expect(CSwiftRNN.srnn_rnn_param_shape(&desc, 3, &shape) == 1 && shape[0] == 3)
        #expect(CSwiftRNN.srnn_rnn_param_shape(&desc, 16, &shape) == -1)
    }

    @Test func packedWeightSizesAndErrors() {
        #expect(CSwiftRNN.srnn_packed_weight_size(7, 3) == 48)   // 3 columns x 7 rows rounded up to 16
        #expect(CSwiftRNN.srnn_packed_weight_size(0, 3) == 0)
        #expect(CSwiftRNN.srnn_packed_weight_size(-1, 3) == -1)
        #expect(CSwiftRNN.srnn_packed_weight_size(Int64.max, 2) == -1)
        // No columns: nothing to pack however many rows (the rounding up of rows once overflowed).
        #expect(CSwiftRNN.srnn_packed_weight_size(Int64.max, 0) == 0)
        #expect(CSwiftRNN.srnn_packed_weight_size(Int64.max - 7, 0) == 0)
        let weight = [Float](repeating: 1, count: 21)
        var packed = [Float](repeating: 0, count: 48)
        let (s1, m1) = call { err, cap in CSwiftRNN.srnn_pack_weight(weight, 7, 3, &packed, 47, err, cap) }
        #expect(s1 == Int32(SRNN_VALUE_ERROR.rawValue) && m1.contains("48 floats, got 47"))
        let (s2, _) = call { err, cap in CSwiftRNN.srnn_pack_weight(nil, 7, 3, &packed, 48, err, cap) }
        #expect(s2 == Int32(SRNN_VALUE_ERROR.rawValue))
        let (s3, _) = call { err, cap in CSwiftRNN.srnn_pack_weight(weight, 7, 3, &packed, 48, err, cap) }
        #expect(s3 == Int32(SRNN_OK.rawValue))
        // A Linear(3, 7) call with a packing of the wrong size, and the right one against the unpacked call.
        let x: [Float] = [1, 2, 3, 4, 5, 6]
        var out = [Float](repeating: 0, count: 14), want = [Float](repeating: 0, count: 14)
        let (s4, m4) = call { err, cap in CSwiftRNN.srnn_linear_forward_packed(x, 2, 3, packed, 32, nil, 7, &out, err, cap) }
        #expect(s4 == Int32(SRNN_VALUE_ERROR.rawValue) && m4.contains("(7, 3)"))
        let (s5, _) = call { err, cap in CSwiftRNN.srnn_linear_forward_packed(x, 2, 3, packed, 48, nil, 7, &out, err, cap) }
        let (s6, _) = call { err, cap in CSwiftRNN.srnn_linear_forward(x, 2, 3, weight, nil, 7, &want, err, cap) }
        #expect(s5 == Int32(SRNN_OK.rawValue) && s6 == Int32(SRNN_OK.rawValue) && out == want && out[0] == 6)
    }

    @Test func packedRNNForwardChecksItsPackings() {
        var desc = srnn_rnn_desc(input_size: 2, hidden_size: 3, num_layers: 1, nonlinearity: 0,
                                 has_bias: 0, bidirectional: 0, batch_first: 0, cell: 0, reserved: 0, proj_size: 0)
        let wIH = [Float](repeating: 0.5, count: 6), wHH = [Float](repeating: 0.25, count: 9)
        var pIH = [Float](repeating: 0, count: 32), pHH = [Float](repeating: 0, count: 48)
        _ = call { err, cap in CSwiftRNN.srnn_pack_weight(wIH, 3, 2, &pIH, 32, err, cap) }
        _ = call { err, cap in CSwiftRNN.srnn_pack_weight(wHH, 3, 3, &pHH, 48, err, cap) }
        let x: [Float] = [1, -1, 0.5, 2]  // L = 2, N = 1
        var out = [Float](repeating: 0, count: 6), hn = [Float](repeating: 0, count: 3)
        var wantOut = out, wantHn = hn
        wIH.withUnsafeBufferPointer { ih in
            wHH.withUnsafeBufferPointer { hh in
                pIH.withUnsafeBufferPointer { pih in
                    pHH.withUnsafeBufferPointer { phh in
                        let params: [UnsafePointer<Float>?] = [ih.baseAddress, hh.baseAddress]
                        let packs: [UnsafePointer<Float>?] = [pih.baseAddress, phh.baseAddress]
                        let (s0, _) = call { err, cap in
                            CSwiftRNN.srnn_rnn_forward(&desc, params, 2, x, 2, 1, nil, nil, &wantOut, &wantHn, err, cap)
                        }
                        let (s1, _) = call { err, cap in
                            CSwiftRNN.srnn_rnn_forward_packed(&desc, params, 2, packs, [32, 48], 2, x, 2, 1, nil, nil,
                                                              &out, &hn, err, cap)
                        }
                        #expect(s0 == Int32(SRNN_OK.rawValue) && s1 == Int32(SRNN_OK.rawValue))
                        let (s2, m2) = call { err, cap in  // W_hh's packing where W_ih's belongs
                            CSwiftRNN.srnn_rnn_forward_packed(&desc, params, 2, [packs[1], packs[1]], [48, 48], 2, x, 2, 1,
                                                              nil, nil, &out, &hn, err, cap)
                        }
                        #expect(s2 == Int32(SRNN_VALUE_ERROR.rawValue) && m2.contains("weight_ih_l0"))
                        let (s3, _) = call { err, cap in
                            CSwiftRNN.srnn_rnn_forward_packed(&desc, params, 2, packs, [32, 48], 1, x, 2, 1, nil, nil,
                                                              &out, &hn, err, cap)
                        }
                        #expect(s3 == Int32(SRNN_VALUE_ERROR.rawValue))
                        let (s4, _) = call { err, cap in
                            CSwiftRNN.srnn_rnn_forward_packed(&desc, params, 2, [packs[0], nil], [32, 48], 2, x, 2, 1,
                                                              nil, nil, &out, &hn, err, cap)
                        }
                        #expect(s4 == Int32(SRNN_VALUE_ERROR.rawValue))
                    }
                }
            }
        }
        #expect(out.map(\.bitPattern) == wantOut.map(\.bitPattern) && hn == wantHn && hn != [0, 0, 0])
    }
}
