"""A user's Keras LSTM classifier (each 8x8 digit read as 8 time steps of 8 pixels), built end to end by
`tinyedge build --runtime native` for emu-m4 and validated in QEMU: the converter writes
UNIDIRECTIONAL_SEQUENCE_LSTM, the native firmware runs it (te_lstm_s8), and all 360 test outputs equal
host TFLM's. Each sample starts from the LSTM's reset state, on the device (the kernel) and on the host
interpreter (reset before each sample), as a Keras LSTM reads each sequence: the int8 accuracy stays
near the float student's instead of falling to chance."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_helpers import build_native_student, validate_agrees_on_emu_m4

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


def test_keras_lstm_classifier_builds_with_native_and_validates_on_emu_m4(tmp_path: Path):
    ops, elf = build_native_student(tmp_path, STUDENT_SCRIPT, "lstm", timeout=1200)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops, ops
    assert b"te_lstm_s8" in elf   # the native kernel is linked
    validate_agrees_on_emu_m4(tmp_path, timeout=1200)
