"""The host as a board: the protocol firmware (firmware/protocol with firmware/port/host/port_host.c) and
the model's native runtime, compiled with the host C compiler into a program whose stdin and stdout are
its serial link. It is started as a process for every connection (a new process is a board that
rebooted) and killed on the way out. Its timer is CLOCK_MONOTONIC in microseconds ("us")."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import TinyedgeError
from . import Built, FirmwareFigures
from .base import BaseTarget

# Folders of the host project (project/render.py `_host`): each is compiled whole and is an include folder.
SOURCE_FOLDERS = ("src", "protocol", "native", "port")
FIRMWARE_FILE = "build/firmware.elf"


class HostTarget(BaseTarget):
    @property
    def timer_unit(self) -> str:
        return "us"

    def plan(self, plan) -> None:
        if plan.runtime.kind != "native":
            raise TinyedgeError(f"the {self.board.name} board runs tinyedge's native runtime only, not "
                                f"{plan.runtime.kind} ({plan.runtime.reason})",
                                f"use --runtime native with --board {self.board.name}, or an emulated board "
                                "(--board emu-m4) for TFLM firmware")
        if plan.kind == "platformio":
            plan.layout = "host"

    def firmware_figures(self) -> FirmwareFigures:
        from ..footprint import PROTOCOL_FLASH_BYTES, PROTOCOL_RAM_BYTES
        return FirmwareFigures(PROTOCOL_FLASH_BYTES, PROTOCOL_RAM_BYTES, 0,
                               "tinyedge's protocol; the host's C library and start-up come on top")

    def missing_toolchain(self) -> str | None:
        from ..hostcc import find_compiler
        try:
            find_compiler()
        except TinyedgeError as missing:
            return missing.message
        return None

    def install_hint(self) -> str:
        return "install a C compiler (Debian: apt-get install gcc)"

    def toolchain_step(self, project: Path) -> str:
        return f"{self.install_hint()}, then tinyedge build --board {self.board.name} compiles {project}"

    def compile(self, project: Path) -> Built:
        from ..console import say
        from ..elfsize import read_elf_size
        from ..hostcc import compile_folders

        project = Path(project).resolve()
        if not (project / "src" / "te_main.c").is_file():
            raise TinyedgeError(f"{project} holds no host firmware project",
                                f"run 'tinyedge build --board {self.board.name}' first")
        elf = project / FIRMWARE_FILE
        compiled = compile_folders(project, tuple(f for f in SOURCE_FOLDERS if (project / f).is_dir()), elf,
                                   map_file=True)   # firmware.map: the report's memory map
        say(f"{'compiled' if compiled else 'unchanged'}: {elf} (host C compiler)")
        size = read_elf_size(elf)
        return Built(elf, size.flash_bytes, size.ram_bytes)

    def next_step(self) -> str:
        return f"tinyedge validate --board {self.board.name}"

    def install(self, project: Path, port: str | None) -> str | None:
        return None  # the program runs where it was compiled

    def flash(self, build, port: str | None):
        """Nothing to write: starts the program, checks its banner and model, stops it."""
        from ..validation.flashing import FlashResult

        elf, identity = self.started_identity(build)
        return FlashResult(self.board.name, elf, None, build.firmware.get("flash_bytes"),
                           build.firmware.get("ram_bytes"), identity.name, identity.sha256,
                           summary=f"{elf} runs on this machine and carries model '{identity.name}' "
                                   f"(sha256 {identity.sha256[:16]})",
                           next_step=f"tinyedge validate --board {self.board.name}")

    @contextmanager
    def link(self, elf: Path | None, port: str | None) -> Iterator:
        from ..device.transport import ProcessTransport
        from ..validation.links import Link

        name = self.board.name
        if port is not None:
            raise TinyedgeError(f"--port {port} means nothing for {name}: its firmware runs as a process here",
                                f"leave --port out with --board {name}")
        if elf is None or not Path(elf).is_file():
            raise TinyedgeError(f"there is no compiled firmware for {name}",
                                f"run 'tinyedge build --board {name}' first")
        program = str(Path(elf).resolve())
        yield Link(lambda: ProcessTransport([program], name=f"{name} firmware ({Path(program).name})"),
                   program)
