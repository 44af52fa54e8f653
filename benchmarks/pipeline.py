"""The tutorial's whole pipeline against its peers: embedding -> RNN -> linear -> softmax, one thread each, in one
process, interleaved, NumPy in and out. Peers that are not installed are skipped with a note: PyTorch (the
contract), ONNX Runtime (a torch.onnx.export graph with a real ONNX RNN op, SessionOptions with one thread) and
JAX (lax.scan under jit, XLA's single-thread flags, the process pinned to one CPU). Every peer's outputs are
checked against swiftrnn's before timing.

    python benchmarks/pipeline.py            # a venv with torch, onnx, onnxruntime and jax gives every column

Rows:
- generation step: Embedding(5000, 64) -> RNN(64, 256) -> Linear(256, 5000) -> softmax, batch 1, state carried;
- scoring: the same model over (T=64, N=16) token ids, probabilities out;
- Linear(256 -> 5000) on one row (against NumPy's o @ W.T + b) and softmax over (1024, 5000).
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Optional

# One thread for every library, set before any of them loads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import warnings  # noqa: E402

import numpy as np  # noqa: E402

import swiftrnn  # noqa: E402
from swiftrnn import nn  # noqa: E402

from call_overhead import cpu_name  # noqa: E402  (benchmarks/ is the script's folder: on sys.path)

swiftrnn.set_num_threads(1)
V, E, H = 5000, 64, 256


def optional(name: str):  # type: ignore[no-untyped-def]
    try:
        return __import__(name)
    except ImportError:
        print(f"({name} is not installed: its column is left empty)")
        return None


torch = optional("torch")
ort = optional("onnxruntime")
jax = optional("jax")
if torch is not None:
    torch.set_num_threads(1)


def median_times(fns: Dict[str, Callable[[], object]], rounds: int, calls: int) -> Dict[str, float]:
    """Median seconds per call of each function, rounds interleaved (every function once per round)."""
    for f in fns.values():
        f()
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, f in fns.items():
            t0 = time.perf_counter()
            for _ in range(calls):
                f()
            times[name].append((time.perf_counter() - t0) / calls)
    return {k: statistics.median(v) for k, v in times.items()}


def fmt(seconds: Optional[float]) -> str:
    if seconds is None:
        return ""
    return f"{seconds * 1e6:.0f} us" if seconds < 1e-2 else f"{seconds * 1e3:.1f} ms"


def report(title: str, times: Dict[str, float]) -> None:
    ours = times["swiftrnn"]
    cells = []
    for peer in ("PyTorch", "ONNX Runtime", "JAX", "NumPy"):
        if peer in times:
            cells.append(f"{peer} {fmt(times[peer])} ({times[peer] / ours:.2f}x)")
    print(f"| {title} | {fmt(ours)} | " + " | ".join(cells) + " |")


def main() -> None:
    warnings.filterwarnings("ignore")  # the exporters' deprecation notes
    print(f"CPU: {cpu_name()}; one thread each; ratio = peer time / swiftrnn time (> 1: swiftrnn faster)")
    swiftrnn.manual_seed(0)
    emb, rnn, fc = nn.Embedding(V, E).eval(), nn.RNN(E, H).eval(), nn.Linear(H, V).eval()
    rng = np.random.default_rng(0)

    # --- generation step --------------------------------------------------------------------------
    token = np.array([[17]])
    h0 = (rng.standard_normal((1, 1, H)) * 0.1).astype(np.float32)

    def ours_step(tok: np.ndarray = token, h: np.ndarray = h0) -> tuple:
        with swiftrnn.no_grad():
            out, hn = rnn(emb(tok), h)
            return nn.functional.softmax(fc(out[0]), dim=-1), hn

    steps: Dict[str, Callable[[], object]] = {"swiftrnn": ours_step}
    want_probs, _ = ours_step()
    if torch is not None:
        t_emb, t_rnn, t_fc = torch.nn.Embedding(V, E), torch.nn.RNN(E, H), torch.nn.Linear(H, V)
        for src, dst in ((emb, t_emb), (rnn, t_rnn), (fc, t_fc)):
            dst.load_state_dict({k: torch.from_numpy(v) for k, v in src.state_dict().items()})

        class Step(torch.nn.Module):  # type: ignore[misc,name-defined]
            def __init__(self) -> None:
                super().__init__()
                self.emb, self.rnn, self.fc = t_emb, t_rnn, t_fc

            def forward(self, tok, h):  # type: ignore[no-untyped-def]
                out, hn = self.rnn(self.emb(tok), h)
                return torch.softmax(self.fc(out[0]), dim=-1), hn

        t_step = Step().eval()

        def torch_step() -> tuple:
            with torch.no_grad():
                p, hn = t_step(torch.from_numpy(token), torch.from_numpy(h0))
                return p.numpy(), hn.numpy()

        assert np.allclose(torch_step()[0], want_probs, rtol=1e-4, atol=1e-6)
        steps["PyTorch"] = torch_step
        if ort is not None:
            path = os.path.join(tempfile.mkdtemp(), "step.onnx")
            torch.onnx.export(t_step, (torch.from_numpy(token), torch.from_numpy(h0)), path, dynamo=False,
                              opset_version=17, input_names=["tok", "h"], output_names=["probs", "hn"])
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            feeds = {"tok": token.astype(np.int64), "h": h0}
            assert np.allclose(session.run(None, feeds)[0], want_probs, rtol=1e-4, atol=1e-6)
            steps["ONNX Runtime"] = lambda: session.run(None, feeds)
    if jax is not None:
        import jax.numpy as jnp
        w = {k: jnp.asarray(v) for k, v in {**{"emb": emb.weight}, **rnn.state_dict(),
                                             **{"fc_w": fc.weight, "fc_b": fc.bias}}.items()}

        @jax.jit
        def jax_step(tok, h):  # type: ignore[no-untyped-def]
            x = w["emb"][tok[0, 0]]
            hn = jnp.tanh(x @ w["weight_ih_l0"].T + w["bias_ih_l0"] + h[0, 0] @ w["weight_hh_l0"].T + w["bias_hh_l0"])
            return jax.nn.softmax(hn @ w["fc_w"].T + w["fc_b"]), hn

        jt, jh = jnp.asarray(token), jnp.asarray(h0)
        assert np.allclose(np.asarray(jax_step(jt, jh)[0]), want_probs[0], rtol=1e-4, atol=1e-6)
        steps["JAX"] = lambda: [np.asarray(a) for a in jax_step(jnp.asarray(token), jnp.asarray(h0))]

    # --- scoring -------------------------------------------------------------------------------
    ids = rng.integers(0, V, (64, 16))

    def ours_score() -> np.ndarray:
        with swiftrnn.no_grad():
            out, _ = rnn(emb(ids))
            return nn.functional.softmax(fc(out), dim=-1)

    scores: Dict[str, Callable[[], object]] = {"swiftrnn": ours_score}
    want_scores = ours_score()
    if torch is not None:
        def torch_score() -> np.ndarray:
            with torch.no_grad():
                out, _ = t_rnn(t_emb(torch.from_numpy(ids)))
                return torch.softmax(t_fc(out), dim=-1).numpy()

        assert np.allclose(torch_score(), want_scores, rtol=1e-4, atol=1e-6)
        scores["PyTorch"] = torch_score
        if ort is not None:
            class Score(torch.nn.Module):  # type: ignore[misc,name-defined]
                def __init__(self) -> None:
                    super().__init__()
                    self.emb, self.rnn, self.fc = t_emb, t_rnn, t_fc

                def forward(self, tokens):  # type: ignore[no-untyped-def]
                    out, _ = self.rnn(self.emb(tokens))
                    return torch.softmax(self.fc(out), dim=-1)

            path = os.path.join(tempfile.mkdtemp(), "score.onnx")
            torch.onnx.export(Score().eval(), (torch.from_numpy(ids),), path, dynamo=False, opset_version=17,
                              input_names=["ids"], output_names=["probs"])
            score_session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            assert np.allclose(score_session.run(None, {"ids": ids})[0], want_scores, rtol=1e-4, atol=1e-6)
            scores["ONNX Runtime"] = lambda: score_session.run(None, {"ids": ids})
    if jax is not None:
        @jax.jit
        def jax_score(tokens):  # type: ignore[no-untyped-def]
            xs = w["emb"][tokens] @ w["weight_ih_l0"].T + w["bias_ih_l0"] + w["bias_hh_l0"]

            def cell(h, x):  # type: ignore[no-untyped-def]
                h = jnp.tanh(x + h @ w["weight_hh_l0"].T)
                return h, h

            _, hs = jax.lax.scan(cell, jnp.zeros((tokens.shape[1], H), jnp.float32), xs)
            return jax.nn.softmax(hs @ w["fc_w"].T + w["fc_b"], axis=-1)

        assert np.allclose(np.asarray(jax_score(jnp.asarray(ids))), want_scores, rtol=1e-4, atol=1e-5)
        scores["JAX"] = lambda: np.asarray(jax_score(jnp.asarray(ids)))

    # --- the pieces ------------------------------------------------------------------------------
    row = rng.standard_normal((1, H)).astype(np.float32)
    W, b = np.asarray(fc.weight), np.asarray(fc.bias)
    linear = {"swiftrnn": lambda: fc(row), "NumPy": lambda: row @ W.T + b}
    logits = rng.standard_normal((1024, V)).astype(np.float32)
    softmaxes: Dict[str, Callable[[], object]] = {"swiftrnn": lambda: nn.functional.softmax(logits, dim=-1)}
    if torch is not None:
        t_logits = torch.from_numpy(logits)
        softmaxes["PyTorch"] = lambda: torch.softmax(t_logits, dim=-1).numpy()

    print("| workload | swiftrnn | peers (ratio) |")
    print("|---|---|---|")
    report("generation step (batch 1)", median_times(steps, rounds=15, calls=50))
    report("scoring (T64, N16)", median_times(scores, rounds=7, calls=2))
    report("Linear(256 -> 5000), 1 row", median_times(linear, rounds=15, calls=100))
    report("softmax (1024, 5000)", median_times(softmaxes, rounds=7, calls=3))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
