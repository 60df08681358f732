"""The monitor's baseline: the statistics the firmware would count on the validation split, computed
at build time on the host by running the int8 model through TFLM and the numpy mirror (stats.py), and
stored with the spec in the build folder's monitor_baseline.json (the pipeline stage "monitor")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import buildfiles as files
from ..errors import TinyedgeError
from ..fileio import write_bytes_atomic
from .snapshot import MonitorSnapshot
from .spec import MonitorSpec, spec_for
from .stats import stats_of

SPLIT = "validation"


@dataclass(frozen=True)
class Baseline:
    spec: MonitorSpec
    stats: MonitorSnapshot
    split: str
    samples: int

    def to_json(self) -> dict:
        return {"spec": self.spec.to_json(), "stats": self.stats.to_json(), "split": self.split,
                "samples": self.samples}


def compute(flatbuffer: bytes, x_real: np.ndarray, task: str | None, input_samples: int) -> Baseline:
    """Quantizes `x_real` as the firmware does (int8_io), runs it through TFLM, and counts."""
    from ..int8_io import quantize
    from ..tflite.tflm import TflmRunner, smallest_arena
    runner = TflmRunner(flatbuffer, arena_size=smallest_arena(flatbuffer))
    inputs = quantize(x_real, runner.input.scale, runner.input.zero_point)
    outputs = runner.run(inputs)
    spec = spec_for(flatbuffer, baseline=(inputs, outputs), input_samples=input_samples, task=task)
    return Baseline(spec, stats_of(spec, inputs, outputs), SPLIT, int(len(inputs)))


def write(build_dir: Path, baseline: Baseline) -> Path:
    path = Path(build_dir) / files.MONITOR_BASELINE
    write_bytes_atomic(path, (json.dumps(baseline.to_json(), indent=1) + "\n").encode())
    return path


def load_baseline(build_dir: Path) -> Baseline:
    path = Path(build_dir) / files.MONITOR_BASELINE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise TinyedgeError(f"{path} does not exist: the build has no monitor baseline",
                            "set [monitor] enabled = true in tinyedge.toml (or pass --monitor) and "
                            "build again") from None
    except (OSError, ValueError) as exc:
        raise TinyedgeError(f"{path} cannot be read ({type(exc).__name__})",
                            "build again with [monitor] enabled = true") from None
    if not isinstance(data, dict) or "spec" not in data or "stats" not in data:
        raise TinyedgeError(f"{path} holds no spec and statistics", "build again with [monitor] enabled = true")
    return Baseline(MonitorSpec.from_json(data["spec"]), MonitorSnapshot.from_json(data["stats"]),
                    str(data.get("split", SPLIT)), int(data.get("samples", 0)))
