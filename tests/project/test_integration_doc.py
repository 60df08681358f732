"""docs/integration.md's examples are code that builds and runs, checked against independent oracles:

- the bare-metal main.c, with a generated model, compiled for the host by gcc under the strict flags
  (-std=c99 -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror) and by clang, run: the int8 outputs
  it prints are tflite_micro's for the stored sample, and the real values are (q - zero point) * scale
  in float32; compiled for arm-none-eabi cortex-m4 warning-free and linked with --specs=nosys.specs;
- the linker-script snippet, linked around the model for cortex-m4 with the placement macros of the
  guide: readelf shows the weights in the external flash region and the arena in DTCM, NOBITS and in no
  loaded segment; and the guide's claim that the arena needs no clearing (a garbage-filled caller arena
  gives the same outputs);
- the CMake example: the generated folder added with add_subdirectory to a C-only firmware project,
  built and run on the host, prints the same;
- the Arduino sketch: compiled with the library against the AVR core (-Wall -Wextra -Werror) and linked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import arduino_avr
from tinyedge.boards import Catalogue
from tinyedge.project import make_bundle, plan_project, render_project, write_tree

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "integration.md"
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wshadow", "-Werror", "-O2"]
CORTEX_M4 = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
PLACEMENT = ['-DTINYEDGE_WEIGHTS_SECTION=".te_weights"', '-DTINYEDGE_ARENA_SECTION=".bss.te_arena"']
CATALOGUE = Catalogue.load()
GUIDE_MODEL = "digits"    # the guide's examples use the model's C prefix: digits_model.h, digits_init ...


def example(name: str) -> str:
    """The code block the guide marks `<!-- integration-example: NAME -->`."""
    found = re.search(rf"<!-- integration-example: {re.escape(name)} -->\n```[\w+]*\n(.*?)\n```\n",
                      GUIDE.read_text(encoding="utf-8"), re.S)
    assert found, f"docs/integration.md has no example {name}"
    return found.group(1) + "\n"


def need(tool: str) -> str:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (the setup step installs it)")
    return tool


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _cmake_project(model_case, folder: Path):
    """The native CMake project of the model with its sample, as `tinyedge build --project cmake` writes it."""
    bundle = make_bundle(model_case.model_bytes, GUIDE_MODEL, model_case.labels, model_case.sample)
    board = CATALOGUE.get("emu-m4")
    return bundle, write_tree(render_project(bundle, board, plan_project(bundle, board, "cmake", "native")), folder)


def _sources(project: Path) -> list[str]:
    return [str(path) for path in sorted((project / "src").glob("*.c"))]


def _includes(project: Path) -> list[str]:
    return ["-I", str(project / "include"), "-I", str(project / "src")]


def _expected_lines(bundle, expected_output: bytes) -> list[str]:
    """What main.c prints for the sample: TFLM's int8 outputs and their real values in float32."""
    scale, zero_point = np.float32(bundle.output.scale), np.int32(bundle.output.zero_point)
    lines = []
    for index, value in enumerate(np.frombuffer(expected_output, dtype=np.int8)):
        real = np.float32(np.int32(value) - zero_point) * scale
        lines.append(f"output[{index}] = {int(value)} ({float(real):f})")
    return lines


def _assert_prints_tflm_output(stdout: str, bundle, model_case) -> None:
    lines = stdout.splitlines()
    assert lines[:-1] == _expected_lines(bundle, model_case.expected_output)
    assert lines[-1] == "cycles: 0"          # no DWT on the host: the guard leaves the counter out


def test_the_guides_main_c_runs_on_the_host_and_prints_tflms_output(tmp_path, model_case):
    need("gcc")
    bundle, project = _cmake_project(model_case, tmp_path / "tinyedge")
    main = tmp_path / "main.c"
    main.write_text(example("main.c"))
    program = tmp_path / "main"
    _run(["gcc", *STRICT, *_includes(project), str(main), *_sources(project), "-o", str(program), "-lm"], tmp_path)
    _assert_prints_tflm_output(_run([str(program)], tmp_path).stdout, bundle, model_case)
    need("clang")
    _run(["clang", *STRICT, "-fsyntax-only", *_includes(project), str(main)], tmp_path)


@pytest.mark.emulated
def test_the_guides_main_c_and_linker_snippet_build_for_cortex_m4(tmp_path, digits_case):
    need("arm-none-eabi-gcc")
    _bundle, project = _cmake_project(digits_case, tmp_path / "tinyedge")
    main = tmp_path / "main.c"
    main.write_text(example("main.c"))
    objects = []
    for source in [str(main), *_sources(project)]:
        obj = tmp_path / (Path(source).stem + ".o")
        done = _run(["arm-none-eabi-gcc", *CORTEX_M4, *STRICT, "-ffunction-sections", "-fdata-sections",
                     *PLACEMENT, *_includes(project), "-c", source, "-o", str(obj)], tmp_path)
        assert done.stderr == "", done.stderr
        objects.append(str(obj))
    # The DWT path is the one compiled for the core.
    assert "DWT" in example("main.c") and "0xE0001004" in example("main.c")
    _run(["arm-none-eabi-gcc", *CORTEX_M4, "--specs=nosys.specs", *objects, "-o", str(tmp_path / "main.elf"),
          "-lm"], tmp_path)

    # The snippet's memories and sections around a plain start-up (no C library start-up, nothing printed).
    script = tmp_path / "board.ld"
    script.write_text(example("placement.ld") + LINKER_BASE)
    start = tmp_path / "start.c"
    start.write_text(START_C)
    start_obj = tmp_path / "start.o"
    _run(["arm-none-eabi-gcc", *CORTEX_M4, "-O2", *_includes(project), "-c", str(start), "-o", str(start_obj)],
         tmp_path)
    model_objects = [obj for obj in objects if not obj.endswith(("/main.o", "/tinyedge_sample.o"))]
    elf = tmp_path / "placed.elf"
    _run(["arm-none-eabi-gcc", *CORTEX_M4, "-nostartfiles", "--specs=nosys.specs", "-T", str(script),
          "-Wl,--gc-sections", str(start_obj), *model_objects, "-o", str(elf)], tmp_path)
    sections = {fields[0]: fields for fields in
                (line.replace("[ ", "[").split()[1:] for line in
                 _run(["arm-none-eabi-readelf", "-SW", str(elf)], tmp_path).stdout.splitlines()
                 if re.match(r"\s*\[\s*\d+\]", line))}
    weights, arena = sections[".te_weights"], sections[".te_arena"]    # name, type, address, offset, size
    assert weights[1] == "PROGBITS" and 0x90000000 <= int(weights[2], 16) < 0x91000000
    assert int(weights[4], 16) > 1000                     # the digits CNN's weights are there
    assert arena[1] == "NOBITS" and 0x20000000 <= int(arena[2], 16) < 0x20020000
    symbols = _run(["arm-none-eabi-nm", str(elf)], tmp_path).stdout
    assert int(next(line.split() for line in symbols.splitlines()
                    if line.endswith(" digits_arena"))[0], 16) == int(arena[2], 16)


# Completes the guide's snippet into a whole script: code and constants in FLASH, data and bss in RAM.
LINKER_BASE = """
ENTRY(reset)
SECTIONS
{
  .text : { KEEP(*(.vectors)) *(.text .text.*) *(.rodata .rodata.*) } > FLASH
  .data : { *(.data .data.*) } > RAM AT > FLASH
  .bss (NOLOAD) : { *(.bss .bss.* COMMON) } > RAM
}
"""

START_C = """
#include <stdint.h>
#include "digits_model.h"
static digits_context ctx;
static int8_t input[DIGITS_INPUT_SIZE], output[DIGITS_OUTPUT_SIZE];
void reset(void);
__attribute__((section(".vectors"), used)) static void (*const vectors[2])(void) = {
    (void (*)(void))0x20020000u, reset};
void reset(void)
{
    if (digits_init(&ctx, 0, 0) == TINYEDGE_OK) (void)digits_invoke(&ctx, input, output);
    for (;;) {}
}
"""


ARENA_GARBAGE_C = """
#include <stdio.h>
#include <string.h>
#include "digits_model.h"
#include "tinyedge_sample.h"
static union { uint8_t bytes[DIGITS_ARENA_SIZE + 1]; uint64_t align; } arena;
static int8_t output[DIGITS_OUTPUT_SIZE];
int main(int argc, char **argv)
{
    digits_context ctx = {NULL};
    size_t i;
    (void)argv;
    memset(arena.bytes, argc > 1 ? 0xA5 : 0x00, sizeof arena.bytes);
    if (digits_init(&ctx, arena.bytes, DIGITS_ARENA_SIZE) != TINYEDGE_OK) return 1;
    if (digits_invoke(&ctx, tinyedge_sample_input, output) != TINYEDGE_OK) return 2;
    for (i = 0; i < DIGITS_OUTPUT_SIZE; ++i) printf("%02x", (unsigned)(uint8_t)output[i]);
    printf("\\n");
    return 0;
}
"""


def test_the_arena_needs_no_clearing(tmp_path, model_case):
    """The guide's NOLOAD arena starts with whatever RAM holds: a garbage-filled caller arena gives
    tflite_micro's output, as a zeroed one does."""
    need("gcc")
    _bundle, project = _cmake_project(model_case, tmp_path / "tinyedge")
    harness = tmp_path / "arena.c"
    harness.write_text(ARENA_GARBAGE_C)
    program = tmp_path / "arena"
    _run(["gcc", *STRICT, "-DTINYEDGE_ARENA_FROM_CALLER", *_includes(project), str(harness),
          *_sources(project), "-o", str(program), "-lm"], tmp_path)
    for fill in ([], ["garbage"]):
        printed = _run([str(program), *fill], tmp_path).stdout.strip()
        assert bytes.fromhex(printed) == model_case.expected_output


def test_the_guides_cmake_example_builds_a_c_only_firmware_with_add_subdirectory(tmp_path, model_case):
    need("cmake")
    need("gcc")
    firmware = tmp_path / "my_firmware"
    bundle, _project = _cmake_project(model_case, firmware / "tinyedge")
    (firmware / "CMakeLists.txt").write_text(example("CMakeLists.txt"))
    (firmware / "main.c").write_text(example("main.c"))
    build = tmp_path / "build"
    _run(["cmake", "-S", str(firmware), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
          "-DCMAKE_C_FLAGS=-Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror"], tmp_path)
    _run(["cmake", "--build", str(build), "-j", "2"], tmp_path)
    assert "CMAKE_CXX_COMPILER" not in (build / "CMakeCache.txt").read_text()
    _assert_prints_tflm_output(_run([str(build / "my_firmware")], tmp_path).stdout, bundle, model_case)


def test_the_guides_arduino_sketch_builds_with_the_library_against_the_avr_core(tmp_path):
    reason = arduino_avr.missing_tools()
    if reason is not None:
        pytest.skip(reason)
    from test_compile import _avr_library, _small_cnn
    model_bytes, sample = _small_cnn()
    bundle = make_bundle(model_bytes, GUIDE_MODEL, ["a", "b", "c", "d"], sample.reshape(-1))
    library = _avr_library(bundle, tmp_path / "lib")
    (sketch,) = (library / "examples").glob("*/*.ino")
    sketch.write_text(example("sketch.ino"))
    core = arduino_avr.build_core(tmp_path / "build")
    firmware = arduino_avr.link(arduino_avr.compile_library(library, tmp_path / "sketch"), core,
                                tmp_path / "sketch" / "sketch.elf")
    assert firmware.flash_bytes <= arduino_avr.MEGA_FLASH_BYTES
    symbols = _run(["avr-nm", str(firmware.elf)], tmp_path).stdout
    assert " T setup" in symbols and " T digits_invoke" in symbols
