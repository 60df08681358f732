"""`tinyedge tune`: a measured search for the best compressed model under the budgets.

Every trial is the real pipeline (distill -> compress -> int8 -> TFLM on the validation split) and the
real target (the firmware generated, compiled and run on the board or its emulator: latency in the
board's unit, flash and RAM from the ELF), driven by an Optuna study (multi-objective, the budgets as
constraints) kept in an RDB storage: a SQLite file in the build folder by default, so an interrupted
search continues where it stopped, or a PostgreSQL URL that workers on many machines share.

    project = api.open_project("examples/digits", board="emu-m4")
    result = tune.run(project, trials=10)
    result.pareto, result.best_trial["metrics"]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ..errors import TinyedgeError
from .space import Space
from .study import TuneResult, objectives_of, open_study, result_of, storage_url, study_name
from .trial import prepare_teacher, run_trial, trial_dir

__all__ = ["run", "TuneResult", "Space"]

REPEAT_ATTEMPTS = 20                  # suggestions that repeat a completed trial's, at most, before one is run
WORKER_ENV = "TINYEDGE_TUNE_WORKER"   # a --workers child's number (1, 2, ...): its sampler's seed


def _plain(value: Any):
    """What Optuna's user attributes can hold (JSON): numpy scalars as Python numbers, paths as text."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _best_text(study, objectives: list[str]) -> str:
    from .study import best_number, pareto_numbers, trial_row
    rows = [trial_row(trial) for trial in study.get_trials(deepcopy=False)]
    best = best_number(rows, pareto_numbers(rows, objectives), objectives)
    if best is None:
        return "no feasible trial yet"
    metrics = next(row for row in rows if row["number"] == best)["metrics"]
    parts = []
    for name in objectives:
        value = metrics[name]
        parts.append(f"{name} {value:.2%}" if name == "accuracy" else
                     f"latency {value:,.0f} {metrics['unit']}" if name == "latency" else
                     f"{name} {value:,}" if name in ("flash", "ram") else f"{name} {value:.4g}")
    return f"best feasible: trial {best} ({', '.join(parts)})"


def run(project, *, trials: int | None = None, workers: int | None = None, storage: str | None = None,
        study: str | None = None, console: Callable[[str], None] | None = None,
        tflm_dir: Path | None = None) -> TuneResult:
    """Run `trials` more trials (default tune.trials) of the project's study and return the whole study
    read back from its storage. A trial that fails (a TinyedgeError) is recorded as FAIL with its
    message and the search goes on; Ctrl-C records the running trial as FAIL ("interrupted") and stops."""
    import optuna
    from ..api import tflm_dir_of
    from ..console import Progress, say

    log = console or say
    settings = project.config["tune"]
    trials = int(settings["trials"] if trials is None else trials)
    if trials < 1:
        raise TinyedgeError(f"tune --trials {trials} is not a positive number of trials", "give 1 or more")
    workers = int(settings["workers"] if workers is None else workers)
    if workers < 1:
        raise TinyedgeError(f"tune --workers {workers} is not a positive number of workers", "give 1 or more")
    space = Space.from_config(settings)
    url, name = storage_url(project, storage), study_name(project, study)
    tree = tflm_dir_of(project, tflm_dir)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()

    teacher = prepare_teacher(project, log, tree)
    objectives = objectives_of(project, teacher.task)
    search = open_study(url, name, objectives, int(settings["seed"]), int(os.environ.get(WORKER_ENV) or 0))
    shares = [trials // workers + (1 if index < trials % workers else 0) for index in range(workers)]
    log(f"tune: study '{name}' in {_shown(url)}, {len(search.trials)} trial(s) so far; {trials} more on "
        f"{project.board.name}" + (f" by {workers} workers ({'+'.join(map(str, shares))})" if workers > 1 else ""))
    before = {trial.number for trial in search.get_trials(deepcopy=False)}
    children = _start_workers(project, shares[1:], url, name, tflm_dir)
    mine = shares[0]
    progress = Progress("tune", mine, unit="trials")
    current = None   # the trial asked for and not yet told: Ctrl-C anywhere before its tell records it
    ctrl_c = _CtrlC()
    try:
        for done in range(mine):
            ctrl_c.check()
            trial, params = _ask_new(search, space, log)
            current = trial
            trial_settings = space.settings(params)
            trial.set_user_attr("settings", trial_settings)
            folder = trial_dir(project, name, trial.number)
            trial.set_user_attr("build_dir", str(folder))
            log(f"tune: trial {trial.number}: {_settings_text(params)}")
            try:
                attrs = run_trial(project, trial_settings, folder, trial.number, teacher, log, tree)
            except TinyedgeError as exc:
                trial.set_user_attr("error", exc.one_line())
                trial.set_user_attr("reasons", [f"failed: {exc.one_line()}"])
                search.tell(trial, state=optuna.trial.TrialState.FAIL)
                log(f"tune: trial {trial.number} failed: {exc.one_line()}")
            except Exception as exc:   # a fault of tinyedge itself: kept in the study, then raised
                trial.set_user_attr("error", f"{type(exc).__name__}: {exc}".splitlines()[0])
                trial.set_user_attr("reasons", [f"failed: {type(exc).__name__}"])
                search.tell(trial, state=optuna.trial.TrialState.FAIL)
                raise
            else:
                attrs = json.loads(json.dumps(attrs, default=_plain))
                for key, value in attrs.items():
                    trial.set_user_attr(key, value)
                search.tell(trial, [attrs["metrics"][objective] for objective in objectives])
                state = "feasible" if attrs["feasible"] else "infeasible: " + "; ".join(attrs["reasons"])
                log(f"tune: trial {trial.number}: {_metrics_text(attrs['metrics'], objectives)}, {state}")
            current = None
            progress(done + 1, note=_best_text(search, objectives))
        ctrl_c.check()
    except KeyboardInterrupt:
        if current is not None:
            _record_interrupted(search, current)
        _interrupt(children)
        raise
    finally:
        ctrl_c.restore()
        progress.close()
        failed = _wait_for(children, log)
    if failed:
        raise TinyedgeError(f"{len(failed)} of {len(children)} further tune worker(s) failed: {failed[0]}",
                            "the study keeps every trial they finished; run tinyedge tune again to continue")
    ran = sorted({trial.number for trial in search.get_trials(deepcopy=False)} - before)
    result = result_of(search, _shown(url), project.board.name, objectives, ran,
                       {"build_dir": str(teacher.folder), "seconds": teacher.seconds, "status": teacher.status},
                       time.perf_counter() - started)
    from .report import write_tune_report
    write_tune_report(result, project.build_dir)   # tune.json, tune.png, tune.html
    return result


class _CtrlC:
    """Ctrl-C during a search, remembered: Python's KeyboardInterrupt can land in a finalizer (a weakref
    callback during TensorFlow's garbage collection), where Python prints it as "Exception ignored" with
    a traceback and drops it, and the search would go on; the search checks the flag between trials and
    stops there instead, and that dropped interrupt is not printed."""

    def __init__(self):
        import signal
        import threading
        self.seen = False
        self.previous = None
        self.unraisable = sys.unraisablehook
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
            sys.unraisablehook = self._unraisable

    def _unraisable(self, info) -> None:
        if not (self.seen and isinstance(info.exc_value, KeyboardInterrupt)):
            self.unraisable(info)

    def _handle(self, signum, frame):
        self.seen = True
        raise KeyboardInterrupt

    def check(self) -> None:
        if self.seen:
            raise KeyboardInterrupt

    def restore(self) -> None:
        if self.previous is not None:
            import signal
            signal.signal(signal.SIGINT, self.previous)
            sys.unraisablehook = self.unraisable
            self.previous = None


def _record_interrupted(search, trial) -> None:
    """A trial Ctrl-C stopped before it was told: FAIL with the reason, unless it was already told."""
    import optuna
    stored = next((other for other in search.get_trials(deepcopy=False) if other.number == trial.number), None)
    if stored is not None and stored.state != optuna.trial.TrialState.RUNNING:
        return
    trial.set_user_attr("error", "interrupted")
    trial.set_user_attr("reasons", ["interrupted"])
    search.tell(trial, state=optuna.trial.TrialState.FAIL)


def _ask_new(search, space, log: Callable[[str], None]):
    """The next trial and its parameters, not those of a completed trial nor of one another worker runs:
    a suggestion that repeats one (a resumed search, a small space, workers started together) is kept as
    PRUNED ("repeats trial N") and the sampler asked again, while the space has a candidate no trial took;
    once every candidate has been, a repeat is measured again. Ctrl-C here records the trial as
    interrupted, as during its build."""
    import math

    import optuna
    candidates = math.prod(len(values) for values in space.choices.values())
    for _ in range(REPEAT_ATTEMPTS):
        trial = search.ask()
        try:
            params = space.suggest(trial)
            taken = {}   # completed trials' settings and those another worker is running now
            for other in search.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                                     optuna.trial.TrialState.RUNNING)):
                if other.number != trial.number and other.params:
                    taken.setdefault(tuple(sorted(other.params.items(), key=lambda item: item[0])), other.number)
            repeated = taken.get(tuple(sorted(params.items(), key=lambda item: item[0])))
            if repeated is None or len(taken) >= candidates:
                return trial, params
            trial.set_user_attr("repeats", repeated)
            trial.set_user_attr("reasons", [f"repeats trial {repeated}'s settings"])
            search.tell(trial, state=optuna.trial.TrialState.PRUNED)
            log(f"tune: trial {trial.number} would repeat trial {repeated}'s settings; asking again")
        except KeyboardInterrupt:
            _record_interrupted(search, trial)
            raise
    trial = search.ask()   # the sampler keeps to measured candidates: measure one again
    return trial, space.suggest(trial)


def _start_workers(project, shares: list[int], url: str, name: str, tflm_dir: Path | None) -> list:
    """The further worker processes of --workers: `tinyedge tune` on the same storage and study, each its
    share of the trials (and its own emulator or host process); this process is the first worker."""
    from .trial import study_dir
    children = []
    for number, share in enumerate(shares, start=1):
        if share < 1:
            continue
        command = [sys.executable, "-m", "tinyedge", "tune", "--dir", str(project.directory), "--board",
                   project.board.name, "--trials", str(share), "--workers", "1", "--storage", url,
                   "--study", name, "--json"]
        if tflm_dir is not None:
            command += ["--tflm-dir", str(tflm_dir)]
        log_path = study_dir(project, name) / f"worker-{number}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w", encoding="utf-8") as log_file:   # the child keeps its own handle
            child = subprocess.Popen(command, env={**os.environ, WORKER_ENV: str(number)},
                                     stdout=subprocess.DEVNULL, stderr=log_file)
        children.append((number, child, log_path))
    return children


def _wait_for(children: list, log: Callable[[str], None]) -> list[str]:
    """Wait for the further workers (Ctrl-C here is passed on to them); their one-line errors."""
    failed = []
    for number, child, log_path in children:
        try:
            child.wait()
        except KeyboardInterrupt:
            _interrupt(children)
            raise
        if child.returncode != 0:
            text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
            lines = [line for line in text.splitlines() if line.startswith("error:")]
            failed.append(lines[-1] if lines else f"exit status {child.returncode} (see {log_path})")
            log(f"tune: worker {number} failed: {failed[-1]}")
    return failed


def _interrupt(children: list) -> None:
    """Ctrl-C (SIGINT) passed on to the further workers, each then waited for: each records its running
    trial as interrupted and stops, as this process does."""
    import signal
    for _, child, _ in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    for _, child, _ in children:
        child.wait()


def _shown(url: str) -> str:
    """The storage URL without its password."""
    try:
        from sqlalchemy.engine import make_url
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - shown as given when SQLAlchemy cannot parse it
        return url


def _settings_text(params: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in params.items())


def _metrics_text(metrics: dict, objectives: list[str]) -> str:
    quality = f"accuracy {metrics['accuracy']:.2%}" if "accuracy" in metrics else f"error {metrics['error']:.4g}"
    return (f"{quality}, latency {metrics['latency']:,.0f} {metrics['unit']}, flash {metrics['flash']:,} B, "
            f"RAM {metrics['ram']:,} B")
