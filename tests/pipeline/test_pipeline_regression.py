"""Regression and autoencoders end to end: float targets, and data.task = "autoencoder" (the targets are
the inputs; an .npz with only x_train and x_test). Through the real entry point on generated data:
dense teacher, smaller student distilled with MSE, int8 on the real TFLM interpreter, firmware for
emu-m4 generated and compiled; then the error budget, and `tinyedge validate` on QEMU.

The figure of these builds is the mean squared error in the float domain: TFLM's int8 outputs
dequantized with the output scale and zero point, against the float targets of the test split.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinyedge.errors import TinyedgeError
from tinyedge.pipeline import data
from tinyedge.pipeline.checks import find_problems
from tinyedge.tflite.model import load
from tinyedge.tflite.tflm import TflmRunner

from pipeline_helpers import tinyedge
from support import firmware_quantize

# int8 may cost at most this much error: int8 MSE <= INT8_ERROR_FACTOR * float student MSE.
INT8_ERROR_FACTOR = 1.5
BOARD = "emu-m4"


def clusters(samples: int, seed: int = 0) -> np.ndarray:
    """16-dimensional vectors near four 2-D planes, one through each of four Gaussian cluster
    centres: data a narrow bottleneck can reconstruct, unlike isotropic noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 16))
    planes = rng.normal(size=(4, 2, 16)) * 0.5
    cluster = rng.integers(0, 4, samples)
    offsets = np.einsum("nj,njd->nd", rng.normal(size=(samples, 2)), planes[cluster])
    return (centres[cluster] + offsets + 0.02 * rng.normal(size=(samples, 16))).astype(np.float32)


def _build(project: Path) -> dict:
    result = tinyedge("build", "--board", BOARD, "--json", cwd=project)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("\n") == 1
    return {"json": json.loads(result.stdout), "stderr": result.stderr, "project": project}


@pytest.fixture(scope="module")
def autoencoder_build(tmp_path_factory) -> dict:
    project = tmp_path_factory.mktemp("autoencoder")
    x = clusters(1200)
    np.savez(project / "clusters.npz", x_train=x[:1000], x_test=x[1000:])  # no labels at all
    (project / "tinyedge.toml").write_text("""
[project]
name = "clusters"
[data]
source = "clusters.npz"
task = "autoencoder"
[teacher]
architecture = "autoencoder"
epochs = 8
[student]
architecture = "autoencoder"
width = 1.0
depth = 1
[distillation]
epochs = 30
learning_rate = 0.01
[quantization]
representative_samples = 200
""")
    return _build(project)


@pytest.fixture(scope="module")
def regression_build(tmp_path_factory) -> dict:
    project = tmp_path_factory.mktemp("regression")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1200, 16)).astype(np.float32)
    weights = rng.normal(size=(16, 2)).astype(np.float32) / 4
    y = (np.tanh(x @ weights) + 0.05).astype(np.float32)  # two float targets a sample
    np.savez(project / "tanh.npz", x_train=x[:1000], y_train=y[:1000], x_test=x[1000:],
             y_test=y[1000:])
    (project / "tinyedge.toml").write_text("""
[project]
name = "tanh2"
[data]
source = "tanh.npz"
[teacher]
architecture = "mlp"
epochs = 6
[student]
architecture = "mlp"
width = 0.5
depth = 1
[distillation]
epochs = 30
learning_rate = 0.01
[quantization]
representative_samples = 200
""")
    return _build(project)


def _tflm_mse(result: dict) -> tuple[float, np.ndarray]:
    """The int8 model on the real TFLM interpreter, its outputs dequantized, against the stored
    test targets: recomputed here, independently of the build."""
    model = load(result["tflite"])
    runner = TflmRunner(model.raw)
    with np.load(result["test_data"]) as test:
        x, y = test["x"], test["y"]
    quantized = firmware_quantize(x, runner.input.scale, runner.input.zero_point)
    outputs = runner.run(quantized).reshape(len(x), -1)
    values = (outputs.astype(np.float32) - runner.output.zero_point) * runner.output.scale
    return float(np.mean(np.square(values - y.reshape(len(y), -1)))), y


def _check_int8_build(result: dict, outputs: int) -> None:
    model = load(result["tflite"])
    assert find_problems(model) == []
    assert model.main.input_tensors()[0].dtype == "int8"
    assert model.main.output_tensors()[0].dtype == "int8"
    assert model.main.output_tensors()[0].shape[-1] == outputs
    assert result["metric"] == "mse" and "dequantized" in result["metric_description"]
    assert result["float_accuracy"] is None and result["int8_accuracy"] is None
    assert result["int8_error"] <= INT8_ERROR_FACTOR * result["float_error"]
    assert result["teacher_params"] >= 8 * result["student_params"]
    assert [row["stage"] for row in result["stages"]] == ["teacher", "student", "int8 (TFLM)"]
    assert {row["metric"] for row in result["stages"]} == {"mse"}
    # The firmware for the emulated board is generated and compiled.
    assert result["compiled"] is True and Path(result["elf"]).is_file()
    assert result["flash_bytes"] > result["model_bytes"]
    report = json.loads(Path(result["report"]).read_text())
    assert report["metric"] == "mse" and report["metric_description"] == result["metric_description"]
    assert report["int8_error"] == result["int8_error"]


@pytest.mark.slow
@pytest.mark.emulated
def test_autoencoder_reconstructs_its_input_in_int8(autoencoder_build):
    result = autoencoder_build["json"]
    assert result["task"] == "autoencoder" and result["labels"] == []
    _check_int8_build(result, outputs=16)
    mse, targets = _tflm_mse(result)
    assert mse == pytest.approx(result["int8_error"], rel=1e-5)
    with np.load(result["test_data"]) as test:
        assert np.array_equal(test["y"], test["x"].reshape(len(test["x"]), -1))  # targets = inputs
    # It learned: the error is a small share of the data's own variance (predicting the mean).
    assert result["float_error"] < 0.05 * float(np.var(targets))
    stderr = autoencoder_build["stderr"]
    assert "TFLM on the host: autoencoder MSE" in stderr
    assert "MSE: mean squared error of the outputs against the targets" in stderr  # the table says it
    print(f"autoencoder: teacher {result['teacher_error']:.5f}, student {result['float_error']:.5f}, "
          f"int8 {result['int8_error']:.5f} MSE; {result['student_params']} params, "
          f"{result['model_bytes']} B, flash {result['flash_bytes']} B")


@pytest.mark.slow
@pytest.mark.emulated
def test_regression_with_float_targets_in_int8(regression_build):
    result = regression_build["json"]
    assert result["task"] == "regression"
    _check_int8_build(result, outputs=2)
    mse, targets = _tflm_mse(result)
    assert mse == pytest.approx(result["int8_error"], rel=1e-5)
    assert result["float_error"] < 0.2 * float(np.var(targets))
    print(f"regression: teacher {result['teacher_error']:.5f}, student {result['float_error']:.5f}, "
          f"int8 {result['int8_error']:.5f} MSE")


@pytest.mark.slow
@pytest.mark.emulated
def test_error_budget_not_met_names_the_figure_and_the_limit(autoencoder_build, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(autoencoder_build["project"], project, ignore=shutil.ignore_patterns(".pio"))
    config = (project / "tinyedge.toml").read_text()
    (project / "tinyedge.toml").write_text(config + "[budgets]\nmax_error = 0.000001\n")
    result = tinyedge("build", "--board", BOARD, "--json", cwd=project)
    error = autoencoder_build["json"]["int8_error"]
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == (
        f"error: budget not met: int8 mean squared error {error:.5g} (TFLM on the host, dequantized) "
        "is above budgets.max_error 1e-06 (train longer (distillation.epochs), widen the student "
        "(student.width) or raise budgets.max_error; the artifacts are kept in "
        f"{project / 'build' / BOARD})")
    assert "student: cached" in result.stderr  # the budget is checked without retraining


def test_accuracy_budget_on_a_regression_is_refused_before_training(tmp_path):
    x = clusters(60)
    np.savez(tmp_path / "clusters.npz", x_train=x[:50], x_test=x[50:])
    (tmp_path / "tinyedge.toml").write_text(
        '[data]\nsource = "clusters.npz"\ntask = "autoencoder"\n[budgets]\nmin_accuracy = 0.9\n')
    result = tinyedge("build", "--board", BOARD, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: budgets.min_accuracy applies to classification, but this build is an autoencoder "
        "(its figure is the mean squared error) (remove min_accuracy and bound the int8 error with "
        "budgets.max_error)")
    assert "teacher: started" not in result.stderr


def test_error_budget_on_a_classification_is_refused():
    from tinyedge.pipeline import budgets
    with pytest.raises(TinyedgeError) as caught:
        budgets.require_applicable({"min_accuracy": 0.0, "max_error": 0.01}, "classification")
    assert caught.value.one_line() == (
        "budgets.max_error applies to regression and autoencoders, but this build is a classification "
        "(its figure is the accuracy) (remove max_error and set a floor with budgets.min_accuracy)")
    budgets.require_applicable({"min_accuracy": 0.9, "max_error": 0.0}, "classification")
    budgets.require_applicable({"min_accuracy": 0.0, "max_error": 0.01}, "regression")


@pytest.mark.slow
@pytest.mark.emulated
def test_arena_probe_survives_a_crashing_allocation(regression_build):
    """TFLM's FULLY_CONNECTED crashes (SIGSEGV) in some arenas a little too small instead of failing;
    each probe runs in a forked child, so the search goes on and finds the smallest arena."""
    from tinyedge.tflite.tflm import _allocates
    result = regression_build["json"]
    raw = load(result["tflite"]).raw
    arena = result["arena_bytes"]
    fits = lambda size: _allocates(raw, size)[0]  # noqa: E731 - (fits, TFLM's reason)
    assert fits(arena) and not fits(arena - 16)
    assert not any(fits(size) for size in range(arena - 400, arena, 16))


@pytest.mark.slow
@pytest.mark.emulated
def test_validate_reports_agreement_latency_and_error(autoencoder_build):
    project = autoencoder_build["project"]
    run = tinyedge("validate", "--board", BOARD, "--samples", "10", "--json", cwd=project)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["metric"] == "mse" and result["samples"] == 10
    assert result["device_accuracy"] is None and result["confusion_matrix"] is None
    assert result["agreement"] == 1.0
    assert result["device_mse"] == result["host_mse"] > 0
    assert result["latency"]["unit"] == "instructions" and result["latency"]["median"] > 0
    text = tinyedge("validate", "--board", BOARD, "--samples", "10", cwd=project)
    assert text.returncode == 0, text.stderr[-3000:]
    assert f"device MSE:          {result['device_mse']:.5g}" in text.stdout


# ---- data: the task setting ---------------------------------------------------------------------

def _load(tmp_path: Path, task: str, **arrays) -> data.Dataset:
    np.savez(tmp_path / "mine.npz", **arrays)
    return data.load("mine.npz", tmp_path, 0.2, 0.2, 0, task=task)


def test_autoencoder_npz_needs_only_inputs_and_its_targets_are_the_inputs(tmp_path):
    x = clusters(40)
    dataset = _load(tmp_path, "autoencoder", x_train=x[:30], x_test=x[30:])
    assert dataset.task == "autoencoder" and dataset.num_classes == 0 and dataset.output_size == 16
    for inputs, targets in ((dataset.x_train, dataset.y_train), (dataset.x_val, dataset.y_val),
                            (dataset.x_test, dataset.y_test)):
        assert np.array_equal(targets, inputs)
    images = _load(tmp_path, "autoencoder", x_train=np.ones((10, 4, 4)), y_train=np.arange(10),
                   x_test=np.ones((3, 4, 4)))  # labels are left out
    assert images.input_shape == (4, 4, 1) and images.y_test.shape == (3, 16)


def test_autoencoder_npz_without_inputs(tmp_path):
    with pytest.raises(TinyedgeError) as caught:
        _load(tmp_path, "autoencoder", x_train=clusters(10))
    assert caught.value.one_line() == (
        "mine.npz lacks 'x_test' (it has x_train) (an autoencoder's .npz needs x_train, x_test "
        "(and optionally x_val))")


def test_npz_without_targets_points_to_the_autoencoder_task(tmp_path):
    x = clusters(20)
    with pytest.raises(TinyedgeError) as caught:
        _load(tmp_path, "auto", x_train=x[:15], x_test=x[15:])
    assert caught.value.one_line() == (
        "mine.npz lacks 'y_train', 'y_test' (it has x_test, x_train) (an .npz needs x_train, "
        "y_train, x_test, y_test (and optionally x_val, y_val); inputs alone suit "
        'data.task = "autoencoder")')


def test_classification_task_with_float_targets_is_refused(tmp_path):
    x = clusters(20)
    with pytest.raises(TinyedgeError) as caught:
        _load(tmp_path, "classification", x_train=x[:15], y_train=np.linspace(0, 1, 15),
              x_test=x[15:], y_test=np.linspace(0, 1, 5))
    assert caught.value.one_line() == (
        'mine.npz: data.task is "classification" but the targets are not integer class labels '
        '(1-D, whole numbers) (store labels 0..N-1, or set data.task to "regression" or "auto")')


def test_regression_task_takes_integer_targets_as_values(tmp_path):
    x = clusters(20)
    dataset = _load(tmp_path, "regression", x_train=x[:15], y_train=np.arange(15) % 3,
                    x_test=x[15:], y_test=np.arange(5) % 3)
    assert dataset.task == "regression" and dataset.y_train.dtype == np.float32
    assert dataset.output_size == 1 and dataset.labels == []


def test_digits_as_an_autoencoder_reconstruct_the_shifted_copies(tmp_path):
    """The built-in digits under data.task = "autoencoder": a shifted copy's target is the shifted
    image, not the original (augmentation runs before the targets are taken)."""
    from tinyedge import config as config_module
    from tinyedge.boards import Catalogue
    from tinyedge.pipeline.runner import Pipeline
    settings = config_module.defaults().with_overrides({"data.task": "autoencoder"})
    pipeline = Pipeline(settings, Catalogue.load().get(BOARD), tmp_path)
    pipeline.build_dir.mkdir(parents=True)
    pipeline.stage_data()
    dataset = pipeline.dataset()
    assert dataset.task == "autoencoder" and dataset.output_size == 64
    assert len(dataset.x_train) == 5 * 1221  # the original and four shifted copies
    assert np.array_equal(dataset.y_train, dataset.x_train.reshape(len(dataset.x_train), 64))
    assert np.array_equal(dataset.y_test, dataset.x_test.reshape(len(dataset.x_test), 64))
