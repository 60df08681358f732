"""What the monitor counts for one model: the MonitorSpec, the one truth the firmware's C
(tinyedge_monitor.c, rendered from it) and the host's numpy mirror (stats.py) both follow.

Every number in it is fixed at build time on the host, so the device does integer work only: which
input bytes it examines (a stride), the int8 codes where the confidence and output histograms change
bin, and the fixed-point factor of an autoencoder's reconstruction error. The definitions are those of
/work/notes/i17-contract.md ("Definitions"); spec_for is their only implementation.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import TinyedgeError

KINDS = ("classifier", "regression", "autoencoder")
MAX_CLASSES = 64            # the class histogram's bins; a later class counts in the last one
INPUT_BINS = 16             # input_histogram: (code + 128) >> 4
LATENCY_BINS = 16
CONFIDENCE_BINS = 10
OUTPUT_BINS = 16            # output histogram (regression) and error histogram (autoencoder)
DEFAULT_INPUT_SAMPLES = 256
R8_LIMIT = 2 ** 20          # |error_multiplier| bound: (y - zo) * R8 stays inside int32
UINT64_MAX = 2 ** 64 - 1


@dataclass(frozen=True)
class MonitorSpec:
    kind: str                     # "classifier", "regression" or "autoencoder"
    input_bytes: int              # n: int8 elements of the (first) input tensor
    output_bytes: int
    input_zero_point: int
    output_zero_point: int
    input_scale: float
    output_scale: float
    input_stride: int             # examined input indices: 0, s, 2s, ... < n
    classes: int = 0              # C (classifier): min(output_bytes, 64)
    confidence_edges: tuple[int, ...] = field(default=())   # 9 codes, may be 128 (never reached)
    output_edges: tuple[int, ...] = field(default=())       # 15 int8 codes (regression)
    error_multiplier: int = 0                               # R8 (autoencoder)
    error_edges: tuple[int, ...] = field(default=())        # 15 uint64 values (autoencoder)

    @property
    def examined_per_inference(self) -> int:
        """m = ceil(n / s): the input values one inference adds to input_values."""
        return -(-self.input_bytes // self.input_stride)

    @property
    def output_bins(self) -> int:
        """The bins of the kind's output statistic (class histogram for a classifier)."""
        return self.classes if self.kind == "classifier" else OUTPUT_BINS

    def to_json(self) -> dict:
        data = asdict(self)
        for name in ("confidence_edges", "output_edges", "error_edges"):
            data[name] = [int(v) for v in data[name]]
        return data

    @classmethod
    def from_json(cls, data: dict | str) -> "MonitorSpec":
        if isinstance(data, str):
            data = json.loads(data)
        try:
            spec = cls(kind=str(data["kind"]), input_bytes=int(data["input_bytes"]),
                       output_bytes=int(data["output_bytes"]),
                       input_zero_point=int(data["input_zero_point"]),
                       output_zero_point=int(data["output_zero_point"]),
                       input_scale=float(data["input_scale"]), output_scale=float(data["output_scale"]),
                       input_stride=int(data["input_stride"]), classes=int(data.get("classes", 0)),
                       confidence_edges=tuple(int(v) for v in data.get("confidence_edges", ())),
                       output_edges=tuple(int(v) for v in data.get("output_edges", ())),
                       error_multiplier=int(data.get("error_multiplier", 0)),
                       error_edges=tuple(int(v) for v in data.get("error_edges", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise TinyedgeError(f"the monitor spec is incomplete or damaged ({type(exc).__name__}: {exc})",
                                "build again with [monitor] enabled = true") from None
        if spec.kind not in KINDS:
            raise TinyedgeError(f"the monitor spec names kind '{spec.kind}'",
                                f"one of {', '.join(KINDS)}; build again")
        return spec


def _kind(model, task: str | None, input_bytes: int, output_bytes: int) -> str:
    if task == "classification":
        return "classifier"
    if task == "autoencoder" and input_bytes == output_bytes:
        return "autoencoder"
    if task in ("regression", "autoencoder"):
        return "regression"
    main = model.main
    output_index = main.outputs[0]
    last = next((op for op in reversed(main.operators) if output_index in op.outputs), None)
    if last is not None and last.opcode == "SOFTMAX":
        return "classifier"
    return "autoencoder" if input_bytes == output_bytes else "regression"


def _quantization(tensor, what: str) -> tuple[float, int]:
    if tensor.dtype != "int8" or tensor.quantization is None or tensor.quantization.scale.size == 0:
        raise TinyedgeError(f"the model's {what} is {tensor.dtype} without int8 quantization",
                            "the monitor needs an int8 input and output ('tinyedge build' makes them)")
    return float(tensor.quantization.scale[0]), int(tensor.quantization.zero_point[0])


def input_stride(input_bytes: int, channels: int, input_samples: int = DEFAULT_INPUT_SAMPLES) -> int:
    """ceil(n / input_samples), then the next stride coprime with the channel count, so every channel
    is examined (an RGB image is not sampled on its red values only)."""
    if input_samples < 1:
        raise TinyedgeError(f"[monitor] input_samples is {input_samples}", "use a positive number")
    stride = max(1, -(-input_bytes // input_samples))
    while math.gcd(stride, max(channels, 1)) > 1:
        stride += 1
    return stride


def _ceil_fraction(span: int, k: int, parts: int) -> int:
    return -(-(span * k) // parts)


def equal_width_edges(lo: int, hi: int, bins: int) -> tuple[int, ...]:
    """lo + ceil((hi - lo) * k / bins), k = 1..bins-1: integer arithmetic, as rendered into C."""
    return tuple(int(lo) + _ceil_fraction(int(hi) - int(lo), k, bins) for k in range(1, bins))


def probability_edges(scale: float, zero_point: int) -> tuple[int, ...] | None:
    """The smallest code at or above each tenth of probability when every code dequantizes into [0, 1]
    (a softmax output); None otherwise. 128: no int8 code reaches that tenth."""
    if not ((-128 - zero_point) * scale >= -1e-6 and (127 - zero_point) * scale <= 1 + 1e-6):
        return None
    codes = np.arange(-128, 128)
    values = (codes - zero_point) * float(scale)
    edges = []
    for k in range(1, CONFIDENCE_BINS):
        reached = codes[values >= k / CONFIDENCE_BINS - 1e-9]
        edges.append(int(reached[0]) if reached.size else 128)
    return tuple(edges)


def error_multiplier(input_scale: float, output_scale: float) -> int:
    """R8 = round(256 * output_scale / input_scale), halves away from zero, clamped to ±2**20."""
    ratio = 256.0 * output_scale / input_scale
    rounded = int(math.floor(abs(ratio) + 0.5)) * (1 if ratio >= 0 else -1)
    return max(-R8_LIMIT, min(R8_LIMIT, rounded))


def reconstruction_errors(inputs: np.ndarray, outputs: np.ndarray, input_zero_point: int,
                          output_zero_point: int, multiplier: int) -> np.ndarray:
    """E per inference: sum over all n elements of ((x - zi) * 256 - (y - zo) * R8)**2, saturating at
    uint64's max as the C does (each term fits in uint64; only the sum can overflow)."""
    x = np.asarray(inputs, dtype=np.int64).reshape(len(inputs), -1)
    y = np.asarray(outputs, dtype=np.int64).reshape(len(outputs), -1)
    d = (x - input_zero_point) * 256 - (y - output_zero_point) * multiplier
    squares = (d * d).astype(np.uint64)
    approx = squares.astype(np.float64).sum(axis=1)
    exact = squares.sum(axis=1, dtype=np.uint64)          # wraps only where approx says it might
    result = []
    for row, (estimate, value) in enumerate(zip(approx, exact)):
        if estimate < 2.0 ** 63:
            result.append(int(value))
        else:
            result.append(min(UINT64_MAX, sum(int(v) for v in squares[row])))
    return np.array(result, dtype=np.uint64)


def quantile_edges(errors: np.ndarray) -> tuple[int, ...]:
    """np.quantile(errors, k/16, method="lower"), k = 1..15, by index in integers: the float path of
    np.quantile would round errors above 2**53."""
    ordered = np.sort(np.asarray(errors, dtype=np.uint64))
    last = len(ordered) - 1
    return tuple(int(ordered[(last * k) // OUTPUT_BINS]) for k in range(1, OUTPUT_BINS))


def default_error_edges() -> tuple[int, ...]:
    return (0,) + tuple(2 ** (2 * k) for k in range(1, OUTPUT_BINS - 1))


def spec_for(model, baseline: tuple[np.ndarray, np.ndarray] | None = None,
             input_samples: int = DEFAULT_INPUT_SAMPLES, task: str | None = None) -> MonitorSpec:
    """The spec of `model` (a TFLiteModel, its bytes or a .tflite path). `baseline`: the int8 inputs
    and outputs of the baseline run (the validation split through TFLM), which place the edges a
    model's quantization does not fix; None for a bare model (fixed default edges). `task`: the data's
    task ("classification", "regression", "autoencoder"); None decides from the model."""
    from ..tflite.model import TFLiteModel, load, parse
    if isinstance(model, (bytes, bytearray)):
        model = parse(bytes(model))
    elif not isinstance(model, TFLiteModel):
        model = load(model)
    main = model.main
    source, target = main.input_tensors()[0], main.output_tensors()[0]
    input_scale, input_zero = _quantization(source, "input")
    output_scale, output_zero = _quantization(target, "output")
    n, out = int(source.num_elements), int(target.num_elements)
    channels = int(source.shape[-1]) if source.shape else 1
    kind = _kind(model, task, n, out)
    stride = input_stride(n, channels, input_samples)
    codes = None
    if baseline is not None:
        inputs, codes = (np.asarray(a).astype(np.int8) for a in baseline)
        codes = codes.reshape(len(codes), -1)
        if codes.shape[0] == 0:
            codes = None
        inputs = inputs.reshape(len(inputs), -1)
    fields: dict = {}
    if kind == "classifier":
        fields["classes"] = min(out, MAX_CLASSES)
        edges = probability_edges(output_scale, output_zero)
        if edges is None:
            lo, hi = -128, 127
            if codes is not None:
                top = codes.max(axis=1).astype(int)
                lo, hi = int(top.min()), int(top.max())
            edges = equal_width_edges(lo, hi, CONFIDENCE_BINS)
        fields["confidence_edges"] = edges
    elif kind == "regression":
        lo, hi = (-128, 127) if codes is None else (int(codes.min()), int(codes.max()))
        fields["output_edges"] = equal_width_edges(lo, hi, OUTPUT_BINS)
    else:
        multiplier = error_multiplier(input_scale, output_scale)
        fields["error_multiplier"] = multiplier
        if codes is None:
            fields["error_edges"] = default_error_edges()
        else:
            errors = reconstruction_errors(inputs, codes, input_zero, output_zero, multiplier)
            fields["error_edges"] = quantile_edges(errors)
    return MonitorSpec(kind=kind, input_bytes=n, output_bytes=out, input_zero_point=input_zero,
                       output_zero_point=output_zero, input_scale=input_scale,
                       output_scale=output_scale, input_stride=stride, **fields)


def load_spec(build_dir: Path) -> MonitorSpec:
    """The spec stored in a build folder's monitor_baseline.json."""
    from .baseline import load_baseline
    return load_baseline(build_dir).spec
