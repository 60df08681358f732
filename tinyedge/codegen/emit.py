"""C99 for a lowered graph, `<prefix>_model.h` and `<prefix>_model.c`, rendered once from the typed
steps by templates/native/*.j2; and the flash figures, counted from the typed arrays and structs."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from .. import __version__, templating
from ..tflite.model import TFLiteModel
from .ir import ArrayArg, NullArg, ScratchArg, Step, TensorArg, TensorListArg
from .lowering import LoweredGraph, Storage
from .layer_names import short_layer_name
from .params import ARRAY_TYPES, REQUANT, SIZE_T, ConstArray, CType, FieldKind, Struct

C_TYPES = {"int8": "int8_t", "int32": "int32_t", "float32": "float", "int16": "int16_t", "uint8": "uint8_t",
           "int64": "int64_t"}
ROW_BYTES = 16   # an initializer row holds 16 int8 values, 8 wider ones


def c_hex(value: int, ctype: CType) -> str:
    """An integer as a C hex literal of its type's width (0x12, -0x0d, 0x0000ABCDu) whose value is the
    same wherever int is 16 bits (AVR): there a hex literal above 0x7fff may be an unsigned int, whose
    negation wraps, so such negative values are long (L), and a type's most negative value, whose
    magnitude does not fit the type, is an expression."""
    digits = 2 * ctype.size
    if np.issubdtype(ctype.dtype, np.unsignedinteger):
        return f"0x{value:0{digits}X}u"
    if value == np.iinfo(ctype.dtype).min and ctype.size >= 2:
        return f"(-0x{(-value - 1):0{digits}x} - 1)"
    if value < 0:
        return f"-0x{-value:0{digits}x}" + ("L" if -value > 0x7FFF else "")
    return f"0x{value:0{digits}x}"


def c_initializer(array: ConstArray) -> str:
    """The values between an array's braces: a te_requant entry a row; weights in hex, other tables
    (multipliers, shifts, lookup tables) in decimal."""
    if array.ctype is REQUANT:
        return ",\n    ".join("{" + ", ".join(map(str, entry)) + "}" for entry in array.values.tolist())
    values = array.values.reshape(-1).tolist()
    spell = (lambda v: c_hex(v, array.ctype)) if array.weights else str
    per_row = ROW_BYTES if array.ctype.size == 1 else ROW_BYTES // 2
    rows = [", ".join(map(spell, values[i:i + per_row])) for i in range(0, len(values), per_row)]
    return ",\n    ".join(rows) if rows else "0"


def _c_member(kind: FieldKind, value) -> str:
    if kind.pointer:
        return "NULL" if value is None else value.name
    if isinstance(value, float):
        return repr(value) + "f" if np.isfinite(value) else "0.0f"
    if isinstance(value, (list, tuple)):
        return "{" + ", ".join(str(int(v)) for v in value) + "}" if value else "{0}"
    return str(int(value))


def c_members(params: Struct) -> str:
    """A struct's initializers, every member in declaration order, each named in a comment (C++17
    has no designated initializers)."""
    return ",\n    ".join(f"/* .{name} */ {_c_member(kind, getattr(params, name))}"
                           for name, kind, _ in params.members())


def render(template: str, **context) -> str:
    return templating.render(template, context, compact=True,
                             filters={"c_initializer": c_initializer, "c_members": c_members})


# -- what the templates see -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Pointer:
    """A resolved call argument: a tensor's storage, a constant array, or NULL."""
    kind: str            # "constant", "input", "output", "arena", "array", "null"
    index: int = 0       # tensor index (constant), I/O position, or arena offset
    ctype: str = ""
    name: str = ""


def _tensor_pointer(storage: Storage) -> _Pointer:
    return _Pointer(storage.kind, storage.index, C_TYPES[storage.dtype])


def _resolve(arg, step_position: int, lowered: LoweredGraph) -> _Pointer:
    if isinstance(arg, TensorArg):
        return _tensor_pointer(lowered.storage[arg.tensor])
    if isinstance(arg, ArrayArg):
        return _Pointer("array", name=arg.array.name)
    if isinstance(arg, ScratchArg):
        return _Pointer("arena", lowered.scratch[step_position], "int8_t")
    if isinstance(arg, NullArg):
        return _Pointer("null")
    raise TypeError(f"no C for argument {arg!r}")


@dataclass(frozen=True)
class _StepView:
    index: int           # the step's position: what TE_STEP_DONE gets
    op: object
    name: str
    function: str
    params: Struct
    arrays: list[ConstArray]
    layer: str           # short_layer_name of the step's output tensor
    tensor_list: list[_Pointer]
    args: list[_Pointer]
    output: _Pointer     # the step's output (its first written tensor), for TE_STEP_DONE
    output_bytes: int


def _view(step: Step, position: int, lowered: LoweredGraph, tensors) -> _StepView:
    args = list(step.args)
    tensor_list: list[_Pointer] = []
    if args and isinstance(args[0], TensorListArg):   # the template declares it as the first argument
        tensor_list = [_tensor_pointer(lowered.storage[i]) for i in args.pop(0).tensors]
    if any(isinstance(a, TensorListArg) for a in args):
        raise TypeError(f"{step.kernel.function}: a tensor list is only taken as the first argument")
    return _StepView(position, step.op, step.name, step.kernel.function, step.params, step.arrays,
                     short_layer_name(tensors[step.writes[0]].name), tensor_list,
                     [_resolve(a, position, lowered) for a in args],
                     _tensor_pointer(lowered.storage[step.writes[0]]), tensors[step.writes[0]].nbytes)


@dataclass(frozen=True)
class _IO:
    nbytes: int
    num_elements: int
    ctype: str
    shape: list[int]
    scale: float         # 0.0 for a tensor that is not quantized (float I/O)
    zero_point: int

    @property
    def quantized_int8(self) -> bool:
        """The model header gives it a quantize / dequantize helper."""
        return self.ctype == "int8_t" and self.scale > 0


def _converters(inputs: list[_IO], outputs: list[_IO], prefix: str, single: bool) -> list[dict]:
    """The header's quantize_input / dequantize_output helpers, one per int8 input or output
    (numbered unless the model has one input and one output)."""
    helpers = []
    for kind, group in (("input", inputs), ("output", outputs)):
        for position, tensor in enumerate(group):
            if tensor.quantized_int8:
                function = "quantize_input" if kind == "input" else "dequantize_output"
                helpers.append({"quantize": kind == "input", "function": function + ("" if single else str(position)),
                                "macro": f"{prefix.upper()}_{kind.upper()}{position}"})
    return helpers


def constant_tensors(model: TFLiteModel, lowered: LoweredGraph, prefix: str) -> list[ConstArray]:
    """The model's constant tensors the steps read, as flash arrays."""
    tensors = model.main.tensors
    arrays = []
    for index in sorted({i for i, s in lowered.storage.items() if s.kind == "constant"}):
        ctype = ARRAY_TYPES.get(C_TYPES.get(tensors[index].dtype, ""))
        if ctype is None or ctype is REQUANT:
            raise ValueError(f"constant tensor {index} is {tensors[index].dtype}")
        arrays.append(ConstArray(f"{prefix}_tensor{index}", ctype, np.asarray(tensors[index].data).reshape(-1),
                                 weights=True))
    return arrays


def flash_bytes(weights: list[ConstArray], steps: list[Step], io_count: int) -> dict[str, int]:
    """Exact bytes of what lands in flash, from each object's type and length: the weights (constant
    tensors, and the fast kernels' rearranged weights, biases and requantization arrays) and the
    parameters (every other array, the structs, and the I/O size tables), each counted once."""
    arrays = weights + [a for step in steps for a in step.arrays]
    return {"weights": sum(a.nbytes for a in arrays if a.weights),
            "params": sum(a.nbytes for a in arrays if not a.weights) + sum(s.params.sizeof() for s in steps)
            + SIZE_T.size * io_count}


def emit(model: TFLiteModel, lowered: LoweredGraph, prefix: str) -> tuple[dict[str, str], dict[str, int]]:
    graph = model.main
    tensors = graph.tensors
    weights = constant_tensors(model, lowered, prefix)
    sizes = flash_bytes(weights, lowered.steps, len(graph.inputs) + len(graph.outputs))

    def io(index: int) -> _IO:
        t = tensors[index]
        quantization = t.quantization
        scale, zero_point = (float(quantization.scale[0]), int(quantization.zero_point[0])) \
            if quantization is not None and quantization.scale.size else (0.0, 0)
        return _IO(t.nbytes, t.num_elements, C_TYPES[t.dtype], list(t.shape), scale, zero_point)
    inputs, outputs = [io(i) for i in graph.inputs], [io(i) for i in graph.outputs]
    single = len(inputs) == 1 and len(outputs) == 1
    context = dict(
        version=__version__, digest=hashlib.sha256(model.raw).hexdigest()[:16], prefix=prefix,
        upper=prefix.upper(), arena_bytes=lowered.arena_bytes, weights_bytes=sizes["weights"],
        inputs=inputs, outputs=outputs, single=single, converters=_converters(inputs, outputs, prefix, single),
        weights=weights,
        steps=[_view(step, position, lowered, tensors) for position, step in enumerate(lowered.steps)])
    files = {f"{prefix}_model.h": render("native/model.h.j2", **context),
             f"{prefix}_model.c": render("native/model.c.j2", **context)}
    return files, sizes
