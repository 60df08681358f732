"""A user's Keras LSTM classifier (each 8x8 digit read as 8 time steps of 8 pixels), built end to end by
`tinyedge build --runtime native` for emu-m4 and validated in QEMU: the converter writes
UNIDIRECTIONAL_SEQUENCE_LSTM, the native firmware runs it (te_lstm_s8), and all 360 test outputs equal
host TFLM's. Each sample starts from the LSTM's reset state, on the device (the kernel) and on the host
interpreter (reset before each sample), as a Keras LSTM reads each sequence: the int8 accuracy stays
near the float student's instead of falling to chance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline_helpers import tinyedge

pytestmark = [pytest.mark.slow, pytest.mark.emulated]

# Written by a separate process: tf_keras layers only (no Lambda), so the pipeline loads it safely.
STUDENT_SCRIPT = '''
import sys
import tinyedge  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import tf_keras as keras
L = keras.layers
keras.utils.set_random_seed(0)
inputs = keras.Input((8, 8, 1))
x = L.LSTM(24)(L.Reshape((8, 8))(inputs))
outputs = L.Dense(10, activation="softmax")(x)
keras.Model(inputs, outputs, name="lstm_classifier").save(sys.argv[1])
'''

PROJECT = '''
[project]
name = "lstm"
board = "emu-m4"

[data]
augment = false

[teacher]
epochs = 8

[student]
architecture = "student.keras"

[distillation]
epochs = 30
alpha = 0.5

[runtime]
kind = "native"
'''


def test_keras_lstm_classifier_builds_with_native_and_validates_on_emu_m4(tmp_path: Path):
    subprocess.run([sys.executable, "-c", STUDENT_SCRIPT, str(tmp_path / "student.keras")], check=True,
                   capture_output=True, timeout=300)
    (tmp_path / "tinyedge.toml").write_text(PROJECT)

    built = tinyedge("build", "--board", "emu-m4", "--runtime", "native", "--json", cwd=tmp_path, timeout=1200)
    assert built.returncode == 0, built.stderr[-3000:]
    result = json.loads(built.stdout)
    assert result["runtime"] == "native"

    from tinyedge.tflite.model import load
    ops = [op.opcode for op in load(Path(result["tflite"])).main.operators]
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops, ops
    assert b"te_lstm_s8" in Path(result["elf"]).read_bytes()   # the native kernel is linked

    validated = tinyedge("validate", "--board", "emu-m4", "--json", cwd=tmp_path, timeout=1200)
    assert validated.returncode == 0, validated.stderr[-3000:]
    report = json.loads(validated.stdout)
    assert report["complete"] and report["samples"] == 360
    assert report["agreement"] == 1.0
    # a trained model (outputs that vary with the input), not a constant one agreeing trivially
    assert report["device_accuracy"] == report["host_accuracy"] > 0.5
