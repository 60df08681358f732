"""`build_firmware` for the emulated boards: PlatformIO compiles offline, flash and RAM come from the
ELF, and the firmware run in QEMU gives, for the stored sample, the same int8 output as the host TFLM
interpreter (over the validation protocol, and from the self-test build) — on the MLPerf Tiny kws model
(../shared) and on the digits CNN the tests make themselves."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tinyedge.boards import Catalogue
from tinyedge.errors import TinyedgeError
from tinyedge.project import build_firmware


CATALOGUE = Catalogue.load()


def _need_emulation_tools() -> None:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the setup step installs it)")


@pytest.mark.slow
@pytest.mark.emulated
@pytest.mark.parametrize("name", ["emu-m4", "emu-m7", "emu-m3"])
def test_emulated_firmware_matches_host_tflm(tmp_path, model_case, name):
    """On the MLPerf Tiny kws model (../shared) and on the digits CNN the tests make themselves."""
    from tinyedge.device.protocol import DeviceClient
    from tinyedge.device.transport import SerialTransport
    from tinyedge.emulator import run_qemu

    _need_emulation_tools()
    board = CATALOGUE.get(name)
    messages: list[str] = []
    result = build_firmware(board, model_case.path, tmp_path, name=model_case.key, labels=model_case.labels,
                            test_sample=model_case.sample, console=messages.append)
    assert result.compiled and result.runtime == "native"
    assert result.elf.is_file() and result.elf == tmp_path / "firmware/.pio/build" / name / "firmware.elf"
    assert 0 < result.flash_bytes <= board.flash_bytes and 0 < result.ram_bytes <= board.ram_bytes
    assert messages[0] == ("runtime: native (auto chose native: it supports every op of the model "
                           "(no interpreter, no external library))")
    assert re.fullmatch(rf"firmware: .*firmware\.elf — flash {result.flash_bytes:,} B of "
                        rf"{board.flash_bytes:,} B, RAM {result.ram_bytes:,} B of {board.ram_bytes:,} B",
                        messages[-1])

    with run_qemu(board, result.elf) as qemu:
        link = SerialTransport(qemu.url)
        try:
            client = DeviceClient(link, infer_timeout=120)
            client.connect()
            identity = client.model_identity()
            assert identity.name == model_case.key
            assert identity.input_bytes == model_case.sample.size
            assert identity.output_bytes == model_case.classes
            outcome = client.run_sample(model_case.sample.tobytes())
        finally:
            link.close()
    assert outcome.output == model_case.expected_output
    assert outcome.ticks.unit == "instructions" and outcome.ticks.ticks > 0


@pytest.mark.slow
@pytest.mark.emulated
def test_selftest_build_prints_the_stored_sample_output(tmp_path, model_case):
    """The `-selftest` environment: one inference on the sample in flash, printed, exit code 0."""
    from tinyedge.device.transport import SerialTransport
    from tinyedge.emulator import run_qemu
    from tinyedge.platformio import run_build

    _need_emulation_tools()
    board = CATALOGUE.get("emu-m4")
    result = build_firmware(board, model_case.path, tmp_path, name=model_case.key,
                            test_sample=model_case.sample, compile=False, console=lambda _: None)
    built = run_build(result.project, f"{board.name}-selftest", progress=None)
    with run_qemu(board, built.elf) as qemu:
        link = SerialTransport(qemu.url)
        try:
            text = b""
            while b"m-te-match-" not in text or not text.endswith(b"\r\n"):
                text += link.read_line(30).encode() + b"\r\n"
            code = qemu.wait(10)
        finally:
            link.close()
    lines = text.decode().split("\r\n")
    assert lines[0] == f"m-te-selftest-[{model_case.key}]"
    assert lines[1] == f"m-te-output-[{model_case.expected_output.hex()}]"
    assert lines[2] == f"m-te-expected-[{model_case.expected_output.hex()}]"
    assert re.fullmatch(r"m-te-ticks-\d+", lines[3]) and lines[4] == "m-te-unit-instructions"
    assert lines[5] == "m-te-match-yes" and code == 0


@pytest.mark.slow
@pytest.mark.emulated
def test_a_model_that_cannot_fit_fails_after_the_compile_with_the_elf_figures(tmp_path, model_case):
    """An emulated board compiles, so the ELF decides (the estimate refuses nothing before it)."""
    _need_emulation_tools()
    board = CATALOGUE.get("emu-m4")
    limit = len(model_case.model_bytes)   # the model alone, no room left for the code
    with pytest.raises(TinyedgeError) as error:
        build_firmware(board, model_case.path, tmp_path, name=model_case.key, max_flash=limit,
                       console=lambda _: None)
    assert re.fullmatch(r"budget not met: flash [\d,]+ B \(measured in the ELF\) exceeds budgets\.max_flash "
                        rf"{limit:,} B \(make the student smaller \(student.width, student.depth\), prune and "
                        rf"cluster, or raise budgets.max_flash; the artifacts are kept in "
                        rf"{re.escape(str(tmp_path / 'firmware'))}\)", error.value.one_line())
    assert (tmp_path / "firmware" / ".pio" / "build" / "emu-m4" / "firmware.elf").is_file()


def test_a_real_board_gets_the_project_and_the_command_to_run(tmp_path, model_case, monkeypatch):
    board = CATALOGUE.get("nano33")
    # An empty PlatformIO folder: the user has not installed the nRF52 platform (never downloaded by build).
    monkeypatch.setenv("PLATFORMIO_CORE_DIR", str(tmp_path / "platformio"))
    messages: list[str] = []
    result = build_firmware(board, model_case.path, tmp_path, name=model_case.key, runtime="tflm",
                            arena_bytes=23000, console=messages.append)
    assert not result.compiled and result.elf is None and result.flash_bytes is None
    assert (result.project / "platformio.ini").is_file()
    assert result.next_step == (
        "on a machine with the network: pio pkg install -g -p platformio/nordicnrf52 (once), then "
        f"tinyedge build --board nano33 compiles it (or pio run -d {result.project}), and "
        "tinyedge flash --board nano33 uploads it")
    assert messages[-1] == (f"nano33: PlatformIO's nordicnrf52 platform is not installed in "
                            f"{tmp_path / 'platformio'}, so the project is generated but not compiled. "
                            f"Next, {result.next_step}")
