"""The figures of a validation run, as pure functions of the device's and the host's int8 outputs.

Agreement is the share of samples whose int8 output on the device is identical, byte for byte, to the
host TFLM output. Latency is per inference in the unit the device reports: instructions on emulated
boards (never seconds: QEMU's clock is not the board's), cycles or microseconds on real ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Latency:
    unit: str                   # "instructions", "cycles" or "us"
    mean: float
    median: float
    p99: float
    minimum: float
    maximum: float
    # Microseconds from the device's timer rate, on real boards with a cycle counter; None otherwise.
    microseconds: dict | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ValidationMetrics:
    samples: int
    metric: str                         # "accuracy" (classification) or "mse"
    device_accuracy: float | None
    host_accuracy: float | None
    device_mse: float | None
    host_mse: float | None
    agreement: float
    disagreeing_samples: list[int]
    confusion_matrix: list[list[int]] | None   # rows: true class, columns: device prediction
    latency: Latency | None


def summarise_latency(values: list[float], unit: str, ticks_per_second: int | None = None) -> Latency | None:
    """Mean, median and 99th percentile (numpy's linear interpolation) of per-inference durations."""
    if not values:
        return None
    data = np.asarray(values, dtype=np.float64)
    microseconds = None
    if unit == "cycles" and ticks_per_second:
        seconds = data / ticks_per_second * 1e6
        microseconds = {"mean": float(seconds.mean()), "median": float(np.median(seconds)),
                        "p99": float(np.percentile(seconds, 99))}
    return Latency(unit, float(data.mean()), float(np.median(data)), float(np.percentile(data, 99)),
                   float(data.min()), float(data.max()), microseconds)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, classes: int) -> list[list[int]]:
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predictions.astype(np.int64)), 1)
    return matrix.tolist()


def compute_metrics(device_outputs: np.ndarray, host_outputs: np.ndarray, labels: np.ndarray,
                    metric: str, dequantize, latencies: list[float], latency_unit: str,
                    ticks_per_second: int | None = None) -> ValidationMetrics:
    """`device_outputs` and `host_outputs` are (N, output bytes) int8 for the same N samples;
    `dequantize` maps int8 outputs to real values (for the MSE of regression models)."""
    count = len(device_outputs)
    width = int(np.prod(np.shape(host_outputs)[1:]))
    device = np.asarray(device_outputs, dtype=np.int8).reshape(count, width)
    host = np.asarray(host_outputs, dtype=np.int8).reshape(count, width)
    labels = np.asarray(labels)[:count]
    same = np.all(device == host, axis=1) if count else np.zeros(0, dtype=bool)
    agreement = float(same.mean()) if count else 0.0
    device_accuracy = host_accuracy = device_mse = host_mse = None
    matrix = None
    if count and metric == "accuracy":
        # argmax of the int8 values is the argmax of the dequantized ones (the scale is positive).
        device_pred, host_pred = np.argmax(device, axis=1), np.argmax(host, axis=1)
        truth = labels.reshape(count).astype(np.int64)
        device_accuracy = float(np.mean(device_pred == truth))
        host_accuracy = float(np.mean(host_pred == truth))
        classes = max(device.shape[1], int(truth.max()) + 1)
        matrix = confusion_matrix(truth, device_pred, classes)
    elif count:
        target = labels.reshape(count, -1).astype(np.float64)
        device_mse = float(np.mean(np.square(dequantize(device) - target)))
        host_mse = float(np.mean(np.square(dequantize(host) - target)))
    return ValidationMetrics(count, metric, device_accuracy, host_accuracy, device_mse, host_mse, agreement,
                             [int(i) for i in np.flatnonzero(~same)], matrix,
                             summarise_latency(latencies, latency_unit, ticks_per_second))
