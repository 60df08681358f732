"""The Optuna study behind `tinyedge tune`: its storage (a SQLite file in the build folder by default, or
any RDB URL such as postgresql://...), its name, its directions (one per objective) and its sampler
(TPE, multivariate, with the budgets as constraints), loaded when it exists so a second run continues
it. TuneResult reads every trial back from the storage."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TinyedgeError

DIRECTIONS = {"accuracy": "maximize", "error": "minimize", "latency": "minimize", "flash": "minimize",
              "ram": "minimize"}
STORAGE_FILE = "tune.db"


def storage_url(project, explicit: str | None = None) -> str:
    """--storage, else tune.storage, else sqlite:///<build_dir>/tune.db."""
    url = explicit or str(project.config.get("tune.storage") or "")
    if url:
        return url
    return f"sqlite:///{(project.build_dir / STORAGE_FILE).resolve()}"


def study_name(project, explicit: str | None = None) -> str:
    return explicit or str(project.config.get("tune.study") or "") or f"{project.model_name}-{project.board.name}"


def objectives_of(project, task: str) -> list[str]:
    objectives = list(dict.fromkeys(project.config.get("tune.objectives")))
    if task != "classification" and "accuracy" in objectives:
        raise TinyedgeError(f"tune.objectives has 'accuracy', but this project is "
                            f"{'an' if task == 'autoencoder' else 'a'} {task} (its figure is the mean squared "
                            "error)", "use 'error' in tune.objectives")
    if "accuracy" in objectives and "error" in objectives:
        raise TinyedgeError("tune.objectives has both 'accuracy' and 'error', the same figure twice",
                            "keep one of them")
    return objectives


def open_storage(url: str):
    import optuna
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite:"):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True) if "///" in url else None
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 120}}
    try:
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=None, **kwargs)
        except Exception as exc:  # noqa: BLE001
            # Workers started together on a new database both create Optuna's tables; the one that
            # loses the race (a duplicate key in the server's catalogue) finds them made a moment later.
            from sqlalchemy.exc import IntegrityError, ProgrammingError
            if not isinstance(exc, (IntegrityError, ProgrammingError)):
                raise
            time.sleep(1.0)
            return optuna.storages.RDBStorage(url, heartbeat_interval=None, **kwargs)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy's and the drivers' errors are many
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TinyedgeError(f"cannot open the tune storage {url}: {first}",
                            "pass --storage sqlite:///path/tune.db or postgresql://user@host/db "
                            "(a server that is running)") from None


def constraints_func(trial) -> list[float]:
    """The budgets as Optuna constraints (<= 0: met), as the trial stored them."""
    values = trial.user_attrs.get("constraints")
    return list(values) if values else [0.0]


def open_study(url: str, name: str, objectives: list[str], seed: int, worker: int = 0):
    """The study, created or loaded (load_if_exists): a second run continues it. The sampler's seed moves
    on with the study's trial count, so a continued search does not draw its first trials again, and
    with the worker's number (--workers: 1, 2, ... for the further processes), so workers started
    together do not draw the same ones; running trials count as bad ones to the others (constant liar)."""
    import warnings

    import optuna
    storage = open_storage(url)
    directions = [DIRECTIONS[objective] for objective in objectives]
    try:
        existing = optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        existing = None
    if existing is not None:
        have = [d.name.lower() for d in existing.directions]
        if have != directions:
            raise TinyedgeError(f"study '{name}' in {url} optimises {have}, not {directions} "
                                f"(tune.objectives {objectives})",
                                "name another study with --study, or set tune.objectives back")
        count = len(existing.trials)
    else:
        count = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=seed + 7919 * count + 104729 * worker, multivariate=True,
                                             constraints_func=constraints_func, n_startup_trials=4,
                                             constant_liar=True)
    study = optuna.create_study(study_name=name, storage=storage, directions=directions, sampler=sampler,
                                load_if_exists=True)
    study.set_user_attr("objectives", objectives)
    return study


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def pareto_numbers(rows: list[dict], objectives: list[str]) -> list[int]:
    """The numbers of the feasible complete trials no other feasible complete trial dominates."""
    signs = [1.0 if DIRECTIONS[name] == "minimize" else -1.0 for name in objectives]
    candidates = [row for row in rows if row["state"] == "COMPLETE" and row.get("feasible")
                  and row.get("values") and all(_finite(value) for value in row["values"])]
    points = {row["number"]: [sign * value for sign, value in zip(signs, row["values"])] for row in candidates}

    def dominates(a, b):
        return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))
    return sorted(number for number, point in points.items()
                  if not any(dominates(other, point) for key, other in points.items() if key != number))


def best_number(rows: list[dict], pareto: list[int], objectives: list[str]) -> int | None:
    """The promoted default: on the Pareto front, the best by the first objective (then the next)."""
    signs = [1.0 if DIRECTIONS[name] == "minimize" else -1.0 for name in objectives]
    front = [row for row in rows if row["number"] in pareto]
    if not front:
        return None
    return min(front, key=lambda row: ([s * v for s, v in zip(signs, row["values"])], row["number"]))["number"]


@dataclass
class TuneResult:
    """A study read back from its storage: every trial (this run's and earlier ones'), the Pareto front
    of the feasible ones and the promoted default."""
    study: str
    storage: str
    board: str
    objectives: list[str]
    directions: list[str]
    trials: list[dict]
    pareto: list[int]
    best: int | None
    ran: list[int] = field(default_factory=list)   # the trials this run made
    teacher: dict = field(default_factory=dict)
    seconds: float = 0.0

    def trial(self, number: int) -> dict:
        for row in self.trials:
            if row["number"] == number:
                return row
        raise TinyedgeError(f"study '{self.study}' has no trial {number}",
                            f"its trials are {', '.join(str(row['number']) for row in self.trials) or 'none'}")

    @property
    def best_trial(self) -> dict | None:
        return self.trial(self.best) if self.best is not None else None

    def to_json(self) -> dict:
        return json.loads(json.dumps({
            "study": self.study, "storage": self.storage, "board": self.board, "objectives": self.objectives,
            "directions": self.directions, "trials": self.trials, "pareto": self.pareto, "best": self.best,
            "ran": self.ran, "teacher": self.teacher, "seconds": self.seconds}, default=str))


def trial_row(trial) -> dict:
    """One trial as TuneResult holds it: its number, state and values, then its user attributes."""
    row = {"number": trial.number, "state": trial.state.name,
           "values": list(trial.values) if trial.values is not None else None,
           "params": dict(trial.params)}
    row.update(trial.user_attrs)
    row.setdefault("feasible", False)
    row.setdefault("reasons", [])
    return row


def result_of(study, url: str, board: str, objectives: list[str], ran: list[int], teacher: dict,
              seconds: float) -> TuneResult:
    rows = [trial_row(trial) for trial in study.get_trials(deepcopy=False)]
    pareto = pareto_numbers(rows, objectives)
    return TuneResult(study.study_name, url, board, objectives, [DIRECTIONS[name] for name in objectives],
                      rows, pareto, best_number(rows, pareto, objectives), ran, teacher, round(seconds, 2))
