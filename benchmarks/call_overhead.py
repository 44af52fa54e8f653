"""Per-call cost of a tiny RNN: RNN(4, 4) on T=3, N=1, eval mode against training mode (which keeps what its
backward needs), in one process, interleaved, best of several rounds.

    python benchmarks/call_overhead.py            # prints both times and their ratio (target: <= 1.3x)
"""
import argparse
import os
import platform
import time

import numpy as np

from swiftrnn import nn


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def per_call(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rnn_eval, rnn_train = nn.RNN(4, 4).eval(), nn.RNN(4, 4)
    x = np.random.default_rng(0).standard_normal((3, 1, 4)).astype(np.float32)
    h0 = np.zeros((1, 1, 4), np.float32)
    best = {"eval": float("inf"), "train": float("inf")}
    for _ in range(args.rounds):  # interleaved: both see the same machine state
        best["eval"] = min(best["eval"], per_call(lambda: rnn_eval(x, h0), args.calls))
        best["train"] = min(best["train"], per_call(lambda: rnn_train(x, h0), args.calls))
    print(f"CPU: {cpu_name()}")
    print(f"RNN(4,4) T3 N1 eval     {best['eval'] * 1e6:6.2f} us")
    print(f"RNN(4,4) T3 N1 training {best['train'] * 1e6:6.2f} us   ({best['train'] / best['eval']:.2f}x eval)")


if __name__ == "__main__":
    main()
