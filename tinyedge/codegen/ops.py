"""Lowering of each supported TFLite operator to one call of a firmware/native kernel.

A lowering returns a typed Step (ir.py): the kernel, its parameter struct's value (params.py,
computed here with TFLM's arithmetic), the constant arrays it needs as numpy arrays, and the tensors
it reads and writes. No C is written here; the emitter renders the steps once the memory plan is
known. Later passes may replace a step (lowering.py: dilation folding, fast.py: fast kernels,
residual fusion).

Adding an op: its kernel in firmware/native (and its struct in params.py), a lowering here, and its
entry in LOWERINGS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import TinyedgeError
from ..tflite.model import Operator, Tensor
from . import params as p
from . import quantization as q
from .ir import NULL, Kernel, Step, TensorArg, TensorListArg
from .params import INT32, ConstArray

MAX_DIMS = p.MAX_DIMS

CONV = Kernel("te_conv2d_s8", "te_conv.c", p.ConvParams)
DEPTHWISE_CONV = Kernel("te_depthwise_conv2d_s8", "te_conv.c", p.ConvParams)
FULLY_CONNECTED = Kernel("te_fully_connected_s8", "te_fully_connected.c", p.FullyConnectedParams)
AVERAGE_POOL = Kernel("te_average_pool_s8", "te_pooling.c", p.PoolParams)
MAX_POOL = Kernel("te_max_pool_s8", "te_pooling.c", p.PoolParams)
ADD = Kernel("te_add_s8", "te_elementwise.c", p.BinaryParams)
MUL = Kernel("te_mul_s8", "te_elementwise.c", p.BinaryParams)
RELU = Kernel("te_relu_s8", "te_activations.c", p.ReluParams)
CLAMP = Kernel("te_clamp_s8", "te_activations.c", p.ReluParams)
LOGISTIC = Kernel("te_logistic_s8", "te_activations.c", p.SigmoidParams)
TANH = Kernel("te_tanh_s8", "te_activations.c", p.SigmoidParams)
SOFTMAX = Kernel("te_softmax_s8", "te_activations.c", p.SoftmaxParams)
PAD = Kernel("te_pad_s8", "te_layout.c", p.PadParams)
CONCATENATION = Kernel("te_concatenation_s8", "te_layout.c", p.ConcatParams)
MEAN = Kernel("te_mean_s8", "te_reduce.c", p.MeanParams)
QUANTIZE_F32 = Kernel("te_quantize_f32_s8", "te_quantize.c", p.QuantizeParams)
REQUANTIZE = Kernel("te_requantize_s8", "te_quantize.c", p.QuantizeParams)
DEQUANTIZE = Kernel("te_dequantize_s8_f32", "te_quantize.c", p.QuantizeParams)
SPACE_TO_BATCH = Kernel("te_space_to_batch_s8", "te_layout.c", p.SpaceBatchParams)
BATCH_TO_SPACE = Kernel("te_batch_to_space_s8", "te_layout.c", p.SpaceBatchParams)


OPTIMIZE = ("speed", "size")   # runtime.optimize: fast kernels with widened weights, or int8 weights


def check_optimize(optimize: str) -> None:
    """One line for an optimization the generator does not know."""
    if optimize not in OPTIMIZE:
        raise TinyedgeError(f"unknown optimization '{optimize}'",
                            f"choose one of {', '.join(OPTIMIZE)} (runtime.optimize, --optimize)")


class LoweringContext:
    def __init__(self, tensors: list[Tensor], prefix: str, optimize: str = "speed"):
        self.tensors = tensors
        self.prefix = prefix
        self.optimize = optimize

    def name(self, op: Operator, what: str) -> str:
        return f"{self.prefix}_op{op.index}_{what}"

    def int32_array(self, op: Operator, what: str, values) -> ConstArray:
        """An operator parameter array (counted as parameters, not weights)."""
        return ConstArray(self.name(op, what), INT32, np.asarray(values, dtype=np.int64))


def _unary(op: Operator, ctx: LoweringContext, kernel: Kernel, params) -> Step:
    """The common shape: kernel(&params, input, output)."""
    return Step(op, kernel, ctx.name(op, "params"), params, [TensorArg(op.inputs[0]), TensorArg(op.outputs[0])],
                [op.inputs[0]], [op.outputs[0]])

def _quant(tensor: Tensor) -> tuple[float, int]:
    if tensor.quantization is None:
        raise TinyedgeError(f"tensor '{tensor.name}' has no quantization parameters",
                            "the native runtime needs a fully int8-quantized model; use --runtime tflm")
    return float(tensor.quantization.scale[0]), int(tensor.quantization.zero_point[0])


def _nhwc(tensor: Tensor) -> tuple[int, int, int, int]:
    shape = tensor.shape
    if len(shape) != 4:
        raise TinyedgeError(f"tensor '{tensor.name}' has shape {shape}, the kernel needs 4 dimensions",
                            "use --runtime tflm for this model")
    return shape  # type: ignore[return-value]


def _padding(padding: str, stride: int, dilation: int, in_size: int, filter_size: int) -> int:
    """TFLM's ComputePaddingHeightWidth: the leading padding for the output size TFLM computes."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        out_size = (in_size + stride - 1) // stride
    else:
        out_size = (in_size - effective + stride) // stride
    total = (out_size - 1) * stride + effective - in_size
    return max(total, 0) // 2


def _bias(op: Operator) -> int | None:
    """The bias tensor, if the op has one."""
    return op.inputs[2] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None


def _check_bias(op: Operator, ctx: LoweringContext) -> None:
    for position in (1, 2):  # the kernels' weights and biases are generation-time constants
        index = op.inputs[position] if len(op.inputs) > position else -1
        if index >= 0 and not ctx.tensors[index].is_constant:
            raise TinyedgeError(f"operator {op.index} ({op.opcode}) computes its "
                                f"{'weights' if position == 1 else 'biases'} at run time; the native runtime "
                                f"takes constant ones", "use --runtime tflm for this model")
    if len(op.inputs) > 2 and op.inputs[2] >= 0 and ctx.tensors[op.inputs[2]].dtype != "int32":
        raise TinyedgeError(f"operator {op.index} ({op.opcode}) has a "
                            f"{ctx.tensors[op.inputs[2]].dtype} bias; the native runtime takes int32",
                            "use --runtime tflm for this model")
    weights = ctx.tensors[op.inputs[1]]
    if weights.quantization is None or weights.quantization.scale.size == 0:
        # TFLM may still run such a model (hybrid kernels); the native kernels need int8 weight scales.
        raise TinyedgeError(f"operator {op.index} ({op.opcode}) has weights '{weights.name}' without "
                            f"quantization parameters; the native runtime takes int8-quantized weights",
                            "quantize the model to int8 (full-integer PTQ), or use --runtime tflm")


@dataclass
class DilationFold:
    """SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND seen as one dilated convolution."""
    input: int            # the SPACE_TO_BATCH_ND input
    output: int           # the BATCH_TO_SPACE_ND output
    dilation: tuple[int, int]
    pad: tuple[int, int]  # leading padding: SPACE_TO_BATCH_ND's minus BATCH_TO_SPACE_ND's crop


def _conv_like(op: Operator, ctx: LoweringContext, depthwise: bool, fold: DilationFold | None = None) -> Step:
    t = ctx.tensors
    in_index = fold.input if fold else op.inputs[0]
    out_index = fold.output if fold else op.outputs[0]
    inp, flt, out = t[in_index], t[op.inputs[1]], t[out_index]
    _check_bias(op, ctx)
    n, h, w, c = _nhwc(inp)
    _, oh, ow, oc = _nhwc(out)
    _, kh, kw, kc = _nhwc(flt)
    o = op.options
    in_scale, in_zp = _quant(inp)
    out_scale, out_zp = _quant(out)
    multipliers, shifts = q.conv_multipliers(in_scale, flt.quantization.scale, out_scale, oc)
    act_min, act_max = q.activation_range(o.get("fused_activation_function"), out_scale, out_zp)
    dilation = fold.dilation if fold else (o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1))
    pad = fold.pad if fold else (_padding(o["padding"], o["stride_h"], dilation[0], h, kh),
                                 _padding(o["padding"], o["stride_w"], dilation[1], w, kw))
    if not depthwise and (kc == 0 or c % kc or oc % (c // kc)):
        raise TinyedgeError(f"operator {op.index} (CONV_2D) has inconsistent channel counts",
                            "the model file is corrupt; export it again")
    params = p.ConvParams(
        batches=n, input_height=h, input_width=w, input_depth=c,
        output_height=oh, output_width=ow, output_depth=oc,
        filter_height=kh, filter_width=kw,
        filter_input_depth=0 if depthwise else kc,
        depth_multiplier=oc // c if depthwise else 0,
        stride_height=o["stride_h"], stride_width=o["stride_w"],
        dilation_height=dilation[0], dilation_width=dilation[1], pad_height=pad[0], pad_width=pad[1],
        input_offset=-in_zp, output_offset=out_zp, activation_min=act_min, activation_max=act_max,
        multipliers=ctx.int32_array(op, "multipliers", multipliers),
        shifts=ctx.int32_array(op, "shifts", shifts))
    bias = _bias(op)
    return Step(op, DEPTHWISE_CONV if depthwise else CONV, ctx.name(op, "params"), params,
                [TensorArg(in_index), TensorArg(op.inputs[1]), NULL if bias is None else TensorArg(bias),
                 TensorArg(out_index)],
                [in_index, op.inputs[1]] + ([] if bias is None else [bias]), [out_index])


def fold_dilated_convolution(space: Operator, conv: Operator, batch: Operator,
                             ctx: LoweringContext) -> Step | None:
    """The converter writes a dilated convolution of a model with a dynamic batch size as
    SPACE_TO_BATCH_ND -> CONV_2D/DEPTHWISE_CONV_2D (VALID) -> BATCH_TO_SPACE_ND, and stores batch 1
    for the two intermediate tensors. TFLM runs that literally with those stale shapes (computing a
    quarter of the output and leaving the rest as whatever the arena held), so its result is not a
    reference there; run it as the dilated convolution it stands for, padded with the zero point as
    TensorFlow defines it. Returns None when the three ops do not form that pattern."""
    if conv.options.get("padding") != "VALID" or conv.options.get("stride_h") != 1 \
            or conv.options.get("stride_w") != 1 or conv.options.get("dilation_h_factor", 1) != 1 \
            or conv.options.get("dilation_w_factor", 1) != 1:
        return None
    try:
        block = _constant_ints(space, ctx, 1, "block shape").reshape(-1)
        paddings = _constant_ints(space, ctx, 2, "paddings").reshape(-1, 2)
        batch_block = _constant_ints(batch, ctx, 1, "block shape").reshape(-1)
        crops = _constant_ints(batch, ctx, 2, "crops").reshape(-1, 2)
    except TinyedgeError:
        return None
    if block.size != 2 or not np.array_equal(block, batch_block) or len(ctx.tensors[space.inputs[0]].shape) != 4:
        return None
    fold = DilationFold(space.inputs[0], batch.outputs[0], (int(block[0]), int(block[1])),
                        (int(paddings[0, 0] - crops[0, 0]), int(paddings[1, 0] - crops[1, 0])))
    return _conv_like(conv, ctx, conv.opcode == "DEPTHWISE_CONV_2D", fold)


def lower_conv_2d(op: Operator, ctx: LoweringContext) -> Step:
    return _conv_like(op, ctx, depthwise=False)


def lower_depthwise_conv_2d(op: Operator, ctx: LoweringContext) -> Step:
    return _conv_like(op, ctx, depthwise=True)


def lower_fully_connected(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    inp, flt, out = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    _check_bias(op, ctx)
    if len(flt.shape) != 2:
        raise TinyedgeError(f"operator {op.index} (FULLY_CONNECTED) has a {len(flt.shape)}-D weight tensor",
                            "use --runtime tflm for this model")
    out_depth, accum = flt.shape
    in_scale, in_zp = _quant(inp)
    out_scale, out_zp = _quant(out)
    per_channel = flt.quantization.scale.size > 1
    if per_channel:
        multipliers, shifts = q.conv_multipliers(in_scale, flt.quantization.scale, out_scale, out_depth)
    else:
        multiplier, shift = q.quantize_multiplier(
            q.f32(in_scale) * q.f32(flt.quantization.scale[0]) / q.f32(out_scale))
        multipliers, shifts = [multiplier] * out_depth, [shift] * out_depth
    act_min, act_max = q.activation_range(op.options.get("fused_activation_function"), out_scale, out_zp)
    params = p.FullyConnectedParams(
        batches=out.num_elements // out_depth, accum_depth=accum, output_depth=out_depth,
        input_offset=-in_zp, filter_offset=0 if per_channel else -int(flt.quantization.zero_point[0]),
        output_offset=out_zp, activation_min=act_min, activation_max=act_max,
        multipliers=ctx.int32_array(op, "multipliers", multipliers),
        shifts=ctx.int32_array(op, "shifts", shifts))
    bias = _bias(op)
    return Step(op, FULLY_CONNECTED, ctx.name(op, "params"), params,
                [TensorArg(op.inputs[0]), TensorArg(op.inputs[1]), NULL if bias is None else TensorArg(bias),
                 TensorArg(op.outputs[0])],
                [i for i in op.inputs if i >= 0], [op.outputs[0]])


def _pool(op: Operator, ctx: LoweringContext, kernel: Kernel) -> Step:
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    n, h, w, c = _nhwc(inp)
    _, oh, ow, _ = _nhwc(out)
    o = op.options
    out_scale, out_zp = _quant(out)
    act_min, act_max = q.activation_range(o.get("fused_activation_function"), out_scale, out_zp)
    params = p.PoolParams(
        batches=n, input_height=h, input_width=w, depth=c, output_height=oh, output_width=ow,
        filter_height=o["filter_height"], filter_width=o["filter_width"],
        stride_height=o["stride_h"], stride_width=o["stride_w"],
        pad_height=_padding(o["padding"], o["stride_h"], 1, h, o["filter_height"]),
        pad_width=_padding(o["padding"], o["stride_w"], 1, w, o["filter_width"]),
        activation_min=act_min, activation_max=act_max)
    return _unary(op, ctx, kernel, params)


def lower_average_pool_2d(op: Operator, ctx: LoweringContext) -> Step:
    return _pool(op, ctx, AVERAGE_POOL)


def lower_max_pool_2d(op: Operator, ctx: LoweringContext) -> Step:
    return _pool(op, ctx, MAX_POOL)


def _contiguous_strides(shape: tuple[int, ...]) -> list[int]:
    strides, running = [], 1
    for dim in reversed(shape):
        strides.append(running)
        running *= dim
    return list(reversed(strides))


def _broadcast_shapes(a: Tensor, b: Tensor, out: Tensor) -> dict:
    """rank, output_dims and the inputs' strides of te_binary_params: rank 0 when no input broadcasts."""
    if a.shape == b.shape == out.shape:
        return {"rank": 0, "output_dims": (), "input1_strides": (), "input2_strides": ()}
    rank = len(out.shape)
    if rank > MAX_DIMS:
        raise TinyedgeError(f"tensor '{out.name}' has {rank} dimensions; broadcasting handles {MAX_DIMS}",
                            "use --runtime tflm for this model")

    def strides(t: Tensor) -> list[int]:
        shape = (1,) * (rank - len(t.shape)) + tuple(t.shape)
        return [0 if dim == 1 and out.shape[i] != 1 else s
                for i, (dim, s) in enumerate(zip(shape, _contiguous_strides(shape)))]
    return {"rank": rank, "output_dims": list(out.shape), "input1_strides": strides(a),
            "input2_strides": strides(b)}


NO_RESCALE = {"left_shift": 0, "input1_multiplier": 0, "input1_shift": 0, "input2_multiplier": 0,
              "input2_shift": 0, "output_multiplier": 0, "output_shift": 0}


def _three_quants(op: Operator, ctx: LoweringContext):
    """(scale, zero point) of the two inputs and the output, in that order."""
    t = ctx.tensors
    return _quant(t[op.inputs[0]]), _quant(t[op.inputs[1]]), _quant(t[op.outputs[0]])


def _fused_activation(op: Operator, out_scale: float, out_zp: int) -> dict:
    """activation_min/activation_max of the op's fused activation."""
    act_min, act_max = q.activation_range(op.options.get("fused_activation_function"), out_scale, out_zp)
    return {"activation_min": act_min, "activation_max": act_max}


def _binary_step(op: Operator, ctx: LoweringContext, kernel: Kernel, rescale: dict, activation: dict,
                 offsets: tuple[int, int, int]) -> Step:
    """The common shape of the te_binary_params kernels: kernel(&params, input1, input2, output), the
    inputs broadcast to the output."""
    t = ctx.tensors
    a, b, out = t[op.inputs[0]], t[op.inputs[1]], t[op.outputs[0]]
    params = p.BinaryParams(flat_size=out.num_elements, **_broadcast_shapes(a, b, out),
                            input1_offset=offsets[0], input2_offset=offsets[1], output_offset=offsets[2],
                            **rescale, **activation)
    step = Step(op, kernel, ctx.name(op, "params"), params,
                [TensorArg(op.inputs[0]), TensorArg(op.inputs[1]), TensorArg(op.outputs[0])],
                [op.inputs[0], op.inputs[1]], [op.outputs[0]])
    if params.rank == 0:  # element i read before element i written: either input may be overwritten
        step.in_place = [(op.inputs[0], op.outputs[0]), (op.inputs[1], op.outputs[0])]
    return step


def _binary(op: Operator, ctx: LoweringContext, kernel: Kernel) -> Step:
    (a_scale, a_zp), (b_scale, b_zp), (out_scale, out_zp) = _three_quants(op, ctx)
    activation = _fused_activation(op, out_scale, out_zp)
    if op.opcode == "ADD":
        rescale = q.add_parameters(a_scale, b_scale, out_scale)
    else:  # MUL rescales the product only
        multiplier, shift = q.quantize_multiplier(q.f32(a_scale) * q.f32(b_scale) / q.f32(out_scale))
        rescale = dict(NO_RESCALE, output_multiplier=multiplier, output_shift=shift)
    return _binary_step(op, ctx, kernel, rescale, activation, (-a_zp, -b_zp, out_zp))


def lower_add(op: Operator, ctx: LoweringContext) -> Step:
    return _binary(op, ctx, ADD)


def lower_mul(op: Operator, ctx: LoweringContext) -> Step:
    return _binary(op, ctx, MUL)


def lower_relu(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    in_scale, in_zp = _quant(inp)
    out_scale, out_zp = _quant(out)
    multiplier, shift = q.quantize_multiplier(float(np.float32(in_scale) / np.float32(out_scale)))
    return _unary(op, ctx, RELU, p.ReluParams(
        size=out.num_elements, input_offset=in_zp, output_offset=out_zp, multiplier=multiplier, shift=shift,
        activation_min=max(q.INT8_MIN, out_zp), activation_max=q.INT8_MAX))


def lower_relu6(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    in_scale, in_zp = _quant(inp)
    six = in_zp + q.round_half_away(float(np.float32(6.0) / np.float32(in_scale)))
    # te_clamp_s8 only clamps: the requantization members are unused
    return _unary(op, ctx, CLAMP, p.ReluParams(
        size=out.num_elements, input_offset=0, output_offset=0, multiplier=0, shift=0,
        activation_min=in_zp, activation_max=min(max(six, q.INT8_MIN), q.INT8_MAX)))


def _sigmoid_like(op: Operator, ctx: LoweringContext, kernel: Kernel) -> Step:
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    in_scale, in_zp = _quant(inp)
    multiplier, shift, radius = q.sigmoid_parameters(in_scale)
    return _unary(op, ctx, kernel, p.SigmoidParams(
        size=out.num_elements, input_zero_point=in_zp, input_range_radius=radius,
        input_multiplier=multiplier, input_left_shift=shift))


def lower_logistic(op: Operator, ctx: LoweringContext) -> Step:
    return _sigmoid_like(op, ctx, LOGISTIC)


def lower_tanh(op: Operator, ctx: LoweringContext) -> Step:
    return _sigmoid_like(op, ctx, TANH)


def lower_softmax(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    in_scale, _ = _quant(inp)
    out_scale, out_zp = _quant(out)
    if out_zp != -128 or np.float32(out_scale) != np.float32(1.0 / 256):
        raise TinyedgeError(f"operator {op.index} (SOFTMAX) output is not quantized with scale 1/256 and "
                            f"zero point -128", "TFLM requires that too; export the model again")
    multiplier, shift, diff_min = q.softmax_parameters(op.options.get("beta", 1.0), in_scale)
    depth = inp.shape[-1] if inp.shape else 1
    return _unary(op, ctx, SOFTMAX, p.SoftmaxParams(
        outer_size=inp.num_elements // depth, depth=depth, input_multiplier=multiplier,
        input_left_shift=shift, diff_min=diff_min))


def _constant_ints(op: Operator, ctx: LoweringContext, position: int, what: str) -> np.ndarray:
    tensor = ctx.tensors[op.inputs[position]]
    if tensor.data is None:
        raise TinyedgeError(f"operator {op.index} ({op.opcode}) has a non-constant {what}",
                            "the native runtime needs static shapes; use --runtime tflm")
    return np.asarray(tensor.data).astype(np.int64)


def lower_pad(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    paddings = _constant_ints(op, ctx, 1, "paddings").reshape(-1, 2)
    _, out_zp = _quant(out)
    pad_value = out_zp
    if op.opcode == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        pad_value = int(_constant_ints(op, ctx, 2, "pad value").reshape(-1)[0])
    rank = len(inp.shape)
    if rank > MAX_DIMS or rank == 0:
        raise TinyedgeError(f"operator {op.index} (PAD) has a {rank}-D input", "use --runtime tflm")
    return _unary(op, ctx, PAD, p.PadParams(
        rank=rank, input_dims=list(inp.shape), before=paddings[:, 0].tolist(), after=paddings[:, 1].tolist(),
        pad_value=pad_value))


def lower_concatenation(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    out = t[op.outputs[0]]
    rank = len(out.shape)
    axis = op.options.get("axis", 0)
    axis = axis + rank if axis < 0 else axis
    out_scale, out_zp = _quant(out)
    for i in op.inputs:
        scale, zp = _quant(t[i])
        if np.float32(scale) != np.float32(out_scale) or zp != out_zp:
            raise TinyedgeError(f"operator {op.index} (CONCATENATION) inputs are quantized differently "
                                f"from its output", "TFLM rejects that too; export the model again")
    inner = int(np.prod(out.shape[axis + 1:])) if axis + 1 < rank else 1
    outer = int(np.prod(out.shape[:axis])) if axis > 0 else 1
    sizes = [t[i].shape[axis] * inner for i in op.inputs]
    params = p.ConcatParams(count=len(op.inputs), outer_size=outer,
                            copy_sizes=ctx.int32_array(op, "copy_sizes", sizes))
    return Step(op, CONCATENATION, ctx.name(op, "params"), params,
                [TensorListArg(tuple(op.inputs)), TensorArg(op.outputs[0])], list(op.inputs), [op.outputs[0]])


def lower_mean(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    rank = len(inp.shape)
    axes = sorted({int(a) + rank if a < 0 else int(a) for a in _constant_ints(op, ctx, 1, "axis").reshape(-1)})
    strides = _contiguous_strides(inp.shape)
    kept = [d for d in range(rank) if d not in axes]
    in_scale, in_zp = _quant(inp)
    out_scale, out_zp = _quant(out)
    count = int(np.prod([inp.shape[d] for d in axes])) if axes else 1
    if rank > MAX_DIMS or count == 0:
        raise TinyedgeError(f"operator {op.index} (MEAN) has an unsupported shape {inp.shape}",
                            "use --runtime tflm")
    multiplier, shift = q.mean_multiplier(in_scale, out_scale, count)
    return _unary(op, ctx, MEAN, p.MeanParams(
        kept_rank=len(kept), kept_dims=[inp.shape[d] for d in kept], kept_strides=[strides[d] for d in kept],
        reduced_rank=len(axes), reduced_dims=[inp.shape[d] for d in axes],
        reduced_strides=[strides[d] for d in axes], reduced_count=count, input_zero_point=in_zp,
        output_zero_point=out_zp, multiplier=multiplier, shift=shift))


def lower_quantize(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    out_scale, out_zp = _quant(out)
    if inp.dtype == "float32" and out.dtype == "int8":
        return _unary(op, ctx, QUANTIZE_F32, p.QuantizeParams(
            size=out.num_elements, input_zero_point=0, output_zero_point=out_zp, multiplier=0, shift=0,
            scale=q.f32(out_scale)))
    if inp.dtype == "int8" and out.dtype == "int8":
        in_scale, in_zp = _quant(inp)
        multiplier, shift = q.quantize_multiplier(q.f32(in_scale) / q.f32(out_scale))
        return _unary(op, ctx, REQUANTIZE, p.QuantizeParams(
            size=out.num_elements, input_zero_point=in_zp, output_zero_point=out_zp, multiplier=multiplier,
            shift=shift, scale=0.0))
    raise TinyedgeError(f"operator {op.index} (QUANTIZE) converts {inp.dtype} to {out.dtype}; the native "
                        f"runtime handles float32 or int8 to int8", "use --runtime tflm for this model")


def lower_dequantize(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    if inp.dtype != "int8" or out.dtype != "float32":
        raise TinyedgeError(f"operator {op.index} (DEQUANTIZE) converts {inp.dtype} to {out.dtype}; the "
                            f"native runtime handles int8 to float32", "use --runtime tflm for this model")
    in_scale, in_zp = _quant(inp)
    return _unary(op, ctx, DEQUANTIZE, p.QuantizeParams(
        size=out.num_elements, input_zero_point=in_zp, output_zero_point=0, multiplier=0, shift=0,
        scale=q.f32(in_scale)))


def _spatial4(tensor: Tensor) -> tuple[int, int, int, int]:
    """SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND take NHWC or NHC (read as NH1C), as TFLM does."""
    if len(tensor.shape) == 3:
        n, h, c = tensor.shape
        return n, h, 1, c
    return _nhwc(tensor)


def _space_batch(op: Operator, ctx: LoweringContext, kernel: Kernel) -> Step:
    t = ctx.tensors
    inp, out = t[op.inputs[0]], t[op.outputs[0]]
    block = _constant_ints(op, ctx, 1, "block shape").reshape(-1).tolist()
    edges = _constant_ints(op, ctx, 2, "paddings" if kernel is SPACE_TO_BATCH else "crops").reshape(-1, 2)
    if len(block) == 1:
        block = block + [1]
        edges = np.vstack([edges, [[0, 0]]])
    n, h, w, c = _spatial4(inp)
    on, oh, ow, _ = _spatial4(out)
    leading = {"pad_top": 0, "pad_left": 0, "crop_top": 0, "crop_left": 0}
    if kernel is SPACE_TO_BATCH:
        leading.update(pad_top=int(edges[0, 0]), pad_left=int(edges[1, 0]))
    else:
        leading.update(crop_top=int(edges[0, 0]), crop_left=int(edges[1, 0]))
    # TFLM's SPACE_TO_BATCH_ND pads with its params' output_offset, which its prepare step never sets
    # (the zero-initialised arena leaves it 0); pad with 0 to match, not with the zero point.
    return _unary(op, ctx, kernel, p.SpaceBatchParams(
        input_batch=n, input_height=h, input_width=w, depth=c, output_batch=on, output_height=oh,
        output_width=ow, block_height=block[0], block_width=block[1], **leading, pad_value=0))


def lower_space_to_batch_nd(op: Operator, ctx: LoweringContext) -> Step:
    return _space_batch(op, ctx, SPACE_TO_BATCH)


def lower_batch_to_space_nd(op: Operator, ctx: LoweringContext) -> Step:
    return _space_batch(op, ctx, BATCH_TO_SPACE)


@dataclass(frozen=True)
class Lowering:
    lower: Callable[[Operator, LoweringContext], Step | list[Step]]  # a list: one call per output (SPLIT)
    # Input positions that are not int8 data, with the dtypes they take (weights are int8 too; biases
    # int32; the rest are shapes, paddings, axes).
    other_inputs: dict[int, tuple[str, ...]] = field(default_factory=dict)
    # The lowering refuses some forms of the op (a TinyedgeError naming why, e.g. GATHER's run-time
    # indices): unsupported_ops, and with it `auto`, tries it on each such op.
    may_refuse: bool = False
    outputs: tuple[str, ...] = ("int8",)   # the dtypes its outputs may have (ARG_MAX: int32, int64)


from .ops_layout import (lower_gather, lower_resize_bilinear, lower_resize_nearest_neighbor,  # noqa: E402
                         lower_slice, lower_split, lower_split_v, lower_strided_slice, lower_transpose)

from . import ops_elementwise as _elementwise  # noqa: E402  (its lowerings use the helpers above)

from .ops_sequence import (lower_batch_matmul, lower_lstm, lower_svdf,  # noqa: E402
                           lower_transpose_conv)

_BIAS = {2: ("int32",)}
_SHAPE = {1: ("int32", "int64")}

LOWERINGS: dict[str, Lowering] = {
    "CONV_2D": Lowering(lower_conv_2d, _BIAS),
    "DEPTHWISE_CONV_2D": Lowering(lower_depthwise_conv_2d, _BIAS),
    "FULLY_CONNECTED": Lowering(lower_fully_connected, _BIAS),
    "AVERAGE_POOL_2D": Lowering(lower_average_pool_2d),
    "MAX_POOL_2D": Lowering(lower_max_pool_2d),
    "ADD": Lowering(lower_add),
    "MUL": Lowering(lower_mul),
    "RELU": Lowering(lower_relu),
    "RELU6": Lowering(lower_relu6),
    "LOGISTIC": Lowering(lower_logistic),
    "TANH": Lowering(lower_tanh),
    "SOFTMAX": Lowering(lower_softmax),
    "PAD": Lowering(lower_pad, _SHAPE),
    "PADV2": Lowering(lower_pad, _SHAPE),
    "CONCATENATION": Lowering(lower_concatenation),
    "MEAN": Lowering(lower_mean, _SHAPE),
    "QUANTIZE": Lowering(lower_quantize),
    "DEQUANTIZE": Lowering(lower_dequantize),
    "SPACE_TO_BATCH_ND": Lowering(lower_space_to_batch_nd, {1: ("int32",), 2: ("int32",)}),
    "BATCH_TO_SPACE_ND": Lowering(lower_batch_to_space_nd, {1: ("int32",), 2: ("int32",)}),
    "SUB": Lowering(_elementwise.lower_sub),
    "SQUARED_DIFFERENCE": Lowering(_elementwise.lower_squared_difference),
    "MAXIMUM": Lowering(_elementwise.lower_maximum),
    "MINIMUM": Lowering(_elementwise.lower_minimum),
    "PRELU": Lowering(_elementwise.lower_prelu, may_refuse=True),
    "HARD_SWISH": Lowering(_elementwise.lower_hard_swish, may_refuse=True),
    "LEAKY_RELU": Lowering(_elementwise.lower_leaky_relu, may_refuse=True),
    "RSQRT": Lowering(_elementwise.lower_rsqrt),
    "L2_NORMALIZATION": Lowering(_elementwise.lower_l2_normalization, may_refuse=True),
    "LOG_SOFTMAX": Lowering(_elementwise.lower_log_softmax, may_refuse=True),
    "ARG_MAX": Lowering(_elementwise.lower_arg_max, _SHAPE, may_refuse=True, outputs=("int32", "int64")),
    "ARG_MIN": Lowering(_elementwise.lower_arg_min, _SHAPE, may_refuse=True, outputs=("int32", "int64")),
    "TRANSPOSE": Lowering(lower_transpose, {1: ("int32",)}, may_refuse=True),
    "STRIDED_SLICE": Lowering(lower_strided_slice, {1: ("int32",), 2: ("int32",), 3: ("int32",)}, may_refuse=True),
    "SLICE": Lowering(lower_slice, {1: ("int32", "int64"), 2: ("int32", "int64")}, may_refuse=True),
    "SPLIT": Lowering(lower_split, {0: ("int32",)}, may_refuse=True),
    "SPLIT_V": Lowering(lower_split_v, {1: ("int32", "int64"), 2: ("int32",)}, may_refuse=True),
    "GATHER": Lowering(lower_gather, {1: ("int32",)}, may_refuse=True),
    "RESIZE_NEAREST_NEIGHBOR": Lowering(lower_resize_nearest_neighbor, {1: ("int32",)}, may_refuse=True),
    "RESIZE_BILINEAR": Lowering(lower_resize_bilinear, {1: ("int32",)}, may_refuse=True),
    "TRANSPOSE_CONV": Lowering(lower_transpose_conv, {0: ("int32",), 3: ("int32",)}, may_refuse=True),
    "BATCH_MATMUL": Lowering(lower_batch_matmul, may_refuse=True),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": Lowering(lower_lstm, {12: ("int32",), 13: ("int32",), 14: ("int32",), 15: ("int32",), 19: ("int16",)}, may_refuse=True),
    "SVDF": Lowering(lower_svdf, {2: ("int16",), 3: ("int32",), 4: ("int16",)}, may_refuse=True),
}
