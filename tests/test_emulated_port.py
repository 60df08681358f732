"""The emulated-board firmware ground: a test firmware (tests/firmware/hello) built offline through the
local PlatformIO platform for every emulated board, run in real QEMU, driven over its real serial socket.

Shows: the port layer's UART (echo, lossless bulk input), SysTick-derived instruction counts (exact for
a known loop, deterministic across runs, correct across 24-bit wraps), semihosting exit codes, the
HardFault marker (also before the UART was set up), flash/RAM from the ELF equal to arm-none-eabi-size,
and the per-core code generation flags really reaching the ELF.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import serial
from elftools.elf.elffile import ELFFile

from tinyedge.boards import Catalogue
from tinyedge.elfsize import read_elf_size
from tinyedge.emulator import FAULT_EXIT_CODE, find_fault, run_qemu
from tinyedge.errors import TinyedgeError
from tinyedge.platformio import BuildResult, emulated_platform_spec, run_build

REPO = Path(__file__).resolve().parent.parent  # not from conftest: tests/*/conftest.py shadow it

pytestmark = [
    pytest.mark.emulated,
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None or shutil.which("qemu-system-arm") is None,
                       reason="needs arm-none-eabi-gcc and qemu-system-arm (python3 -m tinyedge.bootstrap)"),
]

HELLO = REPO / "tests" / "firmware" / "hello"
BOARDS = ["emu-m4", "emu-m7", "emu-m3", "emu-m55"]
# What each machine's port reports: (instructions per tick, ticks per second).
TICKS = {"emu-m4": (40, 25_000_000), "emu-m7": (40, 25_000_000), "emu-m3": (40, 25_000_000),
         "emu-m55": (1, 1_000_000_000)}
# Architecture attributes the ELF must carry (arm-none-eabi-readelf -A): proof that the board's
# -mcpu/-mfpu/-mfloat-abi reached every object.
ELF_ATTRIBUTES = {
    "emu-m4": ["Tag_CPU_arch: v7E-M", "Tag_FP_arch: VFPv4-D16", "Tag_ABI_VFP_args: VFP registers"],
    "emu-m7": ["Tag_CPU_arch: v7E-M", "Tag_FP_arch: FPv5/FP-D16 for ARMv8", "Tag_ABI_VFP_args: VFP registers"],
    "emu-m3": ["Tag_CPU_arch: v7\n"],
    "emu-m55": ["Tag_CPU_arch: v8.1-M.mainline", "Tag_MVE_arch: MVE Integer and FP",
                "Tag_ABI_VFP_args: VFP registers"],
}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue.load()


@pytest.fixture(scope="module")
def hello_project(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("projects") / "hello"
    shutil.copytree(HELLO, project, ignore=shutil.ignore_patterns(".pio"))
    ini = project / "platformio.ini"
    ini.write_text(ini.read_text().replace("TINYEDGE_PLATFORM", emulated_platform_spec()))
    return project


@pytest.fixture(scope="module")
def core_dir(tmp_path_factory) -> Path:
    # A fresh PlatformIO core folder: run_build seeds it, so this also proves a build from nothing.
    return tmp_path_factory.mktemp("platformio-core")


@pytest.fixture(scope="module")
def build(hello_project, core_dir):
    """Builds an environment of the hello project once per module."""
    done: dict[str, BuildResult] = {}

    def get(env_name: str) -> BuildResult:
        if env_name not in done:
            done[env_name] = run_build(hello_project, env_name, core_dir, progress=None)
        return done[env_name]

    return get


class Console:
    """The firmware's UART over pyserial's socket:// handler, line by line with a timeout."""

    def __init__(self, url: str):
        self.link = serial.serial_for_url(url, timeout=20)

    def line(self) -> str:
        raw = self.link.readline()
        assert raw.endswith(b"\r\n"), f"no complete line before the timeout: {raw!r}"
        return raw.decode("ascii")[:-2]

    def ask(self, command: str) -> str:
        self.link.write(command.encode("ascii") + b"\n")
        return self.line()


@contextmanager
def hello_running(catalogue, build, board_name: str, env_name: str | None = None):
    board = catalogue.get(board_name)
    with run_qemu(board, build(env_name or board_name).elf) as qemu:
        console = Console(qemu.url)
        try:
            yield qemu, console
        finally:
            console.link.close()


def symbol_address(elf: Path, name: str) -> int:
    with elf.open("rb") as handle:
        symbol = ELFFile(handle).get_section_by_name(".symtab").get_symbol_by_name(name)[0]
        return symbol["st_value"] & ~1  # Thumb bit


@pytest.mark.parametrize("board_name", BOARDS)
def test_boots_echoes_counts_instructions_and_exits_with_its_code(catalogue, build, board_name):
    ipt, hz = TICKS[board_name]
    text = "".join(random.Random(board_name).choice("abcXYZ0189 -_.,:;!?") for _ in range(100))
    with hello_running(catalogue, build, board_name) as (qemu, console):
        # float=1414: a float computation right after reset (the FPU was enabled in the reset handler);
        # cpp=1: a static C++ constructor ran.
        assert console.line() == f"ready unit=instructions ipt={ipt} hz={hz} float=1414 cpp=1"
        assert console.ask("e" + text) == text
        one = _instructions(console.ask("t1000000"), ipt)
        two = _instructions(console.ask("t2000000"), ipt)
        # The loop is exactly 2 instructions per iteration; the rest is the timing calls themselves.
        assert 2_000_000 <= one <= 2_000_000 + 120
        assert abs((two - one) - 2_000_000) <= ipt
        console.link.write(b"x7\n")
        assert qemu.wait(20) == 7


def _instructions(reply: str, ipt: int) -> int:
    found = re.fullmatch(r"ticks=(\d+) instructions=(\d+)", reply)
    assert found, reply
    ticks, instructions = int(found.group(1)), int(found.group(2))
    assert instructions == ticks * ipt
    return instructions


@pytest.mark.parametrize("board_name", ["emu-m4", "emu-m55"])
def test_tick_counts_are_identical_across_runs_whatever_the_input_timing(catalogue, build, board_name):
    runs = []
    for pause in (0.0, 0.05, 0.013):
        with hello_running(catalogue, build, board_name) as (qemu, console):
            console.line()
            replies = []
            for command in ("t1000000", "t12345", "t1"):
                # The firmware spends a different, host-dependent number of instructions polling for
                # each piece; the port re-aligns its tick period on input, so the counts do not move.
                console.link.write(command[:2].encode())
                time.sleep(pause)
                replies.append(console.ask(command[2:]))
            runs.append(replies)
            console.link.write(b"x0\n")
            assert qemu.wait(20) == 0
    assert runs[0] == runs[1] == runs[2]


@pytest.mark.parametrize("board_name", ["emu-m4", "emu-m55"])
def test_64_bit_ticks_stay_exact_across_systick_wraps(catalogue, build, board_name):
    ipt, _ = TICKS[board_name]
    with hello_running(catalogue, build, board_name) as (qemu, console):
        console.line()
        found = re.fullmatch(r"wraps-ok ticks=(\d+)", console.ask("w"))
        assert found, "te_port_ticks() went backwards or jumped across a SysTick wrap"
        # More than one full 24-bit SysTick period (2^24 x 40 instructions on mps2) was crossed.
        assert int(found.group(1)) * ipt > 2 ** 24 * 40


def test_bulk_input_arrives_complete(catalogue, build):
    # 48 KB in one write: more than the port's 1 KB ring many times over, so the ring fills and the
    # port must hold QEMU back (RX interrupt off) instead of dropping bytes.
    payload = random.Random(5).randbytes(48 * 1024)
    with hello_running(catalogue, build, "emu-m4") as (qemu, console):
        console.line()
        started = time.monotonic()
        console.link.write(f"b{len(payload)}\n".encode() + payload)
        assert console.line() == f"sum={sum(payload)} count={len(payload)}"
        rate = len(payload) / (time.monotonic() - started)
    # The rate depends on the host's load (QEMU's I/O thread delivers each byte); shown, not asserted.
    print(f"host -> device: {rate / 1000:.1f} kB/s")


@pytest.mark.parametrize("board_name", BOARDS)
def test_hardfault_prints_the_marker_and_exits_non_zero(catalogue, build, board_name):
    elf = build(board_name).elf
    with hello_running(catalogue, build, board_name) as (qemu, console):
        console.line()
        console.link.write(b"f\n")
        lines = [console.line(), console.line()]
        assert qemu.wait(20) == FAULT_EXIT_CODE
    assert lines[0] == ""  # the marker starts on a fresh line
    assert lines[1] == f"e-[hardfault pc=0x{symbol_address(elf, 'crash_now'):08x}]"
    assert find_fault((lines[1] + "\r\n").encode()) == symbol_address(elf, "crash_now")


def test_hardfault_before_the_uart_was_set_up_still_prints_the_marker(catalogue, build):
    elf = build("emu-m4-crash-at-boot").elf
    with hello_running(catalogue, build, "emu-m4", "emu-m4-crash-at-boot") as (qemu, console):
        assert console.line() == ""
        assert console.line() == f"e-[hardfault pc=0x{symbol_address(elf, 'crash_now'):08x}]"
        assert qemu.wait(20) == FAULT_EXIT_CODE


@pytest.mark.parametrize("board_name", BOARDS)
def test_flash_and_ram_from_the_elf_match_arm_none_eabi_size(catalogue, build, board_name):
    result = build(board_name)
    board = catalogue.get(board_name)
    size = read_elf_size(result.elf)
    berkeley = subprocess.run(["arm-none-eabi-size", "-B", "-d", str(result.elf)], capture_output=True,
                              text=True, check=True).stdout.splitlines()[1].split()
    text, data, bss = (int(field) for field in berkeley[:3])
    assert (size.text, size.data, size.bss) == (text, data, bss)
    assert (result.flash_bytes, result.ram_bytes) == (text + data, data + bss)
    # Plausible for a small C/C++ program with newlib-nano's printf: a few KB of code...
    assert 2_000 < result.flash_bytes < 64_000
    # ...and RAM dominated by the linker script's stack and heap reservations (64 KB each).
    assert (size.stack_bytes, size.heap_bytes) == (0x10000, 0x10000)
    assert 0x20000 < result.ram_bytes < 0x20000 + 8_000
    assert result.flash_bytes < board.flash_bytes and result.ram_bytes < board.ram_bytes


@pytest.mark.parametrize("board_name", BOARDS)
def test_the_board_code_generation_flags_reach_the_elf(catalogue, build, board_name):
    attributes = subprocess.run(["arm-none-eabi-readelf", "-A", str(build(board_name).elf)],
                                capture_output=True, text=True, check=True).stdout
    for expected in ELF_ATTRIBUTES[board_name]:
        assert expected in attributes, f"{expected} missing:\n{attributes}"
    if board_name == "emu-m3":
        assert "Tag_FP_arch" not in attributes and "Tag_ABI_VFP_args" not in attributes


def _broken_project(tmp_path: Path, source: str) -> Path:
    project = tmp_path / "broken"
    (project / "src").mkdir(parents=True)
    (project / "src" / "main.c").write_text(source)
    (project / "platformio.ini").write_text(
        f"[env:emu-m4]\nplatform = {emulated_platform_spec()}\nboard = mps2-an386\n")
    return project


def test_a_compile_error_is_one_line_with_the_first_error_and_the_log(tmp_path, core_dir):
    project = _broken_project(tmp_path, "int main(void)\n{\n    return undeclared_name;\n}\n")
    with pytest.raises(TinyedgeError) as caught:
        run_build(project, "emu-m4", core_dir, progress=None)
    log = project / ".pio" / "tinyedge-build-emu-m4.log"
    assert caught.value.one_line() == (
        "the build of broken [emu-m4] failed: src/main.c:3:12: error: 'undeclared_name' undeclared "
        f"(first use in this function) (full log: {log})")
    assert "undeclared_name" in log.read_text()


def test_a_link_error_names_the_missing_symbol(tmp_path, core_dir):
    project = _broken_project(tmp_path, "void missing_function(void);\n"
                                        "int main(void)\n{\n    missing_function();\n    return 0;\n}\n")
    with pytest.raises(TinyedgeError) as caught:
        run_build(project, "emu-m4", core_dir, progress=None)
    message = caught.value.one_line()
    assert message.startswith("the build of broken [emu-m4] failed: ")
    assert "undefined reference to `missing_function'" in message
    assert message.endswith(f"(full log: {project / '.pio' / 'tinyedge-build-emu-m4.log'})")


def test_an_interrupted_build_leaves_no_compiler_running(hello_project, core_dir):
    project = hello_project.parent / "interrupted"
    shutil.copytree(hello_project, project, ignore=shutil.ignore_patterns(".pio"))

    def interrupt(line: str) -> None:
        if line.startswith("Compiling "):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_build(project, "emu-m7", core_dir, progress=interrupt)
    # PlatformIO, SCons and the compilers all work in the project folder.
    left = [pid for pid in _pids() if _works_in(pid, project)]
    assert left == []


def _pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _works_in(pid: int, folder: Path) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        cwd = Path(f"/proc/{pid}/cwd").resolve()
    except OSError:
        return False
    return state not in ("Z", "X") and (cwd == folder or folder in cwd.parents)
