"""The host side of the comparison: the test inputs quantized to int8 exactly as the build's host
evaluation and the firmware quantize them (tinyedge.int8_io), and the real TFLM interpreter's int8
outputs for them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import TinyedgeError
from ..int8_io import dequantize, quantize


@dataclass(frozen=True)
class HostReference:
    inputs: np.ndarray          # (N, *input_shape[1:]) int8: what is sent to the device
    outputs: np.ndarray         # (N, output bytes) int8: TFLM on the host
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int

    def dequantize(self, outputs: np.ndarray) -> np.ndarray:
        return dequantize(outputs, self.output_scale, self.output_zero_point)


def host_reference(model_bytes: bytes, x: np.ndarray) -> HostReference:
    from ..tflite.tflm import TflmRunner

    runner = TflmRunner(model_bytes)
    if runner.input.dtype != np.int8 or runner.output.dtype != np.int8:
        raise TinyedgeError(f"the model takes {runner.input.dtype} and gives {runner.output.dtype}; "
                            "validation sends and compares int8", "rebuild it with 'tinyedge build'")
    expected = tuple(runner.input.shape[1:])
    if tuple(x.shape[1:]) != expected:
        raise TinyedgeError(f"the test data has inputs of shape {tuple(x.shape[1:])}, the model takes "
                            f"{expected}", "rebuild: 'tinyedge build' writes both from the same data")
    inputs = quantize(x, runner.input.scale, runner.input.zero_point)
    outputs = runner.run(inputs).reshape(len(inputs), -1)
    return HostReference(inputs, outputs, runner.input.scale, runner.input.zero_point,
                         runner.output.scale, runner.output.zero_point)
