"""Seconds of each pipeline stage: `tinyedge build --board nano33 --json` in an empty folder, then
again with nothing changed (every stage cached).

    .venv/bin/python benchmarks/pipeline_stages.py [--board nano33] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build(folder: Path, board: str) -> tuple[float, dict, str]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "tinyedge", "build", "--board", board, "--json"],
                            cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(result.stderr.strip().splitlines()[-1])
    return seconds, json.loads(result.stdout), result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="nano33")
    parser.add_argument("--keep", type=Path, help="build here instead of a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tinyedge-bench-") as temporary:
        folder = args.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        for label in ("first run (empty folder)", "second run (nothing changed)"):
            wall, result, progress = build(folder, args.board)
            manifest = json.loads(Path(result["manifest"]).read_text())
            print(f"{label}: {wall:.1f} s wall, {result['seconds']:.1f} s in the pipeline")
            for name, record in manifest["stages"].items():
                if name == "plot":
                    continue
                cached = f"{name}: cached" in progress.splitlines()
                print(f"  {name:<10} " + ("cached" if cached else f"{record['seconds']:7.2f} s"))
            print(f"  int8 accuracy (TFLM) {result['int8_accuracy']:.2%}, float {result['float_accuracy']:.2%}, "
                  f"teacher {result['teacher_params']:,} params / student {result['student_params']:,}")


if __name__ == "__main__":
    main()
