"""tinyedge's port of TFLM's requantization (codegen/quantization.conv_multipliers and
codegen/fast.tflm_requantize) against an independent oracle: the real TFLM interpreter running a
converter-made int8 1x1 convolution. The accumulators are computed here from the model's own integers
(sum of (x - input zero point) * weight + bias), so every output byte TFLM gives is a check of the
multiplier, the shift, the rounding and the saturation, over per-channel scales the converter chose."""

from __future__ import annotations

import numpy as np
import pytest

from tinyedge.codegen.fast import tflm_requantize
from tinyedge.codegen.quantization import conv_multipliers
from tinyedge.tflite.model import parse
from tinyedge.tflite.tflm import TflmRunner

CHANNELS_IN, CHANNELS_OUT, SIDE = 8, 48, 12


@pytest.fixture(scope="module")
def pointwise_model() -> bytes:
    """Conv2D 1x1 with spread weights (so the per-channel scales differ by orders of magnitude) and
    large biases, converted to full int8 by the real converter."""
    import tf_keras

    from tinyedge.pipeline import quantize
    tf_keras.utils.set_random_seed(4)
    rng = np.random.default_rng(4)
    features = tf_keras.Input((SIDE, SIDE, CHANNELS_IN))
    conv = tf_keras.layers.Conv2D(CHANNELS_OUT, 1)
    model = tf_keras.Model(features, conv(features), name="pointwise")
    spread = np.logspace(-3, 1, CHANNELS_OUT).astype(np.float32)
    kernel = rng.normal(size=(1, 1, CHANNELS_IN, CHANNELS_OUT)).astype(np.float32) * spread
    conv.set_weights([kernel, rng.normal(size=CHANNELS_OUT).astype(np.float32) * spread * 3])
    calibration = rng.uniform(-1, 1, (32, SIDE, SIDE, CHANNELS_IN)).astype(np.float32)
    return quantize.convert_int8(model, calibration)


def test_requantization_matches_the_real_tflm_interpreter(pointwise_model):
    model = parse(pointwise_model)
    graph = model.main
    (conv,) = [op for op in graph.operators if op.opcode == "CONV_2D"]
    x_tensor, w_tensor, b_tensor = (graph.tensors[i] for i in conv.inputs[:3])
    y_tensor = graph.tensors[conv.outputs[0]]
    weights = w_tensor.data.reshape(CHANNELS_OUT, CHANNELS_IN).astype(np.int64)
    bias = b_tensor.data.astype(np.int64)
    in_zero, out_zero = int(x_tensor.quantization.zero_point[0]), int(y_tensor.quantization.zero_point[0])
    multipliers, shifts = conv_multipliers(float(x_tensor.quantization.scale[0]),
                                           np.asarray(w_tensor.quantization.scale),
                                           float(y_tensor.quantization.scale[0]), CHANNELS_OUT)
    assert len(set(shifts)) > 4              # the channels exercise many shifts

    inputs = np.random.default_rng(5).integers(-128, 128, (3, SIDE, SIDE, CHANNELS_IN)).astype(np.int8)
    inputs[0, 0, 0, :] = 127                  # the extremes of the accumulator
    inputs[0, 0, 1, :] = -128
    tflm = TflmRunner(pointwise_model).run(inputs).reshape(-1, CHANNELS_OUT)

    accumulators = (inputs.reshape(-1, CHANNELS_IN).astype(np.int64) - in_zero) @ weights.T + bias
    ours = np.array([[min(127, max(-128, tflm_requantize(int(acc), multipliers[c], shifts[c]) + out_zero))
                      for c, acc in enumerate(row)] for row in accumulators])
    in_range = (ours > -128) & (ours < 127)
    assert in_range.mean() > 0.5             # most outputs are not saturated: the arithmetic shows
    assert int((ours != tflm).sum()) == 0, "outputs that differ from TFLM's"
