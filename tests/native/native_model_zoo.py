"""Small random Keras models, converted to full-int8 TFLite by TensorFlow's converter, that together
exercise every operator the native runtime supports (odd shapes, strides, paddings, dilations,
per-tensor and per-channel quantization, float I/O).

Converting takes about a second a model, so `build_zoo` caches the .tflite files on disk in a folder
named after GENERATOR_VERSION: bump it whenever a builder changes.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

import tinyedge  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

GENERATOR_VERSION = "6"


@dataclass(frozen=True)
class Spec:
    name: str
    input_shape: tuple[int, ...]
    build: Callable                   # (keras, layers, tf, rng) -> outputs tensor of the given input
    per_channel: bool = True
    float_io: bool = False
    # With a fixed batch of 1 the converter writes dilations into CONV_2D itself; with a dynamic batch
    # it emits SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND with stale batch sizes, which TFLM runs
    # on only a quarter of the output (see tinyedge.codegen.ops.fold_dilated_convolution).
    static_batch: bool = False


def _specs() -> list[Spec]:
    def conv(filters, kernel, **kw):
        return lambda k, L, tf, rng, x: L.Conv2D(filters, kernel, **kw)(x)

    specs = [
        Spec("conv_same_s1_relu", (9, 7, 3), conv(5, 3, padding="same", activation="relu")),
        Spec("conv_valid_s2_pertensor", (11, 8, 2), conv(4, (3, 2), strides=2), per_channel=False),
        Spec("conv_same_stride23_relu6", (13, 10, 3), conv(6, 5, strides=(2, 3), padding="same",
                                                             activation="relu6")),
        Spec("conv_dilated_same", (9, 7, 3), conv(4, 3, dilation_rate=2, padding="same"), static_batch=True),
        Spec("conv_dilated_valid_23", (12, 11, 2), conv(3, (2, 3), dilation_rate=(2, 3)), static_batch=True),
        Spec("conv_dilated_space_to_batch", (9, 7, 3), conv(4, 3, dilation_rate=2, padding="same")),
        Spec("conv_1x1_tanh_pertensor", (5, 5, 4), conv(7, 1, activation="tanh"), per_channel=False),
        Spec("conv_even_kernel_same", (8, 6, 1), conv(3, (4, 2), strides=(3, 1), padding="same")),
        Spec("depthwise_same_relu", (8, 9, 3),
             lambda k, L, tf, rng, x: L.DepthwiseConv2D(3, padding="same", activation="relu")(x)),
        Spec("depthwise_mult2_s2_pertensor", (11, 9, 3),
             lambda k, L, tf, rng, x: L.DepthwiseConv2D(3, strides=2, depth_multiplier=2)(x),
             per_channel=False),
        Spec("depthwise_dilated_same", (10, 9, 2),
             lambda k, L, tf, rng, x: L.DepthwiseConv2D(3, dilation_rate=2, padding="same")(x), static_batch=True),
        Spec("depthwise_dilated_space_to_batch", (11, 10, 2),
             lambda k, L, tf, rng, x: L.DepthwiseConv2D(3, dilation_rate=(2, 3), padding="same")(x)),
        Spec("flatten_dense_relu", (6, 5, 2),
             lambda k, L, tf, rng, x: L.Dense(10, activation="relu")(L.Flatten()(L.Conv2D(3, 2)(x)))),
        Spec("dense_softmax_pertensor", (23,),
             lambda k, L, tf, rng, x: L.Dense(9, activation="softmax")(L.Dense(17, activation="relu")(x)),
             per_channel=False),
        Spec("dense_on_3d_input", (4, 6), lambda k, L, tf, rng, x: L.Dense(5)(x), static_batch=True),
        Spec("avgpool_same_s2", (10, 9, 3),
             lambda k, L, tf, rng, x: L.AveragePooling2D(3, strides=2, padding="same")(L.Conv2D(4, 1)(x))),
        Spec("avgpool_valid_23", (9, 10, 2),
             lambda k, L, tf, rng, x: L.AveragePooling2D((2, 3))(L.Conv2D(3, 1)(x))),
        Spec("maxpool_same_s2", (11, 7, 2),
             lambda k, L, tf, rng, x: L.MaxPool2D(3, strides=2, padding="same")(L.Conv2D(5, 3)(x))),
        Spec("maxpool_valid", (8, 9, 3), lambda k, L, tf, rng, x: L.MaxPool2D(2)(L.Conv2D(2, 2)(x))),
        Spec("add_residual_relu", (8, 8, 4),
             lambda k, L, tf, rng, x: L.ReLU()(L.Add()([x, L.Conv2D(4, 3, padding="same")(x)]))),
        Spec("add_broadcast_mean", (5, 6, 3),
             lambda k, L, tf, rng, x: L.Lambda(lambda t: t + tf.reduce_mean(t, axis=[1, 2], keepdims=True))(
                 L.Conv2D(3, 1)(x))),
        Spec("mul_elementwise", (7, 6, 3),
             lambda k, L, tf, rng, x: L.Multiply()([L.Conv2D(4, 3)(x), L.Conv2D(4, 3)(x)])),
        Spec("mul_broadcast_squeeze_excite", (6, 5, 4),
             lambda k, L, tf, rng, x: L.Multiply()([x, L.Activation("sigmoid")(
                 L.Lambda(lambda t: tf.reduce_mean(t, axis=[1, 2], keepdims=True))(x))])),
        Spec("softmax_over_channels", (5, 4, 3),
             lambda k, L, tf, rng, x: L.Softmax()(L.Conv2D(6, 3, padding="same")(x))),
        Spec("logistic_dense", (13,), lambda k, L, tf, rng, x: L.Dense(7, activation="sigmoid")(x)),
        Spec("tanh_dense", (11,), lambda k, L, tf, rng, x: L.Dense(6, activation="tanh")(x)),
        Spec("relu_after_mean", (6, 7, 5),
             lambda k, L, tf, rng, x: L.ReLU()(L.GlobalAveragePooling2D()(L.Conv2D(5, 3)(x)))),
        Spec("relu6_after_reshape", (4, 6, 2),
             lambda k, L, tf, rng, x: L.ReLU(6.0)(L.Reshape((8, 12))(L.Conv2D(4, 3, padding="same")(x)))),
        Spec("zero_padding_conv", (7, 6, 2),
             lambda k, L, tf, rng, x: L.Conv2D(3, 3)(L.ZeroPadding2D(((1, 2), (2, 0)))(x))),
        Spec("concat_channels_and_width", (6, 5, 2),
             lambda k, L, tf, rng, x: L.Concatenate(axis=2)([
                 L.Concatenate()([L.Conv2D(3, 1)(x), L.Conv2D(2, 1)(x)]), L.Conv2D(5, 1)(x)])),
        Spec("global_average_pool_dense", (9, 8, 3),
             lambda k, L, tf, rng, x: L.Dense(4)(L.GlobalAveragePooling2D()(L.Conv2D(6, 3)(x)))),
        Spec("conv1d_gap1d", (25, 3),
             lambda k, L, tf, rng, x: L.GlobalAveragePooling1D()(L.Conv1D(5, 3, strides=2)(x))),
        Spec("conv1d_same_dense", (17, 2),
             lambda k, L, tf, rng, x: L.Dense(3)(L.Flatten()(L.Conv1D(4, 5, padding="same")(x)))),
        Spec("float_io_cnn", (8, 8, 1),
             lambda k, L, tf, rng, x: L.Dense(5)(L.Flatten()(L.Conv2D(3, 3, activation="relu")(x))),
             float_io=True),
        Spec("small_cnn_pertensor", (12, 12, 3),
             lambda k, L, tf, rng, x: L.Dense(4, activation="softmax")(L.Flatten()(L.MaxPool2D(2)(
                 L.DepthwiseConv2D(3, padding="same", activation="relu6")(
                     L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x))))),
             per_channel=False),
        Spec("mean_over_width_keepdims", (5, 7, 3),
             lambda k, L, tf, rng, x: L.Lambda(lambda t: tf.reduce_mean(t, axis=2, keepdims=True))(
                 L.Conv2D(4, 1)(x))),
    ]
    specs += _layout_specs()
    specs += _elementwise_specs()
    specs += _sequence_specs()
    return specs


def _elementwise_specs() -> list[Spec]:
    """HARD_SWISH, LEAKY_RELU, PRELU, SUB, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE, RSQRT,
    L2_NORMALIZATION, ARG_MAX and ARG_MIN (int32 and int64 indices), broadcasting where the op takes it."""
    def two_convs(f):
        return lambda k, L, tf, rng, x: L.Lambda(lambda ab: f(tf, ab[0], ab[1]))(
            [L.Conv2D(4, 1)(x), L.Conv2D(4, 3, padding="same")(x)])

    def hard_swish(tf, t):
        return t * tf.nn.relu6(t + 3.0) * (1.0 / 6.0)

    def squeeze_excite_hard(k, L, tf, rng, x):
        y = L.Lambda(lambda t: hard_swish(tf, t))(L.Conv2D(6, 3, padding="same")(x))
        gate = L.Conv2D(6, 1)(L.Conv2D(3, 1, activation="relu")(
            L.Lambda(lambda t: tf.reduce_mean(t, axis=[1, 2], keepdims=True))(y)))
        return L.Multiply()([y, L.Lambda(lambda t: tf.nn.relu6(t + 3.0) * (1.0 / 6.0))(gate)])

    def mix_activations(k, L, tf, rng, x):
        y = L.Lambda(lambda t: hard_swish(tf, t))(L.Conv2D(6, 3, padding="same")(x))
        y = L.LeakyReLU(0.2)(L.PReLU(alpha_initializer=k.initializers.RandomUniform(0.0, 0.8),
                                     shared_axes=[1, 2])(y))
        return L.Lambda(lambda t: tf.math.l2_normalize(t, axis=-1) * tf.math.rsqrt(tf.nn.relu(t) + 0.5))(y)

    def mix_binary(tf, a, b):
        low = tf.minimum(tf.maximum(a - b, b), a)
        return tf.math.squared_difference(low, a)

    return [
        Spec("hard_swish_conv", (7, 6, 3), lambda k, L, tf, rng, x: L.Lambda(lambda t: hard_swish(tf, t))(
            L.Conv2D(5, 3)(x))),
        Spec("hard_swish_squeeze_excite", (6, 6, 2), squeeze_excite_hard),
        Spec("leaky_relu_dense", (14,), lambda k, L, tf, rng, x: L.LeakyReLU(0.3)(L.Dense(9)(x))),
        Spec("leaky_relu_conv_small_alpha", (6, 5, 2),
             lambda k, L, tf, rng, x: L.LeakyReLU(0.01)(L.Conv2D(3, 3)(x))),
        Spec("prelu_shared_axes", (7, 6, 3),
             lambda k, L, tf, rng, x: L.PReLU(alpha_initializer=k.initializers.RandomUniform(-0.5, 1.0),
                                              shared_axes=[1, 2])(L.Conv2D(4, 3)(x))),
        Spec("prelu_full_alpha", (5, 4, 2),
             lambda k, L, tf, rng, x: L.PReLU(alpha_initializer=k.initializers.RandomUniform(0.0, 0.6))(
                 L.Conv2D(3, 1)(x))),
        Spec("sub_elementwise", (6, 5, 3), two_convs(lambda tf, a, b: a - b)),
        Spec("sub_broadcast_mean", (5, 6, 3), lambda k, L, tf, rng, x: L.Lambda(
            lambda t: t - tf.reduce_mean(t, axis=[1, 2], keepdims=True))(L.Conv2D(4, 1)(x))),
        Spec("maximum_minimum", (6, 5, 2), two_convs(lambda tf, a, b: tf.minimum(tf.maximum(a, b), 0.5 * b))),
        Spec("maximum_broadcast_constant", (7,), lambda k, L, tf, rng, x: L.Lambda(
            lambda t: tf.maximum(t, tf.constant([[-0.5, 0.0, 0.25, 1.0, -2.0]])))(L.Dense(5)(x))),
        Spec("squared_difference", (6, 5, 2), two_convs(lambda tf, a, b: tf.math.squared_difference(a, b))),
        Spec("squared_difference_broadcast", (5, 4, 3), lambda k, L, tf, rng, x: L.Lambda(
            lambda t: tf.math.squared_difference(t, tf.reduce_mean(t, axis=-1, keepdims=True)))(
                L.Conv2D(4, 1)(x))),
        Spec("rsqrt_after_relu", (9,), lambda k, L, tf, rng, x: L.Lambda(
            lambda t: tf.math.rsqrt(tf.nn.relu(t) + 0.25))(L.Dense(6)(x))),
        Spec("l2_normalization_channels", (5, 4, 3), lambda k, L, tf, rng, x: L.Lambda(
            lambda t: tf.math.l2_normalize(t, axis=-1))(L.Conv2D(6, 1)(x))),
        Spec("l2_normalization_dense", (12,), lambda k, L, tf, rng, x: L.Lambda(
            lambda t: tf.math.l2_normalize(t, axis=-1))(L.Dense(7)(x))),
        # TFLM refuses int64 indices ("Only int32_t are supported"): the test compares with TensorFlow
        # Lite's interpreter, so ARG_MAX reads the model input (no arithmetic to round differently)
        Spec("arg_max_int64", (4, 9), lambda k, L, tf, rng, x: L.Lambda(
            lambda t: tf.math.argmax(t, axis=-1))(x)),
        Spec("arg_min_int32_axis1", (6, 5, 3), lambda k, L, tf, rng, x: L.Lambda(
            lambda t: tf.math.argmin(t, axis=1, output_type=tf.int32))(L.Conv2D(4, 1)(x))),
        Spec("log_softmax_dense", (11,), lambda k, L, tf, rng, x: L.Lambda(
            lambda t: tf.nn.log_softmax(t, axis=-1))(L.Dense(7)(x))),
        Spec("log_softmax_channels", (5, 4, 3), lambda k, L, tf, rng, x: L.Lambda(
            lambda t: tf.nn.log_softmax(t * 3.0, axis=-1))(L.Conv2D(9, 1)(x))),
        # straight on the model input: 50 random samples of 256 values reach nearly every int8 input
        Spec("hard_swish_on_input", (256,), lambda k, L, tf, rng, x: L.Lambda(lambda t: hard_swish(tf, t))(x)),
        Spec("leaky_relu_on_input", (256,), lambda k, L, tf, rng, x: L.LeakyReLU(0.1)(x)),
        # the int8 ops in two models, for the emulated boards (tests/perf/test_elementwise_emulated.py)
        Spec("elementwise_mix_activations", (6, 5, 3), mix_activations),
        Spec("elementwise_mix_binary", (6, 5, 2), two_convs(mix_binary)),
    ]


def _layout_specs() -> list[Spec]:
    """TRANSPOSE, STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, GATHER and the two resizes (each flag combination
    TFLM takes), each after a 1x1 convolution so the op reads an arena tensor; tf.squeeze, which the
    converter writes as RESHAPE."""
    def after_conv(filters, f):
        return lambda k, L, tf, rng, x: L.Lambda(lambda t: f(tf, t))(L.Conv2D(filters, 1)(x))

    def resize_v1(method, size, **options):
        """tf.compat.v1.image.resize_<method>: corner-aligned or plain, no half-pixel centers."""
        return lambda tf, t: getattr(tf.compat.v1.image, f"resize_{method}")(t, size, **options)

    def resize_v2(method, size):
        """tf.image.resize: half-pixel centers."""
        return lambda tf, t: tf.image.resize(t, size, method)

    def split_concat(tf, t):
        a, b, c = tf.split(t, 3, axis=-1)
        return tf.concat([c, a, b], axis=-1)

    def split_v_concat(tf, t):
        a, b, c = tf.split(t, [1, 3, 2], axis=2)
        return tf.concat([c, b, a], axis=2)

    def mix_copies(tf, t):
        a, b, c = tf.split(tf.transpose(t[:, ::-1, 1:, :], [0, 2, 1, 3]), 3, axis=-1)
        return tf.gather(tf.concat([c, a, b], axis=-1), [0, 6, 3, 3], axis=2)

    def mix_resize(tf, t):
        t = tf.compat.v1.image.resize_nearest_neighbor(tf.image.resize(t, [9, 7], "bilinear"), [6, 11],
                                                       align_corners=True)
        a, b, c = tf.split(tf.slice(t, [0, 1, 2, 0], [1, 4, -1, -1]), [2, 5, 2], axis=2)
        return tf.concat([c, b, a], axis=2)[:, -1::-2]

    return [
        Spec("transpose_hw", (6, 5, 3), after_conv(4, lambda tf, t: tf.transpose(t, [0, 2, 1, 3]))),
        Spec("transpose_5d", (4, 6, 2), after_conv(6, lambda tf, t: tf.transpose(
            tf.reshape(t, [1, 4, 3, 2, 6]), [0, 3, 1, 4, 2])), static_batch=True),
        Spec("strided_slice_masks_reversed", (9, 8, 3), after_conv(4, lambda tf, t: t[:, 1:-1:2, ::-1, 1:])),
        Spec("strided_slice_shrink_negative", (7, 9, 3),
             after_conv(5, lambda tf, t: t[:, -3, 7:0:-3, :4]), static_batch=True),
        Spec("slice_sizes_to_end", (7, 6, 4), after_conv(5, lambda tf, t: tf.slice(t, [0, 1, 2, 1], [1, 4, -1, 3])),
             static_batch=True),
        Spec("split_channels_concat", (5, 4, 2), after_conv(6, split_concat)),
        Spec("split_v_width_concat", (3, 6, 2), after_conv(3, split_v_concat), static_batch=True),
        Spec("gather_rows", (6, 5, 2), after_conv(3, lambda tf, t: tf.gather(t, [3, 0, 0, 5, 2], axis=1))),
        Spec("gather_channels", (4, 5, 3), after_conv(4, lambda tf, t: tf.gather(t, [2, 1, 1, 3, 0, 2], axis=-1))),
        Spec("resize_nearest_upsampling", (4, 5, 2),
             lambda k, L, tf, rng, x: L.UpSampling2D((2, 3))(L.Conv2D(3, 1)(x))),
        Spec("resize_nearest_align_corners", (4, 6, 2), after_conv(3, resize_v1("nearest_neighbor", [5, 11],
                                                                             align_corners=True))),
        Spec("resize_nearest_plain", (5, 3, 2), after_conv(2, resize_v1("nearest_neighbor", [7, 5]))),
        Spec("resize_nearest_half_pixel_down", (9, 7, 2), after_conv(3, resize_v2("nearest", [4, 5]))),
        Spec("resize_bilinear_upsampling", (4, 5, 2),
             lambda k, L, tf, rng, x: L.UpSampling2D(2, interpolation="bilinear")(L.Conv2D(3, 1)(x))),
        Spec("resize_bilinear_align_corners", (4, 6, 3), after_conv(2, resize_v1("bilinear", [7, 9],
                                                                              align_corners=True))),
        Spec("resize_bilinear_plain", (5, 4, 2), after_conv(3, resize_v1("bilinear", [11, 7]))),
        Spec("resize_bilinear_half_pixel_down", (9, 10, 2), after_conv(3, resize_v2("bilinear", [4, 3]))),
        # every layout op in two models, for the emulated boards (tests/perf/test_layout_emulated.py)
        Spec("layout_mix_copies", (8, 7, 3), after_conv(6, mix_copies)),
        Spec("layout_mix_resize", (5, 4, 2), after_conv(4, mix_resize), static_batch=True),
        Spec("squeeze_width", (6, 5, 3),
             lambda k, L, tf, rng, x: L.Lambda(lambda t: tf.squeeze(t, axis=2))(L.Conv2D(4, (1, 5))(x))),
    ]


def _sequence_specs() -> list[Spec]:
    """TRANSPOSE_CONV, BATCH_MATMUL with one constant operand, and Keras LSTMs (the converter's
    UNIDIRECTIONAL_SEQUENCE_LSTM, int8 with an int16 cell state)."""
    def matmul(shape, constant_first=False, **options):
        def build(k, L, tf, rng, x):
            constant = tf.constant(rng.normal(0.0, 1.0, shape).astype(np.float32))
            return L.Lambda(lambda t: tf.matmul(constant, t, **options) if constant_first
                            else tf.matmul(t, constant, **options))(x)
        return build

    def mix_sequence(k, L, tf, rng, x):
        y = L.Reshape((1, 6, 6))(L.LSTM(6, return_sequences=True)(x))
        y = matmul((1, 2, 6, 4))(k, L, tf, rng, y)
        return L.Conv2DTranspose(3, 3, strides=2, padding="same")(y)

    return [
        Spec("transpose_conv_same_s2", (5, 4, 3),
             lambda k, L, tf, rng, x: L.Conv2DTranspose(4, 3, strides=2, padding="same")(x)),
        Spec("transpose_conv_valid_23_relu_pertensor", (4, 5, 2),
             lambda k, L, tf, rng, x: L.Conv2DTranspose(3, (3, 2), strides=(2, 3), activation="relu")(x),
             per_channel=False, static_batch=True),
        Spec("transpose_conv_no_bias_s1", (6, 5, 3),
             lambda k, L, tf, rng, x: L.Conv2DTranspose(2, (2, 4), padding="same", use_bias=False)(x),
             static_batch=True),
        Spec("batch_matmul_constant_rhs", (2, 5, 6), matmul((2, 6, 4)), static_batch=True),
        Spec("batch_matmul_adjoint_both", (2, 6, 5), matmul((2, 4, 6), adjoint_a=True, adjoint_b=True),
             static_batch=True),
        Spec("batch_matmul_broadcast_lhs", (1, 5, 6), matmul((1, 3, 6, 4)), static_batch=True),
        Spec("batch_matmul_constant_lhs", (6, 4), matmul((1, 2, 5, 6), constant_first=True), static_batch=True),
        Spec("lstm_last_state_dense", (6, 5), lambda k, L, tf, rng, x: L.Dense(3)(L.LSTM(7)(x)),
             static_batch=True),
        Spec("lstm_sequences_dense", (5, 4),
             lambda k, L, tf, rng, x: L.Dense(4, activation="softmax")(L.Flatten()(
                 L.LSTM(6, return_sequences=True)(x))), static_batch=True),
        Spec("lstm_stacked", (8, 3),
             lambda k, L, tf, rng, x: L.LSTM(5)(L.LSTM(9, return_sequences=True)(x)), static_batch=True),
        # the three ops in one model, for the emulated boards (tests/perf/test_sequence_emulated.py)
        Spec("sequence_mix_lstm_matmul_transpose_conv", (6, 5), mix_sequence, static_batch=True),
    ]


SPECS = _specs()


def _convert(spec: Spec, seed: int) -> bytes:
    import tensorflow as tf
    keras = tf.keras
    # Keras numbers unnamed layers by how many the process made before: start the count afresh, so the
    # tensor names, and with them every byte offset of the file, do not depend on the tests' order.
    keras.backend.clear_session()
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)   # Python's, NumPy's and TensorFlow's: the initial weights too
    inputs = keras.Input(spec.input_shape, batch_size=1 if spec.static_batch else None)
    outputs = spec.build(keras, keras.layers, tf, rng, inputs)
    model = keras.Model(inputs, outputs, name=spec.name)
    # Spread the weights so that requantization exercises large and small multipliers.
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            layer.set_weights([w * rng.uniform(0.5, 3.0) + rng.normal(0, 0.05, w.shape) for w in weights])
    calibration = rng.normal(0.0, 1.5, (24, *spec.input_shape)).astype(np.float32)

    def representative():
        for sample in calibration:
            yield [sample[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not spec.float_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    if not spec.per_channel:
        converter._experimental_disable_per_channel = True
    return converter.convert()


def zoo_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"tinyedge-native-zoo-v{GENERATOR_VERSION}"


def build_zoo(progress: Callable[[str], None] = lambda _: None) -> dict[str, Path]:
    """All zoo models as .tflite files (converted on first use, then read from the cache)."""
    folder = zoo_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for seed, spec in enumerate(SPECS):
        path = folder / f"{spec.name}.tflite"
        if not path.exists():
            progress(f"converting {spec.name}")
            data = _convert(spec, seed)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        paths[spec.name] = path
    return paths


def random_inputs(shape: tuple[int, ...], dtype: str, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "float32":
        return rng.normal(0.0, 2.0, (count, *shape)).astype(np.float32)
    batch = rng.integers(-128, 128, (count, *shape), dtype=np.int64).astype(np.int8)
    batch[0] = -128   # the extremes saturate every op's range checks
    batch[1] = 127
    return batch


def _cached(name: str, make: Callable[[], bytes]) -> Path:
    folder = zoo_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.tflite"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(make())
        tmp.replace(path)
    return path


def unsupported_op_model() -> Path:
    """An int8 model with ABS, which the native runtime does not implement."""
    spec = Spec("unsupported_abs", (12,),
                lambda k, L, tf, rng, x: L.Lambda(lambda t: tf.abs(t))(L.Dense(6)(x)), static_batch=True)
    return _cached(spec.name, lambda: _convert(spec, 99))


def float_model() -> Path:
    """A plain float32 conversion (no quantization)."""
    def make() -> bytes:
        import tensorflow as tf
        inputs = tf.keras.Input((10,))
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(3)(inputs))
        return tf.lite.TFLiteConverter.from_keras_model(model).convert()
    return _cached("float_dense", make)


def digits_model() -> tuple[Path, np.ndarray, np.ndarray]:
    """A small CNN trained on scikit-learn's digits (the built-in example's data), int8-quantized;
    returns the model and the int8 test inputs and labels."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., None]
    labels = digits.target
    train, test = slice(0, 1400), slice(1400, None)

    def make() -> bytes:
        import tensorflow as tf
        tf.random.set_seed(0)
        L = tf.keras.layers
        inputs = tf.keras.Input((8, 8, 1))
        x = L.Conv2D(8, 3, padding="same", activation="relu")(inputs)
        x = L.MaxPool2D(2)(x)
        x = L.Conv2D(16, 3, activation="relu")(x)
        x = L.Flatten()(x)
        outputs = L.Dense(10, activation="softmax")(L.Dense(24, activation="relu")(x))
        model = tf.keras.Model(inputs, outputs)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(images[train], labels[train], epochs=25, batch_size=32, verbose=0)
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([images[i:i + 1]] for i in range(0, 1400, 7))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        return converter.convert()

    path = _cached("digits_cnn", make)
    from tinyedge.tflite.model import load
    quant = load(path).main.input_tensors()[0].quantization
    scale, zero = float(quant.scale[0]), int(quant.zero_point[0])
    quantized = np.clip(np.round(images[test] / scale) + zero, -128, 127).astype(np.int8)
    return path, quantized, labels[test]


def pertensor_dense_model() -> Path:
    """Dense(12, relu) -> Dense(5) on 20 features, per-tensor quantized: the first weight tensor is
    [12, 20] with one scale, the shape of issue 11's damaged FULLY_CONNECTED."""
    spec = Spec("dense12_pertensor", (20,),
                lambda k, L, tf, rng, x: L.Dense(5)(L.Dense(12, activation="relu")(x)),
                per_channel=False, static_batch=True)
    return _cached(spec.name, lambda: _convert(spec, 111))


def two_output_model() -> Path:
    """One shared Dense(12) and two heads: a Dense(4) and a Dense(3) with softmax."""
    def build(k, L, tf, rng, x):
        shared = L.Dense(12, activation="relu")(x)
        return [L.Dense(4)(shared), L.Dense(3, activation="softmax")(shared)]
    spec = Spec("two_outputs", (20,), build, static_batch=True)
    return _cached(spec.name, lambda: _convert(spec, 112))


def small_cnn_model() -> Path:
    """Conv, depthwise conv, residual ADD, both poolings, RELU6, dense and softmax in one small
    per-channel model (the fuzz test's template)."""
    def build(k, L, tf, rng, x):
        y = L.Conv2D(4, 3, padding="same", activation="relu")(x)
        y = L.Add()([y, L.DepthwiseConv2D(3, padding="same")(y)])
        y = L.MaxPool2D(2)(y)
        y = L.AveragePooling2D(2)(L.Conv2D(6, 1, activation="relu6")(y))
        return L.Dense(3, activation="softmax")(L.Flatten()(y))
    spec = Spec("fuzz_small_cnn", (8, 8, 2), build, static_batch=True)
    return _cached(spec.name, lambda: _convert(spec, 113))


@dataclass(frozen=True)
class SvdfSpec:
    name: str
    input_size: int
    units: int
    rank: int
    memory: int
    bias: bool = True    # tflite_micro's SVDF prepare crashes (SIGSEGV) on a model without one


# Keras has no SVDF layer and the converter never writes one from a TensorFlow graph, so these models
# are written directly with TFLite's schema: int8 input and feature weights, int16 time weights and
# state, int32 bias at the state scale times the time weights' (what TFLM's prepare checks).
SVDF_SPECS = [SvdfSpec("svdf_rank1", 10, 4, 1, 6), SvdfSpec("svdf_rank2", 7, 3, 2, 5),
              SvdfSpec("svdf_rank3_long_memory", 12, 2, 3, 16)]


def svdf_model(spec: SvdfSpec, seed: int = 5) -> Path:
    """One hand-written SVDF model (cached like the zoo's)."""
    def make() -> bytes:
        import flatbuffers
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
        rng = np.random.default_rng(seed)
        filters = spec.units * spec.rank
        buffers = [schema.BufferT()]

        def tensor(name, shape, kind, scale, zero_point, data=None, variable=False):
            t = schema.TensorT()
            t.name, t.shape, t.type, t.isVariable = name, list(shape), kind, variable
            t.quantization = schema.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [float(scale)], [int(zero_point)]
            t.buffer = 0
            if data is not None:
                buffer = schema.BufferT()
                buffer.data = list(np.ascontiguousarray(data).view(np.uint8).reshape(-1))
                buffers.append(buffer)
                t.buffer = len(buffers) - 1
            return t

        state_scale, time_scale = 2.0 ** -9 * rng.uniform(0.7, 1.3), rng.uniform(2e-5, 6e-5)
        tensors = [
            tensor("input", (1, spec.input_size), schema.TensorType.INT8, rng.uniform(0.01, 0.05), int(rng.integers(-20, 20))),
            tensor("weights_feature", (filters, spec.input_size), schema.TensorType.INT8, rng.uniform(0.004, 0.02), 0,
                   rng.integers(-127, 128, (filters, spec.input_size)).astype(np.int8)),
            tensor("weights_time", (filters, spec.memory), schema.TensorType.INT16, time_scale, 0,
                   rng.integers(-32767, 32768, (filters, spec.memory)).astype("<i2")),
            tensor("bias", (spec.units,), schema.TensorType.INT32, np.float32(state_scale) * np.float32(time_scale), 0,
                   rng.integers(-20000, 20000, spec.units).astype("<i4")),
            tensor("state", (1, filters * spec.memory), schema.TensorType.INT16, state_scale, 0, variable=True),
            tensor("output", (1, spec.units), schema.TensorType.INT8, rng.uniform(0.02, 0.08), int(rng.integers(-10, 10))),
        ]
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.SVDF
        code.version = 3
        operator = schema.OperatorT()
        operator.opcodeIndex = 0
        operator.inputs = [0, 1, 2, 3 if spec.bias else -1, 4]
        operator.outputs = [5]
        operator.builtinOptionsType = schema.BuiltinOptions.SVDFOptions
        operator.builtinOptions = schema.SVDFOptionsT()
        operator.builtinOptions.rank = spec.rank
        graph = schema.SubGraphT()
        graph.tensors, graph.inputs, graph.outputs, graph.operators = tensors, [0], [5], [operator]
        model = schema.ModelT()
        model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [graph], buffers
        model.description = "tinyedge zoo: " + spec.name
        builder = flatbuffers.Builder(4096)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())
    return _cached(spec.name, make)


def arg_max_int32_model() -> Path:
    """ARG_MAX with int32 indices (the zoo's ARG_MAX writes int64 ones, which TFLM refuses) over the
    channels of a 1x1 convolution: an int8 input, an int32 output TFLM runs."""
    spec = Spec("arg_max_int32_channels", (5, 4, 3), lambda k, L, tf, rng, x: L.Lambda(
        lambda t: tf.math.argmax(t, axis=-1, output_type=tf.int32))(L.Conv2D(6, 1)(x)))
    return _cached(spec.name, lambda: _convert(spec, 113))
