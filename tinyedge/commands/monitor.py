"""`tinyedge monitor`: read the monitor statistics of the firmware on the board (QEMU or the host
program started here, or the real board's port), judge each window against the build's baseline, print
a line per reading, append every reading to monitor.jsonl and write monitor.html. --replay streams
samples into the device's inference loop first. Exit status 3 on drift with --fail-on-drift."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click
import numpy as np

from ..errors import TinyedgeError

DRIFT_EXIT = 3
REPLAY_TEST = "test"    # --replay test: the build's own test split


def run(board: str | None = None, project_dir: Path = Path("."), port: str | None = None,
        interval: float | None = None, fail_on_drift: bool = False, as_json: bool = False,
        replay: str | None = None, readings: int | None = None, duration: float | None = None,
        reset: bool = False) -> int:
    from .. import api, buildfiles as files
    from ..console import Progress, say
    from ..device.protocol import DeviceSession
    from ..monitor.baseline import load_baseline
    from ..monitor.drift import Thresholds
    from ..monitor.report import write_report
    from ..monitor.session import FIRST_INFER_TIMEOUT_S, Log, Monitor, Options
    from ..targets import for_board

    _check_limits(interval, readings, duration)
    project = api.open_project(project_dir, board)
    folder = project.load()
    baseline = load_baseline(project.build_dir)
    spec = baseline.spec
    if baseline.samples == 0:
        raise TinyedgeError(f"the monitor baseline of {project.build_dir} counts no validation samples",
                            "give the data a validation split (data.validation_fraction > 0) and build again")
    settings = project.config["monitor"]
    thresholds = Thresholds.of(settings)
    options = Options(interval=float(interval if interval is not None else settings["interval"]),
                      readings=readings, duration=duration, reset=reset,
                      replay=_replay(replay, folder, spec) if replay is not None else None)
    target = for_board(project.board)
    elf = target.link_elf(folder, port)
    expected = dataclasses.replace(folder.identity, input_bytes=spec.input_bytes, output_bytes=spec.output_bytes)
    log_path = project.build_dir / files.MONITOR_LOG
    progress = Progress("replay", len(options.replay.inputs)) if options.replay is not None else None
    log = Log(log_path)
    try:
        with target.link(elf, port) as link:
            session = DeviceSession(link.open, expected=expected, infer_timeout=FIRST_INFER_TIMEOUT_S)
            monitor = Monitor(baseline, session, thresholds, options, log,
                              say=say if as_json else click.echo, progress=progress,
                              end_reason=link.end_reason, build_dir=project.build_dir,
                              tick_unit=target.timer_unit)
            result = monitor.execute(link.description, project.board.name)
    finally:
        log.close()
    report = write_report(project.build_dir, result.records)
    summary = {"board": project.board.name, "kind": spec.kind, "readings": len(result.readings),
               "windows": len(result.judgements), "inferences": result.records[-1].get("inferences"),
               "replayed": result.replayed if options.replay is not None else None,
               "resets": result.resets, "drift": result.drift, "drifted": result.drifted,
               "total": result.total.to_json() if result.total else None,
               "windows_judged": [j.to_json() for j in result.judgements],
               "ended": result.end, "log": str(log_path), "report": str(report)}
    if as_json:
        click.echo(json.dumps(summary))
    else:
        verdict = ("DRIFT in " + ", ".join(result.drifted)) if result.drift else "no drift"
        total = f"; whole run: {'DRIFT' if result.total.drift else 'no drift'}" if result.total else ""
        click.echo(f"monitor: {len(result.readings)} readings, {len(result.judgements)} windows judged, "
                   f"{verdict}{total}")
        click.echo(f"  log:    {log_path}")
        click.echo(f"  report: {report}")
    kept = f"the {len(result.readings)} readings so far are in {log_path} and {report}"
    if result.interrupted:
        say(f"monitor: stopped by Ctrl-C after {len(result.readings)} readings; {kept}")
    elif result.end is not None:
        hint = f"{result.hint}; {kept}" if result.hint else kept
        raise TinyedgeError(f"monitor on {project.board.name} ended after {len(result.readings)} readings: "
                            f"{result.end}", hint)
    return DRIFT_EXIT if fail_on_drift and result.drift else 0


def _check_limits(interval, readings, duration) -> None:
    if interval is not None and not interval > 0:
        raise TinyedgeError(f"--interval {interval:g} is not a positive number of seconds", "e.g. --interval 5")
    if readings is not None and readings < 1:
        raise TinyedgeError(f"--readings {readings} reads nothing", "use 1 or more")
    if duration is not None and not duration > 0:
        raise TinyedgeError(f"--duration {duration:g} is not a positive number of seconds", "e.g. --duration 60")
    if readings is not None and duration is not None:
        raise TinyedgeError("--readings and --duration both end the run", "give one of them")


def _replay(source: str, folder, spec):
    """The samples of --replay as the device's int8 inputs (quantized as validate quantizes them)."""
    from ..int8_io import quantize
    from ..monitor.session import Replay
    if source == REPLAY_TEST:
        x, _ = folder.test_split()
        name = f"the build's test split ({folder.path.name}/test_data.npz)"
    else:
        path = Path(source).expanduser()
        try:
            with np.load(path, allow_pickle=False) as stored:
                if "x" not in stored.files:
                    raise TinyedgeError(f"{path} has no array 'x' (it holds {', '.join(stored.files) or 'nothing'})",
                                        "save the samples as np.savez(path, x=samples)")
                x = np.asarray(stored["x"])
        except FileNotFoundError:
            raise TinyedgeError(f"--replay {path} does not exist", "pass an .npz with x, or 'test'") from None
        except (OSError, ValueError) as error:
            raise TinyedgeError(f"--replay {path} is not a readable .npz ({type(error).__name__})",
                                "save the samples as np.savez(path, x=samples)") from None
        name = str(path)
    if not np.issubdtype(x.dtype, np.floating):
        raise TinyedgeError(f"--replay's x holds {x.dtype} values, not real numbers",
                            "store the real (float) inputs; they are quantized with the model's input scale")
    if x.ndim < 1 or len(x) == 0:
        raise TinyedgeError(f"--replay {name} holds no samples", "store at least one sample in x")
    per_sample = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
    if per_sample != spec.input_bytes:
        raise TinyedgeError(f"--replay's samples have {per_sample} values each (shape {tuple(x.shape[1:])}), "
                            f"the model's input {spec.input_bytes}", "store x with shape (N, *input shape)")
    inputs = quantize(x, spec.input_scale, spec.input_zero_point).reshape(len(x), spec.input_bytes)
    return Replay(inputs, name)
