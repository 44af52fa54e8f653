"""Property-based fuzzing of the training, random and text APIs (hypothesis), as test_fuzz.py does for
the layers: backward calls, losses, optimizers (construction, steps, load_state_dict), gradient
clipping, the random generator's state and size arguments, and loading corrupted saved models and
vocabularies. Only clean exceptions; failures change nothing (gradients, optimizer state, generator
state); corrupted files never load as a different model.

Bounded for CI; SRNN_FUZZ_EXAMPLES=N raises the number of examples per test.
"""
from __future__ import annotations

import copy
import os
import tempfile
import warnings

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import swiftrnn  # noqa: E402
from swiftrnn import nn, optim  # noqa: E402

from test_fuzz import CLEAN, junk, sizes  # noqa: E402  (the shared strategies)

EXAMPLES = int(os.environ.get("SRNN_FUZZ_EXAMPLES", "0"))


def fuzz_settings(n):
    return settings(max_examples=EXAMPLES or n, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])


def arrays_or_junk(shape):
    """An array of `shape` (right), of a nearby wrong shape, of another dtype, or junk."""
    right = hnp.arrays(np.float32, shape, elements=st.floats(-2, 2, width=32))
    other_dtype = hnp.arrays(st.sampled_from([np.float64, np.float16, np.int32]), shape, elements=st.integers(-2, 2))
    wrong = hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4))
    return st.one_of(right, right, other_dtype, wrong, junk)


def grads_of(module):
    return {name: (None if p.grad is None else p.grad.copy()) for name, p in module.named_parameters()}


def assert_same_grads(module, before):
    for name, p in module.named_parameters():
        if before[name] is None:
            assert p.grad is None, f"{name}.grad appeared"
        else:
            np.testing.assert_array_equal(p.grad, before[name], err_msg=f"{name}.grad changed")


# ---------------------------------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------------------------------

@fuzz_settings(150)
@given(cfg=st.fixed_dictionaries({"input_size": st.integers(0, 3), "hidden_size": st.integers(1, 3),
                                  "num_layers": st.integers(1, 2), "bidirectional": st.booleans(),
                                  "batch_first": st.booleans(), "bias": st.booleans()}),
       L=st.integers(1, 3), N=st.integers(0, 2), data=st.data())
def test_rnn_backward_with_junk_gradients_is_clean_and_retryable(cfg, L, N, data):
    rnn = nn.RNN(**cfg)
    D = 2 if cfg["bidirectional"] else 1
    x = np.ones((N, L, cfg["input_size"]) if cfg["batch_first"] else (L, N, cfg["input_size"]), np.float32)
    out, hn = rnn(x)
    grad_out = data.draw(arrays_or_junk(out.shape))
    grad_hn = data.draw(st.one_of(st.none(), arrays_or_junk(hn.shape)))
    before = grads_of(rnn)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gx, gh = rnn.backward(grad_out, grad_hn)
    except CLEAN:
        assert_same_grads(rnn, before)  # nothing accumulated
        # the forward's saved state is still there: a correct backward works
        gx, gh = rnn.backward(np.ones_like(out), None)
        assert gx.shape == x.shape and gh.shape == (D * cfg["num_layers"], N, cfg["hidden_size"])
        return
    assert gx.shape == x.shape and gh.shape == hn.shape
    with pytest.raises(RuntimeError):  # the saved state was used up
        rnn.backward(np.ones_like(out))


@fuzz_settings(150)
@given(in_f=st.integers(0, 3), out_f=st.integers(0, 3), lead=hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
       data=st.data())
def test_linear_and_embedding_backward_with_junk(in_f, out_f, lead, data):
    lin = nn.Linear(in_f, out_f)
    y = lin(np.ones(lead + (in_f,), np.float32))
    g = data.draw(arrays_or_junk(y.shape))
    before = grads_of(lin)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gx = lin.backward(g)
        assert gx.shape == lead + (in_f,)
    except CLEAN:
        assert_same_grads(lin, before)
    emb = nn.Embedding(5, out_f, padding_idx=data.draw(st.sampled_from([None, 0, -1])))
    e = emb(np.zeros(lead, np.int64))
    g = data.draw(arrays_or_junk(e.shape))
    before = grads_of(emb)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            emb.backward(g)
    except CLEAN:
        assert_same_grads(emb, before)


@fuzz_settings(200)
@given(N=st.integers(0, 3), C=st.integers(0, 4), inner=st.sampled_from([(), (0,), (2,)]),
       targets=st.one_of(hnp.arrays(st.sampled_from([np.int64, np.int32, np.uint8]),
                                    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
                                    elements=st.integers(0, 5)), junk),
       reduction=st.sampled_from(["mean", "sum", "none", "bogus", None, 1]),
       smoothing=st.sampled_from([0.0, 0.1, 1.0, -0.1, 1.5, float("nan")]),
       ignore_index=st.sampled_from([-100, 0, 2, 2**70]), weight=st.one_of(st.none(), junk, st.just("right")),
       grad=st.one_of(st.none(), st.floats(allow_nan=True), junk))
def test_cross_entropy_with_junk(N, C, inner, targets, reduction, smoothing, ignore_index, weight, grad):
    logits = np.random.default_rng(N * 7 + C).standard_normal((N, C) + inner).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loss_fn = nn.CrossEntropyLoss(weight=np.ones(C, np.float32) if isinstance(weight, str) else weight,
                                          ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
        except CLEAN:
            return
        try:
            loss = loss_fn(logits, targets)
        except CLEAN:
            return
        try:
            g = loss_fn.backward(grad)
        except (*CLEAN, RuntimeError):  # RuntimeError: 'none' needs an explicit grad, as torch
            return
    assert g.shape == logits.shape and g.dtype == np.float32
    assert isinstance(loss, (np.float32, np.ndarray)) and loss.dtype == np.float32


# ---------------------------------------------------------------------------------------------------
# optimizers
# ---------------------------------------------------------------------------------------------------

hyper = st.one_of(st.floats(-1, 2), st.sampled_from([0.0, float("nan"), float("inf"), -1.0, 1e-3]), junk)


def model_with_grads():
    m = nn.Linear(3, 2)
    for p in m.parameters():
        p.grad = np.full(p.shape, 0.5, np.float32)
    return m


def make_optimizer(kind, params, h):
    if kind == "SGD":
        return optim.SGD(params, lr=h[0], momentum=h[1], dampening=h[2], weight_decay=h[3], nesterov=bool(h[4] is True))
    cls = optim.Adam if kind == "Adam" else optim.AdamW
    return cls(params, lr=h[0], betas=(h[1], h[2]), eps=h[3], weight_decay=h[4] if not isinstance(h[4], bool) else 0.0,
               amsgrad=h[4] is True)


def optimizer_snapshot(opt):
    sd = opt.state_dict()
    return copy.deepcopy(sd), [np.array(p, copy=True) for g in opt.param_groups for p in g["params"]]


def assert_same_optimizer(opt, snap):
    sd, params = snap
    now = opt.state_dict()
    assert [{k: v for k, v in g.items()} for g in now["param_groups"]] == sd["param_groups"]
    assert set(now["state"]) == set(sd["state"])
    for k in sd["state"]:
        for name, v in sd["state"][k].items():
            np.testing.assert_array_equal(np.asarray(now["state"][k][name]), np.asarray(v))
    for p, before in zip([p for g in opt.param_groups for p in g["params"]], params):
        np.testing.assert_array_equal(p, before)


@fuzz_settings(200)
@given(kind=st.sampled_from(["SGD", "Adam", "AdamW"]), h=st.lists(hyper, min_size=5, max_size=5),
       steps=st.integers(0, 3))
def test_optimizer_construction_and_steps(kind, h, steps):
    m = model_with_grads()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            opt = make_optimizer(kind, m.parameters(), h)
        except CLEAN:
            return
        for _ in range(steps):
            opt.step()
    for p in m.parameters():
        assert p.dtype == np.float32 and p.shape in ((2, 3), (2,))


def _state_dict_junk(opt):
    """A state_dict for `opt` with one random part replaced by junk (or left intact)."""
    good = opt.state_dict()
    n = len(good["param_groups"][0]["params"])
    first = good["param_groups"][0]["params"][0]
    return st.one_of(
        st.just(good),
        junk,
        st.fixed_dictionaries({"state": st.one_of(junk, st.just(good["state"]),
                                                  st.dictionaries(st.one_of(st.integers(-1, n + 1), st.text(max_size=2)),
                                                                  st.one_of(junk, st.dictionaries(
                                                                      st.sampled_from(["step", "exp_avg", "exp_avg_sq",
                                                                                       "momentum_buffer", "max_exp_avg_sq"]),
                                                                      st.one_of(junk, arrays_or_junk((2, 3)),
                                                                                arrays_or_junk((2,))), max_size=3)),
                                                                  max_size=3)),
                               "param_groups": st.one_of(junk, st.just(good["param_groups"]),
                                                         st.lists(st.fixed_dictionaries(
                                                             {"params": st.one_of(st.just(list(range(n))), junk,
                                                                                  st.lists(st.integers(-1, 3), max_size=3)),
                                                              "lr": hyper}), max_size=2))}),
        st.just({"state": {first: {"step": 1.0}}}),  # no param_groups
    )


@fuzz_settings(250)
@given(kind=st.sampled_from(["SGD", "Adam", "AdamW"]), data=st.data())
def test_optimizer_load_state_dict_is_all_or_nothing(kind, data):
    m = model_with_grads()
    opt = make_optimizer(kind, m.parameters(), [0.1, 0.9 if kind == "SGD" else 0.9, 0.0 if kind == "SGD" else 0.99,
                                                 1e-8 if kind != "SGD" else 0.0, 0.0])
    opt.step()
    other = make_optimizer(kind, model_with_grads().parameters(), [0.05, 0.5, 0.0 if kind == "SGD" else 0.9, 0.0, 0.0])
    other.step()
    other.step()
    sd = data.draw(_state_dict_junk(other))
    snap = optimizer_snapshot(opt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            opt.load_state_dict(sd)
        except CLEAN:
            assert_same_optimizer(opt, snap)
            return
    opt.step()  # a loaded state is usable
    for p in m.parameters():
        assert p.dtype == np.float32


@fuzz_settings(150)
@given(max_norm=hyper, norm_type=st.one_of(hyper, st.sampled_from([1, 2, float("inf"), 0.5, 0])),
       value=hyper, params=st.sampled_from(["model", "one", "empty", "junk", "no_grads"]))
def test_clip_grad_with_junk(max_norm, norm_type, value, params):
    m = model_with_grads()
    arg = {"model": lambda: m.parameters(), "one": lambda: m.weight, "empty": lambda: [],
           "junk": lambda: [1, "a"], "no_grads": lambda: nn.Linear(2, 2).parameters()}[params]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in (lambda: nn.utils.clip_grad_norm_(arg if params != "model" else m.parameters(), max_norm, norm_type),
                     lambda: nn.utils.clip_grad_value_(arg if params != "model" else m.parameters(), value)):
            try:
                call()
            except (*CLEAN, RuntimeError):  # RuntimeError: a non-finite norm with error_if_nonfinite, as torch
                pass


# ---------------------------------------------------------------------------------------------------
# random
# ---------------------------------------------------------------------------------------------------

@fuzz_settings(200)
@given(seed=st.one_of(st.integers(-2**70, 2**70), junk), state=st.one_of(
    st.binary(min_size=0, max_size=6000), st.binary(min_size=5056, max_size=5056), junk,
    hnp.arrays(st.sampled_from([np.uint8, np.int8, np.float32]), st.integers(0, 5100))))
def test_generator_seed_and_state_with_junk(seed, state):
    g = swiftrnn.random.Generator()
    try:
        g.manual_seed(seed)
    except CLEAN:
        pass
    before = g.get_state().copy()
    try:
        g.set_state(state)
    except CLEAN:
        np.testing.assert_array_equal(g.get_state(), before)  # a failed load changes nothing
        return
    # a state that loads round-trips and draws
    again = swiftrnn.random.Generator().set_state(g.get_state())
    np.testing.assert_array_equal(again.get_state(), g.get_state())
    np.testing.assert_array_equal(swiftrnn.rand(5, generator=g), swiftrnn.rand(5, generator=again))


@fuzz_settings(200)
@given(args=st.lists(sizes, max_size=3), fn=st.sampled_from(["rand", "randn", "randint", "zeros", "ones"]),
       dtype=st.sampled_from([None, np.float32, np.float64, np.int64, "float32", "junk", np.complex64]))
def test_random_functions_with_junk_sizes(args, fn, dtype):
    f = getattr(swiftrnn, fn, None) or getattr(swiftrnn.random, fn)
    state = swiftrnn.get_rng_state().copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = f(*([3] + args) if fn == "randint" else args, dtype=dtype) if dtype is not None else (
                f(*([3] + args)) if fn == "randint" else f(*args))
        except CLEAN:
            np.testing.assert_array_equal(swiftrnn.get_rng_state(), state)  # nothing drawn on failure
            return
    assert isinstance(out, np.ndarray)


# ---------------------------------------------------------------------------------------------------
# saved models and vocabularies: corrupted files are rejected, never loaded as another model
# ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_model():
    from swiftrnn.models import RNNLanguageModel
    from swiftrnn.text import Vocab
    swiftrnn.manual_seed(0)
    vocab = Vocab.build(list("abcdefg"))
    model = RNNLanguageModel(len(vocab), embedding_dim=4, hidden_size=5, num_layers=2)
    directory = tempfile.mkdtemp(prefix="srnn-fuzz-model-")
    model.save(directory, vocab=vocab, tokenizer="char")
    files = {name: open(os.path.join(directory, name), "rb").read() for name in os.listdir(directory)}
    return model, vocab, files


corruptions = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("delete"), st.just(0), st.just(0)),
    st.tuples(st.just("replace"), st.binary(max_size=64), st.just(0)),
    st.tuples(st.just("json"), st.sampled_from(['{}', '[]', 'null', '{"format": "swiftrnn.RNNLanguageModel"}',
                                                '{"format": "swiftrnn.Vocab", "version": 1, "itos": [1, 2]}',
                                                '{"format": "swiftrnn.Vocab", "version": 1, "itos": ["a", "a"]}',
                                                '"\\ud800"', '1e999', '{"a": NaN}']), st.just(0)),
)


@fuzz_settings(200)
@given(which=st.sampled_from(["weights.npz", "vocab.json"]), how=corruptions)
def test_corrupted_model_files_are_rejected(saved_model, which, how):
    check_corruption(saved_model, which, how)


@fuzz_settings(200)
@given(how=corruptions)
def test_corrupted_config_is_rejected(saved_model, how):
    check_corruption(saved_model, "config.json", how)


def check_corruption(saved_model, which, how):
    from swiftrnn.models import RNNLanguageModel
    model, vocab, files = saved_model
    if which not in files:
        pytest.skip(f"the model format has no {which}")
    directory = tempfile.mkdtemp(prefix="srnn-fuzz-corrupt-")
    try:
        for name, data in files.items():
            with open(os.path.join(directory, name), "wb") as f:
                f.write(data)
        data = files[which]
        kind, a, b = how
        path = os.path.join(directory, which)
        if kind == "flip":
            i = a % len(data)
            data = data[:i] + bytes([data[i] ^ b]) + data[i + 1:]
        elif kind == "truncate":
            data = data[:a % len(data)]
        elif kind == "replace":
            data = a
        elif kind == "json":
            data = a.encode()
        if kind == "delete":
            os.unlink(path)
        else:
            with open(path, "wb") as f:
                f.write(data)
        try:
            loaded = RNNLanguageModel.load(directory)
        except (ValueError, OSError):  # never MemoryError/OverflowError: sizes are checked against the files
            return
        # It loaded: then it must be the saved model (weights and vocab are hash-checked; a change to
        # config.json that keeps it equivalent, e.g. whitespace, is harmless).
        changed = kind == "delete" or data != files[which]
        if which != "config.json":
            assert not changed, f"a corrupted {which} ({kind}) loaded"
        assert loaded.config == model.config, f"config.json corrupted ({kind}) loaded as {loaded.config}"
        for k, v in model.state_dict().items():
            np.testing.assert_array_equal(loaded.state_dict()[k], v, err_msg=f"{which} corrupted ({kind}) loaded {k}")
        assert loaded.vocab == vocab
    finally:
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))
        os.rmdir(directory)


@fuzz_settings(200)
@given(data=st.one_of(st.binary(max_size=200), st.text(max_size=80).map(str.encode),
                      st.sampled_from([b'{"format": "swiftrnn.Vocab", "version": 1, "specials": ["<unk>"], "itos": ["<unk>", "a"]}',
                                       b'{"format": "swiftrnn.Vocab", "version": 1, "specials": ["x"], "itos": ["a"]}',
                                       b'{"format": "swiftrnn.Vocab", "version": 2, "itos": []}',
                                       b'{"format": "swiftrnn.Vocab", "version": 1, "itos": {"a": 1}}',
                                       b'\xff\xfe{}'])))
def test_vocab_load_of_arbitrary_bytes(data):
    from swiftrnn.text import Vocab
    fd, path = tempfile.mkstemp(prefix="srnn-fuzz-vocab-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            v = Vocab.load(path)
        except ValueError:
            return
        assert len(v) >= 0
    finally:
        os.unlink(path)
