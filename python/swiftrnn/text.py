"""Text to token ids and back: ``tokenize`` (characters, jieba words, whitespace) and ``Vocab``.

The tutorial's pipeline is text -> segment -> deduplicate in order -> indices::

    >>> from swiftrnn.text import Vocab, tokenize
    >>> tokens = tokenize("上善若水。水善利万物而不争", "char")
    >>> vocab = Vocab.build(tokens)
    >>> vocab.encode(tokens)[:5]
    array([0, 1, 2, 3, 4])
    >>> "".join(vocab.decode([3, 1]))
    '水善'
"""
from __future__ import annotations

import collections
import numbers
import os
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence

import numpy as np

from ._io import atomic_write_bytes, json_bytes, parse_json

__all__ = ["TOKENIZERS", "tokenize", "detokenize", "Vocab", "builtin_corpus", "BUILTIN_CORPUS_SOURCE"]

#: The tokenizer modes ``tokenize`` accepts.
TOKENIZERS = ("char", "jieba", "whitespace")

JIEBA_INSTALL_HINT = "pip install 'swiftrnn[jieba]'"

_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
_BUILTIN_CORPUS = "daodejing.txt"
#: Where the built-in corpus comes from (details in swiftrnn/data/README.md).
BUILTIN_CORPUS_SOURCE = "Laozi, Dao De Jing (道德经), chapters 1-12, 33 and 81; public domain"


def _check_mode(mode: Any) -> str:
    if not isinstance(mode, str) or mode not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {mode!r}: expected one of " + ", ".join(repr(m) for m in TOKENIZERS))
    return mode


def _jieba() -> Any:
    try:
        import jieba  # type: ignore[import-untyped, import-not-found, unused-ignore]  # optional, untyped
    except ImportError as e:
        raise ImportError(f"tokenizer 'jieba' needs the jieba package, which is not installed: "
                          f"{JIEBA_INSTALL_HINT} (or pip install jieba)") from e
    jieba.setLogLevel(60)  # silence "Building prefix dict ..." on stderr; lcut's result is unchanged
    return jieba


def tokenize(text: str, mode: str = "char") -> List[str]:
    """Splits ``text`` into tokens.

    Args:
        text: the text (a ``str``).
        mode: ``'char'``: every character, whitespace and newlines included (``list(text)``);
            ``'jieba'``: words, exactly ``jieba.lcut(text)`` (needs the optional jieba package:
            ``pip install 'swiftrnn[jieba]'``); ``'whitespace'``: ``text.split()``.

    Raises:
        ValueError: an unknown mode (the message lists the modes).
        ImportError: mode ``'jieba'`` without jieba installed (the message says how to install it).
        TypeError: ``text`` is not a ``str``.
    """
    mode = _check_mode(mode)
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects text as str, got {type(text).__name__}")
    if mode == "char":
        return list(text)
    if mode == "whitespace":
        return text.split()
    words: List[str] = _jieba().lcut(text)
    return words


def detokenize(tokens: Iterable[str], mode: str = "char") -> str:
    """Joins tokens back into text: ``''.join`` for ``'char'`` and ``'jieba'``, ``' '.join`` for ``'whitespace'``."""
    mode = _check_mode(mode)
    return (" " if mode == "whitespace" else "").join(tokens)


def builtin_corpus() -> str:
    """The small public-domain Chinese text shipped with swiftrnn (see ``BUILTIN_CORPUS_SOURCE``)."""
    with open(os.path.join(_DATA_DIR, _BUILTIN_CORPUS), encoding="utf-8") as f:
        return f.read()


def _token_iterator(tokens: Any, where: str) -> Iterator[Any]:
    """iter(tokens), or a TypeError naming the call rather than Python's "'int' object is not iterable"."""
    try:
        return iter(tokens)
    except TypeError:
        raise TypeError(f"{where} expects a sequence of tokens, got {type(tokens).__name__}") from None


class Vocab:
    """A bidirectional token <-> id mapping: special tokens first, then tokens in order of first occurrence.

    Build one with ``Vocab.build(tokens)``; ``Vocab(itos, specials)`` takes an explicit id -> token list.

    Attributes:
        itos: list of tokens, index = id (a copy).
        stoi: dict token -> id (a copy).
        specials: the special tokens (a prefix of ``itos``).
        unk_index: the id of ``'<unk>'`` if it is a special token, else None. Unknown tokens encode to it.
    """

    FORMAT = "swiftrnn.Vocab"
    VERSION = 1
    UNK = "<unk>"

    def __init__(self, itos: Sequence[str], specials: Sequence[str] = ()) -> None:
        itos = list(_token_iterator(itos, "Vocab itos"))
        specials = list(_token_iterator(specials, "Vocab specials"))
        for what, seq in (("itos", itos), ("specials", specials)):
            for tok in seq:
                if not isinstance(tok, str):
                    raise TypeError(f"{what}: tokens must be str, got {type(tok).__name__} ({tok!r})")
        stoi: Dict[str, int] = {}
        for i, tok in enumerate(itos):
            if tok in stoi:
                raise ValueError(f"itos: token {tok!r} appears twice (ids {stoi[tok]} and {i})")
            stoi[tok] = i
        if itos[:len(specials)] != specials:
            raise ValueError(f"specials {specials!r} must be the first {len(specials)} tokens of itos, "
                             f"got {itos[:len(specials)]!r}")
        self._itos = itos
        self._stoi = stoi
        self._specials = specials
        self._unk = stoi.get(self.UNK) if self.UNK in specials else None

    @classmethod
    def build(cls, tokens: Iterable[str], specials: Sequence[str] = (), min_freq: int = 1,
              max_tokens: Optional[int] = None) -> "Vocab":
        """A vocabulary of ``specials`` followed by every token of ``tokens`` seen at least ``min_freq`` times;
        with ``max_tokens`` (as torchtext's ``build_vocab_from_iterator``), at most that many ids in all,
        specials included: the most frequent tokens are kept (on a tie, the one seen first).

        Tokens keep the order of their first occurrence (an order-preserving deduplication, unlike
        ``list(set(tokens))``), so the same text always gives the same ids. A token that is also a
        special keeps the special's id. Give ``specials=("<unk>",)`` so that the tokens left out encode
        to ``unk_index``.

        Raises:
            ValueError: duplicate specials, ``min_freq`` < 1, or ``max_tokens`` smaller than the number of
                specials.
            TypeError: a token or special that is not a str; ``tokens`` given as a single str.
        """
        if isinstance(tokens, str):
            raise TypeError("Vocab.build expects a sequence of tokens, got a str; "
                            "split it first, e.g. tokenize(text, 'char')")
        if isinstance(min_freq, bool) or not isinstance(min_freq, numbers.Integral) or min_freq < 1:
            raise ValueError(f"min_freq must be an integer >= 1, got {min_freq!r}")
        if isinstance(specials, str):
            raise TypeError(f"specials must be a sequence of str, got the str {specials!r} (did you mean ({specials!r},)?)")
        specials = list(_token_iterator(specials, "Vocab.build specials"))
        if len(set(specials)) != len(specials):
            raise ValueError(f"specials contain duplicates: {specials!r}")
        counts: Dict[str, int] = collections.Counter()
        order: Dict[str, None] = {}
        for tok in _token_iterator(tokens, "Vocab.build"):
            if not isinstance(tok, str):
                raise TypeError(f"tokens must be str, got {type(tok).__name__} ({tok!r})")
            counts[tok] += 1
            order.setdefault(tok, None)
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, numbers.Integral)
                                       or max_tokens < len(specials)):
            raise ValueError(f"max_tokens must be an integer >= the number of specials ({len(specials)}), "
                             f"got {max_tokens!r}")
        taken = set(specials)
        kept = [t for t in order if counts[t] >= min_freq and t not in taken]
        if max_tokens is not None and len(kept) > max_tokens - len(specials):
            # sorted() is stable: among equally frequent tokens the first seen are kept
            chosen = set(sorted(kept, key=lambda t: -counts[t])[:max_tokens - len(specials)])
            kept = [t for t in kept if t in chosen]
        return cls(specials + kept, specials)

    # --- lookups ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __iter__(self) -> Iterator[str]:
        return iter(self._itos)

    def __getitem__(self, token: str) -> int:
        """The id of ``token``; an unknown token gives ``unk_index`` if there is one, else KeyError."""
        i = self._stoi.get(token)
        if i is not None:
            return i
        if self._unk is not None:
            return self._unk
        raise KeyError(f"token {token!r} is not in the vocabulary (of {len(self)} tokens, no {self.UNK!r} special)")

    def lookup_token(self, index: int) -> str:
        """The token of id ``index`` (IndexError outside ``[0, len(vocab))``)."""
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"token ids must be integers, got {type(index).__name__}")
        if not 0 <= index < len(self._itos):
            raise IndexError(f"token id {index} is out of range for a vocabulary of {len(self)}: "
                             f"valid ids are 0 to {len(self) - 1}")
        return self._itos[index]

    @property
    def itos(self) -> List[str]:
        """The tokens in id order (a copy): ``vocab.itos[i]`` is the token with id ``i``."""
        return list(self._itos)

    @property
    def stoi(self) -> Dict[str, int]:
        """A ``{token: id}`` dict (a copy)."""
        return dict(self._stoi)

    @property
    def specials(self) -> List[str]:
        """The special tokens (``'<unk>'``, ...) given at construction; they take the first ids."""
        return list(self._specials)

    @property
    def unk_index(self) -> Optional[int]:
        """The id of ``'<unk>'`` when it is a special token (unknown tokens then encode to it), else None."""
        return self._unk

    def unknown(self, tokens: Iterable[str]) -> List[str]:
        """The distinct tokens of ``tokens`` that are not in the vocabulary, in order of appearance."""
        return list(dict.fromkeys(t for t in tokens if t not in self._stoi))

    # --- encode / decode ----------------------------------------------------------------------
    def encode(self, tokens: Iterable[str]) -> np.ndarray:
        """Token ids as a 1-d int64 array. Unknown tokens map to ``unk_index``, or raise KeyError naming
        the first one when there is no ``'<unk>'`` special.
        """
        if isinstance(tokens, str):
            raise TypeError("Vocab.encode expects a sequence of tokens, got a str; "
                            "split it first, e.g. vocab.encode(tokenize(text, 'char'))")
        stoi, unk = self._stoi, self._unk
        tokens = _token_iterator(tokens, "Vocab.encode")
        if unk is not None:
            ids = [stoi.get(t, unk) for t in tokens]
        else:
            ids = []
            for t in tokens:
                i = stoi.get(t)
                if i is None:
                    raise KeyError(f"token {t!r} is not in the vocabulary (of {len(self)} tokens, "
                                   f"no {self.UNK!r} special)")
                ids.append(i)
        return np.array(ids, dtype=np.int64)

    def decode(self, ids: Any) -> List[str]:
        """The tokens of ``ids`` (a 1-d sequence or array of integers; a 0-d one gives one token)."""
        arr = np.asarray(ids)
        if arr.size == 0:
            return []
        if arr.dtype.kind not in "iu":
            raise TypeError(f"token ids must be integers, got dtype {arr.dtype}")
        if arr.ndim > 1:
            raise ValueError(f"decode expects a 1-d sequence of ids, got shape {arr.shape}")
        flat = arr.reshape(-1)
        lo, hi = int(flat.min()), int(flat.max())
        n = len(self._itos)
        if lo < 0 or hi >= n:
            bad = lo if lo < 0 else hi
            raise IndexError(f"token id {bad} is out of range for a vocabulary of {n}: valid ids are 0 to {n - 1}")
        itos = self._itos
        return [itos[i] for i in flat.tolist()]

    # --- persistence --------------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """A JSON-serialisable dict (``{'itos': [...], 'specials': [...]}``-shaped) that ``Vocab.from_dict``
        turns back into an equal Vocab; what ``save`` writes.
        """
        return {"format": self.FORMAT, "version": self.VERSION, "specials": list(self._specials),
                "itos": list(self._itos)}

    def save(self, path: "os.PathLike[str] | str") -> None:
        """Writes the vocabulary as UTF-8 JSON (``{"format": "swiftrnn.Vocab", "version": 1, "specials": [...],
        "itos": [...]}``), atomically: a temporary file renamed over ``path``.
        """
        atomic_write_bytes(path, json_bytes(self.to_dict(), indent=0))

    @classmethod
    def from_dict(cls, obj: Any, source: str = "vocab") -> "Vocab":
        """A Vocab from ``to_dict()``'s structure; ValueError naming ``source`` if it is malformed."""
        def bad(why: str) -> ValueError:
            return ValueError(f"{source} is not a valid swiftrnn vocabulary: {why}")
        if not isinstance(obj, dict):
            raise bad(f"expected a JSON object, got {type(obj).__name__}")
        if obj.get("format") != cls.FORMAT:
            raise bad(f"expected \"format\": {cls.FORMAT!r}, got {obj.get('format')!r}")
        if obj.get("version") != cls.VERSION:
            raise bad(f"unsupported version {obj.get('version')!r} (this swiftrnn reads version {cls.VERSION})")
        itos, specials = obj.get("itos"), obj.get("specials", [])
        if not isinstance(itos, list) or not isinstance(specials, list):
            raise bad("\"itos\" and \"specials\" must be lists of strings")
        try:
            return cls(itos, specials)
        except (TypeError, ValueError) as e:
            raise bad(str(e)) from None

    @classmethod
    def load(cls, path: "os.PathLike[str] | str") -> "Vocab":
        """Reads a vocabulary written by ``save``.

        Raises:
            FileNotFoundError (OSError): no such file.
            ValueError: not UTF-8, not JSON (or nested too deeply), or not a swiftrnn vocabulary (wrong format tag or version,
                non-string or duplicate tokens, specials that are not a prefix of itos).
        """
        path = os.fspath(path)
        with open(path, "rb") as f:
            raw = f.read()
        return cls.from_dict(parse_json(raw, f"{path} is not a valid swiftrnn vocabulary"), path)

    # --- misc ---------------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self._itos == other._itos and self._specials == other._specials

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self._itos[:8])
        more = ", ..." if len(self._itos) > 8 else ""
        sp = f", specials={self._specials!r}" if self._specials else ""
        return f"Vocab(size={len(self)}{sp}, itos=[{head}{more}])"
