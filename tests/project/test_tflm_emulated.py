"""TFLM firmware compiled against a local TFLM tree (TINYEDGE_TFLM_DIR: a tree exactly as tflite-micro's
create_tflm_tree.py writes it, with CMSIS-NN) and run in QEMU on the emulated boards, beside the native
firmware of the same model, on the same input. Skipped, with that reason, when the variable is unset.

The oracle is the host's tflite_micro interpreter (TflmRunner), run here on the input bench sends; the
CMSIS-NN kernels are found in the ELF's symbols. The TFLM library is compiled once per core into the
user's cache (tinyedge/project/tflm_library.py): the first test on a core takes minutes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from support import REPO, run_tinyedge
from tinyedge import api
from tinyedge.bench import default_sample
from tinyedge.tflite.model import parse
from tinyedge.tflite.tflm import TflmRunner

TREE = os.environ.get("TINYEDGE_TFLM_DIR", "")

pytestmark = [
    pytest.mark.emulated, pytest.mark.slow,
    pytest.mark.skipif(not TREE, reason="TINYEDGE_TFLM_DIR is not set (a TFLM tree from create_tflm_tree.py)"),
]

# Which CMSIS-NN convolution each core links (its DSP or MVE code sits inside the same functions).
BOARDS = ("emu-m4", "emu-m3", "emu-m7", "emu-m55")


def _symbols(elf: Path) -> set[str]:
    listing = subprocess.run(["arm-none-eabi-nm", "--defined-only", str(elf)], capture_output=True, text=True,
                             check=True).stdout
    return {line.split()[-1] for line in listing.splitlines() if line.strip()}


def _host_output(model: Path) -> str:
    """What the host tflite_micro interpreter gives for the input bench sends."""
    parsed = parse(model.read_bytes())
    sample = default_sample(parsed)
    return np.asarray(TflmRunner(model.read_bytes()).run(sample.reshape(1, *sample.shape[1:]))[0],
                      dtype=np.int8).tobytes().hex()


@pytest.mark.parametrize("board", BOARDS)
def test_tflm_firmware_with_cmsis_nn_is_bit_exact_in_qemu(board, tmp_path, digits_case):
    result = api.measure(board, digits_case.path, runtime="tflm", build_dir=tmp_path, tflm_dir=TREE)
    assert result.runtime == "tflm" and result.unit == "instructions"
    assert result.output_hex == _host_output(digits_case.path)
    elf = tmp_path / "firmware" / ".pio" / "build" / board / "firmware.elf"
    symbols = _symbols(elf)
    assert "arm_convolve_s8" in symbols or "arm_convolve_1_x_n_s8" in symbols  # CMSIS-NN, not the reference
    assert any("MicroInterpreter" in name for name in symbols)
    # The arena TFLM reserves is the host's smallest plus the margin, and it sits in the ELF's RAM.
    assert result.arena_bytes > 0 and result.ram_bytes > result.arena_bytes


def test_bench_both_runtimes_in_one_run(digits_case):
    done = run_tinyedge("bench", "--board", "emu-m4", "--model", str(digits_case.path), "--runtime", "both",
                        "--tflm-dir", TREE, "--json", timeout=3600)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    expected = _host_output(digits_case.path)
    assert data["native"]["output_hex"] == expected and data["tflm"]["output_hex"] == expected
    assert data["native"]["runtime"] == "native" and data["tflm"]["runtime"] == "tflm"
    native, tflm = data["native"], data["tflm"]
    assert data["ratio_native_to_tflm"]["instructions_per_inference"] == \
        round(native["instructions_per_inference"] / tflm["instructions_per_inference"], 3)
    assert tflm["model_flash_bytes"] == digits_case.path.stat().st_size

    table = run_tinyedge("bench", "--board", "emu-m4", "--model", str(digits_case.path), "--runtime",
                         "native,tflm", "--tflm-dir", TREE, timeout=3600)
    assert table.returncode == 0, table.stderr[-2000:]
    lines = table.stdout.splitlines()
    assert lines[0] == f"{digits_case.path.name} on emu-m4, native and TFLM side by side (same input)"
    row = next(line for line in lines if line.strip().startswith("instructions per inference"))
    native_count, tflm_count, ratio = row.split()[-3:]
    native_count, tflm_count = int(native_count.replace(",", "")), int(tflm_count.replace(",", ""))
    # Another run: the counts repeat to within one SysTick tick (40 instructions).
    assert abs(native_count - native["instructions_per_inference"]) <= 40
    assert abs(tflm_count - tflm["instructions_per_inference"]) <= 40
    assert ratio == f"{native_count / tflm_count:.2f}"


@pytest.mark.parametrize("board", ["emu-m4", "emu-m3"])
def test_validate_tflm_on_the_built_in_example(board, tmp_path):
    project = tmp_path / "digits"
    shutil.copytree(REPO / "examples" / "digits", project, ignore=shutil.ignore_patterns("build"))
    done = run_tinyedge("validate", "--board", board, "--runtime", "tflm", "--tflm-dir", TREE, "--json",
                        cwd=project, timeout=3600)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(done.stdout)
    assert data["agreement"] == 1.0 and data["complete"] and data["samples"] == 360
    firmware = project / "build" / board / "firmware"
    # The firmware validated is TFLM's (validate once rebuilt native firmware when asked for TFLM).
    assert (firmware / "src" / "tinyedge_runtime.cpp").is_file()
    assert not (firmware / "src" / "tinyedge_runtime.c").exists()
    assert "arm_convolve_s8" in _symbols(firmware / ".pio" / "build" / board / "firmware.elf")


def _tflm_project(tmp_path: Path, case, kind: str, board_name: str) -> tuple[Path, object]:
    from tinyedge.boards import Catalogue
    from tinyedge.project import build_firmware
    board = Catalogue.load().get(board_name)
    result = build_firmware(board, case.path, tmp_path, runtime="tflm", kind=kind, name=case.key,
                            labels=case.labels, test_sample=case.sample, tflm_dir=Path(TREE),
                            console=lambda line: None)
    return result.project, board


def test_the_cmake_project_compiles_against_the_tree_with_arm_none_eabi(tmp_path, digits_case):
    """The CMake library with the TFLM runtime, cross-compiled for emu-m4 and linked with TFLM as compiled
    from the same tree for that core (TFLM_LIBRARY); a firmware that calls tinyedge_model_run links."""
    from tinyedge.project.tflm_library import ensure_library
    project, board = _tflm_project(tmp_path, digits_case, "cmake", "emu-m4")
    library = ensure_library(Path(TREE), board)
    build = tmp_path / "cmake-build"
    configure = subprocess.run(["cmake", "-S", str(project), "-B", str(build),
                                f"-DCMAKE_TOOLCHAIN_FILE={project / 'toolchain' / 'arm-none-eabi.cmake'}",
                                f"-DTFLM_LIBRARY={library}"], capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout[-2000:] + configure.stderr[-2000:]
    made = subprocess.run(["cmake", "--build", str(build), "--target", "tinyedge"], capture_output=True,
                          text=True)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-2000:]
    archive = build / "libtinyedge.a"
    # A bare firmware around the library: everything TFLM needs resolves from the tree's library.
    main = tmp_path / "main.c"
    main.write_text("#include <stdint.h>\nint tinyedge_model_run(const int8_t *, int8_t *);\n"
                    "static int8_t in[64], out[10];\nint main(void) { return tinyedge_model_run(in, out); }\n")
    linked = subprocess.run(["arm-none-eabi-g++", *board.gcc_flags(), "--specs=nosys.specs", "-Wl,--gc-sections",
                             "-x", "c", str(main), "-x", "none", str(archive), str(library),
                             "-o", str(tmp_path / "firmware.elf")],
                            capture_output=True, text=True)
    assert linked.returncode == 0, linked.stderr[-3000:]
    assert "arm_convolve_s8" in _symbols(tmp_path / "firmware.elf")


def test_the_arduino_library_compiles_against_the_tree(tmp_path, digits_case):
    """No Cortex-M Arduino core can be installed here, so the library's sources are compiled with
    arm-none-eabi-g++ as a Cortex-M4F Arduino build would (C++ as gnu++17 for TFLM, the tree's include
    folders and defines), all but the two that include Arduino.h, which only the core can compile."""
    from tinyedge.project.tflm_library import firmware_flags
    project, board = _tflm_project(tmp_path, digits_case, "arduino-library", "nano33")
    sources = sorted(path for path in (project / "src").iterdir() if path.suffix in (".c", ".cc", ".cpp"))
    arduino_only = {path.name for path in sources if "Arduino.h" in path.read_text()}
    assert arduino_only == {"port_arduino.cpp", "tinyedge_arduino.cpp"}
    compiled = []
    for source in sources:
        if source.name in arduino_only:
            continue
        language = ["-std=gnu++17", "-fno-rtti", "-fno-exceptions"] if source.suffix != ".c" else ["-std=gnu11"]
        obj = tmp_path / f"{source.name}.o"
        done = subprocess.run(["arm-none-eabi-g++" if source.suffix != ".c" else "arm-none-eabi-gcc",
                               *board.gcc_flags(), "-O2", *language, *firmware_flags(Path(TREE)),
                               f"-I{project / 'src'}", "-c", str(source), "-o", str(obj)],
                              capture_output=True, text=True)
        assert done.returncode == 0, f"{source.name}: {done.stderr[-2000:]}"
        compiled.append(source.name)
    assert "tinyedge_runtime.cpp" in compiled and "model_data.cc" in compiled
