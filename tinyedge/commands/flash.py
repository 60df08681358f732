"""`tinyedge flash`: the board's target installs the built firmware (PlatformIO's upload to a real board;
for an emulated board or the host there is nothing to write, so it checks that the built firmware starts
and carries the build's model)."""

from __future__ import annotations

from pathlib import Path

import click


def run(board: str | None = None, project_dir: Path = Path("."), port: str | None = None) -> None:
    from ..locking import build_folder_lock
    from ..validation.prepare import resolve

    target = resolve(board, project_dir)
    with build_folder_lock(target.build_dir):
        _flash(target, port)


def _flash(target, port: str | None) -> None:
    from ..targets import for_board

    result = for_board(target.board).flash(target.load(), port)
    click.echo(f"{result.board}: {result.summary}")
    click.echo(f"next: {result.next_step}")
