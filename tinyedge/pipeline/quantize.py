"""Full-integer post-training quantization: Keras model -> int8 TFLite flatbuffer with int8 I/O.

The QAT path goes through the same converter call: a quantization-aware model already carries its
ranges, the representative dataset then only calibrates what QAT did not annotate.
"""

from __future__ import annotations

import contextlib
import os
import sys

import numpy as np

from ..errors import TinyedgeError


@contextlib.contextmanager
def _quiet_native_stderr():
    """The MLIR converter prints pages of diagnostics on fd 2; keep them out of the user's terminal
    unless conversion fails (then they are attached to the error)."""
    sys.stderr.flush()
    saved = os.dup(2)
    import tempfile
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield log
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def representative_samples(x_train: np.ndarray, count: int, seed: int) -> np.ndarray:
    """A fixed, seeded draw from the training split (the same draw on every run)."""
    rng = np.random.default_rng(seed)
    count = min(count, len(x_train))
    return x_train[np.sort(rng.choice(len(x_train), size=count, replace=False))]


def _with_batch_of_one(model):
    """The same model (its layers cloned, the weights copied) with a fixed batch of 1, as the firmware
    runs it: the converter then writes a Keras LSTM as UNIDIRECTIONAL_SEQUENCE_LSTM (with a dynamic
    batch it fails on tensor lists) and a dilated convolution as CONV_2D with dilation (not
    SPACE_TO_BATCH_ND with stale batch sizes). A model that cannot be cloned converts as it is."""
    import tensorflow as tf
    try:   # a clone keeps the layers' names (which error messages cite); the weights are copied over
        inputs = [tf.keras.Input(batch_shape=(1, *tensor.shape[1:]), dtype=tensor.dtype,
                                 name=tensor.name.split(":")[0]) for tensor in model.inputs]
        fixed = tf.keras.models.clone_model(model, input_tensors=inputs if len(inputs) > 1 else inputs[0])
        fixed.set_weights(model.get_weights())
        return fixed
    except (TypeError, ValueError, AttributeError):
        return model


def convert_int8(model, calibration: np.ndarray) -> bytes:
    import tensorflow as tf

    def dataset():
        for sample in calibration:
            yield [sample[np.newaxis].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(_with_batch_of_one(model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with _quiet_native_stderr() as log:
        try:
            flatbuffer = converter.convert()
        except Exception as exc:
            log.seek(0)
            details = [line for line in log.read().decode(errors="replace").splitlines()
                       if "error" in line.lower()]
            reason = (details[-1] if details else str(exc).splitlines()[0])[:300]
            raise TinyedgeError(f"int8 conversion of '{model.name}' failed: {reason}",
                                "the model uses an op without an int8 TFLite kernel; change the "
                                "architecture") from None
    return bytes(flatbuffer)
