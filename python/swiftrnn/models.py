"""Ready-made models built from swiftrnn.nn layers: ``RNNLanguageModel``, a next-token predictor.

The tutorial's pipeline — token ids -> Embedding -> RNN (Elman, LSTM or GRU) -> Linear -> softmax -> next
token, fed back in — as one module that trains (``fit``), scores (``evaluate``), samples (``generate``) and persists
(``save`` / ``load``)::

    from swiftrnn.text import Vocab, tokenize
    from swiftrnn.models import RNNLanguageModel

    tokens = tokenize(text, "char")
    vocab = Vocab.build(tokens)
    ids = vocab.encode(tokens)
    model = RNNLanguageModel(len(vocab))
    losses = model.fit(ids, steps=600)
    out = model.generate(vocab.encode(tokenize("道可", "char")), 50, greedy=True)
    print("".join(vocab.decode(out)))
    model.save("model", vocab=vocab, tokenizer="char")

The saved weights load into the PyTorch module of the same shape (``TORCH_EQUIVALENT`` below).

Serving: ``generate``, ``evaluate`` and ``perplexity`` run as in eval mode under ``swiftrnn.no_grad()``, so
they keep nothing per thread, and they never change the model's mode: another thread may train it meanwhile. Calling the model yourself (``logits, h = model(ids)``) to serve requests,
do the same: ``model.eval()`` once, and each call inside ``with swiftrnn.no_grad():``; a training-mode
forward keeps its activations in the calling thread until a backward.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import math
import numbers
import os
import sys
import time
import zipfile
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from . import _native, nn
from . import random as _random
from .grad_mode import enable_grad, no_grad
from .nn.modules.module import serving_mode
from ._io import json_bytes, parse_json, replace_directory
from .text import TOKENIZERS, Vocab

__all__ = ["RNNLanguageModel", "TORCH_EQUIVALENT"]

#: The PyTorch module a saved RNNLanguageModel loads into (same state_dict keys, shapes and numbers):
#: ``m = TorchRNNLanguageModel(**config); m.load_state_dict({k: torch.from_numpy(v) for k, v in
#: np.load("DIR/weights.npz").items()})``.
TORCH_EQUIVALENT = '''
import torch

class TorchRNNLanguageModel(torch.nn.Module):
    def __init__(self, vocab_size, embedding_dim=64, hidden_size=256, num_layers=1, dropout=0.0,
                 nonlinearity="tanh", cell="rnn"):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, embedding_dim)
        if cell == "rnn":
            self.rnn = torch.nn.RNN(embedding_dim, hidden_size, num_layers, nonlinearity=nonlinearity,
                                    batch_first=True, dropout=dropout)
        else:  # "lstm" or "gru"; h is (h, c) for an LSTM
            self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
                embedding_dim, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.fc = torch.nn.Linear(hidden_size, vocab_size)

    def forward(self, ids, h=None):
        out, h = self.rnn(self.embedding(ids), h)
        return self.fc(out), h
'''

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.npz"
VOCAB_FILE = "vocab.json"
TRAINING_FILE = "training.json"   # the run's state for a resume: step, settings, RNG states, Adam's scalars
OPTIMIZER_FILE = "optimizer.npz"  # Adam's moment arrays, one pair per parameter
METRICS_FILE = "metrics.jsonl"    # one JSON object per training step: step, loss, lr, tokens/s, wall time
_FORMAT = "swiftrnn.RNNLanguageModel"
_VERSION = 1
_MODEL_FILES = (CONFIG_FILE, WEIGHTS_FILE, VOCAB_FILE, TRAINING_FILE, OPTIMIZER_FILE, METRICS_FILE)
# A load that finds its directory swapped by a concurrent save (between opening the directory and one of
# its files) starts again; a directory replaced this many times in a row during one load is an error.
_LOAD_ATTEMPTS = 20


class _DirectoryReplaced(Exception):
    """The model directory was swapped for a new save while being read: read it again."""


def check_model_directory(directory: "os.PathLike[str] | str") -> str:
    """``directory`` as a str if ``save`` may write there: absent (created), empty, or holding only a saved
    model's files (replaced as a whole). Anything else raises: a directory with other files would lose
    them, a file is not a directory. The parent must exist and be writable.

    Raises:
        FileExistsError: a directory holding other files.
        NotADirectoryError: ``directory`` (or its parent) is a file.
        FileNotFoundError: the parent directory does not exist.
        PermissionError: the parent directory is not writable.
    """
    directory = os.fspath(directory)
    if os.path.isdir(directory):
        others = sorted(f for f in os.listdir(directory) if f not in _MODEL_FILES)
        if others:
            shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            raise FileExistsError(errno.EEXIST, f"the directory holds files other than a saved model's ({shown}): "
                                  "saving would replace it as a whole; choose a new or empty directory", directory)
    elif os.path.lexists(directory):
        raise NotADirectoryError(errno.ENOTDIR, "exists and is not a directory", directory)
    parent = os.path.dirname(os.path.abspath(directory))
    if not os.path.isdir(parent):
        raise FileNotFoundError(errno.ENOENT, "no such parent directory", parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, "cannot create or replace a directory in", parent)
    return directory


#: The recurrent layer of each ``cell`` and its gate blocks (rows of W_ih / W_hh per hidden unit).
CELLS = {"rnn": (nn.RNN, 1), "lstm": (nn.LSTM, 4), "gru": (nn.GRU, 3)}


def _cell(cell: Any) -> str:
    if not isinstance(cell, str) or cell not in CELLS:
        raise ValueError(f"cell must be one of {', '.join(map(repr, CELLS))}, got {cell!r}")
    return cell


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _positive_int(x: Any, name: str, minimum: int = 1) -> int:
    if not _is_int(x) or x < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {x!r}")
    return int(x)


def _positive_finite(x: Any, name: str, hint: str = "") -> float:
    """``x`` as a float > 0 and finite (a bool is not a number here); ``hint`` ends the error message."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real) or not 0 < float(x) < math.inf:
        raise ValueError(f"{name} must be a positive finite number, got {x!r}{hint}")
    return float(x)


def _token_ids(ids: Any, name: str, vocab_size: int) -> np.ndarray:
    """``ids`` as a 1-d int64 array with every id in [0, vocab_size)."""
    if hasattr(ids, "detach") and hasattr(ids, "cpu"):  # a torch tensor
        ids = ids.detach().cpu().numpy()
    arr = np.asarray(ids)
    if arr.dtype.kind not in "iu" and arr.size:
        raise TypeError(f"{name} must be integer token ids, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-d sequence of token ids, got shape {arr.shape}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi >= vocab_size:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{name}: token id {bad} is out of range for vocab_size {vocab_size}: "
                             f"valid ids are 0 to {vocab_size - 1}")
    return arr


def _config_checksum(meta: Dict[str, Any]) -> str:
    """SHA-256 of config.json's content without its "checksum" key, in a canonical JSON form: any change
    to a value or key of config.json (a flipped byte in "files" or in a hyperparameter) is detected."""
    content = {k: v for k, v in meta.items() if k != "checksum"}
    return _sha256(json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Progress:
    """Training progress on stderr (step, loss, tokens/s, ETA): on a terminal a one-line bar redrawn at most 10 times
    a second; elsewhere (a pipe, nohup, CI, a notebook) a plain line every `log_every` seconds and at the end."""

    def __init__(self, total: int, enabled: bool, log_every: float = 10.0, first: int = 0) -> None:
        self.total, self.enabled, self.log_every = total, enabled, log_every
        self.first = first  # the step a resumed run starts after: the speed counts the steps of this run
        self.tty = enabled and _isatty(sys.stderr)
        self.start = self.last = time.perf_counter()
        self.drawn = False

    def update(self, step: int, loss: float, tokens: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if step < self.total and now - self.last < (0.1 if self.tty else self.log_every):
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        eta = (self.total - step) * elapsed / (step - self.first) if step > self.first else 0.0
        facts = f"loss {loss:.4f}  {tokens / elapsed:,.0f} tok/s  eta {eta:.0f}s"
        if self.tty:
            width = 24
            filled = int(width * step / self.total)
            sys.stderr.write(f"\r{step:>{len(str(self.total))}}/{self.total} [{'#' * filled}{'.' * (width - filled)}] "
                             f"{facts} ")
            self.drawn = True
        else:
            sys.stderr.write(f"step {step}/{self.total}  {facts}  elapsed {elapsed:.0f}s\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


class RNNLanguageModel(nn.Module):
    """Token ids -> ``nn.Embedding`` -> ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (batch_first) -> ``nn.Linear`` ->
    next-token logits.

    Args:
        vocab_size (int): number of token ids (rows of the embedding, outputs of ``fc``).
        embedding_dim (int): size of each token vector. Default: 64.
        hidden_size (int): size of the recurrent layer's hidden state. Default: 256.
        num_layers (int): stacked recurrent layers. Default: 1.
        dropout (float): dropout between recurrent layers in training (needs num_layers > 1). Default: 0.
        nonlinearity (str): the Elman RNN's ``'tanh'`` or ``'relu'`` (LSTM and GRU take only ``'tanh'``, the
            default, which their candidate state uses). Default: ``'tanh'``.
        cell (str): the recurrent layer: ``'rnn'`` (Elman), ``'lstm'`` or ``'gru'``. Default: ``'rnn'``.

    Submodules (ordinary swiftrnn.nn modules, so ``state_dict`` keys are those of the PyTorch module in
    ``TORCH_EQUIVALENT``: ``embedding.weight``, ``rnn.weight_ih_l0``, ..., ``fc.weight``, ``fc.bias``):
        embedding: ``nn.Embedding(vocab_size, embedding_dim)``
        rnn: ``nn.RNN(embedding_dim, hidden_size, num_layers, nonlinearity=..., batch_first=True, dropout=...)``,
            or ``nn.LSTM`` / ``nn.GRU`` with the same arguments but ``nonlinearity``
        fc: ``nn.Linear(hidden_size, vocab_size)``

    The hidden state ``h`` that ``forward`` takes and returns is one array ``(num_layers, N, hidden_size)``
    for 'rnn' and 'gru', and a tuple ``(h, c)`` of two such arrays for 'lstm'.

    Attributes:
        vocab (Vocab or None), tokenizer (str or None): set by ``load`` when the model was saved with them
            (the CLI saves both); ``save`` writes them again when not given.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 256, num_layers: int = 1,
                 dropout: float = 0.0, nonlinearity: str = "tanh", cell: str = "rnn") -> None:
        super().__init__()
        self.vocab_size = _positive_int(vocab_size, "vocab_size")
        self.embedding_dim = _positive_int(embedding_dim, "embedding_dim")
        self.hidden_size = _positive_int(hidden_size, "hidden_size")
        self.num_layers = _positive_int(num_layers, "num_layers")
        self.cell = _cell(cell)
        if cell != "rnn" and nonlinearity != "tanh":
            raise ValueError(f"nonlinearity applies to cell='rnn' only; cell={cell!r} takes the default 'tanh', "
                             f"got {nonlinearity!r}")
        self.embedding = nn.Embedding(self.vocab_size, self.embedding_dim)
        if cell == "rnn":
            self.rnn = nn.RNN(self.embedding_dim, self.hidden_size, self.num_layers, nonlinearity=nonlinearity,
                              batch_first=True, dropout=dropout)
        else:
            self.rnn = CELLS[cell][0](self.embedding_dim, self.hidden_size, self.num_layers, batch_first=True,
                                      dropout=dropout)
        self.fc = nn.Linear(self.hidden_size, self.vocab_size)
        self.dropout = self.rnn.dropout
        self.nonlinearity = str(nonlinearity)
        self.vocab: Optional[Vocab] = None
        self.tokenizer: Optional[str] = None
        self.training_state: Optional[Dict[str, Any]] = None  # set by fit (and load): what a resume needs
        self.metrics: List[Dict[str, Any]] = []  # one record per step of the last run (fit, load)

    @property
    def config(self) -> Dict[str, Any]:
        """The constructor arguments, as a dict: ``RNNLanguageModel(**model.config)`` has the same shapes."""
        return {"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
                "hidden_size": self.hidden_size, "num_layers": self.num_layers, "dropout": self.dropout,
                "nonlinearity": self.nonlinearity, "cell": self.cell}

    def extra_repr(self) -> str:
        """The model's configuration as shown in its ``repr``."""
        return ""

    # --- forward / backward -------------------------------------------------------------------
    def forward(self, ids: Any, h: Optional[Any] = None) -> Tuple[np.ndarray, Any]:
        """``logits, h = model(ids, h)``.

        ids: ``(N, L)`` integer token ids (or unbatched ``(L,)``); h: ``(num_layers, N, hidden_size)``
        (``(num_layers, hidden_size)`` unbatched), for an LSTM a tuple ``(h, c)`` of two such arrays, zeros if
        omitted. logits: ``(N, L, vocab_size)`` (``(L, vocab_size)``), scores of the token that follows each
        position; h: the final hidden state (for an LSTM, ``(h_n, c_n)``).
        """
        out, hn = self.rnn(self.embedding(ids), h)
        return self.fc(out), hn

    def backward(self, grad_logits: np.ndarray, grad_h: Optional[Any] = None) -> Any:
        """Backpropagates ``d loss / d logits`` of the last training-mode forward into every parameter's
        ``.grad`` (accumulating, as torch) and returns ``d loss / d h0`` (for an LSTM ``(d h0, d c0)``, and
        ``grad_h`` is ``(grad_h_n, grad_c_n)``, either may be None).
        """
        grad_out = self.fc.backward(grad_logits)
        grad_x, grad_h0 = self.rnn.backward(grad_out, grad_h)
        self.embedding.backward(grad_x)
        return grad_h0

    # --- training -----------------------------------------------------------------------------
    def fit(self, ids: Any, steps: Optional[int] = None, epochs: Optional[int] = None, seq_len: int = 64,
            batch_size: int = 16, lr: float = 3e-3, clip: Optional[float] = 1.0, seed: int = 0,
            progress: bool = True, time_limit: Optional[float] = None, log_every: float = 10.0,
            checkpoint_every: Optional[int] = None, checkpoint: Optional[Callable[["RNNLanguageModel"], Any]] = None,
            should_stop: Optional[Callable[[], bool]] = None, resume: bool = False, val_ids: Any = None,
            eval_every: Optional[int] = None, patience: Optional[int] = None,
            checkpoint_minutes: Optional[float] = None) -> List[float]:
        """Trains on one long sequence of token ids to predict each next token; returns the loss of every step.

        Each step: a batch of ``batch_size`` windows of ``seq_len + 1`` consecutive ids (inputs are the
        first ``seq_len``, targets the last ``seq_len``), every window starting from a zero hidden state;
        mean cross-entropy over all ``batch_size * seq_len`` predictions; backward through time; gradient
        norm clipped to ``clip`` (None: no clipping); one Adam step (``lr``, betas (0.9, 0.999), eps 1e-8).

        How windows are drawn (from ``numpy.random.default_rng(seed)``, so a seed fixes the batches):
            - ``steps=S``: every step draws ``batch_size`` start positions independently and uniformly
              from ``[0, len(ids) - seq_len - 1]`` (windows may overlap and repeat).
            - ``epochs=E``: each epoch cuts the sequence into ``(len(ids) - 1) // seq_len``
              non-overlapping windows of ``seq_len`` targets, the first starting at a random offset in
              ``[0, (len(ids) - 1) % seq_len]``, so every prediction but at most that leftover is trained
              once per epoch; the windows are shuffled and taken ``batch_size`` at a time (the last batch
              of an epoch may be smaller).
            - neither: one epoch. Both: ValueError.

        Weights are initialised by the constructor (``swiftrnn.manual_seed`` makes that reproducible);
        with dropout, the masks come from swiftrnn's global generator. The module's training/eval mode
        is restored afterwards.

        Args:
            progress: report progress (step, loss, tokens/s, ETA) on stderr: a bar on a terminal, else a plain line
                every ``log_every`` seconds and at the end (so a run under nohup, a pipe or CI shows it too).
            time_limit: stop early, after the first step that ends ``time_limit`` seconds or more after
                the start (the returned list is then shorter). None: no limit.
            val_ids, eval_every: held-out token ids scored (``evaluate(val_ids, seq_len)``, eval mode, no
                gradients) every ``eval_every`` steps and after the last step; the step's ``metrics`` record
                gets ``val_loss`` and ``val_perplexity``. ``eval_every=None``: after the last step only.
            patience: early stopping: the run ends after ``patience`` validations in a row (every ``eval_every``
                steps) without a validation loss below the best so far in the run. The weights are the last
                step's, not the best's.
            checkpoint_every, checkpoint: every ``checkpoint_every`` steps, ``checkpoint(self)`` is called with
                ``self.training_state`` up to date (e.g. ``lambda m: m.save(dir)``: an atomic save keeps the
                last good checkpoint).
            checkpoint_minutes: also (or instead) call ``checkpoint`` after the first step that ends at least
                this many minutes after the run started or after the last checkpoint.
            should_stop: called after every step; True stops the run there (a signal handler's flag).
            resume: continue the run recorded in ``self.training_state`` (set by ``fit`` and by ``load`` of a
                model saved after a ``fit``): the weights, Adam's state, the step and the window order go
                on from there, so ``steps`` / ``epochs`` are the run's total and an interrupted run that is
                resumed ends with the same weights, bit for bit, as one that never stopped. The ids and the
                other settings must be the run's (ValueError otherwise).

        ``self.metrics`` gets one record per step: ``{"step", "loss", "lr", "tokens_per_s", "wall_time"}`` (seconds
        since the run started; a resumed run continues the saved record). After the run, ``self.training_state`` holds
        ``stopped_early`` (True when ``patience`` ended it) and what a resume needs (``save`` writes it as
        training.json and optimizer.npz): the step, the settings, the window generator's and swiftrnn's
        generator's states and the optimizer's ``state_dict``.

        Raises:
            ValueError: bad arguments, or fewer than ``seq_len + 1`` ids.
            IndexError: an id outside ``[0, vocab_size)``.
        """
        from . import optim  # the training API (nn.CrossEntropyLoss, optim, nn.utils)

        ids = _token_ids(ids, "ids", self.vocab_size)
        seq_len = _positive_int(seq_len, "seq_len")
        batch_size = _positive_int(batch_size, "batch_size")
        if steps is not None and epochs is not None:
            raise ValueError(f"give steps or epochs, not both (got steps={steps!r}, epochs={epochs!r})")
        if steps is not None:
            steps = _positive_int(steps, "steps")
        epochs = _positive_int(epochs, "epochs") if epochs is not None else (None if steps else 1)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not lr > 0 or not math.isfinite(lr):
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        if clip is not None and (isinstance(clip, bool) or not isinstance(clip, numbers.Real) or not clip > 0):
            raise ValueError(f"clip must be a positive number or None (no clipping), got {clip!r}")
        seed = _positive_int(seed, "seed", minimum=0)  # a numpy.random.default_rng seed
        if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(time_limit, numbers.Real)
                                       or not time_limit > 0):
            raise ValueError(f"time_limit must be a positive number of seconds or None, got {time_limit!r}")
        n = len(ids)
        if n < seq_len + 1:
            raise ValueError(f"fit needs at least seq_len + 1 = {seq_len + 1} token ids, got {n}; "
                             f"use a smaller seq_len or a longer text")

        if val_ids is not None:
            val_ids = _token_ids(val_ids, "val_ids", self.vocab_size)
            if len(val_ids) < 2:
                raise ValueError(f"val_ids needs at least 2 token ids (one prediction), got {len(val_ids)}")
        if eval_every is not None:
            eval_every = _positive_int(eval_every, "eval_every")
            if val_ids is None:
                raise ValueError("eval_every needs val_ids to score")
        if patience is not None:
            patience = _positive_int(patience, "patience")
            if eval_every is None:
                raise ValueError("patience counts validations: give val_ids and eval_every too")
        if checkpoint_every is not None:
            checkpoint_every = _positive_int(checkpoint_every, "checkpoint_every")
        if checkpoint_minutes is not None:
            checkpoint_minutes = _positive_finite(checkpoint_minutes, "checkpoint_minutes")
        if (checkpoint_every is not None or checkpoint_minutes is not None) and checkpoint is None:
            raise ValueError("checkpoint_every and checkpoint_minutes need a checkpoint callable "
                             "(e.g. lambda m: m.save(directory))")
        settings = {"steps": steps, "epochs": None if steps is not None else epochs, "seq_len": seq_len,
                    "batch_size": batch_size, "lr": float(lr), "clip": None if clip is None else float(clip),
                    "seed": seed, "ids": len(ids), "ids_sha256": _sha256(ids.tobytes()),
                    "val_ids": 0 if val_ids is None else len(val_ids),
                    "eval_every": eval_every, "patience": patience}
        done = 0
        if resume:
            state = self.training_state
            if state is None:
                raise ValueError("resume=True but the model has no training state (load a model saved after fit)")
            changed = sorted(k for k in settings if k not in _SETTINGS_A_RESUME_MAY_CHANGE
                             and state["settings"].get(k) != settings[k])
            if (state["settings"]["steps"] is None) != (steps is None):
                changed.append("steps/epochs")
            if changed:
                raise ValueError(f"resume continues the saved run, but these differ from it: {', '.join(changed)}"
                                 + (" (the token ids: a different text or vocabulary)" if "ids_sha256" in changed else ""))
            done = int(state["step"])

        rng = np.random.default_rng(seed)
        offsets = np.arange(seq_len + 1)
        if steps is not None:
            total = steps

            def batches():
                for _ in range(steps):
                    yield rng.integers(0, n - seq_len, size=batch_size)
        else:
            per_epoch = (n - 1) // seq_len
            total = epochs * -(-per_epoch // batch_size)

            def batches():
                leftover = (n - 1) % seq_len
                for _ in range(epochs):
                    starts = int(rng.integers(0, leftover + 1)) + seq_len * np.arange(per_epoch)
                    rng.shuffle(starts)
                    for i in range(0, per_epoch, batch_size):
                        yield starts[i:i + batch_size]

        criterion = nn.CrossEntropyLoss()
        params = [p for p in self.parameters() if getattr(p, "requires_grad", True)]
        optimizer = optim.Adam(params, lr=float(lr))
        batch_iter = batches()
        if done:
            if done > total:
                raise ValueError(f"the saved run is at step {done}, beyond this run's total of {total} steps")
            optimizer.load_state_dict(self.training_state["optimizer"])
            for _ in range(done):  # the windows of the steps already done: the generator ends where it stood
                next(batch_iter)
            if rng.bit_generator.state != self.training_state["rng"]:
                raise ValueError("resume: the window generator's state differs from the saved run's")
            _random.set_rng_state(np.frombuffer(bytes.fromhex(self.training_state["global_rng"]), dtype=np.uint8))

        def record(step: int, stopped_early: bool = False) -> None:
            self.training_state = {"step": step, "total": total, "settings": settings, "stopped_early": stopped_early,
                                   "rng": rng.bit_generator.state, "global_rng": _random.get_rng_state().tobytes().hex(),
                                   "optimizer": optimizer.state_dict(), "loss": losses[-1] if losses else None}

        if not resume:
            self.metrics = []
        self.metrics = [m for m in self.metrics if m["step"] <= done]  # a resume continues the run's record
        wall_offset = float(self.metrics[-1].get("wall_time", 0.0)) if self.metrics else 0.0
        V = self.vocab_size
        was_training = self.training
        bar = _Progress(total, bool(progress), float(log_every), first=done)
        step_start = bar.start
        losses: List[float] = []
        tokens = 0
        self.train()
        step, stale = done, False  # stale: patience validations without a lower loss (early stopping)
        last_checkpoint = bar.start
        try:
            with enable_grad():  # fit trains, also when called inside swiftrnn.no_grad()
                for step, starts in enumerate(batch_iter, done + 1):
                    window = ids[starts[:, None] + offsets]             # (N, seq_len + 1)
                    x, y = window[:, :-1], window[:, 1:]
                    logits, _ = self.forward(x)                        # (N, seq_len, V)
                    loss = criterion(logits.reshape(-1, V), y.reshape(-1))
                    optimizer.zero_grad()
                    self.backward(criterion.backward().reshape(logits.shape))
                    if clip is not None:
                        nn.utils.clip_grad_norm_(params, float(clip))
                    optimizer.step()
                    losses.append(float(loss))
                    tokens += x.size
                    now = time.perf_counter()
                    self.metrics.append({"step": step, "loss": losses[-1], "lr": float(lr),
                                         "tokens_per_s": x.size / max(now - step_start, 1e-9),
                                         "wall_time": wall_offset + now - bar.start})
                    step_start = now
                    bar.update(step, losses[-1], tokens)
                    stale = False
                    if eval_every is not None and step % eval_every == 0:
                        self._validate(val_ids, seq_len)
                        stale = patience is not None and self._validations_since_best() >= patience
                    due = ((checkpoint_every is not None and step % checkpoint_every == 0)
                           or (checkpoint_minutes is not None and now - last_checkpoint >= 60 * checkpoint_minutes))
                    if due and step < total:
                        record(step)
                        checkpoint(self)
                        last_checkpoint = time.perf_counter()
                    if time_limit is not None and time.perf_counter() - bar.start >= time_limit:
                        break
                    if stale or (should_stop is not None and should_stop()):
                        break
        finally:
            bar.close()
            self.train(was_training)
        if val_ids is not None and losses and "val_loss" not in self.metrics[-1]:
            self._validate(val_ids, seq_len)  # the last step's, also when the run stopped early
        record(step, stopped_early=stale)
        return losses

    def _validate(self, val_ids: np.ndarray, seq_len: int) -> None:
        """Adds the validation loss and perplexity to the last metrics record (evaluate leaves every generator
        alone, so a run with validation trains exactly as one without)."""
        loss = self.evaluate(val_ids, seq_len=seq_len)
        self.metrics[-1].update(val_loss=loss, val_perplexity=math.exp(min(loss, 700.0)))

    def _validations_since_best(self) -> int:
        """Validations of the run (the metrics records, a resumed run's included) after its lowest validation loss."""
        losses = [m["val_loss"] for m in self.metrics if "val_loss" in m]
        return len(losses) - 1 - int(np.argmin(losses))

    @contextlib.contextmanager
    def _serving(self) -> Iterator[None]:
        """As eval mode (no dropout) and ``no_grad`` (nothing kept for a backward: a serving thread holds no
        activations) for the block, in this thread only: the modules' ``training`` flags are left alone, so a
        thread training the same model meanwhile keeps its dropout."""
        with serving_mode(), no_grad():
            yield

    # --- scoring ------------------------------------------------------------------------------
    def evaluate(self, ids: Any, seq_len: Optional[int] = None, batch_size: int = 16) -> float:
        """The mean cross-entropy (nats) of predicting each of ``ids[1:]`` from the ids before it.

        With ``seq_len=None`` the ids are read as one stream, the hidden state carried from the first
        id to the last (what ``generate`` sees). With ``seq_len=k`` they are cut into consecutive
        windows of k predictions, each from a zero hidden state (what ``fit`` trains on). Runs in eval
        mode (no dropout) under ``no_grad`` (nothing is kept for a backward); ``math.exp`` of the result is the perplexity (``perplexity``).
        """
        ids = _token_ids(ids, "ids", self.vocab_size)
        if len(ids) < 2:
            raise ValueError(f"evaluate needs at least 2 token ids (one prediction), got {len(ids)}")
        if seq_len is not None:
            seq_len = _positive_int(seq_len, "seq_len")
        batch_size = _positive_int(batch_size, "batch_size")
        total, count = 0.0, 0
        with self._serving():
            if seq_len is None:
                h = None
                chunk = 1024
                for i in range(0, len(ids) - 1, chunk):
                    x = ids[i:i + chunk]
                    y = ids[i + 1:i + 1 + chunk]
                    x = x[:len(y)]
                    logits, h = self.forward(x[None, :], h)
                    total += self._nll_sum(logits[0], y)
                    count += len(y)
            else:
                batches = self._window_batches(len(ids), seq_len, batch_size)
                for part_total, part_count in self._window_nll(ids, seq_len, batch_size, 0, batches):
                    total += part_total
                    count += part_count
        return total / count

    @staticmethod
    def _window_batches(n: int, seq_len: int, batch_size: int) -> int:
        """How many parts ``_window_nll`` cuts n ids into: batches of full windows, then the shorter tail."""
        full = (n - 1) // seq_len
        return -(-full // batch_size) + (1 if full * seq_len < n - 1 else 0)

    def _window_nll(self, ids: np.ndarray, seq_len: int, batch_size: int, first: int,
                    last: int) -> List[Tuple[float, int]]:
        """(summed negative log-likelihood, predictions) of parts ``first`` to ``last - 1`` of ``evaluate``'s
        windowed scoring (batch_size windows of seq_len predictions each, the last part the shorter tail),
        so that parts scored elsewhere (``evaluate --workers``) add up, in order, to the same total."""
        m = len(ids) - 1
        full = m // seq_len
        offsets = np.arange(seq_len + 1)
        out = []
        with self._serving():
            for part in range(first, last):
                i = part * batch_size
                if i < full:
                    starts = seq_len * np.arange(i, min(i + batch_size, full))
                    w = ids[starts[:, None] + offsets]
                    logits, _ = self.forward(w[:, :-1])
                    out.append((self._nll_sum(logits.reshape(-1, self.vocab_size), w[:, 1:].reshape(-1)),
                                int(w[:, 1:].size)))
                else:  # the tail: fewer than seq_len predictions
                    w = ids[full * seq_len:]
                    logits, _ = self.forward(w[None, :-1])
                    out.append((self._nll_sum(logits[0], w[1:]), len(w) - 1))
        return out

    def perplexity(self, ids: Any, seq_len: Optional[int] = None, batch_size: int = 16) -> float:
        """``exp(evaluate(ids, seq_len, batch_size))``."""
        return math.exp(self.evaluate(ids, seq_len, batch_size))

    @staticmethod
    def _nll_sum(logits: np.ndarray, targets: np.ndarray) -> float:
        logp = nn.functional.log_softmax(logits, dim=-1)
        return -float(np.sum(logp[np.arange(len(targets)), targets], dtype=np.float64))

    # --- generation ---------------------------------------------------------------------------
    def generate(self, prompt_ids: Any, max_new_tokens: int, temperature: float = 1.0, top_k: Optional[int] = None,
                 greedy: bool = False, seed: Optional[int] = None, top_p: Optional[float] = None,
                 repetition_penalty: float = 1.0) -> np.ndarray:
        """Continues ``prompt_ids`` by ``max_new_tokens`` ids; returns prompt + new ids as a 1-d int64 array.

        Streaming: the prompt goes through the network once, then each new token costs one single-step
        recurrent call that carries the hidden state (O(1) per token, whatever the length so far).

        Each next token is the most likely one when ``greedy``; otherwise it is sampled from
        ``softmax(logits / temperature)``, restricted to the ``top_k`` most likely tokens when
        ``top_k`` is given and to the smallest set of most likely tokens whose probability reaches ``top_p``
        (nucleus sampling) when ``top_p`` is given; as the temperature tends to 0 this tends to greedy (a
        temperature of 1e-300 is greedy: nothing overflows). ``repetition_penalty`` (the CTRL paper's rule, as in
        Hugging Face's ``generate``) first makes every token already in the sequence, prompt included, less likely:
        its logit is divided by the penalty when positive and multiplied by it otherwise (1.0: off; greedy
        choices are penalised too). The choice runs in the core (``_native.sample``)
        from one ``numpy.random.default_rng(seed)`` uniform draw per token: the same seed gives the same tokens. ``seed=None`` takes a seed from swiftrnn's default generator (so
        ``swiftrnn.manual_seed`` makes it reproducible) and advances it. Runs in eval mode (no dropout)
        under ``no_grad`` (nothing is kept for a backward).

        Raises:
            ValueError: an empty prompt, ``max_new_tokens`` < 0, ``temperature`` <= 0, ``top_k`` < 1, ``top_p``
                outside (0, 1], ``repetition_penalty`` <= 0, or logits that are not finite (a model whose weights are not).
            IndexError: a prompt id outside ``[0, vocab_size)``.
        """
        prompt = _token_ids(prompt_ids, "prompt_ids", self.vocab_size)
        if len(prompt) == 0:
            raise ValueError("prompt_ids is empty: generation needs at least one token to start from")
        max_new_tokens = _positive_int(max_new_tokens, "max_new_tokens", minimum=0)
        if not isinstance(greedy, bool):
            raise TypeError(f"greedy must be a bool, got {type(greedy).__name__}")
        temperature = _positive_finite(temperature, "temperature",
                                       " (for the most likely token every step, use greedy=True)")
        if top_k is not None:
            top_k = min(_positive_int(top_k, "top_k"), self.vocab_size)
        if top_p is not None and (isinstance(top_p, bool) or not isinstance(top_p, numbers.Real)
                                  or not 0 < top_p <= 1):
            raise ValueError(f"top_p must be a number in (0, 1], got {top_p!r}")
        penalty = _positive_finite(repetition_penalty, "repetition_penalty", " (1.0: off)")
        if seed is not None:
            seed = _positive_int(seed, "seed", minimum=0)  # a numpy.random.default_rng seed
        P = len(prompt)
        out = np.empty(P + max_new_tokens, dtype=np.int64)
        out[:P] = prompt
        if max_new_tokens == 0:
            return out
        if greedy:
            rng = None
        else:
            if seed is None:  # from swiftrnn's default generator, so swiftrnn.manual_seed makes it reproducible
                seed = int(_random.randint(0, 2**62, ()))
            rng = np.random.default_rng(seed)
        rnn, fc = self.rnn, self.fc
        # The weights are packed once for the whole generation: a one-token step would otherwise spend most of its
        # time packing W_ih, W_hh and the output layer's weight, or reading them in place (same results, bit for bit).
        packed_rnn = tuple(_native.pack_weight(w) for group in rnn.all_weights for w in group[:2])  # W_ih, W_hh
        packed_fc = _native.pack_weight(fc.weight)
        lstm = self.cell == "lstm"

        def step(ids: np.ndarray, state: Any) -> Tuple[np.ndarray, Any]:
            h0, c0 = state if lstm and state is not None else (state, None)
            result = _native.rnn_forward(self.embedding(ids), h0, rnn._flat, rnn._desc, None, None, packed_rnn, c0)
            logits = _native.linear_forward(result[0][0, -1], fc.weight, fc.bias, packed_fc)  # (V,)
            return logits, (result[1], result[2]) if lstm else result[1]  # and hn (h_n, c_n)

        with self._serving():
            logits, h = step(prompt[None, :], None)                  # the prompt, once
            step_input = np.empty((1, 1), dtype=np.int64)
            seen = np.zeros(self.vocab_size, dtype=bool)  # the tokens the repetition penalty applies to
            seen[prompt] = True
            for i in range(max_new_tokens):
                if penalty != 1.0:
                    ids = np.flatnonzero(seen)
                    chosen = logits[ids]
                    logits = logits.copy()
                    logits[ids] = np.where(chosen > 0, chosen / np.float32(penalty), chosen * np.float32(penalty))
                token = _native.sample(logits, greedy, temperature, top_k,
                                       None if top_p is None else float(top_p), 0.0 if rng is None else rng.random())
                out[P + i] = token
                seen[token] = True
                if i + 1 < max_new_tokens:
                    step_input[0, 0] = token
                    logits, h = step(step_input, h)                  # one token, carrying hn
        return out

    # --- persistence --------------------------------------------------------------------------
    def save(self, directory: "os.PathLike[str] | str", vocab: Optional[Vocab] = None,
             tokenizer: Optional[str] = None) -> None:
        """Writes the model to ``directory`` (created if needed) in an open format:

        - ``weights.npz``: the ``state_dict`` as float32 arrays under torch's names (NumPy's ``.npz``);
        - ``vocab.json``: the vocabulary (``Vocab.save``), when ``vocab`` (or ``self.vocab``) is set;
        - ``training.json`` and ``optimizer.npz``: the run's state (``self.training_state``, set by ``fit``),
          which ``fit(resume=True)`` continues from: step, settings, generator states, Adam's moments;
        - ``metrics.jsonl``: ``self.metrics``, one JSON line per training step (step, loss, lr,
          tokens_per_s, wall_time in seconds since the run started), when ``fit`` has run;
        - ``config.json``: the constructor arguments, the tokenizer mode (if any) and the SHA-256 of
          the other files.

        All or nothing: the files are written to a new directory beside ``directory``, which then
        replaces it in one atomic swap (on Linux; elsewhere by two renames). A failed save (a full disk,
        an error in between) leaves ``directory`` as it was, and a concurrent ``load`` gets the whole old
        model or the whole new one, never a mix. ``directory`` must be absent, empty or a saved model:
        a directory holding other files is refused (``FileExistsError``), since it is replaced as a whole.
        Files get the usual permissions (0644 under umask 022); a re-save keeps those of the files it
        replaces. The weights load into PyTorch's equivalent module (``TORCH_EQUIVALENT``).

        Raises:
            ValueError: a parameter holds NaN or infinite values (``load`` would refuse it), a vocab
                whose size differs from vocab_size, an unknown tokenizer.
            FileExistsError, NotADirectoryError: ``directory`` is not absent, empty or a saved model.
            OSError: the write failed (``directory`` is unchanged).
        """
        vocab = self.vocab if vocab is None else vocab
        tokenizer = self.tokenizer if tokenizer is None else tokenizer
        if vocab is not None:
            if not isinstance(vocab, Vocab):
                raise TypeError(f"vocab must be a swiftrnn.text.Vocab, got {type(vocab).__name__}")
            if len(vocab) != self.vocab_size:
                raise ValueError(f"vocab has {len(vocab)} tokens but the model's vocab_size is {self.vocab_size}")
        if tokenizer is not None and tokenizer not in TOKENIZERS:
            raise ValueError(f"unknown tokenizer {tokenizer!r}: expected one of "
                             + ", ".join(repr(m) for m in TOKENIZERS))
        directory = check_model_directory(directory)
        # Every byte is produced before anything is written: an error here changes nothing on disk.
        buf = io.BytesIO()
        arrays: Dict[str, Any] = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in self.state_dict().items()}
        for k, v in arrays.items():  # load() refuses them: a diverged model must not replace a good one
            if not np.isfinite(v).all():
                raise ValueError(f"refusing to save: parameter {k} contains NaN or infinite values (did training "
                                 "diverge? a smaller learning rate or gradient clipping may help)")
        np.savez(buf, **arrays)
        contents = {WEIGHTS_FILE: buf.getvalue()}
        if vocab is not None:
            contents[VOCAB_FILE] = json_bytes(vocab.to_dict(), indent=0)
        if self.training_state is not None:
            contents.update(_training_files(self.training_state))
        if self.metrics:
            contents[METRICS_FILE] = b"".join(json_bytes(m) for m in self.metrics)
        config = {"format": _FORMAT, "version": _VERSION, "config": self.config, "tokenizer": tokenizer,
                  "files": {name: _sha256(data) for name, data in contents.items()}}
        config["checksum"] = _config_checksum(config)
        contents[CONFIG_FILE] = json_bytes(config, indent=2)
        replace_directory(directory, contents)

    @classmethod
    def load(cls, directory: "os.PathLike[str] | str") -> "RNNLanguageModel":
        """Reads a model written by ``save``; ``model.vocab`` / ``model.tokenizer`` are set when it has them.

        A save running at the same time is no problem: the load gets the whole old model or the whole
        new one (it starts again if the directory is swapped while it reads).

        The directory is treated as untrusted input: config.json (its checksum first), the hashes, the
        sizes the config implies and every ``.npz`` member's header are checked before any array is read
        or the model is built, so a hostile directory fails at once and a load allocates no more than the
        files hold (weights are stored uncompressed; a compressed ``.npz`` member is refused).

        Raises:
            FileNotFoundError: no such directory, or no ``config.json`` / ``weights.npz`` in it.
            ValueError: a corrupt, inconsistent or hostile file (bad or deeply nested JSON, unknown format
                or version, invalid config, a hash or checksum that does not match, a config declaring
                more weights than the file holds, missing or unexpected or misshapen or compressed or
                non-finite weights, a .npy file posing as the .npz, a vocabulary whose size differs
                from vocab_size).
        """
        directory = os.fspath(directory)
        for _ in range(_LOAD_ATTEMPTS):
            try:
                files = _read_model_files(directory)
            except _DirectoryReplaced:
                continue
            return cls._from_files(directory, files)
        raise OSError(errno.EAGAIN, f"the model was replaced by {_LOAD_ATTEMPTS} saves in a row while being "
                      "read; try again", directory)

    @classmethod
    def _from_files(cls, directory: str, contents: Dict[str, Optional[bytes]]) -> "RNNLanguageModel":
        """The model from the bytes of its files (None: absent), all read from one version of ``directory``.

        The files are untrusted input: everything is checked, in an order that allocates nothing large
        before the files have shown they hold that much. config.json (size, JSON, format, version,
        checksum, values), then the weights file's hash, the arithmetic size the config implies against the
        file's size, and every .npz member's header (name, storage, dtype, shape, byte count) against the
        config, before any array is read or the model is built."""
        config_path = os.path.join(directory, CONFIG_FILE)
        weights_path = os.path.join(directory, WEIGHTS_FILE)

        def bad(path: str, why: str) -> ValueError:
            return ValueError(f"{path}: {why}")

        raw = contents[CONFIG_FILE]
        if raw is None:
            raise FileNotFoundError(f"{config_path!r} not found: {directory!r} is not a saved swiftrnn model")
        if len(raw) > _CONFIG_MAX_BYTES:
            raise bad(config_path, f"larger than {_CONFIG_MAX_BYTES} bytes: not a swiftrnn model's config")
        meta = parse_json(raw, config_path)
        if not isinstance(meta, dict) or meta.get("format") != _FORMAT:
            got = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
            raise bad(config_path, f"expected \"format\": {_FORMAT!r}, got {got!r}")
        if meta.get("version") != _VERSION:
            raise bad(config_path, f"unsupported version {meta.get('version')!r} "
                                   f"(this swiftrnn reads version {_VERSION})")
        if meta.get("checksum") != _config_checksum(meta):
            raise bad(config_path, "its checksum does not match its content: the file was changed or damaged")
        config, files, tokenizer = meta.get("config"), meta.get("files", {}), meta.get("tokenizer")
        if not isinstance(config, dict) or not isinstance(files, dict):
            raise bad(config_path, "\"config\" and \"files\" must be JSON objects")
        if tokenizer is not None and tokenizer not in TOKENIZERS:
            raise bad(config_path, f"unknown tokenizer {tokenizer!r}")
        expected_keys = {"vocab_size", "embedding_dim", "hidden_size", "num_layers", "dropout", "nonlinearity", "cell"}
        if "cell" not in config:  # saved before LSTM and GRU: an Elman RNN
            config = dict(config, cell="rnn")
        if set(config) != expected_keys:
            missing, extra = sorted(expected_keys - set(config)), sorted(set(config) - expected_keys)
            raise bad(config_path, f"config keys differ from RNNLanguageModel's: missing {missing}, unexpected {extra}")
        try:
            V, E, H, L = (_positive_int(config[k], k) for k in ("vocab_size", "embedding_dim", "hidden_size",
                                                                 "num_layers"))
            cell = _cell(config["cell"])
        except ValueError as e:
            raise bad(config_path, f"invalid config ({e})") from None

        def read_checked(name: str) -> bytes:
            path = os.path.join(directory, name)
            data = contents[name]
            if data is None:
                raise FileNotFoundError(f"{path!r} not found (listed in {CONFIG_FILE})" if name in files
                                        else f"{path!r} not found: the model directory is incomplete")
            digest = files.get(name)
            if digest is not None and _sha256(data) != digest:
                raise bad(path, f"SHA-256 differs from the one in {CONFIG_FILE}: the file was changed or "
                                "the save was interrupted")
            return data

        data = read_checked(WEIGHTS_FILE)
        vocab: Optional[Vocab] = None
        if VOCAB_FILE in files:
            vocab_path = os.path.join(directory, VOCAB_FILE)
            vocab = Vocab.from_dict(parse_json(read_checked(VOCAB_FILE), vocab_path), vocab_path)
            if len(vocab) != V:
                raise bad(vocab_path, f"has {len(vocab)} tokens but vocab_size is {V}")
        try:
            state = _read_weights(data, V, E, H, L, cell)
        except ValueError as e:
            raise bad(weights_path, str(e)) from None
        try:
            model = cls(**config)  # no larger than the arrays just read
        except (TypeError, ValueError) as e:
            raise bad(config_path, f"invalid config ({e})") from None
        try:
            model.load_state_dict(state)
        except RuntimeError as e:  # torch's "Error(s) in loading state_dict ...", one problem per line
            raise bad(weights_path, "does not match the config (" + "; ".join(str(e).split("\n\t")[1:]) + ")") from None
        if TRAINING_FILE in files:
            training_path = os.path.join(directory, TRAINING_FILE)
            raw_training = read_checked(TRAINING_FILE)
            if len(raw_training) > _TRAINING_MAX_BYTES:
                raise bad(training_path, f"larger than {_TRAINING_MAX_BYTES} bytes: not a swiftrnn training state")
            try:
                model.training_state = _training_state(parse_json(raw_training, training_path),
                                                       read_checked(OPTIMIZER_FILE), model)
            except (ValueError, TypeError, KeyError, AttributeError) as e:
                raise bad(training_path, f"not a valid training state ({_one_line_error(e)})") from None
        if METRICS_FILE in files:
            model.metrics = _read_metrics(read_checked(METRICS_FILE), os.path.join(directory, METRICS_FILE))
        model.vocab = vocab
        model.tokenizer = tokenizer
        return model


_CONFIG_MAX_BYTES = 1 << 20  # a saved config.json is a few hundred bytes
_TRAINING_MAX_BYTES = 1 << 20  # a training.json is about a kilobyte
_SETTINGS = ("steps", "epochs", "seq_len", "batch_size", "lr", "clip", "seed", "ids", "ids_sha256", "val_ids",
             "eval_every", "patience")  # fit's run
# How long to train and how often to validate may change on resume; the rest must equal the saved run's.
_SETTINGS_A_RESUME_MAY_CHANGE = ("steps", "epochs", "eval_every", "patience")
_MOMENTS = ("exp_avg", "exp_avg_sq")  # Adam's arrays per parameter (fit does not use amsgrad)


def _read_metrics(data: bytes, path: str) -> List[Dict[str, Any]]:
    """The records of a metrics.jsonl: one JSON object with an integer "step" per line."""
    records = []
    for number, line in enumerate(data.splitlines(), 1):
        record = parse_json(line, f"{path} line {number}")
        if (not isinstance(record, dict) or not _is_int(record.get("step"))
                or not all(isinstance(record.get(k, 0.0), (int, float)) for k in ("wall_time", "val_loss"))):
            raise ValueError(f"{path} line {number}: expected a JSON object with an integer \"step\" (and numbers "
                             "for \"wall_time\" and \"val_loss\", which a resumed run reads)")
        records.append(record)
    return records


def _one_line_error(e: BaseException) -> str:
    return e.args[0] if isinstance(e, KeyError) and e.args else str(e)


def _training_files(state: Dict[str, Any]) -> Dict[str, bytes]:
    """training.json (everything but the arrays) and optimizer.npz (Adam's moments, "INDEX.exp_avg", ...) of a
    ``training_state``."""
    optimizer = state["optimizer"]
    arrays: Dict[str, Any] = {}
    scalars: Dict[str, Dict[str, Any]] = {}
    for index, entry in optimizer["state"].items():
        scalars[str(index)] = {k: v for k, v in entry.items() if k not in _MOMENTS}
        for k in _MOMENTS:
            arrays[f"{index}.{k}"] = np.ascontiguousarray(entry[k], dtype=np.float32)
            if not np.isfinite(arrays[f"{index}.{k}"]).all():
                raise ValueError(f"refusing to save: the optimizer's {k} of parameter {index} is not finite")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    meta = {k: v for k, v in state.items() if k != "optimizer"}
    meta["optimizer"] = {"param_groups": optimizer["param_groups"], "state": scalars}
    return {TRAINING_FILE: json_bytes(meta, indent=1), OPTIMIZER_FILE: buf.getvalue()}


def _training_state(meta: Any, data: bytes, model: "RNNLanguageModel") -> Dict[str, Any]:
    """The ``training_state`` from training.json's content and optimizer.npz's bytes, checked against the model:
    the structure, the step, and every moment array's shape (before it is read)."""
    if not isinstance(meta, dict) or not isinstance(meta.get("optimizer"), dict):
        raise ValueError("expected an object with an \"optimizer\" object")
    step: Any = meta.get("step")
    total: Any = meta.get("total")
    if not _is_int(step) or not _is_int(total) or not 0 <= step <= total:
        raise ValueError(f"step {step!r} of total {total!r}: expected integers, 0 <= step <= total")
    if not isinstance(meta.get("settings"), dict) or not isinstance(meta.get("rng"), dict):
        raise ValueError("\"settings\" and \"rng\" must be objects")
    missing = sorted(set(_SETTINGS) - set(meta["settings"]))
    if missing:
        raise ValueError(f"\"settings\" lacks {', '.join(missing)}")
    if len(bytes.fromhex(meta["global_rng"])) != len(_random.get_rng_state()):
        raise ValueError("\"global_rng\" is not a swiftrnn generator state")
    scalars, groups = meta["optimizer"].get("state"), meta["optimizer"].get("param_groups")
    if not isinstance(scalars, dict) or not isinstance(groups, list):
        raise ValueError("optimizer: expected \"state\" (an object) and \"param_groups\" (a list)")
    shapes_of = [p.shape for p in model.parameters()]
    shapes: Dict[str, Tuple[int, ...]] = {}
    for index in scalars:
        if not index.isdigit() or int(index) >= len(shapes_of):
            raise ValueError(f"optimizer state for parameter {index!r}: the model has {len(shapes_of)} parameters")
        shapes.update({f"{index}.{k}": tuple(shapes_of[int(index)]) for k in _MOMENTS})
    try:
        arrays = _read_npz(data, shapes, "expected {count} Adam moment arrays")
    except ValueError as e:
        raise ValueError(f"{OPTIMIZER_FILE}: {e}") from None
    state = {int(i): dict(entry, **{k: arrays[f"{i}.{k}"].copy() for k in _MOMENTS}) for i, entry in scalars.items()}
    for group in groups:
        if isinstance(group, dict) and isinstance(group.get("betas"), list):
            group["betas"] = tuple(group["betas"])
    return dict(meta, optimizer={"state": state, "param_groups": groups})


def _expected_shapes(vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int,
                     cell: str = "rnn") -> Dict[str, Tuple[int, ...]]:
    """The state_dict shapes of RNNLanguageModel(vocab_size, embedding_dim, hidden_size, num_layers, cell=cell)
    (a test checks them against the modules), without building it."""
    V, E, H = vocab_size, embedding_dim, hidden_size
    G = CELLS[cell][1] * H  # rows of W_ih, W_hh and the biases: one block per gate
    shapes: Dict[str, Tuple[int, ...]] = {"embedding.weight": (V, E)}
    for layer in range(num_layers):
        shapes.update({f"rnn.weight_ih_l{layer}": (G, E if layer == 0 else H), f"rnn.weight_hh_l{layer}": (G, H),
                       f"rnn.bias_ih_l{layer}": (G,), f"rnn.bias_hh_l{layer}": (G,)})
    shapes.update({"fc.weight": (V, H), "fc.bias": (V,)})
    return shapes


def _read_weights(data: bytes, vocab_size: int, embedding_dim: int, hidden_size: int,
                  num_layers: int, cell: str = "rnn") -> Dict[str, np.ndarray]:
    """The arrays of a weights.npz (its bytes) for the given config, checked before anything is read: the
    sizes the config implies fit in the file, each member is an uncompressed .npy whose header gives the
    expected shape, a float dtype and a byte count that the member holds; then every value is finite.
    ValueError saying what differs."""
    V, E, H, L = vocab_size, embedding_dim, hidden_size, num_layers
    G = CELLS[cell][1]
    elements = V * E + G * (H * E + H * H + 2 * H + (L - 1) * (2 * H * H + 2 * H)) + V * H + V
    if data[:6] == b"\x93NUMPY":
        raise ValueError("a single .npy array, not a .npz archive of the state_dict (save with np.savez(path, **arrays))")
    if elements * 2 > len(data):  # 2: float16, the smallest float dtype accepted
        raise ValueError(f"the config's model has {elements:,} weights, more than this {len(data):,}-byte file "
                         "can hold: the config or the file is wrong")
    return _read_npz(data, _expected_shapes(V, E, H, L, cell), "the config's model has {count} parameters")


def _read_npz(data: bytes, shapes: Dict[str, Tuple[int, ...]], what: str = "expected {count}") -> Dict[str, np.ndarray]:
    """The arrays of an .npz (its bytes) whose members must be exactly ``shapes``' keys with those shapes, each
    header checked before its array is read (uncompressed, float, a byte count the member holds), every
    value finite. ValueError saying what differs."""
    count = len(shapes)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(f"not a readable .npz file ({e})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) != count:
            raise ValueError(f"holds {len(infos)} arrays, " + what.format(count=count))
        names = [i.filename[:-4] if i.filename.endswith(".npy") else i.filename for i in infos]
        if sorted(names) != sorted(shapes):
            missing = [k for k in shapes if k not in names][:5]
            unexpected = [k for k in names if k not in shapes][:5]
            raise ValueError(f"does not match the config: missing key(s) {missing}, unexpected key(s) {unexpected}")
        state: Dict[str, np.ndarray] = {}
        for info, name in zip(infos, names):
            if info.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{name} is compressed; weights are stored uncompressed (np.savez, not "
                                 "np.savez_compressed), so that a load allocates no more than the file's size")
            try:
                with archive.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    header = (np.lib.format.read_array_header_1_0(f) if version == (1, 0)
                              else np.lib.format.read_array_header_2_0(f))
                    shape, fortran, dtype = header
                    if dtype.kind != "f" or dtype.hasobject:
                        raise ValueError(f"{name} has dtype {dtype}, expected float32")
                    if tuple(shape) != shapes[name]:
                        raise ValueError(f"size mismatch for {name}: the file has shape {tuple(shape)}, "
                                         f"expected {shapes[name]}")
                    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                    if info.file_size != f.tell() + nbytes:
                        raise ValueError(f"{name}: the member holds {info.file_size - f.tell()} bytes, its header "
                                         f"declares {nbytes}")
                    raw = f.read(nbytes)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
                raise ValueError(f"not a readable .npz file ({e})") from None
            if len(raw) != nbytes:
                raise ValueError(f"{name} is truncated")
            arr = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
            if not np.isfinite(arr).all():
                raise ValueError(f"{name} contains NaN or infinite values")
            state[name] = arr
    return state


def _read_model_files(directory: str) -> Dict[str, Optional[bytes]]:
    """The bytes of config.json, weights.npz and vocab.json (None when absent), all from one version of
    ``directory``: they are opened relative to the directory itself (a save swaps in a new directory and
    never changes one in place), and ``_DirectoryReplaced`` is raised if that version was deleted before
    every file was open."""
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"no model directory at {directory!r}")
    if os.open not in os.supports_dir_fd:  # no directory handles (Windows): by path
        return {name: _read_or_none(os.path.join(directory, name)) for name in _MODEL_FILES}
    try:
        dir_fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except FileNotFoundError:
        raise _DirectoryReplaced() from None
    try:
        fds: Dict[str, Optional[int]] = {}
        try:
            for name in _MODEL_FILES:
                try:
                    fds[name] = os.open(name, os.O_RDONLY, dir_fd=dir_fd)
                except FileNotFoundError:
                    fds[name] = None
            if None in fds.values() and _replaced(directory, dir_fd):  # a file gone with the old directory
                raise _DirectoryReplaced()
            out: Dict[str, Optional[bytes]] = {}
            for name, fd in fds.items():
                if fd is not None:
                    with os.fdopen(fd, "rb") as f:
                        fds[name] = None
                        out[name] = f.read()
                else:
                    out[name] = None
            return out
        finally:
            for fd in fds.values():
                if fd is not None:
                    os.close(fd)
    finally:
        os.close(dir_fd)


def _replaced(directory: str, dir_fd: int) -> bool:
    """Whether the path ``directory`` no longer names the directory open as ``dir_fd``."""
    try:
        now = os.stat(directory)
    except OSError:
        return True
    then = os.fstat(dir_fd)
    return (now.st_dev, now.st_ino) != (then.st_dev, then.st_ino)


def _read_or_none(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
