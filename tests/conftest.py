"""Fixtures shared by every test tier, the real-board options and the tier guard.

Tiers (markers registered in pyproject.toml): `emulated` tests boot QEMU or compile firmware for Arm,
`slow` ones train or build real models, `hardware` ones need a real board and run only when
`--board B --port P` name it. A run that selects no `emulated` test (`-m "not slow and not emulated"`)
finds QEMU and the Arm compiler replaced by stand-ins that refuse to start, and the test that tried
fails naming the tool: the fast tier provably starts no emulator and builds no Arm firmware.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import REPO, SHARED, run_tinyedge

# What the fast tier must never start: the emulator and the Arm compiler drivers.
GUARDED_TOOLS = ("qemu-system-arm", "arm-none-eabi-gcc", "arm-none-eabi-g++")
# A stand-in answers queries (--version, -print-file-name=..., the setup step's checks) with the real
# tool and refuses anything else: compiling, linking, booting.
_STAND_IN = """#!/bin/sh
tool=$(basename "$0")
query=no
for argument in "$@"; do
    case "$argument" in
        --version|-dumpversion|-dumpmachine|-print-*) query=yes ;;
        -m*) ;;
        *) query=no; break ;;
    esac
done
if [ "$query" = yes ]; then
    PATH="{path}" exec "$tool" "$@"
fi
echo "$tool" >> "{log}"
echo "tier guard: $tool started in a run without emulated tests (mark the test emulated)" >&2
exit 97
"""
_GUARD_LOG = pytest.StashKey[Path]()       # the stand-ins' record of what was started
_GUARD_BEFORE = pytest.StashKey[str]()     # that record when a test's setup began


def pytest_addoption(parser):
    group = parser.getgroup("tinyedge", "tinyedge real-board tests")
    group.addoption("--board", default=None, help="board of the real device for the hardware tests")
    group.addoption("--port", default=None, help="serial port of that device (for example /dev/ttyACM0)")


@pytest.hookimpl(trylast=True)   # after -m has deselected what it deselects
def pytest_collection_modifyitems(config, items):
    if config.getoption("--board") and config.getoption("--port"):
        return   # a real-board run builds Arm firmware for the board by design
    skip = pytest.mark.skip(reason="needs a real board: run with --board B --port P")
    for item in items:
        if item.get_closest_marker("hardware"):
            item.add_marker(skip)
    if items and not any(item.get_closest_marker("emulated") for item in items):
        _install_stand_ins(config)


def _install_stand_ins(config) -> None:
    folder = Path(tempfile.mkdtemp(prefix="tinyedge-tier-guard-"))
    log = folder / "started.log"
    log.touch()
    for tool in GUARDED_TOOLS:
        path = folder / tool
        path.write_text(_STAND_IN.format(log=log, path=os.environ.get("PATH", "")))
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.environ["PATH"] = f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
    config.stash[_GUARD_LOG] = log


def pytest_unconfigure(config):
    log = config.stash.get(_GUARD_LOG, None)
    if log is not None:
        shutil.rmtree(log.parent, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    log = item.config.stash.get(_GUARD_LOG, None)
    if log is not None:   # before any fixture, session-scoped ones included
        item.stash[_GUARD_BEFORE] = log.read_text()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield
    log = item.config.stash.get(_GUARD_LOG, None)
    if log is not None:
        started = log.read_text()[len(item.stash.get(_GUARD_BEFORE, "")):].split()
        if started:
            pytest.fail(f"started {', '.join(sorted(set(started)))} in a run without emulated tests "
                        "(mark the test, or the module using that fixture, @pytest.mark.emulated)",
                        pytrace=False)
    return result


@pytest.fixture
def tinyedge_cli():
    return run_tinyedge


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "models" / "mlperf-tiny").is_dir():
        pytest.skip(f"{SHARED} is absent (the MLPerf Tiny models live beside the checkout in CI)")
    return SHARED


@pytest.fixture(scope="session")
def real_board(request) -> tuple[str, str]:
    """(board, port) of the real device named on the command line (hardware tests only)."""
    board, port = request.config.getoption("--board"), request.config.getoption("--port")
    if not (board and port):
        pytest.skip("needs a real board: run with --board B --port P")
    return board, port


# The stages of a build that make the model; none of their keys holds the board (firmware and plot do).
MODEL_STAGES = ("data", "teacher", "student", "int8", "tflm")


@dataclass
class TrainedExample:
    """The built-in example's first build: `tinyedge build --board nano33 --json` in an empty folder
    (no tinyedge.toml: the defaults, which are the example's model settings), where every stage ran."""
    folder: Path
    run: subprocess.CompletedProcess

    @property
    def build_dir(self) -> Path:
        return self.folder / "build" / "nano33"

    def copy(self, folder: Path, board: str) -> Path:
        """`folder` made the built-in example's project (examples/digits/tinyedge.toml) for `board` whose
        model stages are this build's, cached: build/<board> holds their outputs and their manifest
        records (nothing of the nano33 firmware), so the next run there trains nothing and makes the
        board's firmware."""
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "examples" / "digits" / "tinyedge.toml", folder / "tinyedge.toml")
        manifest = json.loads((self.build_dir / "manifest.json").read_text())
        assert set(manifest["stages"]) == {*MODEL_STAGES, "firmware", "plot"}, sorted(manifest["stages"])
        build = folder / "build" / board
        build.mkdir(parents=True)
        stages = {name: manifest["stages"][name] for name in MODEL_STAGES}
        for record in stages.values():
            for relative in record["outputs"]:
                assert not Path(relative).is_absolute(), relative
                (build / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(self.build_dir / relative, build / relative)
        kept = {"tinyedge_version": manifest["tinyedge_version"], "inputs": {}, "config": {}, "stages": stages}
        (build / "manifest.json").write_text(json.dumps(kept, indent=2))
        return folder


@pytest.fixture(scope="session")
def trained_digits(tmp_path_factory) -> TrainedExample:
    """The built-in example trained once per session (~45 s of training): nano33's platform is not
    installed, so its firmware is generated, not compiled, and no Arm tool starts (the tier guard lets
    fast and slow tests share it). digits_build (tests/pipeline) checks this very run; the other tests
    start from a copy (`digits_project`) with the model stages cached."""
    folder = tmp_path_factory.mktemp("empty_project")
    run = run_tinyedge("build", "--board", "nano33", "--json", cwd=folder)
    assert run.returncode == 0, run.stderr[-3000:]
    return TrainedExample(folder, run)


@pytest.fixture(scope="session")
def digits_project(trained_digits):
    """digits_project(folder, board) -> folder: the built-in example's project there, its model stages
    cached for `board` (TrainedExample.copy)."""
    return trained_digits.copy
