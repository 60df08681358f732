"""Lowering of the matrix and sequence ops: TRANSPOSE_CONV (te_transpose_conv_s8), BATCH_MATMUL
(te_batch_matmul_s8), UNIDIRECTIONAL_SEQUENCE_LSTM (te_lstm_s8) and SVDF (te_svdf_s8), with every constant
computed here exactly as TFLM's prepare step computes it (transpose_conv.cc, batch_matmul.cc,
lstm_eval_common.cc, svdf_common.cc).

The LSTM's and SVDF's states are variable tensors: TFLM keeps them between invokes until the
interpreter is reset. tinyedge validates independent samples (a Keras LSTM classifier reads each
sequence from a zero state; carried over, its int8 accuracy on the digits falls from 88% to chance),
so its host reference resets them before each sample and the kernels start each invoke from TFLM's
reset values."""

from __future__ import annotations

import math

import numpy as np

from ..errors import TinyedgeError
from ..tflite.model import Operator, Tensor
from . import params as p
from . import quantization as q
from .ir import NULL, SCRATCH, Kernel, Step, TensorArg, TensorListArg
from .ops import LoweringContext, _nhwc, _padding, _quant

TRANSPOSE_CONV = Kernel("te_transpose_conv_s8", "te_matrix.c", p.TransposeConvParams)
BATCH_MATMUL = Kernel("te_batch_matmul_s8", "te_matrix.c", p.BatchMatMulParams)
LSTM = Kernel("te_lstm_s8", "te_lstm.c", p.LstmParams)

_TFLM = "use --runtime tflm for this model"
INT16_MIN, INT16_MAX = -32768, 32767


def _refuse(op: Operator, what: str, hint: str = _TFLM) -> TinyedgeError:
    return TinyedgeError(f"operator {op.index} ({op.opcode}) {what}", hint)


def _constant(op: Operator, ctx: LoweringContext, position: int, what: str) -> Tensor:
    tensor = ctx.tensors[op.inputs[position]]
    if not tensor.is_constant:
        raise _refuse(op, f"computes its {what} at run time; the native runtime takes constant ones")
    return tensor


def _per_tensor_scale(op: Operator, tensor: Tensor) -> float:
    if tensor.quantization is None or tensor.quantization.scale.size != 1:
        raise _refuse(op, f"has per-channel or no quantization on '{tensor.name}'; TFLM's kernel reads one "
                          f"scale there")
    return float(tensor.quantization.scale[0])


# -- TRANSPOSE_CONV ----------------------------------------------------------------------------------

def lower_transpose_conv(op: Operator, ctx: LoweringContext) -> Step:
    """Inputs: output shape, filter (OHWI), input, optional bias. The padding is TFLM's: computed from
    the output size as for a convolution of the output (ComputePaddingHeightWidth)."""
    t = ctx.tensors
    inp, flt, out = t[op.inputs[2]], _constant(op, ctx, 1, "weights"), t[op.outputs[0]]
    bias = op.inputs[3] if len(op.inputs) > 3 and op.inputs[3] >= 0 else None
    if bias is not None:
        _constant(op, ctx, 3, "biases")
        if t[bias].dtype != "int32":
            raise _refuse(op, f"has a {t[bias].dtype} bias; the native runtime takes int32")
    n, h, w, c = _nhwc(inp)
    _, oh, ow, oc = _nhwc(out)
    fo, kh, kw, kc = _nhwc(flt)
    if kc != c or fo != oc:
        raise _refuse(op, f"has a filter {flt.shape} that does not match its input {inp.shape} and output "
                          f"{out.shape}", "the model file is corrupt; export it again")
    o = op.options
    in_scale, in_zp = _quant(inp)
    out_scale, out_zp = _quant(out)
    multipliers, shifts = q.conv_multipliers(in_scale, flt.quantization.scale, out_scale, oc)
    act_min, act_max = q.activation_range(o.get("fused_activation_function"), out_scale, out_zp)
    params = p.TransposeConvParams(
        batches=n, input_height=h, input_width=w, input_depth=c, output_height=oh, output_width=ow,
        output_depth=oc, filter_height=kh, filter_width=kw, stride_height=o["stride_h"],
        stride_width=o["stride_w"], pad_height=_padding(o["padding"], o["stride_h"], 1, oh, kh),
        pad_width=_padding(o["padding"], o["stride_w"], 1, ow, kw), input_offset=-in_zp, output_offset=out_zp,
        activation_min=act_min, activation_max=act_max,
        multipliers=ctx.int32_array(op, "multipliers", multipliers), shifts=ctx.int32_array(op, "shifts", shifts))
    step = Step(op, TRANSPOSE_CONV, ctx.name(op, "params"), params,
                [TensorArg(op.inputs[2]), TensorArg(op.inputs[1]), NULL if bias is None else TensorArg(bias),
                 SCRATCH, TensorArg(op.outputs[0])],
                [op.inputs[2], op.inputs[1]] + ([] if bias is None else [bias]), [op.outputs[0]])
    step.scratch_bytes = 2 * kh * kw * 4   # the taps reaching one output pixel (input, filter offsets)
    return step


# -- BATCH_MATMUL ------------------------------------------------------------------------------------

def _batch_offsets(shape: tuple[int, ...], batch_dims: list[int]) -> list[int]:
    """Where each output batch's matrix starts in an operand of `shape` (its batch dims extended with
    leading 1s to the output's rank; size-1 dims broadcast), in output batch order."""
    rank = len(batch_dims)
    dims = (1,) * (rank - (len(shape) - 2)) + tuple(shape[:-2])
    matrix = shape[-1] * shape[-2]
    strides, running = [], matrix
    for dim in reversed(dims):
        strides.append(running)
        running *= dim
    strides.reverse()
    offsets = []
    for index in np.ndindex(*batch_dims) if batch_dims else [()]:
        offsets.append(sum(i * s for i, s, d in zip(index, strides, dims) if d != 1))
    return offsets


def lower_batch_matmul(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    lhs, rhs, out = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    if not (lhs.is_constant or rhs.is_constant):
        raise _refuse(op, "multiplies two run-time operands; the native runtime takes one constant operand")
    if not 2 <= len(lhs.shape) <= 5 or not 2 <= len(rhs.shape) <= 5:
        raise _refuse(op, f"has operands of rank {len(lhs.shape)} and {len(rhs.shape)}; TFLM takes 2 to 5")
    adj_x, adj_y = bool(op.options.get("adj_x")), bool(op.options.get("adj_y"))
    rows, depth = (lhs.shape[-1], lhs.shape[-2]) if adj_x else (lhs.shape[-2], lhs.shape[-1])
    rhs_depth, cols = (rhs.shape[-1], rhs.shape[-2]) if adj_y else (rhs.shape[-2], rhs.shape[-1])
    batch_dims = list(out.shape[:-2])
    if rhs_depth != depth or tuple(out.shape[-2:]) != (rows, cols):
        raise _refuse(op, f"has shapes {lhs.shape} x {rhs.shape} -> {out.shape} that do not multiply",
                      "the model file is corrupt; export it again")
    lhs_scale, rhs_scale = _per_tensor_scale(op, lhs), _per_tensor_scale(op, rhs)
    _, lhs_zp = _quant(lhs)
    _, rhs_zp = _quant(rhs)
    out_scale, out_zp = _quant(out)
    # GetQuantizedConvolutionMultipler without a bias: the float32 product of the scales, in double.
    multiplier, shift = q.quantize_multiplier(q.f32(q.f32(lhs_scale) * q.f32(rhs_scale)) / q.f32(out_scale))
    lhs_cols, rhs_cols = lhs.shape[-1], rhs.shape[-1]
    params = p.BatchMatMulParams(
        batches=int(np.prod(batch_dims)) if batch_dims else 1, rows=rows, cols=cols, depth=depth,
        lhs_row_stride=1 if adj_x else lhs_cols, lhs_depth_stride=lhs_cols if adj_x else 1,
        rhs_depth_stride=1 if adj_y else rhs_cols, rhs_col_stride=rhs_cols if adj_y else 1,
        lhs_offset=-lhs_zp, rhs_offset=-rhs_zp, output_offset=out_zp, multiplier=multiplier, shift=shift,
        lhs_batch_offsets=ctx.int32_array(op, "lhs_batches", _batch_offsets(lhs.shape, batch_dims)),
        rhs_batch_offsets=ctx.int32_array(op, "rhs_batches", _batch_offsets(rhs.shape, batch_dims)))
    return Step(op, BATCH_MATMUL, ctx.name(op, "params"), params,
                [TensorArg(op.inputs[0]), TensorArg(op.inputs[1]), TensorArg(op.outputs[0])],
                [op.inputs[0], op.inputs[1]], [op.outputs[0]])


# -- UNIDIRECTIONAL_SEQUENCE_LSTM --------------------------------------------------------------------

GATE_INPUT = 2 ** -12    # the gates' FC outputs: int16 in Q3.12
GATE_OUTPUT = 2 ** -15   # the gates' activations: int16 in Q0.15
_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8)        # input_to_{input,forget,cell,output}, recurrent_to_{...}
_BIASES = (12, 13, 14, 15)                 # input, forget, cell, output gate
_ABSENT = (9, 10, 11, 16, 17, 20, 21, 22, 23)   # peepholes, projection, layer norm: TFLM has none
HIDDEN, CELL = 18, 19


# TFLM's table (sigmoid_table_uint16) is sigmoid(i / 24) in 0.16 rounded to nearest, except at these
# entries, where it holds one more (its values were tuned; no rounding rule gives them). Checked
# against TFLM's int16 logistic through its LSTM in tests/native (the zoo's LSTM models).
_TABLE_ONE_HIGHER = (4, 8, 12, 14, 15, 16, 17, 19, 20, 21, 22, 25, 27, 28, 29, 30, 31, 33, 34, 35, 37, 39, 40,
                     41, 43, 44, 45, 46, 49, 50, 54, 62, 63, 64, 66, 82, 86, 93, 100, 103, 112, 116, 135, 255)


def sigmoid_table() -> np.ndarray:
    """The 256-entry table TFLM's int16 logistic and tanh interpolate: sigmoid(i / 24) in 0.16."""
    values = np.array([min(65535, q.round_half_away(65536.0 / (1.0 + math.exp(-i / 24.0)))) for i in range(256)],
                      dtype=np.int64)
    values[list(_TABLE_ONE_HIGHER)] += 1
    return values


def _log2(scale: float) -> int | None:
    """CheckedLog2: the exponent when `scale` is a power of two (within 1e-3 of one), else None."""
    exponent = math.log2(scale)
    rounded = round(exponent)
    return int(rounded) if abs(exponent - rounded) < 1e-3 else None


def _double_multiplier(*scales: float, divide_by: float) -> tuple[int, int]:
    """QuantizeMultiplier of the product of float32 scales in double, over another."""
    product = 1.0
    for scale in scales:
        product *= q.f32(scale)
    return q.quantize_multiplier(product / q.f32(divide_by))


def _gate_offsets(op: Operator, ctx: LoweringContext, weights: list[Tensor], input_offset: int,
                  hidden_zero_point: int) -> list[int]:
    """What TFLM adds to each gate unit's products besides x * w and h * rw: the bias and
    input_offset * sum(w) for the input FC, -hidden_zero_point * sum(rw) for the recurrent FC (per gate
    in the kernel's order input, forget, cell, output; the input FCs' first)."""
    offsets: list[int] = []
    for gate, position in enumerate(_BIASES):
        bias = np.asarray(ctx.tensors[op.inputs[position]].data, dtype=np.int64).reshape(-1)
        sums = np.asarray(weights[gate].data, dtype=np.int64).sum(axis=1)
        offsets += (bias + input_offset * sums).tolist()
    for gate in range(4):
        sums = np.asarray(weights[4 + gate].data, dtype=np.int64).sum(axis=1)
        offsets += (-hidden_zero_point * sums).tolist()
    return offsets


def lower_lstm(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    inputs = list(op.inputs) + [-1] * (24 - len(op.inputs))
    if len(op.inputs) != 24 or any(inputs[i] < 0 for i in _WEIGHTS + _BIASES + (HIDDEN, CELL)):
        raise _refuse(op, "lacks a gate (CIFG) or has fewer than 24 inputs; TFLM's LSTM takes all four gates")
    if any(inputs[i] >= 0 for i in _ABSENT):
        raise _refuse(op, "has peephole, projection or layer-norm tensors, which TFLM's LSTM does not take")
    inp, out, hidden, cell = t[inputs[0]], t[op.outputs[0]], t[inputs[HIDDEN]], t[inputs[CELL]]
    if inp.dtype != "int8" or cell.dtype != "int16" or hidden.dtype != "int8":
        raise _refuse(op, f"has {inp.dtype} input, {hidden.dtype} hidden and {cell.dtype} cell state; the "
                          f"native runtime takes int8, int8 and int16")
    if not (hidden.is_variable and cell.is_variable):
        raise _refuse(op, "has states that are not variable tensors", "the model file is corrupt; export it again")
    weights = [_constant(op, ctx, i, "weights") for i in _WEIGHTS]
    for i in _BIASES:
        _constant(op, ctx, i, "biases")
    if len(inp.shape) != 3:
        raise _refuse(op, f"has a {len(inp.shape)}-D input; TFLM's LSTM takes 3")
    time_major = bool(op.options.get("time_major"))
    steps, batches, input_size = inp.shape if time_major else (inp.shape[1], inp.shape[0], inp.shape[2])
    state_size = hidden.shape[-1]
    if any(w.shape != (state_size, input_size if k < 4 else state_size) for k, w in enumerate(weights)) \
            or hidden.num_elements != batches * state_size or cell.num_elements != batches * state_size:
        raise _refuse(op, "has weights or states whose shapes do not match its input",
                      "the model file is corrupt; export it again")
    in_scale, in_zp = _quant(inp)
    hidden_scale, hidden_zp = _quant(hidden)
    cell_scale, _ = _quant(cell)
    out_scale, out_zp = _quant(out)
    if q.f32(out_scale) != q.f32(hidden_scale) or out_zp != hidden_zp:
        raise _refuse(op, "writes an output quantized differently from its hidden state (TFLM copies the bytes)",
                      "the model file is corrupt; export it again")
    power = _log2(q.f32(cell_scale))
    if power is None:
        raise _refuse(op, f"has a cell state scale {cell_scale} that is not a power of two; TFLM requires one",
                      "export the model again with the TFLite converter")
    activation = op.options.get("fused_activation_function", "TANH")
    if activation not in ("TANH", "SIGMOID"):
        raise _refuse(op, f"has a {activation} cell activation; TFLM's integer LSTM takes TANH or SIGMOID")
    scales = [_per_tensor_scale(op, w) for w in weights]
    # Gate order of the kernel's arrays: input, forget, cell, output (the weights' order in the op).
    gates_in = [q.quantize_multiplier(q.f32(in_scale) * q.f32(s) / GATE_INPUT) for s in scales[:4]]
    gates_rec = [q.quantize_multiplier(q.f32(hidden_scale) * q.f32(s) / GATE_INPUT) for s in scales[4:]]
    forget = _double_multiplier(GATE_OUTPUT, cell_scale, divide_by=cell_scale)
    input_gate = _double_multiplier(GATE_OUTPUT, GATE_OUTPUT, divide_by=cell_scale)
    hidden_mul = _double_multiplier(GATE_OUTPUT, GATE_OUTPUT, divide_by=hidden_scale)
    clip = q.f32(op.options.get("cell_clip", 0.0))
    quantized_clip = int(min(max(clip / q.f32(cell_scale), -32768.0), 32767.0))   # static_cast<int16_t>
    tanh_shift = 15 + power - 3
    tanh_multiplier, tanh_shift = (3, -tanh_shift) if tanh_shift < 0 else (3 << tanh_shift, 0)
    params = p.LstmParams(
        batches=batches, time_steps=steps, input_size=input_size, state_size=state_size,
        time_major=int(time_major), input_offset=-in_zp,
        input_multipliers=[m for m, _ in gates_in], input_shifts=[s for _, s in gates_in],
        recurrent_multipliers=[m for m, _ in gates_rec], recurrent_shifts=[s for _, s in gates_rec],
        cell_gate_sigmoid=int(activation == "SIGMOID"), forget_multiplier=forget[0], forget_shift=forget[1],
        input_gate_multiplier=input_gate[0], input_gate_shift=input_gate[1],
        cell_clip_enabled=int(clip > 0), cell_clip=quantized_clip if clip > 0 else 0,
        cell_tanh_multiplier=tanh_multiplier, cell_tanh_shift=tanh_shift,
        hidden_multiplier=hidden_mul[0], hidden_shift=hidden_mul[1], hidden_zero_point=hidden_zp,
        sigmoid_table=p.ConstArray(ctx.name(op, "sigmoid_table"), p.UINT16, sigmoid_table()),
        gate_offsets=ctx.int32_array(op, "gate_offsets", _gate_offsets(op, ctx, weights, -in_zp, hidden_zp)))
    rows = batches if time_major else 1
    step = Step(op, LSTM, ctx.name(op, "params"), params,
                [TensorListArg(tuple(inputs[i] for i in _WEIGHTS)), TensorArg(inputs[0]),
                 TensorArg(inputs[HIDDEN]), TensorArg(inputs[CELL]), SCRATCH, TensorArg(op.outputs[0])],
                [inputs[i] for i in (0,) + _WEIGHTS + (HIDDEN, CELL)],
                [op.outputs[0], inputs[HIDDEN], inputs[CELL]])
    step.scratch_bytes = 4 * rows * state_size * 2
    return step


# -- SVDF --------------------------------------------------------------------------------------------

SVDF = Kernel("te_svdf_s8", "te_lstm.c", p.SvdfParams)


def lower_svdf(op: Operator, ctx: LoweringContext) -> Step:
    """Inputs: input [batches, input_size], feature weights [filters, input_size], time weights
    [filters, memory_size], optional bias [units], the state [batches, filters * memory_size]."""
    t = ctx.tensors
    if len(op.inputs) != 5:
        raise _refuse(op, f"has {len(op.inputs)} inputs; TFLM's SVDF takes 5", "the model file is corrupt; export it again")
    inp, out, state = t[op.inputs[0]], t[op.outputs[0]], t[op.inputs[4]]
    feature, time = _constant(op, ctx, 1, "feature weights"), _constant(op, ctx, 2, "time weights")
    bias = op.inputs[3] if op.inputs[3] >= 0 else None
    if bias is not None:
        _constant(op, ctx, 3, "biases")
    if time.dtype != "int16" or state.dtype != "int16":
        raise _refuse(op, f"has {time.dtype} time weights and a {state.dtype} state; the native runtime takes "
                          f"int16 for both (TFLM's int8 form is not implemented)")
    if not state.is_variable:
        raise _refuse(op, "has a state that is not a variable tensor", "the model file is corrupt; export it again")
    activation = op.options.get("fused_activation_function", "NONE")
    if activation != "NONE":
        # TFLM's integer SVDF ignores the fused activation; matching it would apply none silently.
        raise _refuse(op, f"has a fused {activation} activation, which TFLM's integer SVDF ignores")
    rank = int(op.options.get("rank", 1))
    if len(inp.shape) != 2 or len(feature.shape) != 2 or len(time.shape) != 2 or rank < 1:
        raise _refuse(op, "has shapes TFLM's SVDF does not take", "the model file is corrupt; export it again")
    batches, input_size = inp.shape
    filters, memory = time.shape
    if feature.shape != (filters, input_size) or filters % rank or state.num_elements != batches * filters * memory \
            or out.num_elements != batches * (filters // rank):
        raise _refuse(op, "has weights, state and output whose shapes do not match",
                      "the model file is corrupt; export it again")
    in_scale, in_zp = _quant(inp)
    state_scale, state_zp = _quant(state)
    out_scale, out_zp = _quant(out)
    feature_scale, time_scale = _per_tensor_scale(op, feature), _per_tensor_scale(op, time)
    # PrepareSvdf: both effective scales computed in float32, then widened to double.
    first = q.quantize_multiplier(q.f32(q.f32(q.f32(in_scale) * q.f32(feature_scale)) / q.f32(state_scale)))
    second = q.quantize_multiplier(q.f32(q.f32(q.f32(state_scale) * q.f32(time_scale)) / q.f32(out_scale)))
    params = p.SvdfParams(
        batches=batches, input_size=input_size, num_units=filters // rank, rank=rank, memory_size=memory,
        input_zero_point=in_zp, state_zero_point=state_zp, output_zero_point=out_zp,
        feature_multiplier=first[0], feature_shift=first[1], output_multiplier=second[0], output_shift=second[1])
    return Step(op, SVDF, ctx.name(op, "params"), params,
                [TensorArg(op.inputs[0]), TensorArg(op.inputs[1]), TensorArg(op.inputs[2]),
                 NULL if bias is None else TensorArg(bias), TensorArg(op.inputs[4]), TensorArg(op.outputs[0])],
                [i for i in op.inputs if i >= 0], [op.outputs[0], op.inputs[4]])
