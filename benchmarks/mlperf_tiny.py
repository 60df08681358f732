"""The MLPerf Tiny models (and the built-in example's model, once built) through `tinyedge bench` on
the emulated Cortex-M4, native and TFLM + CMSIS-NN side by side, and the results table of
docs/performance.md rewritten from what this run measured.

    python benchmarks/mlperf_tiny.py [--shared PATH] [--board emu-m4] [--tflm-dir TREE] [--optimize speed,size]
                                     [--cycles] [--no-docs]
    python benchmarks/mlperf_tiny.py --layers [--models kws,vww,ic,ad] [--samples 8] [--build-dir DIR]

With a TFLM tree (--tflm-dir, else $TINYEDGE_TFLM_DIR: a tree from create_tflm_tree.py) both firmwares
are built and run in this run, on the same input; without one, TFLM's figures come from the reference
file ../shared/reference/tflm-emulated-m4.json (measured once, the same way), and the table says so.
Each model runs on its reference input (../shared/models/mlperf-tiny/inputs/). Ratios are native /
TFLM + CMSIS-NN: below 1 is better. Progress goes to stderr, the table to stdout.

--optimize names the native generations measured (default speed; "speed,size" gives a row for each,
"kws (size)" for runtime.optimize = "size": int8 weights widened in the loop).

With --cycles, each native inference is also traced and priced in Cortex-M4 cycles (bench --cycles,
tinyedge/cycles.py), and a second table puts them beside the published MLPerf Tiny records on the
reference board.

With --layers, each model's native layer firmware runs `bench --layers --samples N` (its reference input
first): the per-layer table (op, layer, output shape, MACs, instructions, share, per MAC) with the sum
of the steps against the whole inference, every output compared with TFLM, and bench.html with its
screenshot (headless Chromium) kept in <build-dir>/<model>/ (default build/mlperf-tiny/<board>/).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
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
MEASURED = "measured in this run"
FROM_REFERENCE = "reference file (tflm-emulated-m4.json), not measured in this run"
# The MLPerf Tiny records on the Cortex-M4 reference board (STM32L4R5ZI at 120 MHz): (holder, ms);
# cycles = ms x 120,000.
RECORDS = {"kws": ("ST X-CUBE-AI", 43.2), "vww": ("ST X-CUBE-AI", 88.9), "ic": ("ST X-CUBE-AI", 165.1),
           "ad": ("Plumerai", 4.05)}
REFERENCE_CLOCK_HZ = 120_000_000


@dataclass(frozen=True)
class TflmFigures:
    """TFLM + CMSIS-NN's figures for one model, and where they come from."""
    instructions: int
    arena_bytes: int
    runtime_flash_bytes: int
    flash_bytes: int             # the whole firmware's (model included)
    bit_exact: bool | None
    source: str                  # MEASURED or FROM_REFERENCE
    reference_instructions: int  # the reference file's, to compare a measured count with


def _quiet(_line: str) -> None:
    pass


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}" if reference else "-"


def _from_reference(entry: dict) -> TflmFigures:
    cmsis = entry["cmsis-nn"]
    return TflmFigures(cmsis["instructions_per_inference"], cmsis["arena_min_bytes"],
                       cmsis["flash_bytes"] - entry["model_bytes"], cmsis["flash_bytes"], None, FROM_REFERENCE,
                       cmsis["instructions_per_inference"])


def _measured(result: BenchResult, entry: dict) -> TflmFigures:
    return TflmFigures(result.instructions_per_inference, result.arena_bytes, result.runtime_flash_bytes,
                       result.flash_bytes, result.bit_exact, MEASURED, entry["cmsis-nn"]["instructions_per_inference"])


def bench_mlperf(shared: Path, board_name: str, tflm_dir: Path | None = None, cycles: bool = False,
                 optimizations: tuple[str, ...] = ("speed",)) -> list[tuple[str, BenchResult, TflmFigures]]:
    reference = json.loads((shared / "reference" / "tflm-emulated-m4.json").read_text())["models"]
    board = Catalogue.load().get(board_name)
    rows = []
    for key, entry in reference.items():
        folder = shared / "models" / "mlperf-tiny"
        model = load(folder / entry["tflite"])
        shape = model.main.input_tensors()[0].shape
        sample = np.fromfile(folder / entry["input"], dtype=np.int8).reshape(1, *shape[1:])
        results = []
        for optimize in optimizations:
            print(f"{key}: building and running the native firmware ({optimize}) on {board_name}", file=sys.stderr,
                  flush=True)
            results.append((key if optimize == "speed" else f"{key} ({optimize})",
                            run_bench(board, folder / entry["tflite"], "native", sample, console=_quiet,
                                      cycles=cycles, optimize=optimize)))
        if tflm_dir is not None:
            print(f"{key}: building and running the TFLM firmware on {board_name}", file=sys.stderr, flush=True)
            tflm = _measured(run_bench(board, folder / entry["tflite"], "tflm", sample, console=_quiet,
                                       tflm_dir=tflm_dir), entry)
        else:
            tflm = _from_reference(entry)
        rows += [(label, result, tflm) for label, result in results]
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


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")


def table(rows: list[tuple[str, BenchResult, TflmFigures]], examples: list[tuple[str, BenchResult]]) -> list[str]:
    lines = [
        "| model | MACs | instructions (native) | per MAC | TFLM + CMSIS-NN | ratio | arena (native) | "
        "TFLM arena | ratio | runtime flash (native) | TFLM + CMSIS-NN runtime flash | ratio | flash (native) | "
        "TFLM + CMSIS-NN flash | ratio | bit-exact (native / TFLM) | TFLM figures | TFLM vs reference |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for key, r, tflm in rows:
        versus = _ratio(tflm.instructions, tflm.reference_instructions) if tflm.source == MEASURED else "-"
        lines.append(
            f"| {key} | {r.macs:,} | {r.instructions_per_inference:,} | {r.instructions_per_mac:.2f} | "
            f"{tflm.instructions:,} | **{_ratio(r.instructions_per_inference, tflm.instructions)}** | "
            f"{r.arena_bytes:,} | {tflm.arena_bytes:,} | **{_ratio(r.arena_bytes, tflm.arena_bytes)}** | "
            f"{r.runtime_flash_bytes:,} | {tflm.runtime_flash_bytes:,} | "
            f"**{_ratio(r.runtime_flash_bytes, tflm.runtime_flash_bytes)}** | "
            f"{r.flash_bytes:,} | {tflm.flash_bytes:,} | **{_ratio(r.flash_bytes, tflm.flash_bytes)}** | "
            f"{_yes(r.bit_exact)} / {_yes(tflm.bit_exact)} | {tflm.source} | {versus} |")
    for label, r in examples:
        lines.append(f"| {label} | {r.macs:,} | {r.instructions_per_inference:,} | "
                     f"{r.instructions_per_mac:.2f} | - | - | {r.arena_bytes:,} | - | - | "
                     f"{r.runtime_flash_bytes:,} | - | - | {r.flash_bytes:,} | - | - | {_yes(r.bit_exact)} / - | - | - |")
    return lines


def cycle_table(rows: list[tuple[str, BenchResult, TflmFigures]]) -> list[str]:
    """Projected cycles of the native runtime beside the records (ratio below 1: ahead of the record)."""
    lines = ["| model | instructions (native) | projected cycles, 0 wait states | at 5 wait states | record | "
             "record cycles (120 MHz) | ratio (0 / 5 wait states) |",
             "|---|---:|---:|---:|---|---:|---:|"]
    for key, r, _ in rows:
        holder, milliseconds = RECORDS[key.split()[0]]
        record = round(milliseconds * REFERENCE_CLOCK_HZ / 1000)
        projected = r.projected_cycles
        lines.append(f"| {key} | {r.instructions_per_inference:,} | {projected['cycles']:,} | "
                     f"{projected['cycles_with_wait_states']:,} | {holder}, {milliseconds} ms | {record:,} | "
                     f"{_ratio(projected['cycles'], record)} / {_ratio(projected['cycles_with_wait_states'], record)} |")
    return lines


def rewrite_docs(lines: list[str], board_name: str, arguments: list[str]) -> None:
    text = DOCS.read_text() if DOCS.is_file() else ""
    command = " ".join(["python benchmarks/mlperf_tiny.py", *arguments])
    block = "\n".join([TABLE_START, "", f"Measured on `{board_name}` by `{command}`:",
                       "", *lines, "", TABLE_END])
    if TABLE_START in text and TABLE_END in text:
        text = re.sub(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    write_text_atomic(DOCS, text)


def bench_layers(shared: Path, board_name: str, keys: list[str], samples: int, build_dir: Path) -> list[dict]:
    """bench --layers of each MLPerf Tiny model: the result, its bench.html and the screenshot."""
    from tinyedge import api
    from tinyedge.bench import layer_lines
    from tinyedge.screenshot import screenshot
    reference = json.loads((shared / "reference" / "tflm-emulated-m4.json").read_text())["models"]
    folder = shared / "models" / "mlperf-tiny"
    done = []
    for key in keys:
        entry = reference[key]
        model = load(folder / entry["tflite"])
        shape = model.main.input_tensors()[0].shape
        sample = np.fromfile(folder / entry["input"], dtype=np.int8).reshape(1, *shape[1:])
        where = build_dir / key
        print(f"{key}: building and running the native layer firmware on {board_name}", file=sys.stderr, flush=True)
        result = api.measure(board_name, folder / entry["tflite"], runtime="native", samples=samples, layers=True,
                             build_dir=where, sample=sample)
        page = where / "bench.html"
        try:
            png = screenshot(page, where / "bench-screenshot.png", width=1280, height=2200 + 40 * len(result.layers["rows"]))
        except Exception as exc:  # the table still counts without a browser
            png = None
            print(f"{key}: no screenshot: {exc}", file=sys.stderr)
        table = result.layers
        print(f"## {key} ({entry['tflite']}) on {board_name}: {result.samples_equal}/{result.samples} outputs equal TFLM")
        print("\n".join(layer_lines(table)))
        print(f"  report {page}" + (f", screenshot {png}" if png else ""))
        done.append({"model": key, "equal": result.samples_equal, "samples": result.samples,
                     "sum": table["sum"], "whole": table["whole"], "sum_to_whole": table["sum_to_whole"],
                     "report": str(page), "screenshot": str(png) if png else None})
    print("| model | steps sum | whole inference | sum / whole | outputs equal TFLM | screenshot |")
    print("|---|---:|---:|---:|---|---|")
    for row in done:
        print(f"| {row['model']} | {row['sum']:,} | {row['whole']:,.0f} | {row['sum_to_whole']:.2%} | "
              f"{row['equal']}/{row['samples']} | {row['screenshot']} |")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--board", default="emu-m4")
    parser.add_argument("--tflm-dir", type=Path, default=os.environ.get("TINYEDGE_TFLM_DIR") or None,
                        help="a TFLM tree (create_tflm_tree.py): measure TFLM + CMSIS-NN in this run "
                             "(default: $TINYEDGE_TFLM_DIR; without one, the reference file's figures)")
    parser.add_argument("--optimize", default="speed",
                        help="native generations to measure, comma-separated: speed, size (default speed)")
    parser.add_argument("--cycles", action="store_true",
                        help="also project each native inference's Cortex-M4 cycles, beside the MLPerf Tiny records")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/performance.md alone")
    parser.add_argument("--layers", action="store_true",
                        help="per-layer tables (bench --layers) and report screenshots instead of the results table")
    parser.add_argument("--models", default="kws,vww,ic,ad", help="with --layers: which models (default all four)")
    parser.add_argument("--samples", type=int, default=8, help="with --layers: inputs compared with TFLM")
    parser.add_argument("--build-dir", type=Path, default=None,
                        help="with --layers: where each model's firmware and report go "
                             "(default build/mlperf-tiny/<board>)")
    args = parser.parse_args(argv)
    if not (args.shared / "reference" / "tflm-emulated-m4.json").is_file():
        print(f"error: no MLPerf Tiny reference under {args.shared} (pass --shared)", file=sys.stderr)
        return 1
    if args.layers:
        keys = [key.strip() for key in args.models.split(",") if key.strip()]
        done = bench_layers(args.shared, args.board, keys, args.samples,
                            args.build_dir or ROOT / "build" / "mlperf-tiny" / args.board)
        within = all(abs(row["sum_to_whole"] - 1.0) <= 0.02 for row in done)
        return 0 if within and all(row["equal"] == row["samples"] for row in done) else 2
    tree = Path(args.tflm_dir).expanduser().resolve() if args.tflm_dir else None
    optimizations = tuple(mode.strip() for mode in args.optimize.split(",") if mode.strip())
    rows = bench_mlperf(args.shared, args.board, tree, args.cycles, optimizations)
    lines = table(rows, bench_examples(args.board))
    if args.cycles:   # the second table goes into the docs' results block too
        lines += ["", "Projected Cortex-M4 cycles of the native runtime (`--cycles`, see above), beside the "
                  "MLPerf Tiny records on the reference board:", "", *cycle_table(rows)]
    print("\n".join(lines))
    if not args.no_docs:
        rewrite_docs(lines, args.board, [argument for argument in (argv if argv is not None else sys.argv[1:])
                                         if not argument.startswith("--tflm-dir")])
        print(f"rewrote the results table in {DOCS.relative_to(ROOT)}", file=sys.stderr)
    return 0 if all(r.bit_exact and tflm.bit_exact is not False for _, r, tflm in rows) else 2


if __name__ == "__main__":
    sys.exit(main())
