"""A saved model directory is untrusted input: a hostile file fails fast with a clear ValueError (or an OSError
subclass), allocating no more than the files hold. Memory is measured with tracemalloc (NumPy reports its
arrays to it), never with a clock."""
from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile

import numpy as np
import pytest

from swiftrnn.models import RNNLanguageModel, _config_checksum, _expected_shapes
from swiftrnn.text import Vocab

MB = 1 << 20


def save_small(directory, **kw):
    cfg = dict(vocab_size=12, embedding_dim=8, hidden_size=16, num_layers=1, **kw)
    vocab = Vocab([chr(0x4e00 + i) for i in range(cfg["vocab_size"])])
    RNNLanguageModel(**cfg).save(directory, vocab=vocab, tokenizer="char")
    return directory


def edit_config(directory, fn):
    """A consistent hand edit: the checksum is recomputed (anyone can), so the checks behind it are reached."""
    path = os.path.join(directory, "config.json")
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    fn(cfg)
    cfg["checksum"] = _config_checksum(cfg)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cfg, f)


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


@pytest.mark.parametrize("field, value, match", [
    ("num_layers", 100_000, "more than this"),       # was: hours building 400,000 parameters
    ("vocab_size", 20_000_000, "more than this"),    # was: 4.3 GiB of embedding and output layer
    ("hidden_size", 1 << 40, "more than this"),
    ("embedding_dim", 3, "size mismatch for embedding.weight"),
])
def test_a_config_that_declares_a_huge_model_fails_before_building_it(tmp_path, field, value, match):
    save_small(tmp_path)
    edit_config(tmp_path, lambda c: (c["config"].update({field: value}), c["files"].pop("vocab.json")))
    assert os.path.getsize(tmp_path / "config.json") < 600
    err, peak = peak_of(lambda: RNNLanguageModel.load(tmp_path))
    assert isinstance(err, ValueError) and str(err).startswith(str(tmp_path / "weights.npz")), err
    assert match in str(err)
    assert peak < 2 * MB, f"a {field}={value} config allocated {peak / MB:.0f} MB before failing"


def write_npz_members(path, members, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression=compress) as z:
        for name, header_shape, body in members:
            with z.open(name + ".npy", "w", force_zip64=True) as f:
                buf = io.BytesIO()
                np.lib.format.write_array_header_1_0(
                    buf, {"descr": "<f4", "fortran_order": False, "shape": header_shape})
                f.write(buf.getvalue())
                for chunk in body:
                    f.write(chunk)


def test_a_zip_bomb_is_refused_without_decompressing_it(tmp_path):
    save_small(tmp_path)
    shapes = _expected_shapes(12, 8, 16, 1)
    zeros = bytes(MB)
    members = [(k, s, [np.zeros(s, np.float32).tobytes()]) for k, s in shapes.items() if k != "embedding.weight"]
    members.append(("embedding.weight", (64 * MB // 4,), [zeros] * 64))  # 64 MB of zeros in ~64 KB
    write_npz_members(tmp_path / "weights.npz", members, zipfile.ZIP_DEFLATED)
    assert os.path.getsize(tmp_path / "weights.npz") < MB
    edit_config(tmp_path, lambda c: c["files"].pop("weights.npz"))  # a hand-made file: no hash to check
    err, peak = peak_of(lambda: RNNLanguageModel.load(tmp_path))
    assert isinstance(err, ValueError) and "compressed" in str(err), err
    assert peak < 8 * MB, f"the zip bomb allocated {peak / MB:.0f} MB"


def test_member_headers_are_checked_against_the_config_and_the_member(tmp_path):
    save_small(tmp_path)
    shapes = _expected_shapes(12, 8, 16, 1)
    edit_config(tmp_path, lambda c: c["files"].pop("weights.npz"))

    def members(**override):
        return [(k, override.get(k, (s, [np.zeros(s, np.float32).tobytes()]))[0],
                 override.get(k, (s, [np.zeros(s, np.float32).tobytes()]))[1]) for k, s in shapes.items()]

    cases = [
        (members(**{"fc.bias": ((12,), [bytes(8)])}), "the member holds"),               # shorter than declared
        (members(**{"fc.bias": ((12,), [bytes(48 + 4 * MB)])}), "the member holds"),     # longer: never read
        (members(**{"fc.bias": ((13,), [bytes(52)])}), "size mismatch for fc.bias"),
        (members(**{"fc.bias": ((3, 4), [bytes(48)])}), "size mismatch for fc.bias"),
    ]
    for content, match in cases:
        write_npz_members(tmp_path / "weights.npz", content)
        err, peak = peak_of(lambda: RNNLanguageModel.load(tmp_path))
        assert isinstance(err, ValueError) and match in str(err), (match, err)
        assert peak < 2 * MB + os.path.getsize(tmp_path / "weights.npz"), peak


def test_a_npy_posing_as_weights_npz_is_a_clear_error(tmp_path):
    save_small(tmp_path)
    np.save(tmp_path / "w.npy", np.zeros(10_000, np.float32))
    os.replace(tmp_path / "w.npy", tmp_path / "weights.npz")
    edit_config(tmp_path, lambda c: c["files"].pop("weights.npz"))
    with pytest.raises(ValueError, match=r"weights\.npz: a single \.npy array, not a \.npz archive"):
        RNNLanguageModel.load(tmp_path)


@pytest.mark.parametrize("name", ["config.json", "vocab.json"])
def test_deeply_nested_json_is_a_value_error(tmp_path, name):
    save_small(tmp_path)
    (tmp_path / name).write_bytes(b"[" * 200_000 + b"]" * 200_000)
    if name == "vocab.json":
        edit_config(tmp_path, lambda c: c["files"].update({"vocab.json": None}))
    with pytest.raises(ValueError, match="nested too deeply"):
        RNNLanguageModel.load(tmp_path)


def test_an_oversized_config_is_refused_unparsed(tmp_path):
    save_small(tmp_path)
    (tmp_path / "config.json").write_bytes(b" " * (2 * MB) + b"{}")
    with pytest.raises(ValueError, match="larger than"):
        RNNLanguageModel.load(tmp_path)


@pytest.mark.parametrize("cfg", [dict(vocab_size=3, embedding_dim=2, hidden_size=5, num_layers=1),
                                 dict(vocab_size=7, embedding_dim=4, hidden_size=3, num_layers=3)])
def test_expected_shapes_are_the_models(cfg):
    model = RNNLanguageModel(**cfg)
    assert _expected_shapes(**cfg) == {k: v.shape for k, v in model.state_dict().items()}
    assert list(_expected_shapes(**cfg)) == list(model.state_dict())
