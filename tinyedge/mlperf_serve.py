"""`tinyedge mlperf --serve`: an emulated board's benchmark firmware behind a pseudo-terminal, for the
official MLPerf Tiny runner.

QEMU runs the firmware with -icount shift=S,align=on: each instruction takes 2**S ns of virtual time
(S from the board's clock, so the core runs at about its nominal rate) and QEMU keeps virtual time in step
with real time, so the firmware's `m-lap-us` counts real microseconds and the runner's wall-clock checks
(a performance loop of at least 10 s, 30 s per reply) hold as on a board. tinyedge reads the boot lines
itself, then relays bytes between QEMU's socket and a pseudo-terminal whose path it prints.

The runner finds its DUT by USB ids (pyserial's list_ports) and always scans USB (pyusb), which a
pseudo-terminal has neither of; `write_port_identity` writes a `sitecustomize.py` that gives the
runner's Python the served terminal as a port with the DUT's USB ids, and an empty USB bus when no
libusb backend exists. The runner's own files stay as they are (docs/mlperf.md).
"""

from __future__ import annotations

import math
import os
import selectors
import socket
import threading
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .boards import Board
from .errors import TinyedgeError

NANOSECONDS_PER_SECOND = 1_000_000_000
# The reference DUT of the runner's devices files (L4R5ZI): the USB ids the served port claims.
RUNNER_DUT_USB_IDS = (0x0483, 0x374B)


def icount_shift(board: Board) -> int:
    """S with 2**S ns per instruction closest (in ratio) to one cycle of the board's clock."""
    return max(0, round(math.log2(NANOSECONDS_PER_SECOND / board.clock_hz)))


def realtime_icount(board: Board) -> str:
    return f"shift={icount_shift(board)},align=on"


def emulated_clock_hz(board: Board) -> int:
    """Instructions per second of real time under realtime_icount."""
    return NANOSECONDS_PER_SECOND >> icount_shift(board)


class PtyRelay:
    """A pseudo-terminal whose other side is the firmware's socket: what the runner writes to
    `path` reaches the firmware and back. Closing and reopening the terminal (the runner does) is
    fine: the master side stays open."""

    def __init__(self, url: str):
        where = urlparse(url)
        self._socket = socket.create_connection((where.hostname, where.port), timeout=10)
        self._socket.setblocking(False)
        self._master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave   # kept open, so the master never reads EIO between the runner's opens
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self.ended: str | None = None

    def start(self) -> "PtyRelay":
        self._thread.start()
        return self

    def read_boot(self, until: bytes = b"m-ready", timeout: float = 10.0) -> bytes:
        """The firmware's boot lines (read before the relay starts, so the runner sees none of them)."""
        selector = selectors.DefaultSelector()
        selector.register(self._socket, selectors.EVENT_READ)
        received = b""
        while until not in received:
            if not selector.select(timeout):
                raise TinyedgeError("the benchmark firmware printed no m-ready after booting",
                                    "build it again with 'tinyedge mlperf' (without --serve) and read its log")
            chunk = self._socket.recv(4096)
            if not chunk:
                raise TinyedgeError("the emulator closed the firmware's serial port while it booted",
                                    "run it again; QEMU's messages say why")
            received += chunk
        return received

    def _relay(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._socket, selectors.EVENT_READ, "device")
        selector.register(self._master, selectors.EVENT_READ, "terminal")
        while not self._stop.is_set():
            for key, _ in selector.select(0.2):
                try:
                    if key.data == "device":
                        data = self._socket.recv(65536)
                        if not data:
                            self.ended = "the emulator closed the firmware's serial port"
                            return
                        os.write(self._master, data)
                    else:
                        data = os.read(self._master, 65536)
                        self._socket.sendall(data)
                except BlockingIOError:
                    continue
                except OSError as error:
                    self.ended = f"the relay stopped: {error.strerror or error}"
                    return

    def wait(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for descriptor in (self._master, self._slave):
            os.close(descriptor)
        self._socket.close()


SITECUSTOMIZE = '''"""Written by tinyedge mlperf --serve: the MLPerf Tiny runner's Python sees the served pseudo-terminal
{path} as a USB serial port with the ids {vid:#06x}:{pid:#06x}, and an empty USB bus when pyusb has no
libusb backend. Remove this folder from PYTHONPATH to undo."""
from serial.tools import list_ports, list_ports_common, list_ports_linux

_PATH = {path!r}
_original = list_ports_linux.comports


def _served(include_links=False):
    port = list_ports_common.ListPortInfo(_PATH, skip_link_detection=True)
    port.vid, port.pid = {vid}, {pid}
    port.description = "tinyedge emulated board ({board})"
    port.hwid = "USB VID:PID={vid:04X}:{pid:04X}"
    return [port, *(found for found in _original(include_links) if found.device != _PATH)]


list_ports_linux.comports = _served
list_ports.comports = _served

try:
    import usb.core

    _find = usb.core.find

    def _find_or_nothing(*args, **kwargs):
        try:
            return _find(*args, **kwargs)
        except usb.core.NoBackendError:
            return [] if kwargs.get("find_all") else None

    usb.core.find = _find_or_nothing
except ImportError:
    pass
'''


def write_port_identity(folder: Path, path: str, board: Board) -> Path:
    """`folder`/sitecustomize.py for the runner's Python (PYTHONPATH=folder)."""
    from .fileio import write_text_atomic
    vid, pid = RUNNER_DUT_USB_IDS
    target = Path(folder) / "sitecustomize.py"
    write_text_atomic(target, SITECUSTOMIZE.format(path=path, vid=vid, pid=pid, board=board.name))
    return target


@dataclass
class Served:
    """A benchmark firmware being served: the terminal's path, the folder to put on the runner's
    PYTHONPATH, QEMU's -icount and its session (its `ended()` says when QEMU stopped)."""
    path: str
    identity_folder: Path
    icount: str
    qemu: object
    relay: PtyRelay

    def ended(self) -> str | None:
        """Why serving stopped (QEMU ended, the relay lost its socket), or None while it runs."""
        qemu_end = self.qemu.ended()
        return str(qemu_end) if qemu_end is not None else self.relay.ended


@contextmanager
def serve(board: Board, elf: Path, folder: Path) -> Iterator[Served]:
    """QEMU runs `elf` in real time behind a pseudo-terminal, the boot lines already read, and the
    port identity for the runner in `folder`/runner-port; stopped on the way out."""
    from .emulator import run_qemu
    icount = realtime_icount(board)
    with run_qemu(board, elf, icount=icount) as qemu:
        relay = PtyRelay(qemu.url)
        try:
            relay.read_boot()
            identity = write_port_identity(Path(folder) / "runner-port", relay.path, board)
            relay.start()
            yield Served(relay.path, identity.parent.resolve(), icount, qemu, relay)
        finally:
            relay.close()
