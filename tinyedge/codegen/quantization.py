"""TFLM's quantization arithmetic, evaluated at generation time so the device never does it.

Every function mirrors the TFLM/TFLite routine named in its docstring, including the precision of
each intermediate (float32 where TFLM uses float, double where it uses double), because a single
differing rounding step makes the int8 outputs disagree.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def f32(value) -> float:
    """A float32 value, as a Python float (exactly representable in double)."""
    return float(np.float32(value))


def round_half_away(value: float) -> int:
    """std::round / TfLiteRound: to nearest, ties away from zero."""
    magnitude = abs(value)
    floor = math.floor(magnitude)
    rounded = floor + 1 if magnitude - floor >= 0.5 else floor
    return int(rounded if value >= 0 else -rounded)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real)
    fixed = round_half_away(fraction * (1 << 31))
    if fixed == 1 << 31:
        fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return fixed, shift


def frexp_multiplier(real: float) -> tuple[int, int]:
    """The logistic/tanh variant: frexp and round, without QuantizeMultiplier's renormalisation."""
    fraction, shift = math.frexp(real)
    return round_half_away(fraction * (1 << 31)), shift


def conv_multipliers(input_scale: float, filter_scales: np.ndarray, output_scale: float,
                     channels: int) -> tuple[list[int], list[int]]:
    """PopulateConvolutionQuantizationParams: one (multiplier, shift) per output channel; a
    per-tensor filter scale is broadcast to every channel."""
    multipliers, shifts = [], []
    for channel in range(channels):
        scale = filter_scales[channel] if filter_scales.size > 1 else filter_scales[0]
        effective = f32(input_scale) * f32(scale) / f32(output_scale)
        multiplier, shift = quantize_multiplier(effective)
        multipliers.append(multiplier)
        shifts.append(shift)
    return multipliers, shifts


def _quantize_float32(value: float, scale: float, zero_point: int) -> int:
    quotient = np.float32(value) / np.float32(scale)
    return zero_point + round_half_away(float(quotient))


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for an int8 output."""
    if activation in (None, "NONE"):
        return INT8_MIN, INT8_MAX
    if activation == "RELU":
        return max(INT8_MIN, _quantize_float32(0.0, scale, zero_point)), INT8_MAX
    if activation == "RELU6":
        return (max(INT8_MIN, _quantize_float32(0.0, scale, zero_point)),
                min(INT8_MAX, _quantize_float32(6.0, scale, zero_point)))
    if activation == "RELU_N1_TO_1":
        return (max(INT8_MIN, _quantize_float32(-1.0, scale, zero_point)),
                min(INT8_MAX, _quantize_float32(1.0, scale, zero_point)))
    from ..errors import TinyedgeError
    raise TinyedgeError(f"the native runtime has no fused {activation} activation for int8 kernels",
                        "use --runtime tflm for this model")


def input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius."""
    value = (1.0 * ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits))
             / (1 << left_shift))
    return int(math.floor(value))


def softmax_parameters(beta: float, input_scale: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling + diff_min for int8 softmax: (multiplier, left shift, diff_min)."""
    scaled_diff_integer_bits = 5
    real = min(f32(beta) * f32(input_scale) * (1 << (31 - scaled_diff_integer_bits)),
               (1 << 31) - 1.0)
    multiplier, shift = quantize_multiplier(real)
    diff_min = -input_radius(scaled_diff_integer_bits, shift)
    return multiplier, shift, diff_min


def sigmoid_parameters(input_scale: float) -> tuple[int, int, int]:
    """LOGISTIC / TANH int8 prepare: (multiplier, left shift, input range radius)."""
    input_integer_bits = 4
    real = f32(input_scale) * float(1 << (31 - input_integer_bits))
    multiplier, shift = frexp_multiplier(real)
    return multiplier, shift, input_radius(input_integer_bits, shift)


def add_parameters(scale1: float, scale2: float, output_scale: float) -> dict[str, int]:
    """CalculateOpDataAdd for int8 (left shift 20)."""
    left_shift = 20
    twice_max = 2 * f32(max(np.float32(scale1), np.float32(scale2)))
    m1, s1 = quantize_multiplier(f32(scale1) / twice_max)
    m2, s2 = quantize_multiplier(f32(scale2) / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << left_shift) * f32(output_scale)))
    return {"left_shift": left_shift, "input1_multiplier": m1, "input1_shift": s1,
            "input2_multiplier": m2, "input2_shift": s2, "output_multiplier": mo, "output_shift": so}


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """QuantizedMeanOrSum: the input/output rescale with 1/count folded in."""
    multiplier, shift = quantize_multiplier(f32(input_scale) / f32(output_scale))
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    multiplier = (multiplier << extra) // count
    return multiplier, shift - extra
