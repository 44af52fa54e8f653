"""swiftrnn.models.RNNLanguageModel: structure, forward, generate (streaming, sampling), evaluate, save/load,
fit, and parity with the PyTorch equivalent (when torch is importable)."""
import io
import json
import math
import os
import sys

import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn
from swiftrnn.models import TORCH_EQUIVALENT, RNNLanguageModel
from swiftrnn.text import Vocab, builtin_corpus, tokenize

from conftest import assert_close


def small(vocab_size=12, **kw):
    swiftrnn.manual_seed(1)
    kw.setdefault("embedding_dim", 8)
    kw.setdefault("hidden_size", 16)
    return RNNLanguageModel(vocab_size, **kw)


def log_softmax64(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


# --- structure --------------------------------------------------------------------------------

def test_submodules_and_state_dict_keys_match_the_torch_module():
    m = RNNLanguageModel(30, embedding_dim=5, hidden_size=7, num_layers=2)
    assert isinstance(m, nn.Module)
    assert isinstance(m.embedding, nn.Embedding) and isinstance(m.rnn, nn.RNN) and isinstance(m.fc, nn.Linear)
    assert m.rnn.batch_first
    shapes = {k: v.shape for k, v in m.state_dict().items()}
    assert list(shapes) == ["embedding.weight",
                            "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                            "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
                            "fc.weight", "fc.bias"]
    assert shapes["embedding.weight"] == (30, 5) and shapes["rnn.weight_ih_l0"] == (7, 5)
    assert shapes["rnn.weight_ih_l1"] == (7, 7) and shapes["fc.weight"] == (30, 7) and shapes["fc.bias"] == (30,)


def test_defaults_and_config():
    m = RNNLanguageModel(10)
    assert m.config == {"vocab_size": 10, "embedding_dim": 64, "hidden_size": 256, "num_layers": 1,
                        "dropout": 0.0, "nonlinearity": "tanh", "cell": "rnn"}
    assert RNNLanguageModel(**m.config).config == m.config
    assert "(rnn): RNN(64, 256, batch_first=True)" in repr(m)


@pytest.mark.parametrize("kw, match", [
    ({"vocab_size": 0}, "vocab_size"), ({"vocab_size": 2.5}, "vocab_size"),
    ({"vocab_size": 5, "hidden_size": 0}, "hidden_size"), ({"vocab_size": 5, "num_layers": 0}, "num_layers"),
    ({"vocab_size": 5, "nonlinearity": "gelu"}, "nonlinearity"), ({"vocab_size": 5, "dropout": 1.5}, "dropout"),
])
def test_constructor_rejects_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        RNNLanguageModel(**kw)


# --- forward ----------------------------------------------------------------------------------

def test_forward_is_embedding_rnn_linear_batch_first():
    m = small()
    ids = np.random.default_rng(0).integers(0, 12, size=(3, 5))
    logits, h = m(ids)
    assert logits.shape == (3, 5, 12) and h.shape == (1, 3, 16)
    out, h_ref = m.rnn(m.embedding(ids))
    assert_close("logits", logits, m.fc(out))
    assert_close("h", h, h_ref)
    # carrying h across two halves gives the same logits as the whole sequence
    l1, h1 = m(ids[:, :2])
    l2, h2 = m(ids[:, 2:], h1)
    assert_close("split logits", np.concatenate([l1, l2], axis=1), logits)
    assert_close("split h", h2, h)


def test_forward_unbatched():
    m = small()
    logits, h = m(np.array([1, 2, 3]))
    assert logits.shape == (3, 12) and h.shape == (1, 16)


# --- generate ---------------------------------------------------------------------------------

def reference_greedy(m, prompt, n):
    """Greedy decoding that reruns the whole sequence for every token (no state carried)."""
    seq = list(prompt)
    for _ in range(n):
        logits, _ = m(np.array([seq]))
        seq.append(int(np.argmax(logits[0, -1])))
    return seq


@pytest.mark.parametrize("num_layers, nonlinearity", [(1, "tanh"), (2, "relu"), (3, "tanh")])
def test_greedy_streaming_equals_rerunning_the_whole_sequence(num_layers, nonlinearity):
    m = small(num_layers=num_layers, nonlinearity=nonlinearity)
    out = m.generate([3, 1, 4], 20, greedy=True)
    assert out.dtype == np.int64 and out.shape == (23,)
    assert out.tolist() == reference_greedy(m, [3, 1, 4], 20)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_generate_runs_the_prompt_once_then_one_step_per_token(monkeypatch, cell):
    from swiftrnn import models
    m = small(cell=cell)
    calls = []
    forward = models._native.rnn_forward

    def spy(x, h, *args):
        # batch_first: (N, L, E); args: params, desc, masks, save, packed weights (packed once, for every cell), c0
        calls.append((np.shape(x)[1], h is None, args[4] is not None))
        return forward(x, h, *args)
    monkeypatch.setattr(models._native, "rnn_forward", spy)
    m.generate([1, 2, 3, 4, 5], 50, seed=0)
    assert calls == [(5, True, True)] + [(1, False, True)] * 49


def test_generate_returns_prompt_plus_new_tokens():
    m = small()
    assert m.generate([5, 6], 0).tolist() == [5, 6]
    out = m.generate(np.array([5, 6], dtype=np.int32), 7, seed=3)
    assert out[:2].tolist() == [5, 6] and len(out) == 9 and out.min() >= 0 and out.max() < 12


def test_seeded_sampling_is_reproducible_and_seeds_differ():
    m = small()
    a = m.generate([1], 200, seed=42)
    assert np.array_equal(a, m.generate([1], 200, seed=42))
    assert not np.array_equal(a, m.generate([1], 200, seed=43))


def test_unseeded_sampling_follows_swiftrnn_manual_seed():
    m = small()
    swiftrnn.manual_seed(5)
    a = m.generate([1], 100)
    b = m.generate([1], 100)
    swiftrnn.manual_seed(5)
    assert np.array_equal(a, m.generate([1], 100)) and not np.array_equal(a, b)


def test_top_k_1_is_greedy():
    m = small()
    assert np.array_equal(m.generate([2], 30, top_k=1, seed=0), m.generate([2], 30, greedy=True))


def constant_logits_model(bias):
    """A model whose next-token logits are always ``bias`` (all weights zero)."""
    m = small(vocab_size=len(bias))
    state = {k: np.zeros_like(v) for k, v in m.state_dict().items()}
    state["fc.bias"] = np.asarray(bias, dtype=np.float32)
    m.load_state_dict(state)
    return m


def test_sampling_follows_softmax_of_logits_over_temperature():
    bias = np.array([2.0, 1.0, 0.0, -1.0, 0.5, 1.5])
    m = constant_logits_model(bias)
    n = 20000
    for t in (1.0, 0.5, 2.0):
        draws = m.generate([0], n, temperature=t, seed=7)[1:]
        freq = np.bincount(draws, minlength=6) / n
        p = np.exp(bias / t) / np.exp(bias / t).sum()
        assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-3), (t, freq, p)


@pytest.mark.parametrize("t", [1e-310, 5e-324, 1e-300, 1e-30])
def test_tiny_temperatures_are_greedy_not_nan(t):
    # 1 / 1e-310 overflows to inf and logits * 1e300 may too: the probabilities were NaN and the last id won.
    bias = np.array([-3.0, 40.0, 39.9, -1e3, 2.0, 0.0])
    m = constant_logits_model(bias)
    assert set(m.generate([0], 50, temperature=t, seed=3)[1:].tolist()) == {1}
    assert set(m.generate([0], 50, temperature=t, top_k=3, seed=3)[1:].tolist()) == {1}
    huge = constant_logits_model(np.array([3e38, -3e38, 1e38, 0.0]))  # float32 extremes, any temperature
    for temperature in (t, 1.0, 1e300):
        draws = huge.generate([0], 20, temperature=temperature, seed=3)[1:]
        assert set(draws.tolist()) <= {0, 1, 2, 3} and (temperature > 1e30 or set(draws.tolist()) == {0})


def test_sampling_a_model_with_nan_logits_is_an_error():
    m = constant_logits_model(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        m.generate([0], 3, seed=0)


def test_top_k_samples_only_among_the_k_most_likely():
    bias = np.array([2.0, 1.0, 0.0, -1.0, 0.5, 1.5])
    m = constant_logits_model(bias)
    draws = m.generate([0], 5000, top_k=3, seed=1)[1:]
    assert set(draws.tolist()) == {0, 1, 5}
    freq = np.bincount(draws, minlength=6)[[0, 5, 1]] / len(draws)
    p = np.exp([2.0, 1.5, 1.0]) / np.exp([2.0, 1.5, 1.0]).sum()
    assert np.all(np.abs(freq - p) < 0.03)
    assert set(m.generate([0], 500, top_k=100, seed=1)[1:].tolist()) == set(range(6))  # k > V: all


def test_generate_runs_in_eval_mode_and_restores_the_mode():
    m = small(num_layers=2, dropout=0.5)
    m.train()
    a = m.generate([1, 2], 30, greedy=True)
    assert m.training and m.rnn.training
    m.eval()
    assert np.array_equal(a, m.generate([1, 2], 30, greedy=True)) and not m.training


def test_serving_leaves_the_shared_mode_alone_for_a_thread_training_the_model(monkeypatch):
    # generate/evaluate once switched the model to eval mode and back: a thread training the same model meanwhile
    # ran its forwards without dropout. Now the serving thread alone runs as in eval mode.
    import threading
    from swiftrnn import models
    m = small(num_layers=2, dropout=0.5)
    m.train()
    seen_by_trainer = []
    sample = models._native.sample

    def spy(*args):  # between tokens of a generation, another thread looks at the model
        t = threading.Thread(target=lambda: seen_by_trainer.append((m.training, m.rnn.training,
                                                                    m.rnn._training_now())))
        t.start()
        t.join()
        return sample(*args)
    monkeypatch.setattr(models._native, "sample", spy)
    m.generate([1, 2], 5, greedy=True)
    assert seen_by_trainer == [(True, True, True)] * 5


@pytest.mark.parametrize("kw, exc, match", [
    ({"prompt_ids": []}, ValueError, "empty"),
    ({"prompt_ids": [12]}, IndexError, "12 is out of range"),
    ({"prompt_ids": [-1]}, IndexError, "-1"),
    ({"prompt_ids": [[1, 2]]}, ValueError, "1-d"),
    ({"prompt_ids": [1.0]}, TypeError, "integer"),
    ({"max_new_tokens": -1}, ValueError, "max_new_tokens"),
    ({"temperature": 0}, ValueError, "greedy=True"),
    ({"temperature": float("nan")}, ValueError, "temperature"),
    ({"top_k": 0}, ValueError, "top_k"),
    ({"seed": 1.5}, ValueError, "seed"),
    ({"seed": -1}, ValueError, "seed must be an integer >= 0"),  # not NumPy's bare message
])
def test_generate_validates_arguments(kw, exc, match):
    args = {"prompt_ids": [1], "max_new_tokens": 3, **kw}
    with pytest.raises(exc, match=match):
        small().generate(**args)


# --- evaluate ---------------------------------------------------------------------------------

def test_evaluate_streams_the_whole_sequence():
    m = small()
    ids = np.random.default_rng(2).integers(0, 12, size=2500)  # more than one internal chunk
    logits, _ = m(ids[None, :-1])
    expected = -log_softmax64(logits[0])[np.arange(2499), ids[1:]].mean()
    assert math.isclose(m.evaluate(ids), expected, rel_tol=1e-5)
    assert math.isclose(m.perplexity(ids), math.exp(expected), rel_tol=1e-5)


def test_evaluate_with_seq_len_uses_independent_windows():
    m = small()
    ids = np.random.default_rng(3).integers(0, 12, size=100)
    total = 0.0
    for s in range(0, 99, 10):  # windows of up to 10 predictions from a zero state; the last has 9
        w = ids[s:s + 11]
        logits, _ = m(w[None, :-1])
        total += -log_softmax64(logits[0])[np.arange(len(w) - 1), w[1:]].sum()
    assert math.isclose(m.evaluate(ids, seq_len=10, batch_size=4), total / 99, rel_tol=1e-5)


def test_evaluate_untrained_is_near_log_vocab_and_validates():
    m = small()
    ids = np.random.default_rng(4).integers(0, 12, size=300)
    assert abs(m.evaluate(ids) - math.log(12)) < 0.5
    with pytest.raises(ValueError, match="at least 2"):
        m.evaluate([1])
    with pytest.raises(IndexError):
        m.evaluate([1, 99])


# --- save / load ------------------------------------------------------------------------------

def test_save_load_roundtrip(tmp_path):
    m = small(num_layers=2, nonlinearity="relu")
    vocab = Vocab.build([chr(0x4e00 + i) for i in range(12)])
    m.save(tmp_path / "model", vocab=vocab, tokenizer="char")
    assert sorted(os.listdir(tmp_path / "model")) == ["config.json", "vocab.json", "weights.npz"]
    r = RNNLanguageModel.load(tmp_path / "model")
    assert r.config == m.config and r.vocab == vocab and r.tokenizer == "char"
    for (k, a), (k2, b) in zip(m.state_dict().items(), r.state_dict().items()):
        assert k == k2 and np.array_equal(a, b)
    ids = np.array([[1, 2, 3]])
    assert np.array_equal(m(ids)[0], r(ids)[0])


def test_weights_are_a_plain_npz_of_the_state_dict(tmp_path):
    m = small()
    m.save(tmp_path)
    with np.load(tmp_path / "weights.npz", allow_pickle=False) as z:
        assert list(z.files) == list(m.state_dict())
        assert all(z[k].dtype == np.float32 for k in z.files)
    cfg = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    assert cfg["config"] == m.config and cfg["tokenizer"] is None and "vocab.json" not in cfg["files"]
    assert RNNLanguageModel.load(tmp_path).vocab is None


def test_save_overwrites_atomically_without_temporary_files(tmp_path):
    small().save(tmp_path)
    m = small(vocab_size=20)
    m.save(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "weights.npz"]
    assert RNNLanguageModel.load(tmp_path).vocab_size == 20


def test_a_stale_vocab_file_is_ignored(tmp_path):
    small().save(tmp_path, vocab=Vocab.build([str(i) for i in range(12)]))
    small().save(tmp_path)  # no vocab this time: config no longer lists vocab.json
    assert RNNLanguageModel.load(tmp_path).vocab is None


def test_save_validates_vocab_and_tokenizer(tmp_path):
    m = small()
    with pytest.raises(ValueError, match="vocab has 3 tokens"):
        m.save(tmp_path, vocab=Vocab.build(list("abc")))
    with pytest.raises(ValueError, match="tokenizer"):
        m.save(tmp_path, tokenizer="bpe")


def saved(tmp_path, **kw):
    small().save(tmp_path, vocab=Vocab.build([str(i) for i in range(12)]), tokenizer="whitespace", **kw)
    return tmp_path


def edit_config(path, fn, checksum=True):
    """A hand edit of config.json; with ``checksum`` its checksum is updated (the edit is consistent, so the
    checks behind the checksum are reached)."""
    from swiftrnn.models import _config_checksum
    cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
    fn(cfg)
    if checksum:
        cfg["checksum"] = _config_checksum(cfg)
    (path / "config.json").write_text(json.dumps(cfg), encoding="utf-8")


def write_weights(path, state):
    buf = io.BytesIO()
    np.savez(buf, **state)
    (path / "weights.npz").write_bytes(buf.getvalue())
    edit_config(path, lambda c: c["files"].pop("weights.npz"))  # a hand-made file: no hash to check


def test_load_missing_directory_or_config(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model directory"):
        RNNLanguageModel.load(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="config.json"):
        RNNLanguageModel.load(tmp_path)
    saved(tmp_path)
    os.remove(tmp_path / "weights.npz")
    with pytest.raises(FileNotFoundError, match="weights.npz"):
        RNNLanguageModel.load(tmp_path)


@pytest.mark.parametrize("corrupt, match", [
    (lambda p: (p / "config.json").write_bytes(b"{oops"), "not UTF-8 JSON"),
    (lambda p: edit_config(p, lambda c: c.update(format="other")), "format"),
    (lambda p: edit_config(p, lambda c: c.update(version=2)), "version"),
    (lambda p: edit_config(p, lambda c: c["config"].update(hidden_size=-3)), "invalid config"),
    (lambda p: edit_config(p, lambda c: c["config"].pop("num_layers")), "missing"),
    (lambda p: edit_config(p, lambda c: c["config"].update(extra=1)), "unexpected"),
    (lambda p: edit_config(p, lambda c: c.update(tokenizer="bpe")), "tokenizer"),
    (lambda p: (p / "weights.npz").write_bytes((p / "weights.npz").read_bytes()[:-100]), "SHA-256"),
    (lambda p: (p / "vocab.json").write_text("{}", encoding="utf-8"), "SHA-256"),
    (lambda p: write_weights(p, {}), "more than this .*-byte file can hold"),
    (lambda p: write_weights(p, {**small().state_dict(), "x": np.zeros(1, np.float32)}), "holds 8 arrays, the config.s model has 7 parameters"),
    (lambda p: write_weights(p, {**{k: v for k, v in small().state_dict().items() if k != "fc.bias"},
                                 "fc.bias2": np.zeros(12, np.float32)}),
     r"missing key\(s\) \['fc.bias'\], unexpected key\(s\) \['fc.bias2'\]"),
    (lambda p: write_weights(p, {**small().state_dict(), "fc.bias": np.zeros(13, np.float32)}), "size mismatch"),
    (lambda p: write_weights(p, {**small().state_dict(), "fc.bias": np.full(12, np.nan, np.float32)}), "NaN"),
    (lambda p: write_weights(p, {**small().state_dict(), "fc.bias": np.zeros(12, np.int64)}), "dtype"),
    (lambda p: ((p / "weights.npz").write_bytes(b"not a zip"),
                edit_config(p, lambda c: c["files"].pop("weights.npz"))), "npz"),
])
def test_load_rejects_corrupt_directories_with_a_clear_value_error(tmp_path, corrupt, match):
    saved(tmp_path)
    corrupt(tmp_path)
    with pytest.raises(ValueError, match=match):
        RNNLanguageModel.load(tmp_path)


def test_load_rejects_a_vocab_of_the_wrong_size(tmp_path):
    saved(tmp_path)
    Vocab.build(list("abc")).save(tmp_path / "vocab.json")
    edit_config(tmp_path, lambda c: c["files"].pop("vocab.json") and c["files"].update({"vocab.json": None}))
    with pytest.raises(ValueError, match="has 3 tokens but vocab_size is 12"):
        RNNLanguageModel.load(tmp_path)


# --- PyTorch interoperability (live) ----------------------------------------------------------

def torch_module(config):
    torch = pytest.importorskip("torch")
    scope = {}
    exec(TORCH_EQUIVALENT, scope)
    torch.manual_seed(0)
    return torch, scope["TorchRNNLanguageModel"](**config)


@pytest.mark.parametrize("kw", [{}, {"num_layers": 2, "nonlinearity": "relu"}])
def test_saved_weights_load_into_the_pytorch_equivalent(tmp_path, kw):
    m = small(vocab_size=30, **kw)
    m.save(tmp_path)
    torch, tm = torch_module(json.loads((tmp_path / "config.json").read_text())["config"])
    with np.load(tmp_path / "weights.npz") as z:
        result = tm.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files})
    assert not result.missing_keys and not result.unexpected_keys
    ids = np.random.default_rng(0).integers(0, 30, size=(4, 9))
    with torch.no_grad():
        t_logits, t_h = tm(torch.from_numpy(ids))
    logits, h = m(ids)
    assert_close("logits vs torch", logits, t_logits.numpy())
    assert_close("h vs torch", h, t_h.numpy())


def test_same_seed_same_initial_weights_as_pytorch():
    torch = pytest.importorskip("torch")
    swiftrnn.manual_seed(123)
    m = RNNLanguageModel(40, embedding_dim=8, hidden_size=16, num_layers=2)
    scope = {}
    exec(TORCH_EQUIVALENT, scope)
    torch.manual_seed(123)
    tm = scope["TorchRNNLanguageModel"](40, embedding_dim=8, hidden_size=16, num_layers=2)
    for k, v in tm.state_dict().items():
        assert_close(k, m.state_dict()[k], v.numpy(), rtol=0, atol=0)


def test_pytorch_weights_load_into_the_swiftrnn_model():
    m = small(vocab_size=30)
    torch, tm = torch_module(m.config)
    m.load_state_dict(tm.state_dict())
    ids = np.array([[3, 1, 4, 1, 5]])
    with torch.no_grad():
        ref = tm(torch.from_numpy(ids))[0].numpy()
    assert_close("logits", m(ids)[0], ref)


# --- fit (needs the training API) -------------------------------------------------------------

def corpus_ids():
    tokens = tokenize(builtin_corpus(), "char")
    vocab = Vocab.build(tokens)
    return vocab, vocab.encode(tokens)


def test_fit_lowers_the_loss_and_returns_one_loss_per_step():
    vocab, ids = corpus_ids()
    m = small(vocab_size=len(vocab), embedding_dim=16, hidden_size=64)
    before = m.evaluate(ids, seq_len=32)
    losses = m.fit(ids, steps=60, seq_len=32, batch_size=8, lr=1e-2, progress=False)
    assert len(losses) == 60 and all(isinstance(x, float) for x in losses)
    assert np.mean(losses[-10:]) < losses[0] - 1.0
    assert m.evaluate(ids, seq_len=32) < before - 1.0


def test_fit_is_reproducible_with_a_seed():
    _, ids = corpus_ids()
    runs = []
    for _ in range(2):
        m = small(vocab_size=int(ids.max()) + 1)
        runs.append((m.fit(ids, steps=5, seq_len=16, batch_size=4, progress=False), m.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert all(np.array_equal(a, b) for a, b in zip(runs[0][1].values(), runs[1][1].values()))
    m = small(vocab_size=int(ids.max()) + 1)
    assert m.fit(ids, steps=5, seq_len=16, batch_size=4, progress=False, seed=1) != runs[0][0]


def test_fit_epochs_visit_every_window_once_per_epoch():
    ids = np.arange(101) % 12
    m = small()
    losses = m.fit(ids, epochs=2, seq_len=10, batch_size=3, progress=False)
    assert len(losses) == 2 * 4  # 100 predictions -> 10 windows -> 4 batches (3, 3, 3, 1) per epoch
    assert len(small().fit(ids, seq_len=10, batch_size=3, progress=False)) == 4  # default: one epoch


def test_fit_time_limit_stops_early():
    ids = np.arange(200) % 12
    losses = small().fit(ids, steps=10_000, seq_len=8, progress=False, time_limit=0.05)
    assert 1 <= len(losses) < 10_000


def test_fit_restores_the_mode():
    m = small()
    m.eval()
    m.fit(np.arange(40) % 12, steps=2, seq_len=8, batch_size=2, progress=False)
    assert not m.training and not m.rnn.training


@pytest.mark.parametrize("kw, exc, match", [
    ({"steps": 2, "epochs": 1}, ValueError, "not both"),
    ({"steps": 0}, ValueError, "steps"),
    ({"seq_len": 100}, ValueError, "at least seq_len \\+ 1 = 101"),
    ({"lr": 0}, ValueError, "lr"),
    ({"clip": -1}, ValueError, "clip"),
    ({"time_limit": 0}, ValueError, "time_limit"),
    ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
    ({"ids": [1, 2, 99] * 30}, IndexError, "99"),
])
def test_fit_validates_arguments(kw, exc, match):
    args = {"ids": np.arange(60) % 12, "steps": 1, "seq_len": 8, "progress": False, **kw}
    with pytest.raises(exc, match=match):
        small().fit(**args)


def test_progress_a_bar_on_a_terminal_and_plain_lines_elsewhere(monkeypatch, capsys):
    ids = np.arange(60) % 12
    small().fit(ids, steps=3, seq_len=8, progress=True)          # stderr is captured: not a TTY
    err = capsys.readouterr().err
    assert err.startswith("step 3/3") and "\r" not in err and err.count("\n") == 1   # the final line (log_every 10 s)
    small().fit(ids, steps=3, seq_len=8, progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    small().fit(ids, steps=3, seq_len=8, progress=False)
    assert capsys.readouterr().err == ""
    small().fit(ids, steps=3, seq_len=8, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss" in err and "tok/s" in err and err.endswith("\n") and "\r" in err


def test_fit_matches_the_same_recipe_in_pytorch():
    """Same initial weights, same windows, Adam + clipping: the per-step losses follow PyTorch's."""
    torch = pytest.importorskip("torch")
    _, ids = corpus_ids()
    V = int(ids.max()) + 1
    m = small(vocab_size=V, embedding_dim=16, hidden_size=32)
    _, tm = torch_module(m.config)
    tm.load_state_dict({k: torch.from_numpy(v) for k, v in m.state_dict().items()})
    steps, L, N, seed = 12, 16, 4, 5
    losses = m.fit(ids, steps=steps, seq_len=L, batch_size=N, lr=3e-3, clip=1.0, seed=seed, progress=False)
    opt = torch.optim.Adam(tm.parameters(), lr=3e-3)
    rng = np.random.default_rng(seed)
    ref = []
    for _ in range(steps):
        w = ids[rng.integers(0, len(ids) - L, size=N)[:, None] + np.arange(L + 1)]
        logits, _ = tm(torch.from_numpy(w[:, :-1]))
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.from_numpy(w[:, 1:]).reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tm.parameters(), 1.0)
        opt.step()
        ref.append(loss.item())
    assert_close("per-step losses", np.array(losses), np.array(ref), rtol=1e-3, atol=1e-4)
    for k, v in tm.state_dict().items():
        assert_close(k, m.state_dict()[k], v.numpy(), rtol=1e-3, atol=1e-4)


# --- serving keeps nothing per thread ---------------------------------------------------------

def test_generate_and_evaluate_run_in_eval_mode_without_gradients():
    import swiftrnn
    m = small(num_layers=2, dropout=0.5)
    m.train()
    seen = []
    for sub in (m.embedding, m.rnn, m.fc):
        def spy(*args, _sub=sub, _forward=sub.forward, **kwargs):
            seen.append((type(_sub).__name__, _sub._training_now(), _sub._records(), swiftrnn.is_grad_enabled()))
            return _forward(*args, **kwargs)
        sub.forward = spy
    m.generate([1, 2], 5, seed=0)
    m.evaluate(np.arange(12), seq_len=4)
    m.evaluate(np.arange(12))
    assert seen and {s[0] for s in seen} == {"Embedding", "RNN", "Linear"}
    assert all(not training and not records and not grad for _, training, records, grad in seen), seen
    assert m.training and m.rnn.training and swiftrnn.is_grad_enabled()  # never changed, grad mode restored
    train_loss = m.evaluate(np.arange(12), seq_len=4)
    m.eval()
    assert m.evaluate(np.arange(12), seq_len=4) == train_loss  # no dropout while evaluating a training-mode model
    m.train()
    with pytest.raises(RuntimeError, match="nothing to work from"):  # nothing was kept for a backward
        m.rnn.backward(np.zeros((1, 12, 8), np.float32))
