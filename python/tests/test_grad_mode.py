"""swiftrnn.no_grad / enable_grad / set_grad_enabled / inference_mode: torch's gradient-mode API. With gradients
disabled a training-mode forward computes the same output (dropout included) and saves nothing."""
import threading

import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn


def _training_modules():
    swiftrnn.manual_seed(0)
    rnn = nn.RNN(3, 4, num_layers=2, dropout=0.5)  # dropout active in training mode, with or without grad
    return [
        (nn.Linear(3, 2), lambda m: m(np.ones((4, 3), np.float32)), lambda m, out: m.backward(np.ones_like(out))),
        (nn.Embedding(5, 3), lambda m: m(np.array([[1, 2], [3, 4]])), lambda m, out: m.backward(np.ones_like(out))),
        (rnn, lambda m: m(np.ones((6, 2, 3), np.float32))[0], lambda m, out: m.backward(np.ones_like(out))),
        (nn.CrossEntropyLoss(), lambda m: m(np.ones((4, 3), np.float32), np.array([0, 1, 2, 1])),
         lambda m, out: m.backward()),
    ]


@pytest.mark.parametrize("case", range(4))
def test_no_grad_forward_gives_the_same_output_and_saves_nothing(case):
    module, forward, backward = _training_modules()[case]
    swiftrnn.manual_seed(1)
    expected = forward(module)  # training mode, gradients on: saved
    backward(module, expected)
    swiftrnn.manual_seed(1)  # the same dropout masks
    with swiftrnn.no_grad():
        got = forward(module)
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(RuntimeError, match=r"gradients disabled \(swiftrnn.no_grad\(\)\)"):
        backward(module, got)
    assert module.training  # the mode of the module is not touched


def test_modes_nest_restore_and_survive_exceptions():
    assert swiftrnn.is_grad_enabled()
    with swiftrnn.no_grad():
        assert not swiftrnn.is_grad_enabled()
        with swiftrnn.enable_grad():
            assert swiftrnn.is_grad_enabled()
        assert not swiftrnn.is_grad_enabled()
    assert swiftrnn.is_grad_enabled()
    with pytest.raises(KeyError):
        with swiftrnn.no_grad():
            raise KeyError("boom")
    assert swiftrnn.is_grad_enabled()


def test_decorators_bare_and_called():
    @swiftrnn.no_grad
    def bare():
        return swiftrnn.is_grad_enabled()

    @swiftrnn.no_grad()
    def called():
        return swiftrnn.is_grad_enabled()

    @swiftrnn.set_grad_enabled(False)
    def off():
        return swiftrnn.is_grad_enabled()

    @swiftrnn.inference_mode()
    def inference():
        return swiftrnn.is_grad_enabled()

    assert swiftrnn.is_grad_enabled()  # decorating changed nothing
    assert (bare(), called(), off(), inference()) == (False, False, False, False)
    assert bare.__name__ == "bare" and swiftrnn.is_grad_enabled()


def test_set_grad_enabled_as_a_call_and_as_a_context():
    try:
        swiftrnn.set_grad_enabled(False)
        assert not swiftrnn.is_grad_enabled()
        with swiftrnn.set_grad_enabled(True):
            assert swiftrnn.is_grad_enabled()
        assert not swiftrnn.is_grad_enabled()
    finally:
        swiftrnn.set_grad_enabled(True)
    with swiftrnn.inference_mode(False):
        assert swiftrnn.is_grad_enabled()
    for bad in (0, "no", None):
        with pytest.raises(TypeError, match="takes a bool"):
            swiftrnn.set_grad_enabled(bad)
        with pytest.raises(TypeError, match="takes a bool"):
            swiftrnn.inference_mode(bad)
    with pytest.raises(TypeError, match="takes no arguments"):
        swiftrnn.no_grad(3)


def test_the_mode_is_per_thread():
    seen = []
    started, release = threading.Event(), threading.Event()

    def other():
        started.set()
        release.wait(10)
        seen.append(swiftrnn.is_grad_enabled())

    t = threading.Thread(target=other)
    t.start()
    started.wait(10)
    with swiftrnn.no_grad():
        release.set()
        t.join(10)
    assert seen == [True]


def test_fit_trains_inside_no_grad():
    from swiftrnn.models import RNNLanguageModel

    swiftrnn.manual_seed(0)
    model = RNNLanguageModel(7, embedding_dim=4, hidden_size=8)
    ids = np.arange(200) % 7
    with swiftrnn.no_grad():
        losses = model.fit(ids, steps=30, seq_len=8, batch_size=4, lr=1e-2, progress=False)
        assert not swiftrnn.is_grad_enabled()
    assert losses[-1] < losses[0]


CE_CASES = [{}, {"reduction": "sum"}, {"reduction": "none"}, {"ignore_index": 1},
            {"label_smoothing": 0.2, "weight": np.array([1.0, 2.0, 0.5])}]


def _ce_inputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 3)).astype(np.float32), np.array([0, 1, 2, 1, 0])


@pytest.mark.parametrize("kwargs", CE_CASES)
def test_functional_cross_entropy_is_the_module_value_and_saves_nothing(kwargs):
    logits, target = _ce_inputs()
    got = nn.functional.cross_entropy(logits, target, **kwargs)
    np.testing.assert_array_equal(got, nn.CrossEntropyLoss(**kwargs)(logits, target))
    assert swiftrnn.is_grad_enabled()


@pytest.mark.parametrize("kwargs", CE_CASES)
def test_functional_cross_entropy_matches_torch(kwargs):
    torch = pytest.importorskip("torch")
    logits, target = _ce_inputs()
    ref = torch.nn.functional.cross_entropy(
        torch.from_numpy(logits), torch.from_numpy(target),
        **{k: (torch.tensor(v, dtype=torch.float32) if k == "weight" else v) for k, v in kwargs.items()})
    np.testing.assert_allclose(nn.functional.cross_entropy(logits, target, **kwargs), ref.numpy(),
                               rtol=1e-5, atol=1e-6)
