"""`tinyedge validate`: build (cached stages are reused), start the emulated board or open the real
board's port, check the model identity, run the test split on the device, compare with host TFLM, and
write validation.json and report.html into the build folder. With --json, one object on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import TinyedgeError

# What `--json` prints: the summary, without the per-sample arrays (they are in validation.json).
JSON_LEFT_OUT = ("per_sample", "build_stages")


def run(board: str | None = None, project_dir: Path = Path("."), as_json: bool = False,
        port: str | None = None, samples: int | None = None) -> None:
    from ..validation import validate
    from ..validation.links import board_link
    from ..validation.prepare import resolve, run_build
    from ..validation.runner import check_sample_count

    check_sample_count(samples)  # a bad --samples fails before the build
    target = resolve(board, project_dir)
    folder = run_build(target)
    emulated = target.board.emulated and port is None
    elf = folder.require_elf() if emulated else folder.elf
    with board_link(target.board, elf, port) as link:
        result = validate(folder, link, samples, elf=elf)
    data = result.to_json()
    if as_json:
        click.echo(json.dumps({key: value for key, value in data.items() if key not in JSON_LEFT_OUT}))
    else:
        _print_summary(data)
    _check_latency_budget(target.config.get("budgets.max_latency"), data)


def _check_latency_budget(limit: int, data: dict) -> None:
    """budgets.max_latency bounds the median latency, in the board's unit (the report is already written)."""
    latency = data.get("latency")
    if not limit or not latency:
        return
    if latency["median"] > limit:
        raise TinyedgeError(
            f"latency budget not met: median {latency['median']:,.0f} {latency['unit']} > "
            f"budgets.max_latency {limit:,} {latency['unit']}",
            f"the measurements are in {data['report']}; use a smaller student or raise the budget")


def _print_summary(data: dict) -> None:
    from ..validation.report import summary_rows
    click.echo(f"validation of {data['model']['name']} on {data['board']} ({data['link']})")
    for name, value in summary_rows(data):
        click.echo(f"  {name + ':':<20} {value}")
    click.echo(f"  {'report:':<20} {data['report']}")
