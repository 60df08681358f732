"""The footprint model (tinyedge.footprint): exact byte counts of the generated arrays, the measured
tables, the budget messages, and the native estimate against the ELF on the MLPerf Tiny models
(../shared; digits is checked in tests/validation/test_budgets.py with the build it already has)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tinyedge import footprint
from tinyedge.boards import Catalogue
from tinyedge.codegen import KERNEL_DIR, KERNEL_HEADER, generate
from tinyedge.codegen.params import STRUCT_BYTES
from tinyedge.errors import TinyedgeError
from tinyedge.project import build_firmware
from tinyedge.tflite.model import load

CATALOGUE = Catalogue.load()
MLPERF = ("kws_ref_model.tflite", "vww_96_int8.tflite", "pretrainedResnet_quant.tflite", "ad01_int8.tflite")


def _need_arm_gcc() -> None:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed (the setup step installs it)")


# `[static] const <type> [*const] <name>[<length>]? = ...;` at file scope: one object the generator
# declared. The oracle for the generator's byte counts, which come from its typed arrays instead.
_DECLARATION = re.compile(r"^(?:static\s+)?const\s+(?P<type>\w+)\s+(?P<name>\w+)\s*"
                          r"(?:\[(?P<length>\w+)\])?\s*(?:TINYEDGE_\w+_PLACEMENT\s*)?=", re.MULTILINE)
_SCALAR_BYTES = {"int8_t": 1, "uint8_t": 1, "int32_t": 4, "uint32_t": 4, "size_t": 4}


def _declared_bytes(source: str, defines: dict[str, int]) -> int:
    """Bytes of every file-scope constant object in a generated C file, from its declared type and
    length (whatever the initializer holds; locals inside a function are not flash data)."""
    total = 0
    for match in _DECLARATION.finditer(source):
        length = match["length"]
        count = 1 if length is None else int(length) if length.isdigit() else defines[length]
        total += {**_SCALAR_BYTES, **STRUCT_BYTES}[match["type"]] * count
    return total


@pytest.mark.emulated
def test_struct_sizes_are_the_arm_compilers():
    _need_arm_gcc()
    header = (KERNEL_DIR / KERNEL_HEADER).read_text()
    declared = set(re.findall(r"^\}\s*(te_\w+);", header, re.MULTILINE))
    assert declared == set(STRUCT_BYTES), "every parameter struct of the native runtime has a size"
    checks = "".join(f'_Static_assert(sizeof({name}) == {size}, "{name}");\n' for name, size in STRUCT_BYTES.items())
    run = subprocess.run(["arm-none-eabi-gcc", *CATALOGUE.get("emu-m4").gcc_flags(), "-fsyntax-only",
                          f"-I{KERNEL_DIR}", "-x", "c", "-"], input=f'#include "{KERNEL_HEADER}"\n{checks}',
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.emulated
def test_the_kernel_table_knows_every_kernel_and_is_current_on_cortex_m4():
    _need_arm_gcc()
    functions = footprint.kernel_functions()
    assert set(functions) == set(footprint.KERNEL_CODE_BYTES)
    measured = footprint.measure_kernel_code(CATALOGUE.get("emu-m4"))
    stale = {name: (footprint.KERNEL_CODE_BYTES[name][0], size) for name, size in measured.items()
             if abs(size - footprint.KERNEL_CODE_BYTES[name][0]) > max(64, 0.1 * size)}
    assert not stale, f"(table, measured) — refresh with benchmarks/footprint_estimates.py --measure: {stale}"


def test_budget_messages_carry_the_figure_its_label_and_the_limit():
    board = CATALOGUE.get("emu-m4")
    elf = footprint.measured("native", 29_516, 11_348)
    footprint.check(elf, board, max_flash=29_516, max_ram=11_348)          # exactly at the limits
    with pytest.raises(TinyedgeError) as error:
        footprint.check(elf, board, max_flash=29_515, kept="build/emu-m4/firmware")
    assert error.value.one_line() == (
        "budget not met: flash 29,516 B (measured in the ELF) exceeds budgets.max_flash 29,515 B (make the "
        "student smaller (student.width, student.depth), prune and cluster, or raise budgets.max_flash; "
        "the artifacts are kept in build/emu-m4/firmware)")
    with pytest.raises(TinyedgeError) as error:
        footprint.check(elf, board, max_flash=10_000, max_ram=10_000)
    assert error.value.message == (
        "budget not met: flash 29,516 B (measured in the ELF) exceeds budgets.max_flash 10,000 B; RAM "
        "11,348 B (measured in the ELF) exceeds budgets.max_ram 10,000 B")
    # A budget above what the board has: the board is the limit, and says so.
    small = CATALOGUE.get("emu-m55")
    estimate = footprint.Footprint("native", 600_000, 10_000, False, "what it counts")
    with pytest.raises(TinyedgeError) as error:
        footprint.check(estimate, small, max_flash=10_000_000)
    assert error.value.one_line() == (
        f"the firmware does not fit emu-m55: flash 600,000 B (estimated for the native runtime before the "
        f"compile) exceeds the flash of emu-m55 {small.flash_bytes:,} B (make the student smaller "
        "(student.width, student.depth), prune and cluster, or use a board with more memory; what it counts)")
    assert estimate.to_json()["source"] == "estimate" and elf.to_json()["source"] == "elf"


@pytest.fixture(scope="module")
def mlperf_builds(shared_dir, tmp_path_factory):
    """Each MLPerf Tiny model's native firmware compiled for emu-m4: (generated, firmware result)."""
    _need_arm_gcc()
    board = CATALOGUE.get("emu-m4")
    built = {}
    for name in MLPERF:
        path = shared_dir / "models" / "mlperf-tiny" / name
        result = build_firmware(board, path, tmp_path_factory.mktemp(name.split(".")[0]), name="mlperf",
                                console=lambda _line: None)
        built[name] = (generate(load(path)), result)
    return built


@pytest.mark.slow
@pytest.mark.parametrize("name", MLPERF)
@pytest.mark.emulated
def test_the_native_estimate_is_within_10_percent_of_the_elf(mlperf_builds, name):
    generated, result = mlperf_builds[name]
    assert result.compiled and result.runtime == "native"
    # The arrays are counted once each, exactly as the generated C declares them.
    source = generated.files["tinyedge_model.c"]
    assert generated.weights_bytes + generated.params_bytes == _declared_bytes(
        source, {"TINYEDGE_NUM_INPUTS": 1, "TINYEDGE_NUM_OUTPUTS": 1})
    flash_ratio = result.estimated_flash_bytes / result.flash_bytes
    ram_ratio = result.estimated_ram_bytes / result.ram_bytes
    print(f"{name}: flash {result.estimated_flash_bytes:,} / {result.flash_bytes:,} = {flash_ratio:.4f}, "
          f"RAM {result.estimated_ram_bytes:,} / {result.ram_bytes:,} = {ram_ratio:.4f}")
    assert 0.9 <= flash_ratio <= 1.1 and 0.9 <= ram_ratio <= 1.1
    assert "generated arrays" in result.estimate_basis


def test_a_model_its_runtime_fits_is_not_refused_before_the_compile(shared_dir, tmp_path, monkeypatch):
    """VWW native is about 492 KB: the old formula counted its fast kernels' weights twice (996,622 B)
    and refused it on portenta-h7 (768 KB) and emu-m55 (512 KB)."""
    path = shared_dir / "models" / "mlperf-tiny" / "vww_96_int8.tflite"
    portenta = CATALOGUE.get("portenta-h7")
    monkeypatch.setenv("PLATFORMIO_CORE_DIR", str(tmp_path / "platformio"))  # its platform is not here
    result = build_firmware(portenta, path, tmp_path / "portenta", console=lambda _line: None)
    assert not result.compiled and result.runtime == "native"
    assert 480_000 < result.estimated_flash_bytes < 500_000
    # Below the estimate a budget refuses it, with the labelled figure.
    with pytest.raises(TinyedgeError) as error:
        build_firmware(portenta, path, tmp_path / "portenta-budget", max_flash=400_000,
                       console=lambda _line: None)
    assert error.value.message == (f"budget not met: flash {result.estimated_flash_bytes:,} B (estimated for "
                                   "the native runtime before the compile) exceeds budgets.max_flash 400,000 B")


@pytest.mark.slow
@pytest.mark.emulated
def test_a_board_that_compiles_is_checked_against_the_elf_only(shared_dir, tmp_path):
    _need_arm_gcc()
    path = shared_dir / "models" / "mlperf-tiny" / "vww_96_int8.tflite"
    board = CATALOGUE.get("emu-m55")
    result = build_firmware(board, path, tmp_path, console=lambda _line: None)
    assert result.compiled and result.flash_bytes <= board.flash_bytes
