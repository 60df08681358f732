"""`tinyedge flash`: upload the built firmware to a real board through PlatformIO, or for an emulated
board check that the built ELF boots in QEMU and carries the build's model (QEMU loads it on every run,
so there is nothing to write)."""

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
    from ..validation.flashing import check_emulated_boot, flash_real_board

    build = target.load()
    if target.board.emulated:
        result = check_emulated_boot(target.board, build)
        click.echo(f"{result.board}: {result.elf} boots in QEMU and carries model '{result.model}' "
                   f"(sha256 {result.sha256[:16]}); flash {result.flash_bytes:,} B of "
                   f"{target.board.flash_bytes:,} B, RAM {result.ram_bytes:,} B of {target.board.ram_bytes:,} B")
        click.echo(f"next: tinyedge validate --board {result.board}")
        return
    result = flash_real_board(target.board, build, port)
    click.echo(f"{result.board}: firmware uploaded (model '{result.model}', sha256 {result.sha256[:16]}); "
               f"the board is on {result.port}")
    click.echo(f"next: tinyedge validate --board {result.board} --port {result.port}")
