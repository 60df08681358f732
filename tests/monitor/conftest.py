"""One monitored build of the built-in example for every monitor test: the digits project with
[monitor] enabled = true, built for emu-m4 once per session (its model stages from the session's one
trained example when tests/conftest.py has it, else trained here, ~45 s), and the replays that shift
its test split."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from support import REPO, run_tinyedge

BOARD = "emu-m4"
MONITOR_SETTINGS = "\n[monitor]\nenabled = true\n"


@dataclass
class MonitoredProject:
    folder: Path
    board: str

    @property
    def build_dir(self) -> Path:
        return self.folder / "build" / self.board

    def monitor(self, *args: str, timeout: float = 300):
        return run_tinyedge("monitor", "--board", self.board, "--dir", str(self.folder), *args, timeout=timeout)

    def test_split(self) -> tuple[np.ndarray, np.ndarray]:
        with np.load(self.build_dir / "test_data.npz") as stored:
            return stored["x"], stored["y"]


def need_emulation_tools() -> None:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the setup step installs it)")


def _project(request, folder: Path, board: str) -> Path:
    """The example's project in `folder`: from the session's trained example when there is one."""
    try:
        copy = request.getfixturevalue("digits_project")
    except pytest.FixtureLookupError:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "examples" / "digits" / "tinyedge.toml", folder / "tinyedge.toml")
        return folder
    return copy(folder, board)


@pytest.fixture(scope="session")
def monitored_digits(request, tmp_path_factory) -> MonitoredProject:
    need_emulation_tools()
    folder = _project(request, tmp_path_factory.mktemp("monitored") / "digits", BOARD)
    with open(folder / "tinyedge.toml", "a") as config:
        config.write(MONITOR_SETTINGS)
    run = run_tinyedge("build", "--board", BOARD, "--dir", str(folder), "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    project = MonitoredProject(folder, BOARD)
    assert (project.build_dir / "monitor_baseline.json").is_file()
    return project


@pytest.fixture(scope="session")
def replays(monitored_digits, tmp_path_factory) -> dict[str, Path]:
    """.npz files of the test split shifted as the field shifts: brighter, noisier, one class gone."""
    x, y = monitored_digits.test_split()
    folder = tmp_path_factory.mktemp("replays")
    rng = np.random.default_rng(17)
    shifted = {"bright": np.clip(x[:150] + 0.3, 0.0, 1.0),
               "noise": np.clip(x[:150] + rng.normal(0.0, 0.25, x[:150].shape), 0.0, 1.0),
               "missing": x[y != 3]}
    paths = {}
    for name, values in shifted.items():
        paths[name] = folder / f"{name}.npz"
        np.savez(paths[name], x=values.astype(np.float32))
    return paths


def summary(run) -> dict:
    assert run.stdout.strip(), run.stderr[-3000:]
    return json.loads(run.stdout)
