"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# ../shared beside the checkout (the MLPerf Tiny models and the TFLM reference figures).
SHARED = REPO.parent / "shared"


def run_tinyedge(*args: str, cwd: Path | None = None, env: dict | None = None,
                 timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real entry point (`python -m tinyedge`) as a user would, capturing its output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "tinyedge", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def tinyedge_cli():
    return run_tinyedge


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "models" / "mlperf-tiny").is_dir():
        pytest.skip(f"{SHARED} is absent (the MLPerf Tiny models live beside the checkout in CI)")
    return SHARED
