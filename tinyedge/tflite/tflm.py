"""The real TFLite Micro interpreter (PyPI `tflite-micro`) on the host: the oracle for outputs and
for the arena size.

Arena note: this interpreter is compiled for the 64-bit host, where TFLM's bookkeeping structs are
larger than on a 32-bit MCU, so the smallest host arena is an upper bound of the device's (a few
hundred bytes to ~2 KB more). That makes it a safe size for the tflm runtime on a board.
"""

from __future__ import annotations

import faulthandler
import os
import sys
from dataclasses import dataclass

import numpy as np

from ..errors import TinyedgeError
from .model import parse

ARENA_ALIGNMENT = 16


def _runtime():
    from tflite_micro import runtime  # imported late: loads a large native extension
    return runtime


def _interpreter(model_bytes: bytes, arena_size: int):
    return _runtime().Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_size)


def _allocates(model_bytes: bytes, arena_size: int) -> bool:
    """Whether TFLM allocates the model in this arena, tried in a forked child: some kernels
    (FULLY_CONNECTED) do not check a failed persistent allocation, so an arena a little too small can
    crash the process (SIGSEGV) instead of raising. A crash counts as "does not fit"."""
    _runtime()  # load the extension once in the parent, so children fork with it loaded
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        fits = False
        try:
            faulthandler.disable()  # an expected crash here is no news (pytest enables the handler)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            _interpreter(model_bytes, arena_size)
            fits = True
        finally:
            os._exit(0 if fits else 1)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status) == 0


def smallest_arena(model_bytes: bytes) -> int:
    """Smallest arena (multiple of 16 bytes) in which the real TFLM allocates and runs the model.

    Found by bisection over real allocation attempts, then confirmed by one invoke."""
    high = max(4096, len(model_bytes) * 4)
    while not _allocates(model_bytes, high):
        high *= 2
        if high > 512 * 1024 * 1024:
            raise TinyedgeError("TFLM cannot allocate this model in any arena up to 512 MB",
                                "check that every op is supported by TFLM ('tinyedge inspect')")
    low = 0
    while high - low > ARENA_ALIGNMENT:
        middle = (low + high) // 2 // ARENA_ALIGNMENT * ARENA_ALIGNMENT
        if _allocates(model_bytes, middle):
            high = middle
        else:
            low = middle
    interpreter = _interpreter(model_bytes, high)
    for index in range(len(parse(model_bytes).main.inputs)):
        details = interpreter.get_input_details(index)
        interpreter.set_input(np.zeros(details["shape"], dtype=details["dtype"]), index)
    interpreter.invoke()
    return high


@dataclass
class TensorInfo:
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int


class TflmRunner:
    """Runs batches through one TFLM interpreter instance (single input, single output models
    unless the methods with an explicit index are used)."""

    def __init__(self, model_bytes: bytes, arena_size: int | None = None):
        arena = arena_size or max(smallest_arena(model_bytes) * 2, 64 * 1024)
        try:
            self.interpreter = _interpreter(model_bytes, arena)
        except RuntimeError as exc:
            raise TinyedgeError(f"TFLM could not load the model: {exc}",
                                "run 'tinyedge inspect' on it to see unsupported ops") from None
        self.input = self._info(self.interpreter.get_input_details(0))
        self.output = self._info(self.interpreter.get_output_details(0))

    @staticmethod
    def _info(details: dict) -> TensorInfo:
        quant = details.get("quantization_parameters", {}) or {}
        # Float tensors report empty numpy arrays here, whose truth value is an error.
        scales = list(quant.get("scales", [])) or [0.0]
        zeros = list(quant.get("zero_points", [])) or [0]
        return TensorInfo(tuple(int(d) for d in details["shape"]), np.dtype(details["dtype"]),
                          float(scales[0]), int(zeros[0]))

    def run_one(self, sample: np.ndarray) -> np.ndarray:
        sample = np.asarray(sample, dtype=self.input.dtype).reshape(self.input.shape)
        self.interpreter.set_input(sample, 0)
        self.interpreter.invoke()
        return np.array(self.interpreter.get_output(0)).reshape(self.output.shape[1:])

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Inputs (N, *input_shape[1:]) in the model's input dtype -> outputs (N, *output_shape[1:])."""
        batch = np.asarray(batch)
        expected = self.input.shape[1:]
        if batch.dtype != self.input.dtype:
            raise TinyedgeError(f"input dtype is {batch.dtype}, the model takes {self.input.dtype}",
                                "quantize the inputs with the model's input scale and zero point")
        if tuple(batch.shape[1:]) != expected:
            raise TinyedgeError(f"input shape is {tuple(batch.shape)}, the model takes (N, "
                                f"{', '.join(map(str, expected))})", "reshape the inputs")
        outputs = np.empty((batch.shape[0], *self.output.shape[1:]), dtype=self.output.dtype)
        for index in range(batch.shape[0]):
            outputs[index] = self.run_one(batch[index])
        return outputs
