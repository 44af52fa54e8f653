"""The Module machinery and package-level API beyond per-layer numerics."""
import subprocess
import sys

import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(10, 4)
        self.rnn = nn.RNN(4, 8, batch_first=True)
        self.fc = nn.Linear(8, 10)

    def forward(self, ids):
        out, _ = self.rnn(self.embedding(ids))
        return self.fc(out)


def test_submodules_give_prefixed_state_dict_keys_in_torch_order():
    net = Net()
    assert list(net.state_dict()) == [
        "embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
        "fc.weight", "fc.bias"]
    assert net(np.array([[1, 2, 3]])).shape == (1, 3, 10)


def test_nested_repr_has_torch_layout():
    assert repr(Net()) == ("Net(\n  (embedding): Embedding(10, 4)\n  (rnn): RNN(4, 8, batch_first=True)\n"
                           "  (fc): Linear(in_features=8, out_features=10, bias=True)\n)")


def test_train_and_eval_return_self_and_recurse():
    net = Net()
    assert net.eval() is net
    assert not net.training and not net.rnn.training
    assert net.train() is net and net.fc.training
    with pytest.raises(TypeError):
        net.train("yes")


def test_load_state_dict_round_trip_between_models():
    a, b = Net(), Net()
    b.load_state_dict(a.state_dict())
    ids = np.array([[3, 1, 4, 1, 5]])
    np.testing.assert_array_equal(a(ids), b(ids))


def test_parameters_are_float32_arrays_updated_in_place_by_load_state_dict():
    rnn = nn.RNN(3, 5)
    before = rnn.weight_ih_l0
    rnn.load_state_dict({k: np.ones_like(v) for k, v in rnn.state_dict().items()})
    assert rnn.weight_ih_l0 is before and before.dtype == np.float32 and before.flags.c_contiguous
    assert (before == 1).all()


def test_assigning_a_parameter_checks_its_shape_and_is_used():
    lin = nn.Linear(2, 3, bias=False)
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 2\)"):
        lin.weight = np.zeros((2, 2))
    lin.weight = np.eye(3, 2, dtype=np.float64)
    assert lin.weight.dtype == np.float32
    np.testing.assert_array_equal(lin(np.array([1.0, 2.0])), [1, 2, 0])
    with pytest.raises(AttributeError):
        lin.bias = np.zeros(3)  # built without bias


def test_rnn_uses_replaced_parameter_arrays():
    rnn = nn.RNN(1, 1, bias=False, nonlinearity="relu")
    rnn.weight_ih_l0 = [[2.0]]
    rnn.weight_hh_l0 = [[0.0]]
    out, _ = rnn(np.array([[1.0], [3.0]]))
    np.testing.assert_array_equal(out, [[2.0], [6.0]])


def test_manual_seed_makes_init_reproducible():
    swiftrnn.manual_seed(123)
    a = nn.RNN(3, 4).state_dict()
    swiftrnn.manual_seed(123)
    b = nn.RNN(3, 4).state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_set_num_threads_validates_and_round_trips():
    old = swiftrnn.get_num_threads()
    try:
        swiftrnn.set_num_threads(2)
        assert swiftrnn.get_num_threads() == 2
        with pytest.raises(ValueError, match="got 0"):
            swiftrnn.set_num_threads(0)
        with pytest.raises(TypeError):
            swiftrnn.set_num_threads("2")
    finally:
        swiftrnn.set_num_threads(old)


def test_factory_keywords_accept_cpu_float32_only():
    nn.Linear(2, 2, device="cpu", dtype=np.float32)
    nn.RNN(2, 2, device="cpu:0")  # torch's indexed spelling of the CPU
    with pytest.raises(ValueError, match="cuda"):
        nn.RNN(2, 2, device="cuda")
    with pytest.raises(TypeError, match="float64"):
        nn.Embedding(2, 2, dtype=np.float64)


def test_info_command_prints_build_facts():
    out = subprocess.run([sys.executable, "-m", "swiftrnn", "info"], capture_output=True, text=True, check=True).stdout
    assert f"swiftrnn {swiftrnn.__version__}" in out and "simd " in out and "threads " in out


def test_unknown_command_exits_nonzero():
    proc = subprocess.run([sys.executable, "-m", "swiftrnn", "nope"], capture_output=True, text=True)
    assert proc.returncode != 0 and "invalid choice" in proc.stderr


@pytest.mark.parametrize("bad", [np.ones((2, 3), dtype=np.complex64), np.ones((2, 3), dtype=np.int64),
                                 np.array([["a", "b", "c"]] * 2)])
def test_functional_weights_must_be_floats(bad):
    with pytest.raises(TypeError, match="floating-point"):
        nn.functional.linear(np.ones((1, 3)), bad)
    with pytest.raises(TypeError, match="floating-point"):
        nn.functional.embedding([0, 1], bad)


def test_rnn_direct_call_takes_keywords_and_gives_subclasses_their_own_forward():
    # RNN.__call__ passes (input, hx) straight to forward: keywords as torch names them, h0 used.
    rnn = nn.RNN(3, 4).eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 3)).astype(np.float32)
    h0 = np.full((1, 1, 4), 0.5, np.float32)
    out, hn = rnn(x, h0)
    assert np.array_equal(rnn(input=x, hx=h0)[0], out) and np.array_equal(rnn(x, hx=h0)[1], hn)
    assert not np.array_equal(rnn(x)[0], out)  # without h0 the first step starts from zeros

    class Scaled(nn.RNN):  # a forward with another signature: Module's generic __call__
        def forward(self, input, hx=None, scale=1.0):
            out, hn = super().forward(input, hx)
            return out * scale, hn

    class Plain(nn.RNN):  # no forward of its own: the direct __call__
        pass

    assert Plain.__call__ is nn.RNN.__call__ and Scaled.__call__ is not nn.RNN.__call__
    s = Scaled(3, 4).eval()
    assert np.allclose(s(x, None, 2.0)[0], 2 * s(x)[0]) and np.allclose(s(x, scale=3.0)[0], 3 * s(x)[0])

    calls = []
    original = rnn.forward
    rnn.forward = lambda input, hx=None: calls.append(input) or original(input, hx)  # patched: the call runs it
    rnn(x)
    assert len(calls) == 1


def test_to_cpu_float_return_the_module_unchanged_and_refuse_other_devices_and_dtypes():
    # Ported torch code: model.to(device), .cpu(), .float() run; anything but the CPU / float32 raises.
    net = Net()
    before = {k: v.copy() for k, v in net.state_dict().items()}
    weight = net.rnn.weight_ih_l0
    for args, kwargs in [(("cpu",), {}), ((np.float32,), {}), (("float32",), {}), ((np.dtype("float32"),), {}),
                         (("cpu", np.float32), {}), ((), {"device": "cpu", "dtype": np.float32}),
                         (("cpu",), {"non_blocking": True}), ((np.zeros(3, np.float32),), {}),
                         (("cpu:0",), {}), ((), {"device": "cpu:1"})]:
        assert net.to(*args, **kwargs) is net
    assert net.cpu() is net and net.float() is net
    assert net.rnn.weight_ih_l0 is weight  # the same Parameter objects, not copies
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    for device in ["cuda", "cuda:1", 0, "meta", "cpu:", "cpu:-1"]:
        with pytest.raises(ValueError, match="CPU only"):
            net.to(device)
    for dtype in [np.float64, "float16", np.zeros(2)]:
        with pytest.raises(TypeError, match="float32 only"):
            net.to(dtype)
    with pytest.raises(TypeError, match="unexpected keyword"):
        net.to(devise="cpu")
    with pytest.raises(ValueError, match="CPU only"):
        net.cuda()
    for cast in (net.double, net.half):
        with pytest.raises(TypeError, match="float32 only"):
            cast()


def test_apply_visits_children_before_parents_and_buffers_are_empty():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Embedding", "RNN", "Linear", "Net"]  # torch's order
    net.apply(lambda m: m.weight.fill(0.5) if isinstance(m, nn.Linear) else None)  # custom init, torch style
    assert np.all(net.fc.weight == 0.5)
    assert list(net.buffers()) == [] and list(net.named_buffers()) == []
    assert net.rnn.flatten_parameters() is None


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("kwargs, name", [({}, "weight_hh_l0"), ({"num_layers": 2}, "weight_hh_l1"),
                                          ({"bidirectional": True, "batch_first": True}, "weight_hh_l0_reverse"),
                                          ({"nonlinearity": "relu"}, "weight_hh_l0")])
def test_omitted_h0_multiplies_a_non_finite_w_hh_as_torch_does(value, kwargs, name):
    # torch's zero initial state times an Inf or NaN in W_hh is NaN (0 * inf), and the NaN spreads through
    # every later step: an omitted h0 must give exactly what an explicit zero h0 gives, NaNs included.
    rnn = nn.RNN(3, 4, **kwargs)
    getattr(rnn, name)[1, 2] = value
    x = swiftrnn.randn(2, 5, 3)
    batch = x.shape[0] if rnn.batch_first else x.shape[1]
    h0 = np.zeros((rnn.num_layers * (2 if rnn.bidirectional else 1), batch, 4), np.float32)
    for mode in (rnn.eval, rnn.train):
        mode()
        out, hn = rnn(x)
        out_zero, hn_zero = rnn(x, h0)
        assert np.isnan(out).any() and np.isnan(hn).any()
        np.testing.assert_array_equal(out, out_zero)  # NaN where the other has NaN, equal elsewhere
        np.testing.assert_array_equal(hn, hn_zero)
    unbatched, _ = rnn.eval()(x[0])
    np.testing.assert_array_equal(unbatched, rnn(x[0], h0[:, 0])[0])


def test_add_module_get_submodule_get_parameter_as_torch():
    # Outputs of torch 2.15's nn.Module for the same calls (types and messages).
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            for i in range(2):
                self.add_module(f"rnn{i}", nn.RNN(3, 4))
            self.register_module("fc", nn.Linear(4, 2, bias=False))

    net = Net()
    assert [name for name, _ in net.named_parameters()] == [
        "rnn0.weight_ih_l0", "rnn0.weight_hh_l0", "rnn0.bias_ih_l0", "rnn0.bias_hh_l0",
        "rnn1.weight_ih_l0", "rnn1.weight_hh_l0", "rnn1.bias_ih_l0", "rnn1.bias_hh_l0", "fc.weight"]
    assert net.get_submodule("") is net and net.get_submodule("rnn1") is net.rnn1
    assert net.get_parameter("rnn0.weight_hh_l0") is net.rnn0.weight_hh_l0
    assert repr(net) == "Net(\n  (rnn0): RNN(3, 4)\n  (rnn1): RNN(3, 4)\n  (fc): Linear(in_features=4, out_features=2, bias=False)\n)"
    for call, exc, message in [
        (lambda: net.add_module("a.b", nn.Linear(1, 1)), KeyError, 'module name can\'t contain ".", got: a.b'),
        (lambda: net.add_module("", nn.Linear(1, 1)), KeyError, 'module name can\'t be empty string ""'),
        (lambda: net.add_module("training", nn.Linear(1, 1)), KeyError, "attribute 'training' already exists"),
        (lambda: net.add_module(3, nn.Linear(1, 1)), TypeError, "module name should be a string. Got int"),
        (lambda: net.add_module("x", 3), TypeError, "int is not a Module subclass"),
        (lambda: net.get_submodule("rnn0.foo"), AttributeError, "RNN has no attribute `foo`"),
        (lambda: net.get_submodule("rnn0.weight_ih_l0"), AttributeError, "`weight_ih_l0` is not an nn.Module"),
        (lambda: net.get_parameter("fc.bias"), AttributeError, "`bias` is not an nn.Parameter"),
        (lambda: net.get_parameter("rnn0"), AttributeError, "`rnn0` is not an nn.Parameter"),
    ]:
        with pytest.raises(exc) as info:
            call()
        assert (info.value.args[0] if exc is KeyError else str(info.value)) == message


@pytest.mark.parametrize("make", [lambda: nn.RNN(3, 5, 2, bidirectional=True), lambda: nn.RNN(3, 4, bias=False),
                                  lambda: nn.Linear(4, 3), lambda: nn.Linear(4, 3, bias=False),
                                  lambda: nn.Embedding(6, 3, padding_idx=-2)])
def test_reset_parameters_draws_as_the_constructor_in_place(make):
    # The constructors' draws are torch's (fixtures and live tests); reset_parameters must make the same
    # draws, in place: after manual_seed(s), a reset module holds what a module built after manual_seed(s) holds.
    swiftrnn.manual_seed(5)
    fresh = make()
    module = make()
    params = list(module.parameters())
    swiftrnn.manual_seed(5)
    module.reset_parameters()
    for (name, a), b in zip(module.state_dict().items(), fresh.state_dict().values()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    assert all(p is q for p, q in zip(module.parameters(), params))  # the same arrays: optimizers keep them
    if isinstance(module, nn.Embedding):
        assert not module.weight[4].any()  # padding_idx=-2 of 6 rows
