"""Text generation end to end: fit quality, memorisation and throughput, swiftrnn vs the same loop in PyTorch.

The text-generation recipe: the tutorial text (~6k characters of Chinese), character level,
RNNLanguageModel(E=64, H=256), 600 Adam steps (lr 3e-3, gradient norm clipped to 1.0) of 16 random
windows of 64 characters, one thread. Both frameworks start from the same initial weights and see the
same windows (drawn as ``RNNLanguageModel.fit`` documents), so their loss curves are directly comparable.

Reported: the final training loss (last step, and the mean of the last 50 steps), the loss over the
whole text read as one stream, training tokens/s, greedy generation from a few prompts taken from the
text (how many generated characters continue the text verbatim, and how many lie inside a 10-character
span that occurs in the text), and generation speed (new tokens/s, one token at a time). Training speed is
given by wall time and by CPU time (the fairer figure on a shared machine).

    python benchmarks/text_quality.py --corpus TUTORIAL.txt  # or SWIFTRNN_TUTORIAL_TEXT=TUTORIAL.txt
    python benchmarks/text_quality.py --corpus FILE --steps 300 --no-torch

Run it with a Python where swiftrnn is importable (and torch, for the PyTorch column). The tutorial text
is not shipped with swiftrnn: pass its file (the prompts below come from it).
"""
from __future__ import annotations

import argparse
import os
import time
from typing import Dict, List, Optional

import numpy as np

import swiftrnn
from swiftrnn.models import TORCH_EQUIVALENT, RNNLanguageModel
from swiftrnn.text import Vocab, tokenize

try:
    import torch
except ImportError:
    torch = None

DEFAULT_CORPUS = os.environ.get("SWIFTRNN_TUTORIAL_TEXT")
PROMPTS = ("循环神经网络", "词嵌入层", "隐藏状态", "输入数据", "文本生成")
GEN_TOKENS = 60
SPAN = 10


def windows(ids: np.ndarray, steps: int, seq_len: int, batch_size: int, seed: int):
    """The batches RNNLanguageModel.fit(steps=...) draws: uniform random starts from default_rng(seed)."""
    rng = np.random.default_rng(seed)
    offsets = np.arange(seq_len + 1)
    for _ in range(steps):
        yield ids[rng.integers(0, len(ids) - seq_len, size=batch_size)[:, None] + offsets]


def verbatim_chars(text: str, prompt: str, continuation: str) -> int:
    """How many characters of ``continuation`` continue ``prompt`` exactly as some passage of ``text`` does."""
    n = 0
    while n < len(continuation) and (prompt + continuation[:n + 1]) in text:
        n += 1
    return n


def span_coverage(text: str, generated: str, span: int = SPAN) -> float:
    """The fraction of characters of ``generated`` inside some ``span``-character substring that occurs in ``text``."""
    covered = np.zeros(len(generated), dtype=bool)
    for i in range(len(generated) - span + 1):
        if generated[i:i + span] in text:
            covered[i:i + span] = True
    return float(covered.mean()) if len(generated) else 0.0


def judge(text: str, samples: Dict[str, str]) -> Dict[str, float]:
    verb = [verbatim_chars(text, p, s) for p, s in samples.items()]
    cov = [span_coverage(text, s) for s in samples.values()]
    return {"verbatim": float(np.mean(verb)), "coverage": float(np.mean(cov))}


def run_swiftrnn(text, vocab, ids, init_state, args) -> dict:
    model = RNNLanguageModel(len(vocab), embedding_dim=64, hidden_size=256)
    model.load_state_dict(init_state)
    start, cpu_start = time.perf_counter(), time.process_time()
    losses = model.fit(ids, steps=args.steps, seq_len=64, batch_size=16, lr=3e-3, clip=1.0, seed=args.seed,
                       progress=False)
    train_s, train_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    samples = {}
    gen_start = time.perf_counter()
    for p in PROMPTS:
        out = model.generate(vocab.encode(tokenize(p, "char")), GEN_TOKENS, greedy=True)
        samples[p] = "".join(vocab.decode(out[len(p):]))
    gen_s = time.perf_counter() - gen_start
    return {"losses": losses, "train_s": train_s, "train_cpu": train_cpu, "eval": model.evaluate(ids),
            "samples": samples, "gen_tok_s": len(PROMPTS) * GEN_TOKENS / gen_s}


def run_torch(text, vocab, ids, init_state, args) -> Optional[dict]:
    if torch is None:
        return None
    torch.set_num_threads(args.threads)
    scope: dict = {}
    exec(TORCH_EQUIVALENT, scope)
    V = len(vocab)
    model = scope["TorchRNNLanguageModel"](V, embedding_dim=64, hidden_size=256)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in init_state.items()})
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses: List[float] = []
    model.train()
    start, cpu_start = time.perf_counter(), time.process_time()
    for w in windows(ids, args.steps, 64, 16, args.seed):
        x, y = torch.from_numpy(w[:, :-1]), torch.from_numpy(w[:, 1:])
        logits, _ = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    train_s, train_cpu = time.perf_counter() - start, time.process_time() - cpu_start
    model.eval()
    samples = {}
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(ids[None, :-1]))
        eval_loss = torch.nn.functional.cross_entropy(logits[0], torch.from_numpy(ids[1:])).item()
        gen_start = time.perf_counter()
        for p in PROMPTS:  # the same streaming loop: the prompt once, then one step per token
            logits, h = model(torch.from_numpy(vocab.encode(tokenize(p, "char"))[None, :]))
            out = []
            for i in range(GEN_TOKENS):
                tok = int(logits[0, -1].argmax())
                out.append(tok)
                if i + 1 < GEN_TOKENS:
                    logits, h = model(torch.tensor([[tok]]), h)
            samples[p] = "".join(vocab.decode(out))
        gen_s = time.perf_counter() - gen_start
    return {"losses": losses, "train_s": train_s, "train_cpu": train_cpu, "eval": eval_loss, "samples": samples,
            "gen_tok_s": len(PROMPTS) * GEN_TOKENS / gen_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=DEFAULT_CORPUS,
                        help="the tutorial text, UTF-8 (default: $SWIFTRNN_TUTORIAL_TEXT)")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch column")
    args = parser.parse_args()
    if args.corpus is None:
        parser.error("give the tutorial text: --corpus FILE or SWIFTRNN_TUTORIAL_TEXT=FILE")
    global torch
    if args.no_torch:
        torch = None

    with open(args.corpus, encoding="utf-8") as f:
        text = f.read()
    tokens = tokenize(text, "char")
    vocab = Vocab.build(tokens)
    ids = vocab.encode(tokens)
    swiftrnn.set_num_threads(args.threads)
    swiftrnn.manual_seed(args.seed)
    init_state = RNNLanguageModel(len(vocab), embedding_dim=64, hidden_size=256).state_dict()
    print(f"corpus {args.corpus}: {len(tokens)} characters, vocabulary {len(vocab)}; "
          f"E=64 H=256, {args.steps} Adam steps of 16 x 64, lr 3e-3, clip 1.0, {args.threads} thread(s)")
    if torch is not None:
        print(f"torch {torch.__version__}")

    results = {"swiftrnn": run_swiftrnn(text, vocab, ids, init_state, args),
               "PyTorch": run_torch(text, vocab, ids, init_state, args)}
    results = {k: v for k, v in results.items() if v is not None}
    if not results:
        return
    tokens_trained = args.steps * 16 * 64
    rows = [
        ("loss, first step", lambda r: f"{r['losses'][0]:.4f}"),
        ("loss, last step", lambda r: f"{r['losses'][-1]:.4f}"),
        ("loss, mean of last 50 steps", lambda r: f"{np.mean(r['losses'][-50:]):.4f}"),
        ("loss over the whole text (one stream)", lambda r: f"{r['eval']:.4f}"),
        ("training time, wall (s)", lambda r: f"{r['train_s']:.1f}"),
        ("training time, CPU (s)", lambda r: f"{r['train_cpu']:.1f}"),
        ("training tokens/s (wall)", lambda r: f"{tokens_trained / r['train_s']:,.0f}"),
        ("training tokens/s (CPU)", lambda r: f"{tokens_trained / r['train_cpu']:,.0f}"),
        (f"greedy: verbatim chars of {GEN_TOKENS} (mean)", lambda r: f"{judge(text, r['samples'])['verbatim']:.1f}"),
        (f"greedy: chars inside a {SPAN}-char span of the text", lambda r: f"{judge(text, r['samples'])['coverage']:.0%}"),
        ("generation tokens/s (one at a time)", lambda r: f"{r['gen_tok_s']:,.0f}"),
    ]
    names = list(results)
    width = max(len(r[0]) for r in rows)
    header = f"| {'':<{width}} | " + " | ".join(f"{n:>10}" for n in names)
    if len(names) == 2:
        header += " | swiftrnn / PyTorch"
    print()
    print(header + " |")
    print("|" + "-" * (width + 2) + "|" + "|".join("-" * 12 for _ in names) + ("|" + "-" * 20 if len(names) == 2 else "") + "|")
    for label, fmt in rows:
        line = f"| {label:<{width}} | " + " | ".join(f"{fmt(results[n]):>10}" for n in names)
        if len(names) == 2:
            ratio = ""
            if label == "training tokens/s (wall)":
                ratio = f"{results['PyTorch']['train_s'] / results['swiftrnn']['train_s']:.2f}x"
            elif label == "training tokens/s (CPU)":
                ratio = f"{results['PyTorch']['train_cpu'] / results['swiftrnn']['train_cpu']:.2f}x"
            elif label.startswith("generation tokens/s"):
                ratio = f"{results['swiftrnn']['gen_tok_s'] / results['PyTorch']['gen_tok_s']:.2f}x"
            line += f" | {ratio:>18}"
        print(line + " |")
    for name, r in results.items():
        print(f"\n{name}, greedy continuations:")
        for p, s in r["samples"].items():
            print(f"  {p} | {s}".replace("\n", "⏎"))


if __name__ == "__main__":
    main()
