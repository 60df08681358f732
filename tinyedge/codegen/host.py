"""Runs the native runtime on the host: generate, compile once (cached), run all samples in one
process of a small harness that reads inputs on stdin and writes outputs on stdout."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ..errors import TinyedgeError
from ..hostcc import HARNESS_NAME, Executable, compile_program, run_program
from ..tflite.model import TFLiteModel
from . import GeneratedRuntime, generate


def harness_source(prefix: str) -> str:
    """The batch harness around the generated model `prefix` (templates/host/native_harness.c.j2)."""
    from ..project.render import render_template
    return render_template("host/native_harness.c.j2", {"prefix": prefix})


def program_sources(runtime: GeneratedRuntime) -> dict[str, str]:
    """Every file the host program needs: kernels, generated model, harness."""
    sources = {path.name: path.read_text() for path in runtime.kernel_sources}
    sources.update(runtime.files)
    sources[HARNESS_NAME] = harness_source(runtime.prefix)
    return sources


@dataclass
class NativeRunner:
    runtime: GeneratedRuntime
    executable: Executable

    @classmethod
    def build(cls, model: TFLiteModel, prefix: str = "tinyedge", optimize: str = "speed") -> "NativeRunner":
        runtime = generate(model, prefix, optimize)
        return cls(runtime, compile_program(program_sources(runtime)))

    def check_batch(self, batch: np.ndarray, position: int = 0) -> np.ndarray:
        expected_shape = tuple(self.runtime.input_shapes[position][1:])
        dtype = np.dtype(self.runtime.input_dtypes[position])
        batch = np.asarray(batch)
        if batch.dtype != dtype:
            raise TinyedgeError(f"input dtype is {batch.dtype}, the model takes {dtype}",
                                "quantize the inputs with the model's input scale and zero point"
                                if dtype == np.int8 else "convert the inputs to float32")
        if batch.ndim < 1 or tuple(batch.shape[1:]) != expected_shape:
            raise TinyedgeError(f"input shape is {tuple(batch.shape)}, the model takes "
                                f"(N, {', '.join(map(str, expected_shape))})", "reshape the inputs")
        return np.ascontiguousarray(batch)

    def run_multi(self, batches: list[np.ndarray]) -> list[np.ndarray]:
        if len(batches) != len(self.runtime.input_shapes):
            raise TinyedgeError(f"the model takes {len(self.runtime.input_shapes)} inputs, got {len(batches)}",
                                "pass one array per model input")
        batches = [self.check_batch(b, i) for i, b in enumerate(batches)]
        count = batches[0].shape[0]
        if any(b.shape[0] != count for b in batches):
            raise TinyedgeError("the inputs hold different numbers of samples", "pass N samples for each input")
        # Interleave per sample: the harness reads each sample's inputs in order.
        payload = bytearray(struct.pack("<I", count))
        for sample in range(count):
            for b in batches:
                payload += b[sample].astype(b.dtype.newbyteorder("<"), copy=False).tobytes()
        raw = run_program(self.executable.path, bytes(payload))
        out_dtypes = [np.dtype(d).newbyteorder("<") for d in self.runtime.output_dtypes]
        per_sample = [int(np.prod(s[1:])) * d.itemsize for s, d in zip(self.runtime.output_shapes, out_dtypes)]
        if len(raw) != count * sum(per_sample):
            raise TinyedgeError(f"the native runtime returned {len(raw)} bytes, expected {count * sum(per_sample)}",
                                "this is a tinyedge bug; please report it")
        stride = sum(per_sample)
        records = np.frombuffer(raw, dtype=np.uint8).reshape(count, stride)
        results, start = [], 0
        for shape, dtype, size in zip(self.runtime.output_shapes, out_dtypes, per_sample):
            block = np.ascontiguousarray(records[:, start:start + size])
            results.append(block.view(dtype).reshape(count, *shape[1:]).astype(dtype.newbyteorder("=")))
            start += size
        return results

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Inputs (N, *input_shape[1:]) -> outputs (N, *output_shape[1:]) for single-I/O models."""
        return self.run_multi([batch])[0]
