"""A real board: the firmware is compiled by PlatformIO with the user's installed platform, uploaded with
PlatformIO (after the 1200-baud touch where the board needs it), and reached over its USB serial port,
found by the board's VID:PID when no port is given. Its timer counts cycles (DWT) or microseconds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import TinyedgeError
from . import Built, FirmwareFigures
from .base import BaseTarget

MAP_FLAG = "-Wl,-Map,$BUILD_DIR/firmware.map"

# What a real board's port counts with each timer its board file may name (boards.KIND_RULES).
TIMER_UNITS = {"dwt": "cycles", "micros": "us"}


class PlatformIOTarget(BaseTarget):
    @property
    def timer_unit(self) -> str:
        return TIMER_UNITS[self.board.timer]

    def plan(self, plan) -> None:
        """A real board's project names its PlatformIO platform as the board file does; its link writes
        firmware.map beside firmware.elf (SCons expands $BUILD_DIR), the report's memory map
        (tinyedge.memory_map; the emulated boards' platform links with one already)."""
        plan.link_flags = [*plan.link_flags, MAP_FLAG]

    def firmware_figures(self) -> FirmwareFigures:
        from ..footprint import PROTOCOL_FLASH_BYTES, PROTOCOL_RAM_BYTES
        return FirmwareFigures(PROTOCOL_FLASH_BYTES, PROTOCOL_RAM_BYTES, 0,
                               f"tinyedge's protocol; {self.board.name}'s framework (core, serial port, "
                               "stack) comes on top")

    # ---- compile ---------------------------------------------------------------------------------

    def core_dir(self, project: Path | None = None) -> Path:
        """The PlatformIO folder the build uses: the user's own, where their platforms are installed."""
        from ..platformio import user_core_dir
        return user_core_dir()

    def missing_toolchain(self) -> str | None:
        from ..platformio import platform_installed
        platform, core_dir = self.board.platformio.platform, self.core_dir()
        if platform_installed(platform, core_dir):
            return None
        return f"PlatformIO's {platform} platform is not installed in {core_dir}"

    def install_hint(self) -> str:
        return f"on a machine with the network: pio pkg install -g -p platformio/{self.board.platformio.platform} (once)"

    def toolchain_step(self, project: Path) -> str:
        name = self.board.name
        return (f"{self.install_hint()}, then tinyedge build --board {name} compiles it (or pio run -d "
                f"{project}), and tinyedge flash --board {name} uploads it")

    def compile(self, project: Path) -> Built:
        from ..platformio import LibraryDownloadFailed, run_build
        try:
            built = run_build(project, self.board.name, self.core_dir(project))
        except LibraryDownloadFailed as failed:  # the only library a tinyedge project downloads is TFLM
            raise TinyedgeError(f"the TFLM library ({failed.library}) must be downloaded or given with "
                                "--tflm-dir: PlatformIO could not download it (no network)",
                                f"on a machine with the network the build downloads it once; or pass "
                                f"--tflm-dir DIR, a tree made by create_tflm_tree.py (full log: {failed.log})"
                                ) from None
        return Built(built.elf, built.flash_bytes, built.ram_bytes)

    def next_step(self) -> str:
        return f"tinyedge flash --board {self.board.name}, then tinyedge validate --board {self.board.name}"

    # ---- flash and reach -------------------------------------------------------------------------

    def install(self, project: Path, port: str | None) -> str | None:
        from ..validation.flashing import upload_project
        return upload_project(self.board, project, port)

    def flash(self, build, port: str | None):
        from ..validation.flashing import flash_real_board
        return flash_real_board(self.board, build, port)

    def link_elf(self, build, port: str | None) -> Path | None:
        """A real board already runs its firmware: the link is its port, the ELF only informative."""
        return build.elf

    @contextmanager
    def link(self, elf: Path | None, port: str | None) -> Iterator:
        """The board's serial port: `port`, or the one port with the board's USB ids."""
        from ..device.ports import find_port
        from ..device.transport import SerialTransport
        from ..validation.links import Link

        board = self.board
        device = find_port(board.title, board.serial.usb_ids, port)
        yield Link(lambda: SerialTransport(device, board.serial.baud), device)
