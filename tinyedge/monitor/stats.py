"""The numpy mirror of the firmware's tinyedge_monitor_record: the same counters, counter by counter,
for a batch of int8 inputs and outputs (no latency: the host has no board ticks). It computes the
build's baseline and is the oracle the C is tested against."""

from __future__ import annotations

import numpy as np

from .snapshot import MonitorSnapshot
from .spec import (CONFIDENCE_BINS, INPUT_BINS, OUTPUT_BINS, UINT64_MAX, MonitorSpec,
                   reconstruction_errors)

UINT32_MAX = 2 ** 32 - 1
INT64_MAX, INT64_MIN = 2 ** 63 - 1, -2 ** 63


def _u32(value: int) -> int:
    return min(int(value), UINT32_MAX)


def _histogram(values: np.ndarray, bins: int) -> tuple[int, ...]:
    return tuple(_u32(v) for v in np.bincount(np.asarray(values, dtype=np.int64).ravel(), minlength=bins)[:bins])


def bin_of(values, edges) -> np.ndarray:
    """The contract's bin rule: the number of edges at or below the value."""
    return np.searchsorted(np.asarray(edges, dtype=np.int64), values, side="right")


def stats_of(spec: MonitorSpec, inputs, outputs) -> MonitorSnapshot:
    """The counters after the inferences of `inputs` (N x n int8) giving `outputs` (N x output_bytes
    int8), from a reset, latency left at 0."""
    x = np.asarray(inputs).astype(np.int8).reshape(-1, spec.input_bytes)
    y = np.asarray(outputs).astype(np.int8).reshape(-1, spec.output_bytes)
    if len(x) != len(y):
        raise ValueError(f"{len(x)} inputs but {len(y)} outputs")
    examined = x[:, ::spec.input_stride].astype(np.int64)
    values: dict = {
        "kind": spec.kind, "count": _u32(len(x)),
        "input_values": _u32(examined.size),
        "input_low": _u32(np.count_nonzero(examined == -128)),
        "input_high": _u32(np.count_nonzero(examined == 127)),
        "input_sum": int(min(max(int(examined.sum()), INT64_MIN), INT64_MAX)),
        "input_sum_squares": min(int((examined * examined).sum()), UINT64_MAX),
        "input_histogram": _histogram((examined + 128) >> 4, INPUT_BINS),
    }
    if spec.kind == "classifier":
        top = np.argmax(y, axis=1) if len(y) else np.zeros(0, np.int64)
        values["class_histogram"] = _histogram(np.minimum(top, spec.classes - 1), spec.classes)
        confidence = y[np.arange(len(y)), top].astype(np.int64)
        values["confidence_histogram"] = _histogram(bin_of(confidence, spec.confidence_edges),
                                                    CONFIDENCE_BINS)
    elif spec.kind == "regression":
        values["output_histogram"] = _histogram(bin_of(y.astype(np.int64).ravel(), spec.output_edges),
                                                OUTPUT_BINS)
    else:
        errors = reconstruction_errors(x, y, spec.input_zero_point, spec.output_zero_point,
                                       spec.error_multiplier)
        edges = np.asarray(spec.error_edges, dtype=np.uint64)
        values["error_histogram"] = _histogram(np.searchsorted(edges, errors, side="right"), OUTPUT_BINS)
        values["error_sum"] = min(sum(int(e) for e in errors), UINT64_MAX)
    return MonitorSnapshot(**values)
