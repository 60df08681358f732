"""The fast kernels' side of code generation: which layers they take, and the weights rearranged for
them at generation time so the device never does it.

Everything here is integer arithmetic that keeps TFLM's result exact:
- bias folding: sum(w * (x - zp)) + b == sum(w * x) + (b - zp * sum(w)), so the inner loops multiply
  raw int8 values and padding reads as zp;
- the accumulator bound: a layer goes to a fast kernel only when no possible input overflows its
  int32 sums or te_requantize_small's rounding (checked per channel from the weights and bias);
- layouts: weight rows zero-padded to a multiple of 4 bytes and interleaved by 4-byte chunks in the
  order the kernels load them; depthwise weights widened to the int16 pairs SMLABB/SMLATT take.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import ops
from . import params as p
from .ir import NULL, SCRATCH, ArrayArg, Kernel, Step, TensorArg
from .params import INT32, REQUANT, UINT32, ConstArray

INT32_LIMIT = 1 << 31

FAST_CONV = Kernel("te_conv_fast_s8", "te_conv_fast.c", p.FastConvParams, in_place="pixel_pairs")
PACKED_CONV = Kernel("te_conv_packed_s8", "te_conv_fast.c", p.FastConvParams, in_place="pixel_pairs")
CONVOLUTIONS = (FAST_CONV, PACKED_CONV)   # the same arguments, params and residual fusion
FAST_DEPTHWISE3X3 = Kernel("te_depthwise3x3_fast_s8", "te_depthwise_fast.c", p.Depthwise3x3Params)
FAST_FULLY_CONNECTED = Kernel("te_fully_connected_fast_s8", "te_fully_connected_fast.c",
                              p.FastFullyConnectedParams)
PACKED_FULLY_CONNECTED = Kernel("te_fully_connected_packed_s8", "te_fully_connected_fast.c",
                                p.FastFullyConnectedParams)


def folded_bias(weights: np.ndarray, bias: np.ndarray | None, input_zero_point: int) -> np.ndarray:
    """bias - zp * sum(w) per output channel; `weights` is [channels, taps]."""
    sums = weights.astype(np.int64).sum(axis=1)
    base = np.zeros(weights.shape[0], np.int64) if bias is None else bias.astype(np.int64).reshape(-1)
    return base - int(input_zero_point) * sums


def accumulators_small(weights: np.ndarray, bias: np.ndarray, multipliers: list[int], shifts: list[int]) -> bool:
    """True when, for every int8 input, the accumulator (folded bias + sum(w * x)) fits in int32 and
    te_requantize_small is exact: its left shift wraps as TFLM's does and needs no bound; its rounding
    right shift adds 2^(r-1) to the high product, which must not overflow."""
    bound = np.abs(bias.astype(np.int64)) + 128 * np.abs(weights.astype(np.int64)).sum(axis=1)
    for limit, multiplier, shift in zip(bound.tolist(), multipliers, shifts):
        if limit >= INT32_LIMIT:
            return False
        high = (limit * int(multiplier) + (1 << 30)) // (1 << 31) + 1
        if shift < 0 and high + (1 << (-int(shift) - 1)) >= INT32_LIMIT:
            return False
    return True


def tflm_srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul on Python ints (int32 operands)."""
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    product = a * b
    nudge = (1 << 30) if product >= 0 else 1 - (1 << 30)
    total = product + nudge
    return -((-total) >> 31) if total < 0 else total >> 31   # division truncating toward zero


def tflm_rounding_shift(x: int, exponent: int) -> int:
    """RoundingDivideByPOT (ties away from zero)."""
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def tflm_requantize(acc: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier with TFLM's int32 wrap on the left shift."""
    shifted = (acc << max(shift, 0)) & 0xFFFFFFFF
    shifted -= (1 << 32) if shifted >= 1 << 31 else 0
    return tflm_rounding_shift(tflm_srdhm(shifted, multiplier), max(-shift, 0))


def requant_entry(bound: int, multiplier: int, shift: int, offset: int) -> tuple[int, int, int, int] | None:
    """The te_requant entry (multiplier, left shift, addend, right shift) that computes TFLM's
    requantization + offset exactly for every accumulator with |acc| <= bound, or None when this
    form cannot: it needs a right shift (TFLM shift < 0), acc << (left + 1) within int32 (so SMMULR
    of it is TFLM's doubling high multiply) and no overflow adding the addend and the sign term."""
    left, right = max(shift, 0) + 1, max(-shift, 0)
    if right < 1 or not 0 < multiplier < INT32_LIMIT or bound << left >= INT32_LIMIT:
        return None
    addend = (1 << (right - 1)) + (offset << right)
    high = (bound * (1 << (left - 1)) * multiplier + (1 << 30)) // (1 << 31) + 1
    if high + abs(addend) + 1 >= INT32_LIMIT:
        return None
    return multiplier, left, addend, right


def requant_table(weights: np.ndarray, bias: np.ndarray, multipliers: list[int], shifts: list[int],
                  offset: int, low: int, high: int) -> tuple[list[tuple[int, int, int, int]], np.ndarray] | None:
    """te_requant entries for every output channel of a layer with `weights` [channels, taps] and the
    folded `bias`, and the bias to use with them; None when a channel cannot take this form. A
    channel whose output cannot depend on its input (all weights zero, or multiplier 0) gets its
    constant output computed here: bias 0, multiplier 0 and an addend that yields it."""
    entries = []
    new_bias = bias.astype(np.int64).copy()
    bound = np.abs(new_bias) + 128 * np.abs(weights.astype(np.int64)).sum(axis=1)
    for channel, (multiplier, shift) in enumerate(zip(multipliers, shifts)):
        if multiplier == 0 or not weights[channel].any():
            value = min(max(tflm_requantize(int(new_bias[channel]), int(multiplier), int(shift)) + offset, low), high)
            entries.append((0, 1, value << 1, 1))
            new_bias[channel] = 0
            continue
        if int(bound[channel]) >= INT32_LIMIT:
            return None
        entry = requant_entry(int(bound[channel]), int(multiplier), int(shift), offset)
        if entry is None:
            return None
        entries.append(entry)
    return entries, new_bias


def pair_words(rows: np.ndarray, chunked: bool) -> np.ndarray:
    """int8 rows [n, length % 4 == 0] -> uint32 words of int16 pairs [n, length / 2] in the order the
    kernels widen inputs: (0, 2), (1, 3) per 4 values when `chunked` (SXTB16), else natural order."""
    n, length = rows.shape
    values = rows.astype(np.int64).reshape(n, length // 4, 4)
    order = [0, 2, 1, 3] if chunked else [0, 1, 2, 3]
    values = values[:, :, order].reshape(n, length // 2, 2) & 0xFFFF
    return (values[:, :, 0] | (values[:, :, 1] << 16)).astype(np.uint32)


def packed_pair_words(rows: np.ndarray, chunked: bool) -> np.ndarray:
    """int8 rows [n, length % 4 == 0] -> uint32 words [n, length / 4] of four int8 that SXTB16 widens
    into two of pair_words' pairs: bytes 0 and 2 the first, bytes 1 and 3 the second (the value order
    (0, 1, 2, 3) when `chunked`, whose pairs are (0, 2), (1, 3); else (0, 2, 1, 3))."""
    n, length = rows.shape
    order = [0, 1, 2, 3] if chunked else [0, 2, 1, 3]
    values = rows.astype(np.uint8).reshape(n, length // 4, 4)[:, :, order].astype(np.uint32)
    return (values[:, :, 0] | (values[:, :, 1] << 8) | (values[:, :, 2] << 16) | (values[:, :, 3] << 24))


def channel_pair_layout(words: np.ndarray) -> np.ndarray:
    """[channels, pairs] words -> per channel pair, word j of each channel in turn; an odd last
    channel stays a plain row."""
    channels, pairs = words.shape
    full = channels // 2 * 2
    head = words[:full].reshape(channels // 2, 2, pairs).transpose(0, 2, 1).reshape(-1)
    return np.concatenate([head, words[full:].reshape(-1)]).astype(np.uint32)


def padded_rows(weights: np.ndarray) -> np.ndarray:
    """[channels, taps] -> [channels, taps rounded up to 4], zero-padded."""
    channels, taps = weights.shape
    length = (taps + 3) // 4 * 4
    rows = np.zeros((channels, length), np.int8)
    rows[:, :taps] = weights
    return rows


def interleaved(rows: np.ndarray, group: int) -> np.ndarray:
    """Rows in groups of `group`, each group's rows interleaved by 4-byte chunks; the rows after the
    last full group stay plain. Returns the flat int8 layout."""
    channels, length = rows.shape
    full = channels // group * group
    head = rows[:full].reshape(channels // group, group, length // 4, 4).transpose(0, 2, 1, 3)
    return np.concatenate([head.reshape(-1), rows[full:].reshape(-1)]).astype(np.int8)


def packed_row_words(rows: np.ndarray) -> np.ndarray:
    """int8 rows [n, depth % 4 == 0] -> uint32 words of four int8 (the first the low byte): per group
    of four rows, per 4 values of depth, each row's word in turn; the rows after the last full group
    stay plain (te_fully_connected_packed_s8)."""
    n, depth = rows.shape
    words = rows.astype(np.uint8).reshape(n, depth // 4, 4).astype(np.uint32)
    words = words[:, :, 0] | (words[:, :, 1] << 8) | (words[:, :, 2] << 16) | (words[:, :, 3] << 24)
    full = n // 4 * 4
    head = words[:full].reshape(n // 4, 4, depth // 4).transpose(0, 2, 1).reshape(-1)
    return np.concatenate([head, words[full:].reshape(-1)]).astype(np.uint32)


def depthwise_pairs(weights: np.ndarray) -> np.ndarray:
    """[9 taps, channels] int8 (channels a multiple of 4) -> uint32 words: per group of 4 channels, per
    tap, (c0, c2) then (c1, c3) as int16 pairs (low half first)."""
    taps, channels = weights.shape
    halves = weights.astype(np.int64) & 0xFFFF
    words = []
    for group in range(channels // 4):
        c = 4 * group
        for tap in range(taps):
            words.append(int(halves[tap, c] | (halves[tap, c + 2] << 16)))
            words.append(int(halves[tap, c + 1] | (halves[tap, c + 3] << 16)))
    return np.array(words, np.uint32)


def _bias_data(step: Step, tensors) -> np.ndarray | None:
    bias = step.op.inputs[2] if len(step.op.inputs) > 2 and step.op.inputs[2] >= 0 else None
    return None if bias is None else np.asarray(tensors[bias].data)


def _per_channel(array: ConstArray) -> list[int]:
    return array.values[:, 0].tolist()


def _weights_array(name: str, ctype, values) -> ConstArray:
    """Rearranged weights, folded biases and requantization tables count as the model's weights."""
    return ConstArray(name, ctype, np.asarray(values, dtype=np.int64), weights=True)


def _fast_conv(step: Step, ctx: ops.LoweringContext) -> Step | None:
    """CONV_2D on te_conv_fast_s8, or None when the layer does not fit it (batch > 1, dilation,
    grouped, or a requantization te_requant cannot reproduce exactly)."""
    op, conv = step.op, step.params
    flt = ctx.tensors[op.inputs[1]]
    if conv.batches != 1 or conv.dilation_height != 1 or conv.dilation_width != 1 \
            or conv.filter_input_depth != conv.input_depth or flt.data is None:
        return None
    multipliers, shifts = _per_channel(conv.multipliers), _per_channel(conv.shifts)
    weights = np.asarray(flt.data).reshape(conv.output_depth, -1)
    in_zp = -conv.input_offset
    bias = folded_bias(weights, _bias_data(step, ctx.tensors), in_zp)
    table = requant_table(weights, bias, multipliers, shifts, conv.output_offset,
                          conv.activation_min, conv.activation_max)
    if table is None:
        return None
    entries, bias = table
    rows = padded_rows(weights)
    chunked = conv.input_depth % 4 == 0
    if ctx.optimize == "size":
        layout, kernel = channel_pair_layout(packed_pair_words(rows, chunked)), PACKED_CONV
    else:
        layout, kernel = channel_pair_layout(pair_words(rows, chunked)), FAST_CONV
    filter_array = _weights_array(ctx.name(op, "fast_filter"), UINT32, layout)
    params = p.FastConvParams(
        input_height=conv.input_height, input_width=conv.input_width, input_depth=conv.input_depth,
        output_height=conv.output_height, output_width=conv.output_width, output_depth=conv.output_depth,
        filter_height=conv.filter_height, filter_width=conv.filter_width,
        stride_height=conv.stride_height, stride_width=conv.stride_width,
        pad_height=conv.pad_height, pad_width=conv.pad_width,
        row_pairs=rows.shape[1] // 2, chunked=int(chunked), input_zero_point=in_zp,
        activation_min=conv.activation_min, activation_max=conv.activation_max,
        bias=_weights_array(ctx.name(op, "fast_bias"), INT32, bias),
        requant=_weights_array(ctx.name(op, "requant"), REQUANT, entries),
        conv_table=None, residual_table=None, add_requant=(0, 1, 0, 1), add_min=-128, add_max=127)
    fast = Step(op, kernel, step.name, params,
                [TensorArg(op.inputs[0]), ArrayArg(filter_array), SCRATCH, NULL, TensorArg(op.outputs[0])],
                [op.inputs[0]], [op.outputs[0]], scratch_bytes=5 * rows.shape[1])
    pointwise = (conv.filter_height == conv.filter_width == 1 and conv.stride_height == 1
                 and conv.stride_width == 1 and conv.pad_height == 0 and conv.pad_width == 0)
    if pointwise:
        fast.in_place = [(op.inputs[0], op.outputs[0])]
    return fast


def _fast_depthwise(step: Step, ctx: ops.LoweringContext) -> Step | None:
    """DEPTHWISE_CONV_2D 3x3, multiplier 1, depth a multiple of 4 on te_depthwise3x3_fast_s8."""
    op, conv = step.op, step.params
    flt = ctx.tensors[op.inputs[1]]
    depth = conv.input_depth
    if conv.batches != 1 or conv.dilation_height != 1 or conv.dilation_width != 1 \
            or conv.depth_multiplier != 1 or conv.filter_height != 3 or conv.filter_width != 3 \
            or depth % 4 or flt.data is None:
        return None
    taps = np.asarray(flt.data).reshape(9, depth)
    in_zp = -conv.input_offset
    bias = folded_bias(taps.T, _bias_data(step, ctx.tensors), in_zp)
    table = requant_table(taps.T, bias, _per_channel(conv.multipliers), _per_channel(conv.shifts),
                          conv.output_offset, conv.activation_min, conv.activation_max)
    if table is None:
        return None
    entries, bias = table
    filter_array = _weights_array(ctx.name(op, "fast_filter"), UINT32, depthwise_pairs(taps))
    params = p.Depthwise3x3Params(
        input_height=conv.input_height, input_width=conv.input_width, depth=depth,
        output_height=conv.output_height, output_width=conv.output_width,
        stride_height=conv.stride_height, stride_width=conv.stride_width,
        pad_height=conv.pad_height, pad_width=conv.pad_width, input_zero_point=in_zp,
        activation_min=conv.activation_min, activation_max=conv.activation_max,
        full_range=int(conv.activation_min == -128 and conv.activation_max == 127),
        bias=_weights_array(ctx.name(op, "fast_bias"), INT32, bias),
        requant=_weights_array(ctx.name(op, "requant"), REQUANT, entries))
    return Step(op, FAST_DEPTHWISE3X3, step.name, params,
                [TensorArg(op.inputs[0]), ArrayArg(filter_array), TensorArg(op.outputs[0])],
                [op.inputs[0]], [op.outputs[0]])


def _fast_fully_connected(step: Step, ctx: ops.LoweringContext) -> Step | None:
    """FULLY_CONNECTED with a symmetric filter and a depth that is a multiple of 4."""
    op, fc = step.op, step.params
    flt = ctx.tensors[op.inputs[1]]
    if fc.filter_offset != 0 or fc.accum_depth % 4 or flt.data is None:
        return None
    multipliers, shifts = _per_channel(fc.multipliers), _per_channel(fc.shifts)
    weights = np.asarray(flt.data).reshape(fc.output_depth, fc.accum_depth)
    in_zp = -fc.input_offset
    bias = folded_bias(weights, _bias_data(step, ctx.tensors), in_zp)
    if not accumulators_small(weights, bias, multipliers, shifts):
        return None
    table = requant_table(weights, bias, multipliers, shifts, fc.output_offset,
                          fc.activation_min, fc.activation_max)
    if table is None:
        return None
    entries, bias = table
    if ctx.optimize == "size":
        layout, kernel = packed_row_words(weights.astype(np.int8)), PACKED_FULLY_CONNECTED
    else:
        words = pair_words(weights.astype(np.int8), chunked=True)          # [rows, depth / 2]
        rows, pairs = words.shape
        full = rows // 4 * 4
        head = words[:full].reshape(rows // 4, 4, pairs // 2, 2).transpose(0, 2, 1, 3).reshape(-1)
        layout, kernel = np.concatenate([head, words[full:].reshape(-1)]).astype(np.uint32), FAST_FULLY_CONNECTED
    filter_array = _weights_array(ctx.name(op, "fast_filter"), UINT32, layout)
    shared = len(set(entries)) == 1   # per-tensor quantization: one entry serves every channel
    params = p.FastFullyConnectedParams(
        batches=fc.batches, accum_depth=fc.accum_depth, output_depth=fc.output_depth,
        activation_min=fc.activation_min, activation_max=fc.activation_max,
        bias=_weights_array(ctx.name(op, "fast_bias"), INT32, bias),
        requant=_weights_array(ctx.name(op, "requant"), REQUANT, entries[:1] if shared else entries),
        requant_step=0 if shared else 1)
    return Step(op, kernel, step.name, params,
                [TensorArg(op.inputs[0]), ArrayArg(filter_array), TensorArg(op.outputs[0])],
                [op.inputs[0]], [op.outputs[0]])


_FAST = {ops.CONV: _fast_conv, ops.DEPTHWISE_CONV: _fast_depthwise, ops.FULLY_CONNECTED: _fast_fully_connected}


def select_fast_kernels(steps: list[Step], ctx: ops.LoweringContext) -> list[Step]:
    """The pass that moves each reference convolution or fully connected step that a fast kernel
    computes exactly onto it (a step that computes several ops, such as a folded dilation, stays)."""
    selected = []
    for step in steps:
        fast = None
        if step.kernel in _FAST and step.reads[0] == step.op.inputs[0] and step.writes[0] == step.op.outputs[0]:
            fast = _FAST[step.kernel](step, ctx)
        selected.append(fast or step)
    return selected


def residual_add_tables(conv: Step, add: p.BinaryParams, conv_is_first: bool) -> p.FastConvParams | None:
    """The parameters of fast convolution `conv` computing a following int8 ADD (`add`) from its
    output and a residual: each operand's rescaled value, (x + offset) << 20 through its multiplier,
    depends on its int8 code alone, so it is a 256-entry table; the sum is requantized by a te_requant
    entry. None when the output stage cannot take that form."""
    def table(offset: int, multiplier: int, shift: int) -> list[int]:
        return [tflm_rounding_shift(tflm_srdhm((code + offset) << add.left_shift, multiplier), -shift)
                for code in range(-128, 128)]
    first = table(add.input1_offset, add.input1_multiplier, add.input1_shift)
    second = table(add.input2_offset, add.input2_multiplier, add.input2_shift)
    if add.input1_shift > 0 or add.input2_shift > 0:
        return None
    bound = max(abs(v) for v in first) + max(abs(v) for v in second)
    entry = requant_entry(bound, add.output_multiplier, add.output_shift, add.output_offset)
    if entry is None:
        return None
    conv_values, residual_values = (first, second) if conv_is_first else (second, first)
    prefix = conv.name + "_add"
    return dataclasses.replace(
        conv.params, conv_table=_weights_array(f"{prefix}_conv_table", INT32, conv_values),
        residual_table=_weights_array(f"{prefix}_residual_table", INT32, residual_values),
        add_requant=entry, add_min=add.activation_min, add_max=add.activation_max)
