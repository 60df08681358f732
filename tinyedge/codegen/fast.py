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

from dataclasses import dataclass, field

import numpy as np

from .ops import Step, c_int_array, c_struct, ref

INT32_LIMIT = 1 << 31
SCRATCH = "@S@"   # stands for the step's scratch buffer in a call (the emitter resolves it)


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


def requant_array(name: str, entries: list[tuple[int, int, int, int]]) -> str:
    rows = ",\n    ".join("{" + ", ".join(str(v) for v in entry) + "}" for entry in entries)
    return f"static const te_requant {name}[{len(entries)}] = {{\n    {rows}\n}};"


def pair_words(rows: np.ndarray, chunked: bool) -> np.ndarray:
    """int8 rows [n, length % 4 == 0] -> uint32 words of int16 pairs [n, length / 2] in the order the
    kernels widen inputs: (0, 2), (1, 3) per 4 values when `chunked` (SXTB16), else natural order."""
    n, length = rows.shape
    values = rows.astype(np.int64).reshape(n, length // 4, 4)
    order = [0, 2, 1, 3] if chunked else [0, 1, 2, 3]
    values = values[:, :, order].reshape(n, length // 2, 2) & 0xFFFF
    return (values[:, :, 0] | (values[:, :, 1] << 16)).astype(np.uint32)


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


@dataclass
class FastConv:
    """What a fast CONV_2D step needs to render its C, kept so a following ADD can be fused in."""
    params: str
    fields: dict
    filter_name: str
    input: int
    output: int
    residual: int | None = None
    add_fields: dict = field(default_factory=dict)   # conv_table, residual_table, add_requant, add_min/max
    arrays: list[str] = field(default_factory=list)

    def render(self, step: Step) -> None:
        fields = dict(self.fields)
        fields.update(self.add_fields or {"conv_table": "NULL", "residual_table": "NULL",
                                          "add_requant": [0, 1, 0, 1], "add_min": -128, "add_max": 127})
        step.declarations = self.arrays + [c_struct("te_fast_conv_params", self.params, fields)]
        residual = ref(self.residual) if self.residual is not None else "NULL"
        step.call = (f"te_conv_fast_s8(&{self.params}, {ref(self.input)}, {self.filter_name}, {SCRATCH}, "
                     f"{residual}, {ref(self.output)});")


def int_array(name: str, ctype: str, values) -> str:
    return c_int_array(name, ctype, values)


def _bias_data(op, ctx) -> np.ndarray | None:
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return np.asarray(ctx.tensors[op.inputs[2]].data)
    return None


def residual_add_tables(conv: FastConv, add_fields: dict, conv_is_first: bool, prefix: str) -> bool:
    """Prepares `conv` to compute a following int8 ADD (te_binary_params fields `add_fields`) from its
    output and a residual: each operand's rescaled value, (x + offset) << 20 through its multiplier,
    depends on its int8 code alone, so it is a 256-entry table; the sum is requantized by a te_requant
    entry. False (nothing changed) when the output stage cannot take that form."""
    def table(offset: int, multiplier: int, shift: int) -> list[int]:
        return [tflm_rounding_shift(tflm_srdhm((code + offset) << add_fields["left_shift"], multiplier), -shift)
                for code in range(-128, 128)]
    first = table(add_fields["input1_offset"], add_fields["input1_multiplier"], add_fields["input1_shift"])
    second = table(add_fields["input2_offset"], add_fields["input2_multiplier"], add_fields["input2_shift"])
    if add_fields["input1_shift"] > 0 or add_fields["input2_shift"] > 0:
        return False
    bound = max(abs(v) for v in first) + max(abs(v) for v in second)
    entry = requant_entry(bound, add_fields["output_multiplier"], add_fields["output_shift"],
                          add_fields["output_offset"])
    if entry is None:
        return False
    conv_values, residual_values = (first, second) if conv_is_first else (second, first)
    conv_name, residual_name = f"{prefix}_conv_table", f"{prefix}_residual_table"
    conv.arrays = conv.arrays + [int_array(conv_name, "int32_t", conv_values),
                                 int_array(residual_name, "int32_t", residual_values)]
    conv.add_fields = {"conv_table": conv_name, "residual_table": residual_name, "add_requant": list(entry),
                       "add_min": add_fields["activation_min"], "add_max": add_fields["activation_max"]}
    return True


def lower_fast_conv(op, ctx, fields: dict, multipliers: list[int], shifts: list[int]) -> Step | None:
    """CONV_2D on te_conv_fast_s8, or None when the layer does not fit it (batch > 1, dilation,
    grouped, or a requantization te_requant cannot reproduce exactly)."""
    t = ctx.tensors
    flt = t[op.inputs[1]]
    if fields["batches"] != 1 or fields["dilation_height"] != 1 or fields["dilation_width"] != 1 \
            or fields["filter_input_depth"] != fields["input_depth"] or flt.data is None:
        return None
    channels = fields["output_depth"]
    weights = np.asarray(flt.data).reshape(channels, -1)
    in_zp = -fields["input_offset"]
    bias = folded_bias(weights, _bias_data(op, ctx), in_zp)
    table = requant_table(weights, bias, multipliers, shifts, fields["output_offset"],
                          fields["activation_min"], fields["activation_max"])
    if table is None:
        return None
    entries, bias = table
    rows = padded_rows(weights)
    chunked = fields["input_depth"] % 4 == 0
    layout = channel_pair_layout(pair_words(rows, chunked))
    filter_name, bias_name = ctx.name(op, "fast_filter"), ctx.name(op, "fast_bias")
    requant_name = ctx.name(op, "requant")
    conv_fields = {
        key: fields[key] for key in (
            "input_height", "input_width", "input_depth", "output_height", "output_width", "output_depth",
            "filter_height", "filter_width", "stride_height", "stride_width", "pad_height", "pad_width")}
    conv_fields.update({
        "row_pairs": rows.shape[1] // 2, "chunked": int(chunked), "input_zero_point": in_zp,
        "activation_min": fields["activation_min"], "activation_max": fields["activation_max"],
        "bias": bias_name, "requant": requant_name})
    arrays = [int_array(filter_name, "uint32_t", layout), int_array(bias_name, "int32_t", bias),
              requant_array(requant_name, entries)]
    fast = FastConv(ctx.name(op, "params"), conv_fields, filter_name, op.inputs[0], op.outputs[0], arrays=arrays)
    step = Step(op, [op.inputs[0]], [op.outputs[0]], kernel_file="te_conv_fast.c",
                scratch_bytes=5 * rows.shape[1], constant_bytes=4 * layout.size + 4 * bias.size + 16 * channels,
                fast=fast)
    pointwise = (fields["filter_height"] == fields["filter_width"] == 1 and fields["stride_height"] == 1
                 and fields["stride_width"] == 1 and fields["pad_height"] == 0 and fields["pad_width"] == 0)
    if pointwise:
        step.in_place = [(op.inputs[0], op.outputs[0])]
    fast.render(step)
    return step


def lower_fast_depthwise(op, ctx, fields: dict, multipliers: list[int], shifts: list[int]) -> Step | None:
    """DEPTHWISE_CONV_2D 3x3, multiplier 1, depth a multiple of 4 on te_depthwise3x3_fast_s8."""
    t = ctx.tensors
    flt = t[op.inputs[1]]
    depth = fields["input_depth"]
    if fields["batches"] != 1 or fields["dilation_height"] != 1 or fields["dilation_width"] != 1 \
            or fields["depth_multiplier"] != 1 or fields["filter_height"] != 3 or fields["filter_width"] != 3 \
            or depth % 4 or flt.data is None:
        return None
    taps = np.asarray(flt.data).reshape(9, depth)
    in_zp = -fields["input_offset"]
    bias = folded_bias(taps.T, _bias_data(op, ctx), in_zp)
    table = requant_table(taps.T, bias, multipliers, shifts, fields["output_offset"],
                          fields["activation_min"], fields["activation_max"])
    if table is None:
        return None
    entries, bias = table
    words = depthwise_pairs(taps)
    filter_name, bias_name, params = ctx.name(op, "fast_filter"), ctx.name(op, "fast_bias"), ctx.name(op, "params")
    requant_name = ctx.name(op, "requant")
    dw_fields = {
        "input_height": fields["input_height"], "input_width": fields["input_width"], "depth": depth,
        "output_height": fields["output_height"], "output_width": fields["output_width"],
        "stride_height": fields["stride_height"], "stride_width": fields["stride_width"],
        "pad_height": fields["pad_height"], "pad_width": fields["pad_width"], "input_zero_point": in_zp,
        "activation_min": fields["activation_min"], "activation_max": fields["activation_max"],
        "full_range": int(fields["activation_min"] == -128 and fields["activation_max"] == 127),
        "bias": bias_name, "requant": requant_name}
    declarations = [int_array(filter_name, "uint32_t", words), int_array(bias_name, "int32_t", bias),
                    requant_array(requant_name, entries),
                    c_struct("te_depthwise3x3_params", params, dw_fields)]
    return Step(op, [op.inputs[0]], [op.outputs[0]], declarations,
                f"te_depthwise3x3_fast_s8(&{params}, {ref(op.inputs[0])}, {filter_name}, {ref(op.outputs[0])});",
                "te_depthwise_fast.c", constant_bytes=4 * words.size + 4 * bias.size + 16 * depth)


def lower_fast_fully_connected(op, ctx, fields: dict, multipliers: list[int], shifts: list[int]) -> Step | None:
    """FULLY_CONNECTED with a symmetric filter and a depth that is a multiple of 4."""
    t = ctx.tensors
    flt = t[op.inputs[1]]
    if fields["filter_offset"] != 0 or fields["accum_depth"] % 4 or flt.data is None:
        return None
    weights = np.asarray(flt.data).reshape(fields["output_depth"], fields["accum_depth"])
    in_zp = -fields["input_offset"]
    bias = folded_bias(weights, _bias_data(op, ctx), in_zp)
    if not accumulators_small(weights, bias, multipliers, shifts):
        return None
    table = requant_table(weights, bias, multipliers, shifts, fields["output_offset"],
                          fields["activation_min"], fields["activation_max"])
    if table is None:
        return None
    entries, bias = table
    words = pair_words(weights.astype(np.int8), chunked=True)          # [rows, depth / 2]
    rows, pairs = words.shape
    full = rows // 4 * 4
    head = words[:full].reshape(rows // 4, 4, pairs // 2, 2).transpose(0, 2, 1, 3).reshape(-1)
    layout = np.concatenate([head, words[full:].reshape(-1)]).astype(np.uint32)
    filter_name, bias_name, params = ctx.name(op, "fast_filter"), ctx.name(op, "fast_bias"), ctx.name(op, "params")
    requant_name = ctx.name(op, "requant")
    fc_fields = {key: fields[key] for key in ("batches", "accum_depth", "output_depth",
                                               "activation_min", "activation_max")}
    fc_fields.update({"bias": bias_name, "requant": requant_name})
    declarations = [int_array(filter_name, "uint32_t", layout), int_array(bias_name, "int32_t", bias),
                    requant_array(requant_name, entries),
                    c_struct("te_fast_fully_connected_params", params, fc_fields)]
    return Step(op, [op.inputs[0]], [op.outputs[0]], declarations,
                f"te_fully_connected_fast_s8(&{params}, {ref(op.inputs[0])}, {filter_name}, {ref(op.outputs[0])});",
                "te_fully_connected_fast.c", constant_bytes=4 * layout.size + 4 * bias.size + 16 * len(entries))
