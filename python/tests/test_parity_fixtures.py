"""swiftrnn against PyTorch reference values stored in fixtures/*.npz (numpy + swiftrnn only, no torch).

The fixtures are written by fixtures/make_fixtures.py; each case's metadata records the torch
version and constructor kwargs. Tolerance: rtol=1e-4, atol=2e-5 (conftest.assert_close).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import assert_close, assert_float32_output, case_arrays, fixture_cases, load_fixture

import swiftrnn
from swiftrnn import nn

F = nn.functional

INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64]


def ids(cases):
    return [c["name"] for c in cases]


def weight_of(module, name="weight"):
    return np.asarray(module.state_dict()[name])


def variants(x):
    """Equivalent spellings of the same input: dtype, nesting, memory layout."""
    out = {
        "float32": np.array(x, dtype=np.float32, order="C"),
        "float64": x.astype(np.float64),
        "fortran": np.array(x, order="F"),
        "negative_strides": np.flip(np.flip(x).copy()),
    }
    big = np.zeros(x.shape + (3,), dtype=np.float32)
    big[..., 1] = x
    out["strided_view"] = big[..., 1]
    if x.size > 0:  # a nested list cannot spell a zero-size dimension's inner shape
        out["nested_list"] = x.tolist()
    return out


def check_output(name, actual, expected):
    assert_float32_output(name, actual)
    assert_close(name, actual, expected)


# ----------------------------------------------------------------------------------------------
# RNN
# ----------------------------------------------------------------------------------------------

RNN_CASES = fixture_cases("rnn")


def make_rnn(case, arrays):
    rnn = nn.RNN(**case["kwargs"])
    assert list(rnn.state_dict().keys()) == case["state_dict_keys"]
    rnn.load_state_dict({k: arrays["p." + k] for k in case["state_dict_keys"]})
    rnn.eval()
    return rnn


def test_fixture_metadata_records_torch_version():
    for name in ("rnn", "embedding", "linear", "softmax", "modules"):
        meta, _ = load_fixture(name)
        assert meta["torch_version"].split(".")[0] == "2", meta["torch_version"]
        assert meta["cases"], name


@pytest.mark.parametrize("case", RNN_CASES, ids=ids(RNN_CASES))
def test_rnn_matches_torch(case):
    a = case_arrays("rnn", case)
    rnn = make_rnn(case, a)
    x_before = a["x"].copy()
    if case["with_h0"]:
        h0_before = a["h0"].copy()
        out, hn = rnn(a["x"], a["h0"])
        np.testing.assert_array_equal(a["h0"], h0_before, err_msg="h0 was modified")
    else:
        out, hn = rnn(a["x"])
    np.testing.assert_array_equal(a["x"], x_before, err_msg="x was modified")
    check_output(f"{case['name']}.output", out, a["output"])
    check_output(f"{case['name']}.hn", hn, a["hn"])
    # Stateless: a second call gives the same result.
    out2, hn2 = rnn(a["x"], a["h0"]) if case["with_h0"] else rnn(a["x"])
    np.testing.assert_array_equal(out2, out)
    np.testing.assert_array_equal(hn2, hn)


@pytest.mark.parametrize("case", RNN_CASES, ids=ids(RNN_CASES))
def test_rnn_input_variants_give_same_result(case):
    a = case_arrays("rnn", case)
    rnn = make_rnn(case, a)
    xs = variants(a["x"])
    h0s = variants(a["h0"]) if case["with_h0"] else {k: None for k in xs}
    for kind, x in xs.items():
        h0 = h0s.get(kind, a.get("h0"))
        out, hn = rnn(x) if h0 is None else rnn(x, h0)
        check_output(f"{case['name']}.output[{kind}]", out, a["output"])
        check_output(f"{case['name']}.hn[{kind}]", hn, a["hn"])


@pytest.mark.parametrize("case", [c for c in RNN_CASES if c["unbatched"] or c["kwargs"].get("num_layers", 1) == 3][:6],
                         ids=lambda c: c["name"])
def test_rnn_state_dict_round_trip(case):
    a = case_arrays("rnn", case)
    rnn = make_rnn(case, a)
    sd = rnn.state_dict()
    assert list(sd.keys()) == case["state_dict_keys"]
    for k in case["state_dict_keys"]:
        v = np.asarray(sd[k])
        assert v.dtype == np.float32
        np.testing.assert_array_equal(v, a["p." + k], err_msg=k)
    names = [n for n, _ in rnn.named_parameters()]
    assert names == case["state_dict_keys"]


def test_rnn_dropout_case_is_deterministic_in_eval_mode():
    case = next(c for c in RNN_CASES if c["name"] == "dropout_eval")
    a = case_arrays("rnn", case)
    rnn = make_rnn(case, a)
    outs = [rnn(a["x"], a["h0"]) for _ in range(3)]
    for out, hn in outs:
        assert_close("dropout_eval.output", out, a["output"])
        assert_close("dropout_eval.hn", hn, a["hn"])


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_results_do_not_depend_on_thread_count(threads):
    saved = swiftrnn.get_num_threads()
    try:
        swiftrnn.set_num_threads(threads)
        assert swiftrnn.get_num_threads() == threads
        for name in ("odd_sizes", "odd_sizes_relu_bf", "larger"):
            case = next(c for c in RNN_CASES if c["name"] == name)
            a = case_arrays("rnn", case)
            rnn = make_rnn(case, a)
            out, hn = rnn(a["x"], a["h0"]) if case["with_h0"] else rnn(a["x"])
            assert_close(f"{name}.output[threads={threads}]", out, a["output"])
            assert_close(f"{name}.hn[threads={threads}]", hn, a["hn"])
        for case in fixture_cases("linear"):
            if case["kwargs"]["in_features"] == 37:
                a = case_arrays("linear", case)
                lin = nn.Linear(**case["kwargs"])
                lin.load_state_dict({k: a["p." + k] for k in case["state_dict_keys"]})
                assert_close(f"{case['name']}.output[threads={threads}]", lin(a["x"]), a["output"])
    finally:
        swiftrnn.set_num_threads(saved)


def test_rnn_train_and_eval_modes():
    rnn = nn.RNN(3, 4, num_layers=2, dropout=0.5)
    assert rnn.training is True  # torch modules start in training mode
    assert rnn.eval() is rnn and rnn.training is False
    assert rnn.train() is rnn and rnn.training is True
    assert rnn.train(False) is rnn and rnn.training is False


@pytest.mark.parametrize("case", [c for c in RNN_CASES if c["kwargs"].get("num_layers", 1) == 1][:4],
                         ids=lambda c: c["name"])
def test_rnn_dropout_has_no_effect_with_one_layer_in_training_mode(case):
    # torch applies dropout between layers only, so a 1-layer RNN is deterministic even in train mode.
    a = case_arrays("rnn", case)
    with pytest.warns(UserWarning, match="dropout"):  # torch warns: dropout expects num_layers > 1
        rnn = nn.RNN(**case["kwargs"], dropout=0.5)
    rnn.load_state_dict({k: a["p." + k] for k in case["state_dict_keys"]})
    rnn.train()
    out, hn = rnn(a["x"], a["h0"]) if case["with_h0"] else rnn(a["x"])
    assert_close(f"{case['name']}.output[train, dropout=0.5]", out, a["output"])
    assert_close(f"{case['name']}.hn[train, dropout=0.5]", hn, a["hn"])


def test_rnn_dropout_is_random_in_training_mode():
    case = next(c for c in RNN_CASES if c["name"] == "dropout_eval")
    a = case_arrays("rnn", case)
    rnn = make_rnn(case, a)
    rnn.train()
    outs = [rnn(a["x"], a["h0"])[0] for _ in range(3)]
    assert not all(np.array_equal(outs[0], o) for o in outs[1:]), "dropout in train mode should be random"
    assert any(not np.allclose(o, a["output"], atol=1e-3) for o in outs)
    rnn.eval()
    assert_close("dropout_eval.output[after train]", rnn(a["x"], a["h0"])[0], a["output"])


def test_rnn_load_state_dict_accepts_lists_and_float64():
    case = next(c for c in RNN_CASES if c["name"] == "l2_tanh_b_bi_tf_h0")
    a = case_arrays("rnn", case)
    for conv in (lambda v: v.tolist(), lambda v: v.astype(np.float64), lambda v: np.array(v, order="F")):
        rnn = nn.RNN(**case["kwargs"])
        rnn.load_state_dict({k: conv(a["p." + k]) for k in case["state_dict_keys"]})
        out, hn = rnn(a["x"], a["h0"])
        assert_close("output", out, a["output"])
        assert_close("hn", hn, a["hn"])


# ----------------------------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------------------------

EMB_CASES = fixture_cases("embedding")


def make_embedding(case, a):
    kw = dict(case["kwargs"])
    if case["construct"] == "from_pretrained":
        return nn.Embedding.from_pretrained(a["weight_before"], **kw)
    if case["construct"] == "_weight":
        return nn.Embedding(_weight=a["weight_before"], **kw)
    emb = nn.Embedding(**kw)
    emb.load_state_dict({"weight": a["weight_before"]})
    return emb


@pytest.mark.parametrize("case", EMB_CASES, ids=ids(EMB_CASES))
def test_embedding_matches_torch(case):
    a = case_arrays("embedding", case)
    passed_weight = a["weight_before"].copy()
    emb = make_embedding(case, a)
    if case.get("normalized_padding_idx") is not None:
        assert emb.padding_idx == case["normalized_padding_idx"]
    for k in range(case["calls"]):
        idx = a[f"indices{k}"]
        idx_before = idx.copy()
        out = emb(idx)
        np.testing.assert_array_equal(idx, idx_before, err_msg="indices were modified")
        check_output(f"{case['name']}.output{k}", out, a[f"output{k}"])
        assert out.shape == idx.shape + (a["weight_before"].shape[1],)
        assert_close(f"{case['name']}.weight_after{k}", weight_of(emb), a[f"weight_after{k}"])
    # The caller's array is never modified (even by max_norm, which renorms the module's copy).
    np.testing.assert_array_equal(a["weight_before"], passed_weight, err_msg="caller's weight was modified")


LOOKUP_CASES = [c for c in EMB_CASES if c["kind"] in ("lookup", "padding")]


@pytest.mark.parametrize("case", LOOKUP_CASES, ids=ids(LOOKUP_CASES))
def test_embedding_index_spellings(case):
    a = case_arrays("embedding", case)
    emb = make_embedding(case, a)
    idx, expected = a["indices0"], a["output0"]
    spellings = {np.dtype(t).name: idx.astype(t) for t in INT_DTYPES}
    spellings["fortran"] = np.array(idx, order="F")
    if idx.ndim >= 1 and idx.size:
        big = np.zeros(idx.shape + (2,), dtype=np.int64)
        big[..., 0] = idx
        spellings["strided_view"] = big[..., 0]
        spellings["negative_strides"] = np.flip(np.flip(idx).copy())
    if idx.ndim == 0:
        spellings["python_int"] = int(idx)
        spellings["numpy_scalar"] = np.int64(idx)
        spellings["numpy_int32_scalar"] = np.int32(idx)
    elif idx.size:
        spellings["nested_list"] = idx.tolist()
    for kind, i in spellings.items():
        out = emb(i)
        check_output(f"{case['name']}.output[{kind}]", out, expected)


@pytest.mark.parametrize("case", [c for c in EMB_CASES if c["kind"] == "padding"],
                         ids=lambda c: c["name"])
def test_embedding_padding_row_zeroed_at_init(case):
    a = case_arrays("embedding", case)
    pad = case["normalized_padding_idx"]
    emb = nn.Embedding(**case["kwargs"])
    assert emb.padding_idx == pad
    w = weight_of(emb)
    assert w.shape == a["init_weight"].shape
    assert np.all(w[pad] == 0), f"row {pad} not zeroed: {w[pad]}"
    assert np.all(a["init_weight"][pad] == 0)  # as torch does
    others = np.delete(w, pad, axis=0)
    assert np.all(np.any(others != 0, axis=1)), "non-padding rows should be N(0, 1) samples"
    out = emb(np.array([pad, pad]))
    assert np.all(out == 0)


def test_embedding_output_is_not_a_view_of_weight():
    case = next(c for c in EMB_CASES if c["name"] == "idx_1d")
    a = case_arrays("embedding", case)
    emb = make_embedding(case, a)
    out = emb(a["indices0"])
    before = weight_of(emb).copy()
    out[...] = 123.0
    np.testing.assert_array_equal(weight_of(emb), before)
    out0 = emb(np.array(0))
    assert out0.flags["OWNDATA"] or out0.base is None or not np.shares_memory(out0, weight_of(emb))


# ----------------------------------------------------------------------------------------------
# Linear
# ----------------------------------------------------------------------------------------------

LIN_CASES = fixture_cases("linear")


@pytest.mark.parametrize("case", LIN_CASES, ids=ids(LIN_CASES))
def test_linear_matches_torch(case):
    a = case_arrays("linear", case)
    lin = nn.Linear(**case["kwargs"])
    assert list(lin.state_dict().keys()) == case["state_dict_keys"]
    lin.load_state_dict({k: a["p." + k] for k in case["state_dict_keys"]})
    for kind, x in variants(a["x"]).items():
        x_before = np.array(x, dtype=np.float64, copy=True) if not isinstance(x, list) else None
        out = lin(x)
        check_output(f"{case['name']}.output[{kind}]", out, a["output"])
        if x_before is not None:
            np.testing.assert_array_equal(np.asarray(x, dtype=np.float64), x_before,
                                          err_msg="input was modified")


# ----------------------------------------------------------------------------------------------
# softmax / log_softmax
# ----------------------------------------------------------------------------------------------

SM_CASES = fixture_cases("softmax")


@pytest.mark.parametrize("case", SM_CASES, ids=ids(SM_CASES))
def test_softmax_matches_torch(case):
    a = case_arrays("softmax", case)
    x, dim = a["x"], case["dim"]
    x_before = x.copy()
    check_output(f"{case['name']}.softmax", F.softmax(x, dim), a["softmax"])
    check_output(f"{case['name']}.log_softmax", F.log_softmax(x, dim), a["log_softmax"])
    check_output(f"{case['name']}.softmax[dim=]", F.softmax(x, dim=dim), a["softmax"])
    check_output(f"{case['name']}.log_softmax[dim=]", F.log_softmax(x, dim=dim), a["log_softmax"])
    np.testing.assert_array_equal(x, x_before, err_msg="input was modified")
    if x.size:
        check_output(f"{case['name']}.softmax[float64]", F.softmax(x.astype(np.float64), dim), a["softmax"])
        check_output(f"{case['name']}.log_softmax[strided]", F.log_softmax(np.flip(np.flip(x).copy()), dim),
                     a["log_softmax"])


def test_functional_module_paths():
    import swiftrnn.nn.functional as F2

    assert F2.softmax is nn.functional.softmax
    assert F2.log_softmax is nn.functional.log_softmax
    assert swiftrnn.nn.functional is nn.functional


# ----------------------------------------------------------------------------------------------
# Module metadata: repr, state_dict keys, parameter names and shapes, attributes
# ----------------------------------------------------------------------------------------------

MOD_CASES = fixture_cases("modules")


def build_module(case):
    if case["kind"] == "Embedding.from_pretrained":
        return nn.Embedding.from_pretrained(np.zeros(case["args"], dtype=np.float32), **case["kwargs"])
    return getattr(nn, case["kind"])(*case["args"], **case["kwargs"])


@pytest.mark.parametrize("case", MOD_CASES, ids=[f"{c['name']}:{c['repr']}" for c in MOD_CASES])
def test_module_metadata_matches_torch(case):
    m = build_module(case)
    assert repr(m) == case["repr"]
    assert list(m.state_dict().keys()) == case["state_dict_keys"]
    named = list(m.named_parameters())
    assert [n for n, _ in named] == case["named_parameters"]
    assert {n: list(np.shape(p)) for n, p in named} == case["param_shapes"]
    for k, v in m.state_dict().items():
        assert list(np.shape(v)) == case["param_shapes"][k], k
        assert np.asarray(v).dtype == np.float32, k
    for attr, expected in case["attributes"].items():
        assert getattr(m, attr) == expected, f"{case['repr']}.{attr}: {getattr(m, attr)!r} != {expected!r}"
    # Parameters are attributes too (module.weight, rnn.weight_hh_l0_reverse, ...).
    for n, shape in case["param_shapes"].items():
        assert list(np.shape(getattr(m, n))) == shape, n
    if case["kind"] == "Linear" and not case["kwargs"].get("bias", True):
        assert m.bias is None


# ----------------------------------------------------------------------------------------------
# Initialisation follows torch's distributions (values differ: different generator)
# ----------------------------------------------------------------------------------------------

def test_rnn_init_is_uniform_in_plus_minus_1_over_sqrt_hidden():
    rnn = nn.RNN(5, 16, num_layers=2, bidirectional=True)
    k = 1.0 / math.sqrt(16)
    for name, p in rnn.named_parameters():
        p = np.asarray(p)
        assert np.all(np.abs(p) <= k), name
        assert np.abs(p).max() > 0.5 * k, name


def test_linear_init_is_uniform_in_plus_minus_1_over_sqrt_in():
    lin = nn.Linear(64, 32)
    k = 1.0 / math.sqrt(64)
    for name, p in lin.named_parameters():
        p = np.asarray(p)
        assert np.all(np.abs(p) <= k), name
        assert np.abs(p).max() > 0.5 * k, name


def test_embedding_init_is_standard_normal():
    w = weight_of(nn.Embedding(1000, 20))
    assert abs(float(w.mean())) < 0.05
    assert abs(float(w.std()) - 1.0) < 0.05
