"""The official MLPerf Tiny runner (mlcommons/tiny, benchmark/runner, unmodified) against tinyedge's benchmark
firmware on an emulated board: for each benchmark, `tinyedge mlperf --serve` (tinyedge.mlperf_serve.serve)
and the runner's performance (-m p) and accuracy (-m a) scripts on a small data set in the runner's file
formats, every value the runner reports compared with TFLM's on the same input (tinyedge.mlperf.results_line).

    python benchmarks/mlperf_runner.py --runner PATH/tiny/benchmark/runner [--board emu-m4]
        [--shared PATH] [--benchmarks kws01,vww01,ic01,ad01] [--modes p,a] [--build-dir DIR]

The runner's Python is this one (it needs the runner's own packages: pyserial, PyYAML, numpy,
scikit-learn, matplotlib and pyusb; extra folders can come with PYTHONPATH). The data sets are made here
from the one input per model in ../shared/models/mlperf-tiny/inputs, varied per file, with labels that
cover every class (the runner's AUC needs them): their accuracy figures mean nothing, their values are
the check. Prints, per benchmark and mode: inferences, the runner's median throughput or Top-1/AUC line,
and how many reported values equal TFLM's. Exit status 1 when any differs or the runner fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import tinyedge
from tinyedge.boards import Catalogue
from tinyedge.int8_io import dequantize
from tinyedge.mlperf import BENCHMARKS, model_input, results_line
from tinyedge.mlperf_serve import serve
from tinyedge.project.firmware import build_firmware
from tinyedge.tflite.tflm import TflmRunner

ROOT = Path(tinyedge.__file__).resolve().parents[1]
RESULTS = re.compile(r"^m-results-\[([^]]+)\]$")
# Files per data set: at least the performance script's `loop 5`, and every class of a classifier.
FILES = {"kws01": 12, "vww01": 6, "ic01": 10, "ad01": 6}
AD_FRAMES = 8            # frames of 128 float32 per ad01 file: (8 - 5) + 1 = 4 windows of 2560 bytes
AD_STRIDE = 512          # bytes between windows (one frame), as the runner's ad01 y_labels.csv


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def write_data_set(benchmark, runner: TflmRunner, shared: Path, folder: Path) -> list[tuple[str, int, bytes]]:
    """<folder>/<id>/ with y_labels.csv (file, classes, class, bytes_to_send, stride) and the files;
    returns (file name, class, bytes) in the runner's order."""
    short = benchmark.id.removesuffix("01")
    base = np.fromfile(shared / "models" / "mlperf-tiny" / "inputs" / f"{short}.bin", dtype=np.int8)
    rng = np.random.default_rng(2024)
    target = folder / benchmark.id
    target.mkdir(parents=True, exist_ok=True)
    rows, files = [], []
    classes = 2 if benchmark.id == "ad01" else benchmark.output_elements
    for index in range(FILES[benchmark.id]):
        noisy = np.clip(base.astype(np.int32) + rng.integers(-6, 7, base.size), -128, 127).astype(np.int8)
        if benchmark.input == "float32":
            frames = dequantize(noisy, runner.input.scale, runner.input.zero_point).reshape(5, 128)
            extra = frames[rng.integers(0, 5, AD_FRAMES - 5)] + rng.normal(0, 0.5, (AD_FRAMES - 5, 128))
            data = np.concatenate([frames, extra]).astype("<f4").tobytes()
            sent, stride = benchmark.input_bytes, AD_STRIDE
        else:
            data = ((noisy.view(np.uint8) ^ 0x80) if benchmark.input == "uint8" else noisy.view(np.uint8)).tobytes()
            sent, stride = len(data), 0
        name = f"{benchmark.id}_{index:02d}.bin"
        (target / name).write_bytes(data)
        rows.append(f"{name},{classes},{index % classes},{sent},{stride}")
        files.append((name, index % classes, data))
    (target / "y_labels.csv").write_text("\n".join(rows) + "\n")
    return files


def expected_values(benchmark, runner: TflmRunner, data: bytes) -> list[float]:
    """The values the runner parses from the firmware's line for `data`, computed from TFLM's output."""
    output = runner.run_one(model_input(benchmark, data, runner.input.scale, runner.input.zero_point))
    line = results_line(benchmark, output, runner.output.scale, runner.output.zero_point, data)
    return [float(x) for x in RESULTS.match(line).group(1).split(",") if x.strip()]


def windows(benchmark, files, mode: str) -> list[tuple[str, bytes]]:
    """What the runner sends, in order: (file name, input). ad01 sends 2560-byte windows (only the
    first of each file in performance mode); the performance script loops over the first 5 files."""
    sent = []
    for name, _, data in files[:5] if mode == "p" else files:
        if benchmark.id == "ad01":
            starts = range(0, len(data) - benchmark.input_bytes + 1, AD_STRIDE)
            sent += [(name, data[start:start + benchmark.input_bytes]) for start in starts][:1 if mode == "p" else None]
        else:
            sent.append((name, data))
    return sent


def run_runner(runner_dir: Path, devices: str, data_folder: Path, mode: str, identity: Path) -> Path:
    """The runner's main.py, unmodified; returns its session folder (results.json, results.txt)."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([str(identity), *filter(None, [os.environ.get("PYTHONPATH")])])
    started = time.time()
    log = data_folder / f"runner-{mode}.log"
    with log.open("w") as output:
        code = subprocess.call([sys.executable, "main.py", "-d", devices, "-s", str(data_folder), "-m", mode],
                               cwd=runner_dir, env=environment, stdout=output, stderr=subprocess.STDOUT)
    sessions = sorted((path for path in (runner_dir / "sessions").iterdir()
                       if path.is_dir() and path.stat().st_mtime >= started - 1), key=lambda p: p.stat().st_mtime)
    if code != 0 or not sessions or not (sessions[-1] / "results.json").is_file():
        raise SystemExit(f"the runner failed (exit status {code}); its output: {log}")
    return sessions[-1]


def summary_line(session: Path) -> str:
    text = (session / "results.txt").read_text() if (session / "results.txt").is_file() else ""
    found = [line.split("ulp-mlperf: ", 1)[-1] for line in text.splitlines()
             if "Median throughput" in line or "Top 1%" in line or "AUC" in line or "ERROR" in line]
    return "; ".join(found) or "(no summary)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runner", type=Path, required=True, help="mlcommons/tiny's benchmark/runner folder")
    parser.add_argument("--board", default="emu-m4")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    parser.add_argument("--modes", default="p,a")
    parser.add_argument("--build-dir", type=Path)
    args = parser.parse_args()
    if not (args.runner / "main.py").is_file():
        raise SystemExit(f"{args.runner} has no main.py: pass mlcommons/tiny's benchmark/runner folder")
    board = Catalogue.load().get(args.board)
    work = args.build_dir or Path(tempfile.mkdtemp(prefix="tinyedge-mlperf-runner-"))
    rows, failed = [], False
    for name in args.benchmarks.split(","):
        benchmark = BENCHMARKS[name]
        model = args.shared / "models" / "mlperf-tiny" / benchmark.model_file
        runner = TflmRunner(model.read_bytes())
        folder = work / name
        _say(f"{name}: building the benchmark firmware for {board.name}")
        built = build_firmware(board, model, folder / "build", runtime="native", name=name, mlperf=benchmark,
                               console=lambda line: None)
        files = write_data_set(benchmark, runner, args.shared, folder / "data")
        for mode in args.modes.split(","):
            _say(f"{name}: the runner's {'performance' if mode == 'p' else 'accuracy'} script")
            with serve(board, built.elf, folder / "build") as served:
                session = run_runner(args.runner, benchmark.devices_file, folder / "data", mode, served.identity_folder)
            reported = [entry for entry in json.loads((session / "results.json").read_text()) if "infer" in entry]
            sent = windows(benchmark, files, mode)
            equal = sum(entry["infer"].get("results") == expected_values(benchmark, runner, data)
                        for entry, (_, data) in zip(reported, sent))
            failed |= equal != len(sent) or len(reported) != len(sent)
            rows.append((name, mode, len(sent), sum(int(entry["infer"]["iterations"]) for entry in reported),
                         f"{equal}/{len(sent)}", summary_line(session)))
    print(f"the official MLPerf Tiny runner on {board.name} ({args.runner}), tinyedge native runtime")
    print(f"{'benchmark':10} {'mode':5} {'inputs':>6} {'inferences':>10} {'= TFLM':>7}  runner's summary")
    for name, mode, inputs, inferences, equal, summary in rows:
        print(f"{name:10} {mode:5} {inputs:>6} {inferences:>10} {equal:>7}  {summary}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
