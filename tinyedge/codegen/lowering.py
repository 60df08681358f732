"""From the TFLite graph to an ordered list of kernel calls over planned buffers."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import TinyedgeError
from ..tflite.model import Operator, TFLiteModel
from .graph import ALIAS_OPS, Aliases, data_inputs, live_operators
from .ops import LOWERINGS, LoweringContext, Step, fold_dilated_convolution
from .planner import Buffer, plan

SUPPORTED_IO = ("int8", "float32")
FLOAT_BOUNDARY_OPS = frozenset({"QUANTIZE", "DEQUANTIZE"})


@dataclass
class Storage:
    """Where a tensor's bytes live: the arena at `offset`, or a caller buffer."""
    kind: str            # "arena", "input", "output", "constant"
    index: int = 0       # arena offset, or the input/output position
    dtype: str = "int8"


@dataclass
class LoweredGraph:
    steps: list[Step]
    storage: dict[int, Storage]          # tensor index -> storage (aliases resolved)
    buffers: list[Buffer]
    arena_bytes: int
    io_bytes: int
    folded_ops: list[str] = field(default_factory=list)


def _where(op: Operator, model: TFLiteModel) -> str:
    tensors = model.main.tensors
    output = tensors[op.outputs[0]].name if op.outputs else "?"
    return f"operator {op.index} ({op.opcode}, output '{output}')"


def _check_types(op: Operator, model: TFLiteModel) -> None:
    tensors = model.main.tensors
    if op.opcode in FLOAT_BOUNDARY_OPS or op.opcode in ALIAS_OPS:
        return
    for index in [i for i in op.inputs if i >= 0] + op.outputs:
        tensor = tensors[index]
        if tensor.dtype == "float32":
            raise TinyedgeError(
                f"{_where(op, model)} computes in float32: the native runtime runs fully int8-quantized "
                f"models only", "quantize the model to int8 (full-integer PTQ), or use --runtime tflm")


def _dilated(space: Operator, consumers: dict[int, list[Operator]], context: LoweringContext,
             graph_outputs: list[int]) -> Step | None:
    """The dilated convolution that SPACE_TO_BATCH_ND starts, if the next two ops complete it."""
    following = consumers.get(space.outputs[0], [])
    if len(following) != 1 or following[0].opcode not in ("CONV_2D", "DEPTHWISE_CONV_2D") \
            or space.outputs[0] in graph_outputs:
        return None
    conv = following[0]
    after = consumers.get(conv.outputs[0], [])
    if len(after) != 1 or after[0].opcode != "BATCH_TO_SPACE_ND" or conv.outputs[0] in graph_outputs:
        return None
    return fold_dilated_convolution(space, conv, after[0], context)


def lower_graph(model: TFLiteModel, prefix: str) -> LoweredGraph:
    graph = model.main
    tensors = graph.tensors
    live = live_operators(graph)
    for op in live:
        _check_types(op, model)
    for op in live:
        if op.opcode not in LOWERINGS and op.opcode not in ALIAS_OPS:
            raise TinyedgeError(f"the native runtime has no kernel for {_where(op, model)}",
                                "use --runtime tflm for this model")
    for position, index in enumerate(graph.inputs + graph.outputs):
        if tensors[index].dtype not in SUPPORTED_IO:
            raise TinyedgeError(f"model {'input' if position < len(graph.inputs) else 'output'} "
                                f"'{tensors[index].name}' is {tensors[index].dtype}; the native runtime "
                                f"takes int8 or float32", "use --runtime tflm for this model")

    aliases = Aliases()
    context = LoweringContext(tensors, prefix)
    steps: list[Step] = []
    folded = [op.opcode for op in graph.operators if op not in live]
    consumers: dict[int, list[Operator]] = {}
    for op in live:
        for index in data_inputs(op):
            consumers.setdefault(index, []).append(op)
    skip: set[int] = set()
    for op in live:
        if op.index in skip:
            continue
        if op.opcode == "SPACE_TO_BATCH_ND":
            step = _dilated(op, consumers, context, graph.outputs)
            if step is not None:
                steps.append(step)
                skip.update({step.op.index, consumers[step.op.outputs[0]][0].index})
                folded += ["SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"]
                continue
        if op.opcode in ALIAS_OPS:
            if tensors[op.inputs[0]].nbytes != tensors[op.outputs[0]].nbytes:
                raise TinyedgeError(
                    f"{_where(op, model)} has a shape that is only known at run time "
                    f"({tensors[op.inputs[0]].shape} -> {tensors[op.outputs[0]].shape}); the native runtime "
                    f"needs static shapes", "convert the model with a fixed batch size of 1 "
                    "(keras.Input(..., batch_size=1)), or use --runtime tflm")
            aliases.join(op.inputs[0], op.outputs[0])
            folded.append(op.opcode)
            continue
        steps.append(LOWERINGS[op.opcode](op, context))

    # Caller-owned storage for the graph's inputs and outputs (and everything aliased to them).
    storage: dict[int, Storage] = {}
    for position, index in enumerate(graph.inputs):
        storage[aliases.root(index)] = Storage("input", position, tensors[index].dtype)
    for position, index in enumerate(graph.outputs):
        root = aliases.root(index)
        if root in storage:
            raise TinyedgeError(f"model output '{tensors[index].name}' is also an input or another output "
                                f"(only reshaped)", "use --runtime tflm for this model")
        storage[root] = Storage("output", position, tensors[index].dtype)

    # Lifetimes of the remaining activation buffers, one per alias group.
    spans: dict[int, list[int]] = {}
    sizes: dict[int, int] = {}
    for position, step in enumerate(steps):
        for index in step.reads + step.writes:
            if tensors[index].is_constant:
                continue
            root = aliases.root(index)
            if root in storage:
                continue
            span = spans.setdefault(root, [position, position])
            span[0], span[1] = min(span[0], position), max(span[1], position)
            sizes[root] = max(sizes.get(root, 0), tensors[index].nbytes)
    buffers = [Buffer(root, sizes[root], first, last) for root, (first, last) in spans.items()]
    arena = plan(buffers)
    for buffer in buffers:
        storage[buffer.key] = Storage("arena", buffer.offset, tensors[buffer.key].dtype)

    resolved: dict[int, Storage] = {}
    for step in steps:
        for index in step.reads + step.writes:
            if tensors[index].is_constant:
                resolved[index] = Storage("constant", index, tensors[index].dtype)
            else:
                root_storage = storage[aliases.root(index)]
                resolved[index] = Storage(root_storage.kind, root_storage.index, tensors[index].dtype)
    io_bytes = sum(tensors[i].nbytes for i in graph.inputs + graph.outputs)
    return LoweredGraph(steps, resolved, buffers, arena, io_bytes, folded)
