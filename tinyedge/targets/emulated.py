"""An emulated Cortex-M board: the firmware is compiled by PlatformIO offline with tinyedge's local
platform (a copy in each project, built in the project's own PlatformIO folder), run in QEMU, and reached
over QEMU's serial socket. Nothing is written to a device: "flashing" checks that the ELF boots and
carries the build's model. Under -icount shift=0 its SysTick counts instructions, never time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import TinyedgeError
from . import FirmwareFigures
from .base import BaseTarget
from .platformio_board import PlatformIOTarget

# The bare-metal start-up reserves 64 KB of stack and 64 KB of heap unless told otherwise. The firmware
# never allocates (no malloc is linked) and its deepest call chain (protocol -> invoke -> kernel) needs
# well under 8 KB, so the RAM figure shows what the model really costs.
STACK_BYTES = 8 * 1024


NO_TFLM_TREE_HINT = ("give a tree made by tflite-micro's create_tflm_tree.py with --tflm-dir DIR (or "
                     "runtime.tflm_dir in tinyedge.toml, or TINYEDGE_TFLM_DIR), or use --runtime native")


def no_tflm_tree_message(board: str) -> str:
    return (f"the tflm runtime on {board} needs the TFLM library, which must be downloaded (a tree "
            "from create_tflm_tree.py) or given with --tflm-dir")


class EmulatedTarget(PlatformIOTarget):
    @property
    def timer_unit(self) -> str:
        return "instructions"

    def plan(self, plan) -> None:
        from ..platformio import PROJECT_CORE_FOLDER, PROJECT_PLATFORM_SPEC, emulated_platform_files
        plan.platform_spec = PROJECT_PLATFORM_SPEC
        plan.core_dir = PROJECT_CORE_FOLDER
        plan.link_flags = [f"-Wl,--defsym=__stack_size={STACK_BYTES:#x}", "-Wl,--defsym=__heap_size=0"]
        plan.platform_files = emulated_platform_files(self.board.platformio.board)

    def plan_tflm(self, plan) -> None:
        """TFLM from a local tree, compiled once for the core into the user's cache and linked; the
        registry's TFLM is an Arduino library, which a bare-metal emulated board cannot build."""
        from ..project.tflm_library import LIBRARY_FILE, cache_root, library_key
        if plan.kind != "platformio":   # an Arduino library or a CMake project: the user's build links TFLM
            return
        tree = plan.tflm.tflm_dir
        if tree is None:
            raise TinyedgeError(no_tflm_tree_message(self.board.name), NO_TFLM_TREE_HINT)
        plan.tflm.library = cache_root() / library_key(tree, self.board) / LIBRARY_FILE

    def firmware_figures(self) -> FirmwareFigures:
        from ..footprint import FIRMWARE_FLASH_BYTES, FIRMWARE_RAM_BYTES
        name = self.board.name
        return FirmwareFigures(FIRMWARE_FLASH_BYTES.get(name, max(FIRMWARE_FLASH_BYTES.values())),
                               FIRMWARE_RAM_BYTES.get(name, max(FIRMWARE_RAM_BYTES.values())), STACK_BYTES,
                               f"tinyedge's protocol, port, start-up and stack as on {name}")

    def core_dir(self, project: Path | None = None) -> Path:
        """The project's own PlatformIO folder (platformio.emulated_core_dir)."""
        from ..platformio import emulated_core_dir
        return emulated_core_dir(project if project is not None else Path.cwd())

    def missing_toolchain(self) -> str | None:
        return None  # the platform travels with the project; the cross compiler comes with the setup

    def next_step(self) -> str:
        return f"tinyedge validate --board {self.board.name}"

    def install(self, project: Path, port: str | None) -> str | None:
        return port  # QEMU loads the ELF on every run

    def flash(self, build, port: str | None):
        """Starts the ELF in QEMU, waits for the banner and `m-ready`, checks the model, stops QEMU."""
        from ..elfsize import read_elf_size
        from ..validation.flashing import FlashResult

        elf, identity = self.started_identity(build)
        size = read_elf_size(elf)
        board = self.board
        return FlashResult(board.name, elf, None, size.flash_bytes, size.ram_bytes, identity.name,
                           identity.sha256,
                           summary=f"{elf} boots in QEMU and carries model '{identity.name}' (sha256 "
                                   f"{identity.sha256[:16]}); flash {size.flash_bytes:,} B of "
                                   f"{board.flash_bytes:,} B, RAM {size.ram_bytes:,} B of {board.ram_bytes:,} B",
                           next_step=f"tinyedge validate --board {board.name}")

    def check_trace(self) -> None:
        from ..cycles import check_projectable
        check_projectable(self.board)

    def trace_inference(self, elf: Path, data: bytes, folder: Path):
        from ..cycles import trace_inference
        self.check_trace()
        return trace_inference(self.board, elf, data, folder)

    def check_serve(self) -> None:
        """QEMU can run the firmware in real time behind a pseudo-terminal."""

    def serve(self, elf: Path, folder: Path):
        from ..mlperf_serve import serve
        return serve(self.board, elf, folder)

    def link_elf(self, build, port: str | None) -> Path | None:
        return BaseTarget.link_elf(self, build, port)   # QEMU runs the compiled firmware here

    @contextmanager
    def link(self, elf: Path | None, port: str | None) -> Iterator:
        """QEMU started here with `elf` (and always stopped), or, with `port`, a serial URL such as the
        socket of a QEMU started elsewhere."""
        if port is not None:
            with super().link(elf, port) as link:
                yield link
            return
        from ..device.transport import SerialTransport
        from ..emulator import run_qemu
        from ..validation.links import Link

        board = self.board
        if elf is None:
            raise TinyedgeError(f"there is no compiled firmware for {board.name}",
                                f"run 'tinyedge build --board {board.name}' first")
        with run_qemu(board, elf) as qemu:
            def open_socket():
                transport = SerialTransport(qemu.url, board.serial.baud)
                transport.name = f"{board.name} (QEMU on {qemu.url})"
                return transport

            def ended(wait: float) -> str | None:
                # The emulator's own death (killed, crashed, a QEMU fatal error) explains a failure; a
                # firmware that ended QEMU itself (semihosting exit after a fault) keeps its own reason.
                end = qemu.ended(wait)
                return str(end) if end is not None and (end.fatal or end.how.startswith("died")) else None

            yield Link(open_socket, f"{board.name} in QEMU", ended)
