"""swiftrnn with 2 kernel threads vs 1 on RNN(256,512,2) T50 N64 (or another RNN), measured so that a
shared machine's noise mostly cancels: 1-thread and 2-thread calls alternate in one process, and the
figure is the median over adjacent pairs of (1-thread time / 2-thread time). Each call also records
the process's CPU time: a call is "clean" when it shows every thread ran the whole call (CPU / wall
>= 0.94 x threads); on a busy machine few 2-thread calls are clean and the ratio means little, so the
load and the clean counts are printed with it.

    python benchmarks/thread_scaling.py                  # 10 s
    python benchmarks/thread_scaling.py --seconds 4 --config 64,128,1,100,16
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

import swiftrnn
from swiftrnn import nn


def paired_scaling(rnn, x, seconds: float):
    """Alternates 1- and 2-thread calls of `rnn(x)` for `seconds`; returns (median of 1-thread / 2-thread
    over adjacent pairs, {threads: [(wall seconds, CPU/wall), ...]})."""
    res = {1: [], 2: []}
    for th in (1, 2):
        swiftrnn.set_num_threads(th)
        rnn(x)
        rnn(x)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for th in (1, 2):
            swiftrnn.set_num_threads(th)
            w0, c0 = time.perf_counter(), time.process_time()
            rnn(x)
            w1, c1 = time.perf_counter(), time.process_time()
            res[th].append((w1 - w0, (c1 - c0) / (w1 - w0)))
    swiftrnn.set_num_threads(1)
    pairs = [a[0] / b[0] for a, b in zip(res[1], res[2])]
    return statistics.median(pairs), res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--config", default="256,512,2,50,64", help="input,hidden,layers,L,N (time-major, tanh)")
    args = ap.parse_args()
    I, H, layers, L, N = (int(v) for v in args.config.split(","))
    rnn = nn.RNN(I, H, layers).eval()
    x = np.random.default_rng(0).standard_normal((L, N, I)).astype(np.float32)
    load = os.getloadavg()[0]
    ratio, res = paired_scaling(rnn, x, args.seconds)
    for th in (1, 2):
        walls = [w for w, _ in res[th]]
        clean = [w for w, r in res[th] if r >= 0.94 * th]
        print(f"{th} thread(s): median {statistics.median(walls) * 1e3:.1f} ms, min {min(walls) * 1e3:.1f} ms, "
              f"clean {len(clean)}/{len(walls)}" + (f" (median {statistics.median(clean) * 1e3:.1f} ms)" if clean else ""))
    print(f"RNN({I},{H},{layers}) T{L} N{N}: 2 threads vs 1, median of adjacent pairs {ratio:.2f}x "
          f"(load {load:.2f} -> {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
