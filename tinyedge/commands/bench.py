"""`tinyedge bench --board B --model M.tflite [--port P] [--json]`: the native runtime, measured on the
board's target (TFLM firmware for bench is issue 13, so it is not offered)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..bench import report_lines
from ..errors import TinyedgeError


def run(board: str | None = None, model: Path | None = None, as_json: bool = False,
        port: str | None = None) -> None:
    if not board:
        raise TinyedgeError("bench needs a board", "pass --board (e.g. --board emu-m4; 'tinyedge boards' "
                            "lists them)")
    if model is None:
        raise TinyedgeError("bench needs a model", "pass --model path/to/model.tflite")
    from .. import api
    result = api.measure(board, model, port=port)
    if as_json:
        click.echo(json.dumps(result.to_json()))
    else:
        click.echo("\n".join(report_lines(result)))
