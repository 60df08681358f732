"""The MLPerf Tiny benchmarks as the official runner (mlcommons/tiny, benchmark/runner) sees a device.

Per benchmark: the id `profile` names (the runner's scripts are keyed by it), how the bytes of `db`
become the model's input, how `results` prints, and the largest `db load` — the reference firmware's
behaviour (docs/mlperf.md says where each comes from). firmware/protocol/te_protocol.c implements it
in a benchmark build (TE_MLPERF_*, written into tinyedge_config.h from `config_context`);
`results_line` is the host's oracle: the same line computed from TFLM's output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import TinyedgeError
from .int8_io import dequantize, quantize


@dataclass(frozen=True)
class Benchmark:
    id: str                 # what `profile` prints: m-model-[kws01]
    title: str
    input: str              # the runner's files: "int8", "uint8" (minus 128 on the device), "float32"
    results: str            # "fixed3", "fixed3-commas", "truncated3", "mean-squared-error"
    db_bytes: int           # the reference's MAX_DB_INPUT_SIZE: the largest `db load`
    input_elements: int     # the model's int8 input
    output_elements: int    # the model's int8 output
    model_file: str         # the reference model in ../shared/models/mlperf-tiny/
    baud: int               # the runner's devices file: the DUT's rate in performance and accuracy modes
    devices_file: str       # that file, in benchmark/runner

    @property
    def input_bytes(self) -> int:
        """Bytes of one input as the runner sends it."""
        return self.input_elements * (4 if self.input == "float32" else 1)


BENCHMARKS = {benchmark.id: benchmark for benchmark in (
    Benchmark("kws01", "keyword spotting (DS-CNN)", "int8", "truncated3", 490, 490, 12,
              "kws_ref_model.tflite", 115200, "devices_kws_ic_vww.yaml"),
    Benchmark("vww01", "visual wake words (MobileNetV1 0.25)", "uint8", "fixed3-commas", 27648, 27648, 2,
              "vww_96_int8.tflite", 115200, "devices_kws_ic_vww.yaml"),
    Benchmark("ic01", "image classification (ResNet-8)", "uint8", "fixed3", 3072, 3072, 10,
              "pretrainedResnet_quant.tflite", 115200, "devices_kws_ic_vww.yaml"),
    Benchmark("ad01", "anomaly detection (dense autoencoder)", "float32", "mean-squared-error", 5120, 640, 640,
              "ad01_int8.tflite", 921600, "devices_ad.yaml"),
)}

# te_protocol.h's names for the input and results formats
_INPUT_MACROS = {"int8": "TE_MLPERF_INPUT_INT8", "uint8": "TE_MLPERF_INPUT_UINT8",
                 "float32": "TE_MLPERF_INPUT_FLOAT32"}
_RESULTS_MACROS = {"fixed3": "TE_MLPERF_RESULTS_FIXED3", "fixed3-commas": "TE_MLPERF_RESULTS_FIXED3_COMMAS",
                   "truncated3": "TE_MLPERF_RESULTS_TRUNCATED3",
                   "mean-squared-error": "TE_MLPERF_RESULTS_MEAN_SQUARED_ERROR"}


def benchmark_named(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise TinyedgeError(f"unknown MLPerf Tiny benchmark '{name}'",
                            f"choose one of {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def check_model(benchmark: Benchmark, bundle, source: str | None = None) -> None:
    """The model (from the file `source`) fits the benchmark the runner drives: int8 input and output
    of its sizes (one line otherwise)."""
    what = source or bundle.name
    found = (bundle.input.nbytes, bundle.output.nbytes)
    wanted = (benchmark.input_elements, benchmark.output_elements)
    if found != wanted or bundle.input.dtype != "int8" or bundle.output.dtype != "int8":
        raise TinyedgeError(f"{what} has {bundle.input.dtype} input of {found[0]} and {bundle.output.dtype} "
                            f"output of {found[1]} elements; {benchmark.id} needs int8 of {wanted[0]} and "
                            f"{wanted[1]}", f"pass the {benchmark.id} model with --model (its reference: "
                                            f"{benchmark.model_file})")
    if benchmark.input == "float32" and not bundle.input.scale > 0:
        raise TinyedgeError(f"{what}'s input has no quantization scale, so {benchmark.id}'s float32 "
                            "input cannot be quantized on the device", "pass a fully int8-quantized model")


def config_context(benchmark: Benchmark, bundle) -> dict:
    """The TE_MLPERF_* settings of templates/common/tinyedge_config.h.j2."""
    check_model(benchmark, bundle)
    return {"id": benchmark.id, "title": benchmark.title, "db_bytes": benchmark.db_bytes,
            "input_macro": _INPUT_MACROS[benchmark.input], "results_macro": _RESULTS_MACROS[benchmark.results],
            "float_input": benchmark.input == "float32",
            "input_scale": bundle.input.scale, "input_zero_point": bundle.input.zero_point}


def model_input(benchmark: Benchmark, data: bytes, scale: float, zero_point: int) -> np.ndarray:
    """The int8 input the device makes of one input as the runner sends it (flat)."""
    if len(data) != benchmark.input_bytes:
        raise TinyedgeError(f"{benchmark.id} takes {benchmark.input_bytes} bytes an input, not {len(data)}",
                            f"send {benchmark.input_elements} {benchmark.input} values")
    if benchmark.input == "float32":
        return quantize(np.frombuffer(data, dtype="<f4"), scale, zero_point)
    raw = np.frombuffer(data, dtype=np.uint8)
    return (raw ^ 0x80).view(np.int8) if benchmark.input == "uint8" else raw.view(np.int8)


def _truncated3(value: np.float32) -> str:
    """kws01's printer: "0." then (int)(v*10), (int)(v*100) % 10 and (int)(v*1000) % 10, float32
    products truncated toward zero, C's remainder (the sign of the dividend)."""
    digits = [int(np.float32(value * np.float32(factor))) for factor in (10, 100, 1000)]
    return "0." + str(digits[0]) + "".join(str(int(math.fmod(digit, 10))) for digit in digits[1:])


def results_line(benchmark: Benchmark, output: np.ndarray, output_scale: float, output_zero_point: int,
                 data: bytes) -> str:
    """The `m-results-[...]` line the benchmark's firmware prints for `output` (int8), the inference of
    the input `data` as the runner sent it: glibc's %0.3f of float32 values, as te_format_fixed3."""
    values = dequantize(np.asarray(output).ravel(), output_scale, output_zero_point)
    if benchmark.results == "mean-squared-error":
        sent = np.frombuffer(data, dtype="<f4")
        total = np.float32(0.0)
        for difference in (values - sent).astype(np.float32):   # summed in order, in float32
            total = np.float32(total + np.float32(difference * difference))
        return f"m-results-[{float(np.float32(total / np.float32(len(values)))):.3f}]"
    if benchmark.results == "truncated3":
        return "m-results-[" + ",".join(_truncated3(value) for value in values) + "]"
    printed = [f"{float(value):.3f}" for value in values]
    if benchmark.results == "fixed3-commas":
        return "m-results-[" + "".join(f"{text}," for text in printed) + "]"
    return "m-results-[" + ",".join(printed) + "]"
