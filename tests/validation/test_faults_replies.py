"""Fault injection on the device's replies (issue 11), with the real digits firmware in QEMU made to
misbehave by c/fault_injection.c: a `te-output` one byte short from the 21st sample on, and a clock that
stands still at the 8th sample (0 ticks). Each ends `tinyedge validate --json` with exit status 1 and
one line naming what the device sent and what was expected, prints the samples measured before it with
"complete": false, and keeps them in validation-partial.json; the complete run's validation.json is left
as it was. (QEMU killed mid-run is in test_faults_artifacts.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import SHORT_OUTPUT, ZERO_TICKS, ValidatedProject
from support import run_tinyedge
from tinyedge.boards import Catalogue

pytestmark = [pytest.mark.emulated, pytest.mark.slow]
BOARD = Catalogue.load().get("emu-m4")
SAMPLES = 30
OUTPUT_HINT = "flash the firmware built for this model ('tinyedge flash') and validate again"
TIMER_HINT = ("check te_port_ticks() in the board's port, or flash the firmware tinyedge built "
              "('tinyedge flash'), and validate again")


def _validate_on(validated_digits: ValidatedProject, elf: Path, project: Path):
    """`tinyedge validate --json` of a copy of the digits project against `elf` running in QEMU, reached
    through --port as a real board is; returns the run and QEMU's serial URL."""
    from tinyedge.emulator import run_qemu

    shutil.copytree(validated_digits.folder, project)
    with run_qemu(BOARD, elf) as qemu:
        run = run_tinyedge("validate", "--board", "emu-m4", "--port", qemu.url, "--dir", str(project),
                           "--samples", str(SAMPLES), "--json")
    return run, qemu.url


def _check_kept(run, project: Path, validated_digits: ValidatedProject, done: int, reason: str,
                hint: str) -> None:
    build = project / "build" / "emu-m4"
    partial_path = build / "validation-partial.json"
    assert run.returncode == 1, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1] == (
        f"error: validation on emu-m4 stopped after {done} of {SAMPLES} samples: {reason} ({hint}; the "
        f"{done} results so far are in {partial_path})")
    printed = json.loads(run.stdout)                 # one object, printed although validate failed
    assert run.stdout.count("\n") == 1
    assert printed["complete"] is False and printed["samples"] == done
    assert printed["requested_samples"] == SAMPLES and printed["json"] == str(partial_path)
    partial = json.loads(partial_path.read_text())
    assert partial["complete"] is False and partial["samples"] == done and partial["agreement"] == 1.0
    assert partial["error"] == printed["error"] == reason
    complete = json.loads((validated_digits.build_dir / "validation.json").read_text())
    assert partial["per_sample"]["device_output"] == complete["per_sample"]["host_output"][:done]
    # The earlier complete run's files are untouched.
    assert (build / "validation.json").read_bytes() == (validated_digits.build_dir / "validation.json").read_bytes()


def test_an_output_that_changes_length_after_20_samples_ends_the_run_with_them_kept(
        validated_digits, fault_firmware, tmp_path):
    run, url = _validate_on(validated_digits, fault_firmware(SHORT_OUTPUT, 21), tmp_path / "digits")
    complete = json.loads((validated_digits.build_dir / "validation.json").read_text())
    sent = complete["per_sample"]["host_output"][20][:18]          # the 21st output, its last byte left out
    _check_kept(run, tmp_path / "digits", validated_digits, 20,
                f"{url} answered 'te-output' with 9 output bytes (m-te-output-[{sent}]), expected the model's "
                "10 output bytes", OUTPUT_HINT)


def test_a_tick_count_of_0_ends_the_run_with_the_samples_before_kept(validated_digits, fault_firmware, tmp_path):
    run, url = _validate_on(validated_digits, fault_firmware(ZERO_TICKS, 8), tmp_path / "digits")
    _check_kept(run, tmp_path / "digits", validated_digits, 7,
                f"{url} answered 'te-ticks' with m-te-ticks-0, expected more than 0 instructions for 1 "
                "inference", TIMER_HINT)
    partial = json.loads((tmp_path / "digits" / "build" / "emu-m4" / "validation-partial.json").read_text())
    assert all(latency > 0 for latency in partial["per_sample"]["latency"])
