"""`build_firmware` for the Arduino Nano 33 BLE against a real PlatformIO core: the nordicnrf52
platform with ArduinoCore-mbed (whose libmbed.a is linked whole and defines Mbed's own `port_init`,
`port_read`, `port_write`). It links with the native runtime, reports the ELF's flash and RAM, and every
global symbol of tinyedge's objects carries its prefix.

PlatformIO cannot download that core here: these tests run when TINYEDGE_PIO_CORE names an offline
PlatformIO core folder holding it (platforms/nordicnrf52 and packages/framework-arduino-mbed), and
skip with that reason otherwise. The TFLM runtime additionally needs a TFLM tree (TINYEDGE_TFLM_DIR).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from symbols import defined_globals, unprefixed
from tinyedge.boards import Catalogue
from tinyedge.project import build_firmware

BOARD = Catalogue.load().get("nano33")


@pytest.fixture
def nano33_core(monkeypatch) -> Path:
    core = os.environ.get("TINYEDGE_PIO_CORE")
    if not core:
        pytest.skip("TINYEDGE_PIO_CORE is not set (an offline PlatformIO core with nordicnrf52 and "
                    "ArduinoCore-mbed; PlatformIO cannot download it here)")
    core = Path(core)
    if not (core / "platforms" / "nordicnrf52" / "platform.json").is_file():
        pytest.skip(f"TINYEDGE_PIO_CORE={core} holds no nordicnrf52 platform")
    monkeypatch.setenv("PLATFORMIO_CORE_DIR", str(core))
    return core


def _build(tmp_path, model_case, runtime: str, **options):
    messages: list[str] = []
    result = build_firmware(BOARD, model_case.path, tmp_path, runtime=runtime, name=model_case.key,
                            labels=model_case.labels, test_sample=model_case.sample,
                            console=messages.append, **options)
    return result, messages


def _own_objects(project: Path) -> list[Path]:
    """The objects PlatformIO compiled from the project's src/ and lib/, not the Arduino core's."""
    build = project / ".pio" / "build" / BOARD.name
    return sorted(path for path in build.rglob("*.o")
                  if path.relative_to(build).parts[0] == "src" or "tinyedge_" in path.parent.name)


@pytest.mark.slow
@pytest.mark.emulated
def test_nano33_native_firmware_links_on_the_real_arduino_mbed_core(tmp_path, model_case, nano33_core):
    result, messages = _build(tmp_path, model_case, "native")
    assert result.compiled and result.elf.is_file()
    assert 0 < result.flash_bytes <= BOARD.flash_bytes and 0 < result.ram_bytes < BOARD.ram_bytes
    assert re.fullmatch(rf"firmware: .*firmware\.elf — flash {result.flash_bytes:,} B of "
                        rf"{BOARD.flash_bytes:,} B, RAM {result.ram_bytes:,} B of {BOARD.ram_bytes:,} B",
                        messages[-1])
    objects = _own_objects(result.project)
    symbols = defined_globals(objects, "arm-none-eabi-nm")
    assert "te_port_init" in symbols and "setup" in symbols and f"{model_case.key}_invoke" in symbols
    assert unprefixed(symbols, model_case.key) == []


@pytest.mark.slow
@pytest.mark.emulated
def test_nano33_tflm_firmware_links_on_the_real_arduino_mbed_core(tmp_path, digits_case, nano33_core):
    """The tree exactly as create_tflm_tree.py writes it (no manifest), with CMSIS-NN; digits only, as
    the whole tree compiles (several minutes on 2 cores)."""
    tree = os.environ.get("TINYEDGE_TFLM_DIR")
    if not tree:
        pytest.skip("TINYEDGE_TFLM_DIR is not set (a TFLM tree from create_tflm_tree.py)")
    result, messages = _build(tmp_path, digits_case, "tflm", tflm_dir=Path(tree))
    assert result.compiled and 0 < result.flash_bytes <= BOARD.flash_bytes
    assert 0 < result.ram_bytes < BOARD.ram_bytes
    assert messages[-1].startswith("firmware: ") and f"flash {result.flash_bytes:,} B" in messages[-1]
    symbols = defined_globals(sorted((result.project / ".pio" / "build" / BOARD.name).rglob("*.o")),
                              "arm-none-eabi-nm")
    assert any(name.startswith("arm_convolve") for name in symbols), "CMSIS-NN's kernels are not built"
    assert unprefixed(defined_globals(_own_objects(result.project), "arm-none-eabi-nm"), "digits") == []
