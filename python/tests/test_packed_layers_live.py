"""Packed batches through RNN, LSTM and GRU against torch (skipped without torch): outputs, h_n/c_n, and the input
and parameter gradients with upstream gradients into the packed output and the final states."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from swiftrnn import nn  # noqa: E402
from swiftrnn.nn.utils.rnn import pack_padded_sequence  # noqa: E402

CASES = [(cls, kw, bidir, layers) for cls, kw in [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("GRU", {}),
                                                 ("LSTM", {}), ("LSTM", {"proj_size": 2})]
         for bidir in (False, True) for layers in (1, 2)]


@pytest.mark.parametrize("name, kw, bidir, layers", CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_packed_matches_torch(name, kw, bidir, layers, seed):
    rng = np.random.default_rng(seed)
    ours = getattr(nn, name)(3, 5, num_layers=layers, bidirectional=bidir, **kw)
    theirs = getattr(torch.nn, name)(3, 5, num_layers=layers, bidirectional=bidir, **kw)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    lengths = list(rng.integers(1, 9, size=int(rng.integers(1, 7))))
    T, N = max(lengths), len(lengths)
    x = rng.standard_normal((T, N, 3)).astype(np.float32)
    D, P = (2 if bidir else 1), kw.get("proj_size") or 5
    h0 = rng.standard_normal((layers * D, N, P)).astype(np.float32)
    c0 = rng.standard_normal((layers * D, N, 5)).astype(np.float32)
    lstm = name == "LSTM"
    xt = torch.from_numpy(x).requires_grad_()
    t_out, t_h = theirs(torch.nn.utils.rnn.pack_padded_sequence(xt, lengths, enforce_sorted=False),
                        (torch.from_numpy(h0), torch.from_numpy(c0)) if lstm else torch.from_numpy(h0))
    out, h = ours(pack_padded_sequence(x, lengths, enforce_sorted=False), (h0, c0) if lstm else h0)
    np.testing.assert_allclose(out.data, t_out.data.detach().numpy(), rtol=1e-4, atol=2e-5)
    for a, b in zip(h if lstm else (h,), t_h if lstm else (t_h,)):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-4, atol=2e-5)
    g_out = rng.standard_normal(out.data.shape).astype(np.float32)
    g_states = [rng.standard_normal(s.shape).astype(np.float32) for s in (h if lstm else (h,))]
    loss = (t_out.data * torch.from_numpy(g_out)).sum()
    loss = loss + sum((s * torch.from_numpy(g)).sum() for s, g in zip(t_h if lstm else (t_h,), g_states))
    loss.backward()
    grad_input = ours.backward(g_out, tuple(g_states) if lstm else g_states[0])[0]
    want = torch.nn.utils.rnn.pack_padded_sequence(xt.grad, lengths, enforce_sorted=False).data.numpy()
    np.testing.assert_allclose(grad_input.data, want, rtol=2e-4, atol=2e-5)
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad, q.grad.numpy(), rtol=2e-4, atol=2e-5, err_msg=n)
