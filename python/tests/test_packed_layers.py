"""PackedSequence through nn.RNN, nn.LSTM and nn.GRU without torch: each sequence's packed rows, h_n and c_n are
bit for bit those of the sequence run alone (batch invariance: the core runs step t on the first batch_sizes[t]
sequences), in the batch's original order, with or without initial states, every layer and both directions;
the backward gives each sequence the gradients it would get alone."""
import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn
from swiftrnn.nn.utils.rnn import PackedSequence, pack_sequence, pad_packed_sequence, unpack_sequence

LENGTHS = [5, 2, 7, 7, 1, 4]


def make(cls, bidirectional, **kw):
    swiftrnn.manual_seed(3)
    return cls(4, 6, num_layers=2, bidirectional=bidirectional, **kw)


def sequences(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((n, 4)).astype(np.float32) for n in LENGTHS]


def states(cls, layer, rng):
    D = 2 if layer.bidirectional else 1
    P = layer.proj_size or layer.hidden_size
    h0 = rng.standard_normal((2 * D, len(LENGTHS), P)).astype(np.float32)
    if cls is nn.LSTM:
        return h0, rng.standard_normal((2 * D, len(LENGTHS), layer.hidden_size)).astype(np.float32)
    return h0


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cls, kw", [(nn.RNN, {}), (nn.RNN, {"nonlinearity": "relu"}), (nn.GRU, {}), (nn.LSTM, {}),
                                     (nn.LSTM, {"proj_size": 3})])
@pytest.mark.parametrize("with_states", [False, True])
def test_each_sequence_as_if_alone(cls, kw, bidirectional, with_states):
    layer = make(cls, bidirectional, **kw).eval()
    seqs = sequences()
    hx = states(cls, layer, np.random.default_rng(1)) if with_states else None
    out, hn = layer(pack_sequence(seqs, enforce_sorted=False), hx)
    assert isinstance(out, PackedSequence)
    per_sequence = unpack_sequence(out)
    for i, s in enumerate(seqs):
        if hx is None:
            alone_hx = None
        elif cls is nn.LSTM:
            alone_hx = (hx[0][:, i:i + 1], hx[1][:, i:i + 1])
        else:
            alone_hx = hx[:, i:i + 1]
        alone_out, alone_hn = layer(s[:, None], alone_hx)
        np.testing.assert_array_equal(per_sequence[i], alone_out[:, 0])
        if cls is nn.LSTM:
            np.testing.assert_array_equal(hn[0][:, i], alone_hn[0][:, 0])
            np.testing.assert_array_equal(hn[1][:, i], alone_hn[1][:, 0])
        else:
            np.testing.assert_array_equal(hn[:, i], alone_hn[:, 0])


@pytest.mark.parametrize("cls", [nn.RNN, nn.GRU, nn.LSTM])
def test_the_backward_of_a_packed_batch_is_the_sum_of_each_sequences(cls):
    layer = make(cls, True)
    seqs = sequences(2)
    packed = pack_sequence(seqs, enforce_sorted=False)
    out, hn = layer(packed)
    g = np.random.default_rng(3).standard_normal(out.data.shape).astype(np.float32)
    grad_packed = PackedSequence(g, out.batch_sizes, out.sorted_indices, out.unsorted_indices)
    grad_input = layer.backward(grad_packed)[0]
    assert isinstance(grad_input, PackedSequence)
    batch_grads = {n: p.grad.copy() for n, p in layer.named_parameters()}
    layer.zero_grad()
    g_seqs = unpack_sequence(grad_packed)
    for i, s in enumerate(seqs):
        alone_out, _ = layer(s[:, None])
        gi = layer.backward(g_seqs[i][:, None])[0]
        np.testing.assert_allclose(unpack_sequence(grad_input)[i], gi[:, 0], rtol=1e-5, atol=1e-6)
    for n, p in layer.named_parameters():
        np.testing.assert_allclose(batch_grads[n], p.grad, rtol=1e-4, atol=1e-5, err_msg=n)


def test_the_padded_round_trip_and_errors():
    gru = make(nn.GRU, False).eval()
    out, _ = gru(pack_sequence(sequences(), enforce_sorted=False))
    padded, lengths = pad_packed_sequence(out)
    assert padded.shape == (7, len(LENGTHS), 6) and list(lengths) == LENGTHS
    assert (padded[2:, 1] == 0).all()                      # the second sequence ends after 2 steps
    bad = PackedSequence._make((np.zeros((5, 4), np.float32), np.array([2, 3]), None, None))
    with pytest.raises(ValueError, match="batch_sizes must be positive and non-increasing"):
        gru(bad)
    with pytest.raises(ValueError, match="packed data with 4 features"):
        gru(PackedSequence._make((np.zeros((3, 5), np.float32), np.array([2, 1]), None, None)))
