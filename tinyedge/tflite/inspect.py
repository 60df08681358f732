"""Analysis of any .tflite model: ops and versions, parameters, MACs per layer, tensor sizes, arena,
int8 input/output quantization and, for a board, whether it fits.

MAC convention (the one MLPerf Tiny figures use): convolution = out_h*out_w*out_c*k_h*k_w*in_c/groups,
depthwise = out_h*out_w*out_c*k_h*k_w, fully connected = in*out per output row; transposed
convolution = in_h*in_w*in_c*k_h*k_w*out_c; batch matmul = rows*inner*cols. Pooling and element-wise
ops are not MACs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..boards import Board
from ..footprint import BoardFit
from .model import Operator, Subgraph, TFLiteModel

@dataclass
class Layer:
    index: int
    op: str
    version: int
    layer: str
    output_shape: list[int]
    params: int
    macs: int


@dataclass
class TensorRow:
    index: int
    name: str
    shape: list[int]
    dtype: str
    bytes: int
    constant: bool


@dataclass
class IOTensor:
    name: str
    shape: list[int]
    dtype: str
    scale: float | None
    zero_point: int | None


@dataclass
class ModelReport:
    source: str
    model_bytes: int
    ops: list[dict]                     # op, version, count; tflm: None or the reason TFLM cannot run
                                        # it, tflm_method: the resolver call registering it; native:
                                        # None or the reason the native runtime refuses it
    layers: list[Layer]
    tensors: list[TensorRow]
    inputs: list[IOTensor]
    outputs: list[IOTensor]
    params: int
    macs: int
    activation_bytes: int               # largest single activation tensor
    arena_bytes: int | None
    arena_note: str
    problems: list[str] = field(default_factory=list)   # why it is not a fully int8 TFLM model
    fit: BoardFit | None = None
    native_model: str | None = None     # what native refuses of the model as a whole (I/O types...)
    warnings: list[str] = field(default_factory=list)   # forms a runtime computes wrongly

    @property
    def native_runs_it(self) -> bool:
        return self.native_model is None and all(row["native"] is None for row in self.ops)

    def to_json(self) -> dict:
        return asdict(self)


def _shape(subgraph: Subgraph, index: int) -> tuple[int, ...]:
    return subgraph.tensors[index].shape if index >= 0 else ()


def op_macs(subgraph: Subgraph, op: Operator) -> int:
    name = op.opcode
    if name == "CONV_2D":
        _, out_h, out_w, out_c = _shape(subgraph, op.outputs[0])
        _, k_h, k_w, filter_in_c = _shape(subgraph, op.inputs[1])  # in_c / groups per filter
        return out_h * out_w * out_c * k_h * k_w * filter_in_c
    if name == "DEPTHWISE_CONV_2D":
        _, out_h, out_w, out_c = _shape(subgraph, op.outputs[0])
        _, k_h, k_w, _ = _shape(subgraph, op.inputs[1])
        return out_h * out_w * out_c * k_h * k_w
    if name == "FULLY_CONNECTED":
        units, depth = _shape(subgraph, op.inputs[1])
        rows = int(np.prod(_shape(subgraph, op.outputs[0]))) // max(units, 1)
        return rows * depth * units
    if name == "TRANSPOSE_CONV":
        out_c, k_h, k_w, _ = _shape(subgraph, op.inputs[1])
        _, in_h, in_w, in_c = _shape(subgraph, op.inputs[2])
        return in_h * in_w * in_c * k_h * k_w * out_c
    if name == "BATCH_MATMUL":
        left, right = _shape(subgraph, op.inputs[0]), _shape(subgraph, op.inputs[1])
        out = _shape(subgraph, op.outputs[0])
        inner = right[-2] if not op.options.get("adj_y") else right[-1]
        return int(np.prod(out)) * inner if left else 0
    return 0


def _weight_like(subgraph: Subgraph, op: Operator, position: int) -> bool:
    """Constant inputs that are learned values, not shapes, axes or paddings."""
    tensor = subgraph.tensors[op.inputs[position]]
    if not tensor.is_constant:
        return False
    return tensor.dtype != "int32" or (op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
                                       and position == 2)


def _io(subgraph: Subgraph, indices: list[int]) -> list[IOTensor]:
    rows = []
    for index in indices:
        tensor = subgraph.tensors[index]
        quant = tensor.quantization
        rows.append(IOTensor(tensor.name, list(tensor.shape), tensor.dtype,
                             float(quant.scale[0]) if quant else None,
                             int(quant.zero_point[0]) if quant else None))
    return rows


def _arena(model: TFLiteModel) -> tuple[int | None, str]:
    from ..errors import TinyedgeError
    from .tflm import smallest_arena
    try:
        return smallest_arena(model.raw), "smallest arena in which the real TFLM interpreter runs it"
    except TinyedgeError as exc:
        return None, exc.message  # the reason only: its hint would point back at inspect
    except RuntimeError as exc:
        return None, f"TFLM cannot run it: {str(exc).splitlines()[0]}"


def analyse(model: TFLiteModel, source: str, with_arena: bool = True) -> ModelReport:
    from ..pipeline.checks import find_problems, layer_name
    from .stale_batch import stale_batch_dilations
    from .tflm_ops import method as tflm_method, support

    subgraph = model.main
    layers, seen_params = [], set()
    for op in subgraph.operators:
        params = 0
        for position, index in enumerate(op.inputs):
            if index >= 0 and index not in seen_params and _weight_like(subgraph, op, position):
                seen_params.add(index)
                params += subgraph.tensors[index].num_elements
        out_shape = list(_shape(subgraph, op.outputs[0])) if op.outputs else []
        layers.append(Layer(op.index, op.opcode, op.version, layer_name(subgraph, op), out_shape,
                            params, op_macs(subgraph, op)))
    counts: dict[tuple[str, int, bool], int] = {}
    for sg in model.subgraphs:
        for op in sg.operators:
            key = (op.opcode, op.version, op.custom)
            counts[key] = counts.get(key, 0) + 1
    native = _native_reasons(model)
    ops = [{"op": name, "version": version, "count": count, "tflm": support(name, version, custom),
            "tflm_method": tflm_method(name) if support(name, version, custom) is None else None,
            "native": native.get((name, version))}
           for (name, version, custom), count in sorted(counts.items())]
    tensors = [TensorRow(t.index, t.name, list(t.shape), t.dtype, t.nbytes, t.is_constant)
               for t in subgraph.tensors]
    activations = [t.nbytes for t in subgraph.tensors if not t.is_constant]
    arena, note = _arena(model) if with_arena else (None, "not measured")
    return ModelReport(
        source=source, model_bytes=len(model.raw), ops=ops, layers=layers, tensors=tensors,
        inputs=_io(subgraph, subgraph.inputs), outputs=_io(subgraph, subgraph.outputs),
        params=sum(layer.params for layer in layers), macs=sum(layer.macs for layer in layers),
        activation_bytes=max(activations, default=0), arena_bytes=arena, arena_note=note,
        problems=[problem.text() for problem in find_problems(model)], native_model=native.get(None),
        warnings=[finding.text() for finding in stale_batch_dilations(model)])


def _native_reasons(model: TFLiteModel) -> dict:
    """(op, version) -> the first reason native refuses an operator of that kind, and None -> what it
    refuses of the model as a whole (codegen.support: the lowering's own checks)."""
    from ..codegen.support import native_refusals
    versions = {op.index: op.version for op in model.main.operators}
    reasons: dict = {}
    for refusal in native_refusals(model):
        key = None if refusal.opcode is None else (refusal.opcode, versions[refusal.op_index])
        reasons.setdefault(key, refusal.reason)
    return reasons


def board_fit(report: ModelReport, model: TFLiteModel, board: Board, runtime: str = "auto",
              arena_margin: float = 0.1) -> BoardFit:
    """The model's firmware against the board, estimated for `runtime` (auto: the runtime `tinyedge
    build` would choose) by tinyedge.footprint; the TFLM arena gets the build's default margin."""
    from .. import footprint
    from ..project.runtime import tflm_arena_bytes
    arena = tflm_arena_bytes(report.arena_bytes, arena_margin) if report.arena_bytes is not None else None
    result = footprint.fit(footprint.estimate_model(model, board, runtime, arena), board)
    if result.runtime == "tflm" and arena is None:
        result.fits = False  # TFLM cannot run it at all
    return result
