"""One run per serial port: an exclusive fcntl lock on a file named after the port.

A second tinyedge run on the same port fails at once with the holder's pid, instead of two runs
interleaving commands on one device. The lock files (tinyedge.locking) live in $XDG_RUNTIME_DIR/tinyedge/ports
(or /tmp/tinyedge-ports-<uid>).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..locking import FileLock
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


class PortLock(FileLock):
    """Held from acquire() to release(); also a context manager."""

    def __init__(self, port: str):
        self.port = port
        super().__init__(lock_path(port), lambda holder: PortBusy(
            f"serial port {port} is in use by another tinyedge run (pid {holder})",
            "wait for that run to finish, or pick another port with --port"))
