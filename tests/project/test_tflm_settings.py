"""The TFLM runtime's settings reach every verb that builds, and its refusals are one line; no tree and
no compile are needed here (the firmware built with a tree: test_tflm_emulated.py).

- no tree for an emulated board: one line naming the download and --tflm-dir, from `tinyedge bench` and
  `tinyedge build` (not PlatformIO's HTTPClientError after a minute of retries);
- a real board's PlatformIO build that fails to download the registry's TFLM: the same one line;
- the tree comes from --tflm-dir, else runtime.tflm_dir (relative to the project), else
  $TINYEDGE_TFLM_DIR; validate's build keeps the runtime and the tree it is given;
- bench --runtime native|tflm|both|native,tflm.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support import run_tinyedge
from tinyedge import api
from tinyedge.bench import bench_runtimes
from tinyedge.boards import Catalogue
from tinyedge.errors import TinyedgeError
from tinyedge.platformio import library_download_failure

NO_TREE = ("error: the tflm runtime on emu-m4 needs the TFLM library, which must be downloaded (a tree from "
           "create_tflm_tree.py) or given with --tflm-dir (give a tree made by tflite-micro's "
           "create_tflm_tree.py with --tflm-dir DIR (or runtime.tflm_dir in tinyedge.toml, or "
           "TINYEDGE_TFLM_DIR), or use --runtime native)")


def _no_tree_env() -> dict:
    return {"TINYEDGE_TFLM_DIR": ""}


def test_bench_tflm_without_a_tree_is_one_line(digits_case):
    done = run_tinyedge("bench", "--board", "emu-m4", "--model", str(digits_case.path), "--runtime", "tflm",
                        env=_no_tree_env())
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == NO_TREE
    assert "Traceback" not in done.stderr and "HTTPClientError" not in done.stderr


def test_build_tflm_without_a_tree_is_one_line(tmp_path, digits_case):
    from tinyedge.project import build_firmware
    with pytest.raises(TinyedgeError) as error:
        build_firmware(Catalogue.load().get("emu-m4"), digits_case.path, tmp_path, runtime="tflm",
                       console=lambda line: None)
    assert f"error: {error.value.one_line()}" == NO_TREE
    assert not (tmp_path / "firmware").exists()   # refused before anything is generated


# The lines `pio run` printed for a Nano 33 project with the registry's TFLM in lib_deps and no network
# (the platform installed, the library not).
PLATFORMIO_LIBRARY_OFFLINE = [
    "Processing nano33 (platform: nordicnrf52; board: nano33ble; framework: arduino)",
    "-" * 80,
    "Library Manager: Installing spaziochirale/Chirale_TensorFLowLite @ 2.0.0",
    "HTTPClientError: ",
]


def test_a_library_download_without_network_is_named():
    assert library_download_failure(PLATFORMIO_LIBRARY_OFFLINE) == \
        "spaziochirale/Chirale_TensorFLowLite @ 2.0.0"
    assert library_download_failure(["src/main.cpp:3: error: 'x' was not declared"]) is None


def test_a_real_boards_tflm_download_failure_is_one_line(tmp_path, monkeypatch):
    from tinyedge import platformio
    from tinyedge.targets import for_board

    def offline_build(project, env_name, core_dir=None):
        raise platformio.LibraryDownloadFailed("spaziochirale/Chirale_TensorFLowLite @ 2.0.0",
                                               tmp_path / "build.log")

    monkeypatch.setattr(platformio, "run_build", offline_build)   # FAKE: the offline PlatformIO
    with pytest.raises(TinyedgeError) as error:
        for_board(Catalogue.load().get("nano33")).compile(tmp_path)
    assert error.value.message == ("the TFLM library (spaziochirale/Chirale_TensorFLowLite @ 2.0.0) must be "
                                   "downloaded or given with --tflm-dir: PlatformIO could not download it "
                                   "(no network)")


def test_the_tree_comes_from_the_flag_then_the_project_then_the_environment(tmp_path, monkeypatch):
    (tmp_path / "tinyedge.toml").write_text('[runtime]\ntflm_dir = "../trees/tflm"\n')
    monkeypatch.setenv("TINYEDGE_TFLM_DIR", "/elsewhere/tflm")
    project = api.open_project(tmp_path, "emu-m4")
    assert api.tflm_dir_of(project) == (tmp_path.parent / "trees" / "tflm").resolve()
    assert api.tflm_dir_of(project, "/given/tree") == Path("/given/tree")
    (tmp_path / "tinyedge.toml").write_text("")
    assert api.tflm_dir_of(api.open_project(tmp_path, "emu-m4")) == Path("/elsewhere/tflm")
    monkeypatch.delenv("TINYEDGE_TFLM_DIR")
    assert api.tflm_dir_of(api.open_project(tmp_path, "emu-m4")) is None


def test_validate_builds_with_the_runtime_and_tree_it_is_given(tmp_path, monkeypatch):
    """validate once rebuilt from tinyedge.toml alone and validated native firmware when asked for TFLM."""
    from tinyedge.commands import validate as validate_command

    seen = {}

    def stop_at_build(project, **options):
        seen.update(runtime=project.config.get("runtime.kind"), tree=api.tflm_dir_of(project))
        raise TinyedgeError("stopped before the build", "test")

    monkeypatch.setattr(api, "validate", stop_at_build)   # FAKE: stops where the build would start
    (tmp_path / "tinyedge.toml").write_text('[runtime]\nkind = "native"\n')
    with pytest.raises(TinyedgeError, match="stopped before the build"):
        validate_command.run(board="emu-m4", project_dir=tmp_path, runtime="tflm", tflm_dir=tmp_path / "tree")
    assert seen == {"runtime": "tflm", "tree": (tmp_path / "tree").resolve()}


def test_bench_runtime_lists():
    assert bench_runtimes("both") == ["native", "tflm"]
    assert bench_runtimes("native,tflm") == ["native", "tflm"]
    assert bench_runtimes("tflm") == ["tflm"]
    for bad in ("auto", "native,native", "", "native,cmsis"):
        with pytest.raises(TinyedgeError) as error:
            bench_runtimes(bad)
        assert error.value.one_line() == (f"bench --runtime '{bad}' is not a runtime list (use native, tflm, "
                                          "both or native,tflm)")


def test_an_emulated_tflm_project_links_the_cached_library_of_its_tree(tmp_path, monkeypatch, digits_case):
    """No PlatformIO library of the tree's sources (minutes to compile in each project): the project links
    the library compiled once for the core, and TFLM's timer comes from tinyedge's port."""
    from tinyedge.project import make_bundle
    from tinyedge.project.firmware import plan_project
    from tinyedge.project.tflm_library import library_key
    from tinyedge.targets import for_board

    tree = tmp_path / "tree"
    (tree / "tensorflow" / "lite" / "micro").mkdir(parents=True)
    (tree / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").write_text("// a tree's header\n")
    monkeypatch.setenv("TINYEDGE_TFLM_CACHE", str(tmp_path / "cache"))
    board = Catalogue.load().get("emu-m4")
    bundle = make_bundle(digits_case.model_bytes, "digits", digits_case.labels, digits_case.sample)
    plan = plan_project(bundle, board, "platformio", "tflm", 0.1, 4096, tree)
    files = for_board(board).generate_project(bundle, plan)
    ini = files["platformio.ini"]
    library_folder = tmp_path / "cache" / library_key(tree.resolve(), board)
    assert f"    -L{library_folder}\n    -ltflm\n" in ini
    assert f"    -I{tree.resolve()}/third_party/cmsis_nn/Include\n" in ini and "    -DCMSIS_NN\n" in ini
    assert "lib_deps" not in ini and not any(path.startswith("lib/tflm/") for path in files)
    glue = files["src/tinyedge_runtime.cpp"]
    assert "uint32_t GetCurrentTimeTicks() { return static_cast<uint32_t>(te_port_ticks()); }" in glue
    for method in digits_case.resolver_methods:
        assert f"if (resolver.{method}() != kTfLiteOk) return 1;" in glue
