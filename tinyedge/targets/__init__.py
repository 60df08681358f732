"""What a board needs to be driven: one Target per board kind (boards/*.toml `kind`).

    target = for_board(board)
    target.plan(plan)                      # what the kind's project needs (platform, flags, layout)
    files = target.generate_project(bundle, plan)
    target.missing_toolchain()             # None, or why the firmware cannot be compiled here
    built = target.compile(project)        # the ELF with its flash and RAM
    target.install(project, port)          # PlatformIO upload (real boards); nothing to write otherwise
    with target.link(elf, port) as link:   # how the host reaches the running firmware (reopened
        transport = link.open()            #   after a drop); target.open_transport: one transport
    target.timer_unit                      # what one tick of its timer counts

Three kinds: PlatformIO boards (real hardware over USB serial), emulated boards (QEMU) and the host (the
protocol firmware compiled with the host C compiler, run as a process on pipes). Nothing outside this
package asks which kind a board is; it asks its target.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..boards import Board

if TYPE_CHECKING:
    from ..project.render import ProjectPlan
    from ..validation.buildinfo import BuildFolder
    from ..validation.flashing import FlashResult
    from ..validation.links import Link


@dataclass(frozen=True)
class Built:
    """A compiled firmware: the image the target runs, with its flash and RAM from the ELF."""
    elf: Path
    flash_bytes: int
    ram_bytes: int


@dataclass(frozen=True)
class FirmwareFigures:
    """What tinyedge's own firmware costs on the target beyond the model and runtime (footprint)."""
    flash_bytes: int
    ram_bytes: int
    stack_bytes: int
    what: str                  # what the figures count, for the estimate's basis


class Target(Protocol):
    board: Board

    @property
    def timer_unit(self) -> str:
        """What one latency tick counts: "cycles", "us" or "instructions"."""

    def plan(self, plan: "ProjectPlan") -> None:
        """Fills in what this kind's project needs (platform spec, link flags, extra files, layout), or
        refuses a runtime it cannot run, with a TinyedgeError."""

    def plan_tflm(self, plan: "ProjectPlan") -> None:
        """Fills in how the TFLM runtime's project gets TFLM (plan.tflm is made), or refuses."""

    def generate_project(self, bundle, plan: "ProjectPlan") -> dict[str, str]:
        """{path: text} of the project (rendered, nothing written)."""

    def firmware_figures(self) -> FirmwareFigures:
        """tinyedge's protocol, port and start-up on this target, for the estimate before a compile."""

    def missing_toolchain(self) -> str | None:
        """None when the firmware can be compiled here, else what is missing (one phrase)."""

    def install_hint(self) -> str:
        """How to get the missing toolchain (one phrase)."""

    def toolchain_step(self, project: Path) -> str:
        """What the user runs to get the firmware compiled when the toolchain is missing."""

    def compile(self, project: Path) -> Built:
        """Compiles the generated project; a TinyedgeError naming the first compiler error."""

    def next_step(self) -> str:
        """The command after a compile (one line)."""

    def install(self, project: Path, port: str | None) -> str | None:
        """Puts the compiled firmware where it runs; returns the port it answers on afterwards."""

    def flash(self, build: "BuildFolder", port: str | None) -> "FlashResult":
        """`tinyedge flash`: install the build's firmware and check what can be checked."""

    def check_trace(self) -> None:
        """A TinyedgeError (one line) where `trace_inference` cannot run."""

    def trace_inference(self, elf: Path, data: bytes, folder: Path):
        """One inference with its executed instruction stream (tinyedge.cycles.TracedInference); a
        TinyedgeError where no emulator runs the firmware."""

    def check_serve(self) -> None:
        """A TinyedgeError (one line) where `serve` cannot run."""

    def serve(self, elf: Path, folder: Path) -> AbstractContextManager:
        """`elf` running here behind a pseudo-terminal, in real time (tinyedge.mlperf_serve.Served);
        a TinyedgeError where the target cannot (a real board, the host)."""

    def link_elf(self, build, port: str | None) -> Path | None:
        """The ELF that `link` needs for the build folder `build` (None where the device runs it)."""

    def link(self, elf: Path | None, port: str | None) -> AbstractContextManager["Link"]:
        """The link to the firmware `elf` (started here where the target runs it) or the device on
        `port`; always stopped on the way out."""

    def open_transport(self, elf: Path | None, port: str | None) -> AbstractContextManager:
        """One transport over `link`, closed on the way out."""


def for_board(board: Board) -> Target:
    """The target that drives `board`, chosen by the board file's kind."""
    from .emulated import EmulatedTarget
    from .host import HostTarget
    from .platformio_board import PlatformIOTarget

    kinds = {"platformio": PlatformIOTarget, "emulated": EmulatedTarget, "host": HostTarget}
    return kinds[board.kind](board)


__all__ = ["Built", "FirmwareFigures", "Target", "for_board"]
