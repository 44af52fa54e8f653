"""SWIFTRNN_SIMD=avx2: an AVX-512 machine runs as an AVX2-only one (the kernels an AVX2-only CPU gets),
with the same bits. Each run is a fresh process: the kernel family is chosen once, at load time."""
import os
import subprocess
import sys

import numpy as np
import pytest

from swiftrnn import _native

pytestmark = pytest.mark.skipif(_native.simd_level() == "portable", reason="a portable build has no x86 kernels")

# A forward and backward through every kind of GEMM shape and the cross-entropy's exponentials.
SCRIPT = r"""
import sys
import numpy as np
import swiftrnn
from swiftrnn import _native, nn
swiftrnn.manual_seed(3)
emb, rnn, fc = nn.Embedding(300, 40), nn.RNN(40, 70, num_layers=2, bidirectional=True), nn.Linear(140, 300)
crit = nn.CrossEntropyLoss()
ids = np.arange(13 * 9).reshape(13, 9) * 7 % 300
out, hn = rnn(emb(ids))
logits = fc(out)
loss = crit(logits.reshape(-1, 300), (ids + 1).reshape(-1) % 300)
gx, _ = rnn.backward(fc.backward(crit.backward().reshape(logits.shape)))
np.savez(sys.argv[1], level=_native.simd_level(), out=out, hn=hn, loss=np.float32(loss), gx=gx,
         w=rnn.weight_hh_l1.grad, fc=fc.weight.grad)
"""


def run(tmp_path, simd):
    """The script's arrays from a fresh interpreter with SWIFTRNN_SIMD=simd (None: unset)."""
    env = {k: v for k, v in os.environ.items() if k != "SWIFTRNN_SIMD"}
    if simd is not None:
        env["SWIFTRNN_SIMD"] = simd
    path = tmp_path / f"{simd}.npz"
    subprocess.run([sys.executable, "-c", SCRIPT, str(path)], env=env, check=True, timeout=300)
    return dict(np.load(path))


def test_simd_avx2_selects_the_avx2_kernels(tmp_path):
    assert str(run(tmp_path, "avx2")["level"]) == "avx2+fma"


@pytest.mark.skipif(_native.simd_level() != "avx512", reason="needs AVX-512 (absent, or SWIFTRNN_SIMD=avx2)")
class TestAVX512:
    """Only where this process runs the AVX-512 kernels: under SWIFTRNN_SIMD=avx2 the class is skipped."""

    def test_the_avx2_kernels_give_the_avx512_bits(self, tmp_path):
        fast, avx2 = run(tmp_path, None), run(tmp_path, "avx2")
        assert str(fast["level"]) == "avx512" and str(avx2["level"]) == "avx2+fma"
        for name in ("out", "hn", "loss", "gx", "w", "fc"):
            assert fast[name].tobytes() == avx2[name].tobytes(), name
