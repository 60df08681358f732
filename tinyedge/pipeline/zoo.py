"""MCU-friendly architectures (students and the teachers tinyedge trains), built with tf_keras.

Every model ends in a Dense layer without activation: classifiers output logits (argmax is the class;
distillation needs them), regressors and autoencoders their values. Only ops that TFLite Micro runs in
int8 are used (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, pooling, RESHAPE).
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import TinyedgeError
from ..suggest import did_you_mean

STUDENTS = ("tiny_cnn", "ds_cnn", "mobilenet", "resnet", "mlp", "autoencoder")
TEACHERS = ("cnn", "resnet", "mlp", "autoencoder")


def _keras():
    import tf_keras
    return tf_keras


def _channels(base: float, width: float) -> int:
    return max(2, int(round(base * width)))


def _can_downsample(x) -> bool:
    return len(x.shape) == 4 and x.shape[1] >= 4 and x.shape[2] >= 4


def _image_input(layers, input_shape):
    inputs = layers.Input(shape=input_shape, name="input")
    x = inputs
    if len(input_shape) == 1:  # a feature vector: treat it as a one-row, one-channel image
        x = layers.Reshape((1, input_shape[0], 1))(x)
    elif len(input_shape) == 2:
        x = layers.Reshape((*input_shape, 1))(x)
    return inputs, x


def tiny_cnn(input_shape, outputs: int, width: float = 1.0, depth: int = 2, name="tiny_cnn"):
    """Plain 3x3 convolutions, doubling channels and halving the image after the first block."""
    keras = _keras()
    layers = keras.layers
    inputs, x = _image_input(layers, input_shape)
    for block in range(depth):
        stride = 2 if block > 0 and _can_downsample(x) else 1
        x = layers.Conv2D(_channels(8 * 2 ** block, width), 3, strides=stride, padding="same",
                          activation="relu", name=f"conv{block}")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(outputs, name="logits")(x)
    return keras.Model(inputs, x, name=name)


def _separable_block(layers, x, block: int, channels: int, stride: int, relu_max: float | None):
    """Depthwise 3x3 then pointwise 1x1, each with batch norm and ReLU (ReLU6 when relu_max is 6)."""
    x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"dw{block}")(x)
    x = layers.BatchNormalization(name=f"dw{block}_bn")(x)
    x = layers.ReLU(relu_max, name=f"dw{block}_relu")(x)
    x = layers.Conv2D(channels, 1, use_bias=False, name=f"pw{block}")(x)
    x = layers.BatchNormalization(name=f"pw{block}_bn")(x)
    return layers.ReLU(relu_max, name=f"pw{block}_relu")(x)


def ds_cnn(input_shape, outputs: int, width: float = 1.0, depth: int = 2, name="ds_cnn"):
    """Keyword-spotting style: one convolution, then depthwise-separable blocks, global pooling."""
    keras = _keras()
    layers = keras.layers
    inputs, x = _image_input(layers, input_shape)
    channels = _channels(32, width)
    x = layers.Conv2D(channels, 3, padding="same", use_bias=False, name="conv0")(x)
    x = layers.BatchNormalization(name="conv0_bn")(x)
    x = layers.ReLU(name="conv0_relu")(x)
    for block in range(depth):
        x = _separable_block(layers, x, block, channels, stride=1, relu_max=None)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(outputs, name="logits")(x)
    return keras.Model(inputs, x, name=name)


def mobilenet(input_shape, outputs: int, width: float = 1.0, depth: int = 2, name="mobilenet"):
    """MobileNetV1-style: width multiplier on every layer, stride 2 where the image allows it."""
    keras = _keras()
    layers = keras.layers
    inputs, x = _image_input(layers, input_shape)
    x = layers.Conv2D(_channels(16, width), 3, padding="same", use_bias=False, name="conv0")(x)
    x = layers.BatchNormalization(name="conv0_bn")(x)
    x = layers.ReLU(6.0, name="conv0_relu")(x)
    for block in range(depth):
        stride = 2 if _can_downsample(x) else 1
        x = _separable_block(layers, x, block, _channels(32 * 2 ** block, width), stride, relu_max=6.0)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(outputs, name="logits")(x)
    return keras.Model(inputs, x, name=name)


def resnet(input_shape, outputs: int, width: float = 1.0, depth: int = 2, name="resnet"):
    """A small ResNet: a stem and `depth` residual blocks of two 3x3 convolutions."""
    keras = _keras()
    layers = keras.layers
    inputs, x = _image_input(layers, input_shape)
    channels = _channels(16, width)
    x = layers.Conv2D(channels, 3, padding="same", activation="relu", name="stem")(x)
    for block in range(depth):
        shortcut = x
        y = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"res{block}_a")(x)
        y = layers.Conv2D(channels, 3, padding="same", name=f"res{block}_b")(y)
        x = layers.ReLU(name=f"res{block}_relu")(layers.Add(name=f"res{block}_add")([shortcut, y]))
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(outputs, name="logits")(x)
    return keras.Model(inputs, x, name=name)


def mlp(input_shape, outputs: int, width: float = 1.0, depth: int = 2, name="mlp"):
    keras = _keras()
    layers = keras.layers
    inputs = layers.Input(shape=input_shape, name="input")
    x = layers.Flatten()(inputs)
    for block in range(depth):
        x = layers.Dense(_channels(64, width), activation="relu", name=f"dense{block}")(x)
    x = layers.Dense(outputs, name="logits")(x)
    return keras.Model(inputs, x, name=name)


def autoencoder(input_shape, outputs: int, width: float = 1.0, depth: int = 2, name="autoencoder"):
    """Dense autoencoder (as in MLPerf Tiny anomaly detection): encoder, a narrow bottleneck, a mirrored
    decoder. With data.task = "autoencoder", `outputs` is the flattened input size (it reconstructs its
    input); for a regression it is an encoder-decoder regressor with `outputs` values."""
    keras = _keras()
    layers = keras.layers
    inputs = layers.Input(shape=input_shape, name="input")
    x = layers.Flatten()(inputs)
    hidden = [_channels(64, width) for _ in range(depth)]
    for index, units in enumerate(hidden):
        x = layers.Dense(units, activation="relu", name=f"encode{index}")(x)
    x = layers.Dense(_channels(8, width), activation="relu", name="bottleneck")(x)
    for index, units in enumerate(reversed(hidden)):
        x = layers.Dense(units, activation="relu", name=f"decode{index}")(x)
    x = layers.Dense(outputs, name="reconstruction")(x)
    return keras.Model(inputs, x, name=name)


BUILDERS: dict[str, Callable] = {
    "tiny_cnn": tiny_cnn, "ds_cnn": ds_cnn, "mobilenet": mobilenet, "resnet": resnet, "mlp": mlp,
    "autoencoder": autoencoder,
}


def teacher_cnn(input_shape, outputs: int, name="teacher_cnn"):
    """A deliberately large CNN: the reference a student is distilled from."""
    keras = _keras()
    layers = keras.layers
    inputs, x = _image_input(layers, input_shape)
    for block, channels in enumerate((32, 64)):
        x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"conv{block}a")(x)
        x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"conv{block}b")(x)
        if _can_downsample(x):
            x = layers.MaxPooling2D(name=f"pool{block}")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(outputs, name="logits")(x)
    return keras.Model(inputs, x, name=name)


def build_student(architecture: str, input_shape, outputs: int, width: float, depth: int):
    if architecture not in BUILDERS:
        raise TinyedgeError(f"unknown student architecture '{architecture}'"
                            f"{did_you_mean(architecture, BUILDERS)}",
                            f"choose one of {', '.join(STUDENTS)} or give a path to a Keras model")
    return BUILDERS[architecture](tuple(input_shape), outputs, width=width, depth=depth,
                                  name=f"student_{architecture}")


def build_teacher(architecture: str, input_shape, outputs: int):
    input_shape = tuple(input_shape)
    if architecture == "cnn":
        return teacher_cnn(input_shape, outputs)
    if architecture == "resnet":
        return resnet(input_shape, outputs, width=2.0, depth=3, name="teacher_resnet")
    if architecture == "mlp":
        return mlp(input_shape, outputs, width=4.0, depth=3, name="teacher_mlp")
    if architecture == "autoencoder":
        return autoencoder(input_shape, outputs, width=4.0, depth=2, name="teacher_autoencoder")
    raise TinyedgeError(f"unknown teacher architecture '{architecture}'",
                        f"choose one of {', '.join(TEACHERS)}")
