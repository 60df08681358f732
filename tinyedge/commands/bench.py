"""`tinyedge bench --board B --model M.tflite [--runtime native|tflm|both] [--tflm-dir DIR] [--port P]
[--json]`: the model measured on the board's target with one runtime, or with both side by side (the
same model and input, one firmware each, one table with the ratio native / TFLM)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..bench import bench_runtimes, comparison_json, comparison_lines, report_lines
from ..errors import TinyedgeError


def run(board: str | None = None, model: Path | None = None, as_json: bool = False,
        port: str | None = None, runtime: str = "native", tflm_dir: Path | None = None) -> None:
    if not board:
        raise TinyedgeError("bench needs a board", "pass --board (e.g. --board emu-m4; 'tinyedge boards' "
                            "lists them)")
    if model is None:
        raise TinyedgeError("bench needs a model", "pass --model path/to/model.tflite")
    runtimes = bench_runtimes(runtime)
    from .. import api
    results = [api.measure(board, model, runtime=name, port=port, tflm_dir=tflm_dir) for name in runtimes]
    if len(results) == 1:
        output = json.dumps(results[0].to_json()) if as_json else "\n".join(report_lines(results[0]))
    else:
        output = json.dumps(comparison_json(results)) if as_json else "\n".join(comparison_lines(results))
    click.echo(output)
