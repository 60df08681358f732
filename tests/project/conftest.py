"""Fixtures of the firmware-project tests: the MLPerf Tiny keyword-spotting model (int8, 54 KB, every
op supported by the native runtime) and its stored input, from ../shared beside the checkout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tinyedge

SHARED = Path(tinyedge.__file__).parents[2] / "shared"
KWS = SHARED / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
KWS_INPUT = SHARED / "models" / "mlperf-tiny" / "inputs" / "kws.bin"
REFERENCE = SHARED / "reference" / "tflm-emulated-m4.json"
KWS_LABELS = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "silence", "unknown"]


@pytest.fixture(scope="session")
def kws_path() -> Path:
    if not KWS.is_file():
        pytest.skip(f"{KWS} is absent (the MLPerf Tiny models live in ../shared beside the checkout)")
    return KWS


@pytest.fixture(scope="session")
def kws_sample(kws_path) -> np.ndarray:
    return np.frombuffer(KWS_INPUT.read_bytes(), dtype=np.int8)


@pytest.fixture(scope="session")
def kws_reference_output(kws_path) -> bytes:
    """TFLM's int8 output for the stored input, measured on emulated mps2-an386 (the JSON in ../shared)."""
    return bytes.fromhex(json.loads(REFERENCE.read_text())["models"]["kws"]["tflm_output_hex"])


@pytest.fixture(scope="session")
def kws_bundle(kws_path, kws_sample):
    from tinyedge.project import make_bundle
    return make_bundle(kws_path.read_bytes(), "kws", KWS_LABELS, kws_sample)

