"""Figures of a Keras model for the stage table: parameters, MACs (same convention as
tinyedge inspect), and float32 weight bytes. Works for tf_keras and Keras 3 models."""

from __future__ import annotations

import numpy as np


def _shape(tensor) -> tuple:
    return tuple(int(d) if d is not None else 1 for d in tensor.shape)


def _layer_macs(layer) -> int:
    kind = type(layer).__name__
    inner = getattr(layer, "layer", None)  # tfmot wrappers keep the wrapped layer in .layer
    if inner is not None and kind.endswith(("Wrapper", "LowMagnitude", "ClusterWeights")):
        layer, kind = inner, type(inner).__name__
    if kind in ("Functional", "Sequential", "Model"):
        return macs(layer)
    try:
        out = _shape(layer.output)
    except (AttributeError, ValueError):
        return 0
    if kind == "Conv2D":
        k_h, k_w, filter_in, out_c = (int(d) for d in layer.kernel.shape)
        return out[1] * out[2] * out_c * k_h * k_w * filter_in
    if kind == "DepthwiseConv2D":
        k_h, k_w, _, _ = (int(d) for d in layer.depthwise_kernel.shape)
        return out[1] * out[2] * out[3] * k_h * k_w
    if kind == "Dense":
        depth, units = (int(d) for d in layer.kernel.shape)
        rows = int(np.prod(out[1:])) // units
        return rows * depth * units
    return 0


def macs(model) -> int:
    return sum(_layer_macs(layer) for layer in model.layers)


def params(model) -> int:
    return int(model.count_params())


def float_bytes(model) -> int:
    """Bytes of the weights stored as float32 (what a float model would carry)."""
    return 4 * params(model)
