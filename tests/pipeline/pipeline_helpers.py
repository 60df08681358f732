"""Helpers of the model pipeline tests (a module of its own: the name 'conftest' is taken twice)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def tinyedge(*args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """The real entry point, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "tinyedge", *args], cwd=cwd, env=dict(os.environ),
                          capture_output=True, text=True, timeout=timeout)


def native_project(name: str) -> str:
    """A tinyedge.toml that distills the user's student.keras for emu-m4 and builds it with the native
    runtime."""
    return f'''
[project]
name = "{name}"
board = "emu-m4"

[data]
augment = false

[teacher]
epochs = 8

[student]
architecture = "student.keras"

[distillation]
epochs = 30
alpha = 0.5

[runtime]
kind = "native"
'''


def build_native_student(tmp_path: Path, student_script: str, name: str, timeout: float) -> tuple[list[str], bytes]:
    """Writes the user's Keras student (student_script, run in a separate process with the file's path)
    and its project, then runs `tinyedge build --runtime native` for emu-m4, which must choose native:
    the converted model's opcodes and the ELF's bytes."""
    from tinyedge.tflite.model import load

    subprocess.run([sys.executable, "-c", student_script, str(tmp_path / "student.keras")], check=True,
                   capture_output=True, timeout=300)
    (tmp_path / "tinyedge.toml").write_text(native_project(name))
    built = tinyedge("build", "--board", "emu-m4", "--runtime", "native", "--json", cwd=tmp_path, timeout=timeout)
    assert built.returncode == 0, built.stderr[-3000:]
    result = json.loads(built.stdout)
    assert result["runtime"] == "native"
    ops = [op.opcode for op in load(Path(result["tflite"])).main.operators]
    return ops, Path(result["elf"]).read_bytes()


def validate_agrees_on_emu_m4(tmp_path: Path, timeout: float) -> None:
    """`tinyedge validate` in QEMU: all 360 test outputs equal host TFLM's, and the model is a trained
    one (outputs that vary with the input), not a constant one agreeing trivially."""
    validated = tinyedge("validate", "--board", "emu-m4", "--json", cwd=tmp_path, timeout=timeout)
    assert validated.returncode == 0, validated.stderr[-3000:]
    report = json.loads(validated.stdout)
    assert report["complete"] and report["samples"] == 360
    assert report["agreement"] == 1.0
    assert report["device_accuracy"] == report["host_accuracy"] > 0.5
