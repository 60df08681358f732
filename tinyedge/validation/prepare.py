"""The build that `validate` runs first: through the library (tinyedge.api.build), in this process, as
`tinyedge build` runs it, with the stage table and the build's lines on stderr (stdout is validate's)."""

from __future__ import annotations

from .. import api
from ..console import print_table, say
from .buildinfo import BuildFolder


def run_build(project: api.Project, layers: bool = False) -> BuildFolder:
    """Every stage is reused when nothing changed, and the firmware is compiled where the toolchain is
    here; returns the build folder as validation reads it. `layers`: the firmware is a layer build
    (per-step ticks and CRCs, te-layers / te-tensor), as validate --layers and --debug need."""
    say(f"validate: building {project.model_name} for {project.board.name} (unchanged stages are reused)")
    result = api.build(project, layers=True) if layers else api.build(project)
    print_table(result.table(), to_stderr=True)
    say("\n".join(result.summary_lines()))
    return api.folder_of(result, project)
