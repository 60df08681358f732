"""Fault injection on a finished build (issue 11): damaged artifacts in the build folder are found and
made again, never run; and tinyedge killed with SIGKILL mid-validation takes QEMU with it and leaves a
project that the next run validates. The oracle for a rebuilt artifact is the original one: the stages
are deterministic, so a repaired model and firmware are byte for byte what they were."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import run_tinyedge

MODEL = Path("model.tflite")
ELF = Path("firmware/.pio/build/emu-m4/firmware.elf")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _damage(path: Path, offset: int, count: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset:offset + count] = bytes(b ^ 0xFF for b in data[offset:offset + count])
    path.write_bytes(bytes(data))


@pytest.fixture
def project_copy(validated_digits, tmp_path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(validated_digits.folder, folder)
    return folder


@pytest.mark.slow
@pytest.mark.emulated
def test_damaged_model_firmware_and_report_are_made_again(project_copy):
    build_dir = project_copy / "build" / "emu-m4"
    originals = {path: _sha(build_dir / path) for path in (MODEL, ELF)}
    _damage(build_dir / MODEL, 2000, 16)
    _damage(build_dir / ELF, 100, 100)          # PlatformIO alone would keep it: no source changed
    (build_dir / "report.json").write_text("{not json")
    run = run_tinyedge("build", "--board", "emu-m4", "--dir", str(project_copy))
    assert run.returncode == 0, run.stderr[-2000:]
    assert {path: _sha(build_dir / path) for path in originals} == originals
    assert json.loads((build_dir / "report.json").read_text())["firmware"]["compiled"] is True
    validation = json.loads(run_tinyedge("validate", "--board", "emu-m4", "--dir", str(project_copy),
                                         "--samples", "20", "--json").stdout)
    assert validation["agreement"] == 1.0


def _qemu_children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                if b"qemu-system-arm" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
            except OSError:
                pass
    return found


def _validation_at_its_first_sample(project: Path, *args: str) -> tuple[subprocess.Popen, list[int]]:
    """`tinyedge validate` started and read until its first sample is done; returns it and its QEMU."""
    process = subprocess.Popen([sys.executable, "-m", "tinyedge", "validate", "--board", "emu-m4", "--dir",
                                str(project), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    for line in process.stderr:
        if line.startswith("validate: 1/360 samples"):
            break
    qemu = _qemu_children(process.pid)
    if len(qemu) != 1:
        process.kill()
    assert len(qemu) == 1
    return process, qemu


def _gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            return True
        if state == "Z":   # a zombie is dead, only not reaped yet
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
@pytest.mark.emulated
def test_tinyedge_killed_mid_validation_takes_qemu_with_it_and_the_next_run_works(project_copy):
    process, qemu = _validation_at_its_first_sample(project_copy)
    try:
        process.kill()
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    assert _gone(qemu[0], 10), "QEMU outlived the tinyedge that started it"
    again = run_tinyedge("validate", "--board", "emu-m4", "--dir", str(project_copy), "--samples", "20",
                         "--json")
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["agreement"] == 1.0


@pytest.mark.slow
@pytest.mark.emulated
def test_qemu_killed_mid_validation_is_named_and_the_samples_so_far_are_kept(project_copy):
    process, qemu = _validation_at_its_first_sample(project_copy, "--json")
    try:
        os.kill(qemu[0], signal.SIGKILL)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    partial_path = project_copy / "build" / "emu-m4" / "validation-partial.json"
    partial = json.loads(partial_path.read_text())
    done = partial["samples"]
    assert partial["complete"] is False and 1 <= done < 360 and partial["agreement"] == 1.0
    assert err.strip().splitlines()[-1] == (
        f"error: validation on emu-m4 stopped after {done} of 360 samples: the emulator (qemu-system-arm, "
        f"mps2-an386) died with signal 9 (SIGKILL) (run tinyedge validate again; the {done} results so far "
        f"are in {partial_path})")
    printed = json.loads(out)
    assert printed["complete"] is False and printed["samples"] == done
