"""RNNLanguageModel with cell='rnn' | 'lstm' | 'gru': training, scoring, generation, persistence, the CLI's
--cell, and (when torch is importable) the PyTorch equivalent of each."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import assert_close

import swiftrnn
from swiftrnn import nn
from swiftrnn.__main__ import main
from swiftrnn.models import TORCH_EQUIVALENT, RNNLanguageModel, _config_checksum, _expected_shapes
from swiftrnn.text import Vocab, builtin_corpus, tokenize

pytestmark = pytest.mark.filterwarnings("ignore:dropout option adds dropout:UserWarning")
CELLS = ["rnn", "lstm", "gru"]
LAYER = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
IDS = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3, 8, 3, 2, 7] * 4)


def small(cell, vocab_size=10, **kw):
    swiftrnn.manual_seed(1)
    kw.setdefault("embedding_dim", 6)
    kw.setdefault("hidden_size", 12)
    return RNNLanguageModel(vocab_size, cell=cell, **kw)


def log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 3])
def test_structure_state_dict_and_expected_shapes(cell, layers):
    m = small(cell, num_layers=layers)
    assert type(m.rnn) is LAYER[cell] and m.rnn.batch_first and m.rnn.num_layers == layers
    assert m.config["cell"] == cell and RNNLanguageModel(**m.config).config == m.config
    shapes = {k: v.shape for k, v in m.state_dict().items()}
    assert _expected_shapes(10, 6, 12, layers, cell) == shapes
    assert list(_expected_shapes(10, 6, 12, layers, cell)) == list(shapes)
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    assert shapes["rnn.weight_hh_l0"] == (gates * 12, 12)


@pytest.mark.parametrize("kw, match", [({"cell": "transformer"}, "cell must be one of 'rnn', 'lstm', 'gru'"),
                                       ({"cell": ["lstm"]}, "cell must be one of"),
                                       ({"cell": "lstm", "nonlinearity": "relu"}, "nonlinearity applies to cell='rnn'"),
                                       ({"cell": "gru", "nonlinearity": "relu"}, "nonlinearity applies to cell='rnn'")])
def test_constructor_rejects_bad_cells(kw, match):
    with pytest.raises(ValueError, match=match):
        RNNLanguageModel(10, **kw)


def test_lstm_state_is_a_pair_forward_and_backward():
    m = small("lstm", num_layers=2)
    ids = np.random.default_rng(0).integers(0, 10, size=(3, 5))
    m.eval()
    logits, (h, c) = m(ids)
    assert logits.shape == (3, 5, 10) and h.shape == c.shape == (2, 3, 12)
    _, state = m(ids[:, :2])
    logits_rest, (h2, c2) = m(ids[:, 2:], state)  # carrying (h, c) continues the sequence
    assert_close("logits", logits_rest, logits[:, 2:])
    assert_close("c_n", c2, c)
    m.train()
    m(ids)
    grad_h0, grad_c0 = m.backward(np.ones_like(logits), (np.ones_like(h), None))
    assert grad_h0.shape == grad_c0.shape == (2, 3, 12)
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize("cell", CELLS)
def test_fit_lowers_the_loss(cell):
    m = small(cell, num_layers=2, dropout=0.1)
    losses = m.fit(IDS, steps=40, seq_len=12, batch_size=4, lr=0.02, progress=False)
    assert len(losses) == 40 and all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5]), losses
    assert m.training  # fit restores the mode


@pytest.mark.parametrize("cell", CELLS)
def test_evaluate_is_the_cross_entropy_of_one_forward(cell):
    m = small(cell, num_layers=2, dropout=0.5)
    m.fit(IDS, steps=3, seq_len=8, batch_size=2, progress=False)
    m.eval()
    with swiftrnn.no_grad():
        logits, _ = m(IDS[None, :-1])
    expected = -np.mean(log_softmax(logits[0].astype(np.float64))[np.arange(len(IDS) - 1), IDS[1:]])
    m.train()
    assert m.evaluate(IDS) == pytest.approx(expected, rel=1e-5)  # eval mode inside: no dropout
    assert m.training


@pytest.mark.parametrize("cell", CELLS)
def test_greedy_generation_follows_the_full_sequence_forward(cell):
    """Each generated token is the argmax of the one-pass forward over everything before it: the streaming
    path (packed weights for 'rnn', the module's forward per token for 'lstm'/'gru') carries the state right."""
    m = small(cell, num_layers=2, dropout=0.3)
    m.fit(IDS, steps=10, seq_len=8, batch_size=2, progress=False)
    out = m.generate([3, 1, 4], 12, greedy=True)
    assert out.shape == (15,) and list(out[:3]) == [3, 1, 4]
    m.eval()
    with swiftrnn.no_grad():
        logits, _ = m(out[None, :-1])
    np.testing.assert_array_equal(out[3:], logits[0, 2:].argmax(axis=-1))
    m.train()
    with pytest.raises(RuntimeError):  # generation saved nothing for a backward
        m.rnn.backward(np.zeros((1, 1, 12), np.float32))
    sampled = [m.generate([3], 10, temperature=0.9, top_k=4, seed=5) for _ in range(2)]
    np.testing.assert_array_equal(sampled[0], sampled[1])


@pytest.mark.parametrize("cell", CELLS)
def test_save_load_round_trip(tmp_path, cell):
    m = small(cell, num_layers=2)
    m.fit(IDS, steps=3, seq_len=8, batch_size=2, progress=False)
    vocab = Vocab([chr(0x4e00 + i) for i in range(10)])
    m.save(tmp_path / "m", vocab=vocab, tokenizer="char")
    meta = json.loads((tmp_path / "m" / "config.json").read_text())
    assert meta["config"]["cell"] == cell
    loaded = RNNLanguageModel.load(tmp_path / "m")
    assert loaded.cell == cell and type(loaded.rnn) is LAYER[cell] and loaded.config == m.config
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v, err_msg=k)
    np.testing.assert_array_equal(loaded.generate([1, 2], 8, greedy=True), m.generate([1, 2], 8, greedy=True))
    assert loaded.vocab == vocab


def rewrite_config(directory, edit):
    path = directory / "config.json"
    meta = json.loads(path.read_text())
    edit(meta["config"])
    meta["checksum"] = _config_checksum(meta)
    path.write_text(json.dumps(meta))


def test_a_directory_saved_before_cells_loads_as_rnn(tmp_path):
    m = small("rnn", nonlinearity="relu")
    m.save(tmp_path / "old")
    rewrite_config(tmp_path / "old", lambda c: c.pop("cell"))  # config.json as swiftrnn wrote it before
    loaded = RNNLanguageModel.load(tmp_path / "old")
    assert loaded.cell == "rnn" and loaded.nonlinearity == "relu" and type(loaded.rnn) is nn.RNN
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k], v, err_msg=k)


@pytest.mark.parametrize("saved, claimed, hidden, match", [
    ("rnn", "lstm", 30, "more than this"),  # 4x the recurrent weights the file holds: refused before reading
    ("rnn", "lstm", 4, "size mismatch for rnn.weight_ih_l0"),
    ("lstm", "gru", 4, "size mismatch for rnn.weight_ih_l0"),
    ("gru", "rnn", 4, "size mismatch for rnn.weight_ih_l0"),
    ("gru", "cnn", 4, "cell must be one of"),
    ("gru", None, 4, "cell must be one of"),
])
def test_a_config_whose_cell_differs_from_the_weights_is_refused(tmp_path, saved, claimed, hidden, match):
    small(saved, vocab_size=2, embedding_dim=2, hidden_size=hidden).save(tmp_path / "m")
    rewrite_config(tmp_path / "m", lambda c: c.update(cell=claimed))
    with pytest.raises(ValueError, match=match):
        RNNLanguageModel.load(tmp_path / "m")


def test_cli_trains_a_gru_and_generates(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(builtin_corpus(), encoding="utf-8")
    argv = ["train", str(corpus), "--out", str(tmp_path / "m"), "--cell", "gru", "--layers", "2", "--dropout",
            "0.2", "--steps", "5", "--embedding-dim", "8", "--hidden-size", "16", "--seq-len", "16",
            "--batch-size", "2", "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "model: gru, embedding 8, hidden 16, layers 2" in out
    config = json.loads((tmp_path / "m" / "config.json").read_text())["config"]
    assert config["cell"] == "gru" and config["num_layers"] == 2 and config["dropout"] == 0.2
    assert main(["generate", str(tmp_path / "m"), "--prompt", "上善", "--length", "7", "--greedy"]) == 0
    text = capsys.readouterr().out.strip()
    assert text.startswith("上善") and len(text) == 9
    model = RNNLanguageModel.load(tmp_path / "m")
    ids = model.generate(model.vocab.encode(tokenize("上善", "char")), 7, greedy=True)
    assert "".join(model.vocab.decode(ids)) == text


def test_cli_rejects_an_unknown_cell(tmp_path, capsys):
    try:
        status = main(["train", "corpus.txt", "--out", str(tmp_path / "m"), "--cell", "lstmm"])
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err
    assert status == 2 and "--cell" in err and "'lstmm'" in err and err.count("\n") == 1


# --- PyTorch's equivalent (live) --------------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
def test_torch_equivalent_same_init_and_outputs(tmp_path, cell):
    torch = pytest.importorskip("torch")
    scope = {}
    exec(TORCH_EQUIVALENT, scope)
    config = dict(vocab_size=30, embedding_dim=5, hidden_size=7, num_layers=2, cell=cell)
    torch.manual_seed(11)
    tm = scope["TorchRNNLanguageModel"](**config).eval()
    swiftrnn.manual_seed(11)
    m = RNNLanguageModel(**config)
    m.save(tmp_path / "m")
    for k, v in tm.state_dict().items():  # same seed: the same weights, bit for bit
        np.testing.assert_array_equal(m.state_dict()[k], v.numpy(), err_msg=k)
    saved_config = json.loads((tmp_path / "m" / "config.json").read_text())["config"]
    tm2 = scope["TorchRNNLanguageModel"](**saved_config).eval()
    with np.load(tmp_path / "m" / "weights.npz") as z:
        tm2.load_state_dict({k: torch.from_numpy(z[k]) for k in z.files})
    ids = np.random.default_rng(0).integers(0, 30, size=(3, 9))
    with torch.no_grad():
        t_logits, t_h = tm2(torch.from_numpy(ids))
    logits, h = m(ids)
    m.clear_saved()
    assert_close("logits", logits, t_logits.numpy())
    for a, e in zip(h if cell == "lstm" else (h,), t_h if cell == "lstm" else (t_h,)):
        assert_close("h", a, e.numpy())
