"""From the TFLite graph to an ordered list of kernel calls over planned buffers.

Each live operator is lowered to a typed Step (ops.py), then passes transform the list: dilation
folding (SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND as one dilated convolution), fast-kernel
selection (fast.py), residual fusion (an ADD computed inside the fast convolution that makes one
operand), and the in-place links the memory plan may use. The emitter renders the result."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import TinyedgeError
from ..tflite.model import Operator, TFLiteModel
from .graph import ALIAS_OPS, Aliases, data_inputs, live_operators
from . import ops
from .fast import CONVOLUTIONS, residual_add_tables, select_fast_kernels
from .ir import NULL, Step, TensorArg
from .ops import LOWERINGS, LoweringContext, fold_dilated_convolution
from .planner import Buffer, Link, align, plan

SUPPORTED_IO = ("int8", "float32")
SUPPORTED_OUTPUTS = SUPPORTED_IO + ("int32", "int64")   # ARG_MAX / ARG_MIN write indices
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


def check_operand_types(op: Operator, model: TFLiteModel) -> None:
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
    allowed = LOWERINGS[op.opcode].other_inputs
    roles = [(f"input {position}", index, allowed.get(position, ("int8",)))
             for position, index in enumerate(op.inputs) if index >= 0]
    roles += [(f"output {position}", index, LOWERINGS[op.opcode].outputs)
              for position, index in enumerate(op.outputs)]
    for role, index, dtypes in roles:
        dtype = tensors[index].dtype
        if op.opcode in FLOAT_BOUNDARY_OPS and dtype == "float32":
            continue
        if dtype not in dtypes:
            raise TinyedgeError(f"{_where(op, model)} {role} '{tensors[index].name}' is {dtype}; the native "
                                f"runtime takes {' or '.join(dtypes)} there", "use --runtime tflm for this model")


def _fold_dilations(steps: list[Step], live: list[Operator], context: LoweringContext,
                    graph_outputs: list[int]) -> tuple[list[Step], list[str]]:
    """The pass that replaces each SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND chain (each the
    only reader of the one before, neither intermediate a graph output) by the dilated convolution it
    stands for. Returns the steps and the ops folded away."""
    consumers: dict[int, list[Operator]] = {}
    for op in live:
        for index in data_inputs(op):
            consumers.setdefault(index, []).append(op)

    def only_reader(op: Operator, opcodes: tuple[str, ...]) -> Operator | None:
        following = consumers.get(op.outputs[0], [])
        if len(following) != 1 or following[0].opcode not in opcodes or op.outputs[0] in graph_outputs:
            return None
        return following[0]

    removed: set[int] = set()
    folded: list[str] = []
    result: list[Step] = []
    for step in steps:
        if step.op.index in removed:
            continue
        if step.kernel is ops.SPACE_TO_BATCH:
            conv = only_reader(step.op, ("CONV_2D", "DEPTHWISE_CONV_2D"))
            batch = None if conv is None else only_reader(conv, ("BATCH_TO_SPACE_ND",))
            dilated = None if batch is None else fold_dilated_convolution(step.op, conv, batch, context)
            if dilated is not None:
                result.append(dilated)
                removed.update({conv.index, batch.index})
                folded += ["SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"]
                continue
        result.append(step)
    return result, folded


def check_has_kernel(op: Operator, model: TFLiteModel) -> None:
    if op.opcode not in LOWERINGS and op.opcode not in ALIAS_OPS:
        raise TinyedgeError(f"the native runtime has no kernel for {_where(op, model)}",
                            "use --runtime tflm for this model")


def check_alias_shapes(op: Operator, model: TFLiteModel) -> None:
    """A RESHAPE / EXPAND_DIMS / SQUEEZE shares its input's bytes: both sizes must be known and equal."""
    tensors = model.main.tensors
    if tensors[op.inputs[0]].nbytes != tensors[op.outputs[0]].nbytes:
        raise TinyedgeError(
            f"{_where(op, model)} has a shape that is only known at run time "
            f"({tensors[op.inputs[0]].shape} -> {tensors[op.outputs[0]].shape}); the native runtime "
            f"needs static shapes", "convert the model with a fixed batch size of 1 "
            "(keras.Input(..., batch_size=1)), or use --runtime tflm")


def check_model_io(model: TFLiteModel) -> None:
    """The model's inputs and outputs in the types the native runtime's callers pass and receive."""
    graph = model.main
    tensors = graph.tensors
    for position, index in enumerate(graph.inputs + graph.outputs):
        is_input = position < len(graph.inputs)
        if tensors[index].dtype not in (SUPPORTED_IO if is_input else SUPPORTED_OUTPUTS):
            raise TinyedgeError(f"model {'input' if is_input else 'output'} "
                                f"'{tensors[index].name}' is {tensors[index].dtype}; the native runtime "
                                f"takes int8 or float32{'' if is_input else ' (or int32/int64 indices)'}",
                                "use --runtime tflm for this model")


def lower_graph(model: TFLiteModel, prefix: str, optimize: str = "speed") -> LoweredGraph:
    graph = model.main
    tensors = graph.tensors
    live = live_operators(graph)
    for op in live:
        check_operand_types(op, model)
    for op in live:
        check_has_kernel(op, model)
    check_model_io(model)

    aliases = Aliases()
    context = LoweringContext(tensors, prefix, optimize)
    steps: list[Step] = []
    folded = [op.opcode for op in graph.operators if op not in live]
    for op in live:
        if op.opcode in ALIAS_OPS:
            check_alias_shapes(op, model)
            aliases.join(op.inputs[0], op.outputs[0])
            folded.append(op.opcode)
            continue
        lowered_op = LOWERINGS[op.opcode].lower(op, context)
        steps.extend(lowered_op if isinstance(lowered_op, list) else [lowered_op])

    steps, dilations = _fold_dilations(steps, live, context, graph.outputs)
    folded += dilations
    steps = select_fast_kernels(steps, context)
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
            if step.kernel.in_place == "pixel_pairs":
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
        if step.kernel not in CONVOLUTIONS or step.params.conv_table is not None:
            continue
        output = step.writes[0]
        result = aliases.root(output)
        after = readers.get(result, [])
        if len(after) != 1 or result in {aliases.root(i) for i in graph_outputs} or result != output:
            continue
        add = steps[after[0]]
        if add.kernel is not ops.ADD or not add.in_place or after[0] in removed:
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
        fused_params = residual_add_tables(step, add.params, add.op.inputs[0] != residual)
        if fused_params is None:
            continue
        step.params = fused_params
        # te_conv_fast_s8 / te_conv_packed_s8(&params, input, filter, scratch, residual, output)
        assert step.args[3] == NULL
        step.args = step.args[:3] + [TensorArg(residual), TensorArg(add.op.outputs[0])]
        step.reads = step.reads + [residual]
        step.writes = [add.op.outputs[0]]
        step.in_place = [(residual, add.op.outputs[0])]
        removed.add(after[0])
        fused.append("ADD")
    steps[:] = [step for position, step in enumerate(steps) if position not in removed]
    return fused
