"""Finding a board's serial port by its USB VID:PID, and the 1200-baud touch that resets an Arduino
board (the Nano 33 BLE) into its bootloader for upload."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import serial
from serial.tools import list_ports

from ..errors import TinyedgeError


@dataclass(frozen=True)
class PortInfo:
    device: str
    usb_id: str | None  # "2341:805a", None for ports that are not USB
    description: str

    def label(self) -> str:
        parts = [p for p in (self.usb_id, self.description) if p and p != "n/a"]
        return f"{self.device} ({', '.join(parts)})" if parts else self.device


def list_serial_ports() -> list[PortInfo]:
    ports = []
    for info in list_ports.comports():
        usb_id = f"{info.vid:04x}:{info.pid:04x}" if info.vid is not None and info.pid is not None else None
        ports.append(PortInfo(info.device, usb_id, info.description or ""))
    return sorted(ports, key=lambda port: port.device)


def matching_ports(usb_ids: Sequence[str], ports: Sequence[PortInfo] | None = None) -> list[PortInfo]:
    wanted = {usb_id.lower() for usb_id in usb_ids}
    return [port for port in (list_serial_ports() if ports is None else ports) if port.usb_id in wanted]


def find_port(board_title: str, usb_ids: Sequence[str], port: str | None = None) -> str:
    """The port to use: `port` when given, else the one port whose USB id is the board's."""
    if port:
        return port
    present = list_serial_ports()
    if not usb_ids:
        raise TinyedgeError(f"{board_title} has no USB ids to find its serial port by",
                            "pick the port with --port PORT")
    matches = matching_ports(usb_ids, present)
    if len(matches) == 1:
        return matches[0].device
    if not matches:
        seen = ", ".join(p.label() for p in present) or "none"
        raise TinyedgeError(
            f"no serial port has the USB id of {board_title} ({', '.join(usb_ids)}); ports present: {seen}",
            "connect the board, or pick a port with --port PORT")
    raise TinyedgeError(
        f"{len(matches)} serial ports match {board_title}: {', '.join(p.label() for p in matches)}",
        "pick one with --port PORT")


def touch_1200_baud(port: str, usb_ids: Sequence[str] = (), *, wait: float = 5.0,
                    poll_interval: float = 0.25, sleep: Callable[[float], None] = time.sleep) -> str:
    """Resets an Arduino board into its bootloader and returns the port it comes back on.

    Opening the port at 1200 baud and dropping DTR is the bootloader's reset signal. The USB device
    then disappears and re-enumerates (with the bootloader's product id, possibly under a new name);
    a port that appears after the touch with one of the board's USB ids is the board. If no
    new port appears within `wait` seconds but the old name is present, the board came back under it.
    """
    previous = {p.device for p in list_serial_ports()}
    try:
        touch = serial.Serial(port, baudrate=1200)
        touch.dtr = False
        touch.close()
    except (serial.SerialException, OSError):
        pass  # already in the bootloader, or gone: the wait below tells
    sleep(0.4)  # SAM-BA bootloaders need this pause before they enumerate (as PlatformIO waits)

    waited = 0.0
    present: list[PortInfo] = []
    while waited < wait:
        present = list_serial_ports()
        appeared = [p for p in present if p.device not in previous]
        if usb_ids:
            appeared = matching_ports(usb_ids, appeared)  # not some other device plugged in meanwhile
        if appeared:
            return appeared[0].device
        previous = {p.device for p in present}
        sleep(poll_interval)
        waited += poll_interval
    if any(p.device == port for p in present):
        return port
    raise TinyedgeError(f"the board on {port} did not come back within {wait:g} s after the 1200-baud reset",
                        "press its reset button twice to start the bootloader, then pass the port with --port")
