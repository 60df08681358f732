"""The built-in example end to end through the real entry point, checked against TFLM."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from tinyedge.pipeline.checks import find_problems
from tinyedge.tflite.model import load
from tinyedge.tflite.tflm import TflmRunner

from pipeline_helpers import tinyedge

pytestmark = pytest.mark.slow


def test_first_build_meets_the_targets(digits_build):
    result = digits_build.result
    assert result["board"] == "nano33"
    assert result["int8_accuracy"] >= 0.95
    assert result["teacher_accuracy"] >= 0.98
    assert result["teacher_params"] >= 8 * result["student_params"]
    assert abs(result["float_accuracy"] - result["int8_accuracy"]) <= 0.015
    assert [row["stage"] for row in result["stages"]] == ["teacher", "student", "int8 (TFLM)"]
    for key in ("runtime", "tflite", "test_data", "arena_bytes", "seconds"):
        assert key in result


def test_stdout_is_one_json_object_and_progress_is_on_stderr(digits_build):
    assert digits_build.first.stdout.count("\n") == 1
    stderr = digits_build.first.stderr
    assert "student epoch 40/40" not in stderr  # distillation lines are labelled 'distill'
    assert "distill epoch 40/40" in stderr and "teacher epoch 15/15" in stderr
    assert "int8: done in" in stderr
    assert "Traceback" not in stderr and "I0000" not in stderr


def test_model_is_fully_int8_and_tflm_gives_the_reported_accuracy(digits_build):
    result = digits_build.result
    model = load(result["tflite"])
    assert find_problems(model) == []
    assert model.main.input_tensors()[0].dtype == "int8"
    assert model.main.output_tensors()[0].dtype == "int8"
    with np.load(result["test_data"]) as test:
        x, y = test["x"], test["y"]
    assert x.dtype == np.float32 and x.shape == (len(y), 8, 8, 1)
    runner = TflmRunner(model.raw)
    assert runner.input.scale == pytest.approx(result["input_scale"])
    # The firmware's quantization written out (float32, half away from zero, saturated): the inputs
    # validate sends the device, so the reported figure is the one the device must reproduce.
    scaled = x / np.float32(runner.input.scale)
    rounded = np.trunc(scaled + np.where(scaled >= 0, np.float32(0.5), np.float32(-0.5)))
    quantized = np.clip(rounded + runner.input.zero_point, -128, 127)
    outputs = runner.run(quantized.astype(np.int8))
    assert np.mean(outputs.argmax(axis=1) == y) == result["int8_accuracy"]


def _tflm_allocates(path: str, arena: int) -> bool:
    """The oracle: tflite_micro's own interpreter, in a process of its own (a too-small arena can
    crash it), allocating and running the model in `arena` bytes."""
    import subprocess
    import sys
    code = ("import sys, numpy as np; from tflite_micro import runtime\n"
            "i = runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), arena_size=int(sys.argv[2]))\n"
            "d = i.get_input_details(0); i.set_input(np.zeros(d['shape'], d['dtype']), 0); i.invoke()\n")
    return subprocess.run([sys.executable, "-c", code, path, str(arena)], capture_output=True).returncode == 0


def test_arena_is_the_smallest_that_works(digits_build):
    arena = digits_build.result["arena_bytes"]
    path = digits_build.result["tflite"]
    assert _tflm_allocates(path, arena) and not _tflm_allocates(path, arena - 16)


def test_rerun_with_nothing_changed_is_cached(digits_build):
    for stage in ("data", "teacher", "student", "int8", "tflm", "firmware"):
        assert f"{stage}: cached" in digits_build.second.stderr
    assert "started" not in digits_build.second.stderr
    first, again = digits_build.result, digits_build.rerun
    for key in ("int8_accuracy", "float_accuracy", "teacher_params", "student_params", "arena_bytes",
                "project", "estimated_flash_bytes", "estimated_ram_bytes", "runtime_reason"):
        assert again[key] == first[key]
    assert all(row["cached"] for row in again["stages"])
    assert set(first["stage_status"].values()) == {"ran"}
    assert set(again["stage_status"].values()) == {"cached"}


def test_the_firmware_stage_is_in_the_manifest_with_its_inputs_and_files(digits_build):
    """nano33's platform is not installed here: the project is generated, not compiled, and the
    manifest holds the key's inputs (the model's hash among them) and every file of the project."""
    build = digits_build.folder / "build" / "nano33"
    record = json.loads((build / "manifest.json").read_text())["stages"]["firmware"]
    files = sorted(str(path.relative_to(build)) for path in (build / "firmware").rglob("*") if path.is_file())
    assert sorted(record["outputs"]) == files and "firmware/platformio.ini" in files
    assert record["metrics"]["compiled"] is False and record["metrics"]["project"] == "firmware"
    assert record["inputs"]["model"] == hashlib.sha256((build / "model.tflite").read_bytes()).hexdigest()
    assert record["inputs"]["board"] == "nano33" and record["inputs"]["kind"] == "platformio"
    report = json.loads((build / "report.json").read_text())
    assert report["firmware"]["project"] == str(build / "firmware")


def test_build_folder_holds_manifest_report_and_plot(digits_build):
    build = digits_build.folder / "build" / "nano33"
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["config"]["project"]["board"] == "nano33"
    assert set(manifest["stages"]) >= {"data", "teacher", "student", "int8", "tflm"}
    assert manifest["stages"]["int8"]["outputs"]["model.tflite"]
    report = json.loads((build / "report.json").read_text())
    assert [row["stage"] for row in report["stages"]] == ["teacher", "student", "int8 (TFLM)"]
    assert (build / "stages.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("teacher.keras", "student.keras", "test_data.npz", "data.npz"):
        assert (build / name).exists()


def _copy_project(digits_build, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(digits_build.folder, project)
    return project


def test_accuracy_budget_not_met_fails_and_keeps_artifacts(digits_build, tmp_path):
    project = _copy_project(digits_build, tmp_path)
    (project / "tinyedge.toml").write_text("[budgets]\nmin_accuracy = 0.9999\n")
    before = (project / "build/nano33/model.tflite").read_bytes()
    result = tinyedge("build", "--board", "nano33", "--json", cwd=project)
    accuracy = digits_build.result["int8_accuracy"]
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"error: budget not met: int8 accuracy {accuracy:.2%} (TFLM on the host) is below "
        "budgets.min_accuracy 99.99% (train longer (distillation.epochs), widen the student "
        "(student.width) or lower budgets.min_accuracy; the artifacts are kept in "
        f"{project / 'build' / 'nano33'})")
    assert (project / "build/nano33/model.tflite").read_bytes() == before
    assert (project / "build/nano33/report.json").exists()


def test_flash_budget_not_met_names_the_figure_and_the_limit(digits_build, tmp_path):
    """nano33's platform is not installed here: the native runtime's estimate is checked, labelled."""
    project = _copy_project(digits_build, tmp_path)
    needed = digits_build.result["estimated_flash_bytes"]
    assert digits_build.result["compiled"] is False and digits_build.result["runtime"] == "native"
    (project / "tinyedge.toml").write_text(f"[budgets]\nmax_flash = {needed}\n")
    assert tinyedge("build", "--board", "nano33", cwd=project).returncode == 0   # exactly at the limit
    (project / "tinyedge.toml").write_text("[budgets]\nmax_flash = 20000\n")
    result = tinyedge("build", "--board", "nano33", cwd=project)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        f"error: budget not met: flash {needed:,} B (estimated for the native runtime before the compile) "
        "exceeds budgets.max_flash 20,000 B (make the student smaller")
