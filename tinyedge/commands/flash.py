"""`tinyedge flash`: the board's target installs the built firmware (PlatformIO's upload to a real board;
for an emulated board or the host there is nothing to write, so it checks that the built firmware starts
and carries the build's model)."""

from __future__ import annotations

from pathlib import Path

import click


def run(board: str | None = None, project_dir: Path = Path("."), port: str | None = None) -> None:
    from .. import api

    result = api.flash(api.open_project(project_dir, board), port=port)
    click.echo(f"{result.board}: {result.summary}")
    click.echo(f"next: {result.next_step}")
