"""The footprint estimate before the compile (tinyedge.footprint) against the ELF after it, for the
four MLPerf Tiny models and the built-in example (digits) on an emulated board.

    python benchmarks/footprint_estimates.py [--shared PATH] [--board emu-m4] [--digits MODEL.tflite]
                                             [--measure]

The native runtime always; the tflm runtime only when TINYEDGE_TFLM_DIR names a TFLM tree (made by
tflite-micro's create_tflm_tree.py), else the table says it is skipped. Without --digits the built-in
example's model is taken from examples/digits/build/<board>/, or built in a temporary folder (about a
minute). Ratio = estimate / ELF. --measure also prints fresh tables for tinyedge/footprint.py (kernel
code per core, tinyedge's firmware besides the model on each emulated board). Progress goes to stderr,
the table to stdout.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import tinyedge
from tinyedge import footprint
from tinyedge.boards import Catalogue
from tinyedge.errors import TinyedgeError
from tinyedge.mlperf import BENCHMARKS
from tinyedge.project import build_firmware

ROOT = Path(tinyedge.__file__).resolve().parents[1]
# (short name, reference model file) of each MLPerf Tiny benchmark: kws, vww, ic, ad
MLPERF = tuple((benchmark.id.removesuffix("01"), benchmark.model_file) for benchmark in BENCHMARKS.values())
MEASURED_CORES = {"cortex-m4f": "emu-m4", "cortex-m7": "emu-m7", "cortex-m55": "emu-m55",
                  "cortex-m3": "emu-m3", "cortex-m0plus": "pico"}


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def digits_model(board: str, given: Path | None, scratch: Path) -> Path:
    """The built-in example's int8 model: `given`, else examples/digits/build/<board>/'s, else built in
    `scratch` on the host (the model stages do not depend on the board, and the host needs no Arm build)."""
    if given is not None:
        return given
    built = ROOT / "examples" / "digits" / "build" / board / "model.tflite"
    if built.is_file():
        return built
    _say(f"digits: building the built-in example in {scratch} (about a minute)")
    folder = scratch / "digits"
    folder.mkdir()
    subprocess.run([sys.executable, "-m", "tinyedge", "build", "--board", "host", "--dir", str(folder)],
                   check=True, stdout=subprocess.DEVNULL)
    return folder / "build" / "host" / "model.tflite"


def measure(board_name: str, models: list[tuple[str, Path]], runtime: str, scratch: Path,
            tflm_dir: Path | None = None, skip_misfits: bool = False) -> list[dict]:
    board = Catalogue.load().get(board_name)
    rows = []
    for key, path in models:
        _say(f"{key}: {runtime} firmware for {board_name}")
        try:
            result = build_firmware(board, path, scratch / f"{board_name}-{runtime}-{key}", runtime=runtime,
                                    name=key, tflm_dir=tflm_dir, console=lambda _line: None)
        except TinyedgeError as error:
            if not skip_misfits:
                raise
            _say(f"{key}: left out on {board_name} ({error.one_line()[:120]})")
            continue
        rows.append({"model": key, "runtime": runtime, "board": board_name,
                     "estimated_flash": result.estimated_flash_bytes, "elf_flash": result.flash_bytes,
                     "estimated_ram": result.estimated_ram_bytes, "elf_ram": result.ram_bytes})
    return rows


def table(rows: list[dict], skipped: list[str]) -> list[str]:
    lines = ["| model | runtime | estimated flash | ELF flash | ratio | estimated RAM | ELF RAM | ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['model']} | {row['runtime']} | {row['estimated_flash']:,} | {row['elf_flash']:,} | "
                     f"{row['estimated_flash'] / row['elf_flash']:.3f} | {row['estimated_ram']:,} | "
                     f"{row['elf_ram']:,} | {row['estimated_ram'] / row['elf_ram']:.3f} |")
    return lines + [f"\n{line}" for line in skipped]


def fresh_tables(models: list[tuple[str, Path]], scratch: Path) -> list[str]:
    """Python source for footprint.py's measured tables."""
    catalogue = Catalogue.load()
    columns = {core: footprint.measure_kernel_code(catalogue.get(board)) for core, board in MEASURED_CORES.items()}
    names = list(columns[footprint.KERNEL_CORES[0]])
    lines = [f"KERNEL_CORES = {tuple(MEASURED_CORES)!r}", "KERNEL_CODE_BYTES: dict[str, tuple[int, ...]] = {"]
    lines += [f'    "{name}": {tuple(columns[core][name] for core in MEASURED_CORES)!r},' for name in names]
    lines.append("}")
    flash, ram = {}, {}
    for board_name in ("emu-m4", "emu-m7", "emu-m3", "emu-m55"):
        rows = measure(board_name, models, "native", scratch, skip_misfits=True)
        base_flash = footprint.FIRMWARE_FLASH_BYTES[board_name]
        base_ram = footprint.FIRMWARE_RAM_BYTES[board_name]
        flash[board_name] = [row["elf_flash"] - (row["estimated_flash"] - base_flash) for row in rows]
        ram[board_name] = [row["elf_ram"] - (row["estimated_ram"] - base_ram) for row in rows]
    lines.append("# tinyedge's firmware besides the model, from each model's ELF: " +
                 "; ".join(f"{b} {min(v):,}..{max(v):,} B" for b, v in flash.items()))
    lines.append(f"FIRMWARE_FLASH_BYTES = {{{', '.join(f'{b!r}: {round(sum(v) / len(v)):_}' for b, v in flash.items())}}}")
    lines.append(f"FIRMWARE_RAM_BYTES = {{{', '.join(f'{b!r}: {min(v):_}' for b, v in ram.items())}}}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--board", default="emu-m4")
    parser.add_argument("--digits", type=Path, help="the built-in example's model.tflite (else found or built)")
    parser.add_argument("--measure", action="store_true", help="also print fresh tables for footprint.py")
    args = parser.parse_args(argv)
    folder = args.shared / "models" / "mlperf-tiny"
    if not folder.is_dir():
        print(f"error: no MLPerf Tiny models under {args.shared} (pass --shared)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="tinyedge-footprint-") as scratch_name:
        scratch = Path(scratch_name)
        models = [(key, folder / name) for key, name in MLPERF]
        models.append(("digits", digits_model(args.board, args.digits, scratch)))
        rows = measure(args.board, models, "native", scratch)
        skipped = []
        tflm_dir = os.environ.get("TINYEDGE_TFLM_DIR")
        if tflm_dir:
            rows += measure(args.board, models, "tflm", scratch, Path(tflm_dir))
        else:
            skipped.append("tflm: skipped (set TINYEDGE_TFLM_DIR to a TFLM tree made by tflite-micro's "
                           "create_tflm_tree.py to compare its estimate too)")
        print(f"Estimate before the compile vs the ELF on {args.board} (bytes; ratio = estimate / ELF):\n")
        print("\n".join(table(rows, skipped)))
        if args.measure:
            print("\n" + "\n".join(fresh_tables(models, scratch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
