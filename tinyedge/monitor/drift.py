"""Judging one window of inferences against the build's baseline.

A histogram has drifted when its population stability index reaches [monitor] psi_threshold AND the
chi-square test of homogeneity (window against baseline, a 2 x bins table) gives p below p_value: PSI
alone flags small windows by chance, the test alone flags huge windows for negligible shifts. The
input's saturated share drifts when it rises more than saturation_increase over the baseline's; the
mean latency when it moves more than latency_tolerance (relative) from the board's validation.json.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .snapshot import MonitorSnapshot

PSI_EPSILON = 1e-4      # the share an empty bin counts with, so PSI stays finite
# The statistics a window is judged on, in the order they are shown.
HISTOGRAM_LABELS = {"input_histogram": "input histogram", "class_histogram": "class histogram",
                    "confidence_histogram": "confidence", "output_histogram": "output histogram",
                    "error_histogram": "reconstruction error"}
SATURATION = "saturation"
LATENCY = "latency"


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.25
    p_value: float = 0.01
    saturation_increase: float = 0.05
    latency_tolerance: float = 0.10
    min_samples: int = 100

    @classmethod
    def of(cls, settings: dict) -> "Thresholds":
        return cls(float(settings["psi_threshold"]), float(settings["p_value"]),
                   float(settings["saturation_increase"]), float(settings["latency_tolerance"]),
                   int(settings["min_samples"]))


def psi(baseline, window, epsilon: float = PSI_EPSILON) -> float:
    """sum((q - p) * ln(q / p)) over the bins, p and q the shares (each at least epsilon)."""
    p = np.asarray(baseline, dtype=np.float64)
    q = np.asarray(window, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0
    p = np.maximum(p / p.sum(), epsilon)
    q = np.maximum(q / q.sum(), epsilon)
    return float(np.sum((q - p) * np.log(q / p)))


def chi_square(baseline, window) -> tuple[float, float]:
    """The chi-square statistic and p-value of homogeneity of the two count vectors (bins empty in
    both dropped; fewer than two bins left: no evidence, p = 1)."""
    table = np.array([baseline, window], dtype=np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    from scipy.stats import chi2_contingency
    result = chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


@dataclass
class Finding:
    statistic: str              # a histogram's field name, "saturation" or "latency"
    label: str
    drift: bool
    value: float | None         # PSI, the window's saturated share, the window's mean latency
    baseline: float | None      # None for PSI; the baseline's share; validation's mean latency
    p_value: float | None = None
    threshold: float | None = None

    def text(self) -> str:
        if self.statistic == SATURATION:
            return f"saturated {self.value:.1%} (baseline {self.baseline:.1%})"
        if self.statistic == LATENCY:
            return f"latency {self.value:,.0f} (validation {self.baseline:,.0f})"
        return f"{self.label} PSI {self.value:.3f} p {self.p_value:.2g}"

    def to_json(self) -> dict:
        return {"statistic": self.statistic, "label": self.label, "drift": self.drift,
                "value": _finite(self.value), "baseline": _finite(self.baseline),
                "p_value": _finite(self.p_value), "threshold": self.threshold}


def _finite(value):
    return None if value is None or not math.isfinite(value) else value


@dataclass
class Judgement:
    inferences: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def drift(self) -> bool:
        return any(f.drift for f in self.findings)

    @property
    def drifted(self) -> list[str]:
        return [f.statistic for f in self.findings if f.drift]

    def to_json(self) -> dict:
        return {"inferences": self.inferences, "drift": self.drift, "drifted": self.drifted,
                "findings": [f.to_json() for f in self.findings]}


def judge(window: MonitorSnapshot, baseline: MonitorSnapshot, thresholds: Thresholds,
          validation_latency: float | None = None) -> Judgement:
    """Every statistic of `window` (the inferences since the last judged reading) against the
    baseline's; latency only against a validation mean (the host has no board ticks)."""
    judgement = Judgement(window.count)
    reference = baseline.histograms()
    for name, counts in window.histograms().items():
        base = reference.get(name) or ()
        if not base or len(base) != len(counts):
            continue
        index = psi(base, counts)
        _, p = chi_square(base, counts)
        judgement.findings.append(Finding(name, HISTOGRAM_LABELS[name],
                                          index >= thresholds.psi and p < thresholds.p_value,
                                          index, None, p, thresholds.psi))
    share, base_share = window.saturated_share, baseline.saturated_share
    if share is not None and base_share is not None:
        judgement.findings.append(Finding(SATURATION, "saturated inputs",
                                          share - base_share > thresholds.saturation_increase,
                                          share, base_share, None,
                                          base_share + thresholds.saturation_increase))
    mean = window.latency_mean
    if mean is not None and validation_latency:
        change = abs(mean - validation_latency) / validation_latency
        judgement.findings.append(Finding(LATENCY, "mean latency", change > thresholds.latency_tolerance,
                                          mean, validation_latency, None, thresholds.latency_tolerance))
    return judgement
