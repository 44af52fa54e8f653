"""nn.LSTM, nn.GRU and the cells without torch: shapes, torch's names and errors, the saved-state stack (a module
used k times before its backwards), and oracles that need no reference implementation (a cell loop's gradients
equal the layer's; batch invariance; omitted states equal zeros)."""
import tracemalloc
import warnings

import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn

RNG = np.random.default_rng(0)


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_shapes_names_and_repr(batch_first, bidirectional):
    lstm = nn.LSTM(3, 6, num_layers=2, batch_first=batch_first, bidirectional=bidirectional, proj_size=4)
    D = 2 if bidirectional else 1
    x = randn(5, 7, 3)   # (N, L, I) if batch_first else (L, N, I)
    N = 5 if batch_first else 7
    out, (hn, cn) = lstm(x)
    assert out.shape == x.shape[:2] + (D * 4,)
    assert hn.shape == (2 * D, N, 4) and cn.shape == (2 * D, N, 6)
    names = list(lstm.state_dict())
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    assert lstm.weight_hh_l1.shape == (24, 4) and lstm.weight_ih_l1.shape == (24, D * 4)
    assert repr(lstm).startswith("LSTM(3, 6, proj_size=4, num_layers=2")
    assert len(lstm.all_weights) == 2 * D and len(lstm.all_weights[0]) == 5
    out_u, (hn_u, cn_u) = lstm(x[0] if batch_first else x[:, 0])   # unbatched: (L, I)
    assert out_u.shape == (x.shape[1] if batch_first else x.shape[0], D * 4)
    assert hn_u.shape == (2 * D, 4) and cn_u.shape == (2 * D, 6)


def test_gru_and_cells_shapes():
    gru = nn.GRU(3, 5, num_layers=2)
    out, hn = gru(randn(4, 2, 3))
    assert out.shape == (4, 2, 5) and hn.shape == (2, 2, 5) and gru.weight_ih_l0.shape == (15, 3)
    for cell, gates in ((nn.RNNCell(3, 5), 1), (nn.GRUCell(3, 5), 3), (nn.LSTMCell(3, 5), 4)):
        assert list(cell.state_dict()) == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        assert cell.weight_ih.shape == (gates * 5, 3)
        h = cell(randn(2, 3))
        h1 = h[0] if isinstance(cell, nn.LSTMCell) else h
        assert h1.shape == (2, 5)
        hu = cell(randn(3))
        assert (hu[0] if isinstance(cell, nn.LSTMCell) else hu).shape == (5,)
    assert repr(nn.RNNCell(3, 5, nonlinearity="relu")) == "RNNCell(3, 5, nonlinearity=relu)"


def test_wrong_state_forms_say_which_form_is_wanted():
    h = np.zeros((1, 2, 4), np.float32)
    with pytest.raises(TypeError, match=r"LSTM expects hx as a tuple \(h_0, c_0\) of two arrays, got ndarray"):
        nn.LSTM(3, 4)(randn(5, 2, 3), h)
    with pytest.raises(TypeError, match=r"GRU expects hx as one array h_0 .* got a tuple of 2 \(a tuple \(h_0, c_0\) is an LSTM's"):
        nn.GRU(3, 4)(randn(5, 2, 3), (h, h))
    with pytest.raises(TypeError, match="RNN expects hx as one array h_0"):
        nn.RNN(3, 4)(randn(5, 2, 3), (h, h))
    with pytest.raises(TypeError, match=r"LSTMCell expects hx as a tuple \(h, c\)"):
        nn.LSTMCell(3, 4)(randn(2, 3), np.zeros((2, 4)))
    with pytest.raises(TypeError, match="GRUCell expects hx as one array"):
        nn.GRUCell(3, 4)(randn(2, 3), (np.zeros((2, 4)), np.zeros((2, 4))))
    with pytest.raises(ValueError, match=r"expected c0 of shape \(1, 2, 4\)"):
        nn.LSTM(3, 4)(randn(5, 2, 3), (h, np.zeros((1, 3, 4))))
    with pytest.raises(ValueError, match="Expected input to be 1D or 2D, got 3D"):
        nn.GRUCell(3, 4)(randn(5, 2, 3))


def test_constructor_checks_are_torchs():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(TypeError):
        nn.GRU(3, 4, proj_size=2)   # torch's GRU takes no proj_size either
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.LSTMCell(3, 0)
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(ValueError, match="Unknown mode 'RNN_TANH' for LSTM"):
        nn.LSTM(3, 4).mode = "RNN_TANH"


@pytest.mark.parametrize("cls", [nn.LSTM, nn.GRU])
def test_omitted_states_are_zeros_and_batches_do_not_change_a_sequence(cls):
    m = cls(3, 6, num_layers=2, bidirectional=True).eval()
    x = randn(7, 5, 3)
    zeros = np.zeros((4, 5, 6), np.float32)
    hx = (zeros, zeros) if cls is nn.LSTM else zeros
    a, b = m(x), m(x, hx)
    np.testing.assert_array_equal(a[0], b[0])
    alone = m(x[:, 2:3])[0]
    np.testing.assert_array_equal(alone[:, 0], a[0][:, 2])   # batch invariance, bit for bit


def _cell_loop_gradients(cell, layer, T=6, N=3):
    """Runs `cell` T times over x (each step's h fed back) and backward in reverse order; runs `layer` (the same
    weights) once; returns both sets of (outputs, input grads, parameter grads) for the same upstream grads."""
    lstm = isinstance(cell, nn.LSTMCell)
    for name, p in cell.named_parameters():
        getattr(layer, name + "_l0")[...] = p
    x, g = randn(T, N, cell.input_size), randn(T, N, cell.hidden_size)
    state = None
    outs = []
    for t in range(T):
        state = cell(x[t], state)
        outs.append(state[0] if lstm else state)
    grad_x = np.zeros_like(x)
    carry = None                                     # the gradient flowing into step t's state from step t+1
    for t in reversed(range(T)):
        if lstm:
            gh = g[t] + (carry[0] if carry else 0)
            grad_x[t], carry = cell.backward((gh, carry[1] if carry else None))
        else:
            grad_x[t], carry = cell.backward(g[t] + (0 if carry is None else carry))
    out, _ = layer(x)
    layer_grad_x, _ = layer.backward(g) if not lstm else layer.backward(g)
    return (np.stack(outs), grad_x, {n: p.grad for n, p in cell.named_parameters()}), \
        (out, layer_grad_x, {n: getattr(layer, n + "_l0").grad for n, _ in cell.named_parameters()})


@pytest.mark.parametrize("cell_cls, layer_cls", [(nn.RNNCell, nn.RNN), (nn.LSTMCell, nn.LSTM), (nn.GRUCell, nn.GRU)])
def test_a_cell_loop_with_reverse_backwards_gets_the_layers_gradients(cell_cls, layer_cls):
    """The saved-state stack: T forwards of one cell, then T backwards in reverse order, give what one
    layer forward/backward over the T steps gives (the layer is the cell's recurrence)."""
    (outs, gx, grads), (lout, lgx, lgrads) = _cell_loop_gradients(cell_cls(4, 5), layer_cls(4, 5))
    np.testing.assert_allclose(outs, lout, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gx, lgx, rtol=1e-4, atol=1e-5)
    for name in grads:
        np.testing.assert_allclose(grads[name], lgrads[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_a_linear_used_twice_gets_both_contributions_in_reverse_order():
    lin = nn.Linear(3, 3)
    x = randn(2, 3)
    y1 = lin(x)
    y2 = lin(y1)                 # the same module twice: two saved states
    assert lin.saved_forwards == 2
    g2 = randn(2, 3)
    g1 = lin.backward(g2)        # the second use's backward first (last in, first out)
    gx = lin.backward(g1)
    w = lin.weight
    np.testing.assert_allclose(g1, g2 @ w, rtol=1e-5)
    np.testing.assert_allclose(gx, g2 @ w @ w, rtol=1e-5)
    np.testing.assert_allclose(lin.weight.grad, g2.T @ y1 + g1.T @ x, rtol=1e-4, atol=1e-6)
    with pytest.raises(RuntimeError, match="no forward has run in training mode since the last backward"):
        lin.backward(g2)


def test_a_step_loop_over_an_rnn_then_backward_gets_every_step():
    """A torch-style step loop (for t: out, h = rnn(x[t:t+1], h)) then backwards in reverse order: the same
    gradients as one call over the sequence (was: only the last forward was kept)."""
    swiftrnn.manual_seed(1)
    rnn = nn.GRU(3, 4)
    x, g = randn(5, 2, 3), randn(5, 2, 4)
    h = None
    for t in range(5):
        _, h = rnn(x[t:t + 1], h)
    carry = np.zeros((1, 2, 4), np.float32)
    for t in reversed(range(5)):
        _, carry = rnn.backward(g[t:t + 1] + 0 * carry, carry)   # the step's output is its h_n: grads via grad_hn
    stepwise = {n: p.grad.copy() for n, p in rnn.named_parameters()}
    rnn.zero_grad()
    out, _ = rnn(x)
    rnn.backward(g)
    for n, p in rnn.named_parameters():
        np.testing.assert_allclose(stepwise[n], p.grad, rtol=1e-4, atol=1e-5, err_msg=n)


def test_saved_forwards_are_bounded_with_a_warning_and_can_be_cleared():
    lin = nn.Linear(2, 2)
    lin.max_saved_forwards = 3
    x = randn(1, 2)
    with pytest.warns(RuntimeWarning, match="dropped the oldest.*clear_saved"):
        for _ in range(5):
            lin(x)
    assert lin.saved_forwards == 3
    lin.clear_saved()
    assert lin.saved_forwards == 0
    with pytest.raises(RuntimeError, match="nothing to work from"):
        lin.backward(randn(1, 2))


def test_memory_stays_flat_in_an_inference_loop_that_forgets_no_grad():
    """Training-mode forwards that no backward consumes: memory stops growing at the bound."""
    lstm = nn.LSTM(8, 16)
    x = randn(10, 4, 8)
    bound = lstm.max_saved_forwards
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tracemalloc.start()
        try:
            for _ in range(bound + 50):   # the stack is full: every state held now was traced
                lstm(x)
            base, _ = tracemalloc.get_traced_memory()
            for _ in range(bound):        # each of those replaced by a new one
                lstm(x)
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert lstm.saved_forwards == lstm.max_saved_forwards
    assert after - base < 256 * 1024, (base, after)   # one forward's saved state is ~20 KB: no growth


def test_an_eval_forward_between_a_forward_and_its_backward_changes_nothing():
    rnn = nn.LSTM(3, 4)
    x = randn(5, 2, 3)
    out, _ = rnn(x)
    with swiftrnn.no_grad():
        rnn(randn(2, 1, 3))
    grad_input, (grad_h0, grad_c0) = rnn.backward(np.ones_like(out))
    assert grad_input.shape == x.shape and grad_h0.shape == grad_c0.shape == (1, 2, 4)


def test_lstm_backward_takes_either_state_gradient():
    lstm = nn.LSTM(3, 4, num_layers=2)
    x = randn(5, 2, 3)
    out, (hn, cn) = lstm(x)
    grad_input, (gh0, gc0) = lstm.backward(np.zeros_like(out), (None, np.ones_like(cn)))
    assert np.abs(gc0).sum() > 0 and grad_input.shape == x.shape
    lstm(x)
    with pytest.raises(TypeError, match=r"grad_hx as a tuple \(grad_h_n, grad_c_n\)"):
        lstm.backward(np.zeros_like(out), np.ones_like(hn))
    lstm.backward(np.zeros_like(out))   # the refused call kept the saved forward


def test_state_dict_round_trip_and_batch_first_read_per_call():
    a, b = nn.LSTM(3, 5, proj_size=2), nn.LSTM(3, 5, proj_size=2)
    b.load_state_dict(a.state_dict())
    x = randn(4, 2, 3)
    np.testing.assert_array_equal(a.eval()(x)[0], b.eval()(x)[0])
    b.batch_first = True
    np.testing.assert_array_equal(b(x.transpose(1, 0, 2))[0], a(x)[0].transpose(1, 0, 2))
