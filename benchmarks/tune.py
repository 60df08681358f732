"""Seconds per trial and per stage of `tinyedge tune`: N trials of the built-in example (digits) in an
empty folder on a board, or the study an existing project's build folder holds (--dir DIR --trials 0).

    .venv/bin/python benchmarks/tune.py [--board emu-m4] [--trials 3] [--epochs 10] [--dir DIR]

Per trial: its build (each stage from the trial's manifest, 'cached' when the trial reused it: the
teacher's data and teacher stages are trained once), the measurement on the board's target and the
whole trial; then the mean of each stage over the trials that ran it."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOML = """\
[project]
name = "digits"

[data]
source = "digits"

[budgets]
min_accuracy = 0.95

[tune]
epochs = {epochs}
compression_epochs = {compression_epochs}
"""
SKIPPED = ("plot",)
# The pipeline's order (tinyedge.pipeline.compress.STEPS between student and int8).
ORDER = ("data", "teacher", "student", "low_rank", "prune", "cluster", "qat", "int8", "tflm", "firmware")


def tune(folder: Path, board: str, trials: int) -> tuple[float, dict]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "tinyedge", "tune", "--board", board, "--trials", str(trials),
                             "--json"], cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(result.stderr.strip().splitlines()[-1])
    return seconds, json.loads(result.stdout)


def read_study(folder: Path, board: str) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tinyedge import api
    from tinyedge.tune.promote import load_result
    return load_result(api.open_project(folder, board)).to_json()


def stage_seconds(row: dict) -> dict[str, float | None]:
    """stage -> seconds (None: cached) from the trial's manifest and its stage status."""
    try:
        manifest = json.loads((Path(row["build_dir"]) / "manifest.json").read_text())
    except (OSError, ValueError, KeyError):
        return {}
    status = row.get("stage_status") or {}
    return {name: (None if status.get(name) == "cached" else float(record.get("seconds", 0.0)))
            for name, record in manifest["stages"].items() if name in status and name not in SKIPPED}


def report(data: dict, wall: float | None) -> None:
    rows = [row for row in data["trials"] if row.get("seconds")]
    stages: list[str] = []
    per_trial = {}
    for row in rows:
        per_trial[row["number"]] = stage_seconds(row)
        stages += [name for name in per_trial[row["number"]] if name not in stages]
    stages.sort(key=lambda name: ORDER.index(name) if name in ORDER else len(ORDER))
    teacher = data.get("teacher") or {}
    head = f"study {data['study']} on {data['board']}: {len(data['trials'])} trials"
    if wall is not None:
        head += f", {len(data.get('ran') or [])} this run in {wall:.1f} s wall ({data.get('seconds', 0):.1f} s in tune.run)"
    print(head)
    if teacher:
        print(f"teacher (data + teacher stages, once for the study): {teacher.get('seconds', 0):.1f} s, "
              f"{teacher.get('status')}")
    columns = ["trial", "state"] + stages + ["build", "measure", "trial s"]
    widths = [max(7 if name != "state" else 10, len(name) + 1) for name in columns]
    print("".join(name.rjust(width) for name, width in zip(columns, widths)))
    for row in data["trials"]:
        seconds = row.get("seconds") or {}
        own = per_trial.get(row["number"], {})
        cells = [str(row["number"]), row["state"].lower()]
        cells += ["cached" if own.get(name, 0) is None else (f"{own[name]:.1f}" if name in own else "-")
                  for name in stages]
        cells += [f"{seconds[key]:.1f}" if key in seconds else "-" for key in ("build", "measure", "trial")]
        print("".join(cell.rjust(width) for cell, width in zip(cells, widths)))
    print("mean over the trials that ran the stage (cached ones left out):")
    for name in stages:
        values = [own[name] for own in per_trial.values() if own.get(name) is not None]
        cached = sum(1 for own in per_trial.values() if name in own and own[name] is None)
        if values:
            print(f"  {name:<10} {sum(values) / len(values):7.2f} s over {len(values)} trial(s)"
                  + (f", cached in {cached}" if cached else ""))
        else:
            print(f"  {name:<10}  cached in all {cached} trial(s)")
    for key in ("build", "measure", "trial"):
        values = [row["seconds"][key] for row in rows if key in row["seconds"]]
        if values:
            print(f"  {key:<10} {sum(values) / len(values):7.2f} s per "
                  f"trial (min {min(values):.1f}, max {max(values):.1f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="emu-m4")
    parser.add_argument("--trials", type=int, default=3, help="trials to run (0: read the study of --dir)")
    parser.add_argument("--epochs", type=int, default=10, help="distillation epochs of a trial (tune.epochs)")
    parser.add_argument("--compression-epochs", type=int, default=2)
    parser.add_argument("--dir", type=Path, help="a project folder (its study continues) instead of a new one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tinyedge-tune-bench-") as temporary:
        folder = args.dir or Path(temporary)
        if args.dir is None:
            (folder / "tinyedge.toml").write_text(TOML.format(epochs=args.epochs,
                                                              compression_epochs=args.compression_epochs))
        if args.trials > 0:
            wall, data = tune(folder, args.board, args.trials)
            report(data, wall)
        else:
            report(read_study(folder, args.board), None)


if __name__ == "__main__":
    main()
