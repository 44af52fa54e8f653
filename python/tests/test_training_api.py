"""The training API's behaviour (numpy only): nn.Parameter, gradient accumulation and zero_grad, what a
backward needs and the errors when it is missing or a gradient has the wrong shape, frozen weights,
optimizer param groups and state_dict, and a small model whose loss goes down."""

from __future__ import annotations

import copy
import pickle
import re

import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn, optim


def small_lm(V=7, E=4, H=5, seed=0):
    swiftrnn.manual_seed(seed)
    return nn.Embedding(V, E), nn.RNN(E, H), nn.Linear(H, V)


# --- nn.Parameter -----------------------------------------------------------------------------------

def test_parameters_are_float32_parameters_with_grad_and_requires_grad():
    lin = nn.Linear(3, 2)
    for p in lin.parameters():
        assert isinstance(p, nn.Parameter) and isinstance(p, np.ndarray)
        assert p.dtype == np.float32 and p.flags.c_contiguous
        assert p.grad is None and p.requires_grad is True
    assert nn.Parameter is swiftrnn.nn.parameter.Parameter


def test_arithmetic_and_indexing_on_a_parameter_return_plain_arrays():
    p = nn.Parameter(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert p.dtype == np.float32
    for result in (p * 2, p + p, p - 1, np.exp(p), p @ np.ones(3), np.dot(p, np.ones(3)), p[0], p.T * 1,
                   p.sum(axis=0), np.concatenate([p, p]), p.copy()):
        assert type(result) is np.ndarray, type(result)
    assert type(p.sum()) is not nn.Parameter
    q = p
    q += 1  # in place: still the same Parameter
    assert q is p and isinstance(p, nn.Parameter) and p[0, 0] == 1
    p[...] = 0
    assert isinstance(p, nn.Parameter) and not p.any()


def test_parameter_grad_assignment_checks_the_shape():
    p = nn.Parameter(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=re.escape("expected a grad of shape (2, 3) (the parameter's), got (3, 2)")):
        p.grad = np.zeros((3, 2))
    p.grad = np.ones((2, 3), dtype=np.float64)
    assert p.grad.dtype == np.float32
    p.grad = None
    assert p.grad is None


def test_parameter_survives_pickle_and_deepcopy_with_its_grad():
    p = nn.Parameter(np.ones(3), requires_grad=False)
    p.grad = np.full(3, 2.0)
    for q in (pickle.loads(pickle.dumps(p)), copy.deepcopy(p)):
        assert isinstance(q, nn.Parameter) and q.requires_grad is False
        assert np.array_equal(q, p) and np.array_equal(q.grad, p.grad) and q.grad is not p.grad


def test_state_dict_holds_plain_copies():
    lin = nn.Linear(2, 2)
    sd = lin.state_dict()
    assert all(type(v) is np.ndarray for v in sd.values())
    sd["weight"][...] = 5
    assert not (lin.weight == 5).any()


def test_assigning_an_array_copies_into_the_parameter_and_keeps_optimizers_working():
    lin = nn.Linear(2, 2)
    w = lin.weight
    opt = optim.SGD(lin.parameters(), lr=1.0)
    lin.weight = np.ones((2, 2))
    assert lin.weight is w and np.array_equal(w, np.ones((2, 2)))
    w.grad = np.full((2, 2), 0.5)
    opt.step()
    assert np.array_equal(lin.weight, np.full((2, 2), 0.5))
    with pytest.raises(ValueError, match=re.escape("expected weight of shape (2, 2), got (3,)")):
        lin.weight = np.ones(3)


def test_assigning_a_parameter_ties_weights():
    a, b = nn.Linear(3, 3), nn.Linear(3, 3)
    b.weight = a.weight
    assert b.weight is a.weight
    model = nn.Module()
    model.a, model.b = a, b
    assert len(list(model.parameters())) == 3  # the shared weight once, as torch
    assert list(model.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]


# --- backward: saved state, accumulation, errors ----------------------------------------------------

def test_grads_accumulate_across_backward_calls_until_zero_grad():
    lin = nn.Linear(3, 2)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    g = np.ones((2, 2), dtype=np.float32)
    lin(x)
    lin.backward(g)
    first = lin.weight.grad.copy()
    assert np.allclose(first, g.T @ x)
    lin(x)
    lin.backward(g)
    assert np.allclose(lin.weight.grad, 2 * first)
    lin.zero_grad(set_to_none=False)
    assert lin.weight.grad is not None and not lin.weight.grad.any()
    lin.zero_grad()
    assert lin.weight.grad is None and lin.bias.grad is None


def test_backward_without_a_training_forward_is_a_runtime_error():
    for module, grad in ((nn.Linear(2, 2), np.zeros((1, 2))), (nn.Embedding(3, 2), np.zeros((1, 2))),
                         (nn.RNN(2, 2), np.zeros((1, 2))), (nn.CrossEntropyLoss(), None)):
        with pytest.raises(RuntimeError, match=r"backward\(\) has nothing to work from: no forward has run in training mode"):
            module.backward() if grad is None else module.backward(grad)


def test_backward_after_an_eval_forward_says_so():
    rnn = nn.RNN(2, 3).eval()
    out, _ = rnn(np.zeros((4, 2)))
    with pytest.raises(RuntimeError, match="eval mode, which saves nothing for backward"):
        rnn.backward(np.ones_like(out))


def test_a_forward_serves_one_backward():
    emb = nn.Embedding(4, 2)
    out = emb([1, 2])
    emb.backward(np.ones_like(out))
    with pytest.raises(RuntimeError, match="no forward has run in training mode since the last backward"):
        emb.backward(np.ones_like(out))


def test_gradients_of_the_wrong_shape_name_expected_and_actual():
    lin = nn.Linear(3, 2)
    lin(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=re.escape("expected grad_output of shape (4, 2), got (4, 3)")):
        lin.backward(np.zeros((4, 3)))
    lin.backward(np.zeros((4, 2)))  # the failed call kept the saved forward
    rnn = nn.RNN(3, 5, num_layers=2, batch_first=True)
    rnn(np.zeros((2, 7, 3)))
    with pytest.raises(ValueError, match=re.escape("expected grad_output of shape (2, 7, 5), got (7, 2, 5)")):
        rnn.backward(np.zeros((7, 2, 5)))
    with pytest.raises(ValueError, match=re.escape("expected grad_hn of shape (2, 2, 5), got (1, 2, 5)")):
        rnn.backward(np.zeros((2, 7, 5)), np.zeros((1, 2, 5)))
    emb = nn.Embedding(5, 4)
    emb([[1, 2, 3]])
    with pytest.raises(ValueError, match=re.escape("expected grad_output of shape (1, 3, 4), got (3, 4)")):
        emb.backward(np.zeros((3, 4)))
    assert all(p.grad is None for m in (rnn, emb) for p in m.parameters())  # failed backwards left no grads


def test_cross_entropy_errors():
    crit = nn.CrossEntropyLoss()
    with pytest.raises(IndexError, match=re.escape("target 5 is out of range for 3 classes: expected 0 to 2 or ignore_index (-100)")):
        crit(np.zeros((2, 3)), [0, 5])
    with pytest.raises(ValueError, match=re.escape("expected target of shape (2,) for input of shape (2, 3), got (3,)")):
        crit(np.zeros((2, 3)), [0, 1, 2])
    with pytest.raises(TypeError, match="must be integers"):
        crit(np.zeros((2, 3)), np.zeros(2))
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        nn.CrossEntropyLoss(reduction="avg")
    none = nn.CrossEntropyLoss(reduction="none")
    none(np.zeros((2, 3)), [0, 1])
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        none.backward()
    with pytest.raises(ValueError, match=re.escape("expected the loss gradient of shape (2,), got (3,)")):
        none.backward(np.ones(3))


def test_frozen_embedding_gets_no_grad_and_is_not_updated():
    emb = nn.Embedding.from_pretrained(np.ones((4, 2)))
    assert emb.weight.requires_grad is False
    out = emb([0, 1])
    emb.backward(np.ones_like(out))
    assert emb.weight.grad is None
    opt = optim.Adam(emb.parameters(), lr=0.1)
    opt.step()
    assert np.array_equal(emb.weight, np.ones((4, 2)))
    trainable = nn.Embedding.from_pretrained(np.ones((4, 2)), freeze=False)
    out = trainable([0, 0])
    trainable.backward(np.ones_like(out))
    assert np.array_equal(trainable.weight.grad[0], [2, 2])


def test_requires_grad_false_skips_a_parameter():
    rnn = nn.RNN(2, 3)
    rnn.weight_hh_l0.requires_grad = False
    out, _ = rnn(np.ones((3, 1, 2)))
    rnn.backward(np.ones_like(out))
    assert rnn.weight_hh_l0.grad is None and rnn.weight_ih_l0.grad is not None
    assert rnn.requires_grad_(False) is rnn and not any(p.requires_grad for p in rnn.parameters())


def test_rnn_backward_reuses_the_forward_dropout_masks():
    # Drawing other random numbers between forward and backward changes nothing: the backward uses the
    # masks its forward applied. Other masks (another seed) give other gradients.
    def grads(seed, interfere):
        swiftrnn.manual_seed(0)
        rnn = nn.RNN(3, 4, num_layers=2, dropout=0.5)
        swiftrnn.manual_seed(seed)
        out, _ = rnn(np.ones((5, 2, 3)))
        if interfere:
            swiftrnn.manual_seed(12345)
            swiftrnn.random._dropout_mask((1, 5, 2, 4), 0.5)
        return rnn.backward(np.ones_like(out))[0]
    assert np.array_equal(grads(1, False), grads(1, True))
    assert not np.array_equal(grads(1, False), grads(2, False))


# --- optimizers ----------------------------------------------------------------------------------------

def test_optimizer_rejects_what_torch_rejects():
    p = nn.Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum and zero dampening"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(TypeError, match="can only optimize Parameters"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


def test_param_groups_have_their_own_hyperparameters():
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad = b.grad = np.ones(2)
    opt.step()
    assert np.allclose(a, -0.1) and np.allclose(b, -1.0)
    opt.param_groups[0]["lr"] = 0.5  # a schedule changes it between steps
    opt.step()
    assert np.allclose(a, -0.6)
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_optimizer_state_dict_round_trip_and_all_or_nothing_load():
    def trained():
        p = nn.Parameter(np.arange(4.0))
        opt = optim.Adam([p], lr=0.1, amsgrad=True)
        for _ in range(3):
            p.grad = np.ones(4)
            opt.step()
        return p, opt
    p, opt = trained()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and sd["state"][0]["step"] == 3.0
    q = nn.Parameter(np.asarray(p))
    fresh = optim.Adam([q], lr=0.1, amsgrad=True)
    fresh.load_state_dict(sd)
    p.grad = q.grad = np.ones(4)
    opt.step()
    fresh.step()
    assert np.array_equal(p, q)
    bad = copy.deepcopy(fresh.state_dict())
    bad["state"][0]["exp_avg"] = np.zeros(5)
    before = copy.deepcopy(fresh.state_dict())
    with pytest.raises(ValueError, match=re.escape("size mismatch for state 'exp_avg': expected shape (4,)")):
        fresh.load_state_dict(bad)
    after = fresh.state_dict()
    assert all(np.array_equal(before["state"][0][k], after["state"][0][k]) for k in before["state"][0])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        fresh.load_state_dict({"state": {}, "param_groups": []})


def test_clip_grad_norm_skips_parameters_without_grad_and_handles_empty_input():
    assert nn.utils.clip_grad_norm_([], 1.0) == 0
    p = nn.Parameter(np.zeros(3))
    assert nn.utils.clip_grad_norm_(p, 1.0) == 0
    p.grad = np.array([np.inf, 0, 0])
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert p.grad[0] == np.inf



def test_clip_grad_norm_inf_norm_propagates_nan_as_torch():
    # torch's inf-norm is amax(|g|), NaN if any element is NaN; the coefficient is then NaN and every
    # gradient becomes NaN (torch 2.15: clip_grad_norm_(..., norm_type=inf) -> tensor(nan), grads all nan).
    a, b = nn.Parameter(np.zeros(3)), nn.Parameter(np.zeros(2))
    a.grad = np.array([1.0, np.nan, -2.0], np.float32)
    b.grad = np.array([3.0, 0.5], np.float32)
    assert np.isnan(nn.utils.clip_grad_norm_([a, b], 1.0, norm_type=np.inf))
    assert np.isnan(a.grad).all() and np.isnan(b.grad).all()
    b.grad = np.array([np.nan, 0.5], np.float32)
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([b], 1.0, norm_type=-np.inf, error_if_nonfinite=True)


def test_clip_grad_norm_of_huge_finite_grads_is_finite():
    # Deliberately unlike torch: torch squares float32 grads in float32, so |g| > ~1.8e19 gives an inf
    # norm and zeroes the grads (or raises with error_if_nonfinite). swiftrnn's norm is accumulated in
    # double: finite grads have a finite norm and are scaled to max_norm.
    p = nn.Parameter(np.zeros(2))
    p.grad = np.array([3e30, 4e30], np.float32)
    total = nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert total == np.float32(5e30)
    np.testing.assert_allclose(p.grad, [0.6, 0.8], rtol=1e-6)


# --- the whole loop ----------------------------------------------------------------------------------------

def test_a_char_model_learns_a_repeating_sequence():
    V, L, N = 5, 10, 4
    emb, rnn, fc = small_lm(V=V, E=6, H=16)
    crit = nn.CrossEntropyLoss()
    params = [*emb.parameters(), *rnn.parameters(), *fc.parameters()]
    opt = optim.Adam(params, lr=0.03)
    seq = np.array([(t + n) % V for t in range(L + 1) for n in range(N)]).reshape(L + 1, N)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        out, _ = rnn(emb(seq[:-1]))
        logits = fc(out)
        losses.append(crit(logits.reshape(-1, V), seq[1:].reshape(-1)))
        g = crit.backward().reshape(logits.shape)
        gx, _ = rnn.backward(fc.backward(g))
        emb.backward(gx)
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
    assert losses[0] > 1.2 and losses[-1] < 0.1, (losses[0], losses[-1])


@pytest.mark.parametrize("bad", [np.inf, np.nan])
@pytest.mark.parametrize("kwargs", [{}, {"bidirectional": True, "num_layers": 2, "batch_first": True}])
def test_omitted_h0_backward_gives_the_grads_of_an_explicit_zero_h0_with_non_finite_grads(bad, kwargs):
    # torch's dW_hh gains dpre_firstᵀ·h0 with its zero h0, which is NaN wherever dpre holds an Inf or a
    # NaN (0 * inf): an omitted h0 must give exactly the gradients of an explicit zero h0, NaNs included.
    rnn = nn.RNN(3, 4, **kwargs)
    x = swiftrnn.randn(2, 3, 3)
    g = swiftrnn.randn(2, 3, rnn.hidden_size * (2 if rnn.bidirectional else 1))
    g[(slice(None), 0) if rnn.batch_first else (0,)] = bad  # the forward direction's first step
    h0 = np.zeros((rnn.num_layers * (2 if rnn.bidirectional else 1), x.shape[0] if rnn.batch_first else x.shape[1], 4),
                  np.float32)
    grads = []
    for state in (None, h0):
        rnn.zero_grad()
        out, _ = rnn(x, state)
        dx, _ = rnn.backward(g)
        grads.append([dx] + [p.grad.copy() for p in rnn.parameters()])
    for omitted, explicit in zip(*grads):
        np.testing.assert_array_equal(omitted, explicit)
    assert np.isnan(rnn.weight_hh_l0.grad).any()


@pytest.mark.parametrize("kind", [optim.Adam, optim.AdamW])
@pytest.mark.parametrize("step", [float("nan"), float("inf"), -1.0, 2.5, 2.0**60, "x"])
def test_adam_load_state_dict_refuses_a_bad_step(kind, step):
    lin = nn.Linear(2, 2)
    opt = kind(lin.parameters(), lr=0.1)
    lin(np.ones((1, 2), np.float32))
    lin.backward(np.ones((1, 2), np.float32))
    opt.step()
    before = opt.state_dict()
    sd = copy.deepcopy(before)
    sd["state"][0]["step"] = step
    with pytest.raises(ValueError, match="step"):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["state"][0]["step"] == before["state"][0]["step"] == 1
    sd["state"][0]["step"] = 7.0  # a whole number loads
    opt.load_state_dict(sd)
    opt.step()
    assert opt.state_dict()["state"][0]["step"] == 8
