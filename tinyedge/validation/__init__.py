"""Validation on the device: the build's test split sent over the serial link, compared with the host
TFLM reference bit for bit, with accuracy, agreement, confusion matrix, latency and link throughput,
written as validation.json and an HTML report with plots."""

from .buildinfo import BuildFolder, load_build_folder
from .metrics import ValidationMetrics, compute_metrics
from .runner import ValidationFailed, ValidationResult, validate

__all__ = ["BuildFolder", "ValidationFailed", "ValidationMetrics", "ValidationResult", "compute_metrics",
           "load_build_folder", "validate"]
