"""How validation reaches a device: QEMU's serial socket for an emulated board (QEMU started here and
always stopped), a serial port for a real one (given, or found by the board's USB ids)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..boards import Board
from ..device.transport import SerialTransport, Transport


@dataclass
class Link:
    """Opens (and after a drop, reopens) the transport to one device."""
    open: Callable[[], Transport]
    description: str            # "emu-m4 in QEMU", "/dev/ttyACM0"
    qemu: object | None = None  # the QemuSession of an emulated board

    def emulator_end(self, wait: float = 0.0):
        """How the emulator ended on its own (a QemuEnd: signal or exit status, and QEMU's fatal
        message), waiting up to `wait` seconds for it; None for a real board or a running emulator."""
        return self.qemu.ended(wait) if self.qemu is not None else None


@contextmanager
def emulated_link(board: Board, elf: Path) -> Iterator[Link]:
    from ..emulator import run_qemu

    with run_qemu(board, elf) as qemu:
        def open_socket() -> Transport:
            transport = SerialTransport(qemu.url, board.serial.baud)
            transport.name = f"{board.name} (QEMU on {qemu.url})"
            return transport
        yield Link(open_socket, f"{board.name} in QEMU", qemu)


@contextmanager
def serial_link(board: Board, port: str | None) -> Iterator[Link]:
    from ..device.ports import find_port

    device = find_port(board.title, board.serial.usb_ids, port)
    yield Link(lambda: SerialTransport(device, board.serial.baud), device)


@contextmanager
def board_link(board: Board, elf: Path | None, port: str | None) -> Iterator[Link]:
    """The link `tinyedge validate` uses: QEMU for an emulated board unless a port is given."""
    if board.emulated and port is None:
        with emulated_link(board, elf) as link:
            yield link
    else:
        with serial_link(board, port) as link:
            yield link
