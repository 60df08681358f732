"""The C adapter that puts a model's runtime behind the validation protocol (firmware/protocol/te_model.h),
rendered from templates/host/te_adapter.c.j2 for a runtime that is not a generated project's (the
projects' own adapter is templates/common/te_adapter.c.j2, over tinyedge.h).

The runtime gives `int <invoke>(const int8_t *input, int8_t *output)`; the adapter adds what the
protocol prints: the model's name and SHA-256 prefix (`te-model`), its input and output sizes, and the
output quantization (`m-results` in dequantized floats, as the MLPerf Tiny runner expects).
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..errors import TinyedgeError
from ..project.sanitize import model_names
from ..tflite.model import TFLiteModel

HASH_DIGITS = 16  # the prefix of the model's SHA-256 the firmware carries (the host checks it)


def adapter_source(model: TFLiteModel, model_bytes: bytes, name: str, *,
                   runtime_header: str = "tinyedge_model.h", invoke: str = "tinyedge_invoke",
                   init: str | None = None) -> str:
    """C source defining te_model_in_firmware for `model` run by `invoke` from `runtime_header`."""
    graph = model.main
    inputs, outputs = graph.input_tensors(), graph.output_tensors()
    if len(inputs) != 1 or len(outputs) != 1:
        raise TinyedgeError(f"the validation protocol carries one input and one output; the model has "
                            f"{len(inputs)} inputs and {len(outputs)} outputs",
                            "export the model with a single input and a single output")
    for role, tensor in (("input", inputs[0]), ("output", outputs[0])):
        if tensor.dtype != "int8":
            raise TinyedgeError(f"the model's {role} '{tensor.name}' is {tensor.dtype}, not int8",
                                "quantize the model with int8 input and output ('tinyedge build' does)")
    quantization = outputs[0].quantization
    if quantization is None or quantization.scale.size != 1:
        raise TinyedgeError(f"the model's output '{outputs[0].name}' has no per-tensor quantization",
                            "quantize the model with int8 input and output ('tinyedge build' does)")
    scale = float(np.float32(quantization.scale[0]))
    zero_point = int(quantization.zero_point[0])
    digest = hashlib.sha256(model_bytes).hexdigest()
    from ..project.render import render_template
    return render_template("host/te_adapter.c.j2", {
        "runtime_header": runtime_header, "scale_text": repr(scale), "scale_hex": scale.hex(),
        "protocol_name": model_names(name).protocol, "sha256_prefix": digest[:HASH_DIGITS],
        "input_bytes": inputs[0].nbytes, "output_bytes": outputs[0].nbytes, "zero_point": zero_point,
        "init": init or "NULL", "invoke": invoke})
