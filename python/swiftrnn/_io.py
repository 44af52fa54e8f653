"""Writing files and directories so that a reader sees the old content or the new, whole, never a mix.

- ``atomic_write_bytes``: one file (``Vocab.save``), via a temporary file renamed over it.
- ``replace_directory``: a whole directory of files (``RNNLanguageModel.save``): the new directory is
  written completely beside the old one, then swapped in.
- ``json_bytes``: JSON as UTF-8, also for strings with lone surrogates (which ``json.loads`` accepts).
- ``parse_json``: JSON from an untrusted file, every failure a ValueError.

New files and directories are created with modes 0o666 / 0o777 and the kernel applies the umask (0644 and
0755 under umask 022), as ``open()`` would; replacing an existing file or directory keeps its mode, so a
re-save never narrows (or widens) what the user granted.
"""
from __future__ import annotations

import ctypes
import errno
import json
import os
import secrets
import shutil
import stat
import sys
from typing import Any, Mapping, Optional

__all__ = ["atomic_write_bytes", "replace_directory", "json_bytes", "parse_json"]


def parse_json(raw: bytes, what: str) -> Any:
    """JSON from the bytes of an untrusted file; ValueError starting with ``what`` for bytes that are not
    UTF-8 JSON and for nesting too deep for Python's parser (which raises RecursionError)."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{what}: not UTF-8 JSON ({e})") from None
    except RecursionError:
        raise ValueError(f"{what}: JSON nested too deeply to be a swiftrnn file") from None


def json_bytes(obj: Any, indent: Optional[int] = None) -> bytes:
    """``obj`` as UTF-8 JSON with a final newline. Non-ASCII text is written as is (readable), unless a string
    holds a lone surrogate, which UTF-8 cannot encode: then every non-ASCII character is ``\\u``-escaped."""
    try:
        text = json.dumps(obj, ensure_ascii=False, indent=indent)
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(obj, ensure_ascii=True, indent=indent).encode("ascii") + b"\n"


def _temporary_name(path: str, kind: str) -> str:
    """A fresh hidden name beside ``path`` (same directory, so a rename stays within one filesystem)."""
    head, tail = os.path.split(os.path.abspath(path))
    return os.path.join(head, f".{tail}.{kind}-{secrets.token_hex(6)}")


def _write_file(path: str, data: bytes, mode: Optional[int] = None) -> None:
    """Creates ``path`` (it must not exist), writes ``data`` and flushes it to disk. The file gets 0o666 minus
    the umask, or ``mode`` when given (the mode of the file it is to replace)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        if mode is not None:
            os.fchmod(fd, mode) if hasattr(os, "fchmod") else os.chmod(path, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(path: str) -> None:
    """Makes a rename inside ``path`` durable (where directories can be opened: not on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _mode_of(path: str) -> Optional[int]:
    try:
        return stat.S_IMODE(os.lstat(path).st_mode)
    except OSError:
        return None


def atomic_write_bytes(path: "os.PathLike[str] | str", data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path``, flushes it to disk, then renames it over ``path``.

    A reader sees either the old file or the complete new one, never a partial write; on any failure
    ``path`` is unchanged and no temporary file is left.
    """
    path = os.fspath(path)
    tmp = _temporary_name(path, "tmp")
    try:
        _write_file(tmp, data, _mode_of(path))
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _fsync_directory(os.path.dirname(os.path.abspath(path)))


def _remove(path: str) -> None:
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a: str, b: str) -> bool:
    """Swaps the directory entries ``a`` and ``b`` in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``).
    False where that is not available (another OS, an old kernel or C library, a filesystem without it)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), b)


def replace_directory(directory: "os.PathLike[str] | str", files: Mapping[str, bytes]) -> None:
    """Makes ``directory`` hold exactly ``files`` (name -> content), all or nothing.

    The files are written (and flushed to disk) into a new directory beside ``directory``, which is then
    renamed into place; an existing ``directory`` is swapped with it in one atomic rename (Linux) and then
    removed. A reader that opened the old directory keeps reading the old one: no reader sees a mix. On
    any failure (a full disk, a permission) ``directory`` is as it was and nothing is left behind.

    Where no atomic swap exists (not Linux, or a filesystem without it), the old directory is renamed
    aside first: for that instant ``directory`` does not exist, but it is never half written either.

    The caller decides whether an existing ``directory`` may be replaced (its other content is lost).
    """
    directory = os.path.realpath(os.fspath(directory))  # through a symlink: replace its target, keep the link
    old_mode = _mode_of(directory)
    tmp = _temporary_name(directory, "new")
    os.mkdir(tmp, 0o777)  # the umask applies
    try:
        if old_mode is not None:
            os.chmod(tmp, old_mode)
        for name, data in files.items():
            _write_file(os.path.join(tmp, name), data, _mode_of(os.path.join(directory, name)))
        _fsync_directory(tmp)
        if old_mode is None:
            os.rename(tmp, directory)  # fails if something appeared there meanwhile
        elif _exchange(tmp, directory):
            pass  # tmp now holds the old directory, removed below
        else:
            aside = _temporary_name(directory, "old")
            os.rename(directory, aside)
            try:
                os.rename(tmp, directory)
            except BaseException:
                os.rename(aside, directory)
                raise
            tmp = aside
    except BaseException:
        _remove(tmp)
        raise
    _fsync_directory(os.path.dirname(directory))
    if old_mode is not None:
        _remove(tmp)  # the old directory; a reader still holding it open keeps its files until it closes them
