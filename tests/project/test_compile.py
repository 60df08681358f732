"""The generated outputs compile: CMake with the host gcc (run, bit-exact with TFLM, hostile label and
model name printed intact) and with arm-none-eabi-gcc; the Arduino library's sources that do not need
Arduino.h with arm-none-eabi-gcc (there is no Arduino core here). Each on the MLPerf Tiny kws model
(../shared) and on the digits CNN the tests make themselves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tinyedge.boards import Catalogue
from tinyedge.project import make_bundle, plan_project, render_project, write_tree



def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (the setup step installs it)")
    return path

CATALOGUE = Catalogue.load()
HOSTILE_LABEL = 'a"b*/c\n\\'
HOSTILE_NAME = "my model ✓ ünïcødé"


def _run(command: list[str], cwd: Path) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _cmake_build(source: Path, build: Path, *extra: str) -> None:
    need("cmake")
    _run(["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", *extra], source)
    _run(["cmake", "--build", str(build), "-j", "2"], source)


def test_cmake_native_on_the_host_is_exact_and_prints_hostile_text_intact(tmp_path, model_case):
    need("gcc")
    labels = [f"{HOSTILE_LABEL}{index} ✓" for index in range(model_case.classes)]
    bundle = make_bundle(model_case.model_bytes, HOSTILE_NAME, labels, model_case.sample)
    board = CATALOGUE.get("emu-m4")
    project = write_tree(render_project(bundle, board, plan_project(bundle, board, "cmake", "native")),
                         tmp_path / "cmake")
    _cmake_build(project, tmp_path / "build", "-DTINYEDGE_BUILD_EXAMPLE=ON", "-DTINYEDGE_WITH_PROTOCOL=ON")
    done = subprocess.run([str(tmp_path / "build" / "run_sample")], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout
    lines = done.stdout.split(b"\n")
    assert bytes.fromhex(lines[0].decode()) == bundle.sample_output == model_case.expected_output
    assert lines[1] == b"match"
    assert lines[2] == b"model " + HOSTILE_NAME.encode("utf-8")
    top = max(range(model_case.classes), key=lambda i: bundle.sample_output[i] ^ 0x80)   # int8 order
    expected = f"label {labels[top]}".encode("utf-8")
    assert done.stdout[len(b"\n".join(lines[:3])) + 1:].rstrip(b"\n") == expected
    assert (tmp_path / "build" / "libtinyedge_protocol.a").is_file()


def test_cmake_native_cross_compiles_with_arm_none_eabi(tmp_path, model_bundle):
    need("arm-none-eabi-gcc")
    board = CATALOGUE.get("emu-m7")
    project = write_tree(render_project(model_bundle, board,
                                        plan_project(model_bundle, board, "cmake", "native")), tmp_path / "cmake")
    _cmake_build(project, tmp_path / "build", f"-DCMAKE_TOOLCHAIN_FILE={project}/toolchain/arm-none-eabi.cmake",
                 "-DTINYEDGE_WITH_PROTOCOL=ON")
    library = tmp_path / "build" / "libtinyedge.a"
    headers = _run(["arm-none-eabi-readelf", "-A", str(library)], tmp_path)
    assert "Tag_CPU_name: \"7E-M\"" in headers or "Cortex-M7" in headers or "7E-M" in headers
    symbols = _run(["arm-none-eabi-nm", str(library)], tmp_path)
    assert " T tinyedge_model_run" in symbols and " T tinyedge_invoke" in symbols


def test_arduino_library_sources_compile_with_arm_none_eabi(tmp_path, model_bundle):
    """Every source of the library except the two that include Arduino.h (no Arduino core here)."""
    need("arm-none-eabi-gcc")
    board = CATALOGUE.get("nano33")
    files = render_project(model_bundle, board, plan_project(model_bundle, board, "arduino-library", "native"))
    project = write_tree(files, tmp_path / "lib")
    flags = board.gcc_flags() + ["-O2", "-Wall", "-Werror", "-DARDUINO=10819", "-ffunction-sections", "-c"]
    compiled = []
    for path in sorted(files):
        if not path.startswith("src/") or not path.endswith((".c", ".cc", ".cpp")):
            continue
        if "#include <Arduino.h>" in files[path]:
            assert path in ("src/port_arduino.cpp", "src/tinyedge_arduino.cpp")
            continue
        compiler = "arm-none-eabi-gcc" if path.endswith(".c") else "arm-none-eabi-g++"
        standard = ["-std=c99"] if path.endswith(".c") else ["-std=c++17"]
        _run([compiler, *standard, *flags, "-I", str(project / "src"), str(project / path), "-o",
              str(tmp_path / (Path(path).name + ".o"))], tmp_path)
        compiled.append(path)
    assert "src/model_data.cc" in compiled and "src/te_protocol.c" in compiled and len(compiled) >= 12
