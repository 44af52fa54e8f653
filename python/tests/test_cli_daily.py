"""`train` as a daily tool: a signal saves the run so far, checkpoints, --resume (bit for bit), --init-from,
--overwrite; and the training state that save/load carry for them."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from swiftrnn import nn
from swiftrnn.__main__ import main
from swiftrnn.models import RNNLanguageModel, _config_checksum

SMALL = ["--embedding-dim", "4", "--hidden-size", "8", "--seq-len", "8", "--batch-size", "4"]


def run(argv, capsys):
    try:
        status = main([str(a) for a in argv])
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat. the dog sat on the log. " * 20, encoding="utf-8")
    return path


def weights(directory):
    with np.load(os.path.join(directory, "weights.npz")) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("sig, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_train_saves_the_model_so_far(tmp_path, corpus, sig, status):
    out = tmp_path / "m"
    p = subprocess.Popen([sys.executable, "-m", "swiftrnn", "train", str(corpus), "--out", str(out), "--steps",
                          "1000000", "--log-every", "0.000001", *SMALL], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline()
        while line and not line.startswith("step "):
            line = p.stderr.readline()
        assert line.startswith("step "), "no progress line before the process ended"
        p.send_signal(sig)
        stdout, stderr = p.communicate(timeout=120)
    finally:
        p.kill()
        p.wait()
    last = stderr.splitlines()[-1]
    assert p.returncode == status, stderr[-2000:]
    assert last.startswith("python -m swiftrnn train: interrupted by " + signal.Signals(sig).name), last
    assert f"--resume {out}" in last and "Traceback" not in stderr
    model = RNNLanguageModel.load(out)
    step = model.training_state["step"]
    assert 1 <= step < 1000000 and f"at step {step}:" in last
    assert model.vocab is not None and model.tokenizer == "char"


def test_checkpoint_every_saves_atomically_and_an_error_keeps_the_last_one(tmp_path, corpus, capsys, monkeypatch):
    out = tmp_path / "m"
    saved_steps = []
    real_save = RNNLanguageModel.save
    monkeypatch.setattr(RNNLanguageModel, "save",
                        lambda self, *a, **k: (saved_steps.append(self.training_state["step"]), real_save(self, *a, **k)))
    status, _, err = run(["train", corpus, "--out", out, "--steps", "7", "--checkpoint-every", "3", "--quiet", *SMALL],
                         capsys)
    assert status == 0, err
    assert saved_steps == [3, 6, 7]

    calls = []
    real_clip = nn.utils.clip_grad_norm_

    def clip_failing_at_step_6(*a, **k):
        calls.append(1)
        if len(calls) == 6:
            raise ValueError("a failure at step 6")
        return real_clip(*a, **k)

    monkeypatch.setattr(nn.utils, "clip_grad_norm_", clip_failing_at_step_6)
    status, _, err = run(["train", corpus, "--out", out, "--overwrite", "--steps", "9", "--checkpoint-every", "2",
                          "--quiet", *SMALL], capsys)
    assert status == 1 and "a failure at step 6" in err
    assert RNNLanguageModel.load(out).training_state["step"] == 4  # the last good checkpoint
    assert sorted(os.listdir(tmp_path)) == ["corpus.txt", "m"]  # no temporary directory left behind


def test_checkpoint_minutes_saves_when_the_time_has_come(tmp_path, corpus, capsys, monkeypatch):
    import swiftrnn.models as models
    clock = [1000.0]
    monkeypatch.setattr(models.time, "perf_counter", lambda: clock[0])
    calls = []

    def checkpoint(m):
        calls.append(m.training_state["step"])

    def advance():  # each step takes 25 seconds on this clock
        clock[0] += 25.0
        return False

    model = RNNLanguageModel(20, embedding_dim=4, hidden_size=8)
    ids = np.arange(200) % 20
    model.fit(ids, steps=10, seq_len=8, batch_size=2, progress=False, checkpoint_minutes=1.0,
              checkpoint=checkpoint, should_stop=advance)
    # step k ends 25 (k - 1) s after the start (the clock moves after each step): due at 75 s, 150 s, ...
    assert calls == [4, 7]  # (step 10 is the last: the caller saves it, not a checkpoint)
    calls.clear()
    model.fit(ids, steps=10, seq_len=8, batch_size=2, progress=False, checkpoint_minutes=1.0, checkpoint_every=3,
              checkpoint=checkpoint, should_stop=advance)
    assert calls == [3, 6, 9]  # every 3 steps; the minutes never run out between two of them
    for bad in (0, -1.0, float("inf"), float("nan"), True):
        with pytest.raises(ValueError, match="checkpoint_minutes must be a positive finite number"):
            model.fit(ids, steps=1, seq_len=8, progress=False, checkpoint_minutes=bad, checkpoint=checkpoint)
    with pytest.raises(ValueError, match="need a checkpoint callable"):
        model.fit(ids, steps=1, seq_len=8, progress=False, checkpoint_minutes=1.0)
    monkeypatch.undo()
    out = tmp_path / "m"
    saved_steps = []
    real_save = RNNLanguageModel.save
    monkeypatch.setattr(RNNLanguageModel, "save",
                        lambda self, *a, **k: (saved_steps.append(self.training_state["step"]), real_save(self, *a, **k)))
    status, _, err = run(["train", corpus, "--out", out, "--steps", "5", "--checkpoint-minutes", "1e-9", "--quiet",
                          *SMALL], capsys)
    assert status == 0, err
    assert saved_steps == [1, 2, 3, 4, 5]  # every step is past a nanominute
    status, _, err = run(["train", corpus, "--out", out, "--overwrite", "--checkpoint-minutes", "0"], capsys)
    assert status == 2 and "--checkpoint-minutes" in err


@pytest.mark.parametrize("flags", [[], ["--cell", "lstm", "--layers", "2", "--dropout", "0.3"]])
def test_resume_equals_an_uninterrupted_run_bit_for_bit(tmp_path, corpus, capsys, flags):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(["train", corpus, "--out", a, "--steps", "12", "--quiet", *SMALL, *flags], capsys)[0] == 0
    assert run(["train", corpus, "--out", b, "--steps", "6", "--quiet", *SMALL, *flags], capsys)[0] == 0
    first_half = weights(b)
    status, out, err = run(["train", corpus, "--out", b, "--resume", b, "--steps", "12", "--quiet"], capsys)
    assert status == 0, err
    assert "resuming" in out and "trained 6 steps" in out
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys() and all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert not all(np.array_equal(wa[k], first_half[k]) for k in wa)
    assert RNNLanguageModel.load(b).training_state["step"] == 12


def test_resume_keeps_the_runs_validation_schedule_unless_given_again(tmp_path, corpus, capsys):
    val = ["--val-fraction", "0.2", "--eval-every", "2", "--patience", "50"]
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(["train", corpus, "--out", a, "--steps", "8", "--quiet", *SMALL, *val], capsys)[0] == 0
    assert run(["train", corpus, "--out", b, "--steps", "4", "--quiet", *SMALL, *val], capsys)[0] == 0
    status, _, err = run(["train", corpus, "--out", b, "--resume", b, "--steps", "8", "--quiet"], capsys)
    assert status == 0, err
    ma, mb = RNNLanguageModel.load(a), RNNLanguageModel.load(b)
    assert [r["step"] for r in mb.metrics if "val_loss" in r] == [2, 4, 6, 8]
    assert mb.metrics == [dict(r, wall_time=s["wall_time"], tokens_per_s=s["tokens_per_s"])
                          for r, s in zip(ma.metrics, mb.metrics)]
    assert mb.training_state["settings"]["patience"] == 50 and mb.training_state["settings"]["eval_every"] == 2
    status, _, err = run(["train", corpus, "--out", b, "--resume", b, "--steps", "12", "--eval-every", "4",
                          "--quiet"], capsys)  # a new schedule for the steps to come
    assert status == 0, err
    mb = RNNLanguageModel.load(b)
    assert [r["step"] for r in mb.metrics if "val_loss" in r] == [2, 4, 6, 8, 12]
    assert mb.training_state["settings"]["eval_every"] == 4 and mb.training_state["settings"]["patience"] == 50


def test_resume_refuses_a_different_corpus_or_settings_and_a_model_without_a_run(tmp_path, corpus, capsys):
    m = tmp_path / "m"
    assert run(["train", corpus, "--out", m, "--steps", "3", "--quiet", *SMALL], capsys)[0] == 0
    other = tmp_path / "other.txt"
    other.write_text(corpus.read_text(encoding="utf-8")[:-5], encoding="utf-8")
    status, _, err = run(["train", other, "--out", m, "--resume", m, "--steps", "6", "--quiet"], capsys)
    assert status == 1 and "differ from it" in err and "ids" in err
    status, _, err = run(["train", corpus, "--out", m, "--resume", m, "--steps", "6", "--lr", "0.1", "--quiet"], capsys)
    assert status == 1 and "lr" in err
    plain = tmp_path / "plain"
    RNNLanguageModel.load(m).save(plain)  # a loaded model keeps its training state ...
    model = RNNLanguageModel.load(m)
    model.training_state = None  # ... unless it is dropped
    model.save(plain)
    status, _, err = run(["train", corpus, "--out", tmp_path / "n", "--resume", plain, "--quiet"], capsys)
    assert status == 1 and "no training state" in err and "--init-from" in err


@pytest.mark.parametrize("start", ["--resume", "--init-from"])
def test_architecture_flags_that_differ_from_a_saved_model_are_refused(tmp_path, corpus, capsys, start):
    m = tmp_path / "m"
    assert run(["train", corpus, "--out", m, "--steps", "3", "--quiet", "--cell", "gru", *SMALL], capsys)[0] == 0
    out = m if start == "--resume" else tmp_path / "n"
    for flags, said in ((["--hidden-size", "16"], "--hidden-size 16 differs from the model's (8)"),
                        (["--cell", "lstm"], "--cell lstm differs from the model's (gru)"),
                        (["--layers", "2"], "--layers 2 differs from the model's (1)"),
                        (["--dropout", "0.5"], "--dropout 0.5 differs from the model's (0.0)")):
        status, _, err = run(["train", corpus, "--out", out, start, m, "--steps", "6", "--quiet", *flags], capsys)
        assert status == 1 and said in err and f"{start} keeps the saved architecture" in err, err
    status, _, err = run(["train", corpus, "--out", out, start, m, "--steps", "6", "--quiet", "--cell", "gru",
                          "--hidden-size", "8", "--embedding-dim", "4"], capsys)  # the same architecture is fine
    assert status == 0, err
    assert RNNLanguageModel.load(out).config["cell"] == "gru"


def test_init_from_fine_tunes_with_the_models_vocabulary(tmp_path, corpus, capsys):
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    assert run(["train", corpus, "--out", base, "--steps", "3", "--quiet", *SMALL], capsys)[0] == 0
    new_text = tmp_path / "new.txt"
    new_text.write_text("the mat sat on the cat. " * 10, encoding="utf-8")
    status, out, err = run(["train", new_text, "--out", tuned, "--init-from", base, "--steps", "3", "--quiet",
                            "--seq-len", "8"], capsys)
    assert status == 0, err
    assert f"(from {base})" in out
    a, b = RNNLanguageModel.load(base), RNNLanguageModel.load(tuned)
    assert a.vocab.to_dict() == b.vocab.to_dict() and a.config == b.config
    assert not np.array_equal(weights(base)["fc.weight"], weights(tuned)["fc.weight"])
    assert b.training_state["step"] == 3  # a fresh run, not the base's
    unseen = tmp_path / "unseen.txt"
    unseen.write_text("the quick brown fox jumps. " * 10, encoding="utf-8")
    status, _, err = run(["train", unseen, "--out", tmp_path / "x", "--init-from", base, "--quiet"], capsys)
    assert status == 1 and "not in the vocabulary" in err and "'q'" in err and "'x'" in err
    assert not (tmp_path / "x").exists()


def test_an_existing_model_at_out_needs_overwrite(tmp_path, corpus, capsys, monkeypatch):
    m = tmp_path / "m"
    assert run(["train", corpus, "--out", m, "--steps", "2", "--quiet", *SMALL], capsys)[0] == 0
    before = weights(m)
    monkeypatch.setattr(RNNLanguageModel, "fit", lambda *a, **k: pytest.fail("trained before checking --out"))
    status, out, err = run(["train", corpus, "--out", m, "--steps", "2", "--quiet", *SMALL], capsys)
    assert status == 1 and "--overwrite" in err and out == ""
    monkeypatch.undo()
    status, _, err = run(["train", corpus, "--out", m, "--overwrite", "--steps", "2", "--seed", "1", "--quiet",
                          *SMALL], capsys)
    assert status == 0, err
    assert not np.array_equal(before["fc.weight"], weights(m)["fc.weight"])


def _rewrite(directory, name, data):
    """Replaces one file of a saved model and updates config.json's hash and checksum to match (a consistent
    but hostile directory)."""
    import hashlib
    (directory / name).write_bytes(data)
    meta = json.loads((directory / "config.json").read_text())
    meta["files"][name] = hashlib.sha256(data).hexdigest()
    meta["checksum"] = _config_checksum(meta)
    (directory / "config.json").write_text(json.dumps(meta))


def test_load_checks_the_training_state_as_untrusted_input(tmp_path, corpus, capsys):
    import io
    m = tmp_path / "m"
    assert run(["train", corpus, "--out", m, "--steps", "2", "--quiet", *SMALL], capsys)[0] == 0
    (m / "training.json").write_bytes((m / "training.json").read_bytes().replace(b'"step": 2', b'"step": 3'))
    with pytest.raises(ValueError, match="SHA-256 differs"):
        RNNLanguageModel.load(m)
    training = json.loads((m / "training.json").read_text())
    from swiftrnn.models import _SETTINGS
    assert sorted(training["settings"]) == sorted(_SETTINGS)  # what load requires is what fit writes
    training["step"] = 3
    training["total"] = 2
    _rewrite(m, "training.json", json.dumps(training).encode())
    with pytest.raises(ValueError, match="training.json: not a valid training state .*step 3 of total 2"):
        RNNLanguageModel.load(m)
    training["step"] = 2
    for key, value, fragment in (("global_rng", "00ff", "global_rng"), ("settings", {"seed": 0}, "lacks batch_size")):
        _rewrite(m, "training.json", json.dumps(dict(training, **{key: value})).encode())
        with pytest.raises(ValueError, match=fragment):
            RNNLanguageModel.load(m)
    _rewrite(m, "training.json", json.dumps(training).encode())
    assert RNNLanguageModel.load(m).training_state["step"] == 2
    with np.load(m / "optimizer.npz") as f:
        arrays = {k: f[k] for k in f.files}
    arrays["0.exp_avg"] = np.zeros((2, 2), np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    _rewrite(m, "optimizer.npz", buf.getvalue())
    with pytest.raises(ValueError, match=r"optimizer.npz: .*size mismatch for 0.exp_avg: the file has shape \(2, 2\)"):
        RNNLanguageModel.load(m)


def test_vocab_max_tokens_keeps_the_most_frequent_in_first_seen_order():
    from swiftrnn.text import Vocab
    tokens = list("abcbcdcdd") + ["e"]  # counts: a1 b2 c3 d3 e1
    v = Vocab.build(tokens, specials=("<unk>",), max_tokens=3)
    assert v.itos == ["<unk>", "c", "d"]
    assert list(v.encode(["a", "c", "z"])) == [0, 1, 0]
    assert Vocab.build(tokens, max_tokens=4).itos == ["a", "b", "c", "d"]
    assert Vocab.build(tokens, min_freq=2, max_tokens=10).itos == ["b", "c", "d"]
    with pytest.raises(ValueError, match="max_tokens"):
        Vocab.build(tokens, specials=("<unk>", "<pad>"), max_tokens=1)


def test_min_freq_and_max_vocab_give_an_unk_token_used_for_unseen_prompt_words(tmp_path, capsys):
    corpus = tmp_path / "words.txt"
    corpus.write_text("the cat sat on the mat and the dog sat on the log " * 8 + "zebra", encoding="utf-8")
    m = tmp_path / "m"
    status, out, err = run(["train", corpus, "--tokenizer", "whitespace", "--out", m, "--min-freq", "2", "--steps",
                            "3", "--quiet", *SMALL], capsys)
    assert status == 0, err
    vocab = RNNLanguageModel.load(m).vocab
    assert vocab.itos[0] == "<unk>" and vocab.unk_index == 0 and "zebra" not in vocab and "the" in vocab
    status, out, err = run(["generate", m, "--prompt", "the zebra and a unicorn", "--length", "3", "--greedy"], capsys)
    assert status == 0, err
    assert err.startswith("warning: the prompt has 3 token(s) not in the model's vocabulary, read as <unk>: "
                          "'zebra', 'a', 'unicorn'")
    assert out.startswith("the <unk> and <unk> <unk>")
    text = tmp_path / "eval.txt"
    text.write_text("the cat met a zebra", encoding="utf-8")
    status, out, err = run(["evaluate", m, text], capsys)
    assert status == 0 and out.startswith("loss ")
    assert err == "warning: the text has 3 token(s) not in the model's vocabulary, read as <unk>: 'met', 'a', 'zebra'\n"
    m2 = tmp_path / "m2"
    assert run(["train", corpus, "--tokenizer", "whitespace", "--out", m2, "--max-vocab", "4", "--steps", "3",
                "--quiet", *SMALL], capsys)[0] == 0
    assert RNNLanguageModel.load(m2).vocab.itos == ["<unk>", "the", "sat", "on"]
    status, _, err = run(["train", corpus, "--out", tmp_path / "m3", "--init-from", m, "--min-freq", "2"], capsys)
    assert status == 1 and "model's vocabulary is used" in err


def test_metrics_jsonl_records_every_step_and_a_resume_continues_it(tmp_path, corpus, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run(["train", corpus, "--out", a, "--steps", "6", "--quiet", *SMALL], capsys)[0] == 0
    assert run(["train", corpus, "--out", b, "--steps", "3", "--quiet", *SMALL], capsys)[0] == 0
    assert run(["train", corpus, "--out", b, "--resume", b, "--steps", "6", "--quiet"], capsys)[0] == 0
    ra = [json.loads(line) for line in (a / "metrics.jsonl").read_text().splitlines()]
    rb = [json.loads(line) for line in (b / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in ra] == [r["step"] for r in rb] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in ra] == [r["loss"] for r in rb]  # the resumed run's losses, exactly
    assert set(ra[0]) == {"step", "loss", "lr", "tokens_per_s", "wall_time"}
    assert all(r["lr"] == 3e-3 and r["tokens_per_s"] > 0 for r in rb)
    assert all(x["wall_time"] <= y["wall_time"] for x, y in zip(rb, rb[1:]))
    assert RNNLanguageModel.load(b).metrics == rb
    for bad in (b'{"step": 1, "wall_time": "x"}\n', b'["step"]\n'):  # consistent hashes, bad records
        with pytest.raises(ValueError, match="metrics.jsonl line 1: expected a JSON object"):
            _rewrite(b, "metrics.jsonl", bad)
            RNNLanguageModel.load(b)
    (b / "metrics.jsonl").write_text("")  # a changed file is refused
    with pytest.raises(ValueError, match="metrics.jsonl: SHA-256 differs"):
        RNNLanguageModel.load(b)


def test_progress_of_a_resumed_run_estimates_from_its_own_steps(capsys, monkeypatch):
    from swiftrnn import models
    clock = iter([100.0, 102.0])  # the start, then one step later: 2 s for the one step run so far
    monkeypatch.setattr(models.time, "perf_counter", lambda: next(clock))
    bar = models._Progress(total=10, enabled=True, log_every=0.0, first=5)
    bar.update(6, 1.0, 32)
    err = capsys.readouterr().err
    assert err.startswith("step 6/10 ") and "eta 8s" in err  # 4 steps left at 2 s each, not at 2 s / 6 steps


def test_init_from_takes_the_models_tokenizer_and_refuses_another(tmp_path, corpus, capsys):
    base = tmp_path / "base"
    assert run(["train", corpus, "--out", base, "--tokenizer", "whitespace", "--steps", "2", "--quiet", *SMALL],
               capsys)[0] == 0
    status, out, err = run(["train", corpus, "--out", tmp_path / "t", "--init-from", base, "--steps", "2", "--quiet",
                            "--seq-len", "4"], capsys)
    assert status == 0, err
    assert "tokens (whitespace)" in out and RNNLanguageModel.load(tmp_path / "t").tokenizer == "whitespace"
    status, _, err = run(["train", corpus, "--out", tmp_path / "u", "--init-from", base, "--tokenizer", "char",
                          "--quiet"], capsys)
    assert status == 1 and "--tokenizer char differs from the model's (whitespace)" in err


def test_train_runs_in_a_thread_other_than_the_main_one(tmp_path, corpus):
    """Signal handlers can only be set in the main thread: elsewhere (a worker, a notebook's executor) train
    runs without them."""
    import contextlib
    import io
    import threading
    result = {}

    def target():
        with contextlib.redirect_stdout(io.StringIO()):
            result["status"] = main(["train", str(corpus), "--out", str(tmp_path / "m"), "--steps", "2", "--quiet",
                                     *SMALL])
    t = threading.Thread(target=target)
    t.start()
    t.join()
    assert result["status"] == 0 and RNNLanguageModel.load(tmp_path / "m").training_state["step"] == 2


def test_val_fraction_holds_out_the_tail_and_logs_its_loss(tmp_path, corpus, capsys):
    m, r = tmp_path / "m", tmp_path / "r"
    status, out, err = run(["train", corpus, "--out", m, "--steps", "6", "--val-fraction", "0.25", "--eval-every",
                            "2", "--quiet", *SMALL], capsys)
    assert status == 0, err
    n_tokens = len(corpus.read_text(encoding="utf-8"))
    assert f"the last {round(n_tokens * 0.25):,} held out for validation" in out
    records = [json.loads(line) for line in (m / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val_loss" in r] == [2, 4, 6]
    model = RNNLanguageModel.load(m)
    ids = model.vocab.encode(list(corpus.read_text(encoding="utf-8")))
    expected = model.evaluate(ids[-round(n_tokens * 0.25):], seq_len=8)
    assert records[-1]["val_loss"] == expected  # the held-out tail, scored as evaluate does
    assert f"validation loss {expected:.4f}" in out
    assert model.training_state["settings"]["ids"] == n_tokens - round(n_tokens * 0.25)
    # a resumed run holds out the same tail and trains as the uninterrupted one
    assert run(["train", corpus, "--out", r, "--steps", "3", "--val-fraction", "0.25", "--eval-every", "2",
                "--quiet", *SMALL], capsys)[0] == 0
    status, _, err = run(["train", corpus, "--out", r, "--resume", r, "--steps", "6", "--eval-every", "2", "--quiet"],
                         capsys)
    assert status == 0, err
    assert weights(r).keys() == weights(m).keys() and all(np.array_equal(weights(r)[k], weights(m)[k]) for k in weights(m))
    resumed = [json.loads(line) for line in (r / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in resumed if "val_loss" in r] == [2, 3, 4, 6]  # 3: the end of the first part
    status, _, err = run(["train", corpus, "--out", tmp_path / "x", "--eval-every", "2", "--quiet"], capsys)
    assert status == 1 and "--val-fraction" in err


def test_patience_stops_after_validations_without_improvement(tmp_path, corpus, capsys, monkeypatch):
    val_losses = iter([1.0, 0.9, 0.95, 0.91, 0.92, 0.5])
    monkeypatch.setattr(RNNLanguageModel, "evaluate", lambda self, ids, seq_len=None, batch_size=16: next(val_losses))
    status, out, err = run(["train", corpus, "--out", tmp_path / "m", "--steps", "50", "--val-fraction", "0.2",
                            "--eval-every", "2", "--patience", "3", "--quiet", *SMALL], capsys)
    assert status == 0, err
    # validations at steps 2, 4, 6, 8, 10: the best (0.9) at step 4, then three without a lower loss
    assert "stopped early at step 10: no lower validation loss in the last 3 validations" in out
    assert "validation loss 0.9200" in out
    state = RNNLanguageModel.load(tmp_path / "m").training_state
    assert state["step"] == 10 and state["stopped_early"] is True
    status, _, err = run(["train", corpus, "--out", tmp_path / "x", "--val-fraction", "0.2", "--patience", "3"], capsys)
    assert status == 1 and "--eval-every" in err


def test_plot_draws_the_loss_curve_or_says_what_to_install(tmp_path, corpus, capsys, monkeypatch):
    m = tmp_path / "m"
    assert run(["train", corpus, "--out", m, "--steps", "4", "--val-fraction", "0.2", "--eval-every", "2", "--quiet",
                *SMALL], capsys)[0] == 0
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    status, _, err = run(["plot", m], capsys)
    assert status == 1 and "plot needs matplotlib: pip install 'swiftrnn[plot]'" in err
    monkeypatch.undo()
    pytest.importorskip("matplotlib")
    status, out, err = run(["plot", m], capsys)
    assert status == 0, err
    png = tmp_path / "m-loss.png"
    assert out == f"wrote {png}\n" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(m)) == ["config.json", "metrics.jsonl", "optimizer.npz", "training.json", "vocab.json",
                                     "weights.npz"]  # nothing added to the model's directory
    status, out, _ = run(["plot", m, "--output", tmp_path / "c.png"], capsys)
    assert status == 0 and (tmp_path / "c.png").stat().st_size > 1000
    untrained = tmp_path / "u"
    RNNLanguageModel(5, 4, 4).save(untrained)
    status, _, err = run(["plot", untrained], capsys)
    assert status == 1 and "has no metrics.jsonl" in err


def test_generate_prompts_file_with_workers_gives_the_same_lines_as_one_process(tmp_path, corpus, capsys):
    m = tmp_path / "m"
    assert run(["train", corpus, "--out", m, "--steps", "3", "--quiet", *SMALL], capsys)[0] == 0
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("the cat\nthe dog\non the\nsat\nmat\n", encoding="utf-8")
    gen = lambda *a: subprocess.run([sys.executable, "-m", "swiftrnn", "generate", str(m), "--prompts", str(prompts),  # noqa: E731
                                     "--length", "12", *a], capture_output=True, text=True)
    one, three = gen("--seed", "5"), gen("--seed", "5", "--workers", "3")
    assert one.returncode == 0 and three.returncode == 0, one.stderr + three.stderr
    lines = [json.loads(line) for line in one.stdout.splitlines()]
    assert [r["prompt"] for r in lines] == ["the cat", "the dog", "on the", "sat", "mat"]
    assert all(r["output"].startswith(r["prompt"]) and len(r["output"]) == len(r["prompt"]) + 12 for r in lines)
    assert three.stdout == one.stdout
    assert gen("--seed", "6").stdout != one.stdout
    assert gen("--greedy", "--workers", "2").stdout == gen("--greedy").stdout
    status, _, err = run(["generate", m, "--prompt", "the", "--workers", "2"], capsys)
    assert status == 1 and "--prompts" in err
    prompts.write_text("the cat\n\n", encoding="utf-8")
    status, _, err = run(["generate", m, "--prompts", prompts], capsys)
    assert status == 1 and "prompt 2 (line 2 of" in err and "is empty" in err


def test_evaluate_with_workers_prints_what_one_process_prints(tmp_path, corpus, capsys):
    m = tmp_path / "m"
    assert run(["train", corpus, "--out", m, "--steps", "3", "--quiet", *SMALL], capsys)[0] == 0
    text = tmp_path / "t.txt"
    text.write_text(corpus.read_text(encoding="utf-8") * 3 + "the end", encoding="utf-8")  # a tail window too
    ev = lambda *a: subprocess.run([sys.executable, "-m", "swiftrnn", "evaluate", str(m), str(text), *a],  # noqa: E731
                                   capture_output=True, text=True)
    one, three = ev("--seq-len", "7"), ev("--seq-len", "7", "--workers", "3")
    assert one.returncode == 0 and three.returncode == 0, one.stderr + three.stderr
    assert three.stdout == one.stdout and one.stdout.startswith("loss ")
    model = RNNLanguageModel.load(m)
    ids = model.vocab.encode(list(text.read_text(encoding="utf-8")))
    parts = model._window_batches(len(ids), 7, 16)
    pieces = model._window_nll(ids, 7, 16, 0, 2) + model._window_nll(ids, 7, 16, 2, parts)
    total = 0.0
    for t, _ in pieces:
        total += t
    assert total / sum(c for _, c in pieces) == model.evaluate(ids, seq_len=7)  # parts add up exactly
    status, _, err = run(["evaluate", m, text, "--workers", "2"], capsys)
    assert status == 1 and "--seq-len" in err


def _penalised_greedy_reference(model, prompt, n, penalty):
    """The CTRL repetition-penalty rule written out over the modules' own step-by-step forward."""
    from swiftrnn import no_grad
    model.eval()
    ids, h = list(prompt), None
    with no_grad():
        hidden, h = model.rnn(model.embedding(np.array([ids])), h)
        for _ in range(n):
            logits = np.array(model.fc(hidden[0, -1]), dtype=np.float64)
            for t in set(ids):
                logits[t] = logits[t] / penalty if logits[t] > 0 else logits[t] * penalty
            ids.append(int(np.argmax(logits)))
            hidden, h = model.rnn(model.embedding(np.array([[ids[-1]]])), h)
    return ids


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_repetition_penalty_follows_the_ctrl_rule_and_reaches_the_cli(tmp_path, cell, capsys):
    import swiftrnn
    swiftrnn.manual_seed(3)
    model = RNNLanguageModel(12, embedding_dim=6, hidden_size=10, cell=cell)
    prompt = [1, 2, 1]
    plain = model.generate(prompt, 20, greedy=True)
    assert list(model.generate(prompt, 20, greedy=True, repetition_penalty=1.0)) == list(plain)
    for penalty in (1.5, 4.0, 0.5):
        got = model.generate(prompt, 20, greedy=True, repetition_penalty=penalty)
        assert list(got) == _penalised_greedy_reference(model, prompt, 20, penalty), penalty
    assert list(model.generate(prompt, 20, greedy=True, repetition_penalty=4.0)) != list(plain)  # it bites here
    sampled = model.generate(prompt, 30, seed=5, repetition_penalty=2.0)
    assert list(sampled) == list(model.generate(prompt, 30, seed=5, repetition_penalty=2.0))
    for bad in (0, -1.0, float("nan"), float("inf"), True, "2"):
        with pytest.raises(ValueError, match="repetition_penalty must be a positive finite number"):
            model.generate(prompt, 3, repetition_penalty=bad)
    corpus = tmp_path / "c.txt"
    corpus.write_text("abcabcabcabd " * 30, encoding="utf-8")
    m = tmp_path / "m"
    assert run(["train", corpus, "--out", m, "--steps", "20", "--quiet", "--cell", cell, *SMALL], capsys)[0] == 0
    status, out, err = run(["generate", m, "--prompt", "ab", "--length", "8", "--greedy", "--repetition-penalty",
                            "3"], capsys)
    assert status == 0, err
    saved = RNNLanguageModel.load(m)
    expected = saved.generate(saved.vocab.encode(list("ab")), 8, greedy=True, repetition_penalty=3.0)
    assert out == "".join(saved.vocab.decode(expected)) + "\n"
    status, _, err = run(["generate", m, "--prompt", "ab", "--repetition-penalty", "0"], capsys)
    assert status == 2 and "--repetition-penalty" in err
