"""Every file tinyedge writes goes through here: atomic writes, so an interrupted or failed stage never
leaves a half-written artifact, and OS errors (a read-only or full disk, a missing or immutable folder)
turned into one line that names the path and the way out, instead of a traceback."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import TextIO

from .errors import TinyedgeError

_WAY_OUT = {
    errno.EACCES: "make it writable (chmod u+w) or choose another folder",
    errno.EPERM: "make it writable (an immutable file or folder: chattr -i) or choose another folder",
    errno.EROFS: "the file system is read-only; choose a folder on a writable one",
    errno.ENOSPC: "free some disk space or choose a folder on another disk",
    errno.EDQUOT: "free some disk space or choose a folder on another disk",
    errno.ENOTDIR: "a file stands where a folder should be; move it away or choose another folder",
    errno.EISDIR: "a folder stands where the file should be; move it away or choose another path",
}


def write_error(path: str | os.PathLike, exc: OSError) -> TinyedgeError:
    """The one-line error for an OS error while writing `path`."""
    return TinyedgeError(f"cannot write {os.path.abspath(path)}: {exc.strerror or exc}",
                         _WAY_OUT.get(exc.errno, "check the folder and its permissions, or choose another one"))


def make_folder(path: str | os.PathLike) -> Path:
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(path, exc) from None
    return path


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    path = Path(path)
    make_folder(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def open_log(path: str | os.PathLike) -> TextIO:
    """A log file opened for writing as it grows (build and upload logs)."""
    path = Path(path)
    make_folder(path.parent)
    try:
        return path.open("w", encoding="utf-8")
    except OSError as exc:
        raise write_error(path, exc) from None
