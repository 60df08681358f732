"""Writing a rendered project as a whole: the new tree is written beside the old one and swapped in
with renames, so an interrupted or failed generation never leaves a half-written project, and the
previous project stays until the new one is complete. PlatformIO's build cache (.pio) is carried over
so unchanged sources are not compiled again."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import TinyedgeError
from ..fileio import make_folder, write_error, write_text_atomic

KEPT_FOLDERS = (".pio",)


def _check_relative(path: str) -> None:
    parts = Path(path).parts
    if Path(path).is_absolute() or ".." in parts or not parts:
        raise TinyedgeError(f"generated path '{path}' leaves the project folder", "this is a bug in tinyedge")


def write_tree(files: dict[str, str], destination: str | os.PathLike) -> Path:
    """Replaces `destination` with exactly `files` (plus the kept build cache). Returns it."""
    destination = Path(destination)
    for path in files:
        _check_relative(path)
    make_folder(destination.parent)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".new", dir=destination.parent))
    except OSError as exc:
        raise write_error(destination, exc) from None
    retired = staging.with_suffix(".old")
    try:
        for path, text in files.items():
            write_text_atomic(staging / path, text)
        if destination.exists():
            if not destination.is_dir():
                raise TinyedgeError(f"{destination} exists and is not a folder",
                                    "move it away or choose another build folder")
            for name in KEPT_FOLDERS:
                if (destination / name).is_dir():
                    os.replace(destination / name, staging / name)
            os.replace(destination, retired)
        os.replace(staging, destination)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise write_error(destination, exc) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    return destination


def listing(files: dict[str, str]) -> str:
    """The sorted file list of a rendered tree, one path a line (the golden listings in the tests)."""
    return "".join(f"{path}\n" for path in sorted(files))
