"""swiftrnn vs PyTorch (when importable) vs plain NumPy on the RNN / LSTM / GRU / Embedding workloads of the speed
targets.

Each workload runs every implementation in turn, interleaved, in this one process, NumPy arrays in and
NumPy arrays out; the table shows median times, the ratio PyTorch time / swiftrnn time, and GFLOP/s.
The single-core SGEMM peak (swiftrnn's Linear on 1024^3) is measured in the same run. The 2-thread
row's ratio is the median over adjacent 1-thread / 2-thread swiftrnn calls (benchmarks/thread_scaling.py).

An "ONNX Runtime" column times ONNX Runtime (one thread, sequential; when onnxruntime is installed) on torch's
ONNX export of the same module, for the single-thread RNN, LSTM and GRU rows, outputs checked against swiftrnn's.

The "ceiling" column is the largest ratio any implementation could reach on this machine: PyTorch's time
over a lower bound of the work's own time. For the RNNs and the training step the bound is the GEMM flops
at the core's FMA peak (register-resident FMA chains at the kernels' vector width, measured at the start
and the end of the run, the higher kept), which leaves out tanh, softmax and every memory access; for the
Embedding it is a bare copy of the output's bytes (np.copyto), timed with the others. A target above its
ceiling cannot be met here by any code. (A workload of under a microsecond of arithmetic, RNN(4,4), is all
per-call overhead and gets no ceiling.) The LSTM and GRU rows have no NumPy column.

    python benchmarks/compare.py              # 1 thread, plus the 2-thread scaling row
    python benchmarks/compare.py --quick      # fewer repetitions
    python benchmarks/compare.py --markdown   # a table to paste into the README
    python benchmarks/compare.py --clock cpu  # single-thread rows timed by this thread's CPU time
                                              # (steadier on a shared, loaded machine)
    python benchmarks/compare.py --only LSTM --only GRU  # only the rows whose label contains one of these

Run it with a Python where swiftrnn is installed (and torch, for the PyTorch column).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

# NumPy's BLAS single-threaded, as the rows are: its idle worker threads otherwise spin on the second
# core (and its "single-core" peak used both). Set before NumPy loads its BLAS.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import swiftrnn  # noqa: E402
from swiftrnn import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from thread_scaling import paired_scaling  # noqa: E402

try:
    import torch
except ImportError:  # the PyTorch column is left empty
    torch = None
try:  # the ONNX Runtime column of the recurrent rows (the model exported by torch, so it needs torch too)
    import onnxruntime as ort
except ImportError:
    ort = None


GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}  # blocks of hidden_size rows in W_ih and W_hh


def rnn_flops(input_size: int, hidden: int, layers: int, directions: int, L: int, N: int, mode: str = "RNN") -> float:
    total = 0
    for layer in range(layers):
        layer_in = input_size if layer == 0 else directions * hidden
        total += directions * 2 * L * N * GATES[mode] * hidden * (layer_in + hidden)
    return float(total)


def numpy_rnn(params: Dict[str, np.ndarray], x: np.ndarray, layers: int, directions: int,
              batch_first: bool) -> Tuple[np.ndarray, np.ndarray]:
    """A plain NumPy Elman RNN (tanh), float32, the reference a NumPy user would write."""
    if batch_first:
        x = x.transpose(1, 0, 2)
    L, N, _ = x.shape
    inp, hn = x, []
    for layer in range(layers):
        outs = []
        for d in range(directions):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w_ih, w_hh = params["weight_ih" + sfx], params["weight_hh" + sfx]
            b = params["bias_ih" + sfx] + params["bias_hh" + sfx]
            proj = inp @ w_ih.T + b
            h = np.zeros((N, w_hh.shape[0]), dtype=np.float32)
            out = np.empty((L, N, w_hh.shape[0]), dtype=np.float32)
            for t in (range(L) if d == 0 else range(L - 1, -1, -1)):
                h = np.tanh(proj[t] + h @ w_hh.T)
                out[t] = h
            outs.append(out)
            hn.append(h)
        inp = np.concatenate(outs, axis=-1) if directions == 2 else outs[0]
    if batch_first:
        inp = inp.transpose(1, 0, 2)
    return inp, np.stack(hn)


CLOCK = time.perf_counter  # set from --clock: time.thread_time measures this thread's CPU time only


def measure(fns: Dict[str, Callable[[], object]], budget: float, clock: Callable[[], float] = None) -> Dict[str, float]:
    """Median seconds per call of each function, calls interleaved round-robin within `budget` seconds."""
    clock = clock or CLOCK
    for f in fns.values():  # warm up (and first-touch allocations)
        f()
        f()
    # Tiny calls run in batches of `inner` per sample, so the clock's own cost (~1 us for the CPU
    # clock) does not count; each sample is then at least ~0.5 ms.
    inner = {}
    for name, f in fns.items():
        t0 = time.perf_counter()
        f()
        inner[name] = max(1, int(5e-4 / max(time.perf_counter() - t0, 1e-7)))
    times: Dict[str, List[float]] = {k: [] for k in fns}
    start = time.perf_counter()
    rounds = 0
    while rounds < 5 or (time.perf_counter() - start < budget and rounds < 20000):
        for name, f in fns.items():
            reps = inner[name]
            t0 = clock()
            for _ in range(reps):
                f()
            times[name].append((clock() - t0) / reps)
        rounds += 1
    return {k: statistics.median(v) for k, v in times.items()}


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def rnn_workload(label: str, input_size: int, hidden: int, layers: int, L: int, N: int, budget: float,
                 bidirectional: bool = False, batch_first: bool = False, threads: int = 1, mode: str = "RNN",
                 with_hx: bool = False):
    """nn.RNN, nn.LSTM or nn.GRU (``mode``) in eval mode; ``with_hx``: the initial state is passed (an LSTM's
    (h0, c0)), else zeros."""
    swiftrnn.set_num_threads(threads)
    rng = np.random.default_rng(0)
    ours = getattr(nn, mode)(input_size, hidden, layers, batch_first=batch_first, bidirectional=bidirectional).eval()
    params = ours.state_dict()
    x = rng.standard_normal((N, L, input_size) if batch_first else (L, N, input_size)).astype(np.float32)
    D = 2 if bidirectional else 1
    h0, c0 = (rng.standard_normal((D * layers, N, hidden)).astype(np.float32) for _ in range(2))
    hx = ((h0, c0) if mode == "LSTM" else h0) if with_hx else None
    fns: Dict[str, Callable[[], object]] = {"swiftrnn": lambda: ours(x, hx)}
    if torch is not None:
        torch.set_num_threads(threads)
        ref = getattr(torch.nn, mode)(input_size, hidden, layers, batch_first=batch_first, bidirectional=bidirectional)
        ref.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
        ref.eval()
        t_hx = None if hx is None else (tuple(map(torch.from_numpy, hx)) if mode == "LSTM" else torch.from_numpy(h0))

        def torch_call():
            with torch.no_grad():
                out, state = ref(torch.from_numpy(x), t_hx)
                return out.numpy(), state
        fns["torch"] = torch_call
        # Same weights, same numbers: a benchmark of wrong results would be worthless.
        got, want = ours(x, hx)[0], torch_call()[0]
        assert np.allclose(got, want, rtol=1e-4, atol=2e-5), f"{label}: swiftrnn and torch disagree"
        if ort is not None and threads == 1:
            session, feeds = ort_session(ref, x, hx, mode)
            assert np.allclose(session.run(None, feeds)[0], got, rtol=1e-4, atol=2e-5), f"{label}: ONNX Runtime disagrees"
            fns["ort"] = lambda: session.run(None, feeds)
    if mode == "RNN":
        fns["numpy"] = lambda: numpy_rnn(params, x, layers, D, batch_first)
    if threads > 1:
        # Not interleaved: after each call PyTorch's OpenMP workers (and OpenBLAS's) keep spinning for up to
        # ~200 ms, taking the second core from whichever library runs next. Each library gets the machine
        # to itself, after a pause that lets the other's workers go to sleep.
        t = {}
        for name, f in fns.items():
            time.sleep(0.5)
            t.update(measure({name: f}, budget, clock=time.perf_counter))
    else:
        t = measure(fns, budget)
    flops = rnn_flops(input_size, hidden, layers, D, L, N, mode)
    return label, t, flops, None


def ort_session(ref, x: np.ndarray, hx, mode: str):
    """ONNX Runtime (one thread, sequential) on torch's export of `ref` (real RNN/LSTM/GRU operators), and its feeds."""
    import io
    import warnings
    names = ["x"] + ([] if hx is None else ["h0", "c0"] if mode == "LSTM" else ["h0"])
    arrays = [x] + ([] if hx is None else list(hx) if mode == "LSTM" else [hx])
    tensors = [torch.from_numpy(a) for a in arrays]
    args = (tensors[0],) if hx is None else (tensors[0], tuple(tensors[1:]) if mode == "LSTM" else tensors[1])
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notes
        torch.onnx.export(ref, args, buf, dynamo=False, opset_version=17, input_names=names)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(buf.getvalue(), options, providers=["CPUExecutionProvider"])
    return session, dict(zip(names, arrays))


def packed_workload(budget: float):
    """Packed LSTM(128,256) over 32 sequences of lengths uniform in [5, 100]: swiftrnn's packed run against torch's
    packed run and against swiftrnn's own run over the same batch padded (the "padded" column)."""
    swiftrnn.set_num_threads(1)
    from swiftrnn.nn.utils.rnn import pack_padded_sequence
    rng = np.random.default_rng(0)
    lengths = sorted(rng.integers(5, 101, size=32).tolist(), reverse=True)
    x = rng.standard_normal((max(lengths), 32, 128)).astype(np.float32)
    ours = nn.LSTM(128, 256).eval()
    packed = pack_padded_sequence(x, lengths)
    fns: Dict[str, Callable[[], object]] = {"swiftrnn": lambda: ours(packed), "padded": lambda: ours(x)}
    if torch is not None:
        torch.set_num_threads(1)
        ref = torch.nn.LSTM(128, 256).eval()
        ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
        t_packed = torch.nn.utils.rnn.pack_padded_sequence(torch.from_numpy(x), lengths)

        def torch_call():
            with torch.no_grad():
                out, state = ref(t_packed)
                return out.data.numpy(), state
        fns["torch"] = torch_call
        assert np.allclose(ours(packed)[0].data, torch_call()[0], rtol=1e-4, atol=2e-5), "packed LSTM disagrees"
    t = measure(fns, budget)
    flops = 2.0 * 4 * 256 * (128 + 256) * sum(lengths)
    return "packed LSTM(128,256) 32 seqs, lengths 5-100", t, flops, None


def embedding_workload(budget: float):
    swiftrnn.set_num_threads(1)
    rng = np.random.default_rng(0)
    ours = nn.Embedding(10000, 128).eval()  # inference, as torch's call under no_grad (and the RNN workloads)
    idx = rng.integers(0, 10000, size=(32, 5))
    weight = ours.weight
    fns: Dict[str, Callable[[], object]] = {"swiftrnn": lambda: ours(idx)}
    if torch is not None:
        torch.set_num_threads(1)
        ref = torch.nn.Embedding(10000, 128)
        ref.load_state_dict({"weight": torch.from_numpy(weight.copy())})

        def torch_call():
            with torch.no_grad():
                return ref(torch.from_numpy(idx)).numpy()
        fns["torch"] = torch_call
    fns["numpy"] = lambda: weight[idx]
    # The floor: the output's bytes copied once, contiguous to contiguous (a lookup reads and writes as many).
    src, dst = weight[:idx.size].copy(), np.empty((idx.size, weight.shape[1]), dtype=np.float32)
    fns["copy"] = lambda: np.copyto(dst, src)
    t = measure(fns, budget)
    return "Embedding(10000,128), (32,5) indices", t, 0.0, t.pop("copy")


def sgemm_peak(budget: float) -> Tuple[float, Optional[float]]:
    """GFLOP/s of swiftrnn's Linear (x Wᵀ) at 1024^3 on one thread, and NumPy's matmul for comparison."""
    swiftrnn.set_num_threads(1)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024)).astype(np.float32)
    w = rng.standard_normal((1024, 1024)).astype(np.float32)
    t = measure({"swiftrnn": lambda: nn.functional.linear(a, w), "numpy": lambda: a @ w.T}, budget)
    flops = 2.0 * 1024 ** 3
    return flops / t["swiftrnn"] / 1e9, flops / t["numpy"] / 1e9


def training_workload(budget: float, cell: str = "rnn"):
    """One char-LM training step (benchmarks/train_char_lm.py): embedding -> RNN (LSTM, GRU) -> linear ->
    cross-entropy -> backward -> Adam, V=459, E=64, H=256, 16 x 64 tokens."""
    import train_char_lm as lm

    swiftrnn.set_num_threads(1)
    swiftrnn.manual_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, lm.V, size=(lm.L, lm.N)), rng.integers(0, lm.V, size=(lm.L, lm.N))
    ours = lm.SwiftLM(cell)
    fns: Dict[str, Callable[[], object]] = {}
    if torch is not None:
        torch.set_num_threads(1)
        ref_step, _ = lm.torch_lm(ours)
        fns["torch"] = lambda: ref_step(x, y)
    fns["swiftrnn"] = lambda: ours.step(x, y)
    fns["numpy"] = lambda: None  # no NumPy training loop
    t = measure(fns, budget)
    del t["numpy"]
    prefix = "" if cell == "rnn" else f"{lm.LAYERS[cell]} "
    return f"{prefix}char-LM training step V459 E64 H256 16x64", t, lm.training_flops(cell), None


TARGETS = {
    "char-LM training step V459 E64 H256 16x64": 2.0,  # ratio = PyTorch time / swiftrnn time, the speed target
    "RNN(128,256) T5 N32": 2.0,
    "RNN(4,4) T3 N1": 20.0,
    "RNN(128,128) T100 N16": 2.5,
    "RNN(256,512,2) T50 N64": 1.5,
    "RNN(64,128,2,bidir,batch_first) T32 N8": 2.0,
    "Embedding(10000,128), (32,5) indices": 8.0,
    "LSTM(128,256) T5 N32 (h0,c0)": 2.0,
    "LSTM(4,4) T3 N1": 20.0,
    "LSTM(128,128) T100 N16": 2.0,
    "LSTM(256,512,2) T50 N64": 1.3,
    "GRU(128,256) T5 N32 h0": 2.0,
    "GRU(4,4) T3 N1": 20.0,
    "GRU(128,128) T100 N16": 2.0,
    "GRU(256,512,2) T50 N64": 1.3,
    "LSTM(64,128,2,bidir,batch_first) T32 N8": 2.0,
    "LSTM char-LM training step V459 E64 H256 16x64": 1.5,
    "packed LSTM(128,256) 32 seqs, lengths 5-100": 2.0,
}


def workloads(budget: float) -> List[Tuple[str, Callable[[], tuple]]]:
    """Every single-thread row as (label, a function that measures it)."""
    rows: List[Tuple[str, Callable[[], tuple]]] = []

    def add(label: str, *args, **kwargs) -> None:
        rows.append((label, lambda: rnn_workload(label, *args, budget, **kwargs)))

    add("RNN(128,256) T5 N32", 128, 256, 1, 5, 32)
    add("RNN(4,4) T3 N1", 4, 4, 1, 3, 1)
    add("RNN(128,128) T100 N16", 128, 128, 1, 100, 16)
    add("RNN(256,512,2) T50 N64", 256, 512, 2, 50, 64)
    add("RNN(64,128,2,bidir,batch_first) T32 N8", 64, 128, 2, 32, 8, bidirectional=True, batch_first=True)
    rows.append(("Embedding(10000,128), (32,5) indices", lambda: embedding_workload(budget)))
    rows.append(("char-LM training step V459 E64 H256 16x64", lambda: training_workload(budget)))
    for mode, hx in (("LSTM", "(h0,c0)"), ("GRU", "h0")):
        add(f"{mode}(128,256) T5 N32 {hx}", 128, 256, 1, 5, 32, mode=mode, with_hx=True)
        add(f"{mode}(4,4) T3 N1", 4, 4, 1, 3, 1, mode=mode)
        add(f"{mode}(128,128) T100 N16", 128, 128, 1, 100, 16, mode=mode)
        add(f"{mode}(256,512,2) T50 N64", 256, 512, 2, 50, 64, mode=mode)
    add("LSTM(64,128,2,bidir,batch_first) T32 N8", 64, 128, 2, 32, 8, bidirectional=True, batch_first=True,
        mode="LSTM")
    rows.append(("LSTM char-LM training step V459 E64 H256 16x64", lambda: training_workload(budget, "lstm")))
    rows.append(("packed LSTM(128,256) 32 seqs, lengths 5-100", lambda: packed_workload(budget)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter time budget per workload")
    parser.add_argument("--markdown", action="store_true", help="print only the markdown table")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time single-thread rows by wall clock (default) or by this thread's CPU time")
    parser.add_argument("--only", action="append", metavar="TEXT",
                        help="run only the rows whose label contains TEXT (repeatable: --only LSTM --only GRU; "
                             "'2 threads' for the scaling row)")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.thread_time if args.clock == "cpu" else time.perf_counter
    budget = 0.7 if args.quick else 2.5

    fma_peak = swiftrnn._native.fma_peak_gflops(0.3)
    peak, numpy_peak = sgemm_peak(budget)
    chosen = lambda label: args.only is None or any(w in label for w in args.only)  # noqa: E731
    rows = [measure_row() for label, measure_row in workloads(budget) if chosen(label)]
    two = None
    if chosen("RNN(256,512,2) T50 N64, 2 threads"):
        two = rnn_workload("RNN(256,512,2) T50 N64, 2 threads", 256, 512, 2, 50, 64, budget, threads=2)
        swiftrnn.set_num_threads(1)
        # The scaling figure: 1- and 2-thread swiftrnn calls alternating, median over adjacent pairs
        # (benchmarks/thread_scaling.py), so that the machine's load at the moment cancels out.
        scaling_rnn = nn.RNN(256, 512, 2).eval()
        scaling_x = np.random.default_rng(0).standard_normal((50, 64, 256)).astype(np.float32)
        scale, _ = paired_scaling(scaling_rnn, scaling_x, 2 * budget)
        swiftrnn.set_num_threads(1)
    fma_peak = max(fma_peak, swiftrnn._native.fma_peak_gflops(0.3))

    header = ("| workload | swiftrnn | PyTorch | NumPy | PyTorch / swiftrnn | target | ceiling | "
              "swiftrnn GFLOP/s (% of FMA peak) | ONNX Runtime (its time / swiftrnn's) |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    for label, t, flops, floor in rows:
        ratio = t["torch"] / t["swiftrnn"] if "torch" in t else None
        if floor is None and flops:
            floor = flops / (fma_peak * 1e9)
        # Under a microsecond of arithmetic the call is all overhead: no useful bound.
        ceiling = t["torch"] / floor if "torch" in t and floor and floor >= 1e-6 else None
        target = TARGETS.get(label)
        verdict = "" if ratio is None or target is None else (" met" if ratio >= target else " **missed**")
        gflops = f"{flops / t['swiftrnn'] / 1e9:.1f} ({100 * flops / t['swiftrnn'] / 1e9 / fma_peak:.0f}%)" if flops else "-"
        if label.startswith("RNN(256,512,2)"):  # its target also asks for >= 85% of the SGEMM peak
            gflops += f"; {100 * flops / t['swiftrnn'] / 1e9 / peak:.0f}% of SGEMM 1024^3"
        lines.append(f"| {label} | {fmt_time(t['swiftrnn'])} | {fmt_time(t['torch']) if 'torch' in t else '-'} | "
                     f"{fmt_time(t['numpy']) if 'numpy' in t else (('swiftrnn padded ' + fmt_time(t['padded'])) if 'padded' in t else '-')} | "
                     f"{f'{ratio:.2f}x' if ratio else '-'} | "
                     f"{f'>= {target}x' if target else '-'}{verdict} | {f'{ceiling:.2f}x' if ceiling else '-'} | {gflops} | "
                     f"{(fmt_time(t['ort']) + ' (' + format(t['ort'] / t['swiftrnn'], '.2f') + 'x)') if 'ort' in t else '-'} |")
    if two is not None:
        lines.append(f"| 2 threads vs 1, RNN(256,512,2) T50 N64 | {fmt_time(two[1]['swiftrnn'])} | "
                     f"{fmt_time(two[1]['torch']) if 'torch' in two[1] else '-'} | - | {scale:.2f}x (swiftrnn 1 -> 2 "
                     f"threads) | >= 1.7x{' met' if scale >= 1.7 else ' **missed**'} | 2.00x | "
                     f"{two[2] / two[1]['swiftrnn'] / 1e9:.1f} | - |")
    table = "\n".join(lines)
    if args.markdown:
        print(table)
        return
    print(f"swiftrnn {swiftrnn.__version__} ({swiftrnn._native.simd_level()}), torch "
          f"{torch.__version__ if torch else 'not installed'}, numpy {np.__version__}; single-thread rows timed by "
          f"{'CPU time' if args.clock == 'cpu' else 'wall clock'}, the 2-thread row by wall clock")
    print(f"one core: FMA peak {fma_peak:.1f} GFLOP/s; SGEMM 1024^3: swiftrnn {peak:.1f} GFLOP/s "
          f"({100 * peak / fma_peak:.0f}% of peak), NumPy {numpy_peak:.1f} GFLOP/s\n")
    print(table)


if __name__ == "__main__":
    main()
