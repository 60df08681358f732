"""`tinyedge validate`: build (cached stages are reused), open the board through its target (QEMU or the
host program started here, or the real board's port), check the model identity, run the test split on the device, compare with host TFLM, and
write validation.json and report.html into the build folder. With --json, one object on stdout."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import TinyedgeError

# What `--json` prints: the summary, without the per-sample arrays (they are in validation.json).
JSON_LEFT_OUT = ("per_sample", "build_stages")


def run(board: str | None = None, project_dir: Path = Path("."), as_json: bool = False,
        port: str | None = None, samples: int | None = None, runtime: str | None = None,
        tflm_dir: Path | None = None, models: tuple[str, ...] = (), debug: bool = False,
        debug_samples: int | None = None, layers: bool = False, monitor: bool | None = None) -> None:
    from .. import api
    from .build import further_model_specs
    from ..validation import ValidationFailed
    from ..validation.debug import DEFAULT_DEBUG_SAMPLES, check_debug_samples
    from ..validation.runner import check_sample_count

    check_sample_count(samples)  # a bad --samples fails before the project is read
    check_debug_samples(debug_samples)
    if debug or debug_samples is not None:   # --debug-samples K alone asks for --debug too
        debug_samples = debug_samples or DEFAULT_DEBUG_SAMPLES
    # The runtime and the tree reach the build validate makes (it once validated native firmware
    # when asked for TFLM): they are the project's settings for this run.
    tree = str(Path(tflm_dir).expanduser().resolve()) if tflm_dir is not None else None
    project = api.open_project(project_dir, board, {"runtime.kind": runtime, "runtime.tflm_dir": tree,
                                                    "monitor.enabled": monitor},
                               models=further_model_specs(models))
    try:
        result = api.validate(project, port=port, samples=samples, debug_samples=debug_samples, layers=layers)
    except ValidationFailed as failed:
        if as_json:  # the samples measured before the fault, with "complete": false
            _echo_json(failed.result.to_json())
        raise
    data = result.to_json()
    if as_json:
        _echo_json(data)
    else:
        _print_summary(data)
    # validation.json and report.html are written: a missed budget now makes the exit status 1.
    check_budgets(project.config["budgets"], data)


def missed_budgets(budgets: dict, data: dict) -> list[str]:
    """One phrase per device figure below (or above) its budget: agreement with host TFLM against
    budgets.min_agreement; the device's accuracy against budgets.min_accuracy (classification) or its
    mean squared error against budgets.max_error (regression, autoencoders)."""
    missed = []
    samples = data["samples"]
    agreement, floor = data["agreement"], budgets.get("min_agreement", 1.0)
    if agreement < floor:
        agreeing = samples - len(data.get("disagreeing_samples") or [])
        missed.append(f"agreement with host TFLM {agreement:.2%} ({agreeing} of {samples} int8 outputs "
                      f"identical) is below budgets.min_agreement {floor:.2%}")
    for model in data.get("further_models") or []:   # each further model's random inputs count too
        if model["agreement"] < floor:
            missed.append(f"model {model['name']}: {model['equal']} of {model['samples']} random int8 inputs "
                          f"give outputs identical to host TFLM ({model['agreement']:.2%}), below "
                          f"budgets.min_agreement {floor:.2%}")
    accuracy, floor = data.get("device_accuracy"), budgets.get("min_accuracy", 0.0)
    if floor and accuracy is not None and accuracy < floor:
        right = round(accuracy * samples)
        missed.append(f"device accuracy {accuracy:.2%} ({right} of {samples} samples) is below "
                      f"budgets.min_accuracy {floor:.2%}")
    error, ceiling = data.get("device_mse"), budgets.get("max_error", 0.0)
    if ceiling and error is not None and error > ceiling:
        missed.append(f"device mean squared error {error:.5g} on {samples} samples is above "
                      f"budgets.max_error {ceiling:.5g}")
    return missed


def check_budgets(budgets: dict, data: dict) -> None:
    """A TinyedgeError (exit status 1) naming the first missed figure and its limit, after the report."""
    missed = missed_budgets(budgets, data)
    if missed:
        more = f"; also {len(missed) - 1} more budget(s) missed" if len(missed) > 1 else ""
        raise TinyedgeError(f"validation budget not met: {missed[0]}{more}",
                            f"the measurements are in {data.get('json')} and {data.get('report')}")
    _check_latency_budget(budgets.get("max_latency", 0), data)


def _echo_json(data: dict) -> None:
    click.echo(json.dumps({key: value for key, value in data.items() if key not in JSON_LEFT_OUT}))


def _check_latency_budget(limit: int, data: dict) -> None:
    """budgets.max_latency bounds the median latency, in the board's unit (the report is already written)."""
    latency = data.get("latency")
    if not limit or not latency:
        return
    if latency["median"] > limit:
        raise TinyedgeError(
            f"latency budget not met: median {latency['median']:,.0f} {latency['unit']} > "
            f"budgets.max_latency {limit:,} {latency['unit']}",
            f"the measurements are in {data['report']}; use a smaller student or raise the budget")


def _print_summary(data: dict) -> None:
    from ..validation.report import summary_rows
    click.echo(f"validation of {data['model']['name']} on {data['board']} ({data['link']})")
    for name, value in summary_rows(data):
        click.echo(f"  {name + ':':<20} {value}")
    if data.get("layers"):   # validate --layers: the last sample's inference, step by step
        from ..bench import layer_lines
        for line in layer_lines(data["layers"]):
            click.echo(line.replace("first input", "last sample"))
    click.echo(f"  {'report:':<20} {data['report']}")
    if data.get("debug"):   # validate --debug's finding, as one paragraph
        import textwrap
        click.echo("debug:")
        click.echo(textwrap.fill(data["debug"]["text"], width=100, initial_indent="  ", subsequent_indent="  "))
