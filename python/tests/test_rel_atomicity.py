"""Reliability: failures change nothing; each sequence's result is independent of the rest of its batch.

(Random junk for load_state_dict and calls is in test_fuzz.py; these are the targeted cases.)
"""
from __future__ import annotations

import numpy as np
import pytest

from swiftrnn import nn

F = nn.functional


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(10, 4, max_norm=1.0)
        self.rnn = nn.RNN(4, 8, num_layers=2, batch_first=True)
        self.fc = nn.Linear(8, 10)

    def forward(self, ids):
        out, _ = self.rnn(self.embedding(ids))
        return self.fc(out)


def state(m):
    return {k: v.copy() for k, v in m.state_dict().items()}


def assert_state(m, before):
    after = m.state_dict()
    assert list(after) == list(before)
    for k, v in before.items():
        np.testing.assert_array_equal(after[k], v, err_msg=f"{k} changed")


@pytest.mark.parametrize("break_key,bad", [
    ("fc.bias", np.zeros(3)),                    # last parameter: shape
    ("fc.weight", "junk"),                       # type
    ("rnn.weight_hh_l1", np.zeros((8, 8), complex)),
    ("embedding.weight", [[1.0] * 4] * 9 + [[1.0] * 3]),  # ragged list
])
def test_nested_load_state_dict_failure_changes_no_submodule(break_key, bad):
    net, src = Net(), Net()
    before = state(net)
    sd = {k: v + 1 for k, v in src.state_dict().items()}
    sd[break_key] = bad
    with pytest.raises(RuntimeError, match=break_key.replace(".", r"\.")):
        net.load_state_dict(sd)
    assert_state(net, before)


def test_load_state_dict_does_not_alias_the_source():
    lin = nn.Linear(3, 2)
    w = np.ones((2, 3), np.float32)
    lin.load_state_dict({"weight": w, "bias": np.zeros(2, np.float32)})
    w[...] = 7
    assert (lin.weight == 1).all()
    sd = lin.state_dict()
    sd["weight"][...] = 5
    assert (lin.weight == 1).all()


def test_failed_max_norm_lookup_renormalises_nothing():
    emb = nn.Embedding(6, 3, max_norm=0.5)
    emb.load_state_dict({"weight": np.full((6, 3), 10.0)})
    before = emb.weight.copy()
    for bad in ([0, 1, 6], [[0, 1], [2, -1]], np.array([2**63 - 1, 0], np.int64)):
        with pytest.raises(IndexError):
            emb(bad)
        np.testing.assert_array_equal(emb.weight, before)


def test_failed_calls_leave_inputs_and_state_untouched():
    rnn = nn.RNN(3, 4, num_layers=2, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    x_before = x.copy()
    before = state(rnn)
    for h0 in (np.zeros((4, 3, 4), np.float32), np.zeros((2, 2, 4), np.float32), "h0", np.zeros((4, 2, 4), complex)):
        with pytest.raises((ValueError, TypeError)):
            rnn(x, h0)
    np.testing.assert_array_equal(x, x_before)
    assert_state(rnn, before)


def test_parameter_assignment_failure_keeps_the_old_array():
    rnn = nn.RNN(3, 4)
    old = rnn.weight_ih_l0
    with pytest.raises(ValueError):
        rnn.weight_ih_l0 = np.zeros((4, 4))
    assert rnn.weight_ih_l0 is old
    out_before = rnn(np.ones((2, 1, 3)))
    np.testing.assert_array_equal(rnn(np.ones((2, 1, 3)))[0], out_before[0])


# ---------------------------------------------------------------------------------------------------
# Batch invariance: a sequence's output is bit-identical whatever else is in the batch
# ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cfg", [
    dict(input_size=7, hidden_size=13),
    dict(input_size=16, hidden_size=32, num_layers=2, bidirectional=True),
    dict(input_size=5, hidden_size=64, nonlinearity="relu", bias=False),
    dict(input_size=8, hidden_size=24, batch_first=True, num_layers=2),
])
def test_rnn_batch_invariance(cfg):
    rng = np.random.default_rng(1)
    rnn = nn.RNN(**cfg)
    D = 2 if cfg.get("bidirectional") else 1
    L, I, H, NL = 6, cfg["input_size"], cfg["hidden_size"], cfg.get("num_layers", 1)
    probe = rng.standard_normal((L, I)).astype(np.float32)
    probe_h0 = rng.standard_normal((D * NL, H)).astype(np.float32)
    alone_out, alone_hn = rnn(probe, probe_h0)  # unbatched
    bf = cfg.get("batch_first", False)
    for N in (1, 2, 3, 7, 16, 33):
        for pos in {0, N // 2, N - 1}:
            x = rng.standard_normal((L, N, I)).astype(np.float32)
            h0 = rng.standard_normal((D * NL, N, H)).astype(np.float32)
            x[:, pos], h0[:, pos] = probe, probe_h0
            out, hn = rnn(x.transpose(1, 0, 2) if bf else x, h0)
            got = out[pos] if bf else out[:, pos]
            np.testing.assert_array_equal(got, alone_out, err_msg=f"output, batch {N}, position {pos}")
            np.testing.assert_array_equal(hn[:, pos], alone_hn, err_msg=f"hn, batch {N}, position {pos}")


@pytest.mark.parametrize("in_f,out_f", [(7, 5), (64, 33), (128, 256)])
def test_linear_row_invariance(in_f, out_f):
    rng = np.random.default_rng(2)
    lin = nn.Linear(in_f, out_f)
    row = rng.standard_normal(in_f).astype(np.float32)
    alone = lin(row)
    for m in (1, 2, 5, 6, 7, 13, 64, 100):
        x = rng.standard_normal((m, in_f)).astype(np.float32)
        pos = m - 1 - (m // 3)
        x[pos] = row
        np.testing.assert_array_equal(lin(x)[pos], alone, err_msg=f"{m} rows, row {pos}")


def test_softmax_row_invariance():
    rng = np.random.default_rng(3)
    row = rng.standard_normal(37).astype(np.float32) * 10
    alone = F.softmax(row, dim=0)
    for m in (1, 3, 8, 31):
        x = rng.standard_normal((m, 37)).astype(np.float32)
        x[m // 2] = row
        np.testing.assert_array_equal(F.softmax(x, dim=1)[m // 2], alone)
        np.testing.assert_array_equal(F.softmax(x.T.copy(), dim=0)[:, m // 2], alone)


# ---------------------------------------------------------------------------------------------------
# Saves: a save interrupted at any file never loads as a mixed model
# ---------------------------------------------------------------------------------------------------

def _two_models():
    from swiftrnn.models import RNNLanguageModel
    from swiftrnn.text import Vocab

    vocab = Vocab.build(list("abcd"))
    old = RNNLanguageModel(len(vocab), embedding_dim=3, hidden_size=4)
    new = RNNLanguageModel(len(vocab), embedding_dim=5, hidden_size=6, num_layers=2)
    return vocab, old, new


def _assert_same_model(loaded, model):
    assert loaded.config == model.config
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v, err_msg=k)


def _listing(directory):
    import os
    return sorted(os.listdir(directory))


# Every write of a save fails in turn (a full disk), then the final swap: the old model stays, whole.
@pytest.mark.parametrize("fail_at", [0, 1, 2, "swap"])
def test_failed_save_leaves_the_old_model_whole(tmp_path, monkeypatch, fail_at):
    import errno
    import os

    from swiftrnn import _io
    from swiftrnn.models import RNNLanguageModel

    vocab, old, new = _two_models()
    target = tmp_path / "model"
    old.save(target, vocab=vocab, tokenizer="char")
    before = {name: (target / name).read_bytes() for name in _listing(target)}
    writes = []
    real_write = _io._write_file

    def full_disk(path, data, mode=None):
        if len(writes) == fail_at:
            real_write(path, data[:len(data) // 2], mode)  # part of it reached the disk
            raise OSError(errno.ENOSPC, "No space left on device (simulated)", path)
        writes.append(path)
        real_write(path, data, mode)

    monkeypatch.setattr(_io, "_write_file", full_disk)
    if fail_at == "swap":
        monkeypatch.setattr(_io, "_exchange", lambda a, b: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OSError):
        new.save(target, vocab=vocab, tokenizer="whitespace")
    monkeypatch.undo()
    assert _listing(tmp_path) == ["model"], "temporary directories left behind"
    assert {name: (target / name).read_bytes() for name in _listing(target)} == before
    loaded = RNNLanguageModel.load(target)
    _assert_same_model(loaded, old)
    assert loaded.tokenizer == "char" and loaded.vocab == vocab


def test_lone_surrogate_token_saves_and_loads(tmp_path):
    from swiftrnn.models import RNNLanguageModel
    from swiftrnn.text import Vocab

    vocab = Vocab(["a", "\ud800", "\udfff", "道"])  # a lone surrogate: valid in JSON, not encodable as UTF-8
    m = RNNLanguageModel(len(vocab), embedding_dim=3, hidden_size=4)
    m.save(tmp_path / "m", vocab=vocab)
    loaded = RNNLanguageModel.load(tmp_path / "m")
    assert loaded.vocab == vocab
    vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json") == vocab
    plain = Vocab(["a", "道"])
    plain.save(tmp_path / "p.json")
    assert "道" in (tmp_path / "p.json").read_text(encoding="utf-8")  # readable when it can be


def test_save_refuses_a_directory_with_other_files(tmp_path):
    from swiftrnn.models import RNNLanguageModel

    (tmp_path / "notes.txt").write_text("mine")
    m = RNNLanguageModel(4, embedding_dim=3, hidden_size=4)
    with pytest.raises(FileExistsError, match="notes.txt"):
        m.save(tmp_path)
    assert _listing(tmp_path) == ["notes.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError):
        m.save(tmp_path / "file")
    with pytest.raises(FileNotFoundError):
        m.save(tmp_path / "no" / "such" / "parent")


def _reader(directory, stop, results):
    from swiftrnn.models import RNNLanguageModel
    while not stop.is_set():
        try:
            results.append(RNNLanguageModel.load(directory).config)
        except Exception as e:  # noqa: BLE001 - every failure is counted
            results.append(e)


@pytest.mark.parametrize("exchange", [True, False], ids=["atomic-swap", "no-swap-fallback"])
def test_concurrent_loads_during_resaves_always_get_a_whole_model(tmp_path, monkeypatch, exchange):
    import threading

    from swiftrnn import _io

    if not exchange:  # where the atomic swap is unavailable: loads may find no directory for an instant
        monkeypatch.setattr(_io, "_exchange", lambda a, b: False)
    vocab, old, new = _two_models()
    target = tmp_path / "model"
    old.save(target, vocab=vocab)
    stop, results = threading.Event(), []
    readers = [threading.Thread(target=_reader, args=(target, stop, results)) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for i in range(30):
            (new if i % 2 == 0 else old).save(target, vocab=vocab)
    finally:
        stop.set()
        for t in readers:
            t.join()
    failures = [r for r in results if isinstance(r, Exception)]
    if not exchange:
        failures = [e for e in failures if not (isinstance(e, FileNotFoundError) and "no model directory" in str(e))]
    assert not failures, f"{len(failures)} of {len(results)} loads failed, e.g. {failures[0]!r}"
    configs = [r for r in results if not isinstance(r, Exception)]
    assert configs and {c["hidden_size"] for c in configs} <= {4, 6}
    assert _listing(tmp_path) == ["model"]


def test_vocab_save_is_atomic(tmp_path, monkeypatch):
    import os

    from swiftrnn.text import Vocab

    path = tmp_path / "vocab.json"
    Vocab.build(list("abc")).save(path)
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("I/O error (simulated)")))
    with pytest.raises(OSError):
        Vocab.build(list("xyz")).save(path)
    monkeypatch.undo()
    assert Vocab.load(path) == Vocab.build(list("abc"))
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]


def test_saved_files_honour_the_umask_and_a_resave_keeps_permissions(tmp_path):
    import os
    import stat

    from swiftrnn.models import RNNLanguageModel
    from swiftrnn.text import Vocab

    def mode(p):
        return stat.S_IMODE(os.stat(p).st_mode)

    vocab, old, new = _two_models()
    previous = os.umask(0o022)
    try:
        old.save(tmp_path / "m", vocab=vocab)
        vocab.save(tmp_path / "v.json")
    finally:
        os.umask(previous)
    assert mode(tmp_path / "m") == 0o755
    assert {name: mode(tmp_path / "m" / name) for name in _listing(tmp_path / "m")} == {
        "config.json": 0o644, "vocab.json": 0o644, "weights.npz": 0o644}
    assert mode(tmp_path / "v.json") == 0o644
    os.chmod(tmp_path / "m", 0o775)
    os.chmod(tmp_path / "m" / "weights.npz", 0o664)
    os.chmod(tmp_path / "v.json", 0o666)
    previous = os.umask(0o077)  # a stricter umask later narrows nothing that exists
    try:
        new.save(tmp_path / "m", vocab=vocab)
        Vocab.build(list("xyz")).save(tmp_path / "v.json")
    finally:
        os.umask(previous)
    assert mode(tmp_path / "m") == 0o775 and mode(tmp_path / "m" / "weights.npz") == 0o664
    assert mode(tmp_path / "m" / "config.json") == 0o644
    assert mode(tmp_path / "v.json") == 0o666
    _assert_same_model(RNNLanguageModel.load(tmp_path / "m"), new)


def test_saving_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    import os

    from swiftrnn.models import RNNLanguageModel

    vocab, old, new = _two_models()
    old.save(tmp_path / "v1", vocab=vocab)
    os.symlink("v1", tmp_path / "current")
    new.save(tmp_path / "current", vocab=vocab)
    assert os.path.islink(tmp_path / "current") and os.readlink(tmp_path / "current") == "v1"
    _assert_same_model(RNNLanguageModel.load(tmp_path / "v1"), new)
    assert _listing(tmp_path) == ["current", "v1"]
