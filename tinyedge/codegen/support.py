"""Whether the native runtime runs a model, operator by operator, with the reason when it does not.

The verdict is the lowering's own: every check `lower_graph` makes (operand types, a kernel for the
op, static alias shapes, the model's I/O types) and every op's lowering itself, tried in execution
order on a probe context. So `--runtime auto` never picks native for a model `generate` then refuses,
and `tinyedge inspect` shows the very line `generate` would print."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TinyedgeError
from ..tflite.model import TFLiteModel
from .graph import ALIAS_OPS, live_operators


@dataclass(frozen=True)
class NativeRefusal:
    op_index: int | None     # None: the model as a whole (its inputs or outputs, the memory plan)
    opcode: str | None
    reason: str              # the lowering's one-line message


def native_refusals(model: TFLiteModel) -> list[NativeRefusal]:
    """Every operator (after dead-code removal) whose form the native runtime refuses, then what it
    refuses of the model as a whole; empty when `generate` runs it."""
    from .lowering import (check_alias_shapes, check_has_kernel, check_model_io, check_operand_types,
                           lower_graph)
    from .ops import LOWERINGS, LoweringContext

    context = LoweringContext(model.main.tensors, "probe")
    refusals: list[NativeRefusal] = []
    for op in live_operators(model.main):
        try:
            check_operand_types(op, model)
            if op.opcode in ALIAS_OPS:
                check_alias_shapes(op, model)
            else:
                check_has_kernel(op, model)
                LOWERINGS[op.opcode].lower(op, context)
        except TinyedgeError as refused:
            refusals.append(NativeRefusal(op.index, op.opcode, refused.message))
        except Exception as failed:  # a malformed operator: TFLM is the better way out than a crash
            refusals.append(NativeRefusal(op.index, op.opcode, f"the native lowering of {op.opcode} fails "
                                          f"({type(failed).__name__}: {failed})"))
    try:
        check_model_io(model)
        if not refusals:
            lower_graph(model, "probe")   # what is left: the plan of the whole graph
    except TinyedgeError as refused:
        refusals.append(NativeRefusal(None, None, refused.message))
    return refusals



def refused_ops(refusals: list[NativeRefusal]) -> list[str]:
    """The refused operators' names, sorted, once each."""
    return sorted({refusal.opcode for refusal in refusals if refusal.opcode})
