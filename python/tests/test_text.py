"""swiftrnn.text: tokenize (char / jieba / whitespace), Vocab (build, encode, decode, save, load), the built-in corpus."""
import json
import os
import sys

import numpy as np
import pytest

from swiftrnn.text import TOKENIZERS, Vocab, builtin_corpus, detokenize, tokenize

SENTENCE = "北京冬奥的进度条已经过半，不少外国运动员在完成自己的比赛后踏上归途。"


# --- tokenize -----------------------------------------------------------------------------------

def test_char_mode_keeps_every_character_including_whitespace():
    assert tokenize("道可 道\n非", "char") == ["道", "可", " ", "道", "\n", "非"]
    assert tokenize("", "char") == []


def test_char_is_the_default_mode():
    assert tokenize("ab") == ["a", "b"]


def test_whitespace_mode_is_str_split():
    assert tokenize("  the cat\tsat\n\non  ", "whitespace") == ["the", "cat", "sat", "on"]


def test_jieba_mode_is_exactly_jieba_lcut():
    jieba = pytest.importorskip("jieba")
    for text in (SENTENCE, builtin_corpus()[:200], "Hello world 你好，世界！ 123"):
        assert tokenize(text, "jieba") == jieba.lcut(text)


def test_jieba_missing_raises_import_error_telling_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "jieba", None)  # makes `import jieba` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'swiftrnn\[jieba\]'"):
        tokenize(SENTENCE, "jieba")


@pytest.mark.parametrize("mode", ["chars", "word", "", None, "JIEBA"])
def test_unknown_mode_is_a_value_error_listing_the_modes(mode):
    with pytest.raises(ValueError, match="'char', 'jieba', 'whitespace'"):
        tokenize("abc", mode)


def test_non_str_text_is_a_type_error():
    with pytest.raises(TypeError, match="str"):
        tokenize(b"abc", "char")


def test_detokenize_inverts_char_and_whitespace():
    text = "上善若水。\n水善利万物"
    assert detokenize(tokenize(text, "char"), "char") == text
    assert detokenize(tokenize("a b  c", "whitespace"), "whitespace") == "a b c"
    assert TOKENIZERS == ("char", "jieba", "whitespace")


# --- Vocab.build --------------------------------------------------------------------------------

def test_build_orders_tokens_by_first_occurrence():
    v = Vocab.build(list("abracadabra"))
    assert v.itos == ["a", "b", "r", "c", "d"]
    assert v.stoi == {"a": 0, "b": 1, "r": 2, "c": 3, "d": 4}
    assert len(v) == 5


def test_build_is_the_order_preserving_dedup_of_the_tutorial_sentence():
    tokens = tokenize(SENTENCE, "char")
    assert Vocab.build(tokens).itos == list(dict.fromkeys(tokens))


def test_specials_come_first_and_are_not_duplicated():
    v = Vocab.build(["x", "<unk>", "y", "x"], specials=["<pad>", "<unk>"])
    assert v.itos == ["<pad>", "<unk>", "x", "y"]
    assert v.specials == ["<pad>", "<unk>"]
    assert v.unk_index == 1


def test_min_freq_drops_rare_tokens_but_keeps_specials():
    v = Vocab.build(list("aabbbc"), specials=("<unk>",), min_freq=2)
    assert v.itos == ["<unk>", "a", "b"]
    assert list(v.encode(list("abc"))) == [1, 2, 0]


@pytest.mark.parametrize("min_freq", [0, -1, 1.5, True, "2"])
def test_bad_min_freq_is_rejected(min_freq):
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(["a"], min_freq=min_freq)


def test_build_rejects_a_plain_string_and_non_str_tokens():
    with pytest.raises(TypeError, match="tokenize"):
        Vocab.build("abc")
    with pytest.raises(TypeError, match="str"):
        Vocab.build(["a", 1])
    with pytest.raises(ValueError, match="duplicates"):
        Vocab.build(["a"], specials=["<unk>", "<unk>"])


def test_empty_vocab():
    v = Vocab.build([])
    assert len(v) == 0 and v.itos == [] and v.encode([]).shape == (0,) and v.decode([]) == []


# --- lookups, encode, decode --------------------------------------------------------------------

def test_getitem_and_contains():
    v = Vocab.build(list("上善若水"))
    assert v["水"] == 3 and "水" in v and "火" not in v
    with pytest.raises(KeyError, match="'火'"):
        v["火"]
    assert Vocab.build(list("ab"), specials=["<unk>"])["z"] == 0


def test_encode_returns_int64_array():
    v = Vocab.build(list("上善若水"))
    ids = v.encode(list("水善上"))
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int64 and ids.shape == (3,)
    assert ids.tolist() == [3, 1, 0]


def test_encode_unknown_without_unk_is_a_key_error_naming_the_token():
    v = Vocab.build(list("上善若水"))
    with pytest.raises(KeyError, match="'火'"):
        v.encode(list("水火"))


def test_encode_unknown_with_unk_maps_to_unk():
    v = Vocab.build(list("上善若水"), specials=["<unk>"])
    assert v.encode(list("水火")).tolist() == [4, 0]
    assert v.unknown(list("水火木火")) == ["火", "木"]


def test_encode_rejects_a_plain_string():
    with pytest.raises(TypeError, match="tokenize"):
        Vocab.build(list("ab")).encode("ab")


def test_decode_inverts_encode():
    tokens = tokenize(builtin_corpus(), "char")
    v = Vocab.build(tokens)
    assert v.decode(v.encode(tokens)) == tokens
    assert v.decode(np.array([1, 0], dtype=np.int32)) == [v.itos[1], v.itos[0]]
    assert v.decode(np.int64(2)) == [v.itos[2]]


def test_decode_rejects_out_of_range_and_non_integer_ids():
    v = Vocab.build(list("abc"))
    with pytest.raises(IndexError, match="token id 3 is out of range .* 0 to 2"):
        v.decode([0, 3])
    with pytest.raises(IndexError, match="-1"):
        v.decode([-1])
    with pytest.raises(TypeError, match="integers"):
        v.decode([0.0, 1.0])
    with pytest.raises(ValueError, match="1-d"):
        v.decode([[0, 1]])


def test_lookup_token():
    v = Vocab.build(list("abc"))
    assert v.lookup_token(2) == "c"
    with pytest.raises(IndexError):
        v.lookup_token(3)


def test_itos_and_stoi_are_copies():
    v = Vocab.build(list("ab"))
    v.itos.append("z")
    v.stoi["z"] = 9
    assert len(v) == 2 and "z" not in v


def test_constructor_validates():
    with pytest.raises(ValueError, match="appears twice"):
        Vocab(["a", "a"])
    with pytest.raises(ValueError, match="first"):
        Vocab(["a", "<unk>"], specials=["<unk>"])
    assert repr(Vocab(["a"])) == "Vocab(size=1, itos=['a'])"


# --- save / load --------------------------------------------------------------------------------

def test_save_load_roundtrip_keeps_unicode_and_specials(tmp_path):
    v = Vocab.build(tokenize(SENTENCE, "char") + ["\n", " ", "\"", "\\"], specials=["<unk>", "<pad>"])
    path = tmp_path / "vocab.json"
    v.save(path)
    raw = path.read_bytes()
    assert "\"北\"".encode("utf-8") in raw  # UTF-8, not \\u escapes
    w = Vocab.load(path)
    assert w == v and w.itos == v.itos and w.unk_index == 0
    assert json.loads(raw.decode("utf-8"))["format"] == "swiftrnn.Vocab"


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "vocab.json"
    Vocab.build(list("ab")).save(path)
    Vocab.build(list("abc")).save(str(path))  # overwrite
    assert os.listdir(tmp_path) == ["vocab.json"]
    assert len(Vocab.load(path)) == 3


def test_save_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "vocab.json"
    Vocab.build(list("ab")).save(path)

    def boom(*args):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        Vocab.build(list("abc")).save(path)
    monkeypatch.undo()
    assert len(Vocab.load(path)) == 2 and os.listdir(tmp_path) == ["vocab.json"]


@pytest.mark.parametrize("content, match", [
    (b"", "not UTF-8 JSON"),
    (b"{not json", "not UTF-8 JSON"),
    (b"\xff\xfe", "not UTF-8 JSON"),
    (b"[]", "JSON object"),
    (b'{"format": "other", "version": 1, "itos": []}', "format"),
    (b'{"format": "swiftrnn.Vocab", "version": 99, "itos": []}', "version"),
    (b'{"format": "swiftrnn.Vocab", "version": 1}', "itos"),
    (b'{"format": "swiftrnn.Vocab", "version": 1, "itos": ["a", 3]}', "str"),
    (b'{"format": "swiftrnn.Vocab", "version": 1, "itos": ["a", "a"]}', "twice"),
    (b'{"format": "swiftrnn.Vocab", "version": 1, "itos": ["a"], "specials": ["<unk>"]}', "first"),
])
def test_load_rejects_corrupt_files_with_a_clear_value_error(tmp_path, content, match):
    path = tmp_path / "vocab.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        Vocab.load(path)
    assert "vocab.json" in str(info.value)


def test_load_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        Vocab.load(tmp_path / "nope.json")


# --- the built-in corpus ------------------------------------------------------------------------

def test_builtin_corpus_is_chinese_text_with_a_source_note():
    text = builtin_corpus()
    assert text.startswith("道可道，非常道") and 500 < len(text) < 5000
    here = os.path.join(os.path.dirname(__import__("swiftrnn").__file__), "data")
    note = open(os.path.join(here, "README.md"), encoding="utf-8").read()
    assert "Public domain" in note and "Dao De Jing" in note


def test_vocab_load_of_deeply_nested_json_is_a_value_error(tmp_path):
    path = tmp_path / "v.json"
    path.write_bytes(b'{"itos": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(ValueError, match="is not a valid swiftrnn vocabulary: JSON nested too deeply"):
        Vocab.load(path)
