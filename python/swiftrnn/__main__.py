"""Command line of swiftrnn.

    python -m swiftrnn demo                                  the tutorial's examples, then a model trained in seconds
    python -m swiftrnn train CORPUS --tokenizer char --out DIR   train a language model on a UTF-8 text file
                                                             (--cell rnn|lstm|gru, --layers, --dropout,
                                                             --checkpoint-every/-minutes, --resume DIR, --init-from DIR)
    python -m swiftrnn generate DIR --prompt TEXT --length N     continue a prompt with a trained model
                                                             (--prompts FILE --workers N: many, as JSON lines)
    python -m swiftrnn evaluate DIR FILE                     loss and perplexity of a text
    python -m swiftrnn plot DIR                              the loss curve as a PNG (needs matplotlib)
    python -m swiftrnn info                                  version, SIMD level, threads

Errors (a missing file, an empty corpus, an unknown tokenizer, a prompt with tokens the model does not
know, ...) print one line to stderr and exit with status 1 (2 for command-line usage errors).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import multiprocessing
import os
import platform
import signal
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, NoReturn, Optional

import numpy as np

import swiftrnn
from swiftrnn import _native, nn
from swiftrnn.text import BUILTIN_CORPUS_SOURCE, TOKENIZERS, Vocab, builtin_corpus, detokenize, tokenize

PROG = "python -m swiftrnn"

# The tutorial's sentence: segmented, deduplicated in order, embedded.
DEMO_TEXT = "北京冬奥的进度条已经过半，不少外国运动员在完成自己的比赛后踏上归途。"

# Part 4 of the demo: a character model trained on the built-in corpus: 120 steps (~2 s for the training
# speed target; they memorise the text), cut short after DEMO_TIME_LIMIT seconds on a slower machine.
DEMO_TRAIN_STEPS = 120
DEMO_TIME_LIMIT = 10.0
DEMO_PROMPTS = ("上善", "天下皆知", "道")


class CLIError(Exception):
    """A user-facing failure: printed as one line, exit status 1."""


def segment(text: str) -> List[str]:
    """jieba.lcut when jieba is installed, else single characters (with a note on stderr)."""
    try:
        return tokenize(text, "jieba")
    except ImportError:
        print("note: jieba is not installed (pip install 'swiftrnn[jieba]'); segmenting into characters",
              file=sys.stderr)
        return tokenize(text, "char")


def unique_in_order(tokens: List[str]) -> List[str]:
    """Deduplicate keeping first occurrences in order (the tutorial's list(set(...)) loses the order)."""
    return list(dict.fromkeys(tokens))


# --- demo -------------------------------------------------------------------------------------

def demo(train_steps: int = DEMO_TRAIN_STEPS, time_limit: float = DEMO_TIME_LIMIT) -> None:
    with np.printoptions(precision=4, suppress=True):  # not np.set_printoptions: leave the caller's alone
        _demo(train_steps, time_limit)


def _demo(train_steps: int, time_limit: float) -> None:
    swiftrnn.manual_seed(0)

    print("== 1. Word embeddings: nn.Embedding(num_embeddings=len(unique_words), embedding_dim=4)")
    words = segment(DEMO_TEXT)
    unique_words = unique_in_order(words)
    print("words:", "/".join(words))
    embed = nn.Embedding(num_embeddings=len(unique_words), embedding_dim=4)
    print(embed)
    for i, word in enumerate(unique_words):
        print(f"  {i:2d} {word}\t{embed([i])[0]}")

    print("\n== 2. The RNN layer: nn.RNN(input_size=128, hidden_size=256)")
    rnn = nn.RNN(input_size=128, hidden_size=256)
    inputs = np.random.default_rng(0).standard_normal((5, 32, 128)).astype(np.float32)
    hn = np.zeros((1, 32, 256), dtype=np.float32)
    output, hn = rnn(inputs, hn)
    print("inputs:", inputs.shape, " h0: (1, 32, 256)")
    print("output:", output.shape)
    print("hn:    ", hn.shape)

    print("\n== 3. Text generation: embedding -> RNN -> linear -> softmax -> most likely next word, fed back in")
    vocab = len(unique_words)
    embedding = nn.Embedding(vocab, 16)
    cell = nn.RNN(16, 32)
    fc = nn.Linear(32, vocab)
    token, h = 0, None
    generated = [unique_words[token]]
    for _ in range(8):
        out, h = cell(embedding([[token]]), h)        # x: (seq_len=1, batch=1, 16)
        probs = nn.functional.softmax(fc(out[-1]), dim=-1)
        token = int(probs[0].argmax())
        generated.append(unique_words[token])
    print("greedy steps from", repr(unique_words[0]) + ":", " ".join(generated))
    print("(an untrained model: the words are arbitrary until it is trained)")

    print(f"\n== 4. Training: a character model on the built-in corpus ({BUILTIN_CORPUS_SOURCE})")
    _demo_train(train_steps, time_limit)


def _demo_train(steps: int, time_limit: float) -> None:
    from swiftrnn.models import RNNLanguageModel

    text = builtin_corpus()
    tokens = tokenize(text, "char")
    vocab = Vocab.build(tokens)
    ids = vocab.encode(tokens)
    swiftrnn.manual_seed(0)
    model = RNNLanguageModel(len(vocab), embedding_dim=64, hidden_size=256)
    print(f"{len(tokens)} characters, vocabulary {len(vocab)}; "
          f"RNNLanguageModel(E=64, H=256), {sum(p.size for p in model.parameters()):,} parameters")
    start = time.perf_counter()
    losses = model.fit(ids, steps=steps, seq_len=64, batch_size=16, lr=3e-3, seed=0, time_limit=time_limit)
    elapsed = time.perf_counter() - start
    cut = f" (stopped at the {time_limit:g} s limit)" if len(losses) < steps else ""
    print(f"{len(losses)} Adam steps of 16 x 64 in {elapsed:.1f} s{cut} ({len(losses) * 16 * 64 / elapsed:,.0f} "
          f"tokens/s): loss {losses[0]:.2f} -> {losses[-1]:.3f}")
    for prompt in DEMO_PROMPTS:
        out = model.generate(vocab.encode(tokenize(prompt, "char")), 40, greedy=True)
        print(f"greedy  {prompt!r}: " + detokenize(vocab.decode(out), "char").replace("\n", " / "))
    out = model.generate(vocab.encode(tokenize("道", "char")), 40, temperature=0.8, top_k=10, seed=0)
    print("sampled '道' (temperature 0.8, top_k 10, seed 0): "
          + detokenize(vocab.decode(out), "char").replace("\n", " / "))


# --- info -------------------------------------------------------------------------------------

def info() -> None:
    print(f"swiftrnn {swiftrnn.__version__}")
    print(f"python {platform.python_version()} ({sys.executable})")
    print(f"numpy {np.__version__}")
    print(f"simd {_native.simd_level()} (the GEMM kernels in use; SWIFTRNN_SIMD=avx2 forces the AVX2 ones)")
    print(f"threads {swiftrnn.get_num_threads()} (set_num_threads: 1 to 64)")
    print(f"fma peak {_native.fma_peak_gflops(0.1):.1f} GFLOP/s on one core at the kernels' vector width "
          "(measured now; no GEMM can exceed it)")
    print(f"build Swift core in {os.path.dirname(_native.__file__)}/libswiftrnn_capi.so: release, -Ounchecked, "
          "static Swift stdlib")
    print(f"abi {_native.abi_version()}")
    print(f"machine {platform.machine()}")


# --- train ------------------------------------------------------------------------------------

def _some(tokens: List[str], limit: int = 10) -> str:
    """The first ``limit`` tokens, quoted, for a message ("'a', 'b', ...")."""
    return ", ".join(repr(t) for t in tokens[:limit]) + (", ..." if len(tokens) > limit else "")


def read_corpus(path: str) -> str:
    if not os.path.exists(path):
        raise CLIError(f"corpus file {path!r} not found")
    if os.path.isdir(path):
        raise CLIError(f"corpus {path!r} is a directory, expected a UTF-8 text file")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CLIError(f"corpus {path!r} is not UTF-8 text (byte {e.start}: {e.reason})") from None


class _Interrupted(Exception):
    """`train` stopped by a signal after saving: the exit status (128 + the signal) and the message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[List[int]]:
    """SIGINT and SIGTERM set a flag (the list gets the signal's number) that training checks after each step, so
    the run stops at a step's end and is saved; a second signal interrupts at once (KeyboardInterrupt)."""
    received: List[int] = []

    def handler(signum: int, frame: Any) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signum)

    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield received
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _existing_model(path: str) -> bool:
    from swiftrnn.models import CONFIG_FILE

    return os.path.isfile(os.path.join(path, CONFIG_FILE))


# Defaults of the train options that --resume takes from the saved run unless they are given.
TRAIN_DEFAULTS = {"tokenizer": "char", "seq_len": 64, "batch_size": 16, "lr": 3e-3, "clip": 1.0, "seed": 0}
# The architecture of a new model; a saved model (--init-from, --resume) keeps its own. Option -> config key.
ARCHITECTURE_DEFAULTS = {"embedding_dim": 64, "hidden_size": 256, "cell": "rnn", "layers": 1, "dropout": 0.0}
ARCHITECTURE_KEYS = {"embedding_dim": "embedding_dim", "hidden_size": "hidden_size", "cell": "cell",
                     "layers": "num_layers", "dropout": "dropout"}


def train(args: argparse.Namespace) -> None:
    from swiftrnn.models import RNNLanguageModel, check_model_directory

    for name, default in {**TRAIN_DEFAULTS, **ARCHITECTURE_DEFAULTS}.items():
        setattr(args, name + "_given", getattr(args, name) is not None)
        if getattr(args, name) is None:
            setattr(args, name, default)

    check_model_directory(args.out)  # before the training a bad --out would throw away
    same_as_resumed = args.resume is not None and os.path.realpath(args.resume) == os.path.realpath(args.out)
    if _existing_model(args.out) and not args.overwrite and not same_as_resumed:
        raise CLIError(f"--out {args.out!r} holds a saved model: add --overwrite to replace it (or --resume "
                       f"{args.out} to continue its run)")
    base: Optional[RNNLanguageModel] = None
    base_vocab: Optional[Vocab] = None
    run: Dict[str, Any] = {}  # the saved run's training_state, with --resume
    if args.resume is not None or args.init_from is not None:
        source = args.resume if args.resume is not None else args.init_from
        if args.min_freq > 1 or args.max_vocab is not None:
            raise CLIError("--min-freq and --max-vocab build a new vocabulary; with --init-from or --resume the "
                           "model's vocabulary is used")
        base = RNNLanguageModel.load(source)
        for name, key in ARCHITECTURE_KEYS.items():  # a saved model's architecture is not changed by a flag
            if getattr(args, name + "_given") and getattr(args, name) != base.config[key]:
                flag = "--" + name.replace("_", "-")
                raise CLIError(f"{flag} {getattr(args, name)} differs from the model's ({base.config[key]}): "
                               f"{'--resume' if args.resume is not None else '--init-from'} keeps the saved "
                               "architecture; leave the flag out")
        base_vocab = base.vocab
        if base_vocab is None:
            raise CLIError(f"model {source!r} has no vocabulary (vocab.json) to encode the corpus with")
        if args.resume is not None:
            if base.training_state is None:
                raise CLIError(f"model {source!r} has no training state (training.json) to resume: it was not "
                               "saved by `train` or after RNNLanguageModel.fit; use --init-from to fine-tune it")
            run = base.training_state
        if base.tokenizer is not None and base.tokenizer != args.tokenizer:
            if args.tokenizer_given:
                raise CLIError(f"--tokenizer {args.tokenizer} differs from the model's ({base.tokenizer})")
            args.tokenizer = base.tokenizer
    if args.resume is not None:  # the run's settings, unless given again (then fit checks they agree)
        saved = run["settings"]
        for name in ("seq_len", "batch_size", "lr", "clip", "seed"):
            if not getattr(args, name + "_given"):
                setattr(args, name, saved[name] if saved[name] is not None else 0.0)
        for name in ("eval_every", "patience"):  # the saved run's validation schedule, unless given again
            if getattr(args, name) is None:
                setattr(args, name, saved[name])
    text = read_corpus(args.corpus)
    tokens = tokenize(text, args.tokenizer)
    if not text.strip() or not tokens:
        raise CLIError(f"corpus {args.corpus!r} is empty: no tokens with tokenizer {args.tokenizer!r}")
    if len(tokens) < args.seq_len + 1:
        raise CLIError(f"corpus {args.corpus!r} has {len(tokens)} tokens ({args.tokenizer}); --seq-len "
                       f"{args.seq_len} needs at least {args.seq_len + 1}: use a smaller --seq-len or a longer text")
    if base is not None and base_vocab is not None:
        vocab = base_vocab
        unknown = vocab.unknown(tokens) if vocab.unk_index is None else []
        if unknown:
            shown = _some(unknown)
            raise CLIError(f"the corpus has {len(unknown)} token(s) not in the vocabulary of "
                           f"{args.resume or args.init_from!r} ({args.tokenizer} tokens): {shown}")
        model = base
    else:
        if args.min_freq > 1 or args.max_vocab is not None:  # rare tokens are left out and read as <unk>
            vocab = Vocab.build(tokens, specials=(Vocab.UNK,), min_freq=args.min_freq, max_tokens=args.max_vocab)
        else:
            vocab = Vocab.build(tokens)
        swiftrnn.manual_seed(args.seed)
        model = RNNLanguageModel(len(vocab), embedding_dim=args.embedding_dim, hidden_size=args.hidden_size,
                                 num_layers=args.layers, dropout=args.dropout, cell=args.cell)
    ids = vocab.encode(tokens)
    val_ids = None
    if args.val_fraction is not None:
        n_val = max(2, round(len(ids) * args.val_fraction))
    else:  # a resumed run holds out what it held out
        n_val = run["settings"]["val_ids"] if run else 0
    if args.eval_every is not None and not n_val:
        raise CLIError("--eval-every scores held-out text: give --val-fraction too")
    if args.patience is not None and args.eval_every is None:
        raise CLIError("--patience counts validations: give --val-fraction and --eval-every too")
    if n_val:  # the tail of the corpus is held out and scored, never trained on
        if len(ids) - n_val < args.seq_len + 1:
            raise CLIError(f"--val-fraction leaves {len(ids) - n_val} tokens to train on; --seq-len {args.seq_len} "
                           f"needs at least {args.seq_len + 1}")
        ids, val_ids = ids[:-n_val], ids[-n_val:]
    steps = args.steps if args.steps is not None or args.epochs is not None else 600
    if args.resume is not None and args.steps is None and args.epochs is None:
        steps, args.epochs = run["settings"]["steps"], run["settings"]["epochs"]
    c = model.config
    n_params = sum(p.size for p in model.parameters())
    print(f"corpus {args.corpus}: {len(text):,} characters -> {len(tokens):,} tokens ({args.tokenizer}), "
          f"vocabulary {len(vocab):,}" + (f"; the last {n_val:,} held out for validation" if n_val else ""))
    print(f"model: {c['cell']}, embedding {c['embedding_dim']}, hidden {c['hidden_size']}, layers {c['num_layers']}: "
          f"{n_params:,} parameters" + (f" (from {args.init_from})" if args.init_from else "")
          + (f" (resuming {args.resume} at step {run['step']})" if args.resume else ""))

    def save(m: RNNLanguageModel) -> None:
        m.save(args.out, vocab=vocab, tokenizer=args.tokenizer)

    start = time.perf_counter()
    with _stop_on_signals() as received:
        losses = model.fit(ids, steps=steps, epochs=args.epochs, seq_len=args.seq_len, batch_size=args.batch_size,
                           lr=args.lr, clip=args.clip if args.clip > 0 else None, seed=args.seed,
                           progress=not args.quiet, time_limit=args.time_limit, log_every=args.log_every,
                           checkpoint_every=args.checkpoint_every, checkpoint_minutes=args.checkpoint_minutes,
                           checkpoint=save if args.checkpoint_every or args.checkpoint_minutes else None,
                           should_stop=lambda: bool(received), resume=args.resume is not None, val_ids=val_ids,
                           eval_every=args.eval_every if val_ids is not None else None, patience=args.patience)
    elapsed = time.perf_counter() - start
    step = len(losses) + (run["step"] if run else 0)
    if not losses:  # resumed a run that had already reached its total
        print(f"the run was already at step {step} of {steps or 'its epochs'}: nothing to train")
        save(model)
        print(f"saved to {args.out}/")
        return
    # Every step sees batch_size windows of seq_len, except the last step of an epoch, which sees the rest.
    if args.epochs is None:
        n_tokens = len(losses) * args.batch_size * args.seq_len
    else:
        per_epoch = (len(ids) - 1) // args.seq_len
        epochs_done, steps_more = divmod(len(losses), -(-per_epoch // args.batch_size))
        n_tokens = (epochs_done * per_epoch + min(steps_more * args.batch_size, per_epoch)) * args.seq_len
    print(f"trained {len(losses)} steps in {elapsed:.1f} s ({n_tokens / max(elapsed, 1e-9):,.0f} tokens/s): "
          f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    if (model.training_state or {}).get("stopped_early"):
        print(f"stopped early at step {step}: no lower validation loss in the last {args.patience} validations")
    if val_ids is not None:
        print(f"validation loss {model.metrics[-1]['val_loss']:.4f}  perplexity "
              f"{model.metrics[-1]['val_perplexity']:.2f}")
    if not math.isfinite(losses[-1]):
        raise CLIError(f"training diverged (loss {losses[-1]} at step {step}): try a smaller --lr or a "
                       f"--clip; nothing was saved to {args.out}")
    save(model)
    if received:
        name = signal.Signals(received[0]).name
        raise _Interrupted(128 + received[0], f"interrupted by {name} at step {step}: saved the model so far to "
                                              f"{args.out} (continue with --resume {args.out})")
    print(f"saved to {args.out}/ (config.json, weights.npz, vocab.json, training.json, optimizer.npz, "
          "metrics.jsonl)")


# --- generate ---------------------------------------------------------------------------------

def _prompt_ids(model: Any, text: str, what: str, flag: Optional[str] = None) -> Any:
    """The ids of a prompt: an error for an empty one, and for tokens the vocabulary lacks unless it has <unk>
    (then a warning naming them)."""
    mode = model.tokenizer or "char"
    tokens = tokenize(text, mode)
    if not tokens:
        raise CLIError(f"{flag or what} is empty: give at least one token to start from")
    unknown = model.vocab.unknown(tokens)
    if unknown:
        shown = _some(unknown)
        if model.vocab.unk_index is None:
            raise CLIError(f"{what} has {len(unknown)} token(s) not in the model's vocabulary ({mode} tokens): {shown}")
        print(f"warning: {what} has {len(unknown)} token(s) not in the model's vocabulary, read as {Vocab.UNK}: "
              f"{shown}", file=sys.stderr)
    return model.vocab.encode(tokens)


def _continue(model: Any, ids: Any, seed: Optional[int], settings: Dict[str, Any]) -> str:
    with swiftrnn.no_grad():
        out = model.generate(ids, seed=seed, **settings)
    return detokenize(model.vocab.decode(out), model.tokenizer or "char")


# Each worker process of `generate --workers` and `evaluate --workers` loads the model once and runs
# single-threaded; settings holds what every job of the command shares.
_WORKER: Dict[str, Any] = {}
# Fresh interpreters rather than forks: a fork copies the core's worker threads' locks in whatever state they are.
_SPAWN = multiprocessing.get_context("spawn")


def _pool(workers: int, settings: Dict[str, Any]) -> Any:
    """A pool of ``workers`` spawned processes, each with the model loaded. Its functions are passed as
    ``swiftrnn.__main__``'s: run as ``python -m swiftrnn`` this module is ``__main__``, which a spawned
    process cannot import by that name."""
    from concurrent.futures import ProcessPoolExecutor

    module = importlib.import_module("swiftrnn.__main__")
    return ProcessPoolExecutor(workers, mp_context=_SPAWN, initializer=module._worker_init,
                               initargs=(settings["model_dir"], settings)), module
EVAL_BATCH = 16  # RNNLanguageModel.evaluate's default batch_size: the parts --workers spreads are its batches


def _worker_init(model_dir: str, settings: Dict[str, Any]) -> None:
    from swiftrnn.models import RNNLanguageModel

    swiftrnn.set_num_threads(1)
    settings = {k: v for k, v in settings.items() if k != "model_dir"}
    _WORKER.update(model=RNNLanguageModel.load(model_dir).eval(), settings=settings)


def _worker_score(job: Any) -> Any:
    first, last = job
    s = _WORKER["settings"]
    return _WORKER["model"]._window_nll(s["ids"], s["seq_len"], EVAL_BATCH, int(first), int(last))


def _worker_continue(job: Any) -> str:
    ids, seed = job
    return _continue(_WORKER["model"], ids, seed, _WORKER["settings"])


def generate(args: argparse.Namespace) -> None:
    from swiftrnn.models import RNNLanguageModel

    if args.greedy:  # sampling settings would be ignored: say so rather than silently drop them
        given = [flag for flag, value in (("--temperature", args.temperature), ("--top-k", args.top_k),
                                          ("--top-p", args.top_p), ("--seed", args.seed)) if value is not None]
        if given:
            raise CLIError(f"--greedy takes the most likely token every step; {', '.join(given)} would be ignored: "
                           "drop --greedy to sample")
    if args.workers != 1 and args.prompts is None:
        raise CLIError("--workers spreads --prompts FILE over processes; with one --prompt there is one job")

    model = RNNLanguageModel.load(args.model).eval()  # inference only: no dropout, nothing kept for a backward
    if model.vocab is None:
        raise CLIError(f"model {args.model!r} has no vocabulary (vocab.json): save it with "
                       "model.save(dir, vocab=..., tokenizer=...) or train it with `python -m swiftrnn train`")
    settings = {"max_new_tokens": args.length, "temperature": 1.0 if args.temperature is None else args.temperature,
                "top_k": args.top_k, "top_p": args.top_p, "greedy": args.greedy,
                "repetition_penalty": args.repetition_penalty}
    if args.prompts is None:
        print(_continue(model, _prompt_ids(model, args.prompt, "the prompt", "--prompt"), args.seed, settings))
        return

    with open(args.prompts, encoding="utf-8-sig") as f:
        prompts = f.read().splitlines()
    jobs = [_prompt_ids(model, p, f"prompt {n} (line {n} of {args.prompts})") for n, p in enumerate(prompts, 1)]
    # Prompt n samples with its own seed, derived from the run's seed and n: the outputs do not depend on
    # how the prompts are spread over workers.
    base = args.seed if args.seed is not None else int(swiftrnn.random.randint(0, 2**62, ()))
    seeds = [None if args.greedy else int(np.random.SeedSequence([base, n]).generate_state(1, np.uint64)[0] >> 2)
             for n in range(len(jobs))]
    if args.workers == 1:
        outputs = [_continue(model, ids, seed, settings) for ids, seed in zip(jobs, seeds)]
    else:
        pool, module = _pool(args.workers, dict(settings, model_dir=args.model))
        with pool:
            outputs = list(pool.map(module._worker_continue, zip(jobs, seeds),
                                    chunksize=max(1, len(jobs) // (4 * args.workers))))
    for prompt, text in zip(prompts, outputs):  # one JSON object a line: a continuation may hold newlines
        print(json.dumps({"prompt": prompt, "output": text}, ensure_ascii=False))


# --- argument parsing -------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``python -m swiftrnn train: error: ... (see --help)``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {v}")
        return v
    return parse


def _float_in(lo: float, lo_open: bool, hi: Optional[float] = None) -> Callable[[str], float]:
    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
        if v != v or (v <= lo if lo_open else v < lo) or (hi is not None and v > hi) or v == float("inf"):
            bound = f"> {lo}" if lo_open else f">= {lo}"
            raise argparse.ArgumentTypeError(f"expected a finite number {bound}"
                                             + (f" and <= {hi}" if hi is not None else "") + f", got {s}")
        return v
    return parse


def _tokenizer(s: str) -> str:
    if s not in TOKENIZERS:
        raise argparse.ArgumentTypeError(f"unknown tokenizer {s!r}: expected one of " + ", ".join(TOKENIZERS))
    return s


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="swiftrnn: recurrent networks with a fast Swift core.",
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"{PROG} {swiftrnn.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("demo", help="the tutorial's examples, then a character model trained on a built-in corpus")
    sub.add_parser("info", help="print version, SIMD level, threads and build facts")

    t = sub.add_parser("train", help="train an RNN, LSTM or GRU language model on a UTF-8 text file",
                       description="Train an RNNLanguageModel on CORPUS and save it (config.json, weights.npz, "
                                   "vocab.json) to --out. Default: 600 steps of 16 random windows of 64 tokens.")
    t.add_argument("corpus", metavar="CORPUS", help="a UTF-8 text file")
    t.add_argument("--tokenizer", type=_tokenizer, default=None, metavar="|".join(TOKENIZERS),
                   help="how to split the text: characters, jieba words or whitespace (default: char, or the "
                        "model's with --init-from / --resume)")
    t.add_argument("--out", required=True, metavar="DIR",
                   help="directory to save the model to: new or empty, or a saved model with --overwrite (replaced "
                        "when training succeeds); checked before training")
    t.add_argument("--overwrite", action="store_true", help="replace a model saved at --out")
    start = t.add_mutually_exclusive_group()
    start.add_argument("--init-from", metavar="DIR", default=None,
                       help="start from a saved model's weights and vocabulary (fine-tuning on CORPUS, a fresh "
                            "optimizer); its architecture is used (--cell, --layers, ... if given must agree)")
    start.add_argument("--resume", metavar="DIR", default=None,
                       help="continue the run saved in DIR (by an interrupt, a checkpoint or the end): weights, "
                            "optimizer state, step, window order and validation schedule; --steps is the run's total")
    t.add_argument("--val-fraction", type=_float_in(0.0, True, 0.5), default=None, metavar="F",
                   help="hold out the last F of the corpus (0 < F <= 0.5) and report its loss and perplexity "
                        "(in metrics.jsonl too)")
    t.add_argument("--eval-every", type=_int_at_least(1), default=None, metavar="N",
                   help="with --val-fraction, score the held-out text every N steps as well as at the end")
    t.add_argument("--patience", type=_int_at_least(1), default=None, metavar="K",
                   help="with --eval-every, stop after K validations in a row without a lower validation loss")
    t.add_argument("--checkpoint-every", type=_int_at_least(1), default=None, metavar="N",
                   help="save the model (and the run's state) to --out every N steps")
    t.add_argument("--checkpoint-minutes", type=_float_in(0.0, True), default=None, metavar="M",
                   help="save the model (and the run's state) to --out every M minutes (with or without "
                        "--checkpoint-every)")
    length = t.add_mutually_exclusive_group()
    length.add_argument("--steps", type=_int_at_least(1), help="training steps (default: 600)")
    length.add_argument("--epochs", type=_int_at_least(1), help="passes over the corpus instead of --steps")
    t.add_argument("--seq-len", type=_int_at_least(1), default=None, help="tokens per window (default: 64)")
    t.add_argument("--batch-size", type=_int_at_least(1), default=None, help="windows per step (default: 16)")
    t.add_argument("--min-freq", type=_int_at_least(1), default=1, metavar="N",
                   help="keep tokens seen at least N times; the others become <unk> (default: 1, keep all)")
    t.add_argument("--max-vocab", type=_int_at_least(2), default=None, metavar="N",
                   help="keep the N - 1 most frequent tokens and <unk> for the others")
    t.add_argument("--embedding-dim", type=_int_at_least(1), default=None, help="default: 64")
    t.add_argument("--hidden-size", type=_int_at_least(1), default=None, help="default: 256")
    t.add_argument("--cell", choices=("rnn", "lstm", "gru"), default=None,
                   help="the recurrent layer: Elman RNN, LSTM or GRU (default: rnn)")
    t.add_argument("--layers", type=_int_at_least(1), default=None, help="recurrent layers (default: 1)")
    t.add_argument("--dropout", type=_float_in(0.0, False, 1.0), default=None,
                   help="dropout between recurrent layers (default: 0)")
    t.add_argument("--lr", type=_float_in(0.0, True), default=None, help="Adam learning rate (default: 3e-3)")
    t.add_argument("--clip", type=_float_in(0.0, False), default=None,
                   help="max gradient norm, 0 for none (default: 1.0)")
    t.add_argument("--seed", type=_int_at_least(0), default=None,
                   help="seeds initialisation and window sampling (default: 0)")
    t.add_argument("--time-limit", type=_float_in(0.0, True), default=None, metavar="SECONDS",
                   help="stop training early after this many seconds")
    t.add_argument("--quiet", action="store_true", help="no progress report")
    t.add_argument("--log-every", type=_float_in(0.0, True), default=10.0, metavar="SECONDS",
                   help="when stderr is not a terminal (nohup, a pipe, CI), a progress line this often (default: 10)")

    g = sub.add_parser("generate", help="continue a prompt with a trained model",
                       description="Print the prompt followed by --length generated tokens.")
    g.add_argument("model", metavar="DIR", help="a directory written by `train` (or RNNLanguageModel.save)")
    source = g.add_mutually_exclusive_group(required=True)
    source.add_argument("--prompt", help="the text to continue")
    source.add_argument("--prompts", metavar="FILE",
                        help="a UTF-8 file of prompts, one a line: prints one JSON line per prompt "
                             "({\"prompt\": ..., \"output\": ...}); with sampling, prompt n's seed derives from --seed and n")
    g.add_argument("--workers", type=_int_at_least(1), default=1, metavar="N",
                   help="with --prompts, generate in N processes, each single-threaded (the same output as 1)")
    g.add_argument("--length", type=_int_at_least(0), default=100, help="new tokens to generate (default: 100)")
    g.add_argument("--temperature", type=_float_in(0.0, True), default=None, help="sampling temperature (default: 1)")
    g.add_argument("--top-k", type=_int_at_least(1), default=None, help="sample among the k most likely tokens")
    g.add_argument("--top-p", type=_float_in(0.0, True, 1.0), default=None,
                   help="sample among the most likely tokens whose probability reaches P (nucleus sampling)")
    g.add_argument("--repetition-penalty", type=_float_in(0.0, True), default=1.0, metavar="R",
                   help="make tokens already in the text less likely: a positive logit is divided by R, a "
                        "negative one multiplied (default: 1, off; applies with --greedy too)")
    g.add_argument("--greedy", action="store_true",
                   help="always take the most likely token (not with --temperature, --top-k, --top-p or --seed)")
    g.add_argument("--seed", type=_int_at_least(0), default=None, help="seed for sampling (default: fresh)")

    e = sub.add_parser("evaluate", help="the loss and perplexity of a trained model on a text file")
    e.add_argument("model", metavar="DIR", help="a directory written by `train`")
    e.add_argument("text", metavar="FILE", help="a UTF-8 text file, tokenized as the model's tokenizer")
    e.add_argument("--seq-len", type=_int_at_least(1), default=None,
                   help="score independent windows of this many predictions (default: one stream, the hidden "
                        "state carried through the whole text)")
    e.add_argument("--workers", type=_int_at_least(1), default=1, metavar="N",
                   help="with --seq-len, score the windows in N processes, each single-threaded (the same result)")

    p = sub.add_parser("plot", help="draw a trained model's loss curve as a PNG (needs matplotlib)",
                       description="Plot the training (and validation) loss per step from MODEL_DIR/metrics.jsonl.")
    p.add_argument("model", metavar="MODEL_DIR", help="a directory written by `train`")
    p.add_argument("--output", metavar="PNG", default=None, help="the image to write (default: MODEL_DIR-loss.png, beside the directory)")

    x = sub.add_parser("export", help="write a trained model as an ONNX file (needs pip install 'swiftrnn[onnx]')")
    x.add_argument("model", metavar="MODEL_DIR", help="a directory written by `train`")
    x.add_argument("output", metavar="MODEL.onnx", help="the ONNX file to write")
    return parser


def evaluate(args: argparse.Namespace) -> None:
    from swiftrnn.models import RNNLanguageModel

    model = RNNLanguageModel.load(args.model).eval()
    if model.vocab is None:
        raise CLIError(f"model {args.model!r} has no vocabulary (vocab.json) to encode the text with")
    with open(args.text, encoding="utf-8") as f:
        tokens = tokenize(f.read(), model.tokenizer or "char")
    unknown = model.vocab.unknown(tokens)
    if unknown and model.vocab.unk_index is None:
        raise CLIError(f"the text has {len(unknown)} token(s) not in the model's vocabulary, e.g. {unknown[0]!r}")
    if unknown:  # scored as <unk>, which flatters the loss: say how many
        shown = _some(unknown)
        print(f"warning: the text has {len(unknown)} token(s) not in the model's vocabulary, read as {Vocab.UNK}: "
              f"{shown}", file=sys.stderr)
    if len(tokens) < 2:
        raise CLIError("the text needs at least two tokens (one to predict the next from)")
    ids = model.vocab.encode(tokens)
    if args.workers == 1:
        loss = model.evaluate(ids, seq_len=args.seq_len)
    else:  # the windows' batches in contiguous ranges, one per job; their sums added in evaluate's order
        if args.seq_len is None:
            raise CLIError("--workers scores independent windows: give --seq-len too (without it the hidden "
                           "state runs through the whole text, one step after another)")
        parts = model._window_batches(len(ids), args.seq_len, EVAL_BATCH)
        bounds = np.linspace(0, parts, min(parts, 4 * args.workers) + 1).astype(int)
        pool, module = _pool(args.workers, {"model_dir": args.model, "ids": ids, "seq_len": args.seq_len})
        with pool:
            results = pool.map(module._worker_score, zip(bounds[:-1], bounds[1:]))
            total, count = 0.0, 0
            for part_total, part_count in (p for chunk in results for p in chunk):
                total += part_total
                count += part_count
        loss = total / count
    print(f"loss {loss:.4f}  perplexity {math.exp(min(loss, 700)):.2f}  tokens {len(tokens)}")


def plot(args: argparse.Namespace) -> None:
    from swiftrnn.models import METRICS_FILE, RNNLanguageModel

    model = RNNLanguageModel.load(args.model)  # the metrics are checked against config.json's hash
    if not model.metrics:
        raise CLIError(f"model {args.model!r} has no {METRICS_FILE}: it was saved before any training step")
    try:  # an optional extra: imported by name, so type checkers need no stubs for it
        matplotlib = importlib.import_module("matplotlib")
    except ImportError:
        raise CLIError("plot needs matplotlib: pip install 'swiftrnn[plot]'") from None
    matplotlib.use("Agg")  # a file, no display needed
    plt = importlib.import_module("matplotlib.pyplot")

    # Beside the model, not in it: a save replaces the model's directory and refuses one holding other files.
    out = args.output or os.path.normpath(args.model) + "-loss.png"
    fig, ax = plt.subplots(figsize=(7, 4))
    try:
        ax.plot([m["step"] for m in model.metrics], [m["loss"] for m in model.metrics], label="training loss", lw=1)
        val = [m for m in model.metrics if "val_loss" in m]
        if val:
            ax.plot([m["step"] for m in val], [m["val_loss"] for m in val], "o-", label="validation loss")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats)")
        ax.set_title(os.path.basename(os.path.normpath(args.model)))
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out, dpi=100)
    finally:
        plt.close(fig)
    print(f"wrote {out}")


def export(args: argparse.Namespace) -> None:
    from swiftrnn import onnx  # an ImportError says how to install the extra

    onnx.export_model_dir(args.model, args.output)
    print(f"wrote {args.output}")


def _one_line(e: BaseException) -> str:
    msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        msg = f"{e.strerror}: {e.filename!r}"
    return " ".join(str(msg).split()) or type(e).__name__


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    commands: Any = {"demo": lambda a: demo(), "info": lambda a: info(), "train": train, "generate": generate,
                     "evaluate": evaluate, "export": export, "plot": plot}
    try:
        commands[args.command](args)
    except _Interrupted as e:
        print(f"{PROG} {args.command}: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CLIError, OSError, ValueError, KeyError, ImportError, OverflowError) as e:
        print(f"{PROG} {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except MemoryError as e:  # sizes too large for this machine (--length, --embedding-dim, --layers, ...)
        print(f"{PROG} {args.command}: error: out of memory: {_one_line(e)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
