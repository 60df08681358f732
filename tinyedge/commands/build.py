"""`tinyedge build`: load the project, resolve the board, run every stage of the build through the
library (tinyedge.api.build: the model pipeline, code generation, the firmware project and the compile
wherever the board's toolchain is here), print the stage table (stdout, or stderr with --json) and
with --json one JSON object on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import click


def _absolute(value: str | None) -> str | None:
    """A path given on the command line is relative to the current folder, not the project's."""
    if value is None or value == "digits":
        return value
    return str(Path(value).expanduser().resolve())


def _model_spec(spec: str) -> str:
    """--model [NAME=]PATH with PATH made absolute (relative to the current folder)."""
    name, _, path = spec.partition("=") if "=" in spec else ("", "", spec)
    if not path:
        return spec   # the config says what is missing
    return f"{name}={_absolute(path)}" if name else _absolute(path)


def further_model_specs(specs: tuple[str, ...]) -> list[str]:
    """Every --model of build and validate, as open_project takes them."""
    return [_model_spec(spec) for spec in specs]


def run(board: str | None = None, project_dir: Path = Path("."), as_json: bool = False,
        runtime: str | None = None, project_kind: str | None = None, data_source: str | None = None,
        teacher: str | None = None, epochs: int | None = None, tflm_dir: Path | None = None,
        models: tuple[str, ...] = (), monitor: bool | None = None, optimize: str | None = None) -> None:
    from .. import api  # imported late: `tinyedge build --help` stays instant
    from ..console import print_table

    project = api.open_project(project_dir, board, {
        "data.source": _absolute(data_source), "teacher.model": _absolute(teacher),
        "distillation.epochs": epochs, "runtime.kind": runtime, "runtime.project": project_kind,
        "runtime.tflm_dir": _absolute(str(tflm_dir)) if tflm_dir is not None else None,
        "monitor.enabled": monitor, "runtime.optimize": optimize},
        models=further_model_specs(models))
    result = api.build(project)
    print_table(result.table(), to_stderr=as_json)
    if as_json:
        click.echo(json.dumps(result.to_json()))
    else:
        click.echo("\n".join(result.summary_lines()))
