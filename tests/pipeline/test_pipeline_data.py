"""User data: .npz files and class folders, and the one-line message of each mistake."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyedge.errors import TinyedgeError
from tinyedge.pipeline import data

from pipeline_helpers import tinyedge


def load_npz(tmp_path: Path, **arrays) -> data.Dataset:
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays)
    return data.load(str(path), tmp_path, 0.2, 0.2, 0)


def error_of(tmp_path: Path, **arrays) -> str:
    with pytest.raises(TinyedgeError) as caught:
        load_npz(tmp_path, **arrays)
    return caught.value.one_line()


def good(n: int = 30) -> dict:
    rng = np.random.default_rng(0)
    return {"x_train": rng.random((n, 6, 6)).astype(np.float32), "y_train": np.arange(n) % 3,
            "x_test": rng.random((10, 6, 6)).astype(np.float32), "y_test": np.arange(10) % 3}


def test_digits_split_is_deterministic_and_stratified():
    first = data.load("digits", Path("."), 0.15, 0.2, 0)
    second = data.load("digits", Path("."), 0.15, 0.2, 0)
    assert first.fingerprint() == second.fingerprint()
    assert (len(first.x_train), len(first.x_val), len(first.x_test)) == (1221, 216, 360)
    assert first.input_shape == (8, 8, 1) and first.num_classes == 10
    assert 0.0 <= first.x_train.min() and first.x_train.max() <= 1.0
    assert np.bincount(first.y_test).min() >= 35


def test_good_npz_loads_with_a_channel_axis_and_a_validation_split(tmp_path):
    dataset = load_npz(tmp_path, **good())
    assert dataset.input_shape == (6, 6, 1) and dataset.task == "classification"
    assert (len(dataset.x_train), len(dataset.x_val), len(dataset.x_test)) == (24, 6, 10)
    assert dataset.labels == ["0", "1", "2"]


def test_float_targets_make_a_regression(tmp_path):
    arrays = good()
    arrays["y_train"] = np.linspace(0, 1, 30, dtype=np.float32)
    arrays["y_test"] = np.linspace(0, 1, 10, dtype=np.float32)
    assert load_npz(tmp_path, **arrays).task == "regression"


def test_wrong_keys(tmp_path):
    arrays = good()
    arrays["train_x"] = arrays.pop("x_train")
    assert error_of(tmp_path, **arrays) == (
        "mine.npz lacks 'x_train' (it has train_x, x_test, y_test, y_train) (an .npz needs x_train, "
        "y_train, x_test, y_test (and optionally x_val, y_val))")


def test_wrong_shapes(tmp_path):
    arrays = good()
    arrays["x_test"] = np.zeros((10, 5, 6), np.float32)
    assert error_of(tmp_path, **arrays) == (
        "mine.npz: the input arrays disagree in sample shape (x_train (None, 6, 6), x_test (None, 5, "
        "6)) (every x_* array needs the same shape after the sample axis)")


def test_labels_and_inputs_disagree_in_count(tmp_path):
    arrays = good()
    arrays["y_train"] = arrays["y_train"][:-1]
    assert error_of(tmp_path, **arrays) == (
        "mine.npz: 'y_train' has 29 entries but its inputs have 30 (every input needs exactly one "
        "target)")


def test_wrong_dtype(tmp_path):
    arrays = good()
    arrays["x_train"] = np.array([["a"] * 6] * 30)
    assert error_of(tmp_path, **arrays) == (
        "mine.npz: 'x_train' has dtype <U1; inputs must be numbers (store inputs as float or integer "
        "arrays)")


def test_negative_label(tmp_path):
    arrays = good()
    arrays["y_test"] = arrays["y_test"] - 1
    assert error_of(tmp_path, **arrays) == (
        "mine.npz: 'y_test' has a negative label (-1) (labels are class numbers 0..N-1)")


def test_empty_class(tmp_path):
    arrays = good()
    arrays["y_train"] = np.where(arrays["y_train"] == 1, 2, arrays["y_train"])
    assert error_of(tmp_path, **arrays) == (
        "mine.npz: class 1 has no training sample (labels run 0..2) (add samples or renumber the "
        "labels)")


def test_not_an_npz(tmp_path):
    (tmp_path / "mine.npz").write_text("x,y\n1,2\n")
    with pytest.raises(TinyedgeError) as caught:
        data.load("mine.npz", tmp_path, 0.2, 0.2, 0)
    assert caught.value.one_line().startswith("mine.npz is not a readable .npz archive (")


def test_folder_of_classes(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    for label in ("cat", "dog"):
        (tmp_path / "pets" / label).mkdir(parents=True)
        for index in range(6):
            pixels = (rng.random((5, 5)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "pets" / label / f"{index}.png")
    np.save(tmp_path / "pets" / "dog" / "extra.npy", rng.random((5, 5)).astype(np.float32))
    dataset = data.load("pets", tmp_path, 0.0, 0.25, 0)
    assert dataset.labels == ["cat", "dog"] and dataset.input_shape == (5, 5, 1)
    assert len(dataset.x_train) + len(dataset.x_test) == 13


def test_folder_with_an_empty_class(tmp_path):
    (tmp_path / "pets" / "cat").mkdir(parents=True)
    (tmp_path / "pets" / "dog").mkdir()
    np.savetxt(tmp_path / "pets" / "cat" / "a.csv", np.ones(4), delimiter=",")
    with pytest.raises(TinyedgeError) as caught:
        data.load("pets", tmp_path, 0.0, 0.25, 0)
    assert caught.value.one_line() == (
        f"class folder {tmp_path / 'pets' / 'dog'} is empty (add samples (.npy, .csv, .png, .jpg, "
        ".jpeg, .bmp, .gif, .pgm, .ppm) or remove the folder)")


def test_bad_npz_through_the_cli_is_one_line_and_no_traceback(tmp_path):
    arrays = good()
    arrays.pop("y_test")
    np.savez(tmp_path / "mine.npz", **arrays)
    result = tinyedge("build", "--board", "nano33", "--data", "mine.npz", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "error: mine.npz lacks 'y_test' (it has x_test, x_train, y_train) (an .npz needs x_train, "
        "y_train, x_test, y_test (and optionally x_val, y_val))")
    assert "Traceback" not in result.stderr
