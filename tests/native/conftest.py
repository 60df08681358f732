"""Fixtures of the native-runtime tests: the random model zoo and a persistent compile cache."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import native_model_zoo  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def native_compile_cache():
    """Compiled harnesses go to a tmp folder that survives between sessions (keyed by content)."""
    previous = os.environ.get("XDG_CACHE_HOME")
    folder = Path(tempfile.gettempdir()) / "tinyedge-native-test-cache"
    os.environ["XDG_CACHE_HOME"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous


@pytest.fixture(scope="session")
def zoo() -> dict[str, Path]:
    return native_model_zoo.build_zoo(lambda message: print(message, file=sys.stderr))
