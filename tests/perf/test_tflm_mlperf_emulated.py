"""The four MLPerf Tiny models on emu-m4, the native firmware and TFLM + CMSIS-NN compiled from a local
TFLM tree (TINYEDGE_TFLM_DIR), each run in QEMU on the model's reference input: both outputs equal the
TFLM output the reference file recorded (../shared/reference/tflm-emulated-m4.json, measured once with the
same TFLM and CMSIS-NN commits), and TFLM's instruction count is within 5% of the one recorded there.
Skipped, with that reason, when TINYEDGE_TFLM_DIR is unset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tinyedge.bench import run_bench
from tinyedge.boards import Catalogue
from tinyedge.tflite.model import load

TREE = os.environ.get("TINYEDGE_TFLM_DIR", "")

pytestmark = [
    pytest.mark.emulated, pytest.mark.slow,
    pytest.mark.skipif(not TREE, reason="TINYEDGE_TFLM_DIR is not set (a TFLM tree from create_tflm_tree.py)"),
]


@pytest.mark.parametrize("key", ["kws", "vww", "ic", "ad"])
def test_native_and_tflm_side_by_side_against_the_reference(shared_dir, key):
    entry = json.loads((shared_dir / "reference" / "tflm-emulated-m4.json").read_text())["models"][key]
    folder = shared_dir / "models" / "mlperf-tiny"
    model = folder / entry["tflite"]
    shape = load(model).main.input_tensors()[0].shape
    sample = np.fromfile(folder / entry["input"], dtype=np.int8).reshape(1, *shape[1:])
    board = Catalogue.load().get("emu-m4")
    native = run_bench(board, model, "native", sample, console=lambda line: None)
    tflm = run_bench(board, model, "tflm", sample, console=lambda line: None, tflm_dir=Path(TREE))
    assert native.output_hex == entry["tflm_output_hex"]
    assert tflm.output_hex == entry["tflm_output_hex"]
    recorded = entry["cmsis-nn"]["instructions_per_inference"]
    assert abs(tflm.instructions_per_inference - recorded) <= 0.05 * recorded, \
        f"TFLM + CMSIS-NN {tflm.instructions_per_inference:,} instructions, the reference {recorded:,}"
    print(f"{key}: native {native.instructions_per_inference:,} / TFLM {tflm.instructions_per_inference:,} = "
          f"{native.instructions_per_inference / tflm.instructions_per_inference:.2f} (reference {recorded:,})")
