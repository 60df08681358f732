"""The MLPerf Tiny models (and the built-in example's model, once built) through `tinyedge bench` on
the emulated Cortex-M4, side by side with TFLM + CMSIS-NN measured the same way, and the results table
of docs/performance.md rewritten from what this run measured.

    python benchmarks/mlperf_tiny.py [--shared PATH] [--board emu-m4] [--no-docs]

Each model runs on its reference input (../shared/models/mlperf-tiny/inputs/), whose TFLM output is
also in the reference JSON. Ratios are native / TFLM + CMSIS-NN: below 1 is better. Progress goes to
stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

import tinyedge
from tinyedge.bench import BenchResult, run_bench
from tinyedge.boards import Catalogue
from tinyedge.fileio import write_text_atomic
from tinyedge.tflite.model import load

ROOT = Path(tinyedge.__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "performance.md"
TABLE_START = "<!-- results: written by benchmarks/mlperf_tiny.py -->"
TABLE_END = "<!-- end of results -->"
EXAMPLE_MODELS = ("examples/digits/build",)


def _quiet(_line: str) -> None:
    pass


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference else "-"


def bench_mlperf(shared: Path, board_name: str) -> list[tuple[str, BenchResult, dict]]:
    reference = json.loads((shared / "reference" / "tflm-emulated-m4.json").read_text())["models"]
    board = Catalogue.load().get(board_name)
    rows = []
    for key, entry in reference.items():
        folder = shared / "models" / "mlperf-tiny"
        model = load(folder / entry["tflite"])
        shape = model.main.input_tensors()[0].shape
        sample = np.fromfile(folder / entry["input"], dtype=np.int8).reshape(1, *shape[1:])
        print(f"{key}: building and running on {board_name}", file=sys.stderr, flush=True)
        result = run_bench(board, folder / entry["tflite"], "native", sample, console=_quiet)
        rows.append((key, result, entry))
    return rows


def bench_examples(board_name: str) -> list[tuple[str, BenchResult]]:
    """(label, result) for each built model of the examples, e.g. 'built-in example (digits, built for
    emu-m4)'."""
    board = Catalogue.load().get(board_name)
    found = []
    for folder in EXAMPLE_MODELS:
        for path in sorted((ROOT / folder).glob("**/*.tflite")):
            print(f"{path.relative_to(ROOT)}: building and running on {board_name}", file=sys.stderr, flush=True)
            # examples/<name>/build/<board>/model.tflite
            label = f"built-in example ({Path(folder).parent.name}, built for {path.parent.name})"
            found.append((label, run_bench(board, path, "native", console=_quiet)))
    return found


def table(rows: list[tuple[str, BenchResult, dict]], examples: list[tuple[str, BenchResult]]) -> list[str]:
    lines = [
        "| model | MACs | instructions (native) | per MAC | TFLM + CMSIS-NN | ratio | arena (native) | "
        "TFLM arena | ratio | runtime flash (native) | TFLM + CMSIS-NN runtime flash | ratio | bit-exact |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key, r, entry in rows:
        cmsis = entry["cmsis-nn"]
        tflm_runtime_flash = cmsis["flash_bytes"] - entry["model_bytes"]
        lines.append(
            f"| {key} | {r.macs:,} | {r.instructions_per_inference:,} | {r.instructions_per_mac:.2f} | "
            f"{cmsis['instructions_per_inference']:,} | "
            f"**{_ratio(r.instructions_per_inference, cmsis['instructions_per_inference'])}** | "
            f"{r.arena_bytes:,} | {cmsis['arena_min_bytes']:,} | "
            f"**{_ratio(r.arena_bytes, cmsis['arena_min_bytes'])}** | {r.runtime_flash_bytes:,} | "
            f"{tflm_runtime_flash:,} | **{_ratio(r.runtime_flash_bytes, tflm_runtime_flash)}** | "
            f"{'yes' if r.bit_exact else 'NO'} |")
    for label, r in examples:
        lines.append(f"| {label} | {r.macs:,} | {r.instructions_per_inference:,} | "
                     f"{r.instructions_per_mac:.2f} | - | - | {r.arena_bytes:,} | - | - | "
                     f"{r.runtime_flash_bytes:,} | - | - | {'yes' if r.bit_exact else 'NO'} |")
    return lines


def rewrite_docs(lines: list[str], board_name: str) -> None:
    text = DOCS.read_text() if DOCS.is_file() else ""
    block = "\n".join([TABLE_START, "", f"Measured on `{board_name}` by `python benchmarks/mlperf_tiny.py`:",
                       "", *lines, "", TABLE_END])
    if TABLE_START in text and TABLE_END in text:
        text = re.sub(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    write_text_atomic(DOCS, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--board", default="emu-m4")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args(argv)
    if not (args.shared / "reference" / "tflm-emulated-m4.json").is_file():
        print(f"error: no MLPerf Tiny reference under {args.shared} (pass --shared)", file=sys.stderr)
        return 1
    rows = bench_mlperf(args.shared, args.board)
    lines = table(rows, bench_examples(args.board))
    print("\n".join(lines))
    if not args.no_docs:
        rewrite_docs(lines, args.board)
        print(f"rewrote the results table in {DOCS.relative_to(ROOT)}", file=sys.stderr)
    return 0 if all(r.bit_exact for _, r, _ in rows) else 2


if __name__ == "__main__":
    sys.exit(main())
