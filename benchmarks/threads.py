"""Speedup from running forward calls in many Python threads (the GIL is released while the core computes).

    PYTHONPATH=python python3 benchmarks/threads.py [--threads 8] [--repeats 3] [--config 256,512,2,40,16]

The reliability work's figure: 8 threads each running RNN(256, 512, num_layers=2) on a (40, 16, 256) input with
set_num_threads(1), against the same 8 calls in a row; the target is >= 1.4x on 2 cores. Prints the
best-of-N wall time of both and their ratio, and checks the threaded results equal the serial ones.
"""
from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np

import swiftrnn
from swiftrnn import nn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs of each")
    ap.add_argument("--config", default="256,512,2,40,16", help="input_size,hidden_size,num_layers,seq_len,batch")
    ap.add_argument("--kernel-threads", type=int, default=1, help="swiftrnn.set_num_threads during the runs")
    args = ap.parse_args()
    I, H, NL, L, N = (int(v) for v in args.config.split(","))

    swiftrnn.set_num_threads(args.kernel_threads)
    swiftrnn.manual_seed(0)
    rnn = nn.RNN(I, H, num_layers=NL)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((L, N, I)).astype(np.float32) for _ in range(args.threads)]
    rnn(xs[0])  # warm up

    def serial():
        return [rnn(x) for x in xs]

    def threaded():
        results = [None] * len(xs)
        barrier = threading.Barrier(len(xs))

        def work(i):
            barrier.wait()
            results[i] = rnn(xs[i])

        ts = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return results

    def best(f):
        times, cpus, out = [], [], None
        for _ in range(args.repeats):
            start, cpu = time.perf_counter(), time.process_time()
            out = f()
            times.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
        return min(times), min(cpus), out

    t_serial, c_serial, r_serial = best(serial)
    t_threaded, c_threaded, r_threaded = best(threaded)
    for (a, b), (c, d) in zip(r_serial, r_threaded):
        assert np.array_equal(a, c) and np.array_equal(b, d), "threaded results differ from serial ones"
    flops = 2 * L * N * (H * (I + H) + (NL - 1) * H * (H + H))
    print(f"RNN({I}, {H}, num_layers={NL}) on ({L}, {N}, {I}), {args.threads} calls, "
          f"set_num_threads({args.kernel_threads}), {os.cpu_count()} CPUs")
    print(f"  in a row:   {t_serial * 1e3:9.1f} ms wall, {c_serial * 1e3:9.1f} ms CPU "
          f"({flops * len(xs) / t_serial / 1e9:6.1f} GFLOP/s)")
    print(f"  {args.threads} threads:  {t_threaded * 1e3:9.1f} ms wall, {c_threaded * 1e3:9.1f} ms CPU "
          f"({flops * len(xs) / t_threaded / 1e9:6.1f} GFLOP/s)")
    print(f"  speedup:    {t_serial / t_threaded:9.2f}x wall; threads cost {c_threaded / c_serial:.2f}x the CPU time "
          f"(results identical)")
    print(f"  load average {os.getloadavg()[0]:.2f}: wall-clock speedup needs idle cores")


if __name__ == "__main__":
    main()
