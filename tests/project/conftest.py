"""Fixtures of the firmware-project tests: two int8 models every key test runs on.

- `kws`: the MLPerf Tiny keyword-spotting model (int8, 54 KB) and its stored input, from ../shared
  beside the checkout; skipped with a reason where ../shared is absent.
- `digits`: a small CNN trained on scikit-learn's digits and converted by TensorFlow's converter
  (full-int8 PTQ, int8 input and output) — the native tests' model (tests/native/native_model_zoo.py,
  cached on disk), so these tests never depend on ../shared alone.

`model_case` is parametrized over both; `model_bundle` is its bundle.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import tinyedge

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "native"))

import native_model_zoo  # noqa: E402

SHARED = Path(tinyedge.__file__).parents[2] / "shared"
KWS = SHARED / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
KWS_INPUT = SHARED / "models" / "mlperf-tiny" / "inputs" / "kws.bin"
REFERENCE = SHARED / "reference" / "tflm-emulated-m4.json"
KWS_LABELS = ["down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "silence", "unknown"]
DIGITS_LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
MODEL_KEYS = ["kws", "digits"]


@dataclass(frozen=True)
class ModelCase:
    key: str                   # the test id and the golden listings' suffix
    path: Path
    labels: list[str]
    sample: np.ndarray         # one int8 input
    expected_output: bytes     # TFLM's int8 output for `sample`
    ops: list[str]             # the model's builtin ops, sorted
    resolver_methods: list[str]  # what the TFLM op resolver must add for them

    @property
    def model_bytes(self) -> bytes:
        return self.path.read_bytes()

    @property
    def classes(self) -> int:
        return len(self.labels)


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


@pytest.fixture(scope="session")
def kws_case(kws_path, kws_sample, kws_reference_output) -> ModelCase:
    return ModelCase("kws", kws_path, KWS_LABELS, kws_sample, kws_reference_output,
                     ["AVERAGE_POOL_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "RESHAPE", "SOFTMAX"],
                     ["AddAveragePool2D", "AddConv2D", "AddDepthwiseConv2D", "AddFullyConnected", "AddReshape",
                      "AddSoftmax"])


@pytest.fixture(scope="session")
def digits_case() -> ModelCase:
    """Trained and converted on first use (about 10 s), then read from the zoo's cache folder."""
    from tinyedge.tflite.tflm import TflmRunner

    path, inputs, _ = native_model_zoo.digits_model()
    sample = inputs[0]
    # The host TFLM interpreter is the oracle for this model's output.
    expected = TflmRunner(path.read_bytes()).run(sample[None])[0].astype(np.int8).tobytes()
    return ModelCase("digits", path, DIGITS_LABELS, sample.reshape(-1), expected,
                     ["CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "RESHAPE", "SOFTMAX"],
                     ["AddConv2D", "AddFullyConnected", "AddMaxPool2D", "AddReshape", "AddSoftmax"])


@pytest.fixture(scope="session", params=MODEL_KEYS)
def model_case(request) -> ModelCase:
    return request.getfixturevalue(f"{request.param}_case")


@pytest.fixture(scope="session")
def model_bundle(model_case: ModelCase):
    from tinyedge.project import make_bundle
    return make_bundle(model_case.model_bytes, model_case.key, model_case.labels, model_case.sample)
