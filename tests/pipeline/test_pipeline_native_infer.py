"""Issue 4 on the built-in example: `tinyedge infer --runtime native` (the real CLI) gives, element for
element, the same int8 outputs as `tinyedge infer --runtime tflm` and as the tflite_micro interpreter
called here, on the whole test split of the example's own build (the session's `digits_build`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline_helpers import tinyedge
from tinyedge.tflite.tflm import TflmRunner

pytestmark = pytest.mark.slow


def _infer(runtime: str, model: Path, inputs: Path, outputs: Path) -> np.ndarray:
    run = tinyedge("infer", "--model", str(model), "--runtime", runtime, "--input", str(inputs),
                   "--output", str(outputs), cwd=inputs.parent)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout == ""            # progress goes to stderr; the result is the .npy file
    assert "Traceback" not in run.stderr
    return np.load(outputs)


def test_native_infer_equals_tflm_on_the_builtin_example_test_split(digits_build, tmp_path):
    result = digits_build.result
    model = Path(result["tflite"])
    with np.load(result["test_data"]) as test:
        x, y = test["x"], test["y"]
    oracle = TflmRunner(model.read_bytes())
    # The test split quantized with the model's own input scale and zero point.
    quantized = np.clip(np.round(x / oracle.input.scale) + oracle.input.zero_point, -128, 127).astype(np.int8)
    assert quantized.shape == (len(y), 8, 8, 1) and len(y) >= 300
    np.save(tmp_path / "x.npy", quantized)

    native = _infer("native", model, tmp_path / "x.npy", tmp_path / "native.npy")
    tflm = _infer("tflm", model, tmp_path / "x.npy", tmp_path / "tflm.npy")
    reference = oracle.run(quantized)

    assert native.dtype == tflm.dtype == reference.dtype == np.int8
    assert native.shape == tflm.shape == reference.shape == (len(y), 10)
    differing = np.argwhere(native != reference)
    assert differing.size == 0, (f"{len(differing)} of {native.size} outputs differ from tflite_micro; first "
                                 f"at sample {differing[0][0]}: native {native[tuple(differing[0])]}, "
                                 f"TFLM {reference[tuple(differing[0])]}")
    assert np.array_equal(tflm, reference)
    # The same outputs give the accuracy the build reported for its int8 model.
    assert np.mean(native.argmax(axis=1) == y) == result["int8_accuracy"]
