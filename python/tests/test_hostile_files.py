"""A saved model directory is untrusted input: a hostile file fails fast with a clear ValueError (or an OSError
subclass), allocating no more than the files hold. Memory is measured with tracemalloc (NumPy reports its
arrays to it), never with a clock."""
from __future__ import annotations

import io
import json
import os
import tracemalloc
import warnings
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


# ---------------------------------------------------------------------------------------------------
# Random hostile directories (hypothesis): every load returns a whole model (the one the files on disk
# describe) or raises ValueError / an OSError subclass, never another exception type, and allocates no more
# than a small multiple of the directory's size (so it cannot run for long either).
# ---------------------------------------------------------------------------------------------------

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

EXAMPLES = int(os.environ.get("SRNN_FUZZ_EXAMPLES", "0"))
CLEAN = (ValueError, OSError)


def hostile_settings(n):
    return settings(max_examples=EXAMPLES or n, deadline=None, derandomize=not EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


_BASE = {}


def base_files():
    """The files of one saved model (built once): {name: bytes}, and the state_dict arrays."""
    if not _BASE:
        import tempfile
        d = tempfile.mkdtemp(prefix="srnn-hostile-base-")
        vocab = Vocab(["a", "b", "\ud800", "道", "<unk>", " ", "\n"], specials=[])
        model = RNNLanguageModel(7, embedding_dim=4, hidden_size=5, num_layers=2, dropout=0.25)
        model.save(os.path.join(d, "m"), vocab=vocab, tokenizer="char")
        for name in os.listdir(os.path.join(d, "m")):
            with open(os.path.join(d, "m", name), "rb") as f:
                _BASE[name] = f.read()
        _BASE["__state__"] = model.state_dict()
    files = {k: v for k, v in _BASE.items() if k != "__state__"}
    return files, _BASE["__state__"]


FILES = ["config.json", "weights.npz", "vocab.json"]
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2, 2**70), st.floats(allow_nan=False), st.text(max_size=8),
              st.sampled_from([0, 1, 2, 7, 100_000, 20_000_000, 2**31, "tanh", "relu", 0.5])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6)

byte_edits = st.one_of(
    st.tuples(st.just("flip"), st.sampled_from(FILES), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.sampled_from(FILES), st.integers(0, 10**6)),
    st.tuples(st.just("append"), st.sampled_from(FILES), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("delete"), st.sampled_from(FILES)),
    st.tuples(st.just("replace"), st.sampled_from(FILES), st.binary(max_size=128)),
    st.tuples(st.just("swap"), st.sampled_from(FILES), st.sampled_from(FILES)),
)
config_edits = st.one_of(
    st.tuples(st.just("config"), st.sampled_from(["vocab_size", "embedding_dim", "hidden_size", "num_layers",
                                                  "dropout", "nonlinearity", "extra"]), json_values),
    st.tuples(st.just("meta"), st.sampled_from(["format", "version", "tokenizer", "files", "config"]), json_values),
    st.tuples(st.just("unhash"), st.sampled_from(["weights.npz", "vocab.json"])),
)
npz_edits = st.one_of(
    st.tuples(st.just("rename"), st.integers(0, 20), st.text(max_size=12)),
    st.tuples(st.just("dtype"), st.integers(0, 20), st.sampled_from(["<f8", "<f2", ">f4", "<i4", "|b1", "<c8", "|O"])),
    st.tuples(st.just("shape"), st.integers(0, 20), st.lists(st.integers(0, 6), max_size=3)),
    st.tuples(st.just("drop"), st.integers(0, 20)),
    st.tuples(st.just("add"), st.text(max_size=12), st.integers(0, 40)),
    st.tuples(st.just("value"), st.integers(0, 20), st.sampled_from([np.nan, np.inf, -np.inf, 1e30, 0.0])),
    st.tuples(st.just("fortran"), st.integers(0, 20)),
    st.tuples(st.just("compress"), st.integers(0, 20)),
    st.tuples(st.just("bigheader"), st.integers(0, 20), st.sampled_from([(10**6,), (2**40, 2**20), (-1,), ()])),
)


def rezip(state, edits):
    """weights.npz bytes from `state` with member-level edits (members written by hand where NumPy would
    refuse: object dtype, a header that lies about the shape, one compressed member)."""
    members = [[k + ".npy", np.ascontiguousarray(v), None, zipfile.ZIP_STORED] for k, v in state.items()]
    for edit in edits:
        kind = edit[0]
        if kind == "add":
            members.append([edit[1] + ".npy", np.zeros(edit[2], np.float32), None, zipfile.ZIP_STORED])
            continue
        if not members:
            continue
        m = members[edit[1] % len(members)]
        if kind == "rename":
            m[0] = edit[2]
        elif kind == "dtype":
            m[1] = m[1].astype(object) if edit[2] == "|O" else m[1].astype(np.dtype(edit[2]))
        elif kind == "shape":
            m[1] = np.zeros(edit[2], np.float32)
        elif kind == "drop":
            members.remove(m)
        elif kind == "value":
            m[1] = m[1].copy()
            m[1].reshape(-1)[:1] = edit[2]
        elif kind == "fortran":
            m[1] = np.asfortranarray(m[1].reshape(m[1].shape[::-1]).T) if m[1].ndim == 2 else m[1]
        elif kind == "compress":
            m[3] = zipfile.ZIP_DEFLATED
        elif kind == "bigheader":
            m[2] = edit[2]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate member names: wanted
        for name, arr, lie, compression in members:
            npy = io.BytesIO()
            if lie is None:
                np.lib.format.write_array(npy, arr, allow_pickle=True)
            else:
                np.lib.format.write_array_header_1_0(npy, {"descr": "<f4", "fortran_order": False, "shape": lie})
                npy.write(arr.tobytes())
            z.writestr(zipfile.ZipInfo(name), npy.getvalue(), compress_type=compression)
    return buf.getvalue()


def apply_edits(files, state, edits):
    files = dict(files)
    cfg = json.loads(files["config.json"]) if "config.json" in files else None
    rehash = False
    npz = [e for e in edits if e[0] in ("rename", "dtype", "shape", "drop", "add", "value", "fortran", "compress",
                                       "bigheader")]
    if npz:
        files["weights.npz"] = rezip(state, npz)
        rehash = True
    for e in edits:
        kind = e[0]
        if cfg is not None and kind in ("config", "meta", "unhash"):
            if kind == "config" and isinstance(cfg.get("config"), dict):
                cfg["config"][e[1]] = e[2]
            elif kind == "meta":
                cfg[e[1]] = e[2]
            elif kind == "unhash" and isinstance(cfg.get("files"), dict):
                cfg["files"][e[1]] = None
            rehash = True
    if rehash and cfg is not None:  # a consistent forgery: hashes and checksum recomputed
        if isinstance(cfg.get("files"), dict):
            for name in ("weights.npz", "vocab.json"):
                if cfg["files"].get(name) is not None and name in files:
                    import hashlib
                    cfg["files"][name] = hashlib.sha256(files[name]).hexdigest()
        try:
            cfg["checksum"] = _config_checksum(cfg)
            files["config.json"] = json.dumps(cfg).encode("utf-8", "surrogatepass")
        except (TypeError, ValueError):
            pass
    for e in edits:
        kind, name = e[0], e[1] if len(e) > 1 else None
        if kind not in ("flip", "truncate", "append", "delete", "replace", "swap") or name not in files:
            continue
        data = files[name]
        if kind == "flip" and data:
            i = e[2] % len(data)
            files[name] = data[:i] + bytes([data[i] ^ e[3]]) + data[i + 1:]
        elif kind == "truncate":
            files[name] = data[:e[2] % (len(data) + 1)]
        elif kind == "append":
            files[name] = data + e[2]
        elif kind == "delete":
            del files[name]
        elif kind == "replace":
            files[name] = e[2]
        elif kind == "swap" and e[2] in files:
            files[name], files[e[2]] = files[e[2]], files[name]
    return files


def check_load(files):
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="srnn-hostile-")
    try:
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        size = sum(len(v) for v in files.values())
        tracemalloc.start()
        try:
            loaded = RNNLanguageModel.load(d)
        except CLEAN:
            return None
        except Exception as e:  # noqa: BLE001 - the property under test
            raise AssertionError(f"load raised {type(e).__name__}: {e}") from e
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert peak < 4 * size + 4 * MB, f"a {size}-byte directory allocated {peak} bytes"
        # It loaded: the whole model that the files on disk describe.
        with np.load(os.path.join(d, "weights.npz")) as z:
            on_disk = {k: z[k] for k in z.files}
        state = loaded.state_dict()
        assert list(state) == list(_expected_shapes(loaded.vocab_size, loaded.embedding_dim, loaded.hidden_size,
                                                    loaded.num_layers))
        for k, v in state.items():
            np.testing.assert_array_equal(v, on_disk[k].astype(np.float32), err_msg=k)
        assert loaded.vocab is None or loaded.vocab == Vocab.load(os.path.join(d, "vocab.json"))
        return loaded
    finally:
        shutil.rmtree(d, ignore_errors=True)


@hostile_settings(250)
@given(edits=st.lists(byte_edits, min_size=1, max_size=3))
def test_random_byte_damage_loads_whole_or_fails_cleanly(edits):
    files, state = base_files()
    loaded = check_load(apply_edits(files, state, edits))
    if loaded is not None:  # hashes and the checksum make byte damage fatal, unless it cancelled out
        changed = apply_edits(files, state, edits)
        for k, v in state.items():
            np.testing.assert_array_equal(loaded.state_dict()[k], v, err_msg=f"{edits} loaded another {k}")
        assert {k: v for k, v in changed.items() if k != "config.json"} == \
            {k: v for k, v in files.items() if k != "config.json" and k in changed}


@hostile_settings(200)
@given(edits=st.lists(config_edits, min_size=1, max_size=3), damage=st.lists(byte_edits, max_size=1))
def test_forged_configs_load_whole_or_fail_cleanly(edits, damage):
    files, state = base_files()
    check_load(apply_edits(files, state, edits + damage))


@hostile_settings(200)
@given(edits=st.lists(npz_edits, min_size=1, max_size=3), unhash=st.booleans())
def test_forged_weight_archives_load_whole_or_fail_cleanly(edits, unhash):
    files, state = base_files()
    extra = [("unhash", "weights.npz")] if unhash else []
    check_load(apply_edits(files, state, edits + extra))
