"""Every global symbol that tinyedge's firmware and generated code define carries `te_` or `tinyedge_`
(tests/symbols.py has the rule and its ABI exceptions): the firmware of every emulated core, listed
from the object files PlatformIO compiled, and the Arduino library built for the AVR core."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from symbols import defined_globals, unprefixed
from tinyedge.boards import Catalogue
from tinyedge.project import build_firmware

CATALOGUE = Catalogue.load()
EMULATED = [board.name for board in CATALOGUE.boards if board.kind == "emulated"]


def test_the_rule_catches_an_unprefixed_symbol(tmp_path):
    """The oracle itself: an object defining port_init (Mbed's name) is flagged, te_port_init is not."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed")
    source = tmp_path / "x.c"
    source.write_text("void port_init(void) {}\nvoid te_port_init(void) {}\nint main(void) { return 0; }\n")
    obj = tmp_path / "x.o"
    subprocess.run(["gcc", "-c", str(source), "-o", str(obj)], check=True)
    assert unprefixed(defined_globals([obj], "nm")) == ["port_init (x.o)"]


@pytest.mark.slow
@pytest.mark.parametrize("name", EMULATED)
@pytest.mark.emulated
def test_emulated_firmware_defines_only_prefixed_globals(tmp_path, model_case, name):
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed (the setup step installs it)")
    board = CATALOGUE.get(name)
    result = build_firmware(board, model_case.path, tmp_path, name=model_case.key, labels=model_case.labels,
                            test_sample=model_case.sample, console=lambda _: None)
    objects = sorted((result.project / ".pio" / "build" / name).rglob("*.o"))
    symbols = defined_globals(objects, "arm-none-eabi-nm")
    assert "te_port_init" in symbols and "main" in symbols   # the listing saw the port and the protocol
    assert unprefixed(symbols, model_case.key) == []
