"""Text generation speed, one token at a time: swiftrnn vs PyTorch (when importable), interleaved in one process.

Two ways to generate, per cell (RNN, LSTM, GRU) and model size (embedding -> recurrent layer -> linear -> argmax,
the next token fed back in):
- `RNNLanguageModel.generate` (greedy): the weights are packed once per call, then each token is one
  single-step recurrent call and one Linear call on the packed weights;
- the tutorial's own loop of module calls, `rnn(emb(token), h)` then `fc(out)`, in swiftrnn and in torch:
  every call sees the weights for the first time (for up to 4 rows swiftrnn reads them in place).

    python benchmarks/generation.py            # microseconds per token, medians over interleaved rounds
    python benchmarks/generation.py --cell rnn # one cell only
"""
from __future__ import annotations

import os
import statistics
import time
from typing import Callable, Dict

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import swiftrnn  # noqa: E402
from swiftrnn import nn  # noqa: E402
from swiftrnn.models import RNNLanguageModel  # noqa: E402

try:
    import torch
except ImportError:  # the PyTorch column is left empty
    torch = None

TOKENS = 200


def per_token(fns: Dict[str, Callable[[], object]], rounds: int = 9) -> Dict[str, float]:
    """Median microseconds per token of each function (each generates TOKENS tokens), rounds interleaved."""
    for f in fns.values():
        f()
    times: Dict[str, list] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[name].append((time.perf_counter() - t0) / TOKENS * 1e6)
    return {k: statistics.median(v) for k, v in times.items()}


def workload(cell: str, E: int, H: int, V: int) -> Dict[str, float]:
    model = RNNLanguageModel(V, embedding_dim=E, hidden_size=H, cell=cell)
    emb, rnn, fc = model.embedding, model.rnn, model.fc  # batch_first RNN: (1, 1, E) per token
    model.eval()

    def module_loop() -> None:
        h, token = None, 1
        for _ in range(TOKENS):
            out, h = rnn(emb(np.array([[token]])), h)
            token = int(np.argmax(fc(out[0, 0])))

    fns: Dict[str, Callable[[], object]] = {
        "generate": lambda: model.generate([1], TOKENS - 1, greedy=True),
        "swiftrnn loop": module_loop,
    }
    if torch is not None:
        torch_cell = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        temb, trnn, tfc = torch.nn.Embedding(V, E), torch_cell(E, H, batch_first=True), torch.nn.Linear(H, V)
        for mod, src in ((temb, emb), (trnn, rnn), (tfc, fc)):
            mod.load_state_dict({k: torch.from_numpy(v) for k, v in src.state_dict().items()})

        def torch_loop() -> None:
            with torch.no_grad():
                h, token = None, 1
                for _ in range(TOKENS):
                    out, h = trnn(temb(torch.tensor([[token]])), h)
                    token = int(torch.argmax(tfc(out[0, 0])))
        fns["torch loop"] = torch_loop
    return per_token(fns)


def main() -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", choices=["rnn", "lstm", "gru"], action="append", help="(repeatable) default: all")
    cells = parser.parse_args().cell or ["rnn", "lstm", "gru"]
    swiftrnn.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    print(f"swiftrnn {swiftrnn.__version__}, torch {torch.__version__ if torch else 'not installed'}; 1 thread, "
          f"{TOKENS} tokens per round, median us/token\n")
    print("| cell | model | swiftrnn generate | swiftrnn module loop | torch module loop | torch loop / generate |")
    print("|---|---|---|---|---|---|")
    for cell in cells:
        for E, H, V in ((64, 256, 459), (128, 512, 5000)):
            t = workload(cell, E, H, V)
            tl = t.get("torch loop")
            torch_time, ratio = (f"{tl:.1f}", f"{tl / t['generate']:.2f}x") if tl else ("-", "-")
            print(f"| {cell} | E{E} H{H} V{V} | {t['generate']:.1f} | {t['swiftrnn loop']:.1f} | {torch_time} | "
                  f"{ratio} |", flush=True)


if __name__ == "__main__":
    main()
