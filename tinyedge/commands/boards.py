import json

import click
from rich.console import Console
from rich.table import Table

from ..boards import Board, Catalogue
from ..targets import for_board


def _size(n: int) -> str:
    if n % (1024 * 1024) == 0:
        return f"{n // (1024 * 1024)} MB"
    return f"{n // 1024} KB" if n % 1024 == 0 else f"{n:,} B"


def _table(boards: list[Board]) -> Table:
    table = Table(title="tinyedge boards", title_justify="left")
    for column in ("board", "aliases", "kind", "title", "core", "FPU", "DSP", "clock", "flash", "RAM",
                   "timer", "PlatformIO platform / board / framework", "upload"):
        table.add_column(column, overflow="fold")
    for b in boards:
        pio = b.platformio
        table.add_row(b.name, ", ".join(b.aliases), b.kind, b.title, b.core, b.fpu,
                      "yes" if b.dsp else "no", f"{b.clock_hz / 1e6:g} MHz", _size(b.flash_bytes),
                      _size(b.ram_bytes), f"{b.timer} ({for_board(b).timer_unit})",
                      " / ".join(x for x in (pio.platform, pio.board, pio.framework) if x),
                      pio.upload_protocol)
    return table


def run(as_json: bool):
    catalogue = Catalogue.load()
    if as_json:
        click.echo(json.dumps([board.to_json() for board in catalogue.boards], indent=2))
    else:
        Console(width=200).print(_table(catalogue.boards))
