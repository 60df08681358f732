"""The teacher: trained by tinyedge or loaded from the user's file (.keras, .h5 or SavedModel, saved by
Keras 3 or by tf_keras). Distillation only needs its outputs, so a loaded teacher is wrapped in one
interface whichever Keras saved it."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import TinyedgeError
from . import kerasinfo, training, zoo
from .data import Dataset

KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")


@dataclass
class Teacher:
    model: object            # a tf_keras or Keras 3 model, or a SavedModel signature
    outputs_probabilities: bool
    source: str

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Teacher outputs for distillation: logits for classifiers (log of softmax outputs, which
        give the same soft targets), raw values for regressors."""
        if hasattr(self.model, "predict"):
            out = np.asarray(self.model.predict(x, batch_size=256, verbose=0), dtype=np.float32)
        else:  # a SavedModel's serving function
            import tensorflow as tf
            result = self.model(tf.constant(x, dtype=tf.float32))
            if isinstance(result, dict):
                result = next(iter(result.values()))
            out = np.asarray(result, dtype=np.float32)
        if self.outputs_probabilities:
            out = np.log(np.clip(out, 1e-7, 1.0))
        return out

    @property
    def params(self) -> int:
        if hasattr(self.model, "count_params"):
            return kerasinfo.params(self.model)
        return int(sum(np.prod(v.shape) for v in getattr(self.model, "variables", [])))

    @property
    def macs(self) -> int:
        return kerasinfo.macs(self.model) if hasattr(self.model, "layers") else 0


def train(dataset: Dataset, architecture: str, epochs: int, batch_size: int, learning_rate: float,
          seed: int, progress: training.Lines):
    import tf_keras
    training.seed_everything(seed)
    model = zoo.build_teacher(architecture, dataset.input_shape, dataset.output_size)
    if dataset.task == "classification":
        loss = tf_keras.losses.CategoricalCrossentropy(from_logits=True)
        metric = "accuracy"
    else:
        loss, metric = "mse", "mse"
    training.fit(model, dataset, training.hard_targets(dataset, dataset.y_train),
                 training.hard_targets(dataset, dataset.y_val), loss, metric, epochs, batch_size,
                 learning_rate, progress, "teacher")
    return model


def _ends_in_softmax(model) -> bool:
    layer = model.layers[-1] if getattr(model, "layers", None) else None
    if layer is None:
        return False
    if type(layer).__name__ == "Softmax":
        return True
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", "") == "softmax"


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def load(path: Path) -> Teacher:
    """Try tf_keras first (tfmot and the converter need it), then Keras 3, then a bare SavedModel."""
    if not path.exists():
        raise TinyedgeError(f"teacher {path} does not exist", "check teacher.model or --teacher")
    is_saved_model = path.is_dir() and (path / "saved_model.pb").exists()
    if path.is_dir() and not is_saved_model:
        raise TinyedgeError(f"teacher folder {path} is not a SavedModel (no saved_model.pb)",
                            "pass a .keras or .h5 file or a SavedModel folder")
    if path.is_file() and path.suffix.lower() not in KERAS_SUFFIXES:
        raise TinyedgeError(f"teacher {path.name} is not a Keras model file ('{path.suffix}')",
                            "pass a .keras or .h5 file or a SavedModel folder")
    errors = []
    import tf_keras
    with _quiet():
        try:
            model = tf_keras.models.load_model(path, compile=False)
            return Teacher(model, _ends_in_softmax(model), str(path))
        except Exception as exc:  # noqa: BLE001 - each loader fails differently on foreign files
            errors.append(f"tf_keras: {type(exc).__name__}")
        if not is_saved_model:
            try:
                import keras
                model = keras.models.load_model(path, compile=False)
                return Teacher(model, _ends_in_softmax(model), str(path))
            except Exception as exc:  # noqa: BLE001
                errors.append(f"Keras 3: {type(exc).__name__}")
        else:
            try:
                import tensorflow as tf
                loaded = tf.saved_model.load(str(path))
                signature = loaded.signatures["serving_default"]
                return Teacher(signature, False, str(path))
            except Exception as exc:  # noqa: BLE001
                errors.append(f"SavedModel: {type(exc).__name__}")
    raise TinyedgeError(f"teacher {path.name} cannot be loaded as a Keras model "
                        f"({'; '.join(errors)})",
                        "save it with model.save('teacher.keras') from Keras 3 or tf_keras")


def check_fits(teacher: Teacher, dataset: Dataset) -> None:
    """The teacher must take the data's inputs and give one output per class (or target)."""
    probe = dataset.x_train[:2]
    try:
        with _quiet():
            out = teacher.predict(probe)
    except Exception as exc:  # noqa: BLE001 - shape errors come from deep inside Keras
        raise TinyedgeError(f"teacher {Path(teacher.source).name} does not accept inputs of shape "
                            f"{dataset.input_shape} ({type(exc).__name__})",
                            "use a teacher trained on this data") from None
    size = int(np.prod(out.shape[1:]))
    if size != dataset.output_size:
        raise TinyedgeError(f"teacher {Path(teacher.source).name} gives {size} outputs but the data "
                            f"has {dataset.output_size} {'classes' if dataset.num_classes else 'targets'}",
                            "use a teacher trained on this data")
