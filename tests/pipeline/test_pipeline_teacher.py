"""Teachers from the user: Keras 3 and tf_keras files load; anything else is one clear line."""

from __future__ import annotations

import numpy as np
import pytest

from tinyedge.errors import TinyedgeError
from tinyedge.pipeline import data, teacher


def error_of(path) -> str:
    with pytest.raises(TinyedgeError) as caught:
        teacher.load(path)
    return caught.value.one_line()


@pytest.fixture(scope="module")
def digits() -> data.Dataset:
    return data.load("digits", None, 0.15, 0.2, 0)


def test_tf_keras_teacher_with_softmax_gives_logits(tmp_path, digits):
    import tf_keras
    model = tf_keras.Sequential([tf_keras.Input((8, 8, 1)), tf_keras.layers.Flatten(),
                                 tf_keras.layers.Dense(10, activation="softmax")])
    model.save(tmp_path / "t.h5")
    loaded = teacher.load(tmp_path / "t.h5")
    teacher.check_fits(loaded, digits)
    assert loaded.outputs_probabilities and loaded.params == 650
    logits = loaded.predict(digits.x_test[:4])
    probabilities = model.predict(digits.x_test[:4], verbose=0)
    np.testing.assert_allclose(np.exp(logits), probabilities, rtol=1e-4, atol=1e-6)


def test_keras3_teacher_loads(tmp_path, digits):
    import keras  # Keras 3, beside tf_keras
    assert keras.__version__.startswith("3.")
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.save(tmp_path / "k3.keras")
    loaded = teacher.load(tmp_path / "k3.keras")
    teacher.check_fits(loaded, digits)
    assert not loaded.outputs_probabilities and loaded.params == 650
    np.testing.assert_allclose(loaded.predict(digits.x_test[:3]),
                               model.predict(digits.x_test[:3], verbose=0), rtol=1e-5)


def test_teacher_for_other_data_is_refused(tmp_path, digits):
    import tf_keras
    model = tf_keras.Sequential([tf_keras.Input((8, 8, 1)), tf_keras.layers.Flatten(),
                                 tf_keras.layers.Dense(3)])
    model.save(tmp_path / "three.keras")
    with pytest.raises(TinyedgeError) as caught:
        teacher.check_fits(teacher.load(tmp_path / "three.keras"), digits)
    assert caught.value.one_line() == ("teacher three.keras gives 3 outputs but the data has 10 "
                                       "classes (use a teacher trained on this data)")


def test_teacher_of_the_wrong_kind(tmp_path):
    (tmp_path / "teacher.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3")
    assert error_of(tmp_path / "teacher.tflite") == (
        "teacher teacher.tflite is not a Keras model file ('.tflite') (pass a .keras or .h5 file or a "
        "SavedModel folder)")
    (tmp_path / "notes").mkdir()
    assert error_of(tmp_path / "notes") == (
        f"teacher folder {tmp_path / 'notes'} is not a SavedModel (no saved_model.pb) (pass a .keras "
        "or .h5 file or a SavedModel folder)")
    assert error_of(tmp_path / "absent.keras") == (
        f"teacher {tmp_path / 'absent.keras'} does not exist (check teacher.model or --teacher)")


def test_damaged_keras_file(tmp_path):
    (tmp_path / "teacher.h5").write_bytes(b"not an HDF5 file at all")
    message = error_of(tmp_path / "teacher.h5")
    assert message.startswith("teacher teacher.h5 cannot be loaded as a Keras model (tf_keras: ")
    assert message.endswith("(save it with model.save('teacher.keras') from Keras 3 or tf_keras)")
