"""Fixtures of the model pipeline tests: one real `tinyedge build` of the built-in example, shared."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pipeline_helpers import tinyedge


@dataclass
class Build:
    folder: Path
    first: subprocess.CompletedProcess
    second: subprocess.CompletedProcess

    @property
    def result(self) -> dict:
        return json.loads(self.first.stdout)

    @property
    def rerun(self) -> dict:
        return json.loads(self.second.stdout)


@pytest.fixture(scope="session")
def digits_build(trained_digits) -> Build:
    """`tinyedge build --board nano33 --json` in an empty folder (the session's `trained_digits`, the one
    run that trains the built-in example from nothing), then once more with nothing changed."""
    folder, first = trained_digits.folder, trained_digits.run
    second = tinyedge("build", "--board", "nano33", "--json", cwd=folder)
    assert second.returncode == 0, second.stderr[-3000:]
    return Build(folder, first, second)


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
