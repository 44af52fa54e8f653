"""python -m swiftrnn: train, generate, demo, info — and one-line errors without tracebacks."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import swiftrnn
from swiftrnn.__main__ import demo, main
from swiftrnn.models import RNNLanguageModel
from swiftrnn.text import Vocab, builtin_corpus, tokenize

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(swiftrnn.__file__)))


def run(argv, capsys):
    """main(argv) in-process: (exit status, stdout, stderr); argparse's SystemExit becomes a status."""
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *fragments, code=1):
    assert status == code, err
    assert err.count("\n") == 1 and err.endswith("\n"), repr(err)
    assert "error:" in err and "Traceback" not in err
    for f in fragments:
        assert f in err, (f, err)


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(builtin_corpus(), encoding="utf-8")
    return path


@pytest.fixture
def model_dir(tmp_path):
    """A (untrained) model saved with a char vocabulary of the built-in corpus, as `train` saves it."""
    tokens = tokenize(builtin_corpus(), "char")
    vocab = Vocab.build(tokens)
    swiftrnn.manual_seed(0)
    RNNLanguageModel(len(vocab), embedding_dim=8, hidden_size=16).save(tmp_path / "m", vocab=vocab, tokenizer="char")
    return tmp_path / "m"


# --- train: errors ----------------------------------------------------------------------------

def test_train_missing_corpus(tmp_path, capsys):
    status, _, err = run(["train", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "m")], capsys)
    assert_one_line_error(status, err, "not found", "nope.txt")


def test_train_corpus_is_a_directory(tmp_path, capsys):
    status, _, err = run(["train", str(tmp_path), "--out", str(tmp_path / "m")], capsys)
    assert_one_line_error(status, err, "is a directory")


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"])
def test_train_empty_corpus(tmp_path, capsys, content):
    (tmp_path / "c.txt").write_bytes(content)
    status, _, err = run(["train", str(tmp_path / "c.txt"), "--out", str(tmp_path / "m")], capsys)
    assert_one_line_error(status, err, "empty")
    assert not (tmp_path / "m").exists()


def test_train_corpus_not_utf8(tmp_path, capsys):
    (tmp_path / "c.txt").write_bytes("道可道".encode("gbk"))
    status, _, err = run(["train", str(tmp_path / "c.txt"), "--out", str(tmp_path / "m")], capsys)
    assert_one_line_error(status, err, "not UTF-8")


def test_train_unknown_tokenizer(corpus, tmp_path, capsys):
    status, _, err = run(["train", str(corpus), "--tokenizer", "bpe", "--out", str(tmp_path / "m")], capsys)
    assert_one_line_error(status, err, "unknown tokenizer 'bpe'", "char, jieba, whitespace", code=2)


def test_train_jieba_not_installed(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "jieba", None)
    status, _, err = run(["train", str(corpus), "--tokenizer", "jieba", "--out", str(tmp_path / "m")], capsys)
    assert_one_line_error(status, err, "pip install 'swiftrnn[jieba]'")


def test_train_corpus_shorter_than_a_window(tmp_path, capsys):
    (tmp_path / "c.txt").write_text("道可道", encoding="utf-8")
    status, _, err = run(["train", str(tmp_path / "c.txt"), "--out", str(tmp_path / "m")], capsys)
    assert_one_line_error(status, err, "--seq-len 64 needs at least 65")


@pytest.mark.parametrize("extra, fragment", [
    (["--steps", "0"], "--steps"), (["--steps", "x"], "integer"), (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"), (["--steps", "3", "--epochs", "2"], "not allowed"), (["--dropout", "2"], "--dropout"),
    (["--seed", "-1"], "--seed: expected an integer >= 0"),
])
def test_train_bad_options(corpus, tmp_path, capsys, extra, fragment):
    status, _, err = run(["train", str(corpus), "--out", str(tmp_path / "m"), *extra], capsys)
    assert_one_line_error(status, err, fragment, code=2)


def test_train_requires_out(corpus, capsys):
    status, _, err = run(["train", str(corpus)], capsys)
    assert_one_line_error(status, err, "--out", code=2)


# --- generate ---------------------------------------------------------------------------------

def test_generate_prints_prompt_and_continuation(model_dir, capsys):
    status, out, err = run(["generate", str(model_dir), "--prompt", "上善若水", "--length", "30", "--greedy"], capsys)
    assert status == 0, err
    assert out.endswith("\n")
    text = out[:-1]
    assert text.startswith("上善若水") and len(text) == 34
    model = RNNLanguageModel.load(model_dir)
    ids = model.generate(model.vocab.encode(list("上善若水")), 30, greedy=True)
    assert out == "".join(model.vocab.decode(ids)) + "\n"


def test_generate_sampling_is_reproducible_with_a_seed(model_dir, capsys):
    argv = ["generate", str(model_dir), "--prompt", "道", "--length", "50", "--temperature", "0.7",
            "--top-k", "5", "--seed", "3"]
    first = run(argv, capsys)
    assert first[0] == 0 and first == run(argv, capsys)


def test_generate_prompt_with_unknown_tokens(model_dir, capsys):
    status, _, err = run(["generate", str(model_dir), "--prompt", "道可道ABC", "--length", "5"], capsys)
    assert_one_line_error(status, err, "3 token(s) not in the model's vocabulary", "'A', 'B', 'C'")


def test_generate_empty_prompt(model_dir, capsys):
    status, _, err = run(["generate", str(model_dir), "--prompt", "", "--length", "5"], capsys)
    assert_one_line_error(status, err, "--prompt is empty")


def test_generate_missing_or_invalid_model(tmp_path, model_dir, capsys):
    status, _, err = run(["generate", str(tmp_path / "nope"), "--prompt", "道"], capsys)
    assert_one_line_error(status, err, "no model directory")
    status, _, err = run(["generate", str(tmp_path), "--prompt", "道"], capsys)
    assert_one_line_error(status, err, "config.json", "not a saved swiftrnn model")
    (model_dir / "weights.npz").write_bytes(b"garbage")
    status, _, err = run(["generate", str(model_dir), "--prompt", "道"], capsys)
    assert_one_line_error(status, err, "weights.npz", "SHA-256")


def test_generate_model_without_vocab(tmp_path, capsys):
    RNNLanguageModel(5, embedding_dim=4, hidden_size=4).save(tmp_path)
    status, _, err = run(["generate", str(tmp_path), "--prompt", "a"], capsys)
    assert_one_line_error(status, err, "no vocabulary")


def test_generate_bad_options(model_dir, capsys):
    for extra in (["--temperature", "0"], ["--top-k", "0"], ["--length", "-1"], ["--seed", "-1"]):
        status, _, err = run(["generate", str(model_dir), "--prompt", "道", *extra], capsys)
        assert_one_line_error(status, err, extra[0], code=2)


# --- the process: exit status and stderr, no traceback ----------------------------------------

def test_errors_in_a_real_process_have_no_traceback(tmp_path):
    env = {**os.environ, "PYTHONPATH": PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for argv in (["train", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "m")],
                 ["generate", str(tmp_path / "missing"), "--prompt", "x"],
                 ["train", str(tmp_path), "--tokenizer", "nope", "--out", "m"]):
        p = subprocess.run([sys.executable, "-m", "swiftrnn", *argv], capture_output=True, text=True, env=env)
        assert p.returncode != 0 and p.stdout == ""
        assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr, p.stderr


def test_help_and_info(capsys):
    status, out, _ = run(["--help"], capsys)
    assert status == 0 and "train" in out and "generate" in out and "demo" in out
    status, out, _ = run(["info"], capsys)
    assert status == 0 and out.startswith(f"swiftrnn {swiftrnn.__version__}")
    assert re.search(r"^fma peak \d+\.\d GFLOP/s", out, re.M), out


# --- demo and train end to end ----------------------------------------------------------------

def test_demo_prints_the_tutorial_examples(capsys):
    options = np.get_printoptions()
    demo(train_steps=3)
    assert np.get_printoptions() == options
    out = capsys.readouterr().out
    assert "output: (5, 32, 256)" in out and "hn:     (1, 32, 256)" in out
    assert "Embedding(" in out and "== 4. Training" in out and "Dao De Jing" in out
    assert "3 Adam steps" in out and "greedy  '上善':" in out


def test_train_then_generate(corpus, tmp_path, capsys):
    out_dir = tmp_path / "model"
    argv = ["train", str(corpus), "--out", str(out_dir), "--steps", "40", "--seq-len", "32", "--batch-size", "8",
            "--embedding-dim", "16", "--hidden-size", "64", "--lr", "1e-2", "--seed", "1", "--quiet"]
    status, out, err = run(argv, capsys)
    assert status == 0, err
    assert "vocabulary" in out and "trained 40 steps" in out and "saved to" in out and err == ""
    assert sorted(os.listdir(out_dir)) == ["config.json", "metrics.jsonl", "optimizer.npz", "training.json", "vocab.json",
                                        "weights.npz"]
    model = RNNLanguageModel.load(out_dir)
    assert model.tokenizer == "char" and model.hidden_size == 64 and len(model.vocab) == len(set(builtin_corpus()))
    status, gen, err = run(["generate", str(out_dir), "--prompt", "上善", "--length", "20", "--greedy"], capsys)
    assert status == 0 and gen.startswith("上善") and len(gen) == 22 + 1
    # the same seed trains the same model
    run(argv[:3] + [str(tmp_path / "again")] + argv[4:], capsys)
    assert (tmp_path / "again" / "weights.npz").read_bytes() == (out_dir / "weights.npz").read_bytes()


def test_train_whitespace_tokenizer_and_epochs(tmp_path, capsys):
    words = " ".join(["the cat sat on the mat", "a dog ran in the park"] * 40)
    (tmp_path / "c.txt").write_text(words, encoding="utf-8")
    status, out, err = run(["train", str(tmp_path / "c.txt"), "--tokenizer", "whitespace", "--out",
                            str(tmp_path / "m"), "--epochs", "2", "--seq-len", "8", "--hidden-size", "16",
                            "--embedding-dim", "8", "--quiet"], capsys)
    assert status == 0, err
    status, gen, err = run(["generate", str(tmp_path / "m"), "--prompt", "the cat", "--length", "4", "--greedy"],
                           capsys)
    assert status == 0 and gen.startswith("the cat ") and len(gen.split()) == 6


def test_train_and_generate_with_jieba_words(corpus, tmp_path, capsys):
    jieba = pytest.importorskip("jieba")
    status, out, err = run(["train", str(corpus), "--tokenizer", "jieba", "--out", str(tmp_path / "m"), "--steps", "5",
                            "--seq-len", "16", "--batch-size", "4", "--embedding-dim", "8", "--hidden-size", "16",
                            "--quiet"], capsys)
    assert status == 0, err
    model = RNNLanguageModel.load(tmp_path / "m")
    assert model.tokenizer == "jieba" and model.vocab.itos == list(dict.fromkeys(jieba.lcut(builtin_corpus())))
    status, gen, err = run(["generate", str(tmp_path / "m"), "--prompt", "上善若水", "--length", "3", "--greedy"],
                           capsys)
    assert status == 0, err
    assert gen.startswith("上善若水")
    prompt_ids = model.vocab.encode(jieba.lcut("上善若水"))
    assert gen == "".join(model.vocab.decode(model.generate(prompt_ids, 3, greedy=True))) + "\n"


# --- train: a diverged model replaces nothing ---------------------------------------------------

def test_save_refuses_non_finite_weights_naming_the_parameter(tmp_path):
    m = RNNLanguageModel(5, embedding_dim=3, hidden_size=4)
    m.save(tmp_path / "m")
    before = (tmp_path / "m" / "weights.npz").read_bytes()
    for bad in (np.nan, np.inf, -np.inf):
        m.rnn.weight_hh_l0[1, 2] = bad
        with pytest.raises(ValueError, match=r"rnn\.weight_hh_l0 contains NaN or infinite"):
            m.save(tmp_path / "m")
        with pytest.raises(ValueError, match="weight_hh_l0"):
            m.save(tmp_path / "new")
    assert (tmp_path / "m" / "weights.npz").read_bytes() == before
    assert not (tmp_path / "new").exists()


def test_train_that_diverges_fails_and_keeps_the_existing_model(tmp_path, capsys, corpus, model_dir):
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    status, out, err = run(["train", str(corpus), "--out", str(model_dir), "--overwrite", "--steps", "3", "--lr", "1e38",
                            "--clip", "0", "--embedding-dim", "4", "--hidden-size", "8", "--quiet"], capsys)
    assert_one_line_error(status, err, "diverged", "--lr", "nothing was saved")
    assert "saved to" not in out
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before


# --- train: --out is checked before training -----------------------------------------------------

@pytest.mark.parametrize("make_out, fragment", [
    (lambda tmp: (tmp / "f").write_text("x") and tmp / "f", "not a directory"),
    (lambda tmp: tmp / "no" / "such" / "dir", "no such parent directory"),
    (lambda tmp: ((tmp / "d").mkdir(), (tmp / "d" / "mine.txt").write_text("x")) and tmp / "d", "mine.txt"),
])
def test_train_checks_out_before_training(tmp_path, capsys, corpus, monkeypatch, make_out, fragment):
    out_dir = make_out(tmp_path)
    monkeypatch.setattr(RNNLanguageModel, "fit", lambda *a, **k: pytest.fail("trained before checking --out"))
    status, out, err = run(["train", str(corpus), "--out", str(out_dir), "--steps", "1", "--quiet"], capsys)
    assert_one_line_error(status, err, fragment, os.path.basename(str(out_dir)))
    assert out == ""


def test_train_checks_that_out_is_writable_before_training(tmp_path, capsys, corpus, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if os.fspath(p) == str(tmp_path) else real_access(p, mode))
    monkeypatch.setattr(RNNLanguageModel, "fit", lambda *a, **k: pytest.fail("trained before checking --out"))
    status, out, err = run(["train", str(corpus), "--out", str(tmp_path / "m"), "--steps", "1", "--quiet"], capsys)
    assert_one_line_error(status, err, "cannot create", str(tmp_path))
    assert out == ""


def test_generate_serves_in_eval_mode_without_gradients(model_dir, capsys, monkeypatch):
    seen = []
    real = RNNLanguageModel.generate

    def spy(self, *args, **kwargs):
        seen.append((self.training, swiftrnn.is_grad_enabled()))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RNNLanguageModel, "generate", spy)
    status, out, err = run(["generate", str(model_dir), "--prompt", "道", "--length", "3", "--seed", "0"], capsys)
    assert status == 0, err
    assert seen == [(False, False)]


# --- sizes beyond this machine: one line, no traceback ---------------------------------------------

def test_generate_a_length_beyond_memory_is_one_line(model_dir, capsys):
    status, _, err = run(["generate", str(model_dir), "--prompt", "道", "--length", str(10**14)], capsys)
    assert_one_line_error(status, err, "out of memory")


@pytest.mark.parametrize("flags", [["--embedding-dim", str(10**9)], ["--layers", str(10**7)],
                                   ["--layers", str(10**7), "--hidden-size", "1", "--embedding-dim", "1"]])
def test_train_sizes_beyond_memory_are_one_line(tmp_path, capsys, corpus, monkeypatch, flags):
    from swiftrnn.nn.modules import _checks
    monkeypatch.setattr(_checks, "_memory_bytes", lambda: 8 << 30)  # an 8 GiB machine, whatever this one has
    monkeypatch.setattr(RNNLanguageModel, "fit", lambda *a, **k: pytest.fail("built a model beyond memory"))
    status, _, err = run(["train", str(corpus), "--out", str(tmp_path / "m"), "--quiet", *flags], capsys)
    assert_one_line_error(status, err, "out of memory", "more than this machine's memory")
    assert not (tmp_path / "m").exists()


def test_version_top_p_and_contradictory_sampling_flags(tmp_path):
    """--version prints the version; generate takes --top-p; --greedy with a sampling setting is an error
    instead of silently ignoring it."""
    import subprocess
    import sys
    import swiftrnn
    run = lambda *a: subprocess.run([sys.executable, "-m", "swiftrnn", *a], capture_output=True, text=True)  # noqa: E731
    v = run("--version")
    assert v.returncode == 0 and v.stdout.strip() == f"python -m swiftrnn {swiftrnn.__version__}"
    corpus = tmp_path / "c.txt"
    corpus.write_text("abcabcabd " * 30, encoding="utf-8")
    assert run("train", str(corpus), "--out", str(tmp_path / "m"), "--steps", "3", "--quiet",
               "--hidden-size", "8", "--embedding-dim", "4").returncode == 0
    ok = run("generate", str(tmp_path / "m"), "--prompt", "ab", "--length", "5", "--top-p", "0.9", "--seed", "1")
    assert ok.returncode == 0, ok.stderr
    bad = run("generate", str(tmp_path / "m"), "--prompt", "ab", "--greedy", "--temperature", "0.5")
    assert bad.returncode == 1 and "--greedy" in bad.stderr and "--temperature would be ignored" in bad.stderr
    assert run("generate", str(tmp_path / "m"), "--prompt", "ab", "--top-p", "1.5").returncode == 2


def test_export_writes_onnx_or_says_how_to_install_it(tmp_path):
    import importlib.util
    import subprocess
    import sys
    run = lambda *a: subprocess.run([sys.executable, "-m", "swiftrnn", *a], capture_output=True, text=True)  # noqa: E731
    corpus = tmp_path / "c.txt"
    corpus.write_text("abcabcabd " * 30, encoding="utf-8")
    assert run("train", str(corpus), "--out", str(tmp_path / "m"), "--steps", "2", "--quiet",
               "--hidden-size", "8", "--embedding-dim", "4").returncode == 0
    result = run("export", str(tmp_path / "m"), str(tmp_path / "m.onnx"))
    if importlib.util.find_spec("onnx") is None:
        assert result.returncode == 1 and "pip install 'swiftrnn[onnx]'" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "m.onnx").stat().st_size > 0


def test_progress_lines_without_a_terminal_and_evaluate(tmp_path):
    """Under a pipe (no terminal) train reports progress as plain lines (it printed nothing until the end);
    evaluate prints the loss and perplexity of a text."""
    import math
    import subprocess
    import sys
    run = lambda *a: subprocess.run([sys.executable, "-m", "swiftrnn", *a], capture_output=True, text=True)  # noqa: E731
    corpus = tmp_path / "c.txt"
    corpus.write_text("abcabcabd " * 30, encoding="utf-8")
    t = run("train", str(corpus), "--out", str(tmp_path / "m"), "--steps", "40", "--hidden-size", "8",
            "--embedding-dim", "4", "--log-every", "0.000001")
    assert t.returncode == 0, t.stderr
    lines = [line for line in t.stderr.splitlines() if line.startswith("step ")]
    assert len(lines) >= 2 and lines[-1].startswith("step 40/40") and "tok/s" in lines[-1] and "\r" not in t.stderr
    e = run("evaluate", str(tmp_path / "m"), str(corpus))
    assert e.returncode == 0, e.stderr
    loss, ppl = float(e.stdout.split()[1]), float(e.stdout.split()[3])
    assert 0 < loss < math.log(5) and abs(ppl - math.exp(loss)) < 0.01 * ppl
    missing = run("evaluate", str(tmp_path / "m"), str(tmp_path / "nope.txt"))
    assert missing.returncode == 1 and "No such file" in missing.stderr
