"""How validation reaches a device: a Link opens (and after a drop, reopens) the transport to it, and
says, when the far end ended on its own, why (the target that made the link knows: QEMU's death, a
host process's exit). Links are made by the board's target (tinyedge.targets: `target.link(elf, port)`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..device.transport import Transport


@dataclass
class Link:
    """Opens (and after a drop, reopens) the transport to one device."""
    open: Callable[[], Transport]
    description: str                                        # "emu-m4 in QEMU", "/dev/ttyACM0"
    ended: Callable[[float], str | None] | None = None      # the far end's own end, if the target knows it

    def end_reason(self, wait: float = 0.0) -> str | None:
        """Why the device's side ended on its own (e.g. "the emulator (...) died with signal 9"),
        waiting up to `wait` seconds to learn it; None while it runs or when the link cannot tell."""
        return self.ended(wait) if self.ended is not None else None

