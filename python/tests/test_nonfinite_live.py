"""Inf and NaN go where torch sends them (skipped when torch is not importable).

A diverged model has Inf or NaN in its weights, inputs or gradients. For each module and optimizer, one
element is set to ±Inf, NaN or ±1e30 and swiftrnn's outputs, gradients and updates are compared with torch
2.x: NaN where torch has NaN, the same ±Inf where torch has ±Inf, and the finite values within the
training tolerances. Deliberate difference, tested in test_training_api.py / test_embedding_fast_path.py
rather than here: norms are accumulated in double, so finite values above ~1.8e19 keep a finite norm
where torch's float32 norm overflows to inf (clip_grad_norm_, Embedding max_norm).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from swiftrnn import nn, optim  # noqa: E402

torch.set_num_threads(1)
VALUES = [np.inf, -np.inf, np.nan, 1e30]
RTOL, ATOL = 2e-4, 2e-5


def same(name, ours, theirs):
    a, b = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert a.shape == b.shape, f"{name}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{name}: NaN positions differ from torch")
    inf = np.isinf(b)
    np.testing.assert_array_equal(np.isinf(a), inf, err_msg=f"{name}: Inf positions differ from torch")
    np.testing.assert_array_equal(a[inf], b[inf], err_msg=f"{name}: signs of Inf differ from torch")
    finite = np.isfinite(b)
    np.testing.assert_allclose(a[finite], b[finite], rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.mark.parametrize("value, where, kwargs", list(itertools.product(
    VALUES, ["x", "h0", "weight_ih_l0", "weight_hh_l0", "bias_hh_l0", "grad"],
    [{}, {"nonlinearity": "relu"}, {"bidirectional": True, "num_layers": 2, "batch_first": True}])))
@pytest.mark.parametrize("give_h0", [False, True])
def test_rnn(value, where, kwargs, give_h0):
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    ref, ours = torch.nn.RNN(3, 4, **kwargs), nn.RNN(3, 4, **kwargs)
    ours.load_state_dict(ref.state_dict())
    D, layers = (2 if ours.bidirectional else 1), ours.num_layers
    x = rng.standard_normal((3, 2, 3)).astype(np.float32)
    h0 = rng.standard_normal((D * layers, x.shape[0] if ours.batch_first else x.shape[1], 4)).astype(np.float32)
    g = rng.standard_normal((3, 2, 4 * D)).astype(np.float32)
    if where == "x":
        x[1, 0, 2] = value
    elif where == "h0":
        h0[0, 1, 3] = value
    elif where == "grad":
        g[0, 1, 1] = value
    else:
        index = (1, 2) if where.startswith("weight") else (1,)
        with torch.no_grad():
            getattr(ref, where)[index] = float(value)
        getattr(ours, where)[index] = value
    xt = torch.from_numpy(x).requires_grad_()
    h0t = torch.from_numpy(h0).requires_grad_()
    out_ref, hn_ref = ref(xt, h0t) if give_h0 else ref(xt)
    out, hn = ours(x, h0) if give_h0 else ours(x)
    same("output", out, out_ref.detach().numpy())
    same("hn", hn, hn_ref.detach().numpy())
    out_ref.backward(torch.from_numpy(g))
    dx, dh0 = ours.backward(g)
    same("grad input", dx, xt.grad.numpy())
    if give_h0:
        same("grad h0", dh0, h0t.grad.numpy())
    for name, p in ref.named_parameters():
        same(f"grad {name}", getattr(ours, name).grad, p.grad.numpy())


@pytest.mark.parametrize("value, where", list(itertools.product(VALUES, ["x", "weight", "bias", "grad"])))
def test_linear(value, where):
    torch.manual_seed(0)
    rng = np.random.default_rng(2)
    ref, ours = torch.nn.Linear(5, 3), nn.Linear(5, 3)
    ours.load_state_dict(ref.state_dict())
    x, g = rng.standard_normal((4, 5)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)
    if where == "x":
        x[1, 2] = value
    elif where == "grad":
        g[2, 1] = value
    else:
        index = (1, 2) if where == "weight" else (1,)
        with torch.no_grad():
            getattr(ref, where)[index] = float(value)
        getattr(ours, where)[index] = value
    xt = torch.from_numpy(x).requires_grad_()
    out_ref = ref(xt)
    same("output", ours(x), out_ref.detach().numpy())
    out_ref.backward(torch.from_numpy(g))
    same("grad input", ours.backward(g), xt.grad.numpy())
    for name, p in ref.named_parameters():
        same(f"grad {name}", getattr(ours, name).grad, p.grad.numpy())


@pytest.mark.parametrize("value, where, kwargs", list(itertools.product(
    [np.inf, -np.inf, np.nan], ["weight", "grad"],
    [{}, {"padding_idx": 1}, {"scale_grad_by_freq": True}, {"max_norm": 1.0},
     {"max_norm": 1.0, "norm_type": float("inf")}, {"max_norm": 0.5, "norm_type": 1.0}])))
def test_embedding(value, where, kwargs):
    torch.manual_seed(0)
    ref, ours = torch.nn.Embedding(6, 3, **kwargs), nn.Embedding(6, 3, **kwargs)
    ours.load_state_dict(ref.state_dict())
    idx = np.array([[0, 1, 2], [2, 1, 5]])
    g = np.random.default_rng(3).standard_normal((2, 3, 3)).astype(np.float32)
    if where == "weight":
        with torch.no_grad():
            ref.weight[2, 1] = float(value)
        ours.weight[2, 1] = value
    else:
        g[1, 2, 0] = value
    out_ref = ref(torch.from_numpy(idx))
    same("output", ours(idx), out_ref.detach().numpy())
    same("weight after max_norm", ours.weight, ref.weight.detach().numpy())
    out_ref.backward(torch.from_numpy(g))
    ours.backward(g)
    same("grad weight", ours.weight.grad, ref.weight.grad.numpy())


@pytest.mark.parametrize("value, kwargs", list(itertools.product(
    VALUES, [{}, {"label_smoothing": 0.1}, {"reduction": "sum"}, {"reduction": "none"}, {"ignore_index": 1}])))
def test_cross_entropy_and_softmax(value, kwargs):
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((4, 5)).astype(np.float32)
    logits[1, 3] = value
    target = np.array([0, 3, 1, 4])
    ref, ours = torch.nn.CrossEntropyLoss(**kwargs), nn.CrossEntropyLoss(**kwargs)
    lt = torch.from_numpy(logits).requires_grad_()
    loss_ref = ref(lt, torch.from_numpy(target))
    same("loss", ours(logits, target), loss_ref.detach().numpy())
    if kwargs.get("reduction") == "none":
        loss_ref.backward(torch.ones(4))
        grad = ours.backward(np.ones(4, np.float32))
    else:
        loss_ref.backward()
        grad = ours.backward()
    same("grad logits", grad, lt.grad.numpy())
    same("softmax", nn.functional.softmax(logits, dim=-1), torch.softmax(torch.from_numpy(logits), -1).numpy())
    same("log_softmax", nn.functional.log_softmax(logits, dim=-1),
         torch.log_softmax(torch.from_numpy(logits), -1).numpy())


@pytest.mark.parametrize("value, name, kwargs", [
    (v, n, k) for v in VALUES for n, k in [("SGD", {"lr": 0.1, "momentum": 0.9}), ("Adam", {"lr": 0.01}),
                                           ("AdamW", {"lr": 0.01, "amsgrad": True})]])
def test_optimizer_steps(value, name, kwargs):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    p_ref, p_ours = torch.nn.Parameter(torch.from_numpy(w.copy())), nn.Parameter(w.copy())
    opt_ref, opt_ours = getattr(torch.optim, name)([p_ref], **kwargs), getattr(optim, name)([p_ours], **kwargs)
    for step in range(3):
        g = rng.standard_normal((3, 4)).astype(np.float32)
        if step == 1:
            g[1, 1] = value
        p_ref.grad, p_ours.grad = torch.from_numpy(g.copy()), g.copy()
        opt_ref.step()
        opt_ours.step()
        same(f"{name} step {step}", p_ours, p_ref.detach().numpy())


@pytest.mark.parametrize("value, norm_type", list(itertools.product([np.inf, -np.inf, np.nan], [2.0, 1.0, float("inf")])))
def test_clip_grad_norm(value, norm_type):
    rng = np.random.default_rng(6)
    grads = [rng.standard_normal(3).astype(np.float32) for _ in range(2)]
    grads[1][0] = value
    ps_ref = [torch.nn.Parameter(torch.zeros(3)) for _ in grads]
    ps_ours = [nn.Parameter(np.zeros(3, np.float32)) for _ in grads]
    for p, g in zip(ps_ref, grads):
        p.grad = torch.from_numpy(g.copy())
    for p, g in zip(ps_ours, grads):
        p.grad = g.copy()
    total_ref = torch.nn.utils.clip_grad_norm_(ps_ref, 1.0, norm_type=norm_type)
    same("total norm", nn.utils.clip_grad_norm_(ps_ours, 1.0, norm_type=norm_type), total_ref.numpy())
    for a, b in zip(ps_ours, ps_ref):
        same("clipped grad", a.grad, b.grad.numpy())
