"""A user's MobileNetV3-style student (hard-swish activations, a squeeze-excite gate with hard-sigmoid,
a residual ADD), built end to end by `tinyedge build --runtime native` for emu-m4 and validated in QEMU:
the converter writes HARD_SWISH, the native firmware runs it, and all 360 test outputs equal host
TFLM's."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_helpers import build_native_student, validate_agrees_on_emu_m4

pytestmark = [pytest.mark.slow, pytest.mark.emulated]

# Written by a separate process: tf_keras layers only (no Lambda), so the pipeline loads it safely;
# x * relu6(x + 3) / 6 is what the converter fuses into HARD_SWISH.
STUDENT_SCRIPT = '''
import sys
import tinyedge  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import tf_keras as keras
L = keras.layers
keras.utils.set_random_seed(0)

def hard_sigmoid(x):
    return L.Rescaling(1.0 / 6.0)(L.ReLU(6.0)(L.Rescaling(1.0, offset=3.0)(x)))

def hard_swish(x):
    return L.Multiply()([x, hard_sigmoid(x)])

inputs = keras.Input((8, 8, 1))
x = hard_swish(L.BatchNormalization()(L.Conv2D(16, 3, padding="same", use_bias=False)(inputs)))
y = hard_swish(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same", use_bias=False)(x)))
gate = L.GlobalAveragePooling2D(keepdims=True)(y)
gate = hard_sigmoid(L.Conv2D(16, 1)(L.Conv2D(4, 1, activation="relu")(gate)))
y = L.BatchNormalization()(L.Conv2D(16, 1, use_bias=False)(L.Multiply()([y, gate])))
x = hard_swish(L.Conv2D(24, 1)(L.Add()([x, y])))
outputs = L.Dense(10, activation="softmax")(L.GlobalAveragePooling2D()(x))
keras.Model(inputs, outputs, name="mobilenetv3_block").save(sys.argv[1])
'''


def test_mobilenetv3_block_builds_with_native_and_validates_on_emu_m4(tmp_path: Path):
    ops, elf = build_native_student(tmp_path, STUDENT_SCRIPT, "mnv3", timeout=900)
    assert ops.count("HARD_SWISH") == 3 and "MEAN" in ops and "ADD" in ops, ops
    assert b"te_hard_swish_s8" in elf   # the native kernel is linked
    validate_agrees_on_emu_m4(tmp_path, timeout=900)
