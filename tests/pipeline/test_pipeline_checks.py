"""Checks after conversion, on real converter output: a float model, a weight-only (hybrid) model,
an op TFLite Micro lacks, a damaged file; and the TFLM op table against the real interpreter."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tinyedge.errors import TinyedgeError
from tinyedge.pipeline import checks, quantize
from tinyedge.tflite.model import parse
from tinyedge.tflite.tflm_ops import TFLM_OPS

FLOAT_HINT = ("(quantize the model fully to int8 with a representative dataset "
              "(supported_ops=TFLITE_BUILTINS_INT8), as 'tinyedge build' does)")


@pytest.fixture(scope="module")
def converted() -> dict[str, bytes]:
    """Tiny Keras models through the real TFLite converter in four ways. Each model is named: Keras
    numbers unnamed ones (model, model_1, ...) by how many the process has built, and the layer names
    in the messages start with the model's."""
    import tensorflow as tf
    import tf_keras
    tf_keras.utils.set_random_seed(0)
    features = tf_keras.Input((32,), name="features")
    hidden = tf_keras.layers.Dense(64, activation="relu", name="hidden")(features)
    dense = tf_keras.Model(features, tf_keras.layers.Dense(2, name="scores")(hidden), name="dense_net")
    calibration = np.random.default_rng(0).random((20, 32)).astype(np.float32)

    def plain(model, optimize: bool) -> bytes:
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        if optimize:  # without a representative dataset: weight-only (dynamic-range) quantization
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        return converter.convert()

    features = tf_keras.Input((4,), name="features")
    x = tf_keras.layers.Dense(4, name="hidden")(features)
    x = tf_keras.layers.Lambda(lambda t: tf.tile(t, [1, 2]), name="repeat")(x)
    tiled = tf_keras.Model(features, tf_keras.layers.Dense(2, name="scores")(x), name="tiled_net")
    return {"float": plain(dense, False), "hybrid": plain(dense, True),
            "int8": quantize.convert_int8(dense, calibration),
            "tile": quantize.convert_int8(tiled, calibration[:, :4])}


def message(flatbuffer: bytes) -> str:
    with pytest.raises(TinyedgeError) as caught:
        checks.require_int8_tflm(parse(flatbuffer, source="model.tflite"), "model.tflite")
    return caught.value.one_line()


def test_full_int8_model_passes(converted):
    model = parse(converted["int8"])
    assert checks.find_problems(model) == []
    checks.require_int8_tflm(model, "model.tflite")


def test_float_model_names_the_op_and_the_layer(converted):
    assert message(converted["float"]) == (
        "model.tflite: float operator FULLY_CONNECTED left (float32 tensor "
        "'serving_default_features:0') at layer 'dense_net/hidden/MatMul'; 3 more problem(s) "
        + FLOAT_HINT)


def test_weight_only_quantized_model_is_called_hybrid(converted):
    assert message(converted["hybrid"]) == (
        "model.tflite: FULLY_CONNECTED is weight-only (dynamic-range) quantized: int8 weights with "
        "float32 activations at layer 'dense_net/hidden/MatMul'; 3 more problem(s) (this model was "
        "quantized without a representative dataset; convert it with full-integer quantization "
        "(int8 activations, int8 input and output), as 'tinyedge build' does)")


def test_op_tflm_lacks_names_the_op_and_the_layer(converted):
    assert message(converted["tile"]) == (
        "model.tflite: op TILE is not implemented by TFLite Micro at layer 'tiled_net/repeat/Tile' "
        "(replace that layer with one TFLite Micro implements ('tinyedge inspect' lists the ops))")
    from tflite_micro import runtime  # the second opinion: the real interpreter refuses it too
    with pytest.raises(RuntimeError):
        runtime.Interpreter.from_bytes(converted["tile"], arena_size=64 * 1024)


def test_op_version_newer_than_tflm_is_an_error(converted):
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    model = schema.ModelT.InitFromPackedBuf(bytearray(converted["int8"]), 0)
    model.operatorCodes[0].version = 99
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), b"TFL3")
    assert message(bytes(builder.Output())).startswith(
        "model.tflite: op FULLY_CONNECTED version 99 is newer than TFLite Micro supports (up to 14)")


def test_truncated_and_corrupt_files(converted):
    with pytest.raises(TinyedgeError) as caught:
        parse(converted["int8"][: len(converted["int8"]) // 3], source="model.tflite")
    assert caught.value.one_line() == ("model.tflite is a damaged TFLite model (its flatbuffer does not decode) "
                                       "(the file is truncated or corrupt; export it again)")
    with pytest.raises(TinyedgeError) as caught:
        parse(b"\x00" * 64, source="model.tflite")
    assert caught.value.one_line() == ("model.tflite is not a TFLite model (no 'TFL3' identifier) "
                                       "(pass a .tflite file written by the TFLite converter)")


def _with_every_op(template: bytes, code: int) -> bytes:
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    model = schema.ModelT.InitFromPackedBuf(bytearray(template), 0)
    for opcode in model.operatorCodes:
        opcode.builtinCode, opcode.deprecatedBuiltinCode = code, min(code, 127)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def test_op_table_agrees_with_the_real_tflm_interpreter(capfd):
    """Every builtin op: TFLM finds a kernel exactly when the table lists the op. The template is the
    float sine model shipped with tflite-micro (its kernels reject the swapped op cleanly; an int8
    template crashes some of them)."""
    from pathlib import Path

    import tflite_micro
    from tflite_micro import runtime
    template = (Path(tflite_micro.__file__).parent / "python" / "tflite_micro" /
                "sine_float.tflite").read_bytes()
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    names = {value: name for name, value in vars(schema.BuiltinOperator).items()
             if not name.startswith("_") and name not in ("CUSTOM", "DELEGATE",
                                                          "PLACEHOLDER_FOR_GREATER_OP_CODES")}
    disagreements = []
    for code, name in sorted(names.items()):
        try:
            runtime.Interpreter.from_bytes(_with_every_op(template, code), arena_size=65536)
        except Exception:  # noqa: BLE001 - a kernel that rejects these tensors still exists
            pass
        found = "Didn't find op for builtin opcode" not in capfd.readouterr().err
        if found != (name in TFLM_OPS):
            disagreements.append(name)
    assert disagreements == []
