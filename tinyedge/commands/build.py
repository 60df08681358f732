"""`tinyedge build`: load the project, resolve the board, run the model pipeline, print the stage
table (stdout, or stderr with --json) and with --json one JSON object on stdout.

After the model pipeline: code generation, the firmware project, and the compile wherever the board's
toolchain is here (always for emulated boards)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.console import Console

from .. import config as config_module
from ..boards import Catalogue
from ..fileio import write_json_atomic


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
    progress = Console(stderr=True, soft_wrap=True)

    from .. import pipeline  # imported late: `tinyedge build --help` stays instant
    from ..pipeline import report
    from ..locking import build_folder_lock
    extra = {"tflm_dir": str(tflm_dir.resolve()) if tflm_dir else None}
    started = time.perf_counter()
    with build_folder_lock(project_dir / config.get("project.build_dir") / target.name):
        result = pipeline.run(config, target, project_dir, progress, extra)
        firmware = _build_firmware(config, target, result, tflm_dir, progress)
        _record_firmware(Path(result.report), firmware)
    summary = result.to_json() | firmware.to_json()
    summary["seconds"] = round(time.perf_counter() - started, 2)
    summary["stages_seconds"] = result.seconds

    table_console = progress if as_json else Console(soft_wrap=True)
    stages = [report.StageRow(**row) for row in result.stages]
    table_console.print(report.table(stages, f"stages ({config.get('project.name')} on {target.name})"))
    if as_json:
        click.echo(json.dumps(summary))
        return
    lines = [f"int8 model: {result.tflite} ({result.model_bytes:,} bytes, TFLM arena "
             f"{result.arena_bytes:,} bytes); test data: {result.test_data}",
             f"runtime: {firmware.runtime} ({firmware.runtime_reason}); project: {firmware.project}"]
    if firmware.compiled:
        lines.append(f"firmware: {firmware.elf}; {target.name}: flash {firmware.flash_bytes:,} of "
                     f"{target.flash_bytes:,} bytes, RAM {firmware.ram_bytes:,} of {target.ram_bytes:,} "
                     "bytes (measured in the ELF)")
    else:
        lines.append(f"{target.name}: flash about {firmware.estimated_flash_bytes:,} of "
                     f"{target.flash_bytes:,} bytes, RAM about {firmware.estimated_ram_bytes:,} of "
                     f"{target.ram_bytes:,} bytes (estimated for the {firmware.runtime} runtime before "
                     "the compile; not compiled here)")
    lines.append(f"next: {firmware.next_step}")
    lines.append(f"finished in {summary['seconds']:.1f} s")
    table_console.print("\n".join(lines), highlight=False, markup=False)


def _build_firmware(config, target, result, tflm_dir: Path | None, progress: Console):
    """Code generation, the firmware project and (where the toolchain is here) the compile."""
    import numpy as np

    from ..project import build_firmware
    with np.load(result.test_data, allow_pickle=False) as stored:
        first_sample = stored["x"][0]
    labels = config.get("data.labels") or result.labels
    return build_firmware(
        target, Path(result.tflite), Path(result.build_dir),
        runtime=config.get("runtime.kind"), kind=config.get("runtime.project"),
        name=config.get("project.name"), labels=labels, test_sample=first_sample,
        tflm_dir=tflm_dir, arena_bytes=result.arena_bytes,
        arena_margin=config.get("runtime.arena_margin"),
        max_flash=config.get("budgets.max_flash"), max_ram=config.get("budgets.max_ram"),
        console=lambda line: progress.print(line, highlight=False, markup=False))


def _record_firmware(report_path: Path, firmware) -> None:
    """Add the firmware's figures to the build's report.json, so later stages (validate) find them."""
    report_data = json.loads(report_path.read_text()) if report_path.exists() else {}
    report_data["firmware"] = firmware.to_json()
    write_json_atomic(report_path, report_data)
