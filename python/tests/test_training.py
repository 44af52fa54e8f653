"""Training against PyTorch fixtures (numpy only): gradients of Embedding -> RNN -> Linear -> cross-entropy,
cross-entropy alone, optimizer trajectories and gradient clipping.

Fixtures: fixtures/training.npz and fixtures/optim.npz, written by fixtures/make_training_fixtures.py from
torch autograd and torch.optim. Gradients are compared with rtol=2e-4, atol=2e-5 (the training work's tolerance);
optimizer trajectories with rtol=1e-5, atol=1e-7 (elementwise float32 updates, several steps).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_close, assert_float32_output, case_arrays, fixture_cases
import swiftrnn
from swiftrnn import nn, optim

GRAD_RTOL, GRAD_ATOL = 2e-4, 2e-5
OPT_RTOL, OPT_ATOL = 1e-5, 1e-7

pytestmark = pytest.mark.filterwarnings("ignore:dropout option adds dropout:UserWarning")


def build_pipeline(case, a, monkeypatch):
    emb = nn.Embedding(**case["embedding"])
    rnn = nn.RNN(**case["rnn"])
    fc = nn.Linear(**case["linear"])
    emb.load_state_dict({"weight": a["emb.weight"]})
    rnn.load_state_dict({k[4:]: v for k, v in a.items() if k.startswith("rnn.") and not k.endswith(".grad")})
    fc.load_state_dict({"weight": a["fc.weight"], "bias": a["fc.bias"]})
    crit = nn.CrossEntropyLoss(weight=a.get("class_weight"), **case["loss"])
    if "masks" in a:  # the fixture's masks instead of swiftrnn's generator
        masks = a["masks"]

        def given_masks(shape, p):
            assert tuple(shape) == masks.shape, (shape, masks.shape)
            return masks.copy()
        monkeypatch.setattr(swiftrnn.random, "_dropout_mask", given_masks)
    return emb, rnn, fc, crit


@pytest.mark.parametrize("case", fixture_cases("training", "pipeline"), ids=lambda c: c["name"])
def test_pipeline_gradients_match_torch_autograd(case, monkeypatch):
    a = case_arrays("training", case)
    emb, rnn, fc, crit = build_pipeline(case, a, monkeypatch)
    V = case["linear"]["out_features"]
    name = case["name"]

    x = emb(a["indices"])
    out, hn = rnn(x, a.get("h0"))
    logits = fc(out)
    loss = crit(logits.reshape(-1, V), a["target"].reshape(-1))
    assert_close(f"{name}: loss", np.asarray(loss, dtype=np.float32), a["loss"], GRAD_RTOL, GRAD_ATOL)
    assert_close(f"{name}: output", out, a["output"], GRAD_RTOL, GRAD_ATOL)
    assert_close(f"{name}: hn", hn, a["hn"], GRAD_RTOL, GRAD_ATOL)

    grad_logits = crit.backward(a.get("grad_loss")).reshape(logits.shape)
    assert_close(f"{name}: grad logits", grad_logits, a["grad_logits"], GRAD_RTOL, GRAD_ATOL)
    grad_out = fc.backward(grad_logits)
    assert_float32_output(f"{name}: Linear grad_input", grad_out)
    assert_close(f"{name}: grad rnn output", grad_out, a["grad_rnn_out"], GRAD_RTOL, GRAD_ATOL)
    grad_x, grad_h0 = rnn.backward(grad_out, a.get("grad_hn"))
    assert_float32_output(f"{name}: RNN grad_input", grad_x)
    assert_close(f"{name}: grad embedding output", grad_x, a["grad_embedding_out"], GRAD_RTOL, GRAD_ATOL)
    assert grad_h0.shape == hn.shape
    if "h0" in a:
        assert_close(f"{name}: grad h0", grad_h0, a["h0.grad"], GRAD_RTOL, GRAD_ATOL)
    assert emb.backward(grad_x) is None

    assert_close(f"{name}: embedding.weight.grad", emb.weight.grad, a["emb.weight.grad"], GRAD_RTOL, GRAD_ATOL)
    assert_close(f"{name}: fc.weight.grad", fc.weight.grad, a["fc.weight.grad"], GRAD_RTOL, GRAD_ATOL)
    assert_close(f"{name}: fc.bias.grad", fc.bias.grad, a["fc.bias.grad"], GRAD_RTOL, GRAD_ATOL)
    for pname, p in rnn.named_parameters():
        assert_float32_output(f"{name}: {pname}.grad", p.grad)
        assert_close(f"{name}: rnn.{pname}.grad", p.grad, a[f"rnn.{pname}.grad"], GRAD_RTOL, GRAD_ATOL)


@pytest.mark.parametrize("case", fixture_cases("training", "loss"), ids=lambda c: c["name"])
def test_cross_entropy_matches_torch(case):
    a = case_arrays("training", case)
    crit = nn.CrossEntropyLoss(weight=a.get("class_weight"), **case["loss"])
    loss = crit(a["logits"], a["target"])
    if case["loss"].get("reduction") == "none":
        assert isinstance(loss, np.ndarray) and loss.shape == a["target"].shape
    else:
        assert type(loss) is np.float32 and type(loss.item()) is float
    assert_close(f"{case['name']}: loss", np.asarray(loss, dtype=np.float32), a["loss"], GRAD_RTOL, GRAD_ATOL)
    grad = crit.backward(a.get("grad_loss"))
    assert_float32_output(f"{case['name']}: grad", grad)
    assert_close(f"{case['name']}: grad", grad, a["grad_logits"], GRAD_RTOL, GRAD_ATOL)


@pytest.mark.parametrize("case", fixture_cases("optim", "optimizer"), ids=lambda c: c["name"])
def test_optimizer_trajectory_matches_torch(case):
    a = case_arrays("optim", case)
    params = [nn.Parameter(a["p0.initial"]), nn.Parameter(a["p1.initial"])]
    kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in case["kwargs"].items()}
    opt = getattr(optim, case["optimizer"])(params, **kwargs)
    for step in range(case["steps"]):
        for i, p in enumerate(params):
            p.grad = a.get(f"p{i}.grad{step}")
        opt.step()
        for i, p in enumerate(params):
            assert_close(f"{case['name']}: p{i} after step {step}", p, a[f"p{i}.after{step}"], OPT_RTOL, OPT_ATOL)
    for i, p in enumerate(params):
        state = opt.state[p]
        for key in [k[len(f"p{i}.state."):] for k in a if k.startswith(f"p{i}.state.")]:
            assert_close(f"{case['name']}: p{i} state {key}", np.asarray(state[key], dtype=np.float32),
                         a[f"p{i}.state.{key}"], OPT_RTOL, OPT_ATOL)


@pytest.mark.parametrize("case", fixture_cases("optim", "clip_norm"), ids=lambda c: c["name"])
def test_clip_grad_norm_matches_torch(case):
    a = case_arrays("optim", case)
    params = [nn.Parameter(np.zeros(a["grad0.before"].shape)), nn.Parameter(np.zeros(a["grad1.before"].shape)),
              nn.Parameter(np.zeros(2))]  # the last has no gradient and is skipped
    params[0].grad, params[1].grad = a["grad0.before"], a["grad1.before"]
    total = nn.utils.clip_grad_norm_(iter(params), **case["kwargs"])
    assert isinstance(total, np.float32)
    assert_close(f"{case['name']}: total norm", np.asarray(total), a["total_norm"], 1e-6, 1e-7)
    for i in range(2):
        assert_close(f"{case['name']}: grad{i}", params[i].grad, a[f"grad{i}.after"], 1e-6, 1e-7)
    assert params[2].grad is None


def test_clip_grad_value_matches_torch():
    (case,) = fixture_cases("optim", "clip_value")
    a = case_arrays("optim", case)
    p = nn.Parameter(np.zeros(a["grad.before"].shape))
    p.grad = a["grad.before"]
    assert nn.utils.clip_grad_value_(p, **case["kwargs"]) is None
    assert np.array_equal(p.grad, a["grad.after"])
