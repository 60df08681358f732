"""`tinyedge bench --board B --model M.tflite [--runtime native|tflm|both] [--samples N] [--layers]
[--build-dir DIR] [--tflm-dir DIR] [--port P] [--json]`: the model measured on the board's target with one
runtime, or with both side by side (the same model and inputs, one firmware each, one table with the
ratio native / TFLM). Every one of the N inputs' outputs is compared with TFLM ("8/8 equal"); --layers
times every step. The firmware, bench.json and bench.html stay in the build folder (one per runtime)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..bench import bench_runtimes, check_bench_target, check_samples, comparison_json, comparison_lines, layer_lines, report_lines
from ..errors import TinyedgeError


def default_build_dir(board: str, model: Path, runtime: str, monitor: bool = False, optimize: str = "speed") -> Path:
    """build/bench/<board>/<model>-<runtime>, "-size" added for a size build and "-monitor" for the
    monitored firmware (so switching does not rebuild the other one)."""
    return Path("build") / "bench" / board / (f"{Path(model).stem}-{runtime}{'-size' if optimize == 'size' else ''}"
                                              f"{'-monitor' if monitor else ''}")


def run(board: str | None = None, model: Path | None = None, as_json: bool = False,
        port: str | None = None, runtime: str = "native", tflm_dir: Path | None = None,
        samples: int = 8, layers: bool = False, build_dir: Path | None = None,
        monitor: bool | None = None, cycles: bool = False, optimize: str = "speed") -> None:
    if not board:
        raise TinyedgeError("bench needs a board", "pass --board (e.g. --board emu-m4; 'tinyedge boards' "
                            "lists them)")
    if model is None:
        raise TinyedgeError("bench needs a model", "pass --model path/to/model.tflite")
    runtimes = bench_runtimes(runtime)
    check_samples(samples)
    from .. import api
    from ..boards import Catalogue
    target = Catalogue.load().get(board)
    for each in runtimes:   # what the board lacks is said before what the model is (as api.measure does)
        check_bench_target(target, each)
    name = target.name
    results = []
    for each in runtimes:
        folder = (Path(build_dir) / each if len(runtimes) > 1 else Path(build_dir)) if build_dir is not None \
            else default_build_dir(name, model, each, bool(monitor), optimize)
        results.append(api.measure(board, model, runtime=each, port=port, tflm_dir=tflm_dir, samples=samples,
                                   layers=layers, build_dir=folder, monitor=bool(monitor), cycles=cycles,
                                   optimize=optimize))
    if len(results) == 1:
        output = json.dumps(results[0].to_json()) if as_json else "\n".join(report_lines(results[0]))
    else:
        output = json.dumps(comparison_json(results)) if as_json else "\n".join(
            [*comparison_lines(results), *(line for result in results if result.layers
                                           for line in [f"{result.runtime}:", *layer_lines(result.layers)])])
    click.echo(output)
    if not as_json:
        for result in results:
            click.echo(f"  report: {Path(result.build_dir) / 'bench.html'}")
