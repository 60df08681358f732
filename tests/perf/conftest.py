"""Fixtures of the performance-path tests: the native tests' random model zoo, reused."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "native"))

import native_model_zoo  # noqa: E402


@pytest.fixture(scope="session")
def perf_zoo() -> dict[str, Path]:
    return native_model_zoo.build_zoo(lambda message: print(message, file=sys.stderr))


@pytest.fixture
def emulator():
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm and arm-none-eabi-gcc are needed for emulated runs")
