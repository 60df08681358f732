"""Every compression step (low-rank, pruning, clustering, QAT) on small data through the pipeline,
then int8 conversion, the checks and TFLM; and a teacher file of the wrong kind through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinyedge import config as config_module
from tinyedge.boards import Catalogue
from tinyedge.pipeline import run
from tinyedge.pipeline.checks import find_problems
from tinyedge.tflite.model import load

from pipeline_helpers import tinyedge

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def compressed(small_digits, tmp_path_factory):
    project = tmp_path_factory.mktemp("compressed")
    (project / "tinyedge.toml").write_text(f"""
[data]
source = "{small_digits}"
augment = false
[teacher]
architecture = "mlp"
epochs = 10
[student]
architecture = "mlp"
width = 1.0
depth = 1
[distillation]
epochs = 15
[compression]
low_rank = true
low_rank_fraction = 0.5
prune = true
prune_sparsity = 0.5
cluster = true
clusters = 8
qat = true
epochs = 3
[quantization]
representative_samples = 50
""")
    settings = config_module.find_and_load(project)
    result = run(settings, Catalogue.load().get("emu-m4"), project)
    return project, result


def test_every_step_is_a_stage_row(compressed):
    _, result = compressed
    assert [row["stage"] for row in result.stages] == [
        "teacher", "student", "low-rank", "pruned", "clustered", "QAT", "int8 (TFLM)"]
    rows = {row["stage"]: row for row in result.stages}
    # low rank at half the rank: 64x64 -> 64x32 + 32x64 keeps its size, 64x10 -> 64x5 + 5x10
    assert rows["low-rank"]["params"] == rows["student"]["params"] - 64 * 10 + 64 * 5 + 5 * 10
    assert rows["QAT"]["params"] == rows["clustered"]["params"]
    assert result.int8_accuracy > 0.6  # 400 samples, a few epochs: far above chance, not tuned


def test_low_rank_at_full_rank_keeps_the_function():
    """The SVD factorisation itself is exact when no rank is dropped."""
    import tf_keras
    from tinyedge.pipeline import compress
    tf_keras.utils.set_random_seed(1)
    inputs = tf_keras.Input((12,))
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(7, name="wide")(inputs))
    messages = []

    class NoTraining:
        progress = staticmethod(messages.append)

        def run(self, factored, label):
            return factored

    factored = compress.low_rank(model, 0.5, NoTraining())
    assert [layer.name for layer in factored.layers[1:]] == ["wide_lowrank", "wide"]
    x = np.random.default_rng(0).random((5, 12)).astype(np.float32)
    exact = compress.low_rank(model, 1.0, NoTraining())
    assert exact is model  # full rank stores more numbers: left unchanged
    assert messages[0] == "  low-rank: wide 12x7 -> rank 4 (84 -> 76 weights)"
    u, v = factored.get_layer("wide_lowrank").get_weights()[0], factored.get_layer("wide").get_weights()[0]
    kernel = model.get_layer("wide").get_weights()[0]
    s = np.linalg.svd(kernel, compute_uv=False)
    assert np.linalg.norm(u @ v - kernel, 2) == pytest.approx(s[4], rel=1e-4)  # best rank-4 error
    assert factored.predict(x, verbose=0).shape == (5, 7)


def _kernels(path) -> list[np.ndarray]:
    """The Dense kernels of a saved model, read back by Keras (not by tinyedge's own counters)."""
    import tf_keras
    model = tf_keras.models.load_model(path, compile=False)
    return [layer.kernel.numpy() for layer in model.layers if isinstance(layer, tf_keras.layers.Dense)]


def test_pruning_and_clustering_left_their_mark(compressed):
    project, _ = compressed
    build = project / "build" / "emu-m4"
    manifest = json.loads((build / "manifest.json").read_text())
    pruned = _kernels(build / "prune.keras")
    zeros = sum(int(np.count_nonzero(k == 0)) for k in pruned) / sum(k.size for k in pruned)
    assert zeros >= 0.45 and manifest["stages"]["prune"]["metrics"]["sparsity"] == pytest.approx(zeros)
    distinct = max(np.unique(k).size for k in _kernels(build / "cluster.keras"))
    assert distinct <= 8 and manifest["stages"]["cluster"]["metrics"]["max_unique_weights"] == distinct


def test_qat_model_converts_to_a_fully_int8_model(compressed):
    _, result = compressed
    model = load(result.tflite)
    assert find_problems(model) == []
    assert {op.opcode for op in model.main.operators} <= {"FULLY_CONNECTED", "RESHAPE"}


def test_teacher_file_of_the_wrong_kind_through_the_cli(tmp_path, small_digits):
    (tmp_path / "teacher.txt").write_text("weights")
    result = tinyedge("build", "--board", "emu-m4", "--data", str(small_digits), "--teacher",
                      "teacher.txt", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: teacher teacher.txt is not a Keras model file ('.txt') (pass a .keras or .h5 file or "
        "a SavedModel folder)")
    assert (tmp_path / "build" / "emu-m4" / "data.npz").exists()  # the finished stage is kept
