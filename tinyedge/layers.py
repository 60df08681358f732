"""One table of a model's steps, as the firmware of a layer build numbers them, and the rows that join
it with what the device measured (`te-layers`: ticks and CRC-32 per step).

A native firmware's step is one kernel call of the generated C (codegen.GeneratedRuntime.steps, made by
`native_steps` at generation); a TFLM firmware's step is one operator of the model's main subgraph, as
TFLM's profiler sees them (`tflm_steps`). `layer_rows` joins either list with `DeviceClient.layers()`;
`tflm_step_outputs` is the host's oracle for every step's output (tflite_micro with
kPreserveAllTensors), whose zlib.crc32 the firmware's CRCs equal when the two agree.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import numpy as np

from .errors import TinyedgeError
from .tflite.model import Subgraph, TFLiteModel

@dataclass(frozen=True)
class StepInfo:
    index: int                   # the step's number: TE_STEP_DONE's, te-layers' K
    opcode: str                  # the operator it computes (the first, when it computes several)
    operator: int                # index of that operator in the model's main subgraph
    layer: str                   # codegen.layer_names.short_layer_name of its output tensor
    output_tensor: int           # the tensor its output is (the CRC covers it); -1 when it has none
    shape: tuple[int, ...]
    dtype: str
    bytes: int
    macs: int                    # tflite.inspect.op_macs of its operator and of every op fused into it

    def to_json(self) -> dict:
        data = asdict(self)
        data["shape"] = list(self.shape)
        return data


@dataclass(frozen=True)
class LayerRow:
    """One step of a layer build's inference: what it is and what the device measured."""
    step: StepInfo
    ticks: int                   # te_port_ticks of the step (te-ticks' unit, not scaled)
    crc: int                     # CRC-32 of its output on the device; 0 where the runtime gives none

    def to_json(self) -> dict:
        return {**self.step.to_json(), "ticks": self.ticks, "crc": f"{self.crc:08x}"}


def _layer(graph: Subgraph, tensor: int) -> str:
    from .codegen.layer_names import short_layer_name   # late: codegen imports this module
    return short_layer_name(graph.tensors[tensor].name) if tensor >= 0 else ""


def _info(graph: Subgraph, index: int, opcode: str, operator: int, tensor: int, macs: int) -> StepInfo:
    t = graph.tensors[tensor] if tensor >= 0 else None
    return StepInfo(index, opcode, operator, _layer(graph, tensor), tensor,
                    tuple(int(d) for d in t.shape) if t is not None else (),
                    t.dtype if t is not None else "", t.nbytes if t is not None else 0, macs)


def native_steps(model: TFLiteModel, steps: list) -> list[StepInfo]:
    """The native runtime's steps (codegen's lowered kernel calls, in order). An operator computed inside
    another step (a residual ADD fused into a convolution, the convolution of a folded SPACE_TO_BATCH /
    conv / BATCH_TO_SPACE chain) adds its MACs to that step; an operator lowered to several steps counts
    its MACs at the first."""
    from .tflite.inspect import op_macs
    graph = model.main
    producer = {out: op for op in graph.operators for out in op.outputs}
    owned: list[list] = []
    for step in steps:
        ops = {step.op.index: step.op}
        for tensor in step.writes:
            if tensor in producer:
                ops.setdefault(producer[tensor].index, producer[tensor])
        owned.append(list(ops.values()))
    claimed = {op.index for ops in owned for op in ops}
    # An operator no step computes nor writes the output of lies inside a fused chain: its step is the
    # one whose first and last operators enclose it.
    for op in graph.operators:
        if op.index in claimed:
            continue
        for ops in owned:
            if min(o.index for o in ops) < op.index < max(o.index for o in ops):
                ops.append(op)
                claimed.add(op.index)
                break
    counted: set[int] = set()
    infos = []
    for position, (step, ops) in enumerate(zip(steps, owned)):
        macs = 0
        for op in ops:
            if op.index not in counted:
                counted.add(op.index)
                macs += op_macs(graph, op)
        infos.append(_info(graph, position, step.op.opcode, step.op.index,
                           step.writes[0] if step.writes else -1, macs))
    return infos


def tflm_steps(model: TFLiteModel) -> list[StepInfo]:
    """The TFLM runtime's steps: every operator of the main subgraph, in order (its profiler's events)."""
    from .tflite.inspect import op_macs
    graph = model.main
    return [_info(graph, op.index, op.opcode, op.index, op.outputs[0] if op.outputs else -1, op_macs(graph, op))
            for op in graph.operators]


def layer_rows(steps: list[StepInfo], measured: list[tuple[int, int]]) -> list[LayerRow]:
    """The steps joined with te-layers' (ticks, crc), one to one; a count that differs is one line."""
    if len(steps) != len(measured):
        raise TinyedgeError(f"the firmware reported {len(measured)} steps but the model has {len(steps)}",
                            "the firmware is not this model's layer build: build it again with --layers")
    return [LayerRow(step, ticks, crc) for step, (ticks, crc) in zip(steps, measured)]


def crc32(data: bytes) -> int:
    """The firmware's CRC: IEEE 802.3, as zlib.crc32."""
    return zlib.crc32(data) & 0xFFFFFFFF


def tflm_step_outputs(model_bytes: bytes, inputs: list[np.ndarray], steps: list[StepInfo]) -> list[bytes]:
    """Every step's output as tflite_micro computes it for `inputs` (one array per model input), read
    with InterpreterConfig.kPreserveAllTensors; b"" for a step without an output tensor."""
    from tflite_micro import runtime
    interpreter = runtime.Interpreter.from_bytes(
        bytes(model_bytes), intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    for position, value in enumerate(inputs):
        interpreter.set_input(np.asarray(value), position)
    interpreter.invoke()
    outputs = []
    for step in steps:
        if step.output_tensor < 0:
            outputs.append(b"")
            continue
        tensor = interpreter.GetTensor(step.output_tensor, 0)
        outputs.append(np.ascontiguousarray(tensor["tensor_data"]).tobytes())
    return outputs
