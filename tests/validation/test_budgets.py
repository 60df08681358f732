"""Budgets on the built-in example's real emu-m4 build (the `validated_digits` run of conftest.py):
flash and RAM against the ELF after the compile, the native estimate against that ELF, and
`tinyedge validate` exiting 1 when the device misses budgets.min_accuracy or budgets.min_agreement."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from .conftest import ValidatedProject
from support import run_tinyedge
from tinyedge.commands.validate import check_budgets, missed_budgets
from tinyedge.errors import TinyedgeError


def _settings(budgets: str) -> str:
    """The example's project file with other budgets (budgets are in no stage's key: nothing retrains)."""
    return f'[project]\nname = "digits"\nboard = "emu-m4"\n\n[data]\nsource = "digits"\n\n[budgets]\n{budgets}\n'


def _copy(validated_digits: ValidatedProject, tmp_path, budgets: str):
    project = tmp_path / "digits"
    shutil.copytree(validated_digits.folder, project)
    (project / "tinyedge.toml").write_text(_settings(budgets))
    return project


@pytest.mark.slow
@pytest.mark.emulated
def test_the_native_estimate_is_within_10_percent_of_the_elf_on_digits(validated_digits: ValidatedProject):
    firmware = json.loads((validated_digits.build_dir / "report.json").read_text())["firmware"]
    assert firmware["compiled"] and firmware["runtime"] == "native"
    flash = firmware["estimated_flash_bytes"] / firmware["flash_bytes"]
    ram = firmware["estimated_ram_bytes"] / firmware["ram_bytes"]
    print(f"digits on emu-m4: flash {firmware['estimated_flash_bytes']:,} / {firmware['flash_bytes']:,} = "
          f"{flash:.4f}, RAM {firmware['estimated_ram_bytes']:,} / {firmware['ram_bytes']:,} = {ram:.4f}")
    assert 0.9 <= flash <= 1.1 and 0.9 <= ram <= 1.1


@pytest.mark.slow
@pytest.mark.emulated
def test_flash_and_ram_budgets_are_checked_against_the_elf(validated_digits: ValidatedProject, tmp_path):
    flash, ram = validated_digits.result["flash_bytes"], validated_digits.result["ram_bytes"]
    # 2 KB of room: the build passes (the old model-only formula refused digits at 40,000 B).
    project = _copy(validated_digits, tmp_path, f"max_flash = {flash + 2048}\nmax_ram = {ram}")
    run = run_tinyedge("build", "--board", "emu-m4", "--dir", str(project), "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    built = json.loads(run.stdout)
    assert (built["compiled"], built["flash_bytes"], built["ram_bytes"]) == (True, flash, ram)

    firmware = project / "build" / "emu-m4" / "firmware"
    (project / "tinyedge.toml").write_text(_settings(f"max_flash = {flash - 1}"))
    run = run_tinyedge("build", "--board", "emu-m4", "--dir", str(project))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.splitlines()[-1] == (
        f"error: budget not met: flash {flash:,} B (measured in the ELF) exceeds budgets.max_flash "
        f"{flash - 1:,} B (make the student smaller (student.width, student.depth), prune and cluster, or "
        f"raise budgets.max_flash; the artifacts are kept in {firmware})")

    (project / "tinyedge.toml").write_text(_settings(f"max_ram = {ram - 1}"))
    run = run_tinyedge("build", "--board", "emu-m4", "--dir", str(project))
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1].startswith(
        f"error: budget not met: RAM {ram:,} B (measured in the ELF) exceeds budgets.max_ram {ram - 1:,} B (")


def _first_samples_below(validated_digits: ValidatedProject) -> tuple[int, float] | None:
    """(n, host accuracy) with the device's accuracy on the first n samples below host TFLM's accuracy
    on the whole test split, from the fixture's own validation."""
    stored = json.loads((validated_digits.build_dir / "validation.json").read_text())
    labels = np.array(stored["per_sample"]["label"])
    predicted = np.array([np.argmax(np.frombuffer(bytes.fromhex(h), dtype=np.int8))
                          for h in stored["per_sample"]["device_output"]])
    right = np.cumsum(predicted == labels)
    host = json.loads((validated_digits.build_dir / "report.json").read_text())["int8_accuracy"]
    for n in range(1, len(labels)):
        if right[n - 1] / n < host:
            return n, host
    return None


@pytest.mark.slow
@pytest.mark.emulated
def test_validate_exits_1_when_the_device_accuracy_is_below_min_accuracy(validated_digits, tmp_path):
    """min_accuracy = host TFLM's accuracy on the whole split lets the build pass; on the first n
    samples, which hold a misclassified one early, the device is below it and validate fails."""
    found = _first_samples_below(validated_digits)
    if found is None:
        pytest.skip("every prefix of the test split is at least as accurate as the whole split")
    n, host = found
    project = _copy(validated_digits, tmp_path, f"min_accuracy = {host!r}")
    run = run_tinyedge("validate", "--board", "emu-m4", "--dir", str(project), "--samples", str(n), "--json")
    assert run.returncode == 1, run.stderr[-2000:]
    result = json.loads(run.stdout)                  # the result is printed and written first
    build = project / "build" / "emu-m4"
    assert result["samples"] == n and result["agreement"] == 1.0
    stored = json.loads((build / "validation.json").read_text())
    assert stored["samples"] == n and (build / "report.html").is_file()
    accuracy = result["device_accuracy"]
    assert accuracy < host
    assert run.stderr.splitlines()[-1] == (
        f"error: validation budget not met: device accuracy {accuracy:.2%} ({round(accuracy * n)} of {n} "
        f"samples) is below budgets.min_accuracy {host:.2%} (the measurements are in {build / 'validation.json'} "
        f"and {build / 'report.html'})")


def _data(**changes) -> dict:
    data = {"samples": 360, "agreement": 1.0, "disagreeing_samples": [], "device_accuracy": 0.9889,
            "device_mse": None, "latency": None, "json": "build/emu-m4/validation.json",
            "report": "build/emu-m4/report.html"}
    return data | changes


def test_agreement_below_min_agreement_is_a_missed_budget():
    budgets = {"min_agreement": 1.0, "min_accuracy": 0.0, "max_error": 0.0, "max_latency": 0}
    assert missed_budgets(budgets, _data()) == []
    below = _data(agreement=359 / 360, disagreeing_samples=[17])
    assert missed_budgets(budgets, below) == [
        "agreement with host TFLM 99.72% (359 of 360 int8 outputs identical) is below budgets.min_agreement "
        "100.00%"]
    assert missed_budgets(budgets | {"min_agreement": 0.99}, below) == []
    assert missed_budgets(budgets | {"min_agreement": 359 / 360}, below) == []   # exactly at the floor
    assert missed_budgets({}, below)                                             # the default is 1.0
    with pytest.raises(TinyedgeError) as error:
        check_budgets(budgets | {"min_accuracy": 0.99}, below)
    assert error.value.one_line() == (
        "validation budget not met: agreement with host TFLM 99.72% (359 of 360 int8 outputs identical) is "
        "below budgets.min_agreement 100.00%; also 1 more budget(s) missed (the measurements are in "
        "build/emu-m4/validation.json and build/emu-m4/report.html)")


def test_device_accuracy_and_error_budgets():
    budgets = {"min_agreement": 1.0, "min_accuracy": 0.99, "max_error": 0.0}
    assert missed_budgets(budgets, _data()) == [
        "device accuracy 98.89% (356 of 360 samples) is below budgets.min_accuracy 99.00%"]
    assert missed_budgets(budgets | {"min_accuracy": 0.0}, _data()) == []        # 0: no floor
    regression = _data(device_accuracy=None, device_mse=0.25)
    assert missed_budgets({"max_error": 0.1}, regression) == [
        "device mean squared error 0.25 on 360 samples is above budgets.max_error 0.1"]
    assert missed_budgets({"max_error": 0.25}, regression) == []


def test_min_agreement_is_a_setting_between_0_and_1_written_by_init(tmp_path):
    from tinyedge import config
    assert config.defaults().get("budgets.min_agreement") == 1.0
    assert "min_agreement = 1.0" in config.commented_file()
    (tmp_path / "tinyedge.toml").write_text("[budgets]\nmin_agreement = 1.5\n")
    with pytest.raises(TinyedgeError) as error:
        config.load(tmp_path / "tinyedge.toml")
    assert "'budgets.min_agreement' is 1.5, above its maximum 1.0" in error.value.one_line()
