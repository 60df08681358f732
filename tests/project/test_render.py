"""Rendering: platformio.ini for every real board read by PlatformIO's own parser, golden file listings
per project kind, the TFLM op resolver and arena, `--runtime auto`, and the one-line errors — on the
MLPerf Tiny kws model (../shared) and on the digits CNN the tests make themselves (golden listings
tests/golden/<kind>-<model>.txt)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tinyedge.boards import Catalogue
from tinyedge.errors import TinyedgeError
from tinyedge.project import listing, plan_project, render_project, write_tree
from tinyedge.project.render import TFLM_LIB_DEP
from tinyedge.project.runtime import choose_runtime, tflm_arena_bytes

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
CATALOGUE = Catalogue.load()
REAL_BOARDS = [board.name for board in CATALOGUE.boards if board.kind == "platformio"]


@pytest.fixture(scope="session")
def tflm_plan_for(model_bundle):
    from tinyedge.tflite.tflm import smallest_arena
    tested = smallest_arena(model_bundle.model_bytes)
    return lambda board, kind="platformio": plan_project(model_bundle, board, kind, "tflm", 0.25, tested)


@pytest.mark.parametrize("name", REAL_BOARDS)
def test_platformio_ini_of_every_real_board_parses_with_platformio(tmp_path, model_bundle, tflm_plan_for, name):
    from platformio.project.config import ProjectConfig

    board = CATALOGUE.get(name)
    files = render_project(model_bundle, board, tflm_plan_for(board))
    (tmp_path / "platformio.ini").write_text(files["platformio.ini"])
    config = ProjectConfig(str(tmp_path / "platformio.ini"))
    config.validate(envs=[board.name, f"{board.name}-selftest"])
    section = f"env:{board.name}"
    assert config.get("platformio", "default_envs") == [board.name]
    assert config.get(section, "platform") == board.platformio.platform
    assert config.get(section, "board") == board.platformio.board
    assert config.get(section, "framework") == [board.platformio.framework]
    assert config.get(section, "upload_protocol") == board.platformio.upload_protocol
    assert config.get(section, "monitor_speed") == board.serial.baud
    assert config.get(section, "lib_deps") == [TFLM_LIB_DEP]
    assert f"-DTE_SERIAL_BAUD={board.serial.baud}u" in config.get(section, "build_flags")
    assert "-DTINYEDGE_SELFTEST" in config.get(f"env:{board.name}-selftest", "build_flags")
    assert (files["src/port_arduino.cpp"].count('return "cycles";') == 1) == (board.timer == "dwt")


def _check_golden(name: str, files: dict[str, str]) -> None:
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get("TINYEDGE_UPDATE_GOLDEN") == "1":   # after a deliberate change of the layout
        golden.write_text(listing(files))
    assert listing(files) == golden.read_text(), f"the generated tree differs from {golden}"


def test_golden_platformio_real_board_tflm(model_case, model_bundle, tflm_plan_for):
    board = CATALOGUE.get("nano33")
    files = render_project(model_bundle, board, tflm_plan_for(board))
    _check_golden(f"platformio-nano33-tflm-{model_case.key}", files)
    glue = files["src/tinyedge_runtime.cpp"]
    # exactly the model's ops, in a resolver sized for them
    assert model_bundle.ops == model_case.ops
    for method in model_case.resolver_methods:
        assert glue.count(f"resolver.{method}()") == 1
    assert glue.count("resolver.Add") == len(model_case.ops) == len(model_case.resolver_methods)
    assert f"constexpr unsigned int kOpCount = {len(model_case.ops)};" in glue
    assert "#include <Chirale_TensorFlowLite.h>" in glue
    plan = tflm_plan_for(board)
    assert plan.tflm.arena_bytes == tflm_arena_bytes(plan.tflm.tested_bytes, 0.25)
    assert f"#define TINYEDGE_TFLM_ARENA_BYTES {plan.tflm.arena_bytes}u" in glue
    assert f"({plan.tflm.tested_bytes} bytes" in glue and "margin of 25 %" in glue
    assert "spaziochirale/Chirale_TensorFLowLite@2.0.0" in files["README.md"]


def test_golden_platformio_emulated_native(model_case, model_bundle):
    board = CATALOGUE.get("emu-m4")
    plan = plan_project(model_bundle, board, "platformio", "auto")
    files = render_project(model_bundle, board, plan)
    _check_golden(f"platformio-emu-m4-native-{model_case.key}", files)
    assert "platform = symlink://" in files["platformio.ini"]
    assert "build_src_filter = +<*> -<te_main.c>" in files["platformio.ini"]


def test_golden_arduino_library(model_case, model_bundle, tflm_plan_for):
    board = CATALOGUE.get("nano33")
    native = render_project(model_bundle, board, plan_project(model_bundle, board, "arduino-library", "native"))
    _check_golden(f"arduino-library-native-{model_case.key}", native)
    assert "depends=" not in native["library.properties"]
    assert f"examples/tinyedge_{model_case.key}/tinyedge_{model_case.key}.ino" in native
    tflm = render_project(model_bundle, board, tflm_plan_for(board, "arduino-library"))
    assert "depends=Chirale_TensorFLowLite" in tflm["library.properties"]
    assert f"includes=tinyedge_{model_case.key}.h" in tflm["library.properties"]


def test_golden_cmake(model_case, model_bundle):
    board = CATALOGUE.get("emu-m4")
    files = render_project(model_bundle, board, plan_project(model_bundle, board, "cmake", "native"))
    _check_golden(f"cmake-native-{model_case.key}", files)
    assert 'set(TINYEDGE_CPU_FLAGS "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard")' in \
        files["toolchain/arm-none-eabi.cmake"]


def test_the_host_project_is_the_protocol_firmware_with_the_host_port(model_bundle):
    from tinyedge.resources import FIRMWARE_DIR
    board = CATALOGUE.get("host")
    files = render_project(model_bundle, board, plan_project(model_bundle, board, "platformio", "native"))
    assert files["port/port_host.c"] == (FIRMWARE_DIR / "port" / "host" / "port_host.c").read_text()
    assert files["src/te_main.c"] == (FIRMWARE_DIR / "protocol" / "te_main.c").read_text()
    for name in ("te_protocol.c", "te_format.c", "port.h"):
        assert f"protocol/{name}" in files
    assert "src/te_adapter.c" in files and "native/tinyedge_native.h" in files
    assert not any(path.startswith(("platform/", "lib/")) or path == "platformio.ini" for path in files)


def test_the_host_refuses_the_tflm_runtime(model_bundle):
    board = CATALOGUE.get("host")
    with pytest.raises(TinyedgeError) as error:
        plan_project(model_bundle, board, "platformio", "tflm", 0.1, 30000)
    assert error.value.one_line() == (
        "the host board runs tinyedge's native runtime only, not tflm (tflm was requested) (use --runtime "
        "native with --board host, or an emulated board (--board emu-m4) for TFLM firmware)")


def test_rendering_is_a_pure_function(model_bundle):
    board = CATALOGUE.get("emu-m3")
    first = render_project(model_bundle, board, plan_project(model_bundle, board, "platformio", "native"))
    second = render_project(model_bundle, board, plan_project(model_bundle, board, "platformio", "native"))
    assert first == second


def test_auto_runtime_picks_native_and_says_why(model_bundle):
    choice = choose_runtime(model_bundle.model, "auto")
    assert choice.kind == "native"
    assert choice.reason.startswith("auto chose native: it supports every op of the model")
    assert choose_runtime(model_bundle.model, "tflm").kind == "tflm"


def test_tree_is_replaced_whole_and_keeps_the_build_cache(tmp_path):
    project = tmp_path / "firmware"
    write_tree({"a.txt": "1", "src/b.c": "2"}, project)
    (project / ".pio" / "build").mkdir(parents=True)
    write_tree({"src/c.c": "3"}, project)
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()) == ["src/c.c"]
    assert (project / ".pio" / "build").is_dir()
    assert [p.name for p in tmp_path.iterdir()] == ["firmware"]   # no staging folder left behind


def test_bad_inputs_are_one_line_errors(model_case, model_bundle, tmp_path):
    from tinyedge.project import make_bundle
    board = CATALOGUE.get("nano33")
    with pytest.raises(TinyedgeError) as error:
        plan_project(model_bundle, board, "zip")
    assert error.value.one_line() == ("unknown project kind 'zip' (choose one of platformio, "
                                      "arduino-library, cmake)")
    with pytest.raises(TinyedgeError) as error:
        plan_project(model_bundle, board, "platformio", "tflm", 0.1, 1000, tflm_dir=tmp_path)
    assert error.value.one_line() == (f"--tflm-dir {tmp_path} is not a TFLM tree (no "
                                      "tensorflow/lite/micro/micro_interpreter.h) (pass a tree made by "
                                      "tflite-micro's create_tflm_tree.py)")
    with pytest.raises(TinyedgeError) as error:
        make_bundle(model_case.model_bytes, model_case.key, ["yes", "no"])
    assert error.value.one_line() == (f"2 labels given but the model has {model_case.classes} outputs (list "
                                      "one label per output class in data.labels)")


def test_a_local_tflm_tree_replaces_the_registry_library(model_bundle, tmp_path):
    from platformio.project.config import ProjectConfig

    tree = tmp_path / "tflm"
    (tree / "tensorflow" / "lite" / "micro").mkdir(parents=True)
    (tree / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").write_text("// stand-in header\n")
    board = CATALOGUE.get("nano33")
    plan = plan_project(model_bundle, board, "platformio", "tflm", 0.1, 30000, tflm_dir=tree)
    files = render_project(model_bundle, board, plan)
    (tmp_path / "platformio.ini").write_text(files["platformio.ini"])
    config = ProjectConfig(str(tmp_path / "platformio.ini"))
    assert config.get("env:nano33", "lib_deps") == ["tflm"]
    assert f"-I{tree}/third_party/flatbuffers/include" in config.get("env:nano33", "build_flags")
    assert "-DCMSIS_NN" in config.get("env:nano33", "build_flags")
    assert config.get("env:nano33", "build_src_flags") == ["-std=gnu++17"]
    library = json.loads(files["lib/tflm/library.json"])
    assert library["build"]["srcDir"] == str(tree) and library["name"] == "tflm"
    assert "-<tensorflow/lite/micro/cortex_m_generic/micro_time.cc>" in library["build"]["srcFilter"]
    assert "Chirale" not in files["src/tinyedge_runtime.cpp"]
    cmake = render_project(model_bundle, board, plan_project(model_bundle, board, "cmake", "tflm", 0.1, 30000,
                                                           tflm_dir=tree))
    assert f'set(TFLM_DIR "{tree}" CACHE PATH' in cmake["CMakeLists.txt"]
    assert "src/tinyedge_runtime.cpp" in cmake["CMakeLists.txt"]
