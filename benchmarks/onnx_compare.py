"""ONNX models run by swiftrnn (``swiftrnn.onnx.load``) against ONNX Runtime on the same file: torch-exported
RNN/LSTM/GRU layers and the generation step (embedding -> RNN -> linear -> softmax), one thread each, in one
process, interleaved, NumPy in and out. Outputs are checked against ONNX Runtime's (rtol 1e-4, atol 2e-5)
before timing. Needs torch (the exporter), onnx and onnxruntime.

    python benchmarks/onnx_compare.py

The targets (swiftrnn's loaded module at least 1.5x ONNX Runtime on the recurrent rows, 1.3x on the generation
step) are printed with each row, met or not. The "ceiling" column is the largest ratio any code could reach on
this machine: ONNX Runtime's time over the recurrent GEMMs' flops at this core's FMA peak (measured in the run,
as in compare.py; it leaves out the activations and every memory access), "-" where the work is too small to
bound it so (a few microseconds: per-call overhead) or is not GEMM-bound (the generation step reads a 5 MB weight).
"""
from __future__ import annotations

import io
import os
import sys
import warnings
from typing import Any, Callable, Dict, List, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline import cpu_name, fmt, median_times  # noqa: E402  (sets one thread everywhere, pins the CPU)
from compare import rnn_flops  # noqa: E402

import numpy as np  # noqa: E402

import swiftrnn  # noqa: E402
import swiftrnn.onnx  # noqa: E402

swiftrnn.set_num_threads(1)


def export(torch: Any, module: Any, args: Tuple[Any, ...], names: List[str]) -> bytes:
    buf = io.BytesIO()
    torch.onnx.export(module.eval(), args, buf, dynamo=False, opset_version=17, input_names=names)
    return buf.getvalue()


def workloads(torch: Any) -> List[Tuple[str, float, bytes, Dict[str, np.ndarray], float]]:
    """(row title, target ratio, model bytes, feeds, GEMM flops or 0 where they do not bound the time)."""
    torch.manual_seed(0)
    rows = []
    for kind, I, H, T, N in (("RNN", 128, 128, 100, 16), ("RNN", 4, 4, 3, 1), ("LSTM", 128, 256, 5, 32),
                             ("GRU", 128, 256, 5, 32), ("LSTM", 64, 128, 50, 1), ("GRU", 64, 128, 50, 1),
                             ("RNN", 64, 256, 1, 1)):
        module = getattr(torch.nn, kind)(I, H)
        x, h = torch.randn(T, N, I), torch.randn(1, N, H) * 0.1
        args: Tuple[Any, ...] = (x, (h, h.clone())) if kind == "LSTM" else (x, h)
        names = ["x", "h0", "c0"] if kind == "LSTM" else ["x", "h0"]
        feeds = {"x": x.numpy(), "h0": h.numpy(), **({"c0": h.numpy().copy()} if kind == "LSTM" else {})}
        flops = rnn_flops(I, H, 1, 1, T, N, kind)
        rows.append((f"{kind}({I}, {H}) T{T} N{N}", 1.5, export(torch, module, args, names), feeds,
                     flops if flops > 1e6 else 0.0))

    V, E, H = 5000, 64, 256

    class Step(torch.nn.Module):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.emb, self.rnn, self.fc = torch.nn.Embedding(V, E), torch.nn.RNN(E, H), torch.nn.Linear(H, V)

        def forward(self, tok, h):  # type: ignore[no-untyped-def]
            out, hn = self.rnn(self.emb(tok), h)
            return torch.softmax(self.fc(out[0]), dim=-1), hn

    token, h0 = torch.tensor([[17]]), torch.randn(1, 1, H) * 0.1
    rows.append((f"generation step: Embedding({V}, {E}) -> RNN({E}, {H}) -> Linear({H}, {V}) -> softmax", 1.3,
                 export(torch, Step(), (token, h0), ["tok", "h"]), {"tok": token.numpy(), "h": h0.numpy()}, 0.0))
    return rows


def main() -> None:
    warnings.filterwarnings("ignore")  # the exporter's deprecation notes
    try:
        import onnxruntime as ort
        import torch
    except ImportError as e:
        print(f"needs torch, onnx and onnxruntime: {e}")
        return
    torch.set_num_threads(1)
    print(f"CPU: {cpu_name()}; one thread each; same ONNX file; ratio = ONNX Runtime time / swiftrnn time")
    print("(the module alone: the loaded model's swiftrnn RNN/LSTM/GRU module called through its Python API, for")
    print(" reference: the loaded graph calls the core directly, with the Elman RNN's weights packed at load)")
    fma_peak = swiftrnn._native.fma_peak_gflops(0.3)
    print(f"one core: FMA peak {fma_peak:.1f} GFLOP/s")
    print("| model (torch.onnx.export, opset 17) | swiftrnn.onnx.load | the module alone | ONNX Runtime | ratio | target "
          "| ceiling |")
    print("|---|---|---|---|---|---|---|")
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    for title, target, data, feeds, flops in workloads(torch):
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        model = swiftrnn.onnx.load(data)
        for ours, theirs in zip(model(**feeds), session.run(None, feeds)):
            np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=2e-5)
        fns: Dict[str, Callable[[], object]] = {"swiftrnn": lambda: model(**feeds),
                                                "ONNX Runtime": lambda: session.run(None, feeds)}
        modules = [m for _, m in model.named_modules()][1:]
        if "x" in feeds and len(modules) == 1:  # a recurrent layer alone
            module, x, hx = modules[0], feeds["x"], feeds["h0"]
            if "c0" in feeds:
                hx = (hx, feeds["c0"])
            fns["module"] = lambda: module(x, hx)
        big = feeds[next(iter(feeds))].size > 10_000
        with swiftrnn.no_grad():
            times = median_times(fns, rounds=15, calls=20 if big else 2000)
        ratio = times["ONNX Runtime"] / times["swiftrnn"]
        fma_peak = max(fma_peak, swiftrnn._native.fma_peak_gflops(0.1))  # the higher of the readings
        ceiling = f"{times['ONNX Runtime'] / (flops / (fma_peak * 1e9)):.2f}x" if flops else "-"
        print(f"| {title} | {fmt(times['swiftrnn'])} | {fmt(times.get('module'))} | {fmt(times['ONNX Runtime'])} | "
              f"{ratio:.2f}x | "
              f">= {target}x: {'met' if ratio >= target else 'MISSED'} | {ceiling} |")


if __name__ == "__main__":
    main()
