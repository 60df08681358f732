"""Real values to a model's int8 input and its int8 output back to real values: the one definition.

It is the firmware's arithmetic, `tinyedge_quantize` and `tinyedge_dequantize` in
firmware/native/tinyedge_api.h (which tinyedge.h's and every model header's helpers call), step for
step in float32: value / scale, rounded half away from
zero by adding or subtracting 0.5 and truncating, plus the zero point, saturated to int8; NaN gives
the zero point (the real value 0). So what the host sends the device, what the build's TFLM stage
scores and what a firmware quantizes on the board are the same bytes
(tests/test_int8_io.py compiles the rendered header with the host compiler and compares).
"""

from __future__ import annotations

import numpy as np

from .errors import TinyedgeError

# |rounded| is clamped here before the conversion to an integer: int8's range plus any zero point
# still saturates, and the C conversion of a float outside int32's range is undefined.
_CLAMP = 256.0


def quantize(values, scale: float, zero_point: int) -> np.ndarray:
    """Real values (any shape) as int8 with the input's scale and zero point, as the firmware does."""
    if not scale > 0:
        raise TinyedgeError(f"the model's input scale is {scale}, not a positive number",
                            "quantize the model with int8 input ('tinyedge build' does)")
    with np.errstate(over="ignore", invalid="ignore"):   # inf and NaN are handled as the C does
        scaled = np.asarray(values, dtype=np.float32) / np.float32(scale)
        half = np.where(scaled >= 0, np.float32(0.5), np.float32(-0.5)).astype(np.float32)
        rounded = np.clip(scaled + half, np.float32(-_CLAMP), np.float32(_CLAMP))
    whole = np.trunc(np.nan_to_num(rounded, nan=0.0)).astype(np.int32) + np.int32(zero_point)
    return np.clip(whole, -128, 127).astype(np.int8)


def dequantize(values, scale: float, zero_point: int) -> np.ndarray:
    """int8 outputs as float32 real values: (q - zero point) * scale, in float32 as the firmware does."""
    offset = np.asarray(values).astype(np.int32) - np.int32(zero_point)
    return offset.astype(np.float32) * np.float32(scale)
