"""Run a firmware in QEMU with its console UART on a local TCP port.

    with run_qemu(board, elf) as qemu:
        link = serial.serial_for_url(qemu.url)   # "socket://127.0.0.1:PORT"
        ...
    qemu.exit_code   # the firmware's semihosting exit code, once QEMU has ended
    qemu.ended()     # how QEMU ended on its own (killed, crashed, exited), for the run's message

QEMU options (ARCHITECTURE.md §4): `-icount shift=0` makes SysTick count instructions
deterministically; the serial port waits for the host's connection before the guest starts (no early
output is lost) and uses nodelay (otherwise each round trip costs ~44 ms); `-no-reboot` and semihosting
let the firmware end QEMU with an exit code. QEMU never outlives tinyedge: it is killed on the way out
of the `with` block (also on Ctrl-C) and gets a parent-death signal in case tinyedge itself is killed.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .boards import Board
from .errors import TinyedgeError

# What firmware/platform/cortex-m/fault_marker.h makes a crashed firmware print (a test keeps them equal).
FAULT_MARKER_PREFIX = "e-[hardfault pc=0x"
FAULT_MARKER = re.compile(rb"e-\[hardfault pc=0x([0-9a-f]{8})\]")
FAULT_EXIT_CODE = 3

QEMU_EXECUTABLE = "qemu-system-arm"
SERIAL_PORT_LINE = re.compile(r"waiting for connection on: \S*?tcp:127\.0\.0\.1:(\d+)")
START_TIMEOUT_S = 20.0
ELF_MACHINE_ARM = 40
# How QEMU reports a guest it had to stop: "qemu: fatal: Lockup: can't escalate 3 to HardFault ..." is
# what a fault inside the fault handler (or while stacking for it, e.g. a blown stack) ends in.
QEMU_FATAL = re.compile(r"^qemu: fatal: (.*)")
PR_SET_PDEATHSIG = 1


def find_fault(output: bytes) -> int | None:
    """The PC of the crash a firmware reported in `output`, or None when it reported none."""
    found = FAULT_MARKER.search(output)
    return int(found.group(1), 16) if found else None


# -icount shift=0: every instruction takes 1 ns of virtual time, so SysTick counts instructions.
COUNTING_INSTRUCTIONS = "shift=0"


# QEMU's log of every translated block's instructions and every block executed (tinyedge/cycles.py).
EXECUTION_TRACE = "in_asm,exec,nochain"


def qemu_command(board: Board, elf: Path, icount: str = COUNTING_INSTRUCTIONS,
                 trace: Path | None = None) -> list[str]:
    if board.qemu is None:
        raise TinyedgeError(f"board '{board.name}' is not an emulated board",
                            "'tinyedge boards' lists the emulated boards (emu-...)")
    executable = shutil.which(QEMU_EXECUTABLE)
    if executable is None:
        raise TinyedgeError(f"{QEMU_EXECUTABLE} is not installed, so emulated boards cannot run",
                            "run the setup step (python3 -m tinyedge.bootstrap) or: "
                            "apt-get install qemu-system-arm")
    return [
        executable,
        "-M", board.qemu.machine,
        "-cpu", board.qemu.cpu,
        "-kernel", str(elf),
        "-nographic",
        "-monitor", "none",
        "-serial", "tcp:127.0.0.1:0,server=on,wait=on,nodelay=on",
        "-icount", icount,
        "-no-reboot",
        "-semihosting-config", "enable=on,target=native",
        *(["-d", EXECUTION_TRACE, "-D", str(trace)] if trace is not None else []),
    ]


# Resolved here, not in the child: between fork and exec a multi-threaded parent's child (TensorFlow runs
# threads) must not take the dynamic loader's locks.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent(parent_pid: int) -> None:
    """Runs in the child before exec: the kernel sends SIGKILL to QEMU when its parent dies."""
    _prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(1)


@dataclass(frozen=True)
class QemuEnd:
    """How QEMU ended before tinyedge stopped it."""
    emulator: str           # "the emulator (qemu-system-arm, mps2-an386)"
    how: str                # "died with signal 9 (SIGKILL)", "exited with status 1"
    fatal: str | None       # QEMU's own reason ("qemu: fatal: Lockup: ..."), when it gave one

    def __str__(self) -> str:
        return f"{self.emulator} {self.how}" + (f": qemu: fatal: {self.fatal}" if self.fatal else "")


def _how_it_ended(code: int) -> str:
    if code >= 0:
        return f"exited with status {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        return f"died with signal {-code}"
    return f"died with signal {-code} ({name})"


@dataclass
class QemuSession:
    """A running QEMU. `url` reaches the firmware's console UART through pyserial."""

    board: Board
    elf: Path
    process: subprocess.Popen
    port: int = 0
    messages: list[str] = field(default_factory=list)  # QEMU's own lines on stderr
    semihosting_output: bytearray = field(default_factory=bytearray)  # the guest's semihosting console
    readers: list[threading.Thread] = field(default_factory=list, repr=False)

    @property
    def name(self) -> str:
        """'the emulator (qemu-system-arm, mps2-an386)', as messages name it."""
        return f"the emulator ({QEMU_EXECUTABLE}, {self.board.qemu.machine})"

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    @property
    def exit_code(self) -> int | None:
        """The firmware's exit code (semihosting SYS_EXIT) once QEMU has ended, else None."""
        return self.process.poll()

    @property
    def fatal_error(self) -> str | None:
        """QEMU's reason when it stopped the guest itself (e.g. a CPU lockup), else None."""
        for line in self.messages:
            found = QEMU_FATAL.match(line)
            if found:
                return found.group(1)
        return None

    def ended(self, wait: float = 0.0) -> QemuEnd | None:
        """How QEMU ended (signal or exit status, and its fatal message), waiting up to `wait` seconds
        for it to end; None while it runs. A link that dropped as QEMU died can be noticed a moment
        before QEMU's exit status is there, hence the wait."""
        try:
            code = self.process.wait(wait) if wait > 0 else self.process.poll()
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            return None
        for reader in self.readers:  # QEMU's last lines on stderr (its fatal message) are read in full
            reader.join(timeout=2)
        return QemuEnd(self.name, _how_it_ended(code), self.fatal_error)

    def wait(self, timeout: float) -> int:
        """Waits for the firmware to end QEMU; a TinyedgeError when it is still running after `timeout`."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TinyedgeError(f"the firmware on {self.board.name} did not exit within {timeout:g} s",
                                "it may be waiting for input or stuck in a loop") from None


@contextmanager
def run_qemu(board: Board, elf: str | os.PathLike, icount: str = COUNTING_INSTRUCTIONS,
             trace: Path | None = None) -> Iterator[QemuSession]:
    """Starts QEMU for `board` with `elf`, yields once its serial port listens, and always stops it
    (`icount`: QEMU's -icount option; `trace`: where QEMU logs the executed blocks)."""
    elf = Path(elf)
    if not elf.is_file():
        raise TinyedgeError(f"firmware {elf} does not exist", "build it first ('tinyedge build')")
    command = qemu_command(board, elf, icount, trace)
    _check_arm_elf(elf)
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE,
                               # Its own session: a Ctrl-C in the terminal reaches tinyedge, which
                               # stops QEMU itself after saving what it has.
                               start_new_session=True,
                               preexec_fn=functools.partial(_die_with_parent, os.getpid()))
    session = QemuSession(board=board, elf=elf, process=process)
    port_found = threading.Event()
    readers = session.readers
    readers += [
        threading.Thread(target=_read_messages, args=(session, port_found), daemon=True),
        threading.Thread(target=_read_semihosting, args=(session,), daemon=True),
    ]
    try:
        for reader in readers:
            reader.start()
        _wait_for_port(session, port_found)
        yield session
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for reader in readers:
            reader.join(timeout=5)


def _check_arm_elf(elf: Path) -> None:
    """QEMU would load anything else as a raw image and run garbage: refuse it here."""
    with elf.open("rb") as handle:
        header = handle.read(20)
    is_elf = header[:4] == b"\x7fELF" and len(header) == 20
    machine = int.from_bytes(header[18:20], "little" if header[5:6] == b"\x01" else "big") if is_elf else 0
    if machine != ELF_MACHINE_ARM:
        what = "an ELF file for another processor" if is_elf else "not an ELF file"
        raise TinyedgeError(f"{elf} is {what}, not an Arm firmware",
                            "build the firmware for an emulated board ('tinyedge build --board emu-m4')")


def _wait_for_port(session: QemuSession, port_found: threading.Event) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not port_found.wait(0.05):
        if session.process.poll() is not None:
            # QEMU ended before listening: its first error line says why (further lines are advice).
            time.sleep(0.1)  # let the reader collect what QEMU wrote
            errors = [line for line in session.messages if line.startswith(QEMU_EXECUTABLE + ": ")]
            problem = (errors or session.messages or [f"exit code {session.process.returncode}"])[0]
            raise TinyedgeError(f"QEMU could not start {session.elf.name} on {session.board.name}: "
                                f"{problem.removeprefix(QEMU_EXECUTABLE + ': ')}",
                                f"command: {' '.join(session.process.args)}")
        if time.monotonic() > deadline:
            raise TinyedgeError(f"QEMU did not open its serial port within {START_TIMEOUT_S:g} s",
                                f"command: {' '.join(session.process.args)}")


def _read_messages(session: QemuSession, port_found: threading.Event) -> None:
    for raw in session.process.stderr:
        line = raw.decode("utf-8", "replace").rstrip()
        found = SERIAL_PORT_LINE.search(line)
        if found and not port_found.is_set():
            session.port = int(found.group(1))
            port_found.set()
        elif line:
            session.messages.append(line)


def _read_semihosting(session: QemuSession) -> None:
    for chunk in iter(lambda: session.process.stdout.read1(4096), b""):
        session.semihosting_output.extend(chunk)
