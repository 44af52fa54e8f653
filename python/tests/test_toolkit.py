"""The pieces around the recurrence without torch, against torch's fixtures (fixtures/toolkit.npz, made by
make_toolkit_fixtures.py): activations, Flatten, LayerNorm, a Sequential head and the losses (forward and
backward), dropout masks after manual_seed, scheduler trajectories over 100 steps, DataLoader orders and the
generators' states after them; and by their rules: containers, Parameter's tensor idioms, nn.functional's
public names, summary()."""
import pickle
import warnings
from collections import OrderedDict

import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn
from swiftrnn.nn import functional as F
from swiftrnn.optim import lr_scheduler
from swiftrnn.utils.data import DataLoader, TensorDataset

from conftest import assert_close, case_arrays, fixture_cases
from toolkit_cases import build

FIX = "toolkit"


def ids(cases):
    return [c["name"] for c in cases]


MODULES = fixture_cases(FIX, "module")
LOSSES = fixture_cases(FIX, "loss")
DROPOUTS = fixture_cases(FIX, "dropout")


@pytest.mark.parametrize("case", MODULES, ids=ids(MODULES))
def test_module_forward_backward_match_torch(case):
    a = case_arrays(FIX, case)
    m = build(case["expr"], nn)
    m.load_state_dict({k[len("param."):]: v for k, v in a.items() if k.startswith("param.")})
    y = m(a["x"])
    assert_close(case["name"] + " y", y, a["y"])
    assert_close(case["name"] + " gx", m.backward(a["g"]), a["gx"])
    for name, p in m.named_parameters():
        assert_close(f"{case['name']} grad {name}", p.grad, a["grad." + name])


@pytest.mark.parametrize("case", LOSSES, ids=ids(LOSSES))
def test_loss_forward_backward_match_torch(case):
    a = case_arrays(FIX, case)
    crit = build(case["expr"], nn)
    loss = crit(a["x"], a["t"])
    if crit.reduction == "none":
        assert type(loss) is np.ndarray and loss.dtype == np.float32
    else:
        assert type(loss) is np.float32 and type(loss.item()) is float
    assert_close(case["name"] + " loss", loss, a["loss"])
    assert_close(case["name"] + " gx", crit.backward(a.get("g")), a["gx"])


@pytest.mark.parametrize("case", DROPOUTS, ids=ids(DROPOUTS))
def test_dropout_masks_equal_torchs_after_manual_seed(case):
    a = case_arrays(FIX, case)
    swiftrnn.manual_seed(case["seed"])
    drop = nn.Dropout(case["p"])
    ones = np.ones(case["shape"], np.float32)
    assert np.array_equal(drop(ones), a["y0"]) and np.array_equal(drop(ones), a["y1"])
    assert np.array_equal(swiftrnn.rand(3), a["after"])  # the stream is left where torch leaves it


def test_dropout_backward_uses_its_forwards_mask_and_eval_is_identity():
    drop = nn.Dropout(0.4)
    ones = np.ones((6, 5), np.float32)
    y1, y2 = drop(ones), drop(ones)  # the masks themselves
    assert not np.array_equal(y1, y2)
    assert np.array_equal(drop.backward(ones), y2) and np.array_equal(drop.backward(ones), y1)  # last in, first out
    x = swiftrnn.randn(6, 5)
    drop.eval()
    state = swiftrnn.get_rng_state()
    assert np.array_equal(drop(x), x) and np.array_equal(swiftrnn.get_rng_state(), state)
    assert np.array_equal(F.dropout(x, 0.5, training=False), x)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    assert not nn.Dropout(1.0)(x).any()


def test_sequential_backward_equals_the_layers_backwards_in_reverse():
    swiftrnn.manual_seed(3)
    emb, lin, relu, out = nn.Embedding(10, 4), nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)
    seq = nn.Sequential(emb, lin, relu, out)
    idx = np.array([[1, 2, 3], [4, 4, 9]])
    y = seq(idx)
    assert np.array_equal(y, out(relu(lin(emb(idx)))))
    g = swiftrnn.randn(*y.shape)
    assert seq.backward(g) is None  # the Embedding's input has no gradient
    grads = [p.grad.copy() for p in seq.parameters()]
    seq.zero_grad()
    emb.backward(lin.backward(relu.backward(out.backward(g))))
    for p, expected in zip(seq.parameters(), grads):
        assert np.array_equal(p.grad, expected)


def test_sequential_indexing_names_and_state_dict_as_torch():
    a, b, c = nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert seq[0] is a and seq[-1] is c and len(seq) == 3 and list(seq) == [a, b, c]
    tail = seq[1:]
    assert type(tail) is nn.Sequential and list(tail._modules) == ["1", "2"] and tail[0] is b
    seq.append(nn.Sigmoid())
    assert list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is c
    named = nn.Sequential(OrderedDict([("fc", a), ("act", b)]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"] and named.fc is a
    with pytest.raises(IndexError):
        seq[5]


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 1))
    assert len(layers) == 4 and len(list(layers.parameters())) == 8
    assert list(layers.state_dict())[-1] == "3.bias" and type(layers[1:]) is nn.ModuleList
    d = nn.ModuleDict({"enc": nn.Linear(2, 3), "act": nn.ReLU()})
    d["dec"] = nn.Linear(3, 2)
    assert list(d) == ["enc", "act", "dec"] and "act" in d and list(d.state_dict())[0] == "enc.weight"
    assert isinstance(d.pop("act"), nn.ReLU) and d.keys() == ["enc", "dec"]
    with pytest.raises(NotImplementedError):
        layers(np.zeros(2))


def test_a_module_shared_twice_is_listed_once():
    shared = nn.Linear(3, 3)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in seq.named_modules()] == ["", "0", "1"]
    assert len(list(seq.modules())) == 3 and len(list(seq.parameters())) == 2
    assert [n for n, _ in seq.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    assert [n for n, _ in seq.named_children()] == ["0", "1"] and list(seq.children()) == [shared, seq[1]]
    seen = []
    seq.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential"]  # torch's order, the shared Linear once
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # torch keeps both paths
    missing, unexpected = seq.load_state_dict(seq.state_dict())
    assert missing == [] and unexpected == []


def test_losses_are_float32_scalars_including_cross_entropy():
    x = swiftrnn.randn(4, 3)
    for loss in (nn.CrossEntropyLoss()(x, np.array([0, 1, 2, 0])), nn.MSELoss()(x, np.zeros((4, 3))),
                 F.cross_entropy(x, np.array([0, 1, 2, 0])), F.mse_loss(x, x + 1)):
        assert type(loss) is np.float32 and type(loss.item()) is float
    assert F.mse_loss(x, x + 1).item() == 1.0


def test_loss_shape_rules():
    with pytest.warns(UserWarning, match="different to the input size"):
        nn.MSELoss()(np.zeros((3, 1), np.float32), np.zeros(3))
    with pytest.raises(ValueError, match="must be the same as input size"):
        nn.BCEWithLogitsLoss()(np.zeros(3, np.float32), np.zeros(4))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        nn.BCELoss()(np.array([1.5], np.float32), np.array([1.0]))
    with pytest.raises(IndexError, match="out of bounds"):
        nn.NLLLoss()(np.zeros((2, 3), np.float32), np.array([0, 3]))
    with pytest.raises(RuntimeError, match="reduction='none'"):
        crit = nn.L1Loss(reduction="none")
        crit(np.zeros(3, np.float32), np.ones(3))
        crit.backward()
    crit = nn.MSELoss()
    with pytest.raises(RuntimeError, match="nothing to work from"):
        crit.backward()
    for delta in (0, -1.0):
        with pytest.raises(RuntimeError, match="non-positive values for delta"):
            nn.HuberLoss(delta=delta)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        nn.SmoothL1Loss(beta=-0.5)


def test_mse_broadcast_gradient_sums_back_to_the_input_shape():
    x = swiftrnn.randn(3, 1)
    t = swiftrnn.randn(3, 4)
    crit = nn.MSELoss(reduction="sum")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        crit(x, t)
    assert_close("broadcast grad", crit.backward(), (2 * (x - t)).sum(axis=1, keepdims=True))


def test_functional_twins_equal_the_modules():
    x = swiftrnn.randn(3, 5)
    for f, m in ((F.relu, nn.ReLU()), (F.tanh, nn.Tanh()), (F.sigmoid, nn.Sigmoid()), (F.gelu, nn.GELU()),
                 (lambda v: F.leaky_relu(v, 0.3), nn.LeakyReLU(0.3)), (lambda v: F.softmax(v, 1), nn.Softmax(1)),
                 (lambda v: F.layer_norm(v, 5), nn.LayerNorm(5))):
        assert np.array_equal(f(x), m(x))
    assert F.l1_loss(x, 0 * x) == nn.L1Loss()(x, 0 * x)


def test_dir_of_functional_is_the_public_api():
    names = dir(F)
    assert names == sorted(F.__all__) and "np" not in names and "warnings" not in names and "Any" not in names
    assert {"mse_loss", "dropout", "relu", "gelu", "layer_norm", "cross_entropy"} <= set(names)


def test_inplace_activations_write_into_the_input():
    x = np.array([-1.0, 2.0], np.float32)
    assert nn.ReLU(inplace=True)(x) is x and x.tolist() == [0.0, 2.0]
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)" and repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"


def test_parameter_data_writes_through_and_torch_idioms():
    lin = nn.Linear(3, 4)
    p = lin.weight
    d = p.data
    d *= 0
    assert not p.any() and type(d) is np.ndarray and np.shares_memory(d, p)
    nn.init.ones_(p.data)
    assert (p == 1).all()
    p.data = np.full((4, 3), 2.0)
    assert (p == 2).all() and isinstance(lin.weight, nn.Parameter)
    with pytest.raises(ValueError, match="shape"):
        p.data = np.zeros(3)
    assert p.size == 12 and p.size() == (4, 3) and p.size(-1) == 3 and p.dim() == 2 and p.numel() == 12
    assert sum(q.size for q in lin.parameters()) == 16
    assert np.shares_memory(p.detach(), p) and type(p.numpy()) is np.ndarray
    assert lin.bias[:1].item() == lin.bias[0]
    q = pickle.loads(pickle.dumps(p))
    assert q.size() == (4, 3) and (q == 2).all()


def test_nll_all_ignored_mean_is_nan_with_zero_gradient():
    crit = nn.NLLLoss(ignore_index=1)
    with np.errstate(invalid="ignore"):
        loss = crit(np.zeros((2, 3), np.float32), np.array([1, 1]))
    assert np.isnan(loss) and not crit.backward().any()


# --- learning-rate schedulers ----------------------------------------------------------------------
SCHEDULERS = fixture_cases(FIX, "scheduler")
LRS = [0.1, 0.02]  # make_toolkit_fixtures.py's groups


def two_group_sgd():
    params = [nn.Parameter(np.zeros(1)) for _ in LRS]
    return swiftrnn.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, LRS)], lr=0.1, momentum=0.9)


@pytest.mark.parametrize("case", SCHEDULERS, ids=ids(SCHEDULERS))
def test_scheduler_trajectory_equals_torchs_over_100_steps(case):
    a = case_arrays(FIX, case)
    opt = two_group_sgd()
    sched = eval(case["expr"], {"lr_scheduler": lr_scheduler, "opt": opt})
    rows = [sched.get_last_lr()]
    for _ in range(len(a["lrs"]) - 1):
        opt.step()
        sched.step()
        rows.append(sched.get_last_lr())
    assert np.array_equal(np.array(rows), a["lrs"])  # the same float operations: bit for bit
    assert [g["momentum"] for g in opt.param_groups] == a["momenta"].tolist()


def test_reduce_lr_on_plateau_equals_torchs():
    a = case_arrays(FIX, {"name": "sched_plateau", "arrays": ["lrs", "metrics"]})
    opt = swiftrnn.optim.SGD([nn.Parameter(np.zeros(1))], lr=0.1)
    sched = lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=3, threshold=1e-3, cooldown=2,
                                           min_lr=0.004)
    lrs = []
    for m in a["metrics"]:
        sched.step(m)
        lrs.append(opt.param_groups[0]["lr"])
    assert lrs == a["lrs"].tolist() and sched.get_last_lr() == [lrs[-1]]


def test_scheduler_state_dict_resumes_the_trajectory():
    opt = two_group_sgd()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        sched.step()
    state = sched.state_dict()
    assert "optimizer" not in state and state["last_epoch"] == 4
    expected = []
    for _ in range(3):
        sched.step()
        expected.append(sched.get_last_lr())
    opt2 = two_group_sgd()
    sched2 = lr_scheduler.CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(state)
    for g, lr in zip(opt2.param_groups, state["_last_lr"]):
        g["lr"] = lr
    got = []
    for _ in range(3):
        sched2.step()
        got.append(sched2.get_last_lr())
    assert got == expected


def test_scheduler_errors_as_torch():
    opt = two_group_sgd()
    with pytest.raises(TypeError, match="is not an Optimizer"):
        lr_scheduler.StepLR(object(), 3)
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        lr_scheduler.OneCycleLR(opt, max_lr=[0.1], total_steps=10)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    sched.step()
    sched.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        sched.step()
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)


def test_add_param_group_then_step():
    p, q = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    opt = swiftrnn.optim.SGD([p], lr=0.5)
    opt.add_param_group({"params": [q], "lr": 0.1})
    p.grad, q.grad = np.ones(2), np.ones(3)
    opt.step()
    assert p.tolist() == [0.5, 0.5] and np.allclose(q, 0.9) and opt.param_groups[1]["momentum"] == 0


# --- batching ------------------------------------------------------------------------------------------
LOADERS = fixture_cases(FIX, "loader")


@pytest.mark.parametrize("case", LOADERS, ids=ids(LOADERS))
def test_dataloader_order_equals_torchs_epoch_after_epoch(case):
    a = case_arrays(FIX, case)
    swiftrnn.manual_seed(case["seed"])
    g = swiftrnn.Generator().manual_seed(case["seed"] + 1) if case["generator"] else None
    loader = DataLoader(TensorDataset(np.arange(case["n"])), batch_size=case["batch_size"], shuffle=case["shuffle"],
                        drop_last=case["drop_last"], generator=g)
    for epoch in a["order"]:
        assert np.array_equal(np.concatenate([b[0] for b in loader]), epoch)
    # the generators are left where torch leaves them
    assert np.array_equal(swiftrnn.get_rng_state(), a["rng_state"])
    if g is not None:
        assert np.array_equal(g.get_state(), a["gen_state"])


def test_dataloader_batches_and_collation():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    xb, yb = batches[0]
    assert type(batches[0]) is list and xb.dtype == np.float32 and xb.shape == (4, 2) and yb.tolist() == [0, 1, 2, 3]
    assert len(DataLoader(TensorDataset(x), batch_size=4, drop_last=True)) == 2
    dicts = DataLoader([{"a": 1.5, "b": "s"}, {"a": 2.5, "b": "t"}], batch_size=2)
    (d,) = list(dicts)
    assert d["a"].dtype == np.float64 and d["b"] == ["s", "t"]
    summed = DataLoader(TensorDataset(x), batch_size=5, collate_fn=lambda items: sum(i[0].sum() for i in items))
    assert [float(s) for s in summed] == [x[:5].sum(), x[5:].sum()]
    with pytest.raises(ValueError, match="Size mismatch"):
        TensorDataset(x, np.arange(3))
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(TensorDataset(x), sampler=[0, 1], shuffle=True)


def test_dataloader_shuffle_is_a_permutation_each_epoch():
    swiftrnn.manual_seed(0)
    loader = DataLoader(TensorDataset(np.arange(50)), batch_size=7, shuffle=True)
    orders = [np.concatenate([b[0] for b in loader]) for _ in range(3)]
    assert all(sorted(o.tolist()) == list(range(50)) for o in orders)
    assert not np.array_equal(orders[0], orders[1])


def test_summary_counts_each_layer_and_shared_parameters_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(nn.Embedding(10, 3), shared, nn.ReLU(), shared)
    model[0].weight.requires_grad_(False)
    text = swiftrnn.summary(model)
    lines = text.splitlines()
    assert lines[2].split() == ["(model)", "Sequential", "42"] and lines[3].split() == ["0", "Embedding", "30"]
    assert len([l for l in lines if "Linear" in l]) == 1
    assert "Total params: 42" in lines and "Trainable params: 12" in lines and "Non-trainable params: 30" in lines
    with pytest.raises(TypeError, match="nn.Module"):
        swiftrnn.summary(np.zeros(3))


def test_dataloader_without_batching_and_argument_errors():
    ds = TensorDataset(np.arange(4), np.arange(4) * 10)
    assert [(int(a), int(b)) for a, b in DataLoader(ds, batch_size=None)] == [(0, 0), (1, 10), (2, 20), (3, 30)]
    with pytest.raises(TypeError, match="swiftrnn.random.Generator"):
        DataLoader(ds, shuffle=True, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(ValueError, match="non-negative"):
        DataLoader(ds, num_workers=-1)


def test_containers_copy_and_pickle_with_their_layers():
    import copy
    swiftrnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Dropout(0.2), nn.ModuleList([nn.Tanh()]))
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert repr(clone) == repr(model) and list(clone.state_dict()) == list(model.state_dict())
        assert all(np.array_equal(a, b) for a, b in zip(clone.parameters(), model.parameters()))
        assert clone[0].weight is not model[0].weight
