"""PlatformIO builds for tinyedge: an offline core for the emulated boards and `pio run` with clear errors.

PlatformIO cannot download anything here (ARCHITECTURE.md §4). It builds offline with the local
platform in firmware/platformio-emulated once its own build tool, the `tool-scons` package, is present
in its core folder; `seed_offline_core` puts it there, backed by the SCons installed from PyPI.
tinyedge keeps its own core folder (`emulated_core_dir`) so a user's PlatformIO setup is never touched.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .console import say
from .elfsize import read_elf_size
from .errors import TinyedgeError
from .fileio import open_log, write_json_atomic, write_text_atomic
from .resources import FIRMWARE_DIR

EMULATED_PLATFORM_DIR = FIRMWARE_DIR / "platformio-emulated"

# The version PlatformIO 6.2 asks for ("~4.41101.0") and the install record it expects beside it.
SCONS_PACKAGE_VERSION = "4.41101.0"
SCONS_PACKAGE_MANIFEST = {
    "name": "tool-scons",
    "version": SCONS_PACKAGE_VERSION,
    "description": "SCons from PyPI (installed with tinyedge), for offline PlatformIO builds",
    "keywords": ["build tool"],
    "license": "MIT",
}
SCONS_PACKAGE_RECORD = {
    "type": "tool",
    "name": "tool-scons",
    "version": SCONS_PACKAGE_VERSION,
    "spec": {"owner": "platformio", "id": None, "name": "tool-scons", "requirements": None, "uri": None},
}
SCONS_LAUNCHER = '''\
"""Written by tinyedge: runs the SCons installed from PyPI in the Python that PlatformIO runs in."""
import sys

from SCons.Script.Main import main

if __name__ == "__main__":
    sys.exit(main())
'''

# A compiler or linker error line worth showing on its own.
ERROR_LINE = re.compile(
    r"(\berror:|undefined reference to|region `[^']+' overflowed|multiple definition of|"
    r"^Error: |^[A-Za-z]+Error: |^\*\*\* \[.*\] Error )")
# PlatformIO's own failures start with "Error: " or an exception name ("UnknownEnvNamesError: ").
PLATFORMIO_ERROR_PREFIX = re.compile(r"^(Error|[A-Za-z]+Error): ")


@dataclass(frozen=True)
class BuildResult:
    elf: Path
    flash_bytes: int
    ram_bytes: int
    log: Path


# Each emulated project has a PlatformIO folder of its own: PlatformIO records a local platform by its
# folder's name, so two projects (each with its own platform/ copy) built at the same time in one
# shared folder would replace each other's record mid-build.
PROJECT_CORE_FOLDER = ".pio/tinyedge-core"


def emulated_core_dir(project_dir: str | os.PathLike) -> Path:
    """The PLATFORMIO_CORE_DIR of an emulated build: the project's own ($TINYEDGE_PLATFORMIO_CORE_DIR
    overrides), holding only tool-scons and the record of the project's platform."""
    override = os.environ.get("TINYEDGE_PLATFORMIO_CORE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    return Path(project_dir).resolve() / PROJECT_CORE_FOLDER


def user_core_dir() -> Path:
    """The user's own PlatformIO folder (real boards build there, with the platforms they installed)."""
    override = os.environ.get("PLATFORMIO_CORE_DIR")
    return Path(override).expanduser() if override else Path.home() / ".platformio"


def platform_installed(platform: str, core_dir: Path) -> bool:
    """Whether PlatformIO already holds `platform` (e.g. nordicnrf52) in core_dir.

    tinyedge never downloads a platform during a build: PlatformIO's own retries take a minute to fail
    without the network, and a user with the network installs it once with `pio pkg install`."""
    return (Path(core_dir) / "platforms" / platform / "platform.json").is_file()


def seed_offline_core(core_dir: str | os.PathLike) -> Path:
    """Put the tool-scons package into `core_dir` so PlatformIO builds without the network.

    Idempotent: files that already hold the right content are not rewritten. Returns the core folder.
    """
    core_dir = Path(core_dir)
    package = core_dir / "packages" / "tool-scons"
    wanted = {
        package / "package.json": json.dumps(SCONS_PACKAGE_MANIFEST, indent=2) + "\n",
        package / ".piopm": json.dumps(SCONS_PACKAGE_RECORD),
        package / "scons.py": SCONS_LAUNCHER,
    }
    for path, text in wanted.items():  # write errors are one line (fileio)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_text_atomic(path, text)
    return core_dir


PLATFORMIO_MODULE = "platformio"


def platformio_command() -> list[str]:
    """The PlatformIO that this Python imports (tinyedge pins it), never another one on PATH. Run as a
    module, so it works wherever tinyedge is installed, console scripts or not."""
    if importlib.util.find_spec(PLATFORMIO_MODULE) is None:
        raise TinyedgeError(f"PlatformIO is not installed for {sys.executable}",
                            "run the setup step: python3 -m tinyedge.bootstrap")
    return [sys.executable, "-m", PLATFORMIO_MODULE]


# A generated project carries its own copy of the platform (emulated_platform_files), so it builds
# wherever it is copied to and names no path of tinyedge's installation.
PROJECT_PLATFORM_FOLDER = "platform"
PROJECT_PLATFORM_SPEC = f"symlink://${{PROJECT_DIR}}/{PROJECT_PLATFORM_FOLDER}"
# The builder compiles the start-up code and port from here when the platform sits in a project
# (builder/main.py); in tinyedge's own firmware/ folder they are the platform's siblings.
PROJECT_PLATFORM_SUPPORT = "support"


def emulated_platform_spec() -> str:
    """`platform =` for tinyedge's own copy of the emulated platform (tests build scratch projects
    with it); generated projects use PROJECT_PLATFORM_SPEC and their own copy."""
    return f"symlink://{EMULATED_PLATFORM_DIR}"


def emulated_platform_files(platformio_board: str) -> dict[str, str]:
    """{path in the project: text} of the emulated platform for one board: the PlatformIO platform
    (manifest, class, builder, the board's manifest) and the start-up code, machine files and port
    the builder adds to every firmware of that board."""
    manifest_path = EMULATED_PLATFORM_DIR / "boards" / f"{platformio_board}.json"
    build = json.loads(manifest_path.read_text(encoding="utf-8"))["build"]
    platform_sources = ["platform.json", "platform.py", "builder/main.py", f"boards/{platformio_board}.json"]
    support_folders = ["platform/cortex-m", "platform/cmsdk", f"platform/{build['machine']}",
                       f"port/{build['port']}"]
    files = {f"{PROJECT_PLATFORM_FOLDER}/{name}": (EMULATED_PLATFORM_DIR / name).read_text(encoding="utf-8")
             for name in platform_sources}
    for folder in support_folders:
        for source in sorted((FIRMWARE_DIR / folder).iterdir()):
            if source.is_file():
                files[f"{PROJECT_PLATFORM_FOLDER}/{PROJECT_PLATFORM_SUPPORT}/{folder}/{source.name}"] = \
                    source.read_text(encoding="utf-8")
    files[f"{PROJECT_PLATFORM_FOLDER}/{PROJECT_PLATFORM_SUPPORT}/port/port.h"] = \
        (FIRMWARE_DIR / "port" / "port.h").read_text(encoding="utf-8")
    return files


def platformio_environment(core_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "PLATFORMIO_CORE_DIR": str(core_dir),
        # Offline: no telemetry, no upgrade checks, and plain text for the log.
        "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No",
        "PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL": "3650",
        "PLATFORMIO_SETTING_CHECK_PRUNE_SYSTEM_THRESHOLD": "0",
        "PLATFORMIO_DISABLE_PROGRESSBAR": "true",
        "PLATFORMIO_NO_ANSI": "true",
    })
    return env


def _images(build_dir: Path) -> list[Path]:
    return sorted(build_dir.glob("firmware.*"))


def _image_hashes(build_dir: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in _images(build_dir)}


def _drop_untrusted_images(build_dir: Path, stamp: Path) -> None:
    """SCons relinks only when a source changed: a firmware image damaged (or left half-written) since
    tinyedge's last successful build would be kept and run. Images whose hashes differ from the ones
    recorded after that build are removed, so PlatformIO makes them again."""
    try:
        recorded = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        recorded = {}
    if _image_hashes(build_dir) != recorded:
        for path in _images(build_dir):
            path.unlink()


def _show_progress(line: str) -> None:
    if line.startswith(("Compiling ", "Linking ", "Archiving ", "Indexing ")):
        say(f"  {line}")


def run_build(project_dir: str | os.PathLike, env_name: str, core_dir: str | os.PathLike | None = None,
              progress: Callable[[str], None] | None = _show_progress) -> BuildResult:
    """`pio run -e env_name` in `project_dir`; returns the ELF with its flash and RAM.

    The whole PlatformIO output goes to .pio/tinyedge-build-<env>.log (not under .pio/build, which
    PlatformIO empties when the configuration changes); `progress` sees each line as it
    comes (by default the compile and link steps go to stderr). A failed build is one TinyedgeError
    naming the first compiler or linker error and the log.
    """
    project_dir = Path(project_dir).resolve()
    core_dir = Path(core_dir) if core_dir is not None else emulated_core_dir(project_dir)
    if not (project_dir / "platformio.ini").is_file():
        raise TinyedgeError(f"{project_dir} has no platformio.ini",
                            "generate the project first ('tinyedge build')")
    platformio = platformio_command()
    seed_offline_core(core_dir)

    build_dir = project_dir / ".pio" / "build" / env_name
    log_path = project_dir / ".pio" / f"tinyedge-build-{env_name}.log"
    stamp = project_dir / ".pio" / f"tinyedge-build-{env_name}.sha256.json"
    _drop_untrusted_images(build_dir, stamp)
    say(f"building {project_dir.name} [{env_name}] with PlatformIO (log: {log_path})")
    command = [*platformio, "run", "--project-dir", str(project_dir), "--environment", env_name]
    lines: list[str] = []
    log = open_log(log_path)
    # Its own process group, so that stopping it also stops the SCons and compiler processes under it.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=platformio_environment(core_dir),
                               text=True, errors="replace", cwd=project_dir, start_new_session=True)
    try:
        with log:
            for line in process.stdout:
                log.write(line)
                line = line.rstrip("\n")
                lines.append(line)
                if progress is not None:
                    progress(line)
        returncode = process.wait()
    finally:
        if process.poll() is None:  # interrupted: do not leave a compiler running
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    if returncode != 0:
        library = library_download_failure(lines)
        if library is not None:
            raise LibraryDownloadFailed(library, log_path)
        raise TinyedgeError(f"the build of {project_dir.name} [{env_name}] failed: "
                            f"{first_error(lines) or 'PlatformIO exited with code %d' % returncode}",
                            f"full log: {log_path}")
    elf = build_dir / "firmware.elf"
    if not elf.is_file():
        raise TinyedgeError(f"the build of {project_dir.name} [{env_name}] produced no {elf.name}",
                            f"full log: {log_path}")
    size = read_elf_size(elf)
    write_json_atomic(stamp, _image_hashes(build_dir))
    return BuildResult(elf=elf, flash_bytes=size.flash_bytes, ram_bytes=size.ram_bytes, log=log_path)


# PlatformIO installing a lib_deps library and failing to reach the registry (no network).
LIBRARY_INSTALLING = re.compile(r"^Library Manager: Installing (.+?)\s*$")
NETWORK_ERRORS = ("HTTPClientError", "ConnectionError", "InternetConnectionError")


class LibraryDownloadFailed(TinyedgeError):
    """A library of lib_deps could not be downloaded (the registry is out of reach)."""

    def __init__(self, library: str, log: Path):
        super().__init__(f"PlatformIO could not download the library {library} (no network?)",
                         f"full log: {log}")
        self.library, self.log = library, log


def library_download_failure(lines: list[str]) -> str | None:
    """The library PlatformIO was installing when a network error ended the build, else None."""
    installing = None
    for line in lines:
        match = LIBRARY_INSTALLING.match(line.strip())
        if match:
            installing = match.group(1)
        elif installing and line.strip().split(":", 1)[0] in NETWORK_ERRORS:
            return installing
    return None


def first_error(lines: list[str]) -> str | None:
    """The first line of a build log that says what went wrong, shortened to stay readable."""
    for line in lines:
        if ERROR_LINE.search(line):
            text = PLATFORMIO_ERROR_PREFIX.sub("", line.strip())
            return text if len(text) <= 300 else text[:297] + "..."
    return None
