"""Building a generated Arduino library and its example sketch against Debian's real Arduino AVR core
(arduino-core-avr) with avr-gcc, for the Arduino Mega 2560, the way the Arduino IDE does it: the core
compiled into core.a, the library's sources and the sketch (an .ino is C++ with `#include <Arduino.h>`
put in front) compiled with the flags of the core's platform.txt, then linked with --gc-sections.

The IDE adds -flto; this build leaves it out so that each object is checked by the compiler on its own.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

AVR_HARDWARE = Path("/usr/share/arduino/hardware/arduino/avr")
CORE = AVR_HARDWARE / "cores" / "arduino"
VARIANT = AVR_HARDWARE / "variants" / "mega"
# boards.txt: mega.menu.cpu.atmega2560 (upload.maximum_size, build.mcu, build.f_cpu, build.board) and
# mega.upload.maximum_data_size.
MEGA_FLASH_BYTES = 253952
MEGA_RAM_BYTES = 8192
MEGA_FLAGS = ["-mmcu=atmega2560", "-DF_CPU=16000000L", "-DARDUINO=10807", "-DARDUINO_AVR_MEGA2560",
              "-DARDUINO_ARCH_AVR", "-Os", "-g", "-ffunction-sections", "-fdata-sections",
              "-I", str(CORE), "-I", str(VARIANT)]
C_FLAGS = ["-std=gnu11"]
CXX_FLAGS = ["-std=gnu++11", "-fno-exceptions", "-fno-threadsafe-statics"]
# Debian pairs the 1.8.7 core with avr-gcc 5.4, whose <float.h> defines DECIMAL_DIG for C99 only, while
# the core's WString.cpp uses it in C++11 (Arduino's own toolchain is avr-gcc 7.3). The value is the
# compiler's own.
CORE_ONLY_FLAGS = ["-w", "-fpermissive", "-DDECIMAL_DIG=__DECIMAL_DIG__"]
# Our own sources must compile cleanly.
OWN_FLAGS = ["-Wall", "-Wextra", "-Werror"]


def missing_tools() -> str | None:
    """Why this build cannot run here, or None (the setup step installs all of it)."""
    for tool in ("avr-gcc", "avr-g++", "avr-ar", "avr-size"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (the setup step installs gcc-avr and avr-libc)"
    if not (CORE / "Arduino.h").is_file():
        return f"{CORE} is absent (the setup step installs Debian's arduino-core-avr)"
    return None


def _run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def _compile_command(source: Path, obj: Path, extra: list[str]) -> list[str]:
    if source.suffix == ".c":
        return ["avr-gcc", "-c", *C_FLAGS, *MEGA_FLAGS, *extra, str(source), "-o", str(obj)]
    if source.suffix == ".S":
        return ["avr-gcc", "-c", "-x", "assembler-with-cpp", *MEGA_FLAGS, str(source), "-o", str(obj)]
    return ["avr-g++", "-c", *CXX_FLAGS, *MEGA_FLAGS, *extra, str(source), "-o", str(obj)]


def _compile_all(sources: list[Path], out: Path, extra: list[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    objects = [out / f"{source.name}.o" for source in sources]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda pair: _run(_compile_command(pair[0], pair[1], extra), out), zip(sources, objects)))
    return objects


def build_core(out: Path) -> Path:
    """The Arduino core as core.a, so the link takes only the objects the sketch needs."""
    sources = sorted(path for path in CORE.iterdir() if path.suffix in (".c", ".cpp", ".S"))
    objects = _compile_all(sources, out / "core", CORE_ONLY_FLAGS)
    archive = out / "core.a"
    _run(["avr-ar", "rcs", str(archive), *map(str, objects)], out)
    return archive


@dataclass(frozen=True)
class Firmware:
    elf: Path
    flash_bytes: int   # .text + .data (the initial values of .data are stored in flash)
    ram_bytes: int     # .data + .bss, before the stack


def compile_library(library: Path, out: Path, defines: list[str] = ()) -> list[Path]:
    """The library's sources and its example sketch compiled as the IDE does; returns the objects."""
    sources = sorted(path for path in (library / "src").iterdir() if path.suffix in (".c", ".cc", ".cpp"))
    (sketch_ino,) = sorted((library / "examples").glob("*/*.ino"))
    sketch = out / "sketch" / f"{sketch_ino.stem}.ino.cpp"
    sketch.parent.mkdir(parents=True, exist_ok=True)
    sketch.write_text(f'#include <Arduino.h>\n#line 1 "{sketch_ino}"\n{sketch_ino.read_text()}')
    extra = [*OWN_FLAGS, *defines, "-I", str(library / "src")]
    return _compile_all(sources, out / "library", extra) + _compile_all([sketch], out / "sketch", extra)


def link(objects: list[Path], core: Path, elf: Path) -> Firmware:
    _run(["avr-gcc", "-mmcu=atmega2560", "-Os", "-Wl,--gc-sections", "-o", str(elf), *map(str, objects),
          str(core), "-lm"], elf.parent)
    sizes = {}
    for line in _run(["avr-size", "-A", str(elf)], elf.parent).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in (".text", ".data", ".bss"):
            sizes[parts[0]] = int(parts[1])
    return Firmware(elf, sizes[".text"] + sizes[".data"], sizes[".data"] + sizes[".bss"])


def run_in_simavr(elf: Path, until: bytes, timeout: float = 60.0) -> str:
    """What the firmware writes on Serial, up to the end of the line holding `until`, in simavr (an ATmega2560 at
    16 MHz). simavr prints each UART line in colour with unprintable bytes as '.'; the colour codes are
    removed. The sketch never exits, so simavr is stopped once `until` is seen."""
    process = subprocess.Popen(["simavr", "-m", "atmega2560", "-f", "16000000", str(elf)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = b""
    try:
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while not re.search(re.escape(until) + rb"[^\n]*\n", seen):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise AssertionError(f"simavr printed no {until!r} within {timeout} s:\n{seen[-2000:]!r}")
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                raise AssertionError(f"simavr ended before {until!r}:\n{seen[-2000:]!r}")
            seen += chunk
    finally:
        process.kill()
        process.wait()
    return re.sub(r"\x1b\[[0-9;]*m", "", seen.decode("utf-8", "replace"))
