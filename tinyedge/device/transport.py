"""Byte links to a device: exactly n bytes or a timeout, whole lines, writes with a deadline.

Two kinds: a serial port through pyserial's `serial_for_url` (device paths such as /dev/ttyACM0, and
`socket://127.0.0.1:PORT` for QEMU's serial port), and the pipes of a process (the protocol firmware
built for the host, in tests and for the host target). Both buffer what arrives, so `read` and
`read_line` can be mixed freely.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence

import serial

from ..errors import TinyedgeError
from .errors import TransportClosed, TransportTimeout
from .lock import PortLock

# Signals that mean the host firmware crashed (as a HardFault does on a board), not that it was stopped.
CRASH_SIGNALS = (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE)

# Longer than any line of the protocol (m-results of a 640-value output is about 7 KB; te- hex dumps
# of tensors stay below this): a device that sends more without a line end is flooding the link.
MAX_LINE_BYTES = 1 << 20


class Transport(ABC):
    """A byte link with a deadline on every read and write."""

    def __init__(self, name: str):
        self.name = name
        self._buffer = bytearray()

    # Subclasses move bytes; the buffering and line splitting live here.
    @abstractmethod
    def _receive(self, timeout: float) -> bytes:
        """Bytes that arrive within `timeout` seconds (b"" when none); TransportClosed at the end."""

    @abstractmethod
    def write(self, data: bytes, timeout: float) -> None:
        """Sends all of `data`, or raises TransportTimeout / TransportClosed."""

    @abstractmethod
    def close(self) -> None:
        """Releases the link; safe to call twice."""

    def read(self, n: int, timeout: float) -> bytes:
        """Exactly `n` bytes, or TransportTimeout after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while len(self._buffer) < n:
            self._fill(deadline, timeout, wanted=f"{n} bytes")
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data

    def read_until(self, terminator: bytes, timeout: float) -> bytes:
        """Raw bytes up to and including `terminator`, or TransportTimeout."""
        deadline = time.monotonic() + timeout
        while (end := self._buffer.find(terminator)) < 0:
            self._fill(deadline, timeout, wanted=repr(terminator.decode(errors="replace")))
        data = bytes(self._buffer[:end + len(terminator)])
        del self._buffer[:end + len(terminator)]
        return data

    def read_line(self, timeout: float) -> str:
        """The next line, without its line end, carriage returns and NULs (as the MLPerf runner reads
        them); undecodable bytes become U+FFFD. TransportTimeout when no whole line arrives in time."""
        deadline = time.monotonic() + timeout
        while (end := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > MAX_LINE_BYTES:  # a flood, not the protocol: stop before memory runs out
                flood = len(self._buffer)
                self._buffer.clear()
                raise TransportClosed(f"{self.name} sent {flood:,} bytes without a line end (the protocol's "
                                      f"lines are at most {MAX_LINE_BYTES:,} bytes)",
                                      "check the baud rate and that the board runs tinyedge's firmware")
            self._fill(deadline, timeout, wanted="a line")
        raw = bytes(self._buffer[:end])
        del self._buffer[:end + 1]
        return raw.replace(b"\r", b"").replace(b"\0", b"").decode("utf-8", errors="replace")

    def discard_input(self) -> bytes:
        """Drops what has been received but not read; returns it."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def _fill(self, deadline: float, timeout: float, wanted: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TransportTimeout(f"{self.name} sent no {wanted} within {timeout:g} s",
                                   received=bytes(self._buffer))
        self._buffer += self._receive(remaining)

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SerialTransport(Transport):
    """A serial port or a `socket://` URL, locked against other tinyedge runs while open."""

    def __init__(self, url: str, baud: int = 115200, *, lock: bool = True):
        super().__init__(url)
        self._lock = PortLock(url) if lock else None
        if self._lock:
            self._lock.acquire()
        try:
            self._port = serial.serial_for_url(url, baudrate=baud, timeout=0, write_timeout=0)
        except (serial.SerialException, OSError, ValueError) as error:
            if self._lock:
                self._lock.release()
            raise TinyedgeError(f"cannot open serial port {url}: {_reason(error)}",
                                "check the cable and the port name, or pick another one with --port") from None
        # Small writes on a TCP link (QEMU's UART) each wait for a delayed ACK unless Nagle is off;
        # pyserial keeps its socket private, hence getattr.
        link = getattr(self._port, "_socket", None)
        if link is not None:
            link.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _receive(self, timeout: float) -> bytes:
        try:
            self._port.timeout = timeout
            first = self._port.read(1)  # waits up to `timeout` for the first byte
            if not first:
                return b""
            self._port.timeout = 0
            waiting = self._port.in_waiting
            return first + (self._port.read(waiting) if waiting else b"")
        except (serial.SerialException, OSError) as error:
            raise TransportClosed(f"the connection to {self.name} dropped: {_reason(error)}",
                                  "check the cable; the board may have reset") from None

    def write(self, data: bytes, timeout: float) -> None:
        try:
            self._port.write_timeout = timeout
            self._port.write(data)
            self._port.flush()
        except serial.SerialTimeoutException:
            raise TransportTimeout(f"{self.name} did not take {len(data)} bytes within {timeout:g} s") from None
        except (serial.SerialException, OSError) as error:
            raise TransportClosed(f"the connection to {self.name} dropped: {_reason(error)}",
                                  "check the cable; the board may have reset") from None

    def close(self) -> None:
        try:
            if getattr(self, "_port", None) is not None and self._port.is_open:
                self._port.close()
        finally:
            if self._lock:
                self._lock.release()


class ProcessTransport(Transport):
    """The stdin/stdout of a process: the protocol firmware built for the host."""

    def __init__(self, argv: Sequence[str], *, cwd: str | os.PathLike | None = None,
                 env: dict[str, str] | None = None, name: str | None = None):
        super().__init__(name or f"host firmware {os.path.basename(str(argv[0]))}")
        try:
            self._process = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL, cwd=cwd, env=env, bufsize=0,
                                             preexec_fn=_die_with_parent)
        except OSError as error:
            raise TinyedgeError(f"cannot start {self.name}: {_reason(error)}",
                                "build the host firmware first") from None
        self._stdin = self._process.stdin.fileno()
        self._stdout = self._process.stdout.fileno()

    @property
    def pid(self) -> int:
        return self._process.pid

    def _receive(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self._stdout], [], [], max(timeout, 0))
        if not ready:
            return b""
        data = os.read(self._stdout, 65536)
        if not data:
            raise self._ended()
        return data

    def write(self, data: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            _, ready, _ = select.select([], [self._stdin], [], max(remaining, 0))
            if not ready:
                raise TransportTimeout(f"{self.name} did not take {len(data)} bytes within {timeout:g} s")
            try:
                view = view[os.write(self._stdin, view):]
            except (BrokenPipeError, OSError):
                raise self._ended() from None

    def _ended(self) -> TransportClosed:
        try:
            code = self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return TransportClosed(f"{self.name} closed its output but is still running")
        if code < 0:
            crashed = -code in CRASH_SIGNALS
            how = f"killed by {signal.Signals(-code).name}"
        else:
            crashed = False
            how = f"exit code {code}"
        return TransportClosed(f"{self.name} ended ({how})", crashed=crashed)

    def close(self) -> None:
        """Closes the pipes (a working firmware exits on end of input); a hung one is killed."""
        for stream in (self._process.stdin, self._process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self._process.wait(timeout=0.3)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _reason(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def _die_with_parent() -> None:
    """Runs in the child: Linux ends it when tinyedge dies, so no firmware outlives its run."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
