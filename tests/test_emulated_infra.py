"""The pieces around the emulated firmware that need no compile: the local PlatformIO platform's board
manifests against the board catalogue, the offline core, the one-line errors of the build, ELF and QEMU
helpers, QEMU's clean-up, and the host port (built with the host gcc, driven over pipes)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import serial

from tinyedge import emulator, platformio
from tinyedge.boards import Catalogue, Qemu
from tinyedge.elfsize import read_elf_size
from tinyedge.emulator import run_qemu
from tinyedge.errors import TinyedgeError
from tinyedge.platformio import (EMULATED_PLATFORM_DIR, emulated_core_dir, first_error, run_build,
                                 seed_offline_core)

REPO = Path(__file__).resolve().parent.parent  # not from conftest: tests/*/conftest.py shadow it

FIRMWARE = REPO / "firmware"
needs_qemu = pytest.mark.skipif(shutil.which("qemu-system-arm") is None,
                                reason="needs qemu-system-arm (python3 -m tinyedge.bootstrap)")


def emulated_boards():
    return [board for board in Catalogue.load().boards if board.kind == "emulated"]


# --- the local PlatformIO platform -------------------------------------------------------------------

@pytest.mark.parametrize("board", emulated_boards(), ids=lambda board: board.name)
def test_platform_board_manifest_agrees_with_the_catalogue(board):
    manifest = json.loads((EMULATED_PLATFORM_DIR / "boards" / f"{board.platformio.board}.json").read_text())
    assert board.platformio.platform == "tinyedge-emulated"
    assert manifest["build"]["cpu_flags"] == board.gcc_flags()
    assert manifest["build"]["f_cpu"] == f"{board.clock_hz}L"
    assert manifest["upload"]["maximum_size"] == board.flash_bytes
    assert manifest["upload"]["maximum_ram_size"] == board.ram_bytes
    assert manifest["name"] == board.title
    # The machine folder holds the start-up figures and the linker script the builder uses.
    machine = FIRMWARE / "platform" / manifest["build"]["machine"]
    assert (machine / "machine.h").is_file() and (machine / manifest["build"]["ldscript"]).is_file()
    assert (FIRMWARE / "port" / manifest["build"]["port"]).is_dir()


def test_every_platform_board_is_in_the_catalogue():
    known = {board.platformio.board for board in emulated_boards()}
    manifests = {path.stem for path in (EMULATED_PLATFORM_DIR / "boards").glob("*.json")}
    assert manifests == known


def test_linker_scripts_give_the_catalogue_memory():
    for board in emulated_boards():
        manifest = json.loads((EMULATED_PLATFORM_DIR / "boards" / f"{board.platformio.board}.json").read_text())
        script = (FIRMWARE / "platform" / manifest["build"]["machine"] / manifest["build"]["ldscript"]).read_text()
        sizes = {name: int(size) * 1024 * (1024 if unit == "M" else 1)
                 for name, size, unit in re.findall(r"(CODE|RAM) \(\w+\) : ORIGIN = 0x[0-9A-Fa-f]+, "
                                                    r"LENGTH = (\d+)([KM])", script)}
        assert sizes == {"CODE": board.flash_bytes, "RAM": board.ram_bytes}, board.name


def test_platformio_loads_the_platform_and_its_boards():
    from platformio.platform.factory import PlatformFactory

    platform = PlatformFactory.new(str(EMULATED_PLATFORM_DIR))
    assert platform.name == "tinyedge-emulated"
    assert platform.is_embedded()
    assert set(platform.get_boards()) == {"mps2-an385", "mps2-an386", "mps2-an500", "mps3-an547"}
    assert platform.board_config("mps2-an386").get("build.cpu") == "cortex-m4"


# --- the offline core ---------------------------------------------------------------------------------

def test_seed_offline_core_writes_the_scons_package_and_is_idempotent(tmp_path):
    core = tmp_path / "core"
    assert seed_offline_core(core) == core
    package = core / "packages" / "tool-scons"
    assert json.loads((package / ".piopm").read_text()) == {
        "type": "tool", "name": "tool-scons", "version": "4.41101.0",
        "spec": {"owner": "platformio", "id": None, "name": "tool-scons", "requirements": None,
                 "uri": None}}
    manifest = json.loads((package / "package.json").read_text())
    assert (manifest["name"], manifest["version"]) == ("tool-scons", "4.41101.0")
    # The launcher really runs SCons 4.11.1 in this Python, as PlatformIO will call it.
    version = subprocess.run([sys.executable, str(package / "scons.py"), "--version"],
                             capture_output=True, text=True, check=True).stdout
    assert "SCons: v4.11.1" in version
    stamps = {path: path.stat().st_mtime_ns for path in package.iterdir()}
    seed_offline_core(core)
    assert {path: path.stat().st_mtime_ns for path in package.iterdir()} == stamps


def test_seed_offline_core_repairs_a_damaged_package(tmp_path):
    seed_offline_core(tmp_path)
    launcher = tmp_path / "packages" / "tool-scons" / "scons.py"
    launcher.write_text("broken")
    seed_offline_core(tmp_path)
    assert "SCons.Script.Main" in launcher.read_text()


def test_emulated_core_dir_is_the_projects_own(monkeypatch, tmp_path):
    monkeypatch.delenv("TINYEDGE_PLATFORMIO_CORE_DIR", raising=False)
    assert emulated_core_dir(tmp_path / "project") == tmp_path / "project" / ".pio" / "tinyedge-core"
    monkeypatch.setenv("TINYEDGE_PLATFORMIO_CORE_DIR", str(tmp_path / "elsewhere"))
    assert emulated_core_dir(tmp_path / "project") == tmp_path / "elsewhere"


def test_seed_offline_core_in_an_unwritable_place_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TinyedgeError) as caught:
        seed_offline_core(blocker / "core")
    assert caught.value.one_line() == (
        f"cannot write {blocker / 'core' / 'packages' / 'tool-scons'}: Not a directory "
        "(a file stands where a folder should be; move it away or choose another folder)")


# --- build errors --------------------------------------------------------------------------------------

def test_run_build_without_a_project_is_one_line(tmp_path):
    with pytest.raises(TinyedgeError) as caught:
        run_build(tmp_path, "emu-m4", tmp_path / "core")
    assert caught.value.one_line() == (
        f"{tmp_path} has no platformio.ini (generate the project first ('tinyedge build'))")


def test_run_build_without_platformio_installed_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "platformio.ini").write_text("[env:emu-m4]\n")
    monkeypatch.setattr(platformio, "PLATFORMIO_MODULE", "platformio_that_is_not_installed")
    with pytest.raises(TinyedgeError) as caught:
        run_build(tmp_path, "emu-m4", tmp_path / "core")
    assert caught.value.one_line() == (
        f"PlatformIO is not installed for {sys.executable} "
        "(run the setup step: python3 -m tinyedge.bootstrap)")


def test_run_build_with_an_unknown_environment_names_it(tmp_path):
    (tmp_path / "platformio.ini").write_text(
        f"[env:emu-m4]\nplatform = {platformio.emulated_platform_spec()}\nboard = mps2-an386\n")
    with pytest.raises(TinyedgeError) as caught:
        run_build(tmp_path, "emu-m9", tmp_path / "core", progress=None)
    message = caught.value.one_line()
    assert message.startswith(f"the build of {tmp_path.name} [emu-m9] failed: Unknown environment names "
                              "'emu-m9'")
    assert message.endswith(f"(full log: {tmp_path / '.pio' / 'tinyedge-build-emu-m9.log'})")


def test_first_error_picks_the_compiler_line():
    log = ["Compiling .pio/build/emu-m4/src/main.o",
           "src/main.c: In function 'main':",
           "src/main.c:3:5: error: expected ';' before '}' token",
           "src/other.c:9:1: error: second",
           "*** [.pio/build/emu-m4/src/main.o] Error 1"]
    assert first_error(log) == "src/main.c:3:5: error: expected ';' before '}' token"
    assert first_error(["region `RAM' overflowed by 1024 bytes"]) == "region `RAM' overflowed by 1024 bytes"
    assert first_error(["all fine"]) is None


# --- ELF size ------------------------------------------------------------------------------------------

def test_elf_size_of_a_missing_or_damaged_file_is_one_line(tmp_path):
    with pytest.raises(TinyedgeError) as caught:
        read_elf_size(tmp_path / "none.elf")
    assert caught.value.one_line() == (
        f"cannot read the firmware {tmp_path / 'none.elf'}: No such file or directory "
        "(build the firmware first)")
    damaged = tmp_path / "damaged.elf"
    damaged.write_bytes(b"\x7fELF" + b"\x01" * 20)
    with pytest.raises(TinyedgeError) as caught:
        read_elf_size(damaged)
    assert caught.value.one_line().startswith(f"{damaged} is not a readable ELF file (")
    assert caught.value.one_line().endswith("(rebuild the firmware)")


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs the host gcc")
def test_elf_size_of_a_host_object_matches_gnu_size(tmp_path):
    source = tmp_path / "sizes.c"
    source.write_text("int table[100] = {1};\nint zeros[300];\nconst char text[] = \"hello\";\n"
                      "int f(int x) { return x * table[x] + zeros[x]; }\n")
    subprocess.run(["gcc", "-c", "-O2", str(source), "-o", str(tmp_path / "sizes.o")], check=True)
    berkeley = subprocess.run(["size", "-B", "-d", str(tmp_path / "sizes.o")], capture_output=True,
                              text=True, check=True).stdout.splitlines()[1].split()
    size = read_elf_size(tmp_path / "sizes.o")
    assert (size.text, size.data, size.bss) == tuple(int(value) for value in berkeley[:3])
    assert (size.data, size.bss) == (400, 1200)
    assert (size.stack_bytes, size.heap_bytes) == (None, None)


@pytest.mark.skipif(shutil.which("as") is None, reason="needs the host assembler")
@pytest.mark.parametrize("declared", [False, True])
def test_a_heap_that_fills_the_rest_of_ram_is_not_counted_as_used(tmp_path, declared):
    """ArduinoCore-mbed's linker script sizes .heap to reach the stack: that is malloc's pool, not the
    firmware's RAM. A heap the script reserves with __heap_size (tinyedge's own) counts as bss."""
    source = tmp_path / "heap.s"
    source.write_text(".data\n.space 400\n.bss\n.space 1200\n"
                      '.section .heap,"aw",@nobits\n.space 1000\n'
                      + (".globl __heap_size\n.set __heap_size, 1000\n" if declared else ""))
    subprocess.run(["as", str(source), "-o", str(tmp_path / "heap.o")], check=True)
    size = read_elf_size(tmp_path / "heap.o")
    assert size.data == 400
    assert (size.bss, size.heap_fill_bytes, size.ram_bytes) == ((2200, 0, 2600) if declared else
                                                                (1200, 1000, 1600))


# --- the fault marker ----------------------------------------------------------------------------------

def test_fault_marker_in_python_matches_the_firmware_header():
    header = (FIRMWARE / "platform" / "cortex-m" / "fault_marker.h").read_text()
    defines = dict(re.findall(r"#define (TINYEDGE_FAULT_\w+) (.+)", header))
    assert json.loads(defines["TINYEDGE_FAULT_MARKER_PREFIX"]) == emulator.FAULT_MARKER_PREFIX
    assert json.loads(defines["TINYEDGE_FAULT_MARKER_SUFFIX"]) == "]\r\n"
    assert int(defines["TINYEDGE_FAULT_EXIT_CODE"]) == emulator.FAULT_EXIT_CODE
    assert emulator.find_fault(b"m-ready\r\n\r\ne-[hardfault pc=0x0000a1c4]\r\n") == 0xA1C4
    assert emulator.find_fault(b"e-[hardfault pc=0xzz]\r\n") is None


# --- QEMU ----------------------------------------------------------------------------------------------

def test_run_qemu_without_qemu_says_how_to_install_it(tmp_path, monkeypatch):
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(TinyedgeError) as caught:
        with run_qemu(Catalogue.load().get("emu-m4"), elf):
            pass
    assert caught.value.one_line() == (
        "qemu-system-arm is not installed, so emulated boards cannot run (run the setup step "
        "(python3 -m tinyedge.bootstrap) or: apt-get install qemu-system-arm)")


def test_run_qemu_refuses_a_real_board_and_a_missing_elf(tmp_path):
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"")
    with pytest.raises(TinyedgeError) as caught:
        with run_qemu(Catalogue.load().get("nano33"), elf):
            pass
    assert caught.value.one_line() == (
        "board 'nano33' is not an emulated board ('tinyedge boards' lists the emulated boards (emu-...))")
    with pytest.raises(TinyedgeError) as caught:
        with run_qemu(Catalogue.load().get("emu-m4"), tmp_path / "missing.elf"):
            pass
    assert caught.value.one_line() == (
        f"firmware {tmp_path / 'missing.elf'} does not exist (build it first ('tinyedge build'))")


def test_run_qemu_refuses_files_that_are_not_arm_firmware(tmp_path):
    board = Catalogue.load().get("emu-m4")
    garbage = tmp_path / "garbage.elf"
    garbage.write_bytes(b"not an ELF at all")
    with pytest.raises(TinyedgeError) as caught:
        with run_qemu(board, garbage):
            pass
    assert caught.value.one_line() == (
        f"{garbage} is not an ELF file, not an Arm firmware "
        "(build the firmware for an emulated board ('tinyedge build --board emu-m4'))")
    with pytest.raises(TinyedgeError) as caught:
        with run_qemu(board, sys.executable):  # a real ELF, for the host processor
            pass
    assert caught.value.one_line().startswith(
        f"{sys.executable} is an ELF file for another processor, not an Arm firmware (")


@needs_qemu
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
@pytest.mark.emulated
def test_run_qemu_reports_qemus_reason_when_it_cannot_start(tmp_path):
    board = Catalogue.load().get("emu-m4")
    wrong = dataclasses.replace(board, qemu=Qemu(machine="mps2-an999", cpu="cortex-m4"))
    with pytest.raises(TinyedgeError) as caught:
        with run_qemu(wrong, _spin_elf(tmp_path)):
            pass
    message = caught.value.one_line()
    assert message.startswith("QEMU could not start spin.elf on emu-m4: unsupported machine type "
                              "(command: ")
    assert "-M mps2-an999 -cpu cortex-m4" in message and "-icount shift=0" in message


def _spin_elf(tmp_path: Path, reset: str = "b spin", hardfault: str = "spin + 1") -> Path:
    """A tiny valid firmware for QEMU: by default the reset vector points at an endless loop."""
    source = tmp_path / "spin.S"
    source.write_text(textwrap.dedent(f"""\
        .syntax unified
        .thumb
        .section .vectors, "a"
        .word 0x20001000
        .word spin + 1
        .word spin + 1
        .word {hardfault}
        .text
        .thumb_func
        spin: {reset}
        """))
    elf = tmp_path / "spin.elf"
    subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-nostdlib", "-Wl,-e,spin",
                    "-Wl,--section-start=.vectors=0", "-Wl,-Ttext=0x100", str(source), "-o", str(elf)],
                   check=True, capture_output=True)
    return elf


@needs_qemu
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
@pytest.mark.emulated
def test_qemu_is_stopped_on_ctrl_c_and_when_tinyedge_dies(tmp_path):
    elf = _spin_elf(tmp_path)
    board = Catalogue.load().get("emu-m4")
    # Interrupted inside the with-block: QEMU is gone when the exception leaves it.
    with pytest.raises(KeyboardInterrupt):
        with run_qemu(board, elf) as qemu:
            assert qemu.url.startswith("socket://127.0.0.1:") and qemu.port > 0
            process = qemu.process
            raise KeyboardInterrupt
    assert process.poll() is not None

    # Killed outright (no finally runs): the parent-death signal takes QEMU down with it.
    script = textwrap.dedent(f"""\
        import os, sys, time
        from tinyedge.boards import Catalogue, Qemu
        from tinyedge.emulator import run_qemu
        with run_qemu(Catalogue.load().get("emu-m4"), {str(elf)!r}) as qemu:
            print(qemu.process.pid, flush=True)
            time.sleep(60)
        """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    qemu_pid = int(parent.stdout.readline())
    assert _alive(qemu_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(qemu_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(qemu_pid)


@needs_qemu
@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
@pytest.mark.emulated
def test_a_guest_that_locks_up_ends_qemu_with_the_reason(tmp_path):
    # A fault whose HardFault handler faults again: the core locks up and QEMU stops (as a blown stack
    # that cannot take the fault frame would). No marker can be printed; the reason is QEMU's message.
    elf = _spin_elf(tmp_path, reset="udf #0", hardfault="0")
    with run_qemu(Catalogue.load().get("emu-m4"), elf) as qemu:
        link = serial.serial_for_url(qemu.url, timeout=10)
        assert qemu.wait(20) != 0
        link.close()
    assert qemu.fatal_error.startswith("Lockup: can't escalate")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its exit status is left


# --- the host port -------------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("g++") is None, reason="needs host gcc")
def test_host_port_runs_the_test_firmware_over_pipes(tmp_path):
    hello = REPO / "tests" / "firmware" / "hello"
    objects = []
    for source, compiler in [(FIRMWARE / "port" / "host" / "port_host.c", "gcc"),
                             (hello / "src" / "main.c", "gcc"),
                             (hello / "lib" / "byte_sum" / "byte_sum.c", "gcc"),
                             (hello / "src" / "cpp_check.cpp", "g++")]:
        objects.append(tmp_path / (source.stem + ".o"))
        standard = "-std=c99" if compiler == "gcc" else "-std=c++17"
        subprocess.run([compiler, standard, "-Wall", "-Wextra", "-Werror", "-O2", "-c", str(source),
                        "-I", str(FIRMWARE / "port"), "-I", str(hello / "lib" / "byte_sum"),
                        "-o", str(objects[-1])], check=True)
    program = tmp_path / "hello"
    subprocess.run(["g++", *map(str, objects), "-o", str(program)], check=True)

    payload = bytes(range(256)) * 8
    commands = b"ehello host\nt1000\nb%d\n" % len(payload) + payload + b"x5\n"
    result = subprocess.run([str(program)], input=commands, capture_output=True, timeout=30)
    lines = result.stdout.decode().split("\r\n")
    assert lines[0] == "ready unit=us ipt=1 hz=1000000 float=1414 cpp=1"
    assert lines[1] == "hello host"
    assert re.fullmatch(r"ticks=\d+ instructions=\d+", lines[2])
    assert lines[3] == f"sum={sum(payload)} count={len(payload)}"
    assert result.returncode == 5
    # End of input ends the program cleanly (the host closed the link).
    assert subprocess.run([str(program)], input=b"", capture_output=True, timeout=30).returncode == 0


# --- the C sources themselves ----------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="needs arm-none-eabi-gcc")
@pytest.mark.parametrize("board", emulated_boards(), ids=lambda board: board.name)
@pytest.mark.emulated
def test_start_up_code_and_port_are_warning_free_c99(board, tmp_path):
    manifest = json.loads((EMULATED_PLATFORM_DIR / "boards" / f"{board.platformio.board}.json").read_text())
    sources = sorted((FIRMWARE / "platform" / "cortex-m").glob("*.c")) + sorted(
        (FIRMWARE / "port" / manifest["build"]["port"]).glob("*.c"))
    include = [f"-I{FIRMWARE / folder}" for folder in
               ("port", "platform/cortex-m", "platform/cmsdk", f"platform/{manifest['build']['machine']}")]
    for source in sources:
        result = subprocess.run(["arm-none-eabi-gcc", *board.gcc_flags(), "-std=c99", "-Wall", "-Wextra",
                                 "-Wpedantic", "-Werror", "-O2", "-c", *include, str(source),
                                 "-o", str(tmp_path / "out.o")], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
