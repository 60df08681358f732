"""Helpers that test modules import (`from support import ...`); fixtures live in conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

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


def firmware_quantize(x, scale: float, zero_point: int) -> np.ndarray:
    """The firmware's input quantization (templates/common/tinyedge.h.j2) written out here, apart from
    tinyedge's own: float32 x / scale, rounded half away from zero, plus the zero point, saturated."""
    scaled = np.asarray(x, dtype=np.float32) / np.float32(scale)
    rounded = np.trunc(scaled + np.where(scaled >= 0, np.float32(0.5), np.float32(-0.5)))
    return np.clip(rounded + zero_point, -128, 127).astype(np.int8)
