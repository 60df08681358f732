"""Graph preparation before lowering: dead-code removal (Flatten's SHAPE -> STRIDED_SLICE -> PACK
chain only feeds RESHAPE's shape input, which static shapes make unnecessary) and buffer aliases
(RESHAPE / EXPAND_DIMS / SQUEEZE share their input's bytes)."""

from __future__ import annotations

from ..tflite.model import Operator, Subgraph

ALIAS_OPS = frozenset({"RESHAPE", "EXPAND_DIMS", "SQUEEZE"})


def data_inputs(op: Operator) -> list[int]:
    """Input tensors whose contents the op reads at run time (shape operands excluded)."""
    if op.opcode in ALIAS_OPS:
        return op.inputs[:1]
    if op.opcode == "TRANSPOSE_CONV":   # input 0 is the output shape, which static shapes make known
        return [t for t in op.inputs[1:] if t >= 0]
    return [t for t in op.inputs if t >= 0]


def live_operators(graph: Subgraph) -> list[Operator]:
    """Operators that contribute to a graph output, in execution order."""
    needed = set(graph.outputs)
    live: list[Operator] = []
    for op in reversed(graph.operators):
        if any(t in needed for t in op.outputs):
            live.append(op)
            needed.update(data_inputs(op))
    live.reverse()
    return live


class Aliases:
    """Union-find over tensors that share one buffer."""

    def __init__(self):
        self.parent: dict[int, int] = {}

    def root(self, tensor: int) -> int:
        while self.parent.get(tensor, tensor) != tensor:
            tensor = self.parent[tensor]
        return tensor

    def join(self, source: int, alias: int) -> None:
        self.parent[self.root(alias)] = self.root(source)
