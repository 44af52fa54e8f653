"""swiftrnn.onnx: loading ONNX models (the committed fixtures were made by torch's exporter and ONNX Runtime,
fixtures/make_onnx_fixtures.py) and exporting swiftrnn modules.

Without ``onnx`` only the install message is tested; the import tests need ``onnx`` alone (the expected outputs
are ONNX Runtime's, stored with the fixtures); tests that run ONNX Runtime skip without ``onnxruntime``."""
from __future__ import annotations

import functools
import os
import sys
import tracemalloc

import numpy as np
import pytest

import swiftrnn
import swiftrnn.onnx as sonnx
from conftest import FIXTURES, assert_close
from swiftrnn import nn
from swiftrnn.models import RNNLanguageModel

ONNX_DIR = os.path.join(FIXTURES, "onnx")
MB = 1 << 20


def test_without_onnx_load_and_export_say_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # makes `import onnx` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'swiftrnn\[onnx\]'"):
        sonnx.load(os.path.join(ONNX_DIR, "rnn_tanh.onnx"))
    with pytest.raises(ImportError, match=r"pip install 'swiftrnn\[onnx\]'"):
        sonnx.export(nn.Linear(2, 3), "x.onnx", np.zeros((1, 2), np.float32))
    with pytest.raises(ImportError, match=r"pip install 'swiftrnn\[onnx\]'"):
        sonnx.export_model_dir("somewhere", "x.onnx")


def test_the_onnx_extra_is_declared():
    with open(os.path.join(FIXTURES, "..", "..", "..", "pyproject.toml"), encoding="utf-8") as f:
        assert '\nonnx = ["onnx' in f.read()


onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'swiftrnn[onnx]'): ONNX tests skipped")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

try:
    import onnxruntime as ort
except ImportError:
    ort = None
needs_ort = pytest.mark.skipif(ort is None, reason="onnxruntime is not installed: no live comparison")

EXPECTED = np.load(os.path.join(ONNX_DIR, "expected.npz"))
FIXTURE_NAMES = sorted({k.split("/")[0] for k in EXPECTED.files})


def fixture_io(name):
    feeds = {k.split("/")[2]: EXPECTED[k] for k in EXPECTED.files if k.startswith(f"{name}/in/")}
    outs = [EXPECTED[f"{name}/out/{i}"] for i in range(sum(k.startswith(f"{name}/out/") for k in EXPECTED.files))]
    return feeds, outs


def ort_session(model):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    return ort.InferenceSession(model if isinstance(model, (str, bytes)) else model.SerializeToString(), opts,
                                providers=["CPUExecutionProvider"])


# --- import: the fixtures ------------------------------------------------------------------------

def test_the_fixtures_cover_what_was_asked():
    wanted = {"rnn_tanh", "rnn_relu_bi2", "lstm_batch_first", "lstm_bi2_nobias", "gru", "gru_bi_batch_first",
              "lm_softmax", "lm_log_softmax", "scorer_gru2", "rnn_reverse", "lstm_reverse", "gru_reverse",
              "rnn_bidirectional_layout1", "lstm_bidirectional_layout1", "gru_bidirectional_layout1",
              "lstm_static_bi"}
    assert wanted <= set(FIXTURE_NAMES)


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_a_loaded_model_gives_onnx_runtimes_outputs(name):
    model = sonnx.load(os.path.join(ONNX_DIR, f"{name}.onnx"))
    feeds, expected = fixture_io(name)
    by_name = model(**feeds)
    assert len(by_name) == len(expected) == len(model.output_names)
    for i, (got, want) in enumerate(zip(by_name, expected)):
        assert_close(f"{name} output {i}", got, want)
    positional = model(*[feeds[n] for n in model.input_names])
    for got, again in zip(by_name, positional):
        np.testing.assert_array_equal(got, again)


def test_bytes_load_like_the_path():
    with open(os.path.join(ONNX_DIR, "gru.onnx"), "rb") as f:
        data = f.read()
    feeds, expected = fixture_io("gru")
    for got, want in zip(sonnx.load(data)(**feeds), expected):
        assert_close("gru from bytes", got, want)


def test_the_recurrent_operators_become_swiftrnn_modules_and_loading_draws_no_random_numbers():
    state = swiftrnn.get_rng_state()
    model = sonnx.load(os.path.join(ONNX_DIR, "lstm_bi2_nobias.onnx"))
    np.testing.assert_array_equal(swiftrnn.get_rng_state(), state)
    kinds = [type(m).__name__ for _, m in model.named_modules()][1:]
    assert kinds == ["LSTM", "LSTM"] and not any(m.training for m in model.modules())


def test_call_errors_name_the_inputs():
    model = sonnx.load(os.path.join(ONNX_DIR, "rnn_tanh.onnx"))
    x, h = np.zeros((3, 2, 4), np.float32), np.zeros((1, 2, 5), np.float32)
    assert model.input_names == ("input", "h0")
    with pytest.raises(TypeError, match=r"missing input\(s\) \['h0'\]"):
        model(x)
    with pytest.raises(TypeError, match="unknown input 'hx'"):
        model(input=x, hx=h)
    with pytest.raises(TypeError, match="given twice"):
        model(x, input=x)
    with pytest.raises(ValueError, match=r"input 'input': expected shape \(\?, \?, 4\), got \(3, 2, 7\)"):
        model(np.zeros((3, 2, 7), np.float32), h)


# --- import: what is not supported ---------------------------------------------------------------

def rnn_node_model(op="RNN", extra_nodes=(), D=1, H=3, I=2, G=1, **attrs):
    rng = np.random.default_rng(1)
    weights = {"W": rng.standard_normal((D, G * H, I)).astype(np.float32),
               "R": rng.standard_normal((D, G * H, H)).astype(np.float32)}
    node = helper.make_node(op, ["X", "W", "R"], ["Y", "Y_h"], hidden_size=H, **attrs)
    graph = helper.make_graph([node, *extra_nodes], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4, 1, I])],
                              [helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(v, k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model.SerializeToString()


def test_every_unsupported_operator_and_attribute_is_listed_in_one_error_before_anything_runs():
    data = rnn_node_model("GRU", G=3, clip=2.0, linear_before_reset=0,
                          extra_nodes=[helper.make_node("Tanh", ["Y"], ["T"]), helper.make_node("Erf", ["T"], ["E"])])
    with pytest.raises(sonnx.UnsupportedModelError) as info:
        sonnx.load(data)
    message = str(info.value)
    for part in ("operator Tanh", "operator Erf", "attribute clip=2.0", "cell clipping", "linear_before_reset=0"):
        assert part in message, message
    # linear_before_reset=0 is checked with the recurrent operator's other attributes
    with pytest.raises(sonnx.UnsupportedModelError, match="linear_before_reset=0.*torch's and Keras's"):
        sonnx.load(rnn_node_model("GRU", G=3))  # ONNX's default is 0
    with pytest.raises(sonnx.UnsupportedModelError, match=r"activations=\['Sigmoid'\]"):
        sonnx.load(rnn_node_model("RNN", activations=["Sigmoid"]))
    with pytest.raises(sonnx.UnsupportedModelError, match="only the default"):
        sonnx.load(rnn_node_model("LSTM", G=4, activations=["Tanh", "Tanh", "Tanh"]))
    with pytest.raises(sonnx.UnsupportedModelError, match="input_forget=1"):
        sonnx.load(rnn_node_model("LSTM", G=4, input_forget=1))
    assert issubclass(sonnx.UnsupportedModelError, ValueError)


def test_a_recurrent_node_that_names_only_some_outputs():
    # Y alone, and Y_h alone with Y omitted ("") followed by a node with an omitted optional input (""): the
    # omitted names must not share a value.
    rng = np.random.default_rng(2)
    W, R = rng.standard_normal((1, 3, 2)).astype(np.float32), rng.standard_normal((1, 3, 3)).astype(np.float32)
    x = rng.standard_normal((4, 1, 2)).astype(np.float32)
    only_y = helper.make_node("RNN", ["X", "W", "R"], ["Y"], hidden_size=3)
    only_h = helper.make_node("RNN", ["X", "W", "R"], ["", "H"], hidden_size=3)
    again = helper.make_node("RNN", ["X", "W", "R", "", "", "H"], ["", "H2"], hidden_size=3)  # B, seq_lens omitted
    graph = helper.make_graph([only_y, only_h, again], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4, 1, 2])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "H", "H2")],
                              [numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R")])
    y, h, h2 = sonnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())(x)
    rnn = nn.RNN(2, 3, bias=False).eval()
    rnn.weight_ih_l0, rnn.weight_hh_l0 = W[0], R[0]
    with swiftrnn.no_grad():
        want_y, want_h = rnn(x)
        _, want_h2 = rnn(x, want_h)
    assert_close("Y", y, want_y[:, None])
    assert_close("Y_h", h, want_h)
    assert_close("Y_h from Y_h", h2, want_h2)


def test_cast_and_expand_follow_onnx():
    nodes = [helper.make_node("Cast", ["X"], ["C"], to=TensorProto.INT64),
             helper.make_node("Expand", ["X", "S"], ["E"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [3, 1])],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT if n == "E" else TensorProto.INT64, None)
                               for n in ("C", "E")], [numpy_helper.from_array(np.array([2, 1, 4], np.int64), "S")])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    x = np.array([[1.7], [-2.2], [3.0]], np.float32)
    c, e = sonnx.load(data)(x)
    np.testing.assert_array_equal(c, x.astype(np.int64))
    np.testing.assert_array_equal(e, np.broadcast_to(x, (2, 3, 4)))
    if ort is not None:
        for got, want in zip((c, e), ort_session(data).run(None, {"X": x})):
            np.testing.assert_array_equal(got, want)


def test_relu_rnn_and_default_attributes_load():
    model = sonnx.load(rnn_node_model("RNN", activations=["Relu"]))
    (hn,) = model(np.ones((4, 1, 2), np.float32))
    assert hn.shape == (1, 1, 3) and (hn >= 0).all()
    sonnx.load(rnn_node_model("GRU", G=3, linear_before_reset=1, activations=["Sigmoid", "Tanh"]))


@pytest.mark.parametrize("name, fused", [("lm_softmax", "Softmax"), ("lm_log_softmax", "LogSoftmax")])
def test_a_linear_followed_by_a_softmax_runs_as_one_fused_step(name, fused):
    # torch's export of the generation step ends in Gemm -> (Log)Softmax: one core call, the outputs still ONNX
    # Runtime's (the fixture test) and bit for bit the two separate calls'.
    model = sonnx.load(os.path.join(ONNX_DIR, f"{name}.onnx"))
    assert any(op.endswith("+" + fused) for op in model._operators), model._operators


def test_sequence_lens_shorter_than_the_sequence_run_packed():
    # The *_varlen fixtures (ONNX Runtime's outputs, lengths [4, 6, 1] of 6) run through the fixture parity test;
    # here: every direction and cell against the loaded module run on each sequence alone, over its own length.
    for name in ("rnn_reverse_varlen", "lstm_bidirectional_varlen", "gru_forward_varlen"):
        assert name in FIXTURE_NAMES
        model = sonnx.load(os.path.join(ONNX_DIR, f"{name}.onnx"))
        (module,) = [m for _, m in model.named_modules()][1:]
        feeds, _ = fixture_io(name)
        y, *finals = model(**feeds)
        reverse = name.startswith("rnn_reverse")
        for n, length in enumerate(feeds["sequence_lens"]):
            x = feeds["X"][:length, n:n + 1]
            h = feeds["initial_h"][:, n:n + 1]
            hx = (h, feeds["initial_c"][:, n:n + 1]) if "initial_c" in feeds else h
            out, hn = module(x[::-1] if reverse else x, hx)
            out = out[::-1] if reverse else out
            np.testing.assert_array_equal(y[:length, :, n], out.reshape(length, -1, y.shape[-1]))
            assert not y[length:, :, n].any()
            for f, f1 in zip(finals, hn if isinstance(hn, tuple) else (hn,)):
                np.testing.assert_array_equal(f[:, n:n + 1], f1)


@pytest.mark.parametrize("op, G, direction", [("LSTM", 4, "bidirectional"), ("GRU", 3, "reverse")])
def test_sequence_lens_with_layout_1_are_the_layout_0_twins_outputs(op, G, direction):
    # ONNX Runtime refuses layout 1; the layout-0 model with the same weights (checked against it by the *_varlen
    # fixtures) gives the reference, transposed.
    D, H, I, T, N = (2 if direction == "bidirectional" else 1), 4, 3, 5, 3
    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n)
             for n, s in (("W", (D, G * H, I)), ("R", (D, G * H, H)), ("B", (D, 2 * G * H)))]
    states = ["initial_h", "initial_c"] if op == "LSTM" else ["initial_h"]
    feeds0 = {"X": rng.standard_normal((T, N, I)).astype(np.float32), "sequence_lens": np.array([2, 5, 1], np.int32),
              **{s: rng.standard_normal((D, N, H)).astype(np.float32) for s in states}}

    def model(layout):
        swap = (lambda shape: [shape[1], shape[0], *shape[2:]]) if layout else list
        extra = {"linear_before_reset": 1} if op == "GRU" else {}
        node = helper.make_node(op, ["X", "W", "R", "B", "sequence_lens", *states],
                                ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else []), hidden_size=H, direction=direction,
                                layout=layout, **extra)
        inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, swap([T, N, I])),
                  helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, [N])]
        inputs += [helper.make_tensor_value_info(s, TensorProto.FLOAT, swap([D, N, H])) for s in states]
        outputs = [helper.make_tensor_value_info(o, TensorProto.FLOAT, None)
                   for o in ["Y", "Y_h"] + (["Y_c"] if op == "LSTM" else [])]
        graph = helper.make_graph([node], "g", inputs, outputs, inits)
        return sonnx.load(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())

    want = model(0)(**feeds0)
    feeds1 = {k: (v if k == "sequence_lens" else np.ascontiguousarray(np.swapaxes(v, 0, 1))) for k, v in feeds0.items()}
    got = model(1)(**feeds1)
    np.testing.assert_array_equal(got[0], np.transpose(want[0], (2, 0, 1, 3)))  # (N, T, D, H)
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_array_equal(g, np.swapaxes(w, 0, 1))  # (N, D, H)


@pytest.mark.parametrize("lengths", [[0, 6, 1], [4, 7, 1], [-2, 6, 1]])
def test_sequence_lens_out_of_range_are_a_clear_error(lengths):
    name = "gru_reverse_varlen"
    model = sonnx.load(os.path.join(ONNX_DIR, f"{name}.onnx"))
    feeds, _ = fixture_io(name)
    with pytest.raises(ValueError, match=r"sequence_lens must hold one length in \[1, 6\]"):
        model(**{**feeds, "sequence_lens": np.array(lengths, np.int32)})


# --- import: hostile files -----------------------------------------------------------------------

def peak_of(fn):
    """(exception raised by fn(), tracemalloc peak in bytes)."""
    tracemalloc.start()
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - returned for the caller's checks
        return e, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    raise AssertionError("expected the load to fail")


def test_a_truncated_or_corrupt_file_is_a_clear_error(tmp_path):
    with open(os.path.join(ONNX_DIR, "lstm_bi2_nobias.onnx"), "rb") as f:
        data = f.read()
    for cut in (len(data) // 2, len(data) - 7, 10):
        path = tmp_path / "cut.onnx"
        path.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="not a valid ONNX model"):
            sonnx.load(path)
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        sonnx.load(tmp_path / "empty.onnx")
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        sonnx.load(b"\xff" * 1000)


def test_a_file_larger_than_max_bytes_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.onnx"
    with open(path, "wb") as f:
        f.truncate(64 * MB)  # sparse: 64 MiB of zeros
    error, peak = peak_of(lambda: sonnx.load(path, max_bytes=16 * MB))
    assert isinstance(error, ValueError) and "more than max_bytes" in str(error)
    assert peak < MB


def test_a_tensor_that_declares_more_data_than_it_holds_fails_before_allocating():
    # an initializer of 2**40 floats (4 TiB) holding 12 bytes
    weights = numpy_helper.from_array(np.zeros(3, np.float32), "W")
    weights.ClearField("dims")
    weights.dims.extend([1, 1 << 20, 1 << 20])
    graph = helper.make_graph([helper.make_node("Identity", ["W"], ["Y"])], "g", [],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], [weights])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    error, peak = peak_of(lambda: sonnx.load(data))
    assert isinstance(error, ValueError) and "holds 3" in str(error), error
    assert peak < MB


def test_a_shape_that_would_materialise_a_huge_tensor_is_refused():
    shape = numpy_helper.from_array(np.array([1 << 20, 1 << 20], np.int64), "S")
    graph = helper.make_graph([helper.make_node("ConstantOfShape", ["S"], ["Y"])], "g", [],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], [shape])
    data = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    error, peak = peak_of(lambda: sonnx.load(data))
    assert isinstance(error, ValueError) and "more than" in str(error), error
    assert peak < MB


def test_external_data_is_refused(tmp_path):
    model = onnx.load(os.path.join(ONNX_DIR, "gru.onnx"))
    onnx.save(model, tmp_path / "ext.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
              location="ext.data", size_threshold=0)
    with pytest.raises(sonnx.UnsupportedModelError, match="external file"):
        sonnx.load(tmp_path / "ext.onnx")


# --- import: live against ONNX Runtime -----------------------------------------------------------

@needs_ort
@pytest.mark.parametrize("name", [n for n in FIXTURE_NAMES if "layout1" not in n])  # ORT's CPU ops refuse layout 1
def test_new_inputs_match_onnx_runtime(name):
    path = os.path.join(ONNX_DIR, f"{name}.onnx")
    model, session = sonnx.load(path), ort_session(path)
    feeds, _ = fixture_io(name)
    rng = np.random.default_rng(7)
    fresh = {k: (rng.integers(0, 5, v.shape).astype(v.dtype) if v.dtype.kind == "i" and k != "sequence_lens"
                 else v if k == "sequence_lens" else rng.standard_normal(v.shape).astype(np.float32))
             for k, v in feeds.items()}
    for i, (got, want) in enumerate(zip(model(**fresh), session.run(None, fresh))):
        assert_close(f"{name} output {i}", got, want)


# --- export --------------------------------------------------------------------------------------

def rand(*shape):
    return swiftrnn.randn(*shape).astype(np.float32)


EXPORT_CASES = {
    "rnn_relu_bi2_h0": lambda: (nn.RNN(4, 5, num_layers=2, nonlinearity="relu", bidirectional=True),
                                (rand(3, 2, 4), rand(4, 2, 5)), (rand(6, 3, 4), rand(4, 3, 5))),
    "rnn_batch_first_nobias": lambda: (nn.RNN(4, 5, bias=False, batch_first=True), (rand(2, 3, 4),), (rand(1, 7, 4),)),
    "lstm_bi2_batch_first_states": lambda: (nn.LSTM(4, 5, num_layers=2, batch_first=True, bidirectional=True),
                                            (rand(2, 3, 4), (rand(4, 2, 5), rand(4, 2, 5))),
                                            (rand(3, 2, 4), rand(4, 3, 5), rand(4, 3, 5))),
    "lstm_nobias": lambda: (nn.LSTM(4, 5, bias=False), (rand(3, 2, 4),), (rand(5, 1, 4),)),
    "gru3_h0": lambda: (nn.GRU(4, 5, num_layers=3), (rand(3, 2, 4), rand(3, 2, 5)), (rand(2, 4, 4), rand(3, 4, 5))),
    "gru_unbatched_bi": lambda: (nn.GRU(4, 5, bidirectional=True), (rand(3, 4), rand(2, 5)), (rand(6, 4), rand(2, 5))),
    "embedding": lambda: (nn.Embedding(10, 4), (np.array([[1, 2], [3, 4]]),), (np.array([[9, 0, 1]]),)),
    "linear": lambda: (nn.Linear(4, 3), (rand(2, 5, 4),), (rand(3, 1, 4),)),
    "chain_softmax": lambda: ([nn.Embedding(10, 4), nn.GRU(4, 6, batch_first=True), nn.Linear(6, 10),
                               nn.functional.log_softmax], (np.array([[1, 2, 3], [3, 4, 5]]),), (np.array([[7, 8]]),)),
    "chain_softmax_dim": lambda: ([nn.Linear(4, 6), functools.partial(nn.functional.softmax, dim=0)],
                                  (rand(3, 4),), (rand(5, 4),)),
    "language_model": lambda: (RNNLanguageModel(12, 4, 6, num_layers=2), (np.array([[1, 2, 3]]), rand(2, 1, 6)),
                               (np.array([[4, 5], [6, 7], [8, 9]]), rand(2, 3, 6))),
}


def swiftrnn_outputs(module, inputs):
    with swiftrnn.no_grad():
        if isinstance(module, list):
            value = inputs[0]
            for step in module:
                if isinstance(step, nn.RNNBase):
                    value = step(value)[0]
                elif step in (nn.functional.softmax, nn.functional.log_softmax):
                    value = step(value, dim=-1)  # a bare softmax in a chain is over the last dimension
                else:
                    value = step(value)
            return [value]
        if isinstance(module, nn.LSTM):
            out, (hn, cn) = module(inputs[0], None if len(inputs) == 1 else (inputs[1], inputs[2]))
            return [out, hn, cn]
        got = module(*inputs)
        return list(got) if isinstance(got, tuple) else [got]


@pytest.mark.parametrize("case", sorted(EXPORT_CASES))
def test_an_exported_module_loads_back_with_its_outputs_for_other_batch_and_length(case, tmp_path):
    module, example, other = EXPORT_CASES[case]()
    path = tmp_path / "m.onnx"
    sonnx.export(module, path, example)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    loaded = sonnx.load(path)
    assert len(loaded.input_names) == len(other)
    for i, (got, want) in enumerate(zip(loaded(*other), swiftrnn_outputs(module, other))):
        assert_close(f"{case} output {i}", got, want)


@needs_ort
@pytest.mark.parametrize("case", sorted(EXPORT_CASES))
def test_onnx_runtime_runs_an_exported_module_with_swiftrnns_outputs(case, tmp_path):
    module, example, other = EXPORT_CASES[case]()
    path = str(tmp_path / "m.onnx")
    sonnx.export(module, path, example)
    session = ort_session(path)
    feeds = {i.name: np.asarray(v, dtype=np.int64 if np.asarray(v).dtype.kind == "i" else np.float32)
             for i, v in zip(session.get_inputs(), other)}
    got = session.run(None, feeds)
    want = swiftrnn_outputs(module, other)
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert_close(f"{case} output {i}", g, w)


def test_export_refuses_what_onnx_cannot_express(tmp_path):
    with pytest.raises(ValueError, match="proj_size"):
        sonnx.export(nn.LSTM(4, 5, proj_size=2), tmp_path / "m.onnx", rand(3, 1, 4))
    with pytest.raises(ValueError, match="max_norm"):
        sonnx.export(nn.Embedding(5, 2, max_norm=1.0), tmp_path / "m.onnx", np.array([1]))
    with pytest.raises(TypeError, match="cannot export CrossEntropyLoss"):
        sonnx.export([nn.Linear(2, 2), nn.CrossEntropyLoss()], tmp_path / "m.onnx", rand(1, 2))
    assert not (tmp_path / "m.onnx").exists()


def test_dynamic_axes_fix_the_dimensions_not_named(tmp_path):
    path = tmp_path / "m.onnx"
    sonnx.export(nn.GRU(3, 4), path, rand(5, 2, 3), dynamic_axes={"input": {0: "T"}, "output": {0: "T"}})
    model = sonnx.load(path)
    assert model(rand(7, 2, 3))[0].shape == (7, 2, 4)
    with pytest.raises(ValueError, match=r"expected shape \(\?, 2, 3\)"):
        model(rand(7, 3, 3))


def test_export_model_dir_writes_the_language_model(tmp_path):
    lm = RNNLanguageModel(9, 4, 6)
    lm.save(tmp_path / "lm")
    sonnx.export_model_dir(tmp_path / "lm", tmp_path / "lm.onnx")
    loaded = sonnx.load(tmp_path / "lm.onnx")
    assert loaded.input_names == ("ids", "h0") and loaded.output_names == ("logits", "hn")
    ids, h = np.array([[1, 2, 3], [4, 5, 6]]), rand(1, 2, 6)
    want = swiftrnn_outputs(RNNLanguageModel.load(tmp_path / "lm"), (ids, h))
    for got, w in zip(loaded(ids, h), want):
        assert_close("language model", got, w)
