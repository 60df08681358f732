"""`tinyedge build`: load the project, resolve the board, run the model pipeline, print the stage
table (stdout, or stderr with --json) and with --json one JSON object on stdout.

Later issues add code generation, the firmware project and compilation after the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console

from .. import config as config_module
from ..boards import Catalogue


def _absolute(value: str | None) -> str | None:
    """A path given on the command line is relative to the current folder, not the project's."""
    if value is None or value == "digits":
        return value
    return str(Path(value).expanduser().resolve())


def run(board: str | None = None, project_dir: Path = Path("."), as_json: bool = False,
        runtime: str | None = None, project_kind: str | None = None, data_source: str | None = None,
        teacher: str | None = None, epochs: int | None = None, tflm_dir: Path | None = None) -> None:
    project_dir = Path(project_dir).resolve()
    config = config_module.find_and_load(project_dir).with_overrides({
        "project.board": board, "data.source": _absolute(data_source),
        "teacher.model": _absolute(teacher), "distillation.epochs": epochs,
        "runtime.kind": runtime, "runtime.project": project_kind})
    target = Catalogue.load().get(config.get("project.board"))
    progress = Console(stderr=True, width=120)

    from .. import pipeline  # imported late: `tinyedge build --help` stays instant
    from ..pipeline import report
    extra = {"tflm_dir": str(tflm_dir.resolve()) if tflm_dir else None}
    result = pipeline.run(config, target, project_dir, progress, extra)

    table_console = progress if as_json else Console(width=120)
    stages = [report.StageRow(**row) for row in result.stages]
    table_console.print(report.table(stages, f"stages ({config.get('project.name')} on {target.name})"))
    if as_json:
        click.echo(json.dumps(result.to_json()))
    else:
        fit = result.fit
        table_console.print(
            f"int8 model: {result.tflite} ({result.model_bytes:,} bytes, arena {result.arena_bytes:,}"
            f" bytes); test data: {result.test_data}\n"
            f"{target.name}: flash {fit['flash_needed']:,} of {fit['flash_available']:,} bytes, RAM "
            f"{fit['ram_needed']:,} of {fit['ram_available']:,} bytes (runtime estimated)\n"
            f"finished in {result.seconds:.1f} s", highlight=False)
