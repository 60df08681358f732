"""PlatformIO's upload to a real board (after the 1200-baud touch that starts the bootloader of boards
such as the Nano 33 BLE), and what `tinyedge flash` reports. The PlatformIO target
(tinyedge.targets.platformio_board) flashes through these; other targets have their own `flash`."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..boards import Board
from ..console import say
from ..device import ports
from ..errors import TinyedgeError
from ..fileio import open_log
from .buildinfo import BuildFolder

PORT_RETURN_TIMEOUT_S = 10.0
# PlatformIO's line when it fetches a platform it does not have ("Platform Manager: Installing X").
INSTALLING = re.compile(r"Platform Manager: Installing (\S+)")
ERROR_LINE = re.compile(r"^(?:Error|[A-Za-z]+(?:Error|Exception)): ?(.*)$")


@dataclass(frozen=True)
class FlashResult:
    board: str
    elf: Path | None
    port: str | None            # where the board is after the upload (None where nothing was uploaded)
    flash_bytes: int | None
    ram_bytes: int | None
    model: str
    sha256: str
    summary: str = ""           # what happened, one line ("firmware uploaded ...", "boots in QEMU ...")
    next_step: str = ""


def upload_command(project: Path, port: str) -> list[str]:
    """PlatformIO's upload of the project's default environment to `port`."""
    from ..platformio import platformio_command
    return [*platformio_command(), "run", "-d", str(project), "-t", "upload", "--upload-port", port]


def upload_failure(lines: Sequence[str], returncode: int) -> str:
    """What went wrong in a failed `pio run -t upload`, in one phrase."""
    installing = next((m.group(1) for m in map(INSTALLING.search, lines) if m), None)
    error = next((line.strip() for line in lines if ERROR_LINE.match(line.strip())), None)
    if installing and error:
        return f"PlatformIO could not install the {installing} platform ({error.rstrip(': ')})"
    if error:
        text = ERROR_LINE.match(error).group(1) or error
        return text if len(text) <= 300 else text[:297] + "..."
    return f"PlatformIO exited with code {returncode}"


def run_platformio(command: list[str], log_path: Path) -> tuple[int, list[str]]:
    """Runs PlatformIO with its output in `log_path` and each line on stderr; stops its whole process
    group when interrupted."""
    environment = dict(os.environ, PLATFORMIO_SETTING_ENABLE_TELEMETRY="No",
                       PLATFORMIO_DISABLE_PROGRESSBAR="true", PLATFORMIO_NO_ANSI="true")
    lines: list[str] = []
    log = open_log(log_path)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, text=True, errors="replace", env=environment,
                               start_new_session=True)
    try:
        with log:
            for line in process.stdout:
                log.write(line)
                lines.append(line.rstrip("\n"))
                say(f"  {lines[-1]}")
        return process.wait(), lines
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def flash_real_board(board: Board, build: BuildFolder, port: str | None, *,
                     run: Callable[[list[str], Path], tuple[int, list[str]]] = run_platformio,
                     sleep: Callable[[float], None] = time.sleep) -> FlashResult:
    back = upload_project(board, build.firmware_project, port, run=run, sleep=sleep)
    identity = build.identity
    return FlashResult(board.name, build.elf, back, build.firmware.get("flash_bytes"),
                       build.firmware.get("ram_bytes"), identity.name, identity.sha256,
                       summary=f"firmware uploaded (model '{identity.name}', sha256 {identity.sha256[:16]}); "
                               f"the board is on {back}",
                       next_step=f"tinyedge validate --board {board.name} --port {back}")


def upload_project(board: Board, project: Path, port: str | None, *,
                   run: Callable[[list[str], Path], tuple[int, list[str]]] = run_platformio,
                   sleep: Callable[[float], None] = time.sleep) -> str:
    """Uploads a generated PlatformIO project to a real board (after the 1200-baud touch where the board
    needs it); returns the serial port the board's sketch answers on afterwards."""
    if not (project / "platformio.ini").is_file():
        raise TinyedgeError(f"{project} holds no PlatformIO project for {board.name}",
                            f"run 'tinyedge build --board {board.name}' first")
    require_platform(board)  # before the touch: no reset of a board that cannot be flashed
    device = ports.find_port(board.title, board.serial.usb_ids, port)
    upload_port = device
    if board.serial.reset == "1200bps-touch":
        say(f"flash: resetting {board.name} on {device} into its bootloader (1200-baud touch)")
        upload_port = ports.touch_1200_baud(device, board.serial.usb_ids, sleep=sleep)
    command = upload_command(project, upload_port)
    log_path = project / ".pio" / "tinyedge-upload.log"
    say(f"flash: {' '.join(command)} (log: {log_path})")
    returncode, lines = run(command, log_path)
    if returncode != 0:
        raise TinyedgeError(f"the upload to {board.name} on {upload_port} failed: "
                            f"{upload_failure(lines, returncode)}", f"full log: {log_path}")
    return wait_for_port(board, device, sleep=sleep) if board.serial.reset == "1200bps-touch" else device


def require_platform(board: Board) -> None:
    """PlatformIO would try to download a missing platform for a minute before failing without the
    network; say what to install instead (as `tinyedge build` does)."""
    from ..targets.platformio_board import PlatformIOTarget

    target = PlatformIOTarget(board)
    missing = target.missing_toolchain()
    if missing:
        raise TinyedgeError(f"{missing}, so the firmware cannot be uploaded to {board.name}",
                            f"{target.install_hint()}, then tinyedge flash --board {board.name}")


def wait_for_port(board: Board, previous: str, *, timeout: float = PORT_RETURN_TIMEOUT_S,
                  poll_interval: float = 0.25, sleep: Callable[[float], None] = time.sleep) -> str:
    """After an upload the board restarts its sketch and its port comes back, maybe under a new name."""
    waited = 0.0
    while True:
        matches = ports.matching_ports(board.serial.usb_ids)
        if len(matches) == 1:
            return matches[0].device
        if any(match.device == previous for match in matches):
            return previous
        if waited >= timeout:
            raise TinyedgeError(f"the firmware was uploaded, but {board.name}'s serial port did not come back "
                                f"within {timeout:g} s", "unplug and replug the board, then run "
                                f"'tinyedge validate --board {board.name} --port PORT'")
        sleep(poll_interval)
        waited += poll_interval
