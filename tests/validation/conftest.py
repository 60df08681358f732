"""One real run of the README's path for the CI check: `tinyedge validate --board emu-m4 --json` in a
copy of the built-in example with no emu-m4 build yet but its model stages (the session's one training
of the example, `trained_digits`, which tests/pipeline checks from nothing), so validate generates and
compiles the firmware, starts QEMU, validates and writes the report; shared by every test here; and
firmware variants of that build that misbehave on purpose (hang, HardFault, an output one byte short, a
clock that stands still, garbage before the boot banner)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import run_tinyedge

FAULT_INJECTION = Path(__file__).resolve().parent / "c" / "fault_injection.c"
BOOT_NOISE = Path(__file__).resolve().parent / "c" / "boot_noise.c"
HANG, HARDFAULT, SHORT_OUTPUT, ZERO_TICKS = 1, 3, 4, 5
# The functions each kind wraps besides the model's run function (c/fault_injection.c).
FAULT_WRAPS = {SHORT_OUTPUT: ["te_format_hex"], ZERO_TICKS: ["te_port_ticks"]}


@dataclass
class ValidatedProject:
    folder: Path
    run: subprocess.CompletedProcess
    seconds: float

    @property
    def build_dir(self) -> Path:
        return self.folder / "build" / "emu-m4"

    @property
    def result(self) -> dict:
        return json.loads(self.run.stdout)


def need_emulation_tools() -> None:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the setup step installs it)")


@pytest.fixture(scope="session")
def validated_digits(tmp_path_factory, request) -> ValidatedProject:
    need_emulation_tools()
    folder = request.getfixturevalue("digits_project")(tmp_path_factory.mktemp("digits"), "emu-m4")
    started = time.perf_counter()
    run = run_tinyedge("validate", "--board", "emu-m4", "--dir", str(folder), "--json")
    seconds = time.perf_counter() - started
    assert run.returncode == 0, run.stderr[-3000:]
    return ValidatedProject(folder, run, seconds)


def _firmware_variant(validated_digits: ValidatedProject, folder: Path, source: Path, flags: list[str]) -> Path:
    """The digits firmware's PlatformIO project with one test-only source added and `flags` first in
    its build_flags, compiled; returns the ELF."""
    from tinyedge.platformio import run_build

    project = folder / "firmware"
    shutil.copytree(validated_digits.build_dir / "firmware", project, ignore=shutil.ignore_patterns(".pio"))
    shutil.copy(source, project / "src")
    ini = project / "platformio.ini"
    text = ini.read_text()
    assert text.count("build_flags =\n") >= 1
    added = "".join(f"    {flag}\n" for flag in flags)
    ini.write_text(text.replace("build_flags =\n", "build_flags =\n" + added, 1))
    return run_build(project, "emu-m4", progress=None).elf


@pytest.fixture(scope="session")
def fault_firmware(validated_digits, tmp_path_factory):
    """fault_firmware(kind, at) -> the ELF of the digits firmware that hangs (HANG) or HardFaults
    (HARDFAULT) at its `at`-th inference, or from that inference on prints one output byte too few
    (SHORT_OUTPUT) or 0 ticks (ZERO_TICKS); built once per variant with the same PlatformIO project."""
    built: dict[tuple[int, int], Path] = {}

    def make(kind: int, at: int) -> Path:
        if (kind, at) not in built:
            wraps = ["tinyedge_model_run", *FAULT_WRAPS.get(kind, [])]
            built[(kind, at)] = _firmware_variant(
                validated_digits, tmp_path_factory.mktemp(f"fault-{kind}-{at}"), FAULT_INJECTION,
                [f"-DTE_FAULT_AT={at}", f"-DTE_FAULT_KIND={kind}", *(f"-Wl,--wrap={name}" for name in wraps)])
        return built[(kind, at)]

    return make


@pytest.fixture(scope="session")
def noisy_firmware(validated_digits, tmp_path_factory) -> Path:
    """The ELF of the digits firmware that sends garbage before its boot banner (c/boot_noise.c)."""
    return _firmware_variant(validated_digits, tmp_path_factory.mktemp("boot-noise"), BOOT_NOISE,
                             ["-Wl,--wrap=te_port_init"])


@pytest.fixture(scope="session")
def host_digits(tmp_path_factory, request):
    """`tinyedge validate --board host --json` in a copy of the built-in example with no host firmware
    yet (its model stages cached: `digits_project`); its build folder is reused by the tests that
    validate the example on the host again (--debug)."""
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no host C compiler")
    folder = request.getfixturevalue("digits_project")(tmp_path_factory.mktemp("digits-host"), "host")
    run = run_tinyedge("validate", "--board", "host", "--dir", str(folder), "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    return folder, json.loads(run.stdout)
