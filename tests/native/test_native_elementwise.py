"""The element-wise lowerings' refusals (ops_elementwise.py): a form the native runtime does not
compute is named in one line, `unsupported_ops` lists it (so `auto` picks TFLM), and TFLM runs it."""

from __future__ import annotations

import numpy as np
import pytest

import native_model_zoo
from tinyedge.codegen import generate, unsupported_ops
from tinyedge.errors import TinyedgeError
from tinyedge.tflite.model import load
from tinyedge.tflite.tflm import TflmRunner


def _negative_alpha_leaky_relu():
    spec = native_model_zoo.Spec("leaky_relu_negative_alpha", (10,), lambda k, L, tf, rng, x: L.Lambda(
        lambda t: tf.nn.leaky_relu(t, alpha=-0.3))(L.Dense(6)(x)), static_batch=True)
    return load(native_model_zoo._cached(spec.name, lambda: native_model_zoo._convert(spec, 120)))


def test_negative_alpha_leaky_relu_is_refused_and_left_to_tflm():
    model = _negative_alpha_leaky_relu()
    assert [op.opcode for op in model.main.operators] == ["FULLY_CONNECTED", "LEAKY_RELU"]
    assert unsupported_ops(model) == ["LEAKY_RELU"]
    with pytest.raises(TinyedgeError) as error:
        generate(model)
    assert error.value.one_line() == ("operator 1 (LEAKY_RELU) has a negative alpha (-0.3); the "
                                      "native runtime takes alpha >= 0 (use --runtime tflm for this model)")
    batch = native_model_zoo.random_inputs((10,), "int8", 4, seed=1)
    assert TflmRunner(model.raw, arena_size=64 * 1024).run(batch).shape == (4, 6)


def test_supported_elementwise_models_are_not_left_to_tflm(zoo):
    for name in ("leaky_relu_dense", "hard_swish_conv", "prelu_shared_axes", "l2_normalization_dense",
                 "log_softmax_dense", "arg_max_int64"):
        assert unsupported_ops(load(zoo[name])) == [], name
