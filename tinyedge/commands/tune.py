"""`tinyedge tune [--board B] [--trials N] [--workers K] [--storage URL] [--study NAME] [--json]
[--promote TRIAL|best]`: N more trials of the project's Optuna study (tinyedge.tune), each built by the
real pipeline and measured on the board's target; prints every trial of the study (Pareto-optimal
ones marked) and the best feasible, or with --json one object on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import click

INTERRUPTED = ("interrupted; the study keeps its completed trials (the running one is recorded as "
               "interrupted): run tinyedge tune again to continue it")


def run(board: str | None = None, project_dir: Path = Path("."), trials: int | None = None,
        workers: int | None = None, storage: str | None = None, study: str | None = None,
        as_json: bool = False, promote: str | None = None, tflm_dir: Path | None = None) -> None:
    from .. import api, tune  # imported late: `tinyedge tune --help` stays instant
    from ..console import print_table

    from ..tune.promote import load_result, promote as promote_trial
    from ..tune.report import HTML_FILE, write_tune_report

    project = api.open_project(project_dir, board)
    if promote is not None and trials is None:   # --promote alone: the study as it is, no more trials
        result = load_result(project, storage, study)
    else:
        try:
            result = tune.run(project, trials=trials, workers=workers, storage=storage, study=study,
                              tflm_dir=tflm_dir)
        except KeyboardInterrupt:   # Ctrl-C: the study keeps what it has, so the one line says how to go on
            click.echo(f"error: {INTERRUPTED}", err=True)
            raise SystemExit(130) from None
    promoted = promote_trial(project, result, promote) if promote is not None else None
    if promoted is not None or not result.ran:   # tune.run wrote them; again with the promotion
        write_tune_report(result, project.build_dir, promoted.to_json() if promoted else None)
    print_table(table(result), to_stderr=as_json)
    if as_json:
        data = result.to_json()
        data["report"] = str(project.build_dir / HTML_FILE)
        if promoted is not None:
            data["promoted"] = promoted.to_json()
        click.echo(json.dumps(data))
    else:
        lines = summary_lines(result) + [f"report: {project.build_dir / HTML_FILE}"]
        click.echo("\n".join(lines + (promoted.lines() if promoted is not None else [])))


def table(result):
    from rich.table import Table
    grid = Table(title=f"study {result.study} ({len(result.trials)} trials; * Pareto-optimal, feasible)")
    for name in ("trial", "state", "settings", "quality", "latency", "flash B", "RAM B", "feasible"):
        grid.add_column(name, justify="right" if name in ("trial", "latency", "flash B", "RAM B") else "left",
                        no_wrap=name != "settings" and name != "feasible", overflow="fold",
                        min_width=8 if name in ("feasible", "settings") else None)
    varying = _varying(result.trials)
    for row in result.trials:
        metrics = row.get("metrics") or {}
        mark = "*" if row["number"] in result.pareto else ""
        quality = (f"{metrics['accuracy']:.2%}" if "accuracy" in metrics else
                   f"{metrics['error']:.4g}" if "error" in metrics else "-")
        grid.add_row(f"{mark}{row['number']}", row["state"], _short({key: value for key, value in (row.get("params") or {}).items()
                                                             if key in varying}), quality,
                     f"{metrics['latency']:,.0f} {metrics['unit']}" if "latency" in metrics else "-",
                     f"{metrics['flash']:,}" if "flash" in metrics else "-",
                     f"{metrics['ram']:,}" if "ram" in metrics else "-",
                     "yes" if row.get("feasible") else "; ".join(row.get("reasons") or []) or "no")
    return grid


def _varying(rows: list[dict]) -> set[str]:
    """The parameters that differ between trials (the ones a table needs to show)."""
    seen: dict[str, set] = {}
    for row in rows:
        for key, value in (row.get("params") or {}).items():
            seen.setdefault(key, set()).add(repr(value))
    return {key for key, values in seen.items() if len(values) > 1}


def _short(params: dict) -> str:
    return " ".join(f"{key}={value}" for key, value in params.items())


def summary_lines(result) -> list[str]:
    lines = [f"study '{result.study}' in {result.storage}: {len(result.trials)} trials "
             f"({len(result.ran)} this run), {len(result.pareto)} Pareto-optimal feasible"]
    best = result.best_trial
    if best is None:
        lines.append("no feasible trial: loosen [budgets] or widen the [tune] space")
    else:
        lines.append(f"best feasible: trial {best['number']} in {best['build_dir']}")
    return lines
