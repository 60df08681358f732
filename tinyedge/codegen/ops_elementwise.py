"""Lowerings of the element-wise activations and binary ops, L2_NORMALIZATION, LOG_SOFTMAX and
ARG_MAX/ARG_MIN (kernels in firmware/native/te_elementwise.c, te_elementwise2.c and, beside SOFTMAX,
te_activations.c).

Each parameter is computed as TFLM's prepare step computes it, float32 where TFLM uses float and
double where it uses double (named at each), because one differing rounding changes the int8 result.
"""

from __future__ import annotations

import numpy as np

from ..errors import TinyedgeError
from ..tflite.model import Operator
from . import params as p
from . import quantization as q
from .ir import Kernel, Step, TensorArg
from .ops import (NO_RESCALE, LoweringContext, _binary_step, _constant_ints, _fused_activation, _quant,
                  _three_quants, _unary)

SUB = Kernel("te_sub_s8", "te_elementwise.c", p.BinaryParams)
SQUARED_DIFFERENCE = Kernel("te_squared_difference_s8", "te_elementwise.c", p.BinaryParams)
MAXIMUM = Kernel("te_maximum_s8", "te_elementwise.c", p.BinaryParams)
MINIMUM = Kernel("te_minimum_s8", "te_elementwise.c", p.BinaryParams)
PRELU = Kernel("te_prelu_s8", "te_elementwise.c", p.BinaryParams)
HARD_SWISH = Kernel("te_hard_swish_s8", "te_elementwise2.c", p.HardSwishParams)
LEAKY_RELU = Kernel("te_leaky_relu_s8", "te_elementwise2.c", p.LeakyReluParams)
RSQRT = Kernel("te_rsqrt_s8", "te_elementwise2.c", p.RsqrtParams)
L2_NORMALIZATION = Kernel("te_l2_normalization_s8", "te_elementwise2.c", p.L2NormParams)
LOG_SOFTMAX = Kernel("te_log_softmax_s8", "te_activations.c", p.LogSoftmaxParams)
ARG_MAX = Kernel("te_arg_max_s8", "te_elementwise2.c", p.ArgParams)
ARG_MIN = Kernel("te_arg_min_s8", "te_elementwise2.c", p.ArgParams)

_FULL_RANGE = {"activation_min": q.INT8_MIN, "activation_max": q.INT8_MAX}


def _f32(value) -> np.float32:
    return np.float32(value)


def _rescale(left_shift: int, input1: tuple[int, int], input2: tuple[int, int], output: tuple[int, int]) -> dict:
    """te_binary_params' rescale members: the left shift and each (multiplier, shift)."""
    return {"left_shift": left_shift, "input1_multiplier": input1[0], "input1_shift": input1[1],
            "input2_multiplier": input2[0], "input2_shift": input2[1], "output_multiplier": output[0],
            "output_shift": output[1]}


def _unary_quants(op: Operator, ctx: LoweringContext):
    """The input and output tensors with their (scale, zero point), the input's checked first."""
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    return inp, out, _quant(inp), _quant(out)


def _require_output_quant(op: Operator, out_scale: float, out_zp: int, scale: float, scale_text: str,
                          zero_point: int) -> None:
    """The fixed output quantization TFLM requires of the op (compared in float32)."""
    if _f32(out_scale) != _f32(scale) or out_zp != zero_point:
        raise TinyedgeError(f"operator {op.index} ({op.opcode}) output is not quantized with scale {scale_text} "
                            f"and zero point {zero_point}", "TFLM requires that too; export the model again")


def _rows(tensor) -> tuple[int, int]:
    """(outer size, depth): the tensor as rows along its last axis."""
    depth = tensor.shape[-1] if tensor.shape else 1
    return tensor.num_elements // max(depth, 1), depth


def lower_sub(op: Operator, ctx: LoweringContext) -> Step:
    """CalculateOpDataSub: ADD's shape (left shift 20), but every ratio in float32 where ADD's are
    double."""
    (a_scale, a_zp), (b_scale, b_zp), (out_scale, out_zp) = _three_quants(op, ctx)
    activation = _fused_activation(op, out_scale, out_zp)
    left_shift = 20
    twice_max = _f32(2) * max(_f32(a_scale), _f32(b_scale))
    rescale = _rescale(left_shift, q.quantize_multiplier(float(_f32(a_scale) / twice_max)),
                       q.quantize_multiplier(float(_f32(b_scale) / twice_max)),
                       q.quantize_multiplier(float(twice_max / (_f32(1 << left_shift) * _f32(out_scale)))))
    return _binary_step(op, ctx, SUB, rescale, activation, (-a_zp, -b_zp, out_zp))


def lower_squared_difference(op: Operator, ctx: LoweringContext) -> Step:
    """squared_difference.cc PrepareQuantized, int8: left shift 7, the ratios in double."""
    (a_scale, a_zp), (b_scale, b_zp), (out_scale, out_zp) = _three_quants(op, ctx)
    left_shift = 7
    twice_max = 2.0 * float(max(_f32(a_scale), _f32(b_scale)))
    # (1 << 14) * output scale is a float product in TFLM
    rescale = _rescale(left_shift, q.quantize_multiplier(float(_f32(a_scale)) / twice_max),
                       q.quantize_multiplier(float(_f32(b_scale)) / twice_max),
                       q.quantize_multiplier(twice_max * twice_max
                                             / float(_f32(1 << (2 * left_shift)) * _f32(out_scale))))
    return _binary_step(op, ctx, SQUARED_DIFFERENCE, rescale, _FULL_RANGE, (-a_zp, -b_zp, out_zp))


def _maximum_minimum(op: Operator, ctx: LoweringContext, kernel: Kernel) -> Step:
    # TFLM compares the stored int8 values whatever the quantization; so does the kernel.
    return _binary_step(op, ctx, kernel, NO_RESCALE, _FULL_RANGE, (0, 0, 0))


def lower_maximum(op: Operator, ctx: LoweringContext) -> Step:
    return _maximum_minimum(op, ctx, MAXIMUM)


def lower_minimum(op: Operator, ctx: LoweringContext) -> Step:
    return _maximum_minimum(op, ctx, MINIMUM)


def lower_prelu(op: Operator, ctx: LoweringContext) -> Step:
    """CalculatePreluParams: both rescales in double."""
    alpha = ctx.tensors[op.inputs[1]]
    if alpha.quantization is not None and alpha.quantization.scale.size > 1:
        raise TinyedgeError(f"operator {op.index} (PRELU) has a per-channel quantized alpha; TFLM reads "
                            f"one scale", "use --runtime tflm for this model")
    (in_scale, in_zp), (alpha_scale, alpha_zp), (out_scale, out_zp) = _three_quants(op, ctx)
    m1, s1 = q.quantize_multiplier(float(_f32(in_scale)) / float(_f32(out_scale)))
    m2, s2 = q.quantize_multiplier(float(_f32(in_scale)) * float(_f32(alpha_scale)) / float(_f32(out_scale)))
    rescale = dict(NO_RESCALE, input1_multiplier=m1, input1_shift=s1, output_multiplier=m2, output_shift=s2)
    step = _binary_step(op, ctx, PRELU, rescale, _FULL_RANGE, (-in_zp, -alpha_zp, out_zp))
    step.in_place = [pair for pair in step.in_place if pair[0] == op.inputs[0]]
    return step


def _downscale_to_int16(multiplier: int) -> int:
    """DownScaleInt32ToInt16Multiplier."""
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1
    return (multiplier + (1 << 15)) >> 16


def lower_hard_swish(op: Operator, ctx: LoweringContext) -> Step:
    """HardSwishPrepare: the scales in float32, the multipliers quantized to 16 bits."""
    inp, out, (in_scale, in_zp), (out_scale, out_zp) = _unary_quants(op, ctx)
    hires_scale = _f32(1.0 / 128.0) * _f32(in_scale)
    reluish_scale = _f32(3.0) / _f32(32768.0)
    output_multiplier, output_exponent = q.quantize_multiplier(float(hires_scale / _f32(out_scale)))
    if output_exponent > 0:
        raise TinyedgeError(f"operator {op.index} (HARD_SWISH) output scale is less than 1/128 of its input "
                            f"scale", "TFLM refuses that too; export the model again")
    reluish_multiplier, reluish_exponent = q.quantize_multiplier(float(hires_scale / reluish_scale))
    return _unary(op, ctx, HARD_SWISH, p.HardSwishParams(
        size=out.num_elements, input_zero_point=in_zp, output_zero_point=out_zp,
        reluish_multiplier=_downscale_to_int16(reluish_multiplier), reluish_exponent=reluish_exponent,
        output_multiplier=_downscale_to_int16(output_multiplier), output_exponent=output_exponent))


def lower_leaky_relu(op: Operator, ctx: LoweringContext) -> Step:
    """CalculateOpDataLeakyRelu: input scale * alpha / output scale in float32."""
    inp, out, (in_scale, in_zp), (out_scale, out_zp) = _unary_quants(op, ctx)
    alpha = _f32(op.options.get("alpha", 0.2))
    if alpha < 0:
        raise TinyedgeError(f"operator {op.index} (LEAKY_RELU) has a negative alpha ({float(alpha):g}); the "
                            f"native runtime takes alpha >= 0", "use --runtime tflm for this model")
    alpha_multiplier, alpha_shift = q.quantize_multiplier(float(_f32(in_scale) * alpha / _f32(out_scale)))
    identity_multiplier, identity_shift = q.quantize_multiplier(float(_f32(in_scale) / _f32(out_scale)))
    return _unary(op, ctx, LEAKY_RELU, p.LeakyReluParams(
        size=out.num_elements, input_zero_point=in_zp, output_zero_point=out_zp,
        identity_multiplier=identity_multiplier, identity_shift=identity_shift,
        alpha_multiplier=alpha_multiplier, alpha_shift=alpha_shift))


def lower_rsqrt(op: Operator, ctx: LoweringContext) -> Step:
    """SetRsqrtOutputMultiplier: 1 / (sqrt(input scale) * output scale), the product in float32."""
    inp, out, (in_scale, in_zp), (out_scale, out_zp) = _unary_quants(op, ctx)
    multiplier, shift = q.quantize_multiplier(1.0 / float(np.sqrt(_f32(in_scale)) * _f32(out_scale)))
    return _unary(op, ctx, RSQRT, p.RsqrtParams(size=out.num_elements, input_zero_point=in_zp,
                                                output_zero_point=out_zp, multiplier=multiplier, shift=shift))


def lower_l2_normalization(op: Operator, ctx: LoweringContext) -> Step:
    inp, _, (_, in_zp), (out_scale, out_zp) = _unary_quants(op, ctx)
    _require_output_quant(op, out_scale, out_zp, 1.0 / 128, "1/128", 0)
    outer_size, depth = _rows(inp)
    return _unary(op, ctx, L2_NORMALIZATION, p.L2NormParams(outer_size=outer_size, depth=depth,
                                                            input_zero_point=in_zp))


def _arg_extreme(op: Operator, ctx: LoweringContext, kernel: Kernel) -> Step:
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    rank = len(inp.shape)
    axis = int(_constant_ints(op, ctx, 1, "axis").reshape(-1)[0])
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank or inp.shape[axis] == 0:
        raise TinyedgeError(f"operator {op.index} ({op.opcode}) reduces axis {axis} of a {rank}-D input",
                            "the model file is corrupt; export it again")
    params = p.ArgParams(outer_size=int(np.prod(inp.shape[:axis], dtype=np.int64)), axis_size=inp.shape[axis],
                         inner_size=int(np.prod(inp.shape[axis + 1:], dtype=np.int64)),
                         int64_output=int(out.dtype == "int64"))
    return Step(op, kernel, ctx.name(op, "params"), params, [TensorArg(op.inputs[0]), TensorArg(op.outputs[0])],
                [op.inputs[0]], [op.outputs[0]])


def lower_arg_max(op: Operator, ctx: LoweringContext) -> Step:
    return _arg_extreme(op, ctx, ARG_MAX)


def lower_arg_min(op: Operator, ctx: LoweringContext) -> Step:
    return _arg_extreme(op, ctx, ARG_MIN)


def lower_log_softmax(op: Operator, ctx: LoweringContext) -> Step:
    """LOG_SOFTMAX's CalculateOpData: SOFTMAX's input scaling (beta 1) and its reverse, in double."""
    inp, _, (in_scale, _), (out_scale, out_zp) = _unary_quants(op, ctx)
    _require_output_quant(op, out_scale, out_zp, 16.0 / 256, "16/256", 127)
    multiplier, left_shift, diff_min = q.softmax_parameters(1.0, in_scale)
    reverse_multiplier, reverse_shift = q.quantize_multiplier((1 << (31 - left_shift)) / float(multiplier))
    outer_size, depth = _rows(inp)
    return _unary(op, ctx, LOG_SOFTMAX, p.LogSoftmaxParams(
        outer_size=outer_size, depth=depth, input_multiplier=multiplier,
        input_left_shift=left_shift, reverse_multiplier=reverse_multiplier, reverse_shift=reverse_shift,
        diff_min=diff_min))
