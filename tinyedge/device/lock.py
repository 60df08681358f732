"""One run per serial port: an exclusive fcntl lock on a file named after the port.

A second tinyedge run on the same port fails at once with the holder's pid, instead of two runs
interleaving commands on one device. The lock files live in $XDG_RUNTIME_DIR/tinyedge/ports (or
/tmp/tinyedge-ports-<uid>); the kernel drops the lock when the holder exits, however it exits, so a
stale file never blocks anyone. Files are left in place: deleting them would race with a new holder.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from pathlib import Path

from .errors import PortBusy


def lock_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "tinyedge" / "ports"
    return Path("/tmp") / f"tinyedge-ports-{os.getuid()}"


def port_key(port: str) -> str:
    """The same key for every name of one port (symlinks such as /dev/serial/by-id/... resolve)."""
    if "://" in port:
        return port.strip().lower()
    return os.path.realpath(port)


def lock_path(port: str) -> Path:
    key = port_key(port)
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("_")[-60:]
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return lock_dir() / f"{readable}-{digest}.lock"


class PortLock:
    """Held from acquire() to release(); also a context manager."""

    def __init__(self, port: str):
        self.port = port
        self.path = lock_path(port)
        self._fd: int | None = None

    def acquire(self) -> PortLock:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise PortBusy(f"serial port {self.port} is in use by another tinyedge run (pid {holder})",
                           "wait for that run to finish, or pick another port with --port") from None
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

    def __enter__(self) -> PortLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
