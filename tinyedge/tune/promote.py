"""`tinyedge tune --promote TRIAL|best`: one trial's candidate becomes the project's build. Its build folder
(<build_dir>/tune/<study>/trial-N) is copied into the project's build folder, and its settings (the dotted
keys the trial built with) are written into tinyedge.toml with tomlkit, which keeps the file's comments
and layout. The trial's manifest comes with the files, and its stage keys are those of the project's
settings now, so `tinyedge validate` and `flash` rebuild nothing: every stage is cached."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import buildfiles as files
from ..errors import TinyedgeError

KEEP = ("tune", "tune.db", "tune.json", "tune.html", "tune.png", ".tinyedge.lock")   # never replaced
COMMENT = "tinyedge tune --promote"


@dataclass
class Promoted:
    number: int
    study: str
    source: Path                 # the trial's folder
    build_dir: Path              # the project's build folder, now holding the trial's build
    toml: Path
    settings: dict[str, Any]
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)   # key -> (before, after)

    def to_json(self) -> dict:
        return {"number": self.number, "study": self.study, "source": str(self.source),
                "build_dir": str(self.build_dir), "toml": str(self.toml), "settings": self.settings,
                "changed": {key: list(pair) for key, pair in self.changed.items()}}

    def lines(self) -> list[str]:
        changed = ", ".join(f"{key} {before!r} -> {after!r}" for key, (before, after) in self.changed.items())
        return [f"promoted trial {self.number} of study '{self.study}': {self.build_dir} holds its build",
                f"{self.toml.name}: " + (f"{len(self.changed)} setting(s) written ({changed})" if self.changed
                                         else "its settings were already the project's"),
                "tinyedge validate and flash use it (every stage cached)"]


def load_result(project, storage: str | None = None, study: str | None = None):
    """The study as TuneResult reads it back, without running a trial (--promote alone)."""
    import optuna

    from .study import objectives_of, open_storage, result_of, storage_url, study_name
    url, name = storage_url(project, storage), study_name(project, study)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        search = optuna.load_study(study_name=name, storage=open_storage(url))
    except KeyError:
        raise TinyedgeError(f"there is no tune study '{name}' in {url}",
                            "run tinyedge tune first (or name the study with --study)") from None
    objectives = search.user_attrs.get("objectives") or objectives_of(project, "classification")
    from . import _shown
    return result_of(search, _shown(url), project.board.name, list(objectives), [], {}, 0.0)


def chosen(result, which: str | int | None) -> dict:
    """The trial --promote names (a number, or 'best': the best feasible on the Pareto front)."""
    if which is None or str(which).lower() == "best":
        row = result.best_trial
        if row is None:
            raise TinyedgeError(f"study '{result.study}' has no feasible trial to promote",
                                "loosen [budgets], widen the [tune] space or run more trials")
        return row
    try:
        number = int(which)
    except ValueError:
        raise TinyedgeError(f"--promote {which} is neither a trial number nor 'best'",
                            "give --promote best or --promote N (a trial of the study)") from None
    row = result.trial(number)
    if row["state"] != "COMPLETE":
        raise TinyedgeError(f"trial {number} of study '{result.study}' is {row['state']}"
                            + (f" ({'; '.join(row.get('reasons') or [])})" if row.get("reasons") else ""),
                            "promote a complete, feasible trial: " + _front_hint(result))
    if not row.get("feasible"):
        raise TinyedgeError(f"trial {number} of study '{result.study}' breaks a budget: "
                            + "; ".join(row.get("reasons") or []),
                            "promote a feasible trial: " + _front_hint(result))
    return row


def _front_hint(result) -> str:
    return ("the Pareto-optimal ones are " + ", ".join(map(str, result.pareto))) if result.pareto else \
        "the study has none yet"


def promote(project, result, which: str | int | None = "best") -> Promoted:
    """Make a trial the project's build: its folder copied into the project's build folder and its
    settings written into tinyedge.toml (comments kept)."""
    from ..fileio import make_folder
    from ..locking import build_folder_lock
    row = chosen(result, which)
    source = Path(row["build_dir"])
    if not (source / files.MANIFEST).is_file():
        raise TinyedgeError(f"trial {row['number']}'s build folder {source} is missing or has no manifest",
                            "run the trial again (tinyedge tune) on this machine, where its build is kept")
    target = project.build_dir.resolve()
    make_folder(target)
    with build_folder_lock(target):
        copy_build(source.resolve(), target)
    toml, changed = write_settings(project, row["settings"])
    return Promoted(row["number"], result.study, source, target, toml, dict(row["settings"]), changed)


def _outputs(manifest: Path) -> set[str]:
    """The top-level entries of a build folder its manifest's stages name."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {Path(relative).parts[0] for record in (data.get("stages") or {}).values()
            if isinstance(record, dict) for relative in record.get("outputs", {})}


def copy_build(source: Path, target: Path) -> None:
    """The trial's files in place of the project's build: every entry the trial has replaces the
    project's (a folder as a whole, so no file of another build stays inside a firmware project), and
    what the previous build's manifest named but the trial has not is removed; the study's files stay."""
    entries = [entry for entry in source.iterdir() if entry.name not in KEEP]
    stale = _outputs(target / files.MANIFEST) - {entry.name for entry in entries} - set(KEEP)
    for name in sorted(stale):
        _remove(target / name)
    for entry in entries:
        destination = target / entry.name
        _remove(destination)
        if entry.is_dir():
            shutil.copytree(entry, destination, symlinks=True)
        else:
            shutil.copy2(entry, destination)
    _rebase_report(target / files.REPORT, source, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _rebase_report(path: Path, source: Path, target: Path) -> None:
    """report.json's paths named the trial's folder; they name the project's build folder now."""
    from ..fileio import write_json_atomic
    if not path.is_file():
        return
    old, new = str(source), str(target)

    def rebased(value):
        if isinstance(value, str) and (value == old or value.startswith(old + "/")):
            return new + value[len(old):]
        if isinstance(value, dict):
            return {key: rebased(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rebased(item) for item in value]
        return value
    write_json_atomic(path, rebased(json.loads(path.read_text(encoding="utf-8"))))


def write_settings(project, settings: dict[str, Any]) -> tuple[Path, dict[str, tuple[Any, Any]]]:
    """The trial's settings into tinyedge.toml (created when the project has none), with tomlkit: the
    file's comments, order and layout stay; a changed key keeps its line's comment, a new key gets one
    naming the promotion. Returns the file and what changed."""
    import tomlkit

    from ..config import PROJECT_FILE, load
    from ..fileio import write_text_atomic
    path = (project.config.path or project.directory / PROJECT_FILE)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    document = tomlkit.parse(text)
    changed: dict[str, tuple[Any, Any]] = {}
    for dotted, value in settings.items():
        section, key = dotted.split(".", 1)
        if section not in document:
            document.add(tomlkit.nl()) if text.strip() else None
            document.add(section, tomlkit.table())
        table = document[section]
        before = table[key].unwrap() if key in table else None
        if before == value and type(before) is type(value):
            continue
        item = tomlkit.item(value)
        if key in table and table[key].trivia.comment:
            item.trivia.comment_ws = table[key].trivia.comment_ws
            item.trivia.comment = table[key].trivia.comment
        else:
            item.comment(COMMENT)
            item.trivia.comment_ws = "   "
        table[key] = item
        changed[dotted] = (before, value)
    if changed:
        write_text_atomic(path, tomlkit.dumps(document))
        load(path)   # what was written reads back as a valid project file (a TinyedgeError otherwise)
    return path, changed
