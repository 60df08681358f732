"""tinyedge tune's core on the host target (the host compiler, fast): a tiny search space, every trial
built by the real pipeline and measured on the real host firmware, the study kept in a real SQLite
storage read back with optuna.load_study, a second run continuing it under a flash budget that refuses
every candidate, the teacher trained once."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from support import run_tinyedge
from tinyedge import api, tune
from tinyedge.elfsize import read_elf_size

PROJECT = """\
[project]
board = "host"
[teacher]
epochs = 2
[distillation]
epochs = 2
[compression]
epochs = 1
[tune]
trials = 2
widths = [0.5]
depths = [1]
temperatures = [4.0]
alphas = [0.1]
prune = ["off"]
clusters = ["off"]
qat = [false]
low_rank = ["off", 0.5]
"""
REFUSING = "[budgets]\nmax_flash = 1000\n"   # no firmware is this small


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """Two trials, then (the same study, a flash budget no candidate meets) one more."""
    folder = tmp_path_factory.mktemp("tune")
    (folder / "tinyedge.toml").write_text(PROJECT)
    project = api.open_project(folder, board="host")
    first = tune.run(project, trials=2)
    (folder / "tinyedge.toml").write_text(PROJECT + REFUSING)
    second = tune.run(api.open_project(folder, board="host"), trials=1)
    return project, first, second


def test_a_trial_that_fails_is_kept_as_failed_with_its_message_and_the_search_goes_on(searched):
    project, first, _ = searched
    # The host runs the native runtime only: every trial's build stops with a TinyedgeError.
    failing = api.open_project(project.directory, board="host", settings={"runtime.kind": "tflm"})
    result = tune.run(failing, trials=2, study="failing")
    assert result.ran == [0, 1] and [row["state"] for row in result.trials] == ["FAIL", "FAIL"]
    for row in result.trials:
        assert row["error"].startswith("the host board runs tinyedge's native runtime only, not tflm")
        assert row["reasons"] == [f"failed: {row['error']}"] and row["feasible"] is False
        assert Path(row["build_dir"]) == project.build_dir / "tune" / "failing" / f"trial-{row['number']}"
    assert result.pareto == [] and result.best is None
    # another study in the same build folder has its own trial folders: digits-host's are intact
    assert all(Path(row["elf"]).is_file() for row in first.trials)


def test_every_trial_is_built_and_measured_on_the_target_with_flash_and_ram_from_its_elf(searched):
    project, first, _ = searched
    assert first.study == "digits-host" and first.objectives == ["accuracy", "latency", "flash"]
    assert first.ran == [0, 1] and [row["state"] for row in first.trials] == ["COMPLETE", "COMPLETE"]
    for row in first.trials:
        metrics = row["metrics"]
        folder = Path(row["build_dir"])
        assert folder == project.build_dir / "tune" / "digits-host" / f"trial-{row['number']}"
        size = read_elf_size(row["elf"])
        assert Path(row["elf"]).is_relative_to(folder)
        assert metrics["flash"] == size.flash_bytes and metrics["ram"] == size.ram_bytes
        assert metrics["latency"] > 0 and metrics["unit"] == "us" and metrics["bit_exact"]
        assert metrics["split"] == "validation" and 0.0 < metrics["accuracy"] <= 1.0
        assert row["values"] == [metrics["accuracy"], metrics["latency"], metrics["flash"]]
        assert row["feasible"] and row["reasons"] == [] and all(value <= 0 for value in row["constraints"])
        assert [stage["stage"] for stage in row["stages"]][:2] == ["teacher", "student"]
        assert row["stages"][-1]["stage"] == "int8 (TFLM)"
        assert row["settings"]["student.width"] == 0.5
        assert row["settings"]["compression.low_rank"] == (row["params"]["low_rank"] != "off")
    assert first.pareto and set(first.pareto) <= {0, 1} and first.best in first.pareto


def test_the_teacher_is_trained_once_and_every_trial_finds_it_cached(searched):
    project, first, second = searched
    teacher = project.build_dir / "tune" / "teacher"
    assert first.teacher == {"build_dir": str(teacher), "seconds": first.teacher["seconds"], "status": "ran"}
    assert second.teacher["status"] == "cached"
    for row in second.trials:
        assert row["stage_status"]["data"] == "cached" and row["stage_status"]["teacher"] == "cached"
        assert row["stage_status"]["student"] == "ran"
        assert row["stages"][0]["cached"] is True


def test_a_budget_that_refuses_makes_the_trial_infeasible_with_the_reason(searched):
    _, first, second = searched
    assert second.ran == [2]
    refused = second.trial(2)
    assert refused["state"] == "COMPLETE" and refused["feasible"] is False
    assert refused["reasons"] == [f"flash {refused['metrics']['flash']:,} bytes (the ELF) is above "
                                  f"budgets.max_flash 1,000"]
    assert refused["constraints"][1] > 0
    assert 2 not in second.pareto and second.pareto == first.pareto


def test_the_study_reads_back_from_its_sqlite_file_and_a_second_run_continues_it(searched):
    project, first, second = searched
    storage = f"sqlite:///{project.build_dir / 'tune.db'}"
    assert first.storage == second.storage == storage
    study = optuna.load_study(study_name="digits-host", storage=storage)
    assert len(first.trials) == 2 and len(study.trials) == len(second.trials) == 3
    assert [trial.number for trial in study.trials] == [0, 1, 2]
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE", "MINIMIZE"]
    for trial, row in zip(study.trials, second.trials):
        assert trial.user_attrs["metrics"] == row["metrics"] and list(trial.values) == row["values"]
        assert trial.user_attrs["build_dir"] == row["build_dir"]


def test_a_bad_tune_value_is_a_one_line_error(tmp_path):
    (tmp_path / "tinyedge.toml").write_text('[tune]\nwidths = [0.5, "wide"]\n')
    result = run_tinyedge("tune", "--board", "host", cwd=tmp_path, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == ["error: tinyedge.toml: 'tune.widths' holds \"wide\", which is not a "
                                          "number from 0.05 (student width multipliers to try)"]
    (tmp_path / "tinyedge.toml").write_text('[tune]\nobjectives = ["accuracy", "speed"]\n')
    result = run_tinyedge("tune", "--board", "host", cwd=tmp_path, timeout=120)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert "'tune.objectives' holds \"speed\", which is not one of accuracy, error, latency, flash, ram" \
        in result.stderr
    assert not (tmp_path / "build").exists()
