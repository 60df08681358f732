"""Set up a fresh machine for tinyedge, idempotently: `python3 -m tinyedge.bootstrap`.

Runs with the system Python and the standard library only (nothing else is installed yet):
1. Debian packages for the emulated boards (Arm cross compiler with newlib and libstdc++, QEMU) and for
   the Arduino library's build test (avr-gcc, avr-libc, the Arduino AVR core, simavr), headless Chromium
   for the reports' screenshots (--no-install-recommends keeps it to the browser), PostgreSQL for the
   tune test's shared study (the test starts its own server on a socket; no service is needed), installed with
   apt-get when missing and apt is usable; otherwise a message saying what to install.
2. A virtual environment (.venv beside this checkout) with tinyedge and its test extra; reinstalled only
   when pyproject.toml changed.
Emulated boards then build offline: each generated project carries its PlatformIO platform, and
tinyedge seeds PlatformIO's tool-scons package into the project's own PlatformIO folder when it builds.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("TINYEDGE_VENV", ROOT / ".venv"))
STAMP = VENV / ".tinyedge-installed"

DEBIAN_PACKAGES = ["gcc-arm-none-eabi", "libnewlib-arm-none-eabi", "libstdc++-arm-none-eabi-newlib",
                   "qemu-system-arm", "gcc-avr", "avr-libc", "arduino-core-avr", "simavr", "clang", "cmake",
                   "chromium", "postgresql"]
# Where Debian's postgresql puts its server binaries (one folder per major version; not on PATH).
POSTGRESQL_BIN_GLOB = "/usr/lib/postgresql/*/bin"
# Where Debian's arduino-core-avr puts the Arduino core (tests/project compiles the library against it).
ARDUINO_AVR_CORE = Path("/usr/share/arduino/hardware/arduino/avr/cores/arduino/Arduino.h")


def say(message: str) -> None:
    print(f"[setup] {message}", flush=True)


def _arm_library_present(name: str) -> bool:
    gcc = shutil.which("arm-none-eabi-gcc")
    if not gcc:
        return False
    found = subprocess.run([gcc, "-mthumb", "-mcpu=cortex-m4", f"-print-file-name={name}"],
                           capture_output=True, text=True).stdout.strip()
    return os.path.isabs(found) and os.path.exists(found)


def _avr_library_present(name: str) -> bool:
    gcc = shutil.which("avr-gcc")
    if not gcc:
        return False
    found = subprocess.run([gcc, "-mmcu=atmega2560", f"-print-file-name={name}"],
                           capture_output=True, text=True).stdout.strip()
    return os.path.isabs(found) and os.path.exists(found)


def postgresql_bin() -> Path | None:
    """The folder of Debian's PostgreSQL server binaries (initdb, pg_ctl, postgres), the newest major
    version when several are installed; None when there is none."""
    import glob
    folders = [Path(f) for f in glob.glob(POSTGRESQL_BIN_GLOB) if (Path(f) / "initdb").is_file()]
    def major(folder: Path) -> tuple[int, str]:
        name = folder.parent.name
        return (int(name) if name.isdigit() else -1, name)
    return max(folders, key=major) if folders else None


def missing_debian_packages() -> list[str]:
    """The Debian packages whose files are absent (checked by file, not by dpkg, to allow other
    installs of the same tools)."""
    present = {
        "gcc-arm-none-eabi": shutil.which("arm-none-eabi-gcc") is not None,
        "libnewlib-arm-none-eabi": _arm_library_present("libc_nano.a"),
        "libstdc++-arm-none-eabi-newlib": _arm_library_present("libstdc++_nano.a"),
        "qemu-system-arm": shutil.which("qemu-system-arm") is not None,
        "gcc-avr": shutil.which("avr-gcc") is not None,
        "avr-libc": _avr_library_present("libc.a"),
        "arduino-core-avr": ARDUINO_AVR_CORE.is_file(),
        "simavr": shutil.which("simavr") is not None,
        # The second host compiler the native runtime's C is held warning-free with; the CMake projects' build.
        "clang": shutil.which("clang") is not None,
        "cmake": shutil.which("cmake") is not None,
        # Headless Chromium renders the reports to PNG (tinyedge.screenshot: bench/validate's screenshots).
        "chromium": any(shutil.which(name) for name in ("chromium", "chromium-browser")),
        # The server the tune test's workers share a study on (tests/tune/conftest.py starts it).
        "postgresql": postgresql_bin() is not None,
    }
    return [name for name in DEBIAN_PACKAGES if not present[name]]


def install_debian_packages() -> None:
    missing = missing_debian_packages()
    if not missing:
        say("Arm and AVR toolchains, clang, CMake, Arduino AVR core, QEMU, simavr, Chromium and "
            "PostgreSQL: present")
        return
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        how = "as root: apt-get install " if apt else "with your package manager: "
        raise SystemExit(f"[setup] error: missing {', '.join(missing)}; install them {how}"
                         f"{' '.join(missing)} and run this step again")
    say(f"installing {' '.join(missing)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([apt, "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run([apt, "install", "-y", "-q", "--no-install-recommends", *missing], check=True, env=env)
    still = missing_debian_packages()
    if still:
        raise SystemExit(f"[setup] error: apt-get ran but {', '.join(still)} is still missing")


def venv_python() -> Path:
    return VENV / "bin" / "python"


def _requirements_hash() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def install_python_package() -> None:
    if not venv_python().exists():
        say(f"creating the virtual environment {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = _requirements_hash()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        say("Python packages: up to date")
        return
    say("installing tinyedge and its dependencies into the virtual environment (TensorFlow is large; "
        "this takes a few minutes the first time)")
    subprocess.run([str(venv_python()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(wanted + "\n")


def main() -> int:
    if sys.version_info[:2] != (3, 11):
        raise SystemExit(f"[setup] error: tinyedge needs Python 3.11 (TensorFlow 2.21 and tflite-micro "
                         f"wheels); this is {sys.version.split()[0]}. Run it with python3.11")
    install_debian_packages()
    install_python_package()
    say(f"ready: {VENV / 'bin' / 'tinyedge'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
