"""The element-wise kernels (te_elementwise.c, te_elementwise2.c) compiled for Cortex-M4 and Cortex-M3
and run in QEMU: every output byte equals the tflite_micro interpreter's, for two zoo models that hold
HARD_SWISH, PRELU, LEAKY_RELU, RSQRT, L2_NORMALIZATION, SUB, MAXIMUM, MINIMUM and SQUARED_DIFFERENCE,
and one with LOG_SOFTMAX; and ARG_MAX and ARG_MIN with int32 indices as the model's output, whose bytes
(4 per index) are compared likewise. (int64 ARG_MAX, which TFLM refuses, is checked on the host only.)"""

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


@pytest.mark.parametrize("board", ["emu-m4", "emu-m3"])
@pytest.mark.parametrize("name", ["arg_max_int32_channels", "arg_min_int32_axis1"])
def test_int32_arg_max_and_arg_min_outputs_on_the_emulated_core_are_bit_exact(perf_zoo, emulator, tmp_path,
                                                                              board, name):
    path = native_model_zoo.arg_max_int32_model() if name == "arg_max_int32_channels" else perf_zoo[name]
    model = load(path)
    output = model.main.output_tensors()[0]
    arg = next(op for op in model.main.operators if op.opcode == ("ARG_MAX" if "max" in name else "ARG_MIN"))
    assert output.dtype == "int32" and arg.outputs == model.main.outputs
    values = model.main.tensors[arg.inputs[0]]     # the indices run along one of its axes
    target = Catalogue.load().get(board)
    shape = model.main.input_tensors()[0].shape
    batch = native_model_zoo.random_inputs(tuple(shape[1:]), "int8", SAMPLES, seed=13)
    for result in bench_each_sample(target, path, batch, tmp_path):
        indices = np.frombuffer(bytes.fromhex(result.output_hex), "<i4")
        assert indices.size == output.num_elements
        assert indices.min() >= 0 and indices.max() < max(values.shape)   # indices, not int8 bytes
        print(f"{name} on {board}: {result.instructions_per_inference} instructions per inference")
