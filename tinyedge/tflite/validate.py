"""Validation of a decoded .tflite model before anything uses it: the checks TFLite's interpreter
builder and TFLite Micro's allocator and kernel Prepare functions make, plus the shape relations
tinyedge's own code (inspect's MAC counts, the native runtime's generated C) relies on.

`parse` calls `check_model` on every model, so no verb (inspect, infer with either runtime, bench,
build's firmware step) sees a model that fails here, and every verb refuses it with the same one-line
reason. What is checked:

- tensors: a name that is text (no control characters: a damaged length runs into other bytes); a
  known type; no negative dimension; at most 2 GB; a buffer index in range; quantization
  with as many zero points as scales, a quantized dimension inside the shape, and either one scale or
  one per entry of the quantized dimension (the rule of TFLite's InterpreterBuilder::ParseQuantization;
  TFLM's kernels check the same for their filters); scales finite and positive and zero points inside
  the type's range for integer tensors;
- the graph: subgraph input and output indices in range; operator input indices in range or -1
  (absent optional input), output indices in range; every tensor an operator reads is a constant, a
  graph input, a variable or written by an earlier operator;
- operators: a builtin code the schema knows, a version from 1 to the highest that TFLite Micro
  supports (tflite/tflm_ops.py); for the ops tinyedge computes on (those inspect counts MACs for and
  those the native runtime runs): the number of inputs and outputs, required inputs present, the
  options table of the op's own kind with known enum values and positive strides, dilations and
  filter sizes, ranks, output shapes consistent with the input shapes (what TFLM's Prepare
  functions check or silently assume, reading out of bounds when the file lies), biases one per output
  channel, and the quantization rules of TFLM's Prepare functions (per-channel filters along the output
  channels, pooling output quantized as its input, int8 softmax output at 1/256 and -128, no fused
  activation on CONCATENATION).

The native runtime's own limits (int8 data, constant weights, the kernels it has) are checked when it
lowers the model (codegen/lowering.py, codegen/ops.py): those models are valid, only not for it.

Shapes of SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND and RESHAPE are not checked against each other: the
converter writes stale batch sizes there for models with a dynamic batch (see codegen/ops.py).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import TinyedgeError

HINT = "the file is corrupt; export the model again"
MAX_TENSOR_BYTES = 2**31 - 1     # TFLM sizes tensors in int

_INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "int4": (-8, 7)}
_KNOWN_ACTIVATIONS = {"NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"}
_UNARY_SAME_SHAPE = {"RELU", "RELU6", "RELU_N1_TO_1", "LOGISTIC", "TANH", "SOFTMAX", "QUANTIZE",
                     "DEQUANTIZE", "HARD_SWISH", "LEAKY_RELU", "ABS", "NEG", "ELU", "LOG_SOFTMAX"}

# op -> (fewest inputs, most inputs or None for any number, outputs, required input positions,
#        options kind or None when the op has no options it needs)
_SIGNATURES: dict[str, tuple[int, int | None, int, tuple[int, ...], str | None]] = {
    "CONV_2D": (2, 3, 1, (0, 1), "Conv2DOptions"),
    "DEPTHWISE_CONV_2D": (2, 3, 1, (0, 1), "DepthwiseConv2DOptions"),
    "FULLY_CONNECTED": (2, 3, 1, (0, 1), "FullyConnectedOptions"),
    "TRANSPOSE_CONV": (3, 4, 1, (0, 1, 2), "TransposeConvOptions"),
    "BATCH_MATMUL": (2, 2, 1, (0, 1), None),
    "AVERAGE_POOL_2D": (1, 1, 1, (0,), "Pool2DOptions"),
    "MAX_POOL_2D": (1, 1, 1, (0,), "Pool2DOptions"),
    "ADD": (2, 2, 1, (0, 1), None),
    "MUL": (2, 2, 1, (0, 1), None),
    "SUB": (2, 2, 1, (0, 1), None),
    "RELU": (1, 1, 1, (0,), None),
    "RELU6": (1, 1, 1, (0,), None),
    "LOGISTIC": (1, 1, 1, (0,), None),
    "TANH": (1, 1, 1, (0,), None),
    "SOFTMAX": (1, 1, 1, (0,), "SoftmaxOptions"),
    "QUANTIZE": (1, 1, 1, (0,), None),
    "DEQUANTIZE": (1, 1, 1, (0,), None),
    "PAD": (2, 2, 1, (0, 1), None),
    "PADV2": (2, 3, 1, (0, 1), None),
    "MEAN": (2, 2, 1, (0, 1), None),
    "CONCATENATION": (1, None, 1, (), "ConcatenationOptions"),
    "RESHAPE": (1, 2, 1, (0,), None),
    "EXPAND_DIMS": (2, 2, 1, (0, 1), None),
    "SQUEEZE": (1, 1, 1, (0,), None),
    "SPACE_TO_BATCH_ND": (3, 3, 1, (0, 1, 2), None),
    "BATCH_TO_SPACE_ND": (3, 3, 1, (0, 1, 2), None),
}
# Options that ops take when present (the converter writes them; TFLM reads defaults when absent).
_OPTIONAL_OPTIONS = {"ADD": "AddOptions", "MUL": "MulOptions", "SUB": "SubOptions",
                     "MEAN": "ReducerOptions", "PAD": "PadOptions", "PADV2": "PadV2Options",
                     "RESHAPE": "ReshapeOptions", "SQUEEZE": "SqueezeOptions",
                     "BATCH_MATMUL": "BatchMatMulOptions", "QUANTIZE": "QuantizeOptions",
                     "DEQUANTIZE": "DequantizeOptions", "EXPAND_DIMS": "ExpandDimsOptions",
                     "SPACE_TO_BATCH_ND": "SpaceToBatchNDOptions",
                     "BATCH_TO_SPACE_ND": "BatchToSpaceNDOptions"}


class _Damaged(Exception):
    """One failed rule; `check_model` turns it into the user's one-line TinyedgeError."""


class _Newer(Exception):
    """An op version above TFLM's table: corrupt, or from a converter newer than the pinned one."""


def _label(tensor) -> str:
    name = tensor.name.split(";")[0]
    return f"tensor {tensor.index} '{name[:60]}'"


def check_model(model, source: str = "model", buffer_count: int | None = None) -> None:
    """Raise one TinyedgeError naming the first rule the model breaks; return None when it passes."""
    try:
        for sg_index, subgraph in enumerate(model.subgraphs):
            where = "" if len(model.subgraphs) == 1 else f"subgraph {sg_index}: "
            try:
                _check_subgraph(subgraph, buffer_count)
            except _Damaged as exc:
                raise _Damaged(f"{where}{exc}") from None
    except _Damaged as exc:
        raise TinyedgeError(f"{source} is a damaged TFLite model ({exc})", HINT) from None
    except _Newer as exc:
        raise TinyedgeError(f"{source}: {exc}", "the file is corrupt or comes from a converter newer than "
                            "TFLite Micro; export it again with the pinned TensorFlow") from None


def _check_subgraph(subgraph, buffer_count: int | None) -> None:
    tensors = subgraph.tensors
    for tensor in tensors:
        _check_tensor(tensor, buffer_count)
    for role, indices in (("input", subgraph.inputs), ("output", subgraph.outputs)):
        for index in indices:
            if not 0 <= index < len(tensors):
                raise _Damaged(f"the graph {role} is tensor {index}, but there are {len(tensors)} tensors")
    for op in subgraph.operators:
        _check_operator(op, tensors)
    # Every tensor an operator reads holds something: a constant, a graph input, a variable, or what
    # an earlier operator wrote (TFLM would read whatever its arena held).
    written = set(subgraph.inputs)
    for op in subgraph.operators:
        for index in op.inputs:
            tensor = tensors[index] if index >= 0 else None
            if tensor is not None and index not in written and not tensor.is_constant and not tensor.is_variable:
                raise _Damaged(f"operator {op.index} ({op.opcode}) reads {_label(tensor)}, which is neither a "
                               f"constant nor a graph input nor written by an earlier operator")
        written.update(op.outputs)


def _check_tensor(tensor, buffer_count: int | None) -> None:
    from .model import DTYPE_NAMES
    if tensor.dtype not in DTYPE_NAMES:
        raise _Damaged(f"{_label(tensor)} has an unknown type ({tensor.dtype})")
    if any(ord(ch) < 32 or ch in "\x7f\ufffd" for ch in tensor.name):  # its length or bytes are damaged
        raise _Damaged(f"tensor {tensor.index} has a name that is not text (control characters or "
                       f"invalid UTF-8)")
    if any(d < 0 for d in tensor.shape):
        raise _Damaged(f"{_label(tensor)} has a negative dimension in its shape {list(tensor.shape)}")
    if tensor.dtype not in ("string", "resource", "variant") and tensor.nbytes > MAX_TENSOR_BYTES:
        raise _Damaged(f"{_label(tensor)} of shape {list(tensor.shape)} would need {tensor.nbytes:,} bytes")
    if buffer_count is not None and not 0 <= tensor.buffer < max(buffer_count, 1):
        raise _Damaged(f"{_label(tensor)} refers to buffer {tensor.buffer}, but there are {buffer_count} buffers")
    quant = tensor.quantization
    if quant is None:
        return
    scales, zeros = quant.scale, quant.zero_point
    rank = len(tensor.shape)
    if rank and not 0 <= quant.quantized_dimension < rank:
        raise _Damaged(f"{_label(tensor)} is quantized along dimension {quant.quantized_dimension} of a "
                       f"{rank}-D shape")
    if scales.size != 1 and rank and scales.size != tensor.shape[quant.quantized_dimension]:
        raise _Damaged(f"{_label(tensor)} of shape {list(tensor.shape)} has {scales.size} quantization "
                       f"scales for the {tensor.shape[quant.quantized_dimension]} channels of its dimension "
                       f"{quant.quantized_dimension}")
    if zeros.size != scales.size:
        raise _Damaged(f"{_label(tensor)} has {zeros.size} zero points for {scales.size} scales")
    limits = _INT_RANGES.get(tensor.dtype)
    if limits is not None:
        if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
            bad = next(float(s) for s in scales if not (math.isfinite(float(s)) and s > 0))
            raise _Damaged(f"{_label(tensor)} has a quantization scale of {bad:g}")
        if np.any(zeros < limits[0]) or np.any(zeros > limits[1]):
            bad = next(int(z) for z in zeros if not limits[0] <= z <= limits[1])
            raise _Damaged(f"{_label(tensor)} has a zero point of {bad}, outside {tensor.dtype}")


def _check_operator(op, tensors) -> None:
    from .tflm_ops import max_version, support
    from .model import BUILTIN_NAMES
    what = f"operator {op.index} ({op.opcode})"
    if not op.custom and op.opcode not in BUILTIN_NAMES:
        raise _Damaged(f"operator {op.index} has the unknown builtin code {op.opcode.split('_')[-1]}")
    if op.version < 1:
        raise _Damaged(f"{what} has version {op.version}")
    limit = None if op.custom else max_version(op.opcode)
    if limit is not None and op.version > limit:
        raise _Newer(support(op.opcode, op.version, custom=False))
    for index in op.inputs:
        if not -1 <= index < len(tensors):
            raise _Damaged(f"{what} reads tensor {index}, but there are {len(tensors)} tensors")
    if not op.outputs:
        raise _Damaged(f"{what} has no output")
    for index in op.outputs:
        if not 0 <= index < len(tensors):
            raise _Damaged(f"{what} writes tensor {index}, but there are {len(tensors)} tensors")
    signature = _SIGNATURES.get(op.opcode) if not op.custom else None
    if signature is None:
        return
    fewest, most, outputs, required, options_kind = signature
    if len(op.inputs) < fewest or most is not None and len(op.inputs) > most:
        expected = f"{fewest}" if fewest == most else (f"{fewest} to {most}" if most else f"{fewest} or more")
        raise _Damaged(f"{what} has {len(op.inputs)} inputs, it takes {expected}")
    if len(op.outputs) != outputs:
        raise _Damaged(f"{what} has {len(op.outputs)} outputs, it makes {outputs}")
    for position in required:
        if op.inputs[position] < 0:
            raise _Damaged(f"{what} lacks its input {position}")
    kind = options_kind or _OPTIONAL_OPTIONS.get(op.opcode)
    if options_kind and not op.options_kind:
        raise _Damaged(f"{what} has no {options_kind}")
    if kind and op.options_kind and op.options_kind != kind:
        raise _Damaged(f"{what} has {op.options_kind} instead of {kind}")
    if op.options_kind and not kind:
        raise _Damaged(f"{what} has {op.options_kind}, which it does not take")
    _check_options(op, what)
    _check_shapes(op, tensors, what)
    _check_quantization(op, tensors, what)


def _check_options(op, what: str) -> None:
    o = op.options
    if "padding" in o and o["padding"] not in ("SAME", "VALID"):
        raise _Damaged(f"{what} has the unknown padding {o['padding']}")
    activation = o.get("fused_activation_function")
    if activation is not None and activation not in _KNOWN_ACTIVATIONS:
        raise _Damaged(f"{what} has the unknown fused activation {activation}")
    for key in ("stride_h", "stride_w", "dilation_h_factor", "dilation_w_factor", "filter_height",
                "filter_width"):
        if key in o and not 0 < o[key] < 2**16:
            raise _Damaged(f"{what} has {key.replace('_', ' ')} {o[key]}")
    if op.opcode == "SOFTMAX" and not (math.isfinite(o.get("beta", 1.0)) and o.get("beta", 1.0) > 0):
        raise _Damaged(f"{what} has beta {o.get('beta')}")


def _out_size(padding: str, size: int, kernel: int, stride: int, dilation: int = 1) -> int:
    """TFLM's ComputeOutSize."""
    effective = (kernel - 1) * dilation + 1
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size - effective + stride) // stride


def _rank(op, tensors, position: int, ranks: tuple[int, ...], what: str, output: bool = False):
    tensor = tensors[op.outputs[position] if output else op.inputs[position]]
    if len(tensor.shape) not in ranks:
        role = "output" if output else ("input" if position == 0 else f"input {position}")
        need = " or ".join(f"{r}-D" for r in ranks)
        raise _Damaged(f"{what} {role} {_label(tensor)} has shape {list(tensor.shape)}, it needs {need}")
    return tensor


def _same(what: str, label: str, found, expected) -> None:
    if list(found) != list(expected):
        raise _Damaged(f"{what} output has {label} {list(found)}, its inputs make {list(expected)}")


def _check_bias(op, tensors, position: int, channels: int, what: str) -> None:
    if len(op.inputs) > position and op.inputs[position] >= 0:
        bias = tensors[op.inputs[position]]
        if bias.num_elements != channels:
            raise _Damaged(f"{what} has {bias.num_elements} biases for {channels} output channels")


def _check_shapes(op, tensors, what: str) -> None:
    name, o = op.opcode, op.options
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        inp = _rank(op, tensors, 0, (4,), what)
        flt = _rank(op, tensors, 1, (4,), what)
        out = _rank(op, tensors, 0, (4,), what, output=True)
        n, h, w, c = inp.shape
        oc = out.shape[3]
        if name == "CONV_2D":
            if flt.shape[3] == 0 or c % flt.shape[3] or flt.shape[0] != oc or oc % (c // flt.shape[3] or 1):
                raise _Damaged(f"{what} filter {list(flt.shape)} does not fit input {list(inp.shape)} and "
                               f"output {list(out.shape)}")
        elif flt.shape[0] != 1 or flt.shape[3] != oc or c == 0 or oc % c:
            raise _Damaged(f"{what} filter {list(flt.shape)} does not fit input {list(inp.shape)} and "
                           f"output {list(out.shape)}")
        elif o.get("depth_multiplier", 0) and o["depth_multiplier"] * c != oc:
            raise _Damaged(f"{what} has depth multiplier {o['depth_multiplier']} for {c} input and {oc} "
                           f"output channels")
        expected = (n, _out_size(o["padding"], h, flt.shape[1], o["stride_h"], o.get("dilation_h_factor", 1)),
                    _out_size(o["padding"], w, flt.shape[2], o["stride_w"], o.get("dilation_w_factor", 1)), oc)
        _same(what, "shape", out.shape, expected)
        _check_bias(op, tensors, 2, oc, what)
    elif name == "FULLY_CONNECTED":
        inp = tensors[op.inputs[0]]
        flt = _rank(op, tensors, 1, (2,), what)
        out = tensors[op.outputs[0]]
        units, depth = flt.shape
        if depth == 0 or inp.num_elements % depth:
            raise _Damaged(f"{what} input {list(inp.shape)} is not a whole number of rows of {depth}")
        rows = inp.num_elements // depth
        if not out.shape or out.shape[-1] != units or out.num_elements != rows * units:
            raise _Damaged(f"{what} output has shape {list(out.shape)}, its inputs make {rows} rows of "
                           f"{units}")
        _check_bias(op, tensors, 2, units, what)
    elif name == "TRANSPOSE_CONV":
        _rank(op, tensors, 1, (4,), what)
        _rank(op, tensors, 2, (4,), what)
        _rank(op, tensors, 0, (4,), what, output=True)
    elif name == "BATCH_MATMUL":
        _rank(op, tensors, 0, (2, 3, 4, 5, 6), what)
        _rank(op, tensors, 1, (2, 3, 4, 5, 6), what)
    elif name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        inp = _rank(op, tensors, 0, (4,), what)
        out = _rank(op, tensors, 0, (4,), what, output=True)
        n, h, w, c = inp.shape
        expected = (n, _out_size(o["padding"], h, o["filter_height"], o["stride_h"]),
                    _out_size(o["padding"], w, o["filter_width"], o["stride_w"]), c)
        _same(what, "shape", out.shape, expected)
    elif name in ("ADD", "MUL", "SUB"):
        a, b = tensors[op.inputs[0]].shape, tensors[op.inputs[1]].shape
        out = tensors[op.outputs[0]].shape
        try:
            expected = np.broadcast_shapes(tuple(a), tuple(b))
        except ValueError:
            raise _Damaged(f"{what} inputs of shapes {list(a)} and {list(b)} do not broadcast") from None
        _same(what, "shape", out, expected)
    elif name in _UNARY_SAME_SHAPE:
        inp, out = tensors[op.inputs[0]], tensors[op.outputs[0]]
        if inp.num_elements != out.num_elements or (name == "SOFTMAX" and inp.shape[-1:] != out.shape[-1:]):
            _same(what, "shape", out.shape, inp.shape)
    elif name in ("PAD", "PADV2"):
        inp, out, pads = tensors[op.inputs[0]], tensors[op.outputs[0]], tensors[op.inputs[1]]
        if pads.is_constant:
            values = np.asarray(pads.data).astype(np.int64).reshape(-1)
            if values.size != 2 * len(inp.shape) or np.any(values < 0):
                raise _Damaged(f"{what} paddings {values.tolist()} do not fit input {list(inp.shape)}")
            values = values.reshape(-1, 2)
            _same(what, "shape", out.shape, [d + int(p.sum()) for d, p in zip(inp.shape, values)])
    elif name == "CONCATENATION":
        out = tensors[op.outputs[0]]
        if any(i < 0 for i in op.inputs):
            raise _Damaged(f"{what} lacks one of its inputs")
        parts = [tensors[i] for i in op.inputs]
        rank = len(out.shape)
        axis = o.get("axis", 0)
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis < rank or any(len(t.shape) != rank for t in parts):
            raise _Damaged(f"{what} axis {o.get('axis')} does not fit its {rank}-D tensors")
        expected = list(out.shape)
        expected[axis] = sum(t.shape[axis] for t in parts)
        others = [d for i, d in enumerate(out.shape) if i != axis]
        for t in parts:
            if [d for i, d in enumerate(t.shape) if i != axis] != others:
                raise _Damaged(f"{what} input {_label(t)} of shape {list(t.shape)} does not fit output "
                               f"{list(out.shape)}")
        _same(what, "shape", out.shape, expected)
    elif name == "MEAN":
        inp, out, axes = tensors[op.inputs[0]], tensors[op.outputs[0]], tensors[op.inputs[1]]
        rank = len(inp.shape)
        if axes.is_constant:
            values = np.asarray(axes.data).astype(np.int64).reshape(-1)
            if np.any(values < -rank) or np.any(values >= rank):
                raise _Damaged(f"{what} axes {values.tolist()} do not fit input {list(inp.shape)}")
            reduced = {int(a) % rank for a in values} if rank else set()
            kept = int(np.prod([d for i, d in enumerate(inp.shape) if i not in reduced]))
            if out.num_elements != kept:
                raise _Damaged(f"{what} output has shape {list(out.shape)}, its input and axes make "
                               f"{kept} values")


def _check_quantization(op, tensors, what: str) -> None:
    """The quantization rules of TFLM's Prepare functions for these ops (pooling_common.cc,
    softmax_common.cc, concatenation.cc, conv_common.cc / depthwise_conv_common.cc)."""
    name = op.opcode
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        quant = tensors[op.inputs[1]].quantization
        channel_dimension = 0 if name == "CONV_2D" else 3
        if quant is not None and quant.per_channel and quant.quantized_dimension != channel_dimension:
            raise _Damaged(f"{what} filter is quantized along dimension {quant.quantized_dimension}, not "
                           f"along its output channels (dimension {channel_dimension})")
    elif name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        inp, out = tensors[op.inputs[0]], tensors[op.outputs[0]]
        if inp.dtype in ("int8", "int16") and inp.quantization and out.quantization:
            if abs(float(inp.quantization.scale[0]) - float(out.quantization.scale[0])) > 1e-6 \
                    or int(inp.quantization.zero_point[0]) != int(out.quantization.zero_point[0]):
                raise _Damaged(f"{what} output is quantized differently from its input")
    elif name == "SOFTMAX":
        inp, out = tensors[op.inputs[0]], tensors[op.outputs[0]]
        if inp.dtype == out.dtype == "int8" and out.quantization is not None:
            if int(out.quantization.zero_point[0]) != -128 or \
                    np.float32(out.quantization.scale[0]) != np.float32(1.0 / 256):
                raise _Damaged(f"{what} output is not quantized with scale 1/256 and zero point -128")
    elif name == "CONCATENATION":
        if op.options.get("fused_activation_function", "NONE") != "NONE":
            raise _Damaged(f"{what} has the fused activation {op.options['fused_activation_function']}")
