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

_HARNESS = r"""/* Host harness: u32 sample count, then each sample's inputs in order on stdin; the outputs of
 * each sample in order on stdout. */
#include <stdio.h>
#include <stdlib.h>

#include "@P@_model.h"

static int read_exact(void *buffer, size_t size) {
    return fread(buffer, 1, size, stdin) == size;
}

int main(void) {
    unsigned char count_bytes[4];
    unsigned long count, sample;
    void *inputs[@U@_NUM_INPUTS];
    void *outputs[@U@_NUM_OUTPUTS];
    int i;
    if (!read_exact(count_bytes, 4)) {
        fprintf(stderr, "missing sample count\n");
        return 2;
    }
    count = (unsigned long)count_bytes[0] | ((unsigned long)count_bytes[1] << 8) |
            ((unsigned long)count_bytes[2] << 16) | ((unsigned long)count_bytes[3] << 24);
    for (i = 0; i < @U@_NUM_INPUTS; ++i) {
        inputs[i] = malloc(@P@_input_bytes[i] + 16);
    }
    for (i = 0; i < @U@_NUM_OUTPUTS; ++i) {
        outputs[i] = malloc(@P@_output_bytes[i] + 16);
    }
    for (sample = 0; sample < count; ++sample) {
        for (i = 0; i < @U@_NUM_INPUTS; ++i) {
            if (!read_exact(inputs[i], @P@_input_bytes[i])) {
                fprintf(stderr, "input ended after %lu samples\n", sample);
                return 2;
            }
        }
        if (@P@_invoke_multi((const void *const *)inputs, outputs) != 0) {
            fprintf(stderr, "invoke failed on sample %lu\n", sample);
            return 3;
        }
        for (i = 0; i < @U@_NUM_OUTPUTS; ++i) {
            fwrite(outputs[i], 1, @P@_output_bytes[i], stdout);
        }
    }
    return fflush(stdout) == 0 ? 0 : 4;
}
"""


def harness_source(prefix: str) -> str:
    return _HARNESS.replace("@P@", prefix).replace("@U@", prefix.upper())


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
    def build(cls, model: TFLiteModel, prefix: str = "tinyedge") -> "NativeRunner":
        runtime = generate(model, prefix)
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
