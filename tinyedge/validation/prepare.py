"""From the command line's options to a build folder with a compiled firmware, for `validate` and
`flash`: the project's settings and board (tinyedge.api.open_project), and for `validate` the build
itself, through the library (tinyedge.api.build) as `tinyedge build` runs it, its table on stderr."""

from __future__ import annotations

from pathlib import Path

from .. import api
from ..console import print_table, say
from .buildinfo import BuildFolder

Target = api.Project  # what validate and flash resolve: a project for one board


def resolve(board: str | None, project_dir: Path) -> api.Project:
    return api.open_project(project_dir, board)


def run_build(target: api.Project) -> BuildFolder:
    """`tinyedge build --board B --dir D` in this process: every stage is reused when nothing changed,
    and the firmware is compiled where the toolchain is here; its table and lines go to stderr (stdout
    is kept for validate's own output)."""
    say(f"validate: building {target.model_name} for {target.board.name} (unchanged stages are reused)")
    result = api.build(target)
    print_table(result.table(), to_stderr=True)
    say("\n".join(result.summary_lines()))
    return api.folder_of(result, target)
