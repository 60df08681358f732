"""The real TFLite Micro interpreter (PyPI `tflite-micro`) on the host: the oracle for outputs and
for the arena size.

Arena note: this interpreter is compiled for the 64-bit host, where TFLM's bookkeeping structs are
larger than on a 32-bit MCU, so the smallest host arena is an upper bound of the device's (a few
hundred bytes to ~2 KB more). That makes it a safe size for the tflm runtime on a board.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import sys
import tempfile
from dataclasses import dataclass

import numpy as np

from ..errors import TinyedgeError
from .model import parse

ARENA_ALIGNMENT = 16


def _runtime():
    from tflite_micro import runtime  # imported late: loads a large native extension
    return runtime


def _interpreter(model_bytes: bytes, arena_size: int, preserve_all_tensors: bool = False):
    runtime = _runtime()
    if preserve_all_tensors:   # every tensor keeps its own buffer (GetTensor), as a TFLM layer build
        return runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_size,
                                              intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    return runtime.Interpreter.from_bytes(bytes(model_bytes), arena_size=arena_size)


def _isolated(work) -> tuple[str, bytes, str]:
    """Runs `work()` (returning bytes) in a forked child, so that a crash of the interpreter on a damaged
    model cannot take tinyedge down. Returns (outcome, payload, log): ("ok", the bytes), ("error", the
    exception's text) or ("crash", the signal's name); `log` is what the child printed (TFLM reports
    its reasons on stderr)."""
    _runtime()  # load the extension once in the parent, so children fork with it loaded
    sys.stdout.flush()
    sys.stderr.flush()
    log = tempfile.TemporaryFile()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_end)
            faulthandler.disable()  # an expected crash here is no news (pytest enables the handler)
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            try:
                message = b"O" + work()
                code = 0
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                message = b"E" + " ".join(str(exc).split()).encode("utf-8", "replace")
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(message)
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read()
    _, status = os.waitpid(child, 0)
    log.seek(0)
    text = log.read().decode("utf-8", "replace")
    log.close()
    if os.WIFSIGNALED(status):
        return "crash", signal.Signals(os.WTERMSIG(status)).name.encode(), text
    if message[:1] == b"O" and os.waitstatus_to_exitcode(status) == 0:
        return "ok", message[1:], text
    return "error", message[1:] or f"exit status {os.waitstatus_to_exitcode(status)}".encode(), text


def _reason(outcome: str, payload: bytes, log: str) -> str:
    """TFLM's own words for a failure: its first log line that is not the generic summary."""
    if outcome == "crash":
        return f"the interpreter crashed ({payload.decode()})"
    lines = [" ".join(line.split()) for line in log.splitlines() if line.strip()]
    detail = next((line for line in lines if "failed to prepare" not in line), lines[0] if lines else "")
    summary = payload.decode("utf-8", "replace")
    return f"{detail} ({summary})" if detail else summary


def _allocates(model_bytes: bytes, arena_size: int, preserve_all_tensors: bool = False) -> tuple[bool, str]:
    """Whether TFLM allocates the model in this arena, tried in a forked child: some kernels
    (FULLY_CONNECTED) do not check a failed persistent allocation, so an arena a little too small can
    crash the process (SIGSEGV) instead of raising. A crash counts as "does not fit". The second value
    is TFLM's reason when it does not."""
    def work() -> bytes:
        _interpreter(model_bytes, arena_size, preserve_all_tensors)
        return b""
    outcome, payload, log = _isolated(work)
    return outcome == "ok", "" if outcome == "ok" else _reason(outcome, payload, log)


def smallest_arena(model_bytes: bytes, preserve_all_tensors: bool = False) -> int:
    """Smallest arena (multiple of 16 bytes) in which the real TFLM allocates and runs the model.

    Found by bisection over real allocation attempts, then confirmed by one invoke (in a child too).
    `preserve_all_tensors`: with InterpreterConfig.kPreserveAllTensors (no tensor shares a buffer), the
    arena of a TFLM layer build's MicroInterpreter(..., preserve_all_tensors = true)."""
    high = max(4096, len(model_bytes) * 4)
    while True:
        fits, reason = _allocates(model_bytes, high, preserve_all_tensors)
        if fits:
            break
        high *= 2
        if high > 512 * 1024 * 1024:
            raise TinyedgeError(f"TFLM cannot allocate this model in any arena up to 512 MB: {reason}",
                                "TFLM's own reason is given; export the model again, fully int8-quantized "
                                "(tinyedge build does)")
    low = 0
    while high - low > ARENA_ALIGNMENT:
        middle = (low + high) // 2 // ARENA_ALIGNMENT * ARENA_ALIGNMENT
        if _allocates(model_bytes, middle, preserve_all_tensors)[0]:
            high = middle
        else:
            low = middle
    inputs = len(parse(model_bytes).main.inputs)

    def work() -> bytes:
        interpreter = _interpreter(model_bytes, high, preserve_all_tensors)
        for index in range(inputs):
            details = interpreter.get_input_details(index)
            interpreter.set_input(np.zeros(details["shape"], dtype=details["dtype"]), index)
        interpreter.invoke()
        return b""
    outcome, payload, log = _isolated(work)
    if outcome != "ok":
        raise TinyedgeError(f"TFLM allocates this model but fails to run it: {_reason(outcome, payload, log)}",
                            "the model file is probably corrupt; export it again")
    return high


@dataclass
class TensorInfo:
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int


class TflmRunner:
    """Runs batches through one TFLM interpreter instance. `run` returns the first output (single
    output models), `run_all` every output; both run the interpreter in a forked child, so a crash on
    a damaged model is a one-line error."""

    def __init__(self, model_bytes: bytes, arena_size: int | None = None):
        self.model_bytes = bytes(model_bytes)
        arena = arena_size or max(smallest_arena(model_bytes) * 2, 64 * 1024)
        try:
            self.interpreter = _interpreter(model_bytes, arena)
        except RuntimeError as exc:
            raise TinyedgeError(f"TFLM could not load the model: {' '.join(str(exc).split())}",
                                "run 'tinyedge inspect' on it to see unsupported ops") from None
        self.input = self._info(self.interpreter.get_input_details(0))
        graph = parse(model_bytes).main
        self.outputs = [self._info(self.interpreter.get_output_details(index))
                        for index in range(len(graph.outputs))]
        self.output = self.outputs[0]
        # Variable tensors (an LSTM's or SVDF's state) persist between invokes until the interpreter is
        # reset; every sample is an independent input here (a Keras LSTM starts each sequence from a
        # zero state), so they are reset before each one. The native runtime does the same.
        self.has_state = any(tensor.is_variable for tensor in graph.tensors)

    @staticmethod
    def _info(details: dict) -> TensorInfo:
        quant = details.get("quantization_parameters", {}) or {}
        # Float tensors report empty numpy arrays here, whose truth value is an error.
        scales = list(quant.get("scales", [])) or [0.0]
        zeros = list(quant.get("zero_points", [])) or [0]
        return TensorInfo(tuple(int(d) for d in details["shape"]), np.dtype(details["dtype"]),
                          float(scales[0]), int(zeros[0]))

    def run_one(self, sample: np.ndarray) -> np.ndarray:
        """The first output for one sample, in this process (no crash protection: the model is one
        `run` has already run)."""
        return self._invoke(sample)[0]

    def _invoke(self, sample: np.ndarray) -> list[np.ndarray]:
        sample = np.asarray(sample, dtype=self.input.dtype).reshape(self.input.shape)
        if self.has_state:
            self.interpreter.reset()
        self.interpreter.set_input(sample, 0)
        self.interpreter.invoke()
        return [np.array(self.interpreter.get_output(index)).reshape(info.shape[1:])
                for index, info in enumerate(self.outputs)]

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Inputs (N, *input_shape[1:]) in the model's input dtype -> outputs (N, *output_shape[1:])."""
        return self.run_all(batch)[0]

    def run_all(self, batch: np.ndarray) -> list[np.ndarray]:
        """Inputs (N, *input_shape[1:]) -> one array (N, *output_shape[1:]) per model output."""
        batch = np.asarray(batch)
        expected = self.input.shape[1:]
        if batch.dtype != self.input.dtype:
            raise TinyedgeError(f"input dtype is {batch.dtype}, the model takes {self.input.dtype}",
                                "quantize the inputs with the model's input scale and zero point")
        if tuple(batch.shape[1:]) != expected:
            raise TinyedgeError(f"input shape is {tuple(batch.shape)}, the model takes (N, "
                                f"{', '.join(map(str, expected))})", "reshape the inputs")
        outputs = [np.empty((batch.shape[0], *info.shape[1:]), dtype=info.dtype) for info in self.outputs]

        def work() -> bytes:
            for index in range(batch.shape[0]):
                for array, result in zip(outputs, self._invoke(batch[index])):
                    array[index] = result
            return b"".join(np.ascontiguousarray(array).tobytes() for array in outputs)
        outcome, payload, log = _isolated(work)
        if outcome != "ok":
            raise TinyedgeError(f"TFLM failed to run the model: {_reason(outcome, payload, log)}",
                                "the model file is probably corrupt; export it again")
        results, start = [], 0
        for array in outputs:
            results.append(np.frombuffer(payload, array.dtype, array.size, start).reshape(array.shape).copy())
            start += array.nbytes
        return results
