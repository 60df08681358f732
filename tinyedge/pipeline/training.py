"""Training loops shared by the teacher, distillation and every compression fine-tune.

Distillation packs the targets: y = [hard target | teacher output] per sample, so one ordinary
`model.fit` trains on both (the teacher's outputs are computed once, not per step). Classification:
alpha * cross-entropy(labels) + (1 - alpha) * T^2 * KL(softmax(teacher/T) || softmax(student/T)).
Regression and autoencoders: alpha * MSE(targets) + (1 - alpha) * MSE(teacher outputs).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .data import Dataset

# Where progress lines go: one line per call (the pipeline passes tinyedge.console.say or its own log).
Lines = Callable[[str], None]


def seed_everything(seed: int) -> None:
    """Same data, same settings -> same model: seeds Python, numpy and TF, and makes TF ops
    deterministic (on this CPU-only setup that costs little)."""
    import tensorflow as tf
    import tf_keras
    tf_keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # already enabled in this process
        pass


@dataclass(frozen=True)
class DistillSettings:
    alpha: float
    temperature: float
    epochs: int
    batch_size: int
    learning_rate: float


def hard_targets(dataset: Dataset, y: np.ndarray) -> np.ndarray:
    if dataset.task == "classification":
        return np.eye(dataset.num_classes, dtype=np.float32)[y]
    return y.reshape(len(y), -1).astype(np.float32)


def pack(dataset: Dataset, y: np.ndarray, teacher_out: np.ndarray) -> np.ndarray:
    return np.concatenate([hard_targets(dataset, y), teacher_out.reshape(len(y), -1)], axis=1)


def _split_packed(y_true, size: int):
    return y_true[:, :size], y_true[:, size:]


def distillation_loss(task: str, size: int, alpha: float, temperature: float):
    import tensorflow as tf

    def classification(y_true, y_pred):
        hard, teacher = _split_packed(y_true, size)
        ce = tf.keras.losses.categorical_crossentropy(hard, y_pred, from_logits=True)
        soft_teacher = tf.nn.softmax(teacher / temperature)
        log_student = tf.nn.log_softmax(y_pred / temperature)
        kl = tf.reduce_sum(soft_teacher * (tf.math.log(soft_teacher + 1e-9) - log_student), axis=-1)
        return alpha * ce + (1.0 - alpha) * temperature ** 2 * kl

    def regression(y_true, y_pred):
        hard, teacher = _split_packed(y_true, size)
        y_pred = tf.reshape(y_pred, [tf.shape(y_pred)[0], -1])
        return (alpha * tf.reduce_mean(tf.square(hard - y_pred), axis=-1)
                + (1.0 - alpha) * tf.reduce_mean(tf.square(teacher - y_pred), axis=-1))

    return classification if task == "classification" else regression


def packed_metric(task: str, size: int):
    import tensorflow as tf

    def accuracy(y_true, y_pred):
        hard, _ = _split_packed(y_true, size)
        return tf.cast(tf.equal(tf.argmax(hard, -1), tf.argmax(y_pred, -1)), tf.float32)

    def mse(y_true, y_pred):
        hard, _ = _split_packed(y_true, size)
        y_pred = tf.reshape(y_pred, [tf.shape(y_pred)[0], -1])
        return tf.reduce_mean(tf.square(hard - y_pred), axis=-1)

    return accuracy if task == "classification" else mse


def progress_callback(progress: Lines, label: str, epochs: int, metric: str):
    import tf_keras

    class EpochLine(tf_keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            parts = [f"loss {logs.get('loss', float('nan')):.4f}"]
            for key in (metric, f"val_{metric}"):
                if key in logs:
                    parts.append(f"{key.replace('_', ' ')} {logs[key]:.4f}")
            progress(f"  {label} epoch {epoch + 1}/{epochs}: {', '.join(parts)} "
                     f"({time.perf_counter() - self.started:.1f} s)")

    return EpochLine()


def fit(model, dataset: Dataset, train_targets: np.ndarray, val_targets: np.ndarray, loss, metric,
        epochs: int, batch_size: int, learning_rate: float, progress: Lines, label: str,
        callbacks=(), schedule: bool = True):
    """Adam with a cosine learning-rate decay (stable final epochs), one progress line per epoch."""
    import tf_keras
    steps = epochs * int(np.ceil(len(dataset.x_train) / batch_size))
    rate = (tf_keras.optimizers.schedules.CosineDecay(learning_rate, steps, alpha=0.05)
            if schedule else learning_rate)
    model.compile(optimizer=tf_keras.optimizers.Adam(rate), loss=loss, metrics=[metric])
    metric_name = metric.__name__ if callable(metric) else str(metric)
    validation = (dataset.x_val, val_targets) if len(dataset.x_val) else None
    model.fit(dataset.x_train, train_targets, validation_data=validation, epochs=epochs,
              batch_size=batch_size, shuffle=True, verbose=0,
              callbacks=[progress_callback(progress, label, epochs, metric_name), *callbacks])
    return model


def predict(model, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)


def score(task: str, outputs: np.ndarray, y: np.ndarray) -> float:
    """Accuracy (classification) or mean squared error (regression) of model outputs."""
    if task == "classification":
        return float(np.mean(np.argmax(outputs.reshape(len(y), -1), axis=1) == y))
    return float(np.mean(np.square(outputs.reshape(len(y), -1) - y.reshape(len(y), -1))))
