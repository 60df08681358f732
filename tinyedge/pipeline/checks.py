"""Checks after conversion: is this flatbuffer a fully int8 model that TFLite Micro runs?

Rules: int8 input and output; every activation int8 (int32 only where an op outputs indices or a
shape); every weight int8 and every bias int32; no op computing in float; every op and op version one
that TFLM implements. Each problem names the op and the layer it came from (the first part of its
output tensor's name, which the converter takes from the Keras layer).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TinyedgeError
from ..tflite.model import Operator, Subgraph, TFLiteModel
from ..tflite.tflm_ops import support

# Ops whose outputs are indices or shapes: int32 results are their nature, not a float leftover.
INDEX_OUTPUT_OPS = {"ARG_MAX", "ARG_MIN", "SHAPE", "BROADCAST_ARGS"}
# Inputs that hold shapes, axes, paddings or sizes: int32 constants that are not weights.
WEIGHTED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV", "SVDF",
                "UNIDIRECTIONAL_SEQUENCE_LSTM", "BATCH_MATMUL"}
FLOAT_DTYPES = {"float32", "float16", "float64"}


@dataclass(frozen=True)
class Problem:
    kind: str        # "io", "float", "hybrid", "dtype", "unsupported"
    op: str
    layer: str
    detail: str

    def text(self) -> str:
        where = f" at layer '{self.layer}'" if self.layer else ""
        return f"{self.detail}{where}"


def layer_name(subgraph: Subgraph, op: Operator) -> str:
    """The Keras layer an op came from: its output tensor's name up to the first ';'."""
    if not op.outputs or op.outputs[0] < 0:
        return f"operator {op.index}"
    return subgraph.tensors[op.outputs[0]].name.split(";")[0]


def _bias_index(op: Operator) -> int | None:
    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        return 2
    if op.opcode == "TRANSPOSE_CONV":
        return 3
    return None


def find_problems(model: TFLiteModel) -> list[Problem]:
    problems: list[Problem] = []
    for subgraph in model.subgraphs:
        for role, indices in (("input", subgraph.inputs), ("output", subgraph.outputs)):
            for index in indices:
                tensor = subgraph.tensors[index]
                if tensor.dtype != "int8":
                    problems.append(Problem("io", "", "", f"model {role} '{tensor.name}' is "
                                                          f"{tensor.dtype}, not int8"))
        for op in subgraph.operators:
            layer = layer_name(subgraph, op)
            reason = support(op.opcode, op.version, op.custom)
            if reason:
                problems.append(Problem("unsupported", op.opcode, layer, reason))
            inputs = [subgraph.tensors[i] for i in op.inputs if i >= 0]
            outputs = [subgraph.tensors[i] for i in op.outputs if i >= 0]
            activations = [t for t in inputs if not t.is_constant] + outputs
            float_activations = [t for t in activations if t.dtype in FLOAT_DTYPES]
            int8_weights = [t for t in inputs if t.is_constant and t.dtype == "int8"]
            if float_activations and int8_weights:
                problems.append(Problem("hybrid", op.opcode, layer,
                                        f"{op.opcode} is weight-only (dynamic-range) quantized: int8 "
                                        f"weights with {float_activations[0].dtype} activations"))
            elif float_activations:
                problems.append(Problem("float", op.opcode, layer,
                                        f"float operator {op.opcode} left ({float_activations[0].dtype}"
                                        f" tensor '{float_activations[0].name.split(';')[0]}')"))
            for tensor in outputs:
                if tensor.dtype in FLOAT_DTYPES or tensor.dtype == "int8":
                    continue
                if tensor.dtype == "int32" and op.opcode in INDEX_OUTPUT_OPS:
                    continue
                problems.append(Problem("dtype", op.opcode, layer,
                                        f"{op.opcode} outputs {tensor.dtype}, not int8"))
            bias = _bias_index(op)
            for position, index in enumerate(op.inputs):
                if index < 0:
                    continue
                tensor = subgraph.tensors[index]
                if not tensor.is_constant or tensor.dtype in FLOAT_DTYPES:
                    continue  # float constants were reported with the op above
                if position == bias:
                    if tensor.dtype != "int32":
                        problems.append(Problem("dtype", op.opcode, layer,
                                                f"{op.opcode} bias is {tensor.dtype}, not int32"))
                elif op.opcode in WEIGHTED_OPS and position == 1 and tensor.dtype != "int8":
                    problems.append(Problem("dtype", op.opcode, layer,
                                            f"{op.opcode} weights are {tensor.dtype}, not int8"))
    return problems


HINTS = {
    "hybrid": "this model was quantized without a representative dataset; convert it with full-integer "
              "quantization (int8 activations, int8 input and output), as 'tinyedge build' does",
    "float": "quantize the model fully to int8 with a representative dataset "
             "(supported_ops=TFLITE_BUILTINS_INT8), as 'tinyedge build' does",
    "io": "convert with inference_input_type and inference_output_type set to int8",
    "dtype": "quantize the model fully to int8 (int8 weights and activations, int32 biases)",
    "unsupported": "replace that layer with one TFLite Micro implements ('tinyedge inspect' lists the ops)",
}


def require_int8_tflm(model: TFLiteModel, source: str) -> None:
    """Raise one TinyedgeError for the first problem (with a count of the others)."""
    problems = find_problems(model)
    if not problems:
        return
    # Report the root cause first: an unsupported op or a hybrid model explains its float tensors.
    order = ("unsupported", "hybrid", "float", "io", "dtype")
    problems.sort(key=lambda p: order.index(p.kind))
    first = problems[0]
    more = f"; {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
    raise TinyedgeError(f"{source}: {first.text()}{more}", HINTS[first.kind])
