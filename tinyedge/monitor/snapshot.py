"""MonitorSnapshot: the monitor's counters as the device keeps them (tinyedge_monitor_stats), read
from its `te-monitor` reply, computed by the numpy mirror (stats.py) or stored in a baseline.

Counters are cumulative since the device's last reset; `minus` gives the window between two readings.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

from ..errors import TinyedgeError
from .spec import CONFIDENCE_BINS, INPUT_BINS, KINDS, LATENCY_BINS, OUTPUT_BINS

PREFIX = "m-te-monitor-"
_HISTOGRAMS = {"latency-histogram": "latency_histogram", "input-histogram": "input_histogram",
               "class-histogram": "class_histogram", "confidence-histogram": "confidence_histogram",
               "output-histogram": "output_histogram", "error-histogram": "error_histogram"}
_LIST = re.compile(r"\[(-?\d+(?:,-?\d+)*)?\]$")
# The histograms every kind has, and each kind's own.
KIND_HISTOGRAMS = {"classifier": ("class_histogram", "confidence_histogram"),
                   "regression": ("output_histogram",), "autoencoder": ("error_histogram",)}
HISTOGRAM_BINS = {"latency_histogram": LATENCY_BINS, "input_histogram": INPUT_BINS,
                  "confidence_histogram": CONFIDENCE_BINS, "output_histogram": OUTPUT_BINS,
                  "error_histogram": OUTPUT_BINS}
MONITOR_HINT = "build with [monitor] enabled = true (or --monitor) and flash the firmware again"


@dataclass(frozen=True)
class MonitorSnapshot:
    kind: str
    count: int = 0
    latency_min: int = 0
    latency_max: int = 0
    latency_sum: int = 0
    latency_reference: int = 0
    latency_histogram: tuple[int, ...] = (0,) * LATENCY_BINS
    input_values: int = 0
    input_low: int = 0
    input_high: int = 0
    input_sum: int = 0
    input_sum_squares: int = 0
    input_histogram: tuple[int, ...] = (0,) * INPUT_BINS
    class_histogram: tuple[int, ...] = ()
    confidence_histogram: tuple[int, ...] = ()
    output_histogram: tuple[int, ...] = ()
    error_histogram: tuple[int, ...] = ()
    error_sum: int = 0

    # ---- derived figures ---------------------------------------------------------------------

    @property
    def saturated_share(self) -> float | None:
        """The share of examined input values at -128 or 127 (None without any)."""
        return (self.input_low + self.input_high) / self.input_values if self.input_values else None

    @property
    def input_mean(self) -> float | None:
        return self.input_sum / self.input_values if self.input_values else None

    @property
    def input_std(self) -> float | None:
        if not self.input_values:
            return None
        mean = self.input_sum / self.input_values
        return max(self.input_sum_squares / self.input_values - mean * mean, 0.0) ** 0.5

    @property
    def latency_mean(self) -> float | None:
        return self.latency_sum / self.count if self.count and self.latency_sum else None

    def histograms(self) -> dict[str, tuple[int, ...]]:
        """The histograms a drift judgement compares (latency has no baseline: it is judged against
        validation.json's mean)."""
        names = ("input_histogram",) + KIND_HISTOGRAMS[self.kind]
        return {name: getattr(self, name) for name in names}

    # ---- arithmetic --------------------------------------------------------------------------

    def minus(self, earlier: "MonitorSnapshot") -> "MonitorSnapshot":
        """The inferences since `earlier` (same reset): counts and sums subtract; min and max cannot,
        so they stay this reading's (since the reset)."""
        if earlier.kind != self.kind:
            raise TinyedgeError(f"a {self.kind} reading cannot be compared with a {earlier.kind} one")
        if earlier.count > self.count:
            raise TinyedgeError(f"the earlier reading counts {earlier.count} inferences, this one "
                                f"{self.count}: the device was reset in between")
        values = {}
        for name, value in asdict(self).items():
            if name in ("kind", "latency_min", "latency_max", "latency_reference"):
                continue
            before = getattr(earlier, name)
            if isinstance(value, (list, tuple)):
                before = before or (0,) * len(value)
                values[name] = tuple(a - b for a, b in zip(value, before))
            else:
                values[name] = value - before
        return replace(self, **values)

    def plus(self, other: "MonitorSnapshot") -> "MonitorSnapshot":
        """Two windows together (a final window too small to judge merged into the one before)."""
        values = {}
        for name, value in asdict(self).items():
            if name in ("kind", "latency_reference"):
                continue
            theirs = getattr(other, name)
            if name == "latency_min":
                values[name] = min(v for v in (value, theirs) if v) if (value or theirs) else 0
            elif name == "latency_max":
                values[name] = max(value, theirs)
            elif isinstance(value, (list, tuple)):
                theirs = theirs or (0,) * len(value)
                values[name] = tuple(a + b for a, b in zip(value, theirs))
            else:
                values[name] = value + theirs
        return replace(self, **values)

    # ---- formats -----------------------------------------------------------------------------

    def to_json(self) -> dict:
        data = asdict(self)
        for name, value in data.items():
            if isinstance(value, tuple):
                data[name] = list(value)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "MonitorSnapshot":
        try:
            values = {name: tuple(int(v) for v in value) if isinstance(value, list) else value
                      for name, value in data.items() if name in cls.__dataclass_fields__}
            snapshot = cls(**values)
        except (TypeError, ValueError) as exc:
            raise TinyedgeError(f"monitor statistics are damaged ({exc})",
                                "build again with [monitor] enabled = true") from None
        if snapshot.kind not in KINDS:
            raise TinyedgeError(f"monitor statistics of an unknown kind '{snapshot.kind}'",
                                "build again with [monitor] enabled = true")
        return snapshot

    @classmethod
    def parse(cls, lines: list[str], source: str = "the device") -> "MonitorSnapshot":
        """The `te-monitor` reply's m-te-monitor-... lines (other lines are ignored)."""
        values: dict = {}
        for line in lines:
            at = line.find(PREFIX)
            if at < 0:
                continue
            body = line[at + len(PREFIX):].strip()
            try:
                _parse_field(body, values)
            except ValueError:
                raise TinyedgeError(f"{source} sent a monitor line that does not parse: {line.strip()[:80]}",
                                    MONITOR_HINT) from None
        if "kind" not in values or "count" not in values:
            raise TinyedgeError(f"{source} answered 'te-monitor' without its kind and count",
                                MONITOR_HINT)
        if values["kind"] not in KINDS:
            raise TinyedgeError(f"{source} reports a monitor of kind '{values['kind']}'", MONITOR_HINT)
        missing = [name for name in ("input_histogram", "latency_histogram",
                                     *KIND_HISTOGRAMS[values["kind"]]) if name not in values]
        if missing:
            raise TinyedgeError(f"{source} answered 'te-monitor' without its {', '.join(missing)}",
                                MONITOR_HINT)
        for name, bins in HISTOGRAM_BINS.items():
            if name in values and len(values[name]) != bins:
                raise TinyedgeError(f"{source} sent {len(values[name])} bins of {name}, not {bins}",
                                    MONITOR_HINT)
        return cls(**values)


def _numbers(text: str, count: int | None = None) -> tuple[int, ...]:
    match = _LIST.fullmatch(text)
    if not match:
        raise ValueError(text)
    numbers = tuple(int(v) for v in match.group(1).split(",")) if match.group(1) else ()
    if count is not None and len(numbers) != count:
        raise ValueError(text)
    return numbers


def _parse_field(body: str, values: dict) -> None:
    if body.startswith("kind-"):
        values["kind"] = body[len("kind-"):]
        return
    if body.startswith("count-"):
        values["count"] = int(body[len("count-"):])
        return
    if body.startswith("error-sum-"):
        values["error_sum"] = int(body[len("error-sum-"):])
        return
    for key, name in _HISTOGRAMS.items():
        if body.startswith(key + "-"):
            values[name] = _numbers(body[len(key) + 1:])
            return
    if body.startswith("latency-"):
        (values["latency_min"], values["latency_max"], values["latency_sum"],
         values["latency_reference"]) = _numbers(body[len("latency-"):], 4)
        return
    if body.startswith("input-"):
        (values["input_values"], values["input_low"], values["input_high"], values["input_sum"],
         values["input_sum_squares"]) = _numbers(body[len("input-"):], 5)
        return
    raise ValueError(body)
