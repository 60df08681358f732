"""Helpers of the model pipeline tests (a module of its own: the name 'conftest' is taken twice)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def tinyedge(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """The real entry point, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "tinyedge", *args], cwd=cwd, env=dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)
