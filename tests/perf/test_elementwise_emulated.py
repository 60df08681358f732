"""The element-wise kernels (te_elementwise.c, te_elementwise2.c) compiled for Cortex-M4 and Cortex-M3
and run in QEMU: every output byte equals the tflite_micro interpreter's, for two zoo models that hold
HARD_SWISH, PRELU, LEAKY_RELU, RSQRT, L2_NORMALIZATION, SUB, MAXIMUM, MINIMUM and SQUARED_DIFFERENCE,
and one with LOG_SOFTMAX.
(ARG_MAX/ARG_MIN write int32/int64 indices, which bench does not compare; the host test covers them.)"""

from __future__ import annotations

import numpy as np
import pytest

from tinyedge.boards import Catalogue
from tinyedge.tflite.model import load

import native_model_zoo
from support import bench_each_sample

pytestmark = pytest.mark.emulated

MODELS = {"elementwise_mix_activations": {"HARD_SWISH", "PRELU", "LEAKY_RELU", "RSQRT", "L2_NORMALIZATION"},
          "elementwise_mix_binary": {"SUB", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE"},
          "log_softmax_channels": {"LOG_SOFTMAX"}}
SAMPLES = 3   # the extremes (-128, 127 everywhere) and one random input


@pytest.mark.parametrize("board", ["emu-m4", "emu-m3"])
@pytest.mark.parametrize("name", MODELS)
def test_elementwise_ops_on_the_emulated_core_are_bit_exact(perf_zoo, emulator, tmp_path, board, name):
    model = load(perf_zoo[name])
    assert MODELS[name] <= {op.opcode for op in model.main.operators}
    target = Catalogue.load().get(board)
    shape = model.main.input_tensors()[0].shape
    batch = native_model_zoo.random_inputs(tuple(shape[1:]), "int8", SAMPLES, seed=13)
    for result in bench_each_sample(target, perf_zoo[name], batch, tmp_path):
        assert np.frombuffer(bytes.fromhex(result.output_hex), np.int8).size == model.main.output_tensors()[0].num_elements
