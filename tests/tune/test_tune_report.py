"""tune's results and --promote.

The report is read from a real Optuna study in a real SQLite file, filled here with trials carrying the
user attributes tinyedge.tune's trials store (settings, metrics, feasible, reasons, stages, build_dir):
tune.json is that study read back, tune.html has its Pareto front table and every trial's stage table,
tune.png its picture. --promote is held on the host target: a real trial, promoted by the real CLI, then
api.build finds every stage cached and validate agrees 1.0 with the host TFLM."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import optuna
import pytest
from PIL import Image

from support import run_tinyedge
from tinyedge import api, tune
from tinyedge.errors import TinyedgeError
from tinyedge.tune import report
from tinyedge.tune.promote import load_result

OBJECTIVES = ["accuracy", "latency", "flash"]
#            number: (accuracy, latency, flash, ram, feasible)
MEASURED = {0: (0.97, 900.0, 20_000, 9_000, True),     # dominated by 2
            1: (0.99, 1500.0, 24_000, 9_500, True),    # front: the most accurate
            2: (0.975, 800.0, 19_000, 8_800, True),    # front
            3: (0.96, 500.0, 18_000, 8_000, True),     # front: the fastest
            4: (0.90, 400.0, 17_000, 7_900, False)}    # would lead on latency, but breaks min_accuracy


def _stages(accuracy: float, cached_teacher: bool = True) -> list[dict]:
    def row(stage, kind, value, params, model_bytes, seconds, cached=False):
        return {"stage": stage, "kind": kind, "metric": "accuracy", "value": value, "params": params,
                "model_bytes": model_bytes, "macs": params * 40, "seconds": seconds, "cached": cached}
    return [row("teacher", "float", 0.99, 40_000, 160_000, 12.0, cached_teacher),
            row("student", "float", accuracy + 0.005, 4_000, 16_000, 5.5),
            row("int8 (TFLM)", "int8", accuracy, 4_000, 6_100, 0.4)]


def _fill_study(folder: Path) -> str:
    url = f"sqlite:///{folder / 'build' / 'host' / 'tune.db'}"
    (folder / "build" / "host").mkdir(parents=True)
    study = optuna.create_study(study_name="digits-host", storage=url,
                                directions=["maximize", "minimize", "minimize"])
    study.set_user_attr("objectives", OBJECTIVES)
    width = optuna.distributions.CategoricalDistribution([0.5, 1.0, 1.5])
    for number, (accuracy, latency, flash, ram, feasible) in MEASURED.items():
        metrics = {"accuracy": accuracy, "error": 1 - accuracy, "latency": latency, "unit": "instructions",
                   "flash": flash, "ram": ram, "split": "validation", "split_samples": 360, "bit_exact": True}
        reasons = [] if feasible else ["accuracy 90.00% (validation split, TFLM) is below budgets.min_accuracy "
                                       "95.00%"]
        study.add_trial(optuna.trial.create_trial(
            params={"width": [0.5, 1.0, 1.5][number % 3]}, distributions={"width": width},
            values=[accuracy, latency, flash], state=optuna.trial.TrialState.COMPLETE,
            user_attrs={"settings": {"student.width": [0.5, 1.0, 1.5][number % 3]}, "metrics": metrics,
                        "feasible": feasible, "reasons": reasons, "constraints": [0.05 if not feasible else -0.02],
                        "stages": _stages(accuracy), "build_dir": str(folder / f"trial-{number}"),
                        "seconds": {"build": 6.3, "measure": 1.2, "trial": 7.6,
                                    "stages": {"teacher": 12.0, "student": 5.5, "int8 (TFLM)": 0.4}}}))
    study.add_trial(optuna.trial.create_trial(
        params={"width": 1.5}, distributions={"width": width}, state=optuna.trial.TrialState.FAIL,
        user_attrs={"error": "the firmware did not compile", "reasons": ["failed: the firmware did not compile"]}))
    return url


def test_tune_json_html_and_the_picture_show_the_study_as_its_storage_holds_it(tmp_path):
    (tmp_path / "tinyedge.toml").write_text('[project]\nname = "digits"\nboard = "host"\n')
    url = _fill_study(tmp_path)
    project = api.open_project(tmp_path)
    result = load_result(project)
    assert result.storage == url and result.objectives == OBJECTIVES
    assert result.pareto == [1, 2, 3] and result.best == 1
    written = report.write_tune_report(result, project.build_dir)
    assert written == [str(project.build_dir / name) for name in ("tune.json", "tune.png", "tune.html")]

    # tune.json: every trial as the storage holds it
    data = json.loads((project.build_dir / "tune.json").read_text())
    stored = optuna.load_study(study_name="digits-host", storage=url)
    assert [row["number"] for row in data["trials"]] == [trial.number for trial in stored.trials] == list(range(6))
    for row, trial in zip(data["trials"], stored.trials):
        assert row["state"] == trial.state.name
        for key, value in trial.user_attrs.items():
            assert row[key] == value
    assert data["pareto"] == [1, 2, 3] and data["best"] == 1 and data["objectives"] == OBJECTIVES

    # tune.html: the Pareto table holds the front (best marked), every trial has its row and stage table
    page = (project.build_dir / "tune.html").read_text()
    front_table = page.split("<h2>Pareto front (feasible)</h2>")[1].split("<h2>Every trial</h2>")[0]
    assert re.findall(r'<tr class="front"><td><a href="#trial-(\d+)"', front_table) == ["1", "2", "3"]
    assert "99.00%" in front_table and "1,500 instructions" in front_table and "24,000" in front_table
    assert "best (promoted by default)" in front_table.split('href="#trial-1"')[1].split("</tr>")[0]
    every = page.split("<h2>Every trial</h2>")[1].split("<h2>Stage tables</h2>")[0]
    assert len(re.findall(r'<a href="#trial-\d+">', every)) == 6
    assert "infeasible: accuracy 90.00% (validation split, TFLM) is below budgets.min_accuracy" in every
    assert "fail: failed: the firmware did not compile" in every
    for number in MEASURED:
        section = page.split(f'<h3 id="trial-{number}">')[1].split("<h3")[0]
        assert [cell for cell in re.findall(r"<tr><td>([^<]+)</td>", section)] == ["teacher", "student",
                                                                                 "int8 (TFLM)"]
        assert "<td>cached</td>" in section and f"{MEASURED[number][0]:.2%}" in section
    assert "no stage table" in page.split('<h3 id="trial-5">')[1]
    assert '<img src="tune.png"' in page

    # tune.png: the picture, its three groups in their colours (grey: infeasible)
    image = Image.open(io.BytesIO((project.build_dir / "tune.png").read_bytes())).convert("RGB")
    assert image.size == (750, 480)
    colours = {colour for _, colour in image.getcolors(maxcolors=1 << 20)}
    for hex_colour in (report.GREY, report.FEASIBLE, report.FRONT):
        assert tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)) in colours


def test_promote_refuses_an_infeasible_or_failed_trial_with_one_line(tmp_path):
    (tmp_path / "tinyedge.toml").write_text('[project]\nname = "digits"\nboard = "host"\n')
    _fill_study(tmp_path)
    result = load_result(api.open_project(tmp_path))
    from tinyedge.tune.promote import chosen
    with pytest.raises(TinyedgeError, match=r"trial 4 of study 'digits-host' breaks a budget: accuracy 90\.00%"):
        chosen(result, "4")
    with pytest.raises(TinyedgeError, match=r"trial 5 of study 'digits-host' is FAIL"):
        chosen(result, 5)
    # the real CLI: the best (trial 1) has no build folder here, so it cannot be promoted
    done = run_tinyedge("tune", "--promote", "best", cwd=tmp_path, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines()[-1].startswith(f"error: trial 1's build folder {tmp_path / 'trial-1'} is "
                                                   "missing or has no manifest")


def test_a_promoted_trial_is_the_projects_build_and_validate_rebuilds_nothing(tune_project):
    """A real trial on the host target, promoted by `tinyedge tune --promote best` alone (no more trials):
    its build is the project's, tinyedge.toml holds its settings with its comments kept, api.build's
    stages are all cached and validate agrees 1.0 with the host TFLM on the test split."""
    toml = tune_project / "tinyedge.toml"
    toml.write_text(toml.read_text().replace("[teacher]\nepochs = 2\n",
                                             "[teacher]\nepochs = 2   # a quick teacher for the test\n"))
    project = api.open_project(tune_project)
    searched = tune.run(project, trials=1)
    trial = searched.trial(0)
    assert trial["feasible"] and searched.best == 0
    assert (project.build_dir / "tune.html").is_file()   # tune.run writes the report

    done = run_tinyedge("tune", "--promote", "best", "--json", cwd=tune_project, timeout=300)
    assert done.returncode == 0, done.stderr
    promoted = json.loads(done.stdout)["promoted"]
    assert promoted["number"] == 0 and promoted["build_dir"] == str(project.build_dir)
    assert json.loads((project.build_dir / "tune.json").read_text())["promoted"]["number"] == 0
    text = toml.read_text()
    assert "epochs = 2   # a quick teacher for the test" in text and "[tune]\ntrials = 2\n" in text
    assert promoted["changed"]["student.width"] == [None, trial["settings"]["student.width"]]
    reopened = api.open_project(tune_project)
    for key, value in trial["settings"].items():
        assert reopened.config.get(key) == value
    assert (project.build_dir / "tune" / "digits-host" / "trial-0").is_dir()   # the trial's own folder stays

    built = api.build(reopened)
    assert set(built.stage_status.values()) == {"cached"}, built.stage_status
    assert built.firmware.elf == project.build_dir / Path(trial["elf"]).relative_to(trial["build_dir"])
    checked = api.validate(reopened)
    assert checked.metrics.agreement == 1.0 and checked.complete and checked.error is None
    assert json.loads((project.build_dir / "report.json").read_text())["build_dir"] == str(project.build_dir)
