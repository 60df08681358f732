"""From the TFLite graph to an ordered list of kernel calls over planned buffers."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import TinyedgeError
from ..tflite.model import Operator, TFLiteModel
from .graph import ALIAS_OPS, Aliases, data_inputs, live_operators
from .fast import residual_add_tables
from .ops import LOWERINGS, LoweringContext, Step, fold_dilated_convolution
from .planner import Buffer, Link, align, plan

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
    buffers: list[Buffer]                # one per alias group and scratch; lifetimes in half steps
    arena_bytes: int
    io_bytes: int
    folded_ops: list[str] = field(default_factory=list)
    scratch: dict[int, int] = field(default_factory=dict)   # step position -> arena offset
    links: list[Link] = field(default_factory=list)         # the in-place overlaps the plan uses
    fused_ops: list[str] = field(default_factory=list)      # ops computed inside another op's kernel


def _where(op: Operator, model: TFLiteModel) -> str:
    tensors = model.main.tensors
    output = tensors[op.outputs[0]].name if op.outputs else "?"
    return f"operator {op.index} ({op.opcode}, output '{output}')"


# Inputs that are not int8 data: weights are int8 too, biases int32; the rest are shapes, paddings, axes.
_NON_DATA_INPUTS = {"CONV_2D": {2: ("int32",)}, "DEPTHWISE_CONV_2D": {2: ("int32",)},
                    "FULLY_CONNECTED": {2: ("int32",)}, "PAD": {1: ("int32", "int64")},
                    "PADV2": {1: ("int32", "int64")}, "MEAN": {1: ("int32", "int64")},
                    "SPACE_TO_BATCH_ND": {1: ("int32",), 2: ("int32",)},
                    "BATCH_TO_SPACE_ND": {1: ("int32",), 2: ("int32",)}}


def _check_types(op: Operator, model: TFLiteModel) -> None:
    tensors = model.main.tensors
    if op.opcode in ALIAS_OPS:
        return
    for index in [i for i in op.inputs if i >= 0] + op.outputs:
        tensor = tensors[index]
        if tensor.dtype == "float32" and op.opcode not in FLOAT_BOUNDARY_OPS:
            raise TinyedgeError(
                f"{_where(op, model)} computes in float32: the native runtime runs fully int8-quantized "
                f"models only", "quantize the model to int8 (full-integer PTQ), or use --runtime tflm")
    if op.opcode not in LOWERINGS:
        return
    allowed = _NON_DATA_INPUTS.get(op.opcode, {})
    roles = [(f"input {position}", index, allowed.get(position, ("int8",)))
             for position, index in enumerate(op.inputs) if index >= 0]
    roles += [(f"output {position}", index, ("int8",)) for position, index in enumerate(op.outputs)]
    for role, index, dtypes in roles:
        dtype = tensors[index].dtype
        if op.opcode in FLOAT_BOUNDARY_OPS and dtype == "float32":
            continue
        if dtype not in dtypes:
            raise TinyedgeError(f"{_where(op, model)} {role} '{tensors[index].name}' is {dtype}; the native "
                                f"runtime takes {' or '.join(dtypes)} there", "use --runtime tflm for this model")


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

    fused = _fuse_residual_adds(steps, graph.inputs, graph.outputs, tensors, aliases)

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
    # Lifetimes in half steps: step p reads from 2p and writes until 2p + 1, so a buffer lives through
    # every step that touches it; except that an input a kernel overwrites in place is used up at 2p
    # and the output that takes its bytes begins at 2p + 1 (the link fixes where they overlap).
    links, pairs = _in_place_links(steps, spans, sizes, aliases)
    consumed = {source: position for source, _, position in pairs}
    produced_in_place = {target for _, target, _ in pairs}
    buffers = [Buffer(root, sizes[root], 2 * first + (root in produced_in_place),
                      2 * last + (0 if consumed.get(root) == last else 1))
               for root, (first, last) in spans.items()]
    buffers += [Buffer(-(position + 1), step.scratch_bytes, 2 * position, 2 * position + 1)
                for position, step in enumerate(steps) if step.scratch_bytes]
    arena = plan(buffers, links)
    scratch = {}
    for buffer in buffers:
        if buffer.key < 0:
            scratch[-buffer.key - 1] = buffer.offset
        else:
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
    return LoweredGraph(steps, resolved, buffers, arena, io_bytes, folded, scratch, links, fused)


def _in_place_links(steps: list[Step], spans: dict[int, list[int]], sizes: dict[int, int],
                    aliases: Aliases) -> tuple[list[Link], list[tuple[int, int, int]]]:
    """Links for the steps whose kernel may write over an input that dies at that step.

    Element-wise ops read element i before writing it: same offset. A fast 1x1 convolution copies each
    pixel pair before writing its outputs, in increasing order: an output no larger than its input
    starts where the input starts; a larger one ends (rounded up to the alignment) past the input's
    end, so output pixel p never reaches input pixel p + 2 (see te_conv_fast_s8)."""
    links, pairs = [], []
    for position, step in enumerate(steps):
        for source, target in step.in_place:
            source, target = aliases.root(source), aliases.root(target)
            if source not in spans or target not in spans or source == target or spans[source][1] != position:
                continue
            grow = sizes[target] - sizes[source]
            if step.fast is not None:
                links.append(Link(source, target, align(grow)) if grow > 0 else Link(target, source, 0))
            elif grow == 0:
                links.append(Link(source, target, 0))
            else:
                continue
            pairs.append((source, target, position))
            break
    return links, pairs


def _fuse_residual_adds(steps: list[Step], graph_inputs: list[int], graph_outputs: list[int], tensors,
                        aliases: Aliases) -> list[str]:
    """Computes an ADD inside the fast convolution that makes one of its operands (a residual
    connection), when the ADD is that result's only reader, shapes match without broadcasting and the
    other operand already exists when the convolution runs. The convolution's own output then never
    exists in memory, and the ADD may write over the residual."""
    readers: dict[int, list[int]] = {}
    producer: dict[int, int] = {}
    for position, step in enumerate(steps):
        for index in step.reads:
            readers.setdefault(aliases.root(index), []).append(position)
        for index in step.writes:
            producer[aliases.root(index)] = position
    fused: list[str] = []
    removed: set[int] = set()
    for position, step in enumerate(steps):
        conv = step.fast
        if conv is None or conv.residual is not None:
            continue
        result = aliases.root(conv.output)
        after = readers.get(result, [])
        if len(after) != 1 or result in {aliases.root(i) for i in graph_outputs} or result != conv.output:
            continue
        add = steps[after[0]]
        if add.op.opcode != "ADD" or not add.in_place or after[0] in removed:
            continue
        operands = [i for i in add.op.inputs if aliases.root(i) != result]
        if len(operands) != 1 or tensors[operands[0]].is_constant:
            continue
        residual = operands[0]
        made = producer.get(aliases.root(residual))
        if made is None and residual not in graph_inputs or made is not None and made >= position:
            continue
        if tensors[residual].shape != tensors[add.op.outputs[0]].shape:
            continue
        if not residual_add_tables(conv, add.fields, add.op.inputs[0] != residual, conv.params + "_add"):
            continue
        conv.residual = residual
        conv.output = add.op.outputs[0]
        conv.render(step)
        step.reads = step.reads + [residual]
        step.writes = [add.op.outputs[0]]
        step.in_place = [(residual, add.op.outputs[0])]
        removed.add(after[0])
        fused.append("ADD")
    steps[:] = [step for position, step in enumerate(steps) if position not in removed]
    return fused
