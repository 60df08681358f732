"""Exclusive locks between tinyedge runs: an fcntl lock on a file that holds the holder's pid.

The kernel drops the lock when the holder exits, however it exits, so a stale file never blocks
anyone; files are left in place (deleting them would race with a new holder). Used for serial ports
(device/lock.py) and for build folders: two runs that generate, compile or validate in one build
folder would replace each other's firmware mid-run.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from .errors import TinyedgeError
from .fileio import make_folder, write_error

BUILD_FOLDER_LOCK = ".tinyedge.lock"


class FileLock:
    """Held from acquire() to release(); also a context manager. `busy(pid)` makes the error raised
    when another process holds it."""

    def __init__(self, path: Path, busy: Callable[[str], TinyedgeError]):
        self.path = Path(path)
        self._busy = busy
        self._fd: int | None = None

    def acquire(self, wait: float = 0.0) -> FileLock:
        """Take the lock; when another process holds it, retry for up to `wait` seconds, then raise."""
        make_folder(self.path.parent)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise write_error(self.path, exc) from None
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise self._busy(holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


class BuildFolderBusy(TinyedgeError):
    """Another tinyedge run works in the build folder."""


_held_build_folders: set[Path] = set()   # the build folders whose lock this process holds


@contextlib.contextmanager
def build_folder_lock(build_dir: str | os.PathLike, wait: float = 0.0) -> Iterator[None]:
    """Hold <build_dir>/.tinyedge.lock for the block. Re-entrant within one process (validate runs
    build), exclusive between processes; `wait` seconds for another process to release it (tune's
    workers share the teacher's folder), else busy at once."""
    folder = Path(build_dir).resolve()
    if folder in _held_build_folders:  # an outer block of this process holds it and releases it
        yield
        return

    def busy(pid: str) -> TinyedgeError:
        return BuildFolderBusy(f"the build folder {folder} is in use by another tinyedge run (pid {pid})",
                               "wait for that run to finish, or stop it")

    lock = FileLock(folder / BUILD_FOLDER_LOCK, busy).acquire(wait)
    _held_build_folders.add(folder)
    try:
        yield
    finally:
        _held_build_folders.discard(folder)
        lock.release()
