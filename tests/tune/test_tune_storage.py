"""tinyedge tune's storage: a study shared by two worker processes on a real PostgreSQL server (the
conftest's), a search interrupted with SIGINT that a second run continues, `--workers 2` in one command
on the SQLite default. Every run is the real CLI in a child process on the host target."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import psycopg
import pytest

STUDY = "digits-host"          # the default: <project.name>-<board>
INTERRUPTED = ("error: interrupted; the study keeps its completed trials (the running one is recorded as "
               "interrupted): run tinyedge tune again to continue it")


def tinyedge(folder: Path, *args: str, log: Path) -> subprocess.Popen:
    """`tinyedge tune --dir folder ...` started as a user would, stdout and stderr into files (a pipe
    nobody reads could stall the child)."""
    return subprocess.Popen([sys.executable, "-m", "tinyedge", "tune", "--dir", str(folder), *args],
                            stdout=open(log.with_suffix(".out"), "w"), stderr=open(log.with_suffix(".err"), "w"),
                            text=True)


def finished(child: subprocess.Popen, log: Path, timeout: float = 300) -> tuple[str, str]:
    child.wait(timeout=timeout)
    return log.with_suffix(".out").read_text(), log.with_suffix(".err").read_text()


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'build' / 'host' / 'tune.db'}"


def built(trials) -> list:
    """The trials that were built and measured or are being (not the suggestions that repeated a
    completed trial's settings, kept PRUNED)."""
    return [trial for trial in trials if "repeats" not in trial.user_attrs]


def settings_of(trial) -> tuple:
    return tuple(sorted(trial.params.items()))


def test_the_fixture_is_a_real_postgresql_server_on_a_socket_and_optuna_stores_a_study_in_it(postgres_server):
    with psycopg.connect(host=str(postgres_server.folder), user="postgres", dbname="tinyedge") as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT version(), inet_server_addr(), current_setting('listen_addresses')")
            version, address, listen = cursor.fetchone()
    assert version.startswith("PostgreSQL ")
    assert address is None and listen == ""          # a unix socket; no TCP at all
    assert (postgres_server.folder / ".s.PGSQL.5432").is_socket()
    study = optuna.create_study(study_name="probe", storage=postgres_server.url, directions=["maximize"])
    study.add_trial(optuna.trial.create_trial(params={}, distributions={}, values=[1.0]))
    assert len(optuna.load_study(study_name="probe", storage=postgres_server.url).trials) == 1


@pytest.mark.slow
def test_two_worker_processes_finish_one_study_on_a_postgresql_server(tune_project, postgresql_url, tmp_path):
    # Two `tinyedge tune` processes on one machine, started together in one project folder (the teacher
    # is shared, cached), each with its own --trials, on one study in the server.
    shares = {"a": 1, "b": 1}
    children = {name: tinyedge(tune_project, "--trials", str(count), "--storage", postgresql_url,
                               "--study", "shared", "--json", log=tmp_path / name)
                for name, count in shares.items()}
    results, measured = {}, {}
    for name, child in children.items():
        out, err = finished(child, tmp_path / name)
        assert child.returncode == 0, err[-3000:]
        results[name] = json.loads(out)
        # The trials this worker built and measured, from its own lines ("tune: trial N: accuracy ...").
        measured[name] = {int(number) for number in re.findall(r"^tune: trial (\d+): (?:accuracy|error) ", err, re.M)}
    study = optuna.load_study(study_name="shared", storage=postgresql_url)
    trials = built(study.trials)
    assert len(trials) == sum(shares.values())                     # the sum of both workers' --trials
    assert all(trial.state == optuna.trial.TrialState.COMPLETE for trial in trials)
    for trial in trials:   # each measured on the host target, its build in the shared project folder
        assert trial.user_attrs["metrics"]["unit"] == "us" and trial.user_attrs["metrics"]["flash"] > 0
        assert Path(trial.user_attrs["elf"]).is_file()
        assert Path(trial.user_attrs["build_dir"]).is_relative_to(tune_project)
    # Each worker measured as many trials as it was asked for, none measured by both.
    assert [len(measured[name]) for name in shares] == list(shares.values())
    assert measured["a"] | measured["b"] == {trial.number for trial in trials}
    assert all(result["storage"].startswith("postgresql://postgres@/tinyedge") for result in results.values())
    assert not (tune_project / "build" / "host" / "tune.db").exists()  # nothing went to the SQLite default


@pytest.mark.slow
def test_sigint_keeps_the_study_and_a_second_run_continues_it_with_workers(tune_project, tmp_path):
    url = sqlite_url(tune_project)
    child = tinyedge(tune_project, "--trials", "3", log=tmp_path / "first")
    deadline = time.monotonic() + 240
    completed: list = []
    while not completed:   # Ctrl-C once the first trial is complete (read from the study's storage)
        assert child.poll() is None, (tmp_path / "first.err").read_text()[-3000:]
        assert time.monotonic() < deadline, "no trial completed in time"
        time.sleep(0.5)
        try:
            study = optuna.load_study(study_name=STUDY, storage=url)
        except KeyError:   # the study is not made yet
            continue
        completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    os.kill(child.pid, signal.SIGINT)
    out, err = finished(child, tmp_path / "first", timeout=120)
    assert child.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    assert err.rstrip().splitlines()[-1] == INTERRUPTED
    assert [line for line in err.splitlines() if line.startswith("error:")] == [INTERRUPTED]

    kept = optuna.load_study(study_name=STUDY, storage=url).trials
    done = [trial for trial in kept if trial.state == optuna.trial.TrialState.COMPLETE]
    assert done and len(built(kept)) < 3                           # stopped before its three trials
    for trial in built(kept):   # nothing left running: the trial Ctrl-C stopped is recorded as such
        assert trial.state == optuna.trial.TrialState.COMPLETE or trial.user_attrs["error"] == "interrupted"

    # The second run, two workers in one command (`--workers 2`): the study continues.
    child = tinyedge(tune_project, "--trials", "2", "--workers", "2", "--json", log=tmp_path / "second")
    out, err = finished(child, tmp_path / "second")
    assert child.returncode == 0, err[-3000:]
    result = json.loads(out)
    after = optuna.load_study(study_name=STUDY, storage=url).trials
    assert len(built(after)) == len(built(kept)) + 2               # grows by both workers' trials
    assert (tune_project / "build" / "host" / "tune" / STUDY / "worker-1.log").is_file()
    new = [trial for trial in built(after) if trial.number not in {old.number for old in kept}]
    assert len(new) == 2 and all(trial.state == optuna.trial.TrialState.COMPLETE for trial in new)
    assert sorted(result["ran"]) == sorted(trial.number for trial in after if trial.number not in
                                           {old.number for old in kept})
    # The earlier completed trials are kept as they were; none is run again, under its number or its settings.
    for old in done:
        again = next(trial for trial in after if trial.number == old.number)
        assert again.state == optuna.trial.TrialState.COMPLETE and again.values == old.values
    complete = [trial for trial in after if trial.state == optuna.trial.TrialState.COMPLETE]
    assert len({trial.number for trial in complete}) == len(complete)
    assert len({settings_of(trial) for trial in complete}) == len(complete)
