"""Lowering of the layout and resampling ops: TRANSPOSE, STRIDED_SLICE, SLICE, SPLIT and SPLIT_V become
strided copies (te_strided_copy_s8, one per output), GATHER with constant indices a block gather, and
RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR read index and weight tables computed here exactly as TFLM
computes them (float32 for nearest, 10-bit fixed point for bilinear). These ops never requantize in
TFLM (the output bytes are input bytes, or for bilinear an interpolation in the input's scale).
RESHAPE, EXPAND_DIMS and SQUEEZE need no kernel: graph.py aliases their buffers."""

from __future__ import annotations

import math

import numpy as np

from ..errors import TinyedgeError
from ..tflite.model import Operator
from . import params as p
from .ir import Kernel, Step, TensorArg
from .ops import MAX_DIMS, LoweringContext, _constant_ints, _contiguous_strides, _nhwc, _unary

STRIDED_COPY = Kernel("te_strided_copy_s8", "te_layout2.c", p.StridedCopyParams)
GATHER = Kernel("te_gather_s8", "te_layout2.c", p.GatherParams)
RESIZE_NEAREST = Kernel("te_resize_nearest_s8", "te_layout2.c", p.ResizeParams)
RESIZE_BILINEAR = Kernel("te_resize_bilinear_s8", "te_layout2.c", p.ResizeParams)

_TFLM = "use --runtime tflm for this model"


def _refuse(op: Operator, what: str, hint: str = _TFLM) -> TinyedgeError:
    return TinyedgeError(f"operator {op.index} ({op.opcode}) {what}", hint)


def _strided_copy(dims: list[int], strides: list[int], offset: int) -> p.StridedCopyParams:
    """The copy of an output of shape `dims` whose element (i...) is input[offset + sum(i_k * strides_k)],
    with unit dimensions dropped and neighbours that walk the input as one merged (fewer, longer runs)."""
    merged: list[list[int]] = []
    for dim, stride in zip(dims, strides):
        if dim == 1:
            continue
        if merged and merged[-1][1] == stride * dim:
            merged[-1] = [merged[-1][0] * dim, stride]
        else:
            merged.append([dim, stride])
    merged = merged or [[1, 1]]
    if len(merged) > MAX_DIMS:
        raise ValueError(f"{len(merged)} dimensions")
    return p.StridedCopyParams(rank=len(merged), output_dims=[d for d, _ in merged],
                               input_strides=[s for _, s in merged], input_offset=int(offset))


def _copy_step(op: Operator, ctx: LoweringContext, output: int, params: p.StridedCopyParams,
               what: str = "params") -> Step:
    return Step(op, STRIDED_COPY, ctx.name(op, what), params, [TensorArg(op.inputs[0]), TensorArg(output)],
                [op.inputs[0]], [output])


def _rank(op: Operator, shape, most: int) -> int:
    if not 1 <= len(shape) <= most:
        raise _refuse(op, f"has a {len(shape)}-D input; TFLM and the native runtime take 1 to {most}")
    return len(shape)


def _check_count(op: Operator, ctx: LoweringContext, output: int, dims: list[int]) -> None:
    if int(np.prod(dims)) != ctx.tensors[output].num_elements:
        raise _refuse(op, f"makes {int(np.prod(dims))} elements but its output "
                      f"'{ctx.tensors[output].name}' holds {ctx.tensors[output].num_elements}",
                      "the model file is inconsistent; export it again")


def lower_transpose(op: Operator, ctx: LoweringContext) -> Step:
    shape = list(ctx.tensors[op.inputs[0]].shape)
    rank = _rank(op, shape, 5)   # TFLM's TRANSPOSE takes up to 5 dimensions
    perm = [int(v) for v in _constant_ints(op, ctx, 1, "permutation").reshape(-1)]
    if sorted(perm) != list(range(rank)):
        raise _refuse(op, f"has the permutation {perm}, not one of its {rank} dimensions",
                      "the model file is inconsistent; export it again")
    strides = _contiguous_strides(shape)
    dims = [shape[axis] for axis in perm]
    _check_count(op, ctx, op.outputs[0], dims)
    return _copy_step(op, ctx, op.outputs[0], _strided_copy(dims, [strides[axis] for axis in perm], 0))


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def _strided_slice_axis(begin: int, end: int, stride: int, size: int, begin_masked: bool, end_masked: bool,
                        shrink: bool) -> tuple[int, int]:
    """TFLM's start and stop of one axis (strided_slice_logic.h's StridedSliceStartForAxis and
    StridedSliceEndForAxis): negative indices count from the end, then clamp, then the masks."""
    low, high = (0, size) if stride > 0 else (-1, size - 1)
    start = _clamp(begin + size if begin < 0 else begin, low, high)
    if begin_masked:
        start = 0 if stride > 0 else size - 1
    if shrink:
        return start, start if start >= size else start + 1
    stop = _clamp(end + size if end < 0 else end, low, high)
    if end_masked:
        stop = size if stride > 0 else -1
    return start, stop


def lower_strided_slice(op: Operator, ctx: LoweringContext) -> Step:
    shape = list(ctx.tensors[op.inputs[0]].shape)
    rank = _rank(op, shape, 4)   # TFLM's STRIDED_SLICE takes up to 4 dimensions
    o = op.options
    for mask, words in (("ellipsis_mask", "an ellipsis mask"), ("new_axis_mask", "a new-axis mask")):
        if o.get(mask, 0):
            raise _refuse(op, f"has {words}, which TFLM ignores")
    if o.get("offset", False):
        raise _refuse(op, "takes its end as an offset from begin, which TFLM ignores")
    begin, end, step = (_constant_ints(op, ctx, position, what).reshape(-1).tolist()
                        for position, what in ((1, "begin"), (2, "end"), (3, "strides")))
    if not len(begin) == len(end) == len(step) == rank:
        raise _refuse(op, f"has {len(begin)} begin, {len(end)} end and {len(step)} stride values for a "
                      f"{rank}-D input", "the model file is inconsistent; export it again")
    input_strides = _contiguous_strides(shape)
    dims, strides, offset = [], [], 0
    for axis in range(rank):
        stride = int(step[axis])
        if stride == 0:
            raise _refuse(op, f"has stride 0 on axis {axis}", "the model file is inconsistent; export it again")
        shrink = bool(o.get("shrink_axis_mask", 0) >> axis & 1)
        start, stop = _strided_slice_axis(int(begin[axis]), int(end[axis]), stride, shape[axis],
                                          bool(o.get("begin_mask", 0) >> axis & 1),
                                          bool(o.get("end_mask", 0) >> axis & 1), shrink)
        count = len(range(start, stop, stride))
        if shrink and count != 1:
            # TFLM's loop takes no element there (a reversed stride, or begin past the end): its output
            # is whatever the buffer held
            raise _refuse(op, f"shrinks axis {axis} to an element it never copies")
        if count == 0:
            raise _refuse(op, f"selects no element on axis {axis}", "the model computes nothing; remove the op")
        dims.append(count)
        strides.append(stride * input_strides[axis])
        offset += start * input_strides[axis]
    _check_count(op, ctx, op.outputs[0], dims)
    return _copy_step(op, ctx, op.outputs[0], _strided_copy(dims, strides, offset))


def lower_slice(op: Operator, ctx: LoweringContext) -> Step:
    shape = list(ctx.tensors[op.inputs[0]].shape)
    rank = _rank(op, shape, 5)   # TFLM's SLICE takes up to 5 dimensions
    begin = _constant_ints(op, ctx, 1, "begin").reshape(-1).tolist()
    size = _constant_ints(op, ctx, 2, "size").reshape(-1).tolist()
    if not len(begin) == len(size) == rank:
        raise _refuse(op, f"has {len(begin)} begin and {len(size)} size values for a {rank}-D input",
                      "the model file is inconsistent; export it again")
    dims = [shape[axis] - int(begin[axis]) if size[axis] == -1 else int(size[axis]) for axis in range(rank)]
    if any(b < 0 or d < 0 or b + d > n for b, d, n in zip(begin, dims, shape)):
        raise _refuse(op, f"slices {list(zip(begin, dims))} (begin, size) out of the shape {shape}",
                      "the model file is inconsistent; export it again")
    strides = _contiguous_strides(shape)
    _check_count(op, ctx, op.outputs[0], dims)
    return _copy_step(op, ctx, op.outputs[0],
                      _strided_copy(dims, strides, sum(int(b) * s for b, s in zip(begin, strides))))


def _split(op: Operator, ctx: LoweringContext, data_position: int, axis_position: int) -> list[Step]:
    """One strided copy per output; like TFLM, each output's own shape says how much it takes."""
    source = op.inputs[data_position]
    shape = list(ctx.tensors[source].shape)
    rank = _rank(op, shape, MAX_DIMS)
    axis = int(_constant_ints(op, ctx, axis_position, "axis").reshape(-1)[0])
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        raise _refuse(op, f"splits axis {axis} of a {rank}-D input", "the model file is inconsistent; export it again")
    sizes = []
    for output in op.outputs:
        out_shape = list(ctx.tensors[output].shape)
        if len(out_shape) != rank or any(out_shape[d] != shape[d] for d in range(rank) if d != axis):
            raise _refuse(op, f"has an output of shape {out_shape} that is no part of its input {shape}",
                          "the model file is inconsistent; export it again")
        sizes.append(out_shape[axis])
    if sum(sizes) != shape[axis]:
        raise _refuse(op, f"splits {shape[axis]} into {sizes}", "the model file is inconsistent; export it again")
    strides = _contiguous_strides(shape)
    steps, start = [], 0
    for k, (output, size) in enumerate(zip(op.outputs, sizes)):
        dims = shape[:axis] + [size] + shape[axis + 1:]
        params = _strided_copy(dims, strides, start * strides[axis])
        steps.append(Step(op, STRIDED_COPY, ctx.name(op, f"params{k}"), params,
                          [TensorArg(source), TensorArg(output)], [source], [output]))
        start += size
    return steps


def lower_split(op: Operator, ctx: LoweringContext) -> list[Step]:
    return _split(op, ctx, data_position=1, axis_position=0)


def lower_split_v(op: Operator, ctx: LoweringContext) -> list[Step]:
    return _split(op, ctx, data_position=0, axis_position=2)


def lower_gather(op: Operator, ctx: LoweringContext) -> Step:
    t = ctx.tensors
    inp, coords = t[op.inputs[0]], t[op.inputs[1]]
    if coords.data is None:
        raise _refuse(op, "reads its indices at run time; the native runtime takes constant ones")
    shape = list(inp.shape)
    rank = _rank(op, shape, MAX_DIMS)
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    batch_dims = int(op.options.get("batch_dims", 0))
    batch_dims = batch_dims + len(coords.shape) if batch_dims < 0 else batch_dims
    if batch_dims != 0:
        raise _refuse(op, f"has batch_dims {batch_dims}; the native runtime takes 0")
    if not 0 <= axis < rank:
        raise _refuse(op, f"gathers along axis {axis} of a {rank}-D input",
                      "the model file is inconsistent; export it again")
    indices = np.asarray(coords.data).astype(np.int64).reshape(-1)
    bad = indices[(indices < 0) | (indices >= shape[axis])]
    if bad.size:
        # TFLM only checks this in debug builds and then reads outside the tensor
        raise _refuse(op, f"has the index {int(bad[0])} outside [0, {shape[axis]}) on axis {axis}",
                      "the model file is inconsistent; export it again")
    inner = int(np.prod(shape[axis + 1:]))
    outer = int(np.prod(shape[:axis]))
    _check_count(op, ctx, op.outputs[0], [outer, indices.size, inner])
    return _unary(op, ctx, GATHER, p.GatherParams(
        outer_size=outer, axis_size=shape[axis], inner_size=inner, count=int(indices.size),
        indices=ctx.int32_array(op, "indices", indices)))


def _resize_shapes(op: Operator, ctx: LoweringContext) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    t = ctx.tensors
    n, h, w, c = _nhwc(t[op.inputs[0]])
    on, oh, ow, oc = _nhwc(t[op.outputs[0]])
    size = _constant_ints(op, ctx, 1, "size").reshape(-1).tolist()
    if size != [oh, ow] or (on, oc) != (n, c) or min(h, w, oh, ow) < 1:
        raise _refuse(op, f"resizes {[n, h, w, c]} to {size} but its output is {[on, oh, ow, oc]}",
                      "the model file is inconsistent; export it again")
    return (n, h, w, c), (oh, ow)


def nearest_indices(output_size: int, input_size: int, align_corners: bool, half_pixel_centers: bool) -> list[int]:
    """TFLM's GetNearestNeighbor for every output position, in its float32 arithmetic."""
    f32 = np.float32
    scale = (f32(input_size - 1) / f32(output_size - 1) if align_corners and output_size > 1
             else f32(input_size) / f32(output_size))
    offset = f32(0.5) if half_pixel_centers else f32(0.0)
    indices = []
    for position in range(output_size):
        value = float((f32(position) + offset) * scale)   # float32 product, exact in a double
        # TfLiteRound rounds half away from zero; the value is never negative
        index = min(math.floor(value + 0.5) if align_corners else math.floor(value), input_size - 1)
        indices.append(max(index, 0) if half_pixel_centers else index)
    return indices


def _c_divide(a: int, b: int) -> int:
    """C's integer division (truncates toward zero)."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def bilinear_tables(output_size: int, input_size: int, align_corners: bool,
                    half_pixel_centers: bool) -> tuple[list[int], list[int], list[int]]:
    """TFLM's ResizeBilinearInteger along one axis: the scale in 1/1024ths rounded, then for every output
    position the lower and upper input positions and the upper one's weight (ComputeInterpolationValuesInteger)."""
    if align_corners and output_size > 1:
        scale = _c_divide(1024 * (input_size - 1) + (output_size - 1) // 2, output_size - 1)
    else:
        scale = _c_divide(1024 * input_size + output_size // 2, output_size)
    lower, upper, fraction = [], [], []
    for position in range(output_size):
        scaled = position * scale + _c_divide(scale, 2) - 512 if half_pixel_centers else position * scale
        low = max(_c_divide(scaled, 1024), 0)
        lower.append(low)
        upper.append(min(_c_divide(scaled + 1023, 1024), input_size - 1))
        fraction.append(scaled - 1024 * low)
    return lower, upper, fraction


def _resize(op: Operator, ctx: LoweringContext, bilinear: bool) -> Step:
    (n, h, w, c), (oh, ow) = _resize_shapes(op, ctx)
    align = bool(op.options.get("align_corners", False))
    half = bool(op.options.get("half_pixel_centers", False))
    if align and half:
        raise _refuse(op, "has both align_corners and half_pixel_centers, which TFLM refuses",
                      "export the model with one of them")
    tables = {}
    for axis, out_size, in_size in (("y", oh, h), ("x", ow, w)):
        if bilinear:
            lower, upper, fraction = bilinear_tables(out_size, in_size, align, half)
        else:
            lower, upper, fraction = nearest_indices(out_size, in_size, align, half), None, None
        if any(not 0 <= i < in_size for i in lower + (upper or [])):
            # TFLM's bounds there are unclamped: it would read outside the image
            raise _refuse(op, f"resizes {in_size} to {out_size} along {axis}, where TFLM reads outside the "
                          f"input", "TFLM's result is undefined there too; resize in smaller steps")
        tables[f"{axis}_lower"] = ctx.int32_array(op, f"{axis}_lower", lower)
        tables[f"{axis}_upper"] = None if upper is None else ctx.int32_array(op, f"{axis}_upper", upper)
        tables[f"{axis}_fraction"] = None if fraction is None else ctx.int32_array(op, f"{axis}_fraction", fraction)
    return _unary(op, ctx, RESIZE_BILINEAR if bilinear else RESIZE_NEAREST, p.ResizeParams(
        batches=n, input_height=h, input_width=w, depth=c, output_height=oh, output_width=ow, **tables))


def lower_resize_nearest_neighbor(op: Operator, ctx: LoweringContext) -> Step:
    return _resize(op, ctx, bilinear=False)


def lower_resize_bilinear(op: Operator, ctx: LoweringContext) -> Step:
    return _resize(op, ctx, bilinear=True)
