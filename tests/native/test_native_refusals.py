"""Models the native kernels cannot compute are refused in one line naming the tensor, never with a
traceback (a fuzzed FULLY_CONNECTED whose weights lost their quantization once crashed the lowering)."""

from __future__ import annotations

import dataclasses

import pytest

import native_model_zoo
from tinyedge.codegen import generate
from tinyedge.errors import TinyedgeError
from tinyedge.tflite.model import load


def test_fully_connected_weights_without_quantization_are_refused_in_one_line():
    model = load(native_model_zoo.pertensor_dense_model())
    graph = model.main
    dense = next(op for op in graph.operators if op.opcode == "FULLY_CONNECTED")
    weights = graph.tensors[dense.inputs[1]]
    graph.tensors[dense.inputs[1]] = dataclasses.replace(weights, quantization=None)
    with pytest.raises(TinyedgeError) as refused:
        generate(model)
    assert refused.value.message == (f"operator {dense.index} (FULLY_CONNECTED) has weights '{weights.name}' "
                                  f"without quantization parameters; the native runtime takes int8-quantized "
                                  f"weights")
    assert refused.value.hint == "quantize the model to int8 (full-integer PTQ), or use --runtime tflm"
