"""Fixtures shared by every test tier."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import SHARED, run_tinyedge


@pytest.fixture
def tinyedge_cli():
    return run_tinyedge


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not (SHARED / "models" / "mlperf-tiny").is_dir():
        pytest.skip(f"{SHARED} is absent (the MLPerf Tiny models live beside the checkout in CI)")
    return SHARED
