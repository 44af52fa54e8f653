"""One training step of a character-level language model, swiftrnn vs PyTorch (when importable).

The step is the tutorial's model trained the usual way: embedding -> RNN (or LSTM, GRU) -> linear ->
cross-entropy -> backward -> Adam, V=459 characters, E=64, H=256, a batch of 16 sequences of 64 steps
(1024 tokens). Both implementations start from the same weights and run interleaved in this one process on
one thread; the table shows median step times, tokens/s and the ratio (targets: swiftrnn >= 2x PyTorch with
the RNN, >= 1.5x with the LSTM). Before timing, a few steps of both are compared (losses and updated weights)
so the numbers are those of the same computation.

    python benchmarks/train_char_lm.py              # ~20 s
    python benchmarks/train_char_lm.py --cell lstm  # the LSTM's step (or gru)
    python benchmarks/train_char_lm.py --quick      # ~5 s
    python benchmarks/train_char_lm.py --markdown   # only the table
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Dict, List

import numpy as np

import swiftrnn
from swiftrnn import nn, optim

try:
    import torch
except ImportError:  # the PyTorch column is left empty
    torch = None

V, E, H, N, L = 459, 64, 256, 16, 64
TARGETS = {"rnn": 2.0, "lstm": 1.5, "gru": None}  # PyTorch time / swiftrnn time; none set for the GRU
GATES = {"rnn": 1, "lstm": 4, "gru": 3}           # blocks of H rows in W_ih and W_hh
LAYERS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def training_flops(cell: str = "rnn") -> float:
    """The step's GEMM flops (2 per multiply-add). Forward: the input projection, L - 1 recurrent steps
    (h0 = 0 needs none at t = 0), each with one block of H rows per gate, and the Linear; the backward runs
    two GEMMs of the same size for each (the gradients w.r.t. the GEMM's input and weight), so the total is
    three times the forward's."""
    forward = 2 * (GATES[cell] * (L * N * E * H + (L - 1) * N * H * H) + L * N * H * V)
    return 3.0 * forward


class SwiftLM:
    def __init__(self, cell: str = "rnn") -> None:
        self.embedding = nn.Embedding(V, E)
        self.rnn = getattr(nn, LAYERS[cell])(E, H)
        self.fc = nn.Linear(H, V)
        self.criterion = nn.CrossEntropyLoss()
        self.params = [*self.embedding.parameters(), *self.rnn.parameters(), *self.fc.parameters()]
        self.optimizer = optim.Adam(self.params, lr=2e-3)

    def step(self, x: np.ndarray, y: np.ndarray) -> float:
        self.optimizer.zero_grad()
        out, _ = self.rnn(self.embedding(x))
        logits = self.fc(out)
        loss = self.criterion(logits.reshape(-1, V), y.reshape(-1))
        grad = self.criterion.backward().reshape(logits.shape)
        grad, _ = self.rnn.backward(self.fc.backward(grad))
        self.embedding.backward(grad)
        self.optimizer.step()
        return loss


def torch_lm(ours: SwiftLM):
    emb, rnn, fc = torch.nn.Embedding(V, E), getattr(torch.nn, type(ours.rnn).__name__)(E, H), torch.nn.Linear(H, V)
    for mod, src in ((emb, ours.embedding), (rnn, ours.rnn), (fc, ours.fc)):
        mod.load_state_dict({k: torch.from_numpy(v) for k, v in src.state_dict().items()})
    params = [*emb.parameters(), *rnn.parameters(), *fc.parameters()]
    opt = torch.optim.Adam(params, lr=2e-3)
    crit = torch.nn.CrossEntropyLoss()

    def step(x: np.ndarray, y: np.ndarray) -> float:
        opt.zero_grad()
        out, _ = rnn(emb(torch.from_numpy(x)))
        loss = crit(fc(out).reshape(-1, V), torch.from_numpy(y).reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()
    return step, (emb, rnn, fc)


def measure(fns: Dict[str, Callable[[], object]], budget: float) -> Dict[str, Dict[str, float]]:
    """Median wall-clock and CPU (this thread) seconds per call of each function, calls interleaved
    round-robin within `budget` seconds. Both run on this one thread, so CPU time is the steadier figure
    on a shared machine (it leaves out the time the thread waits for a core)."""
    wall: Dict[str, List[float]] = {k: [] for k in fns}
    cpu: Dict[str, List[float]] = {k: [] for k in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < 5 or (time.perf_counter() - start < budget and rounds < 10000):
        for name, f in fns.items():
            w0, c0 = time.perf_counter(), time.thread_time()
            f()
            cpu[name].append(time.thread_time() - c0)
            wall[name].append(time.perf_counter() - w0)
        rounds += 1
    return {k: {"wall": statistics.median(wall[k]), "cpu": statistics.median(cpu[k])} for k in fns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter time budget")
    parser.add_argument("--markdown", action="store_true", help="print only the markdown table")
    parser.add_argument("--cell", choices=tuple(GATES), default="rnn", help="the recurrent layer (default: rnn)")
    args = parser.parse_args()
    budget = 4.0 if args.quick else 16.0

    swiftrnn.set_num_threads(1)
    swiftrnn.manual_seed(0)
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, V, size=(L, N)), rng.integers(0, V, size=(L, N))) for _ in range(8)]
    ours = SwiftLM(args.cell)
    fns: Dict[str, Callable[[], object]] = {}
    counter = {"swiftrnn": 0, "torch": 0}

    def run(name: str, step: Callable[[np.ndarray, np.ndarray], float]) -> Callable[[], float]:
        def f() -> float:
            x, y = batches[counter[name] % len(batches)]
            counter[name] += 1
            return step(x, y)
        return f

    if torch is not None:
        torch.set_num_threads(1)
        ref_step, ref_modules = torch_lm(ours)
        # Same weights, same steps, same numbers: a benchmark of a different computation would be worthless.
        for i in range(3):
            x, y = batches[i]
            a, b = ours.step(x, y), ref_step(x, y)
            assert abs(a - b) <= 1e-4 * abs(b) + 1e-5, f"step {i}: loss {a} (swiftrnn) vs {b} (torch)"
        theirs = {k: v.detach().numpy() for m in ref_modules for k, v in m.state_dict().items()}
        mine = {k: v for m in (ours.embedding, ours.rnn, ours.fc) for k, v in m.state_dict().items()}
        worst = max(float(np.abs(mine[k] - theirs[k]).max()) for k in mine)
        assert worst < 1e-4, f"weights after 3 Adam steps differ by {worst}"
        fns["torch"] = run("torch", ref_step)
    fns["swiftrnn"] = run("swiftrnn", ours.step)
    for f in fns.values():  # warm up
        f()
    t = measure(fns, budget)

    tokens = N * L
    lines = [f"| char-LM training step, {LAYERS[args.cell]} (V=459, E=64, H=256, 16 x 64 tokens, Adam), 1 thread "
             "| CPU time / step | tokens/s (CPU time) | wall time / step | tokens/s (wall) |",
             "|---|---|---|---|---|"]
    for name in ("swiftrnn", "torch"):
        if name in t:
            c, w = t[name]["cpu"], t[name]["wall"]
            lines.append(f"| {name} | {c * 1e3:.2f} ms | {tokens / c:,.0f} | {w * 1e3:.2f} ms | {tokens / w:,.0f} |")
    if "torch" in t:
        rc = t["torch"]["cpu"] / t["swiftrnn"]["cpu"]
        rw = t["torch"]["wall"] / t["swiftrnn"]["wall"]
        target = TARGETS[args.cell]
        verdict = lambda r: f"{r:.2f}x" + ("" if target is None else
                                           f" ({'met' if r >= target else '**missed**'}: target >= {target}x)")
        lines.append(f"| PyTorch / swiftrnn | {verdict(rc)} | | {verdict(rw)} | |")
    table = "\n".join(lines)
    if args.markdown:
        print(table)
        return
    print(f"swiftrnn {swiftrnn.__version__}, torch {torch.__version__ if torch else 'not installed'}, numpy {np.__version__}")
    if "torch" in fns:
        print(f"checked: 3 steps agree with PyTorch (losses within 1e-4 relative; weights within {worst:.1e})\n")
    print(table)


if __name__ == "__main__":
    main()
