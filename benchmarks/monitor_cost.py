"""What the model monitor ([monitor] enabled, firmware/monitor) costs on a board: `tinyedge bench` of the
same model with and without it (api.measure(monitor=...)), on the built-in example (digits) and one
MLPerf Tiny model, against the issue's limits: latency at most 2 % more, RAM and flash at most 1 KB more.

    python benchmarks/monitor_cost.py [--board emu-m4] [--digits MODEL.tflite] [--mlperf kws|ic|vww|ad]
                                      [--shared PATH] [--runtime native|tflm] [--build-dir DIR]

Latency is the board's unit per inference (instructions on an emulated board, which repeat exactly);
RAM is the ELF's data + bss (the monitor's statistics are static), flash its text + data. A bare model
has no baseline, so its monitor has the default edges (tinyedge.monitor.spec.spec_for(model, None)):
the same code and the same work per inference as a project build's. Without --digits the example's
model is taken from examples/digits/build/<board>/ or built in a temporary folder (about a minute).
Progress goes to stderr, the table to stdout; the exit status is 1 when a figure is over its limit.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import tinyedge
from tinyedge import api

# Run as a script, this folder is on sys.path: one way to find or build the example's model.
from footprint_estimates import MLPERF as MLPERF_FILES, _say, digits_model

ROOT = Path(tinyedge.__file__).resolve().parents[1]
MLPERF = dict(MLPERF_FILES)
# (label, BenchResult field, how the difference is judged, limit)
FIGURES = (("latency", "instructions_per_inference", "relative", 0.02),
           ("RAM (data + bss)", "ram_bytes", "bytes", 1024),
           ("flash (text + data)", "flash_bytes", "bytes", 1024))


def latency_of(result) -> float:
    """Per inference in the board's unit: instructions (emulated), else cycles, else microseconds."""
    for field in ("instructions_per_inference", "cycles_per_inference", "microseconds_per_inference"):
        value = getattr(result, field)
        if value is not None:
            return float(value)
    raise SystemExit(f"{result.model}: bench measured no latency")


def rows_of(name: str, without, with_monitor) -> list[dict]:
    rows = []
    for label, field, judged, limit in FIGURES:
        if field == "instructions_per_inference":
            before, after = latency_of(without), latency_of(with_monitor)
            unit = without.unit
        else:
            before, after = float(getattr(without, field)), float(getattr(with_monitor, field))
            unit = "B"
        change = after - before
        relative = change / before if before else 0.0
        within = relative <= limit if judged == "relative" else change <= limit
        rows.append({"model": name, "figure": label, "unit": unit, "without": before, "with": after,
                     "change": change, "relative": relative,
                     "limit": f"<= {limit:.0%}" if judged == "relative" else f"<= {limit:,} B",
                     "within": within})
    return rows


def table(rows: list[dict], board: str, runtime: str) -> list[str]:
    lines = [f"the model monitor's cost on {board} ({runtime} runtime): tinyedge bench without and with --monitor",
             f"{'model':<10} {'figure':<20} {'without':>14} {'with':>14} {'change':>12} {'relative':>9} "
             f"{'limit':>10}  ok"]
    for row in rows:
        unit = "" if row["unit"] == "B" else f" {row['unit'][:5]}"
        lines.append(f"{row['model']:<10} {row['figure']:<20} {row['without']:>14,.0f} {row['with']:>14,.0f} "
                     f"{row['change']:>+12,.0f} {row['relative']:>+9.2%} {row['limit']:>10}  "
                     f"{'yes' if row['within'] else 'NO'}{unit if row['figure'] == 'latency' else ''}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="emu-m4")
    parser.add_argument("--digits", type=Path, help="the example's int8 model (default: built or found)")
    parser.add_argument("--mlperf", default="kws", choices=sorted(MLPERF))
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared",
                        help="folder holding models/mlperf-tiny/ (default: ../shared)")
    parser.add_argument("--runtime", default="native", choices=("native", "tflm"))
    parser.add_argument("--build-dir", type=Path, help="keep the firmwares here (default: a temporary folder)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tinyedge-monitor-cost-") as scratch:
        base = options.build_dir or Path(scratch)
        models = [("digits", digits_model(options.board, options.digits, Path(scratch))),
                  (options.mlperf, options.shared / "models" / "mlperf-tiny" / MLPERF[options.mlperf])]
        rows = []
        for name, path in models:
            results = {}
            for monitor in (False, True):
                _say(f"{name}: bench {'with' if monitor else 'without'} the monitor on {options.board}")
                results[monitor] = api.measure(options.board, path, runtime=options.runtime, samples=1,
                                               monitor=monitor,
                                               build_dir=base / f"{name}-{'monitor' if monitor else 'plain'}")
            rows += rows_of(name, results[False], results[True])
    print("\n".join(table(rows, options.board, options.runtime)))
    return 0 if all(row["within"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
