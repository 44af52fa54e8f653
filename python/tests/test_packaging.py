"""Packaging and ecosystem: py.typed and the typed example (mypy --strict), a docstring on every public
name, inputs from the buffer protocol / __array__ / torch, outputs into torch.from_numpy."""
from __future__ import annotations

import array
import importlib
import inspect
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import swiftrnn
from swiftrnn import nn

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "Examples" / "typed_usage.py"
PUBLIC_MODULES = ["swiftrnn", "swiftrnn.nn", "swiftrnn.nn.functional", "swiftrnn.nn.utils", "swiftrnn.optim",
                  "swiftrnn.text", "swiftrnn.models", "swiftrnn.random", "swiftrnn.onnx"]


# --- typing ----------------------------------------------------------------------------------------

def test_package_is_marked_typed():
    package = pathlib.Path(swiftrnn.__file__).parent
    assert (package / "py.typed").is_file()
    assert (package / "_native.pyi").is_file()


def test_typed_example_runs():
    if not EXAMPLE.is_file():
        pytest.skip("Examples/ is not next to these tests")
    out = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "generated:" in out.stdout


def test_the_package_passes_mypy_strict(monkeypatch):
    api = pytest.importorskip("mypy.api")
    # The swiftrnn under test, with _native.pyi for the C extension: the installed one (found through
    # --python-executable), or a checkout's python/ folder (through MYPYPATH).
    parent = pathlib.Path(swiftrnn.__file__).parent.parent
    if parent.name != "site-packages":
        monkeypatch.setenv("MYPYPATH", str(parent))
    stdout, stderr, status = api.run(["--strict", "--no-incremental", "--python-executable", sys.executable,
                                      "-p", "swiftrnn"])
    assert status == 0, stdout + stderr


def test_typed_example_passes_mypy_strict():
    api = pytest.importorskip("mypy.api")
    if not EXAMPLE.is_file():
        pytest.skip("Examples/ is not next to these tests")
    # The swiftrnn that mypy sees is the installed one (its py.typed), as for a user of the wheel.
    stdout, stderr, status = api.run(["--strict", "--no-incremental", "--python-executable", sys.executable,
                                      str(EXAMPLE)])
    assert status == 0, stdout + stderr


# --- the checkout ----------------------------------------------------------------------------------

def test_no_two_tracked_paths_differ_only_in_case():
    """A clone on a case-insensitive file system (macOS, Windows) must not merge two folders or files."""
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("git is not available")
    if out.returncode != 0 or not out.stdout:
        pytest.skip("not a git checkout")
    seen = {}
    for path in out.stdout.splitlines():
        parts = pathlib.PurePosixPath(path).parts
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            other = seen.setdefault(prefix.lower(), prefix)
            assert other == prefix, f"{other!r} and {prefix!r} differ only in case"


# --- docstrings ------------------------------------------------------------------------------------

def _public(module):
    names = getattr(module, "__all__", None) or [n for n in dir(module) if not n.startswith("_")]
    for name in names:
        obj = getattr(module, name)
        if inspect.ismodule(obj) or not callable(obj):
            continue
        yield f"{module.__name__}.{name}", obj
        if inspect.isclass(obj):
            for attr, value in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(value, property):
                    yield f"{module.__name__}.{name}.{attr}", value.fget
                elif callable(getattr(value, "__func__", value)):
                    yield f"{module.__name__}.{name}.{attr}", getattr(value, "__func__", value)


def test_every_public_name_has_a_docstring():
    missing = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        if not (module.__doc__ or "").strip():
            missing.append(module_name)
        missing += [name for name, obj in _public(module) if not (inspect.getdoc(obj) or "").strip()]
    assert not missing, f"public names without a docstring: {missing}"


@pytest.mark.parametrize("cls", [nn.RNN, nn.Embedding, nn.Linear, nn.CrossEntropyLoss])
def test_module_docstrings_teach_the_module(cls):
    doc = inspect.getdoc(cls)
    for section in ("Args:", "Shape", "Raises:"):
        assert section in doc, f"{cls.__name__}: no {section!r} section"


# --- interop: inputs -------------------------------------------------------------------------------

class ArrayLike:
    """Only __array__: what pandas, xarray, JAX and friends offer."""

    def __init__(self, a):
        self.a = a

    def __array__(self, dtype=None, copy=None):
        return self.a if dtype is None else self.a.astype(dtype)


X = (np.arange(24, dtype=np.float32).reshape(3, 2, 4) - 12) / 12


@pytest.mark.parametrize("wrap", [
    pytest.param(lambda a: memoryview(a), id="memoryview"),
    pytest.param(lambda a: memoryview(bytearray(a.tobytes())).cast("B").cast("f", a.shape), id="memoryview-cast"),
    pytest.param(ArrayLike, id="__array__"),
    pytest.param(lambda a: a.tolist(), id="nested-list"),
])
def test_float_inputs_from_the_buffer_protocol_and_array_interface(wrap):
    swiftrnn.manual_seed(0)
    rnn, fc = nn.RNN(4, 3).eval(), nn.Linear(4, 2).eval()
    expected_rnn, expected_fc = rnn(X), fc(X)
    out, hn = rnn(wrap(X))
    np.testing.assert_array_equal(out, expected_rnn[0])
    np.testing.assert_array_equal(hn, expected_rnn[1])
    np.testing.assert_array_equal(fc(wrap(X)), expected_fc)
    np.testing.assert_array_equal(nn.functional.softmax(wrap(X), dim=-1), nn.functional.softmax(X, dim=-1))


def test_one_dimensional_buffers():
    fc = nn.Linear(4, 2)
    values = [0.5, -1.0, 2.0, 0.25]
    expected = fc(np.array(values, dtype=np.float32))
    np.testing.assert_array_equal(fc(array.array("f", values)), expected)
    np.testing.assert_array_equal(fc(array.array("d", values)), expected)


@pytest.mark.parametrize("wrap", [
    pytest.param(lambda a: array.array("q", a.tolist()), id="array.array"),
    pytest.param(lambda a: memoryview(a), id="memoryview"),
    pytest.param(ArrayLike, id="__array__"),
])
def test_index_inputs_from_the_buffer_protocol_and_array_interface(wrap):
    embed = nn.Embedding(10, 4)
    ids = np.array([3, 1, 4, 1, 5], dtype=np.int64)
    np.testing.assert_array_equal(embed(wrap(ids)), embed(ids))


class DLPackOnly:
    """Only the DLPack protocol (as a CuPy/JAX array on the CPU offers it): no __array__, no buffer."""

    def __init__(self, a):
        self.a = a

    def __dlpack__(self, **kwargs):
        return self.a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.a.__dlpack_device__()


def test_dlpack_inputs():
    if not hasattr(np, "from_dlpack"):
        pytest.skip("numpy without from_dlpack")
    swiftrnn.manual_seed(0)
    rnn, fc, embed = nn.RNN(4, 3).eval(), nn.Linear(4, 2).eval(), nn.Embedding(10, 4)
    np.testing.assert_array_equal(rnn(DLPackOnly(X))[0], rnn(X)[0])
    np.testing.assert_array_equal(fc(DLPackOnly(X)), fc(X))
    ids = np.array([[1, 2], [3, 4]])
    np.testing.assert_array_equal(embed(DLPackOnly(ids)), embed(ids))


# --- interop: torch --------------------------------------------------------------------------------

def test_torch_tensors_in_and_from_numpy_out():
    torch = pytest.importorskip("torch")
    swiftrnn.manual_seed(0)
    rnn, embed = nn.RNN(4, 3), nn.Embedding(10, 4)
    out, hn = rnn(torch.from_numpy(X))
    np.testing.assert_array_equal(out, rnn(X)[0])
    t = torch.from_numpy(out)                       # shares memory with our output
    assert t.dtype == torch.float32 and tuple(t.shape) == out.shape
    t[0, 0, 0] = 123.0
    assert out[0, 0, 0] == 123.0
    np.testing.assert_array_equal(embed(torch.tensor([[1, 2], [3, 4]])), embed(np.array([[1, 2], [3, 4]])))
    for name, value in rnn.state_dict().items():
        assert torch.from_numpy(value).shape == value.shape, name
