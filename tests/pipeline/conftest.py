"""Fixtures of the model pipeline tests: one real `tinyedge build` of the built-in example, shared."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pipeline_helpers import tinyedge


@dataclass
class Build:
    folder: Path
    first: subprocess.CompletedProcess
    first_seconds: float
    second: subprocess.CompletedProcess
    second_seconds: float

    @property
    def result(self) -> dict:
        return json.loads(self.first.stdout)

    @property
    def rerun(self) -> dict:
        return json.loads(self.second.stdout)


@pytest.fixture(scope="session")
def digits_build(tmp_path_factory) -> Build:
    """`tinyedge build --board nano33 --json` in an empty folder, then once more with nothing changed."""
    folder = tmp_path_factory.mktemp("empty_project")
    started = time.perf_counter()
    first = tinyedge("build", "--board", "nano33", "--json", cwd=folder)
    first_seconds = time.perf_counter() - started
    assert first.returncode == 0, first.stderr[-3000:]
    started = time.perf_counter()
    second = tinyedge("build", "--board", "nano33", "--json", cwd=folder)
    second_seconds = time.perf_counter() - started
    assert second.returncode == 0, second.stderr[-3000:]
    return Build(folder, first, first_seconds, second, second_seconds)


@pytest.fixture(scope="session")
def small_digits(tmp_path_factory) -> Path:
    """A small slice of the digits as a user .npz (fast training in the tests that need any)."""
    from sklearn.datasets import load_digits
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    path = tmp_path_factory.mktemp("small_digits") / "digits_small.npz"
    np.savez(path, x_train=x[:400], y_train=y[:400], x_test=x[1500:1600], y_test=y[1500:1600])
    return path
