"""Live check of the toolkit layers against torch (skipped when torch is not importable): every activation,
Flatten, LayerNorm, Dropout and loss over random shapes and options, forward and backward; a
Sequential(Embedding, ..., Linear) against autograd with the same seed (dropout masks included).

Run with a venv that has torch:  PYTHONPATH=python "$PY" -m pytest python/tests/test_toolkit_live.py -q
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import swiftrnn  # noqa: E402
from swiftrnn import nn  # noqa: E402

from conftest import assert_close  # noqa: E402
from toolkit_cases import build, draw_loss_inputs  # noqa: E402

torch.set_num_threads(1)
tnn = torch.nn
RNG = np.random.default_rng(7)


def shape(lo=1, hi=4):
    return tuple(int(n) for n in RNG.integers(1, 6, int(RNG.integers(lo, hi + 1))))


def module_exprs():
    out = []
    for _ in range(6):
        s = shape()
        d = int(RNG.integers(-len(s), len(s)))
        slope = float(RNG.uniform(0, 0.5))
        out += [("nn.ReLU()", s), ("nn.Tanh()", s), ("nn.Sigmoid()", s), (f"nn.LeakyReLU({slope})", s),
                ("nn.GELU()", s), ("nn.GELU(approximate='tanh')", s), (f"nn.Softmax({d})", s),
                (f"nn.LogSoftmax({d})", s), (f"nn.LayerNorm({s[-1]}, eps={RNG.uniform(1e-6, 1e-2)})", s),
                (f"nn.LayerNorm({s[-2:]!r}, bias={bool(RNG.integers(2))})", s) if len(s) > 1 else ("nn.Identity()", s)]
        if len(s) > 1:
            out.append((f"nn.Flatten({int(RNG.integers(0, len(s)))}, -1)", s))
    return out


@pytest.mark.parametrize("expr,shape", module_exprs())
def test_module_random_shapes(expr, shape):
    m, tm = build(expr, nn), build(expr, tnn, torch)
    with torch.no_grad():
        for p in tm.parameters():
            p.normal_()
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    x = (RNG.standard_normal(shape) * 3).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    yt = tm(xt)
    y = m(x)
    assert_close(expr + " y", y, yt.detach().numpy())
    g = RNG.standard_normal(y.shape).astype(np.float32)
    yt.backward(torch.from_numpy(g))
    assert_close(expr + " gx", m.backward(g), xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    for (name, p), tp in zip(m.named_parameters(), tm.parameters()):
        assert_close(f"{expr} grad {name}", p.grad, tp.grad.numpy(), rtol=1e-4, atol=1e-4)


def loss_exprs():
    out = []
    for _ in range(5):
        red = ["mean", "sum", "none"][int(RNG.integers(3))]
        s = shape()
        b, dl = float(RNG.uniform(0, 2)), float(RNG.uniform(0.1, 2))
        c = s[-1]
        w = np.round(RNG.uniform(0.1, 2, c), 3).tolist()
        out += [(f"nn.MSELoss(reduction={red!r})", s, "real"), (f"nn.L1Loss(reduction={red!r})", s, "real"),
                (f"nn.SmoothL1Loss(reduction={red!r}, beta={b})", s, "real"),
                (f"nn.HuberLoss(reduction={red!r}, delta={dl})", s, "real"),
                (f"nn.BCELoss(reduction={red!r}, weight=np.array({w}, np.float32))", s, "prob"),
                (f"nn.BCEWithLogitsLoss(reduction={red!r}, pos_weight=np.array({w}, np.float32))", s, "logit")]
        ns = shape(1, 3)
        cw = np.round(RNG.uniform(0.1, 2, ns[1] if len(ns) > 1 else ns[0]), 3).tolist()
        out += [(f"nn.NLLLoss(reduction={red!r}, weight=np.array({cw}, np.float32))", ns, "nll"),
                (f"nn.NLLLoss(reduction={red!r}, ignore_index=0)", ns, "nll")]
    return out


@pytest.mark.parametrize("expr,shape,kind", loss_exprs())
def test_loss_random_shapes(expr, shape, kind):
    crit, tcrit = build(expr, nn), build(expr, tnn, torch)
    x, t = draw_loss_inputs(RNG, shape, kind)
    xt = torch.tensor(x, requires_grad=True)
    lt = tcrit(xt, torch.from_numpy(t))
    loss = crit(x, t)
    assert_close(expr + " loss", loss, lt.detach().numpy())
    g = None
    if lt.dim():
        g = RNG.standard_normal(tuple(lt.shape)).astype(np.float32)
        lt.backward(torch.from_numpy(g))
    else:
        lt.backward()
    assert_close(expr + " gx", crit.backward(g), xt.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 11, 2**33 + 5])
def test_dropout_masks_after_manual_seed(seed):
    s = shape(1, 4)
    p = float(RNG.uniform(0.05, 0.95))
    torch.manual_seed(seed)
    swiftrnn.manual_seed(seed)
    x = RNG.standard_normal(s).astype(np.float32)
    for _ in range(3):
        assert np.array_equal(nn.Dropout(p)(x), tnn.Dropout(p)(torch.from_numpy(x)).numpy())
        assert np.array_equal(nn.functional.dropout(x, p), torch.nn.functional.dropout(torch.from_numpy(x), p).numpy())
    assert np.array_equal(swiftrnn.get_rng_state(), torch.get_rng_state().numpy())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sequential_embedding_to_linear_against_autograd(seed):
    def make(nn_):
        return nn_.Sequential(nn_.Embedding(12, 6), nn_.Dropout(0.3), nn_.Linear(6, 8), nn_.GELU(), nn_.LayerNorm(8),
                              nn_.LeakyReLU(0.1), nn_.Linear(8, 5))
    torch.manual_seed(seed)
    swiftrnn.manual_seed(seed)
    tm, m = make(tnn), make(nn)  # the same initial weights: both streams are torch's
    for (k, v), (k2, v2) in zip(m.state_dict().items(), tm.state_dict().items()):
        assert k == k2 and np.array_equal(v, v2.numpy())
    idx = RNG.integers(0, 12, (4, 3))
    target = RNG.integers(0, 5, (4, 3))
    crit, tcrit = nn.CrossEntropyLoss(), tnn.CrossEntropyLoss()
    y = m(idx)
    loss = crit(y.reshape(-1, 5), target.reshape(-1))
    yt = tm(torch.from_numpy(idx))
    lt = tcrit(yt.reshape(-1, 5), torch.from_numpy(target).reshape(-1))
    lt.backward()
    assert_close("loss", loss, lt.detach().numpy())
    m.backward(crit.backward().reshape(y.shape))
    for (name, p), tp in zip(m.named_parameters(), tm.parameters()):
        assert_close("grad " + name, p.grad, tp.grad.numpy(), rtol=1e-4, atol=1e-5)


def scheduler_exprs():
    r = np.random.default_rng(11)
    out = []
    for _ in range(4):
        g = round(float(r.uniform(0.3, 0.99)), 3)
        t = int(r.integers(3, 40))
        ms = sorted(int(m) for m in r.integers(1, 100, 4))
        out += [f"StepLR(opt, step_size={t}, gamma={g})", f"MultiStepLR(opt, milestones={ms}, gamma={g})",
                f"ExponentialLR(opt, gamma={g})", f"CosineAnnealingLR(opt, T_max={t}, eta_min={g / 100})",
                f"LinearLR(opt, start_factor={g / 2}, end_factor={g}, total_iters={t})",
                f"LambdaLR(opt, lr_lambda=[lambda e: {g} ** e, lambda e: 1 / (e + {t})])",
                f"OneCycleLR(opt, max_lr={[g, g / 3]}, total_steps=100, pct_start={float(r.uniform(0.1, 0.5))}, "
                f"three_phase={bool(r.integers(2))}, anneal_strategy={['cos', 'linear'][int(r.integers(2))]!r})",
                f"OneCycleLR(opt, max_lr={g}, epochs=10, steps_per_epoch=10, div_factor={t}.0)"]
    return out


@pytest.mark.parametrize("expr", scheduler_exprs())
@pytest.mark.parametrize("adam", [False, True])
def test_scheduler_trajectories_over_100_steps(expr, adam):
    from swiftrnn.optim import lr_scheduler as ours
    from torch.optim import lr_scheduler as theirs

    def run(optim, sched_module, param):
        groups = [{"params": [param(np.zeros(1, np.float32))], "lr": 0.1},
                  {"params": [param(np.zeros(2, np.float32))], "lr": 0.03}]
        opt = optim.Adam(groups, lr=0.1) if adam else optim.SGD(groups, lr=0.1, momentum=0.9)
        sched = eval(expr, {"opt": opt, **vars(sched_module)})
        rows = [sched.get_last_lr()]
        for _ in range(100):
            opt.step()
            sched.step()
            rows.append(sched.get_last_lr() + [g.get("momentum", g.get("betas", (0,))[0]) for g in opt.param_groups])
        return rows

    with np.errstate(all="ignore"):
        assert run(swiftrnn.optim, ours, nn.Parameter) == run(
            torch.optim, theirs, lambda a: torch.nn.Parameter(torch.from_numpy(a)))


def test_reduce_lr_on_plateau_random_metrics():
    from swiftrnn.optim import lr_scheduler as ours
    from torch.optim import lr_scheduler as theirs
    metrics = np.cumsum(RNG.normal(0, 1, 100)).tolist()
    for kw in ({"mode": "min", "patience": 2}, {"mode": "max", "threshold_mode": "abs", "threshold": 0.5, "cooldown": 3},
               {"factor": 0.3, "min_lr": [0.001], "eps": 1e-3}):
        lrs = []
        for optim, mod, param in ((swiftrnn.optim, ours, nn.Parameter),
                                  (torch.optim, theirs, lambda a: torch.nn.Parameter(torch.from_numpy(a)))):
            opt = optim.SGD([param(np.zeros(1, np.float32))], lr=0.1)
            sched = mod.ReduceLROnPlateau(opt, **kw)
            lrs.append([(sched.step(m), opt.param_groups[0]["lr"])[1] for m in metrics])
        assert lrs[0] == lrs[1]


def loader_settings():
    r = np.random.default_rng(5)
    return [(int(r.integers(0, 2**63)), int(r.integers(1, 300)), int(r.integers(1, 40)), bool(r.integers(2)),
             bool(r.integers(2)), bool(r.integers(2))) for _ in range(20)] + [(3, 1, 1, True, False, False),
                                                                             (4, 64, 64, True, True, True)]


@pytest.mark.parametrize("seed,n,batch_size,drop_last,with_generator,replacement", loader_settings())
def test_dataloader_order_and_generator_state(seed, n, batch_size, drop_last, with_generator, replacement):
    from swiftrnn.utils import data as ours
    from torch.utils import data as theirs

    def run(lib, data, gen_cls, seed_fn, state_fn, arange):
        seed_fn(seed)
        g = gen_cls().manual_seed(seed ^ 0x5EED) if with_generator else None
        ds = data.TensorDataset(arange(n))
        if replacement:
            sampler = data.RandomSampler(ds, replacement=True, num_samples=n + 7, generator=g)
            loader = data.DataLoader(ds, batch_size=batch_size, sampler=sampler, drop_last=drop_last, generator=g)
        else:
            loader = data.DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=drop_last, generator=g)
        epochs = [[np.asarray(b[0]).tolist() for b in loader] for _ in range(3)]
        partial = next(iter(loader))  # an epoch left unfinished
        return epochs, np.asarray(partial[0]).tolist(), np.asarray(state_fn()).tolist(), (
            np.asarray(g.get_state()).tolist() if g is not None else None)

    assert run(swiftrnn, ours, swiftrnn.Generator, swiftrnn.manual_seed, swiftrnn.get_rng_state, np.arange) == run(
        torch, theirs, torch.Generator, torch.manual_seed, torch.get_rng_state, torch.arange)
