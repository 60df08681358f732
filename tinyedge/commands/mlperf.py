"""`tinyedge mlperf --board B --benchmark kws01|vww01|ic01|ad01 --model M.tflite [--runtime native|tflm]
[--build-dir DIR] [--port P] [--serve]`: the benchmark firmware the official MLPerf Tiny runner drives
as it drives the reference firmware (tinyedge/mlperf.py). On a real board it is uploaded; on an
emulated board --serve boots it behind a pseudo-terminal for the runner (tinyedge/mlperf_serve.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import TinyedgeError


def default_build_dir(board: str, benchmark: str, runtime: str) -> Path:
    return Path("build") / "mlperf" / board / f"{benchmark}-{runtime}"


def run(board: str | None = None, benchmark: str | None = None, model: Path | None = None,
        runtime: str = "native", build_dir: Path | None = None, port: str | None = None,
        serve: bool = False, tflm_dir: Path | None = None) -> None:
    from ..boards import Catalogue
    from ..mlperf import benchmark_named
    if not board:
        raise TinyedgeError("mlperf needs a board", "pass --board (e.g. --board emu-m4)")
    if not benchmark:
        raise TinyedgeError("mlperf needs a benchmark", "pass --benchmark kws01, vww01, ic01 or ad01")
    chosen = benchmark_named(benchmark)
    if model is None:
        raise TinyedgeError(f"mlperf needs the {chosen.id} model",
                            f"pass --model path/to/{chosen.model_file} (mlcommons/tiny, benchmark/training)")
    if not Path(model).is_file():
        raise TinyedgeError(f"{model} does not exist", f"pass the {chosen.id} .tflite file with --model")
    target_board = Catalogue.load().get(board)
    from ..project.firmware import build_firmware
    from ..targets import for_board
    target = for_board(target_board)
    folder = Path(build_dir) if build_dir is not None else default_build_dir(target_board.name, chosen.id, runtime)
    if serve:
        target.check_serve()   # before the build
    if runtime not in ("native", "tflm"):
        raise TinyedgeError(f"unknown runtime '{runtime}' for mlperf", "choose --runtime native or tflm")
    from ..api import tflm_dir_of
    built = build_firmware(target_board, Path(model), folder, runtime=runtime, name=chosen.id, mlperf=chosen,
                           tflm_dir=tflm_dir_of(None, tflm_dir) if runtime == "tflm" else None)
    if not built.compiled:
        raise TinyedgeError(f"the {chosen.id} firmware for {target_board.name} was generated but not compiled",
                            built.next_step)
    click.echo(f"{chosen.id} firmware ({built.runtime} runtime): {built.elf}: flash {built.flash_bytes:,} B, "
               f"RAM {built.ram_bytes:,} B")
    if serve:
        _serve(target, built.elf, folder, chosen)
        return
    answers_on = target.install(built.project, port)
    click.echo(f"installed; point the runner ({chosen.devices_file}) at {answers_on or 'the board'}, or serve an "
               f"emulated board with --serve (docs/mlperf.md)")


def _serve(target, elf: Path, folder: Path, benchmark) -> None:
    from ..mlperf_serve import emulated_clock_hz
    with target.serve(elf, folder) as served:
        click.echo(f"serving {benchmark.id} on {served.path} (QEMU -icount {served.icount}: about "
                   f"{emulated_clock_hz(target.board) / 1e6:g} M instructions per real second, m-lap-us in real "
                   "microseconds)")
        click.echo(f"runner: cd tiny/benchmark/runner && PYTHONPATH={served.identity_folder} "
                   f"python main.py -d {benchmark.devices_file} -s DATASETS -m p   (or -m a); Ctrl-C stops")
        sys.stdout.flush()
        while (ended := served.ended()) is None:
            served.relay.wait(0.5)
        raise TinyedgeError(f"{ended} while serving {benchmark.id}", "run --serve again")
