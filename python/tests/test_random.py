"""swiftrnn.random against PyTorch's CPU random stream (fixtures from make_random_fixtures.py).

Streams (rand, randn, randint, bernoulli, dropout masks, generator states) and module initialisation
must match torch bit for bit; forward outputs of the freshly initialised modules within float32
tolerance.
"""
import json
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn
from swiftrnn import random as srandom

from conftest import FIXTURES, assert_close

STREAMS = np.load(os.path.join(FIXTURES, "random_streams.npz"))
SCRIPTS = json.loads(STREAMS["scripts"].tobytes().decode())
NOTEBOOK = np.load(os.path.join(FIXTURES, "random_notebook.npz"))


def assert_same_bits(name, actual, expected):
    """Equal shapes, dtypes and bits (so -0.0 != 0.0); on failure, how far off and where."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != torch's {expected.shape}"
    assert actual.dtype == expected.dtype, f"{name}: dtype {actual.dtype} != torch's {expected.dtype}"
    if actual.tobytes() == expected.tobytes():
        return
    n = actual.size
    a_bytes = np.frombuffer(np.ascontiguousarray(actual).tobytes(), np.uint8).reshape(n, -1)
    e_bytes = np.frombuffer(np.ascontiguousarray(expected).tobytes(), np.uint8).reshape(n, -1)
    bad = np.nonzero((a_bytes != e_bytes).any(axis=1))[0]
    a = actual.reshape(-1).astype(np.float64)
    e = expected.reshape(-1).astype(np.float64)
    first = int(bad[0])
    raise AssertionError(f"{name}: {bad.size}/{n} elements differ from torch; max abs diff "
                         f"{np.max(np.abs(a - e)):.3g}; first at {first}: {a[first]!r} vs {e[first]!r}")


def run_op(op, g):
    """The swiftrnn counterpart of make_random_fixtures.run_op, on generator g."""
    kind = op[0]
    if kind == "rand":
        return [srandom.rand(op[1], generator=g)]
    if kind == "randn":
        return [srandom.randn(op[1], generator=g)]
    if kind == "normal":
        return [srandom._normal_(np.empty(op[1], np.float32), op[2], op[3], generator=g)]
    if kind == "uniform":
        return [srandom._uniform_(np.empty(op[1], np.float32), op[2], op[3], generator=g)]
    if kind == "randint":
        return [srandom.randint(op[2], op[3], (op[1],), generator=g)]
    if kind == "bernoulli":
        return [srandom._bernoulli_(np.empty(op[1], np.float32), op[2], generator=g)]
    if kind == "dropout":
        return [srandom._dropout_mask((op[1],), op[2], generator=g)]
    if kind == "state":
        return [g.get_state()]
    if kind == "linear":
        w = np.empty((op[2], op[1]), np.float32)
        b = np.empty((op[2],), np.float32) if op[3] else None
        srandom._init_linear_(w, b, generator=g)
        return [w] if b is None else [w, b]
    if kind == "rnn":
        _, input_size, hidden, layers, bias, bidirectional = op
        params = []
        for layer in range(layers):
            layer_input = input_size if layer == 0 else hidden * (2 if bidirectional else 1)
            for _ in range(2 if bidirectional else 1):
                params += [np.empty((hidden, layer_input), np.float32), np.empty((hidden, hidden), np.float32)]
                if bias:
                    params += [np.empty(hidden, np.float32), np.empty(hidden, np.float32)]
        srandom._init_rnn_(params, hidden, generator=g)
        return params
    if kind == "embedding":
        w = np.empty((op[1], op[2]), np.float32)
        srandom._init_embedding_(w, op[3], generator=g)
        return [w]
    raise ValueError(kind)


def expected_outputs(script, j):
    k, outs = 0, []
    while f"{script['name']}/{j}/{k}" in STREAMS:
        outs.append(STREAMS[f"{script['name']}/{j}/{k}"])
        k += 1
    return outs


@pytest.mark.parametrize("script", SCRIPTS, ids=[s["name"] for s in SCRIPTS])
def test_stream_matches_torch_bit_for_bit(script):
    g = srandom.Generator().manual_seed(script["seed"])
    for j, op in enumerate(script["ops"]):
        outs = run_op(op, g)
        expected = expected_outputs(script, j)
        assert len(outs) == len(expected), f"{script['name']} step {j} {op}: number of outputs"
        for k, (a, e) in enumerate(zip(outs, expected)):
            assert_same_bits(f"{script['name']} step {j} {op} output {k}", np.reshape(a, e.shape), e)


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s["name"].startswith("state/")],
                         ids=lambda s: s["name"])
def test_loading_torch_state_continues_torch_stream(script):
    """set_state(torch's bytes) on a fresh generator, then the rest of the script gives torch's numbers."""
    ops = script["ops"]
    for j, op in enumerate(ops):
        if op[0] != "state":
            continue
        g = srandom.Generator().manual_seed(12345).set_state(STREAMS[f"{script['name']}/{j}/0"])
        assert g.initial_seed() == script["seed"] & (2**64 - 1)
        for later in range(j + 1, len(ops)):
            for k, (a, e) in enumerate(zip(run_op(ops[later], g), expected_outputs(script, later))):
                assert_same_bits(f"{script['name']} resumed at {j}, step {later} output {k}", a, e)


def test_default_generator_follows_manual_seed():
    script = next(s for s in SCRIPTS if s["name"] == "normal/42")
    swiftrnn.manual_seed(42)
    for j, op in enumerate(script["ops"]):
        out = swiftrnn.randn(op[1]) if op[0] == "randn" else run_op(op, None)[0]
        assert_same_bits(f"default generator step {j} {op}", out, expected_outputs(script, j)[0])


# ----------------------------------------------------------------------------------------------------
# Modules


def module_params(m):
    return list(m.state_dict().values())


@pytest.mark.parametrize("script", [s for s in SCRIPTS if s["name"].startswith("modules/")], ids=lambda s: s["name"])
def test_nn_modules_initialise_as_torch(script):
    """swiftrnn.nn constructors after manual_seed hold torch's initial parameters, bit for bit."""
    swiftrnn.manual_seed(script["seed"])
    for j, op in enumerate(script["ops"]):
        kind = op[0]
        if kind == "linear":
            outs = module_params(nn.Linear(op[1], op[2], bias=op[3]))
        elif kind == "rnn":
            outs = module_params(nn.RNN(op[1], op[2], num_layers=op[3], bias=op[4], bidirectional=op[5]))
        elif kind == "embedding":
            outs = [nn.Embedding(op[1], op[2], padding_idx=op[3]).weight]
        else:
            outs = [swiftrnn.randn(op[1])]
        for k, (a, e) in enumerate(zip(outs, expected_outputs(script, j))):
            assert_same_bits(f"{script['name']} {op} parameter {k}", a, e)


def test_notebook_session_reproduces_torch():
    """manual_seed(0); Embedding, RNN, Linear; randint/randn inputs; forward — as the torch session did."""
    swiftrnn.manual_seed(0)
    emb = nn.Embedding(20, 8, padding_idx=0)
    rnn = nn.RNN(8, 16, num_layers=2)
    lin = nn.Linear(16, 5)
    tokens = swiftrnn.randint(0, 20, (5, 3))
    h0 = swiftrnn.randn(2, 3, 16)
    x = swiftrnn.randn((5, 3, 8))
    assert_same_bits("embedding.weight", emb.weight, NOTEBOOK["embedding.weight"])
    for k, v in rnn.state_dict().items():
        assert_same_bits("rnn." + k, v, NOTEBOOK["rnn." + k])
    for k, v in lin.state_dict().items():
        assert_same_bits("linear." + k, v, NOTEBOOK["linear." + k])
    assert_same_bits("tokens", tokens, NOTEBOOK["tokens"])
    assert_same_bits("h0", h0, NOTEBOOK["h0"])
    assert_same_bits("x", x, NOTEBOOK["x"])

    e = emb(tokens)
    y, hn = rnn(e, h0)
    logits = lin(y)
    yx, hx = rnn(x)
    assert_same_bits("embedded", e, NOTEBOOK["embedded"])
    assert_close("rnn output", y, NOTEBOOK["rnn_output"], rtol=1e-5, atol=2e-6)
    assert_close("rnn hn", hn, NOTEBOOK["rnn_hn"], rtol=1e-5, atol=2e-6)
    assert_close("logits", logits, NOTEBOOK["logits"], rtol=1e-5, atol=2e-6)
    assert_close("rnn output (x)", yx, NOTEBOOK["rnn_output_x"], rtol=1e-5, atol=2e-6)
    assert_close("rnn hn (x)", hx, NOTEBOOK["rnn_hn_x"], rtol=1e-5, atol=2e-6)

    # RNNs with dropout in training mode: the masks are drawn from the stream as torch draws them.
    rnn_d = nn.RNN(8, 16, num_layers=3, dropout=0.5)
    x_bf = swiftrnn.randn(3, 5, 8)
    rnn_bf = nn.RNN(8, 6, num_layers=2, dropout=0.3, batch_first=True, bidirectional=True)
    for k, v in rnn_d.state_dict().items():
        assert_same_bits("rnn_d." + k, v, NOTEBOOK["rnn_d." + k])
    for k, v in rnn_bf.state_dict().items():
        assert_same_bits("rnn_bf." + k, v, NOTEBOOK["rnn_bf." + k])
    assert_same_bits("x_bf", x_bf, NOTEBOOK["x_bf"])
    yd, hd = rnn_d(x)
    ybf, hbf = rnn_bf(x_bf)
    assert_close("rnn with dropout: output", yd, NOTEBOOK["rnn_d_output"], rtol=1e-5, atol=2e-6)
    assert_close("rnn with dropout: hn", hd, NOTEBOOK["rnn_d_hn"], rtol=1e-5, atol=2e-6)
    assert_close("batch_first bidirectional rnn with dropout: output", ybf, NOTEBOOK["rnn_bf_output"],
                 rtol=1e-5, atol=2e-6)
    assert_close("batch_first bidirectional rnn with dropout: hn", hbf, NOTEBOOK["rnn_bf_hn"], rtol=1e-5, atol=2e-6)
    assert_same_bits("rand after the session", swiftrnn.rand(4), NOTEBOOK["rand_after"])
    assert_same_bits("state after the session", swiftrnn.get_rng_state(), NOTEBOOK["state_after"])


# ----------------------------------------------------------------------------------------------------
# API


def test_sizes_are_taken_as_torch_takes_them():
    g = srandom.Generator()
    for make in (swiftrnn.rand, swiftrnn.randn, swiftrnn.zeros, swiftrnn.ones):
        assert make(5, 32, 128, **({} if make in (swiftrnn.zeros, swiftrnn.ones) else {"generator": g})).shape == (5, 32, 128)
        assert make((5, 2)).shape == (5, 2)
        assert make([3]).shape == (3,)
        assert make(np.int64(4)).shape == (4,)
        assert make(()).shape == ()
        assert make(size=(2, 3)).shape == (2, 3)
        assert make(0, 3).shape == (0, 3)
        assert make(2, 3).dtype == np.float32
    assert swiftrnn.randint(5, (3,)).dtype == np.int64
    assert swiftrnn.randint(2, 5, (2, 2)).shape == (2, 2)
    assert swiftrnn.randint(low=2, high=5, size=(4,)).min() >= 2
    assert swiftrnn.randint(10, size=(7,)).shape == (7,)
    assert swiftrnn.rand(2, device="cpu").shape == (2,)
    assert swiftrnn.randn(2, device="cpu:0").shape == (2,)  # torch's indexed spelling of the CPU
    assert srandom.Generator(device="cpu:0").device == "cpu"


def test_same_seed_same_numbers_through_every_size_form():
    a = swiftrnn.randn(2, 3, generator=srandom.Generator().manual_seed(7))
    b = swiftrnn.randn((2, 3), generator=srandom.Generator().manual_seed(7))
    assert_same_bits("randn(2, 3) vs randn((2, 3))", a, b)


@pytest.mark.parametrize("call, exc, text", [
    (lambda: swiftrnn.randn(-1), ValueError, "negative dimension"),
    (lambda: swiftrnn.rand(2.5), TypeError, "size must be ints"),
    (lambda: swiftrnn.rand(), TypeError, "missing its size"),
    (lambda: swiftrnn.randint(5, 5, (3,)), ValueError, "low=5 >= high=5"),
    (lambda: swiftrnn.randint(0, 2**63, (3,)), ValueError, "does not fit in int64"),
    (lambda: swiftrnn.randint(0, 1.5, (3,)), TypeError, "high must be an int"),
    (lambda: swiftrnn.randint(3), TypeError, "randint(high, size)"),
    (lambda: swiftrnn.rand(2, dtype=np.float64), TypeError, "returns float32"),
    (lambda: swiftrnn.rand(2, device="cuda"), ValueError, "CPU"),
    (lambda: swiftrnn.rand(2, out=None), TypeError, "unexpected keyword"),
    (lambda: swiftrnn.manual_seed(2**64), ValueError, "seed must be within"),
    (lambda: swiftrnn.manual_seed("1"), TypeError, "seed must be an integer"),
    (lambda: srandom._normal_(np.empty(4, np.float32), 0.0, -1.0), ValueError, "std >= 0.0"),
    (lambda: srandom._uniform_(np.empty(4, np.float32), 2.0, 1.0), ValueError, "from=2.0 > to=1.0"),
    (lambda: srandom._bernoulli_(np.empty(4, np.float32), 1.5), ValueError, "p in [0, 1]"),
    (lambda: srandom._dropout_mask((4,), -0.5), ValueError, "between 0 and 1"),
    (lambda: srandom._uniform_(np.empty(4, np.float64), 0.0, 1.0), TypeError, "float32"),
    (lambda: srandom._uniform_(np.empty((4, 4), np.float32)[:, 0], 0.0, 1.0), TypeError, "C-contiguous"),
    (lambda: swiftrnn.set_rng_state(np.zeros(10, np.uint8)), ValueError, "5056 bytes"),
    (lambda: swiftrnn.set_rng_state(np.zeros(5056, np.float32)), TypeError, "uint8"),
    (lambda: swiftrnn.rand(2, generator=object()), TypeError, "Generator"),
])
def test_bad_arguments_raise_clear_errors(call, exc, text):
    with pytest.raises(exc) as info:
        call()
    assert text in str(info.value)


def test_failed_calls_leave_the_generator_as_it_was():
    g = srandom.Generator().manual_seed(3)
    before = g.get_state()
    with pytest.raises(ValueError):
        swiftrnn.randint(4, 4, (10,), generator=g)
    with pytest.raises(ValueError):
        g.set_state(np.zeros(5056, np.uint8))  # 'seeded' flag 0: invalid
    assert_same_bits("state after failures", g.get_state(), before)


def test_seeds_as_torch_takes_them():
    assert swiftrnn.manual_seed(-1).initial_seed() == 2**64 - 1
    assert swiftrnn.manual_seed(-2**63).initial_seed() == 2**63
    assert swiftrnn.manual_seed(1.7).initial_seed() == 1  # int(seed), as torch
    g = srandom.Generator()
    assert g.initial_seed() == 67280421310721
    assert g.manual_seed(5) is g
    s = g.seed()
    assert isinstance(s, int) and g.initial_seed() == s
    assert swiftrnn.seed() == swiftrnn.initial_seed()


def test_manual_seed_drops_the_cached_normal():
    g = srandom.Generator().manual_seed(1)
    first = swiftrnn.randn(3, generator=g)  # odd count: one normal left cached
    g.manual_seed(1)
    assert_same_bits("randn(3) after reseeding", swiftrnn.randn(3, generator=g), first)


def test_state_round_trip_and_pickle_continue_the_stream():
    g = srandom.Generator().manual_seed(99)
    swiftrnn.randn(5, generator=g)  # leaves a cached normal in the state
    state = g.get_state()
    assert state.dtype == np.uint8 and state.shape == (5056,)
    clone = srandom.Generator().set_state(state)
    copy = pickle.loads(pickle.dumps(g))
    expected = swiftrnn.randn(3, generator=g)
    assert_same_bits("after set_state", swiftrnn.randn(3, generator=clone), expected)
    assert_same_bits("after pickle", swiftrnn.randn(3, generator=copy), expected)
    swiftrnn.set_rng_state(bytes(state))
    assert_same_bits("default generator after set_rng_state(bytes)", swiftrnn.randn(3), expected)


def test_threads_share_the_default_generator_safely():
    """Concurrent calls each get a contiguous run of the stream: together, a permutation of the sequence."""
    swiftrnn.manual_seed(4)
    sequential = swiftrnn.rand(8 * 2000).reshape(8, 2000)
    swiftrnn.manual_seed(4)
    results = [None] * 8
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        results[i] = swiftrnn.rand(2000)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = {r.tobytes() for r in sequential}
    assert all(r.tobytes() in rows for r in results)
    assert len({r.tobytes() for r in results}) == 8


def test_default_generator_is_seeded_nondeterministically_like_torch():
    code = "import swiftrnn; print(swiftrnn.initial_seed())"
    seeds = {subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
             for _ in range(2)}
    assert len(seeds) == 2


def test_module_docstring_examples():
    import doctest
    failures, _ = doctest.testmod(srandom, verbose=False)
    assert failures == 0


def test_generator_repr_and_device():
    g = srandom.Generator().manual_seed(3)
    assert repr(g) == "<swiftrnn.random.Generator initial_seed=3>"
    assert g.device == "cpu"
    with pytest.raises(ValueError):
        srandom.Generator(device="cuda")


# --- swiftrnn.tensor: torch.tensor's dtype rules, NumPy arrays out ------------------------------------------

TENSOR_CASES = [([1], np.int64), ([1.5, 2], np.float32), ([[1, 2], [3, 4]], np.int64), ([True, False], np.bool_),
                (3, np.int64), (2.5, np.float32), ([], np.float32), ([1, 2.5], np.float32), ([1 + 2j], np.complex64),
                (np.arange(3, dtype=np.int32), np.int32), (np.ones(2), np.float64), (np.float64(1.5), np.float64),
                ([[True, 2]], np.int64)]


@pytest.mark.parametrize("data,dtype", TENSOR_CASES)
def test_tensor_infers_torchs_dtype_and_copies(data, dtype):
    got = swiftrnn.tensor(data)
    assert got.dtype == dtype and got.shape == np.shape(data)
    np.testing.assert_array_equal(got, np.asarray(data).astype(dtype))
    if isinstance(data, np.ndarray):
        assert not np.shares_memory(got, data)


@pytest.mark.parametrize("data,dtype", TENSOR_CASES)
def test_tensor_matches_live_torch(data, dtype):
    torch = pytest.importorskip("torch")
    want = torch.tensor(data).numpy()
    got = swiftrnn.tensor(data)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_tensor_keywords_and_errors():
    assert swiftrnn.tensor([1, 2], dtype="float64").dtype == np.float64
    assert swiftrnn.tensor([1, 2], dtype=np.float32, device="cpu", requires_grad=False).dtype == np.float32
    with pytest.raises(ValueError, match="on the CPU"):
        swiftrnn.tensor([1], device="cuda")
    with pytest.raises(ValueError, match="requires_grad=True"):
        swiftrnn.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="pin_memory"):
        swiftrnn.tensor([1.0], pin_memory=True)
    with pytest.raises(TypeError, match="expected numbers"):
        swiftrnn.tensor(["a"])
    assert nn.Embedding(5, 3)(swiftrnn.tensor([1])).shape == (1, 3)  # the tutorial's embedding(torch.tensor([i]))
