"""The generated outputs compile: CMake with the host gcc (run, bit-exact with TFLM, hostile label and
model name printed intact) and with arm-none-eabi-gcc; the Arduino library's sources that do not need
Arduino.h with arm-none-eabi-gcc (no Arduino core for Cortex-M here). Each on the MLPerf Tiny kws model
(../shared) and on the digits CNN the tests make themselves.

The whole Arduino library with its example sketch, Arduino.h included, builds against Debian's real
Arduino AVR core for the Arduino Mega 2560 (arduino_avr.py): a small CNN links, fits the Mega and, run
in simavr, prints TFLM's output bit for bit; the digits CNN compiles (on AVR constant data lives in RAM,
and its weights alone need more than the Mega's 8 KB)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import arduino_avr
import native_model_zoo
from symbols import defined_globals, unprefixed
from tinyedge.boards import Catalogue
from tinyedge.project import make_bundle, plan_project, render_project, write_tree
from tinyedge.tflite.tflm import TflmRunner


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


def _assert_c_only(project: Path, build: Path) -> None:
    """The native CMake project declares C alone, and CMake's own record says no C++ compiler was looked
    for: no CMAKE_CXX_COMPILER in the cache, no C++ compiler identified (CMakeCXXCompiler.cmake)."""
    assert "project(tinyedge_" in (project / "CMakeLists.txt").read_text()
    assert " LANGUAGES C)" in (project / "CMakeLists.txt").read_text()
    assert "CMAKE_CXX_COMPILER" not in (build / "CMakeCache.txt").read_text()
    assert list((build / "CMakeFiles").glob("*/CMakeCCompiler.cmake"))
    assert not list((build / "CMakeFiles").glob("*/CMakeCXXCompiler.cmake"))
    assert not [path for path in project.rglob("*") if path.suffix in (".cc", ".cpp") or "model_data" in path.name]


def test_cmake_native_on_the_host_is_exact_and_prints_hostile_text_intact(tmp_path, model_case):
    need("gcc")
    labels = [f"{HOSTILE_LABEL}{index} ✓" for index in range(model_case.classes)]
    bundle = make_bundle(model_case.model_bytes, HOSTILE_NAME, labels, model_case.sample)
    board = CATALOGUE.get("emu-m4")
    project = write_tree(render_project(bundle, board, plan_project(bundle, board, "cmake", "native")),
                         tmp_path / "cmake")
    _cmake_build(project, tmp_path / "build", "-DTINYEDGE_BUILD_EXAMPLE=ON", "-DTINYEDGE_WITH_PROTOCOL=ON")
    _assert_c_only(project, tmp_path / "build")
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


@pytest.mark.emulated
def test_cmake_native_cross_compiles_with_arm_none_eabi(tmp_path, model_bundle):
    need("arm-none-eabi-gcc")
    board = CATALOGUE.get("emu-m7")
    project = write_tree(render_project(model_bundle, board,
                                        plan_project(model_bundle, board, "cmake", "native")), tmp_path / "cmake")
    _cmake_build(project, tmp_path / "build", f"-DCMAKE_TOOLCHAIN_FILE={project}/toolchain/arm-none-eabi.cmake",
                 "-DTINYEDGE_WITH_PROTOCOL=ON")
    _assert_c_only(project, tmp_path / "build")
    library = tmp_path / "build" / "libtinyedge.a"
    headers = _run(["arm-none-eabi-readelf", "-A", str(library)], tmp_path)
    assert "Tag_CPU_name: \"7E-M\"" in headers or "Cortex-M7" in headers or "7E-M" in headers
    symbols = _run(["arm-none-eabi-nm", str(library)], tmp_path)
    assert " T tinyedge_model_run" in symbols and f" T {model_bundle.c_name}_invoke" in symbols


@pytest.mark.emulated
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


# The library is the same for every Arduino core apart from the port's timer; pico's (micros(), no DSP,
# no FPU) is the one that fits an AVR.
AVR_RENDER_BOARD = "pico"
SMALL_CNN = "small_cnn_pertensor"   # conv, depthwise conv, max pool, reshape, fully connected, softmax


def _need_avr() -> None:
    reason = arduino_avr.missing_tools()
    if reason is not None:
        pytest.skip(reason)


def _small_cnn() -> tuple[bytes, np.ndarray]:
    """The native zoo's small CNN (the same cached file build_zoo makes) and a random int8 input."""
    seed, spec = next((index, spec) for index, spec in enumerate(native_model_zoo.SPECS) if spec.name == SMALL_CNN)
    path = native_model_zoo._cached(spec.name, lambda: native_model_zoo._convert(spec, seed))
    sample = native_model_zoo.random_inputs(spec.input_shape, "int8", 3, seed)[2]
    return path.read_bytes(), sample


def _avr_library(bundle, folder: Path) -> Path:
    board = CATALOGUE.get(AVR_RENDER_BOARD)
    return write_tree(render_project(bundle, board, plan_project(bundle, board, "arduino-library", "native")),
                      folder)


def test_arduino_library_builds_against_the_avr_core_and_runs_exact_in_simavr(tmp_path):
    _need_avr()
    model_bytes, sample = _small_cnn()
    expected = TflmRunner(model_bytes).run(sample[None])[0].astype(np.int8).tobytes()
    bundle = make_bundle(model_bytes, "small cnn", ["a", "b", "c", "d"], sample.reshape(-1))
    assert bundle.sample_output == expected
    library = _avr_library(bundle, tmp_path / "lib")
    core = arduino_avr.build_core(tmp_path / "build")

    # The sketch as users get it: the validation protocol on Serial.
    objects = arduino_avr.compile_library(library, tmp_path / "protocol")
    assert unprefixed(defined_globals(objects, "avr-nm"), bundle.name) == []   # the library's own objects, not the core's
    firmware = arduino_avr.link(objects, core, tmp_path / "protocol" / "sketch.elf")
    assert firmware.flash_bytes <= arduino_avr.MEGA_FLASH_BYTES
    assert firmware.ram_bytes <= arduino_avr.MEGA_RAM_BYTES - 1024, "less than 1 KB left for the stack"
    symbols = _run(["avr-nm", str(firmware.elf)], tmp_path)
    assert " T setup" in symbols and " T loop" in symbols and " T te_protocol_poll" in symbols

    # Built with TINYEDGE_SELFTEST it runs the sample stored in flash once and prints the output.
    need("simavr")
    selftest = arduino_avr.link(arduino_avr.compile_library(library, tmp_path / "selftest", ["-DTINYEDGE_SELFTEST"]),
                                core, tmp_path / "selftest" / "sketch.elf")
    printed = arduino_avr.run_in_simavr(selftest.elf, until=b"m-te-match-")
    assert f"m-te-output-[{expected.hex()}]" in printed, printed
    assert "m-te-match-yes" in printed, printed
    assert "m-te-unit-us" in printed, printed


def test_arduino_library_of_the_digits_cnn_compiles_against_the_avr_core(tmp_path, digits_case):
    """Every source and the sketch, with -Wall -Wextra -Werror; not linked: avr-gcc keeps constant data in
    RAM, and the digits CNN's weights with the runtime need more than the Mega's 8 KB."""
    _need_avr()
    bundle = make_bundle(digits_case.model_bytes, "digits", digits_case.labels, digits_case.sample)
    library = _avr_library(bundle, tmp_path / "lib")
    objects = arduino_avr.compile_library(library, tmp_path / "build")
    names = {path.name for path in objects}
    assert {"port_arduino.cpp.o", "tinyedge_arduino.cpp.o", "digits_model.c.o", "model_data.cc.o",
            "tinyedge_digits.ino.cpp.o"} <= names
