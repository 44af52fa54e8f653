"""nn.LSTM, nn.GRU and the cells against PyTorch reference values in fixtures/recurrent.npz (no torch needed).

The fixtures are written by fixtures/make_recurrent_fixtures.py (its docstring lists the kinds of case).
Forward outputs: rtol=1e-4, atol=2e-5; gradients (longer chains of float32 sums): rtol=2e-4, atol=2e-5;
initial weights and the generator after them: bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_close, assert_float32_output, load_fixture

import swiftrnn
from swiftrnn import nn

pytestmark = pytest.mark.filterwarnings("ignore:dropout option adds dropout:UserWarning")
GRAD_RTOL = 2e-4


def cases(kind):
    meta, _ = load_fixture("recurrent")
    return [c for c in meta["cases"] if c["kind"] == kind]


def arrays(case):
    """{tensor: fresh writable array} of one case, unpacked from its float32 / int64 members."""
    _, packed = load_fixture("recurrent")
    out = {}
    for name in case["arrays"]:
        member, offset, shape = case["layout"][name]
        flat = packed[f"{case['name']}.{member}"]
        out[name] = flat[offset:offset + int(np.prod(shape, dtype=np.int64))].reshape(shape).copy()
    return out


def ids(cs):
    return [c["name"] for c in cs]


def load(module, a, prefix="p."):
    keys = [k[len(prefix):] for k in a if k.startswith(prefix)]
    assert list(module.state_dict()) == keys  # torch's names, in torch's order
    module.load_state_dict({k: a[prefix + k] for k in keys})
    return module


def same_bits(name, actual, expected):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, name
    assert actual.tobytes() == expected.tobytes(), (
        f"{name}: {int((actual != expected).sum())}/{actual.size} values differ from torch's")


def test_fixture_metadata():
    meta, _ = load_fixture("recurrent")
    assert meta["torch_version"].split(".")[0] == "2"
    kinds = {c["kind"] for c in meta["cases"]}
    assert kinds == {"forward", "grad", "cell_loop", "init", "module"}


# ----------------------------------------------------------------------------------------------
# forward
# ----------------------------------------------------------------------------------------------

FORWARD = cases("forward")


def run_forward(m, case, x, h0, c0):
    if case["module"] == "LSTM":
        out, (hn, cn) = m(x, (h0, c0)) if case["with_hx"] else m(x)
        return {"output": out, "hn": hn, "cn": cn}
    out, hn = m(x, h0) if case["with_hx"] else m(x)
    return {"output": out, "hn": hn}


@pytest.mark.parametrize("case", FORWARD, ids=ids(FORWARD))
def test_forward_matches_torch(case):
    a = arrays(case)
    m = load(getattr(nn, case["module"])(**case["kwargs"]), a).eval()
    assert repr(m) == case["repr"]
    x_before = a["x"].copy()
    got = run_forward(m, case, a["x"], a.get("h0"), a.get("c0"))
    np.testing.assert_array_equal(a["x"], x_before, err_msg="the input was modified")
    for k, v in got.items():
        assert_float32_output(f"{case['name']}.{k}", v)
        assert_close(f"{case['name']}.{k}", v, a[k])
    # Training mode without dropout gives the same numbers (and saves a state for backward).
    if case["kwargs"].get("dropout", 0) == 0 or case["kwargs"].get("num_layers", 1) == 1:
        m.train()
        for k, v in run_forward(m, case, a["x"], a.get("h0"), a.get("c0")).items():
            np.testing.assert_array_equal(v, got[k], err_msg=f"{k}: training mode differs from eval mode")
        m.clear_saved()


@pytest.mark.parametrize("case", [c for c in FORWARD if c["name"].endswith(("_all_options", "_odd_wide"))],
                         ids=lambda c: c["name"])
def test_forward_input_spellings(case):
    """float64, nested lists and non-contiguous views give the float32 result; an LSTM's hx may be a list."""
    a = arrays(case)
    m = load(getattr(nn, case["module"])(**case["kwargs"]), a).eval()
    strided = np.zeros(a["x"].shape + (2,), np.float32)
    strided[..., 1] = a["x"]
    for kind, x in {"float64": a["x"].astype(np.float64), "list": a["x"].tolist(),
                    "strided": strided[..., 1]}.items():
        h0 = a["h0"].astype(np.float64) if kind == "float64" else a["h0"]
        if case["module"] == "LSTM":
            out, (hn, cn) = m(x, [h0, a["c0"]])
            assert_close(f"cn[{kind}]", cn, a["cn"])
        else:
            out, hn = m(x, h0)
        assert_close(f"output[{kind}]", out, a["output"])
        assert_close(f"hn[{kind}]", hn, a["hn"])


# ----------------------------------------------------------------------------------------------
# gradients: Embedding -> LSTM/GRU -> Linear -> cross-entropy, upstream gradients into h_n (and c_n)
# ----------------------------------------------------------------------------------------------

GRAD = cases("grad")


@pytest.mark.parametrize("case", GRAD, ids=ids(GRAD))
def test_pipeline_gradients_match_autograd(case):
    a = arrays(case)
    V, E, lstm = case["V"], case["E"], case["module"] == "LSTM"
    emb = load(nn.Embedding(V, E), a, "p.embedding.")
    rnn = load(getattr(nn, case["module"])(E, **case["kwargs"]), a, "p.rnn.")
    fc = load(nn.Linear(a["p.fc.weight"].shape[1], V), a, "p.fc.")
    crit = nn.CrossEntropyLoss()
    h0 = a.get("h0")
    hx = ((h0, a["c0"]) if lstm else h0) if case["with_hx"] else None
    if case["dropout_seed"] is not None:
        swiftrnn.manual_seed(case["dropout_seed"])  # as torch was seeded: the forward draws torch's masks
    out, state = rnn(emb(a["idx"]), hx)
    hn, cn = state if lstm else (state, None)
    logits = fc(out)
    loss = crit(logits.reshape(-1, V), a["target"].reshape(-1))
    assert_close("logits", logits, a["logits"])
    assert_close("hn", hn, a["hn"])
    if lstm:
        assert_close("cn", cn, a["cn"])
    assert_close("loss", loss, a["loss"])

    grad_logits = crit.backward().reshape(logits.shape)
    grad_x, grad_state = rnn.backward(fc.backward(grad_logits), (a["g_hn"], a["g_cn"]) if lstm else a["g_hn"])
    emb.backward(grad_x)
    grad_h0, grad_c0 = grad_state if lstm else (grad_state, None)
    if case["with_hx"]:
        assert_close("grad_h0", grad_h0, a["grad.h0"], rtol=GRAD_RTOL)
        if lstm:
            assert_close("grad_c0", grad_c0, a["grad.c0"], rtol=GRAD_RTOL)
    for prefix, m in (("embedding", emb), ("rnn", rnn), ("fc", fc)):
        for k, p in m.named_parameters():
            assert_close(f"{prefix}.{k}.grad", p.grad, a[f"grad.{prefix}.{k}"], rtol=GRAD_RTOL)


# ----------------------------------------------------------------------------------------------
# cell loops: the cell applied T times, then T backwards in reverse order (the saved-state stack)
# ----------------------------------------------------------------------------------------------

CELLS = cases("cell_loop")


def cell_loop(cell, case, a):
    """Runs the case's loop forward and backward; returns (hs, cs, grad_xs, grad_h0, grad_c0)."""
    lstm, T = case["module"] == "LSTMCell", case["T"]
    state = ((a["h0"], a["c0"]) if lstm else a["h0"]) if case["with_hx"] else None
    hs, cs = [], []
    for t in range(T):
        state = cell(a["xs"][t], state)
        h, c = state if lstm else (state, None)
        hs.append(h)
        cs.append(c)
    grad_xs = [None] * T
    carry_h = carry_c = 0
    for t in reversed(range(T)):  # each backward consumes the most recent forward
        gh = a["g_h"][t] + carry_h
        if lstm:
            grad_xs[t], (carry_h, carry_c) = cell.backward((gh, a["g_c"][t] + carry_c))
        else:
            grad_xs[t], carry_h = cell.backward(gh)
    return np.stack(hs), (np.stack(cs) if lstm else None), np.stack(grad_xs), carry_h, carry_c


@pytest.mark.parametrize("case", CELLS, ids=ids(CELLS))
def test_cell_loop_matches_autograd(case):
    a = arrays(case)
    cell = load(getattr(nn, case["module"])(**case["kwargs"]), a)
    assert repr(cell) == case["repr"]
    hs, cs, grad_xs, grad_h0, grad_c0 = cell_loop(cell, case, a)
    assert_close("hs", hs, a["hs"])
    if cs is not None:
        assert_close("cs", cs, a["cs"])
    assert_close("grad_xs", grad_xs, a["grad.xs"], rtol=GRAD_RTOL)
    if case["with_hx"]:
        assert_close("grad_h0", grad_h0, a["grad.h0"], rtol=GRAD_RTOL)
        if cs is not None:
            assert_close("grad_c0", grad_c0, a["grad.c0"], rtol=GRAD_RTOL)
    for k, p in cell.named_parameters():
        assert_close(f"{k}.grad", p.grad, a[f"grad.{k}"], rtol=GRAD_RTOL)
    with pytest.raises(RuntimeError):  # all T saved states were consumed
        cell.backward((a["g_h"][0], None) if cs is not None else a["g_h"][0])


def test_cell_loop_twice_accumulates_twice():
    """Two loops before zero_grad add up, as torch's .grad does; a fresh loop after zero_grad gives the same."""
    case = next(c for c in CELLS if c["module"] == "LSTMCell" and c["T"] > 1)
    a = arrays(case)
    cell = load(nn.LSTMCell(**case["kwargs"]), a)
    cell_loop(cell, case, a)
    cell_loop(cell, case, a)
    for k, p in cell.named_parameters():
        assert_close(f"{k}.grad x2", p.grad, 2 * a[f"grad.{k}"], rtol=GRAD_RTOL)


# ----------------------------------------------------------------------------------------------
# init, repr, state_dict
# ----------------------------------------------------------------------------------------------

INIT = cases("init")


@pytest.mark.parametrize("case", INIT, ids=ids(INIT))
def test_init_and_reset_parameters_are_torchs_bits(case):
    a = arrays(case)
    swiftrnn.manual_seed(case["seed"])
    m = getattr(nn, case["module"])(*case["args"], **case["kwargs"])
    assert list(m.state_dict()) == case["state_dict_keys"]
    for k, v in m.state_dict().items():
        same_bits(f"init {k}", v, a["init." + k])
    m.reset_parameters()
    for k, v in m.state_dict().items():
        same_bits(f"reset {k}", v, a["reset." + k])
    same_bits("rand(3) after", swiftrnn.rand(3), a["after"])


MODULES = cases("module")


@pytest.mark.parametrize("case", MODULES, ids=ids(MODULES))
def test_repr_and_state_dict_layout(case):
    m = getattr(nn, case["module"])(*case["args"], **case["kwargs"])
    assert repr(m) == case["repr"]
    sd = m.state_dict()
    assert list(sd) == case["state_dict_keys"]
    assert {k: list(v.shape) for k, v in sd.items()} == case["param_shapes"]
    assert [n for n, _ in m.named_parameters()] == case["state_dict_keys"]
