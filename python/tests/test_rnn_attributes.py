"""nn.RNN reads its attributes at each forward, as torch does: a change after construction takes effect
(it was frozen at construction while repr claimed the new value), and a value that cannot work is refused
when set, leaving the module as it was."""
import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn


def test_batch_first_set_after_construction_is_used():
    swiftrnn.manual_seed(0)
    rnn = nn.RNN(3, 5, num_layers=2).eval()
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)   # (L, N, H_in)
    out_time_major, hn_time_major = rnn(x)
    rnn.batch_first = True
    assert "batch_first=True" in repr(rnn)
    out, hn = rnn(x.transpose(1, 0, 2))                                          # (N, L, H_in)
    assert out.shape == (2, 4, 5)
    np.testing.assert_array_equal(out, out_time_major.transpose(1, 0, 2))
    np.testing.assert_array_equal(hn, hn_time_major)


def test_mode_set_after_construction_is_used():
    swiftrnn.manual_seed(0)
    rnn = nn.RNN(3, 5).eval()
    x = np.random.default_rng(1).standard_normal((4, 2, 3)).astype(np.float32)
    tanh_out, _ = rnn(x)
    rnn.mode = "RNN_RELU"        # what torch's forward reads (nonlinearity is only the constructor's argument)
    relu_out, _ = rnn(x)
    assert (relu_out >= 0).all() and not np.array_equal(relu_out, tanh_out)


def test_a_training_forward_after_a_change_saves_the_new_layout():
    rnn = nn.RNN(3, 5)
    rnn.batch_first = True
    x = np.ones((2, 4, 3), np.float32)
    out, _ = rnn(x)
    grad_input, grad_h0 = rnn.backward(np.ones_like(out))
    assert grad_input.shape == (2, 4, 3) and grad_h0.shape == (1, 2, 5)


@pytest.mark.parametrize("name, value, exc", [
    ("hidden_size", 0, ValueError), ("num_layers", "2", TypeError), ("mode", "LSTM", ValueError),
])
def test_a_value_that_cannot_work_is_refused_and_changes_nothing(name, value, exc):
    rnn = nn.RNN(3, 5)
    before = getattr(rnn, name)
    with pytest.raises(exc):
        setattr(rnn, name, value)
    assert getattr(rnn, name) == before
    out, hn = rnn(np.ones((2, 1, 3), np.float32))
    assert out.shape == (2, 1, 5)


def test_a_size_that_no_longer_fits_the_parameters_names_the_parameter():
    rnn = nn.RNN(3, 5)
    rnn.input_size = 4
    with pytest.raises(ValueError, match=r"expected weight_ih_l0 of shape \(5, 4\), got \(5, 3\)"):
        rnn(np.ones((2, 1, 4), np.float32))
