"""optim.Adam's one-call-per-group update (_native.adam_step_group) against one adam_step call per parameter:
bit for bit for every option, and all or nothing when a parameter of the group is bad."""

from __future__ import annotations

import numpy as np
import pytest

from swiftrnn import _native, nn, optim


def _params(rng, shapes):
    ps = [nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in shapes]
    return ps


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("weight_decay,decoupled", [(0.0, False), (0.1, False), (0.05, True)])
@pytest.mark.parametrize("maximize", [False, True])
def test_group_call_equals_per_parameter_calls(amsgrad, weight_decay, decoupled, maximize):
    rng = np.random.default_rng(1)
    shapes = [(7, 5), (3,), (64, 33), (1,), (129,)]
    ours = _params(rng, shapes)
    ref = [p.copy() for p in ours]
    opt = (optim.AdamW if decoupled else optim.Adam)(ours, lr=3e-3, betas=(0.8, 0.95), eps=1e-6,
                                                     weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
    m = [np.zeros_like(p) for p in ref]
    v = [np.zeros_like(p) for p in ref]
    vmax = [np.zeros_like(p) for p in ref]
    for step in range(1, 6):
        grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        for p, g in zip(ours, grads):
            p.grad = g.copy()
        opt.step()
        for i, g in enumerate(grads):
            _native.adam_step(ref[i], g, m[i], v[i], vmax[i] if amsgrad else None, step, 3e-3, 0.8, 0.95, 1e-6,
                              weight_decay, decoupled, maximize)
        for i, p in enumerate(ours):
            np.testing.assert_array_equal(np.asarray(p), ref[i])
            np.testing.assert_array_equal(opt.state[p]["exp_avg"], m[i])
            np.testing.assert_array_equal(opt.state[p]["exp_avg_sq"], v[i])
            assert opt.state[p]["step"] == float(step)


def test_parameters_without_grad_are_skipped_and_steps_are_per_parameter():
    rng = np.random.default_rng(2)
    a, b = _params(rng, [(4, 4), (4,)])
    opt = optim.Adam([a, b], lr=1e-2)
    a.grad = np.ones((4, 4), np.float32)
    opt.step()
    b.grad = np.ones(4, np.float32)
    opt.step()
    assert opt.state[a]["step"] == 2.0 and opt.state[b]["step"] == 1.0


def test_a_bad_state_buffer_changes_nothing_in_the_group():
    rng = np.random.default_rng(3)
    a, b = _params(rng, [(4, 4), (5,)])
    opt = optim.Adam([a, b], lr=1e-2)
    a.grad = np.ones((4, 4), np.float32)
    b.grad = np.ones(5, np.float32)
    opt.step()
    before = [a.copy(), b.copy()]
    opt.state[b]["exp_avg"] = np.zeros(3, np.float32)  # wrong size
    with pytest.raises(ValueError):
        opt.step()
    np.testing.assert_array_equal(a, before[0])
    np.testing.assert_array_equal(b, before[1])
    assert opt.state[a]["step"] == 1.0 and opt.state[b]["step"] == 1.0


def test_group_call_checks_its_arguments():
    p = np.zeros(3, np.float32)
    with pytest.raises(ValueError):
        _native.adam_step_group([p], [p, p], [p], [p], None, [1], 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False)
    with pytest.raises(ValueError):
        _native.adam_step_group([p], [p.copy()], [p.copy()], [p.copy()], None, [0], 1e-3, 0.9, 0.999, 1e-8, 0.0,
                                False, False)
    _native.adam_step_group([], [], [], [], None, [], 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False)
