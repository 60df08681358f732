"""What every target does the same way: its project comes from the one renderer (project/render.py,
laid out as the target's plan says), and a transport is the first connection of its link."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..boards import Board


class BaseTarget:
    def __init__(self, board: Board):
        self.board = board

    def plan_tflm(self, plan) -> None:
        """How the TFLM runtime's project gets TFLM (plan.tflm is made): by default the tree as a
        PlatformIO library, or the pinned registry library without a tree."""

    def generate_project(self, bundle, plan) -> dict[str, str]:
        """{path: text} of the firmware project for this board (`plan` went through `self.plan`)."""
        from ..project.render import render_project
        return render_project(bundle, self.board, plan)

    @contextmanager
    def open_transport(self, elf: Path | None, port: str | None) -> Iterator:
        """One transport to the running firmware (started here where the target runs it), closed and
        stopped on the way out."""
        with self.link(elf, port) as link:
            transport = link.open()
            try:
                yield transport
            finally:
                transport.close()

    def check_serve(self) -> None:
        """Refuses `serve` (one line) unless the target runs the firmware in an emulator."""
        from ..errors import TinyedgeError
        raise TinyedgeError(f"--serve runs an emulated board, and {self.board.name} is not one",
                            "build for the board without --serve and point the runner at its port")

    def serve(self, elf: Path, folder: Path):
        """The firmware `elf` running here behind a pseudo-terminal for another program (the MLPerf
        Tiny runner), in real time: a context manager of tinyedge.mlperf_serve.Served."""
        self.check_serve()

    def check_trace(self) -> None:
        """Refuses `trace_inference` (one line) unless an emulator with a timing model runs the firmware."""
        from ..errors import TinyedgeError
        raise TinyedgeError(f"projected cycles come from the emulator's execution trace, and {self.board.name} "
                            "is not emulated", "run bench --cycles on emu-m4")

    def trace_inference(self, elf: Path, data: bytes, folder: Path):
        """One inference of `elf` on `data` with its executed instruction stream
        (tinyedge.cycles.TracedInference)."""
        self.check_trace()

    def link_elf(self, build, port: str | None) -> Path | None:
        """The ELF `link` needs for `build`: a target that runs the firmware here needs it compiled,
        unless `port` reaches a device started elsewhere."""
        return build.elf if port is not None else build.require_elf()

    def started_identity(self, build):
        """For a target that runs the firmware here (QEMU, the host): the build's ELF started, its
        banner and model checked against the build, and stopped; (elf, the identity it reported)."""
        from ..device.protocol import DeviceSession

        elf = build.require_elf()
        with self.link(elf, None) as link:
            with DeviceSession(link.open, expected=build.identity) as session:
                return elf, session.identity
