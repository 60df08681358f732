"""The native runtime: portable, interpreter-free C99 generated from a fully int8 TFLite model.

`generate(model)` lowers every operator to one typed call of a kernel in firmware/native/ with
parameters computed here (TFLM's arithmetic; ops.py, params.py), transforms the calls (lowering.py:
dilation folding, fast kernels, residual fusion, in-place links), plans all activations into one
arena, and renders the model C file and header from the calls (emit.py): the documented API of
firmware/native/tinyedge_api.h and <prefix>_model.h, its state in a context. Nothing is allocated or
parsed at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TinyedgeError
from ..layers import StepInfo, native_steps
from ..resources import FIRMWARE_DIR
from ..tflite.model import TFLiteModel
from .emit import emit
from .lowering import lower_graph

KERNEL_DIR = FIRMWARE_DIR / "native"
KERNEL_HEADER = "tinyedge_native.h"
SIMD_HEADER = "te_simd.h"   # the fast kernels' SXTB16/SMLAD helpers (ACLE or portable C)
API_HEADER = "tinyedge_api.h"  # status codes, placement, quantize/dequantize (the model header includes it)


@dataclass
class GeneratedRuntime:
    prefix: str
    files: dict[str, str]                 # relative path -> text (model C file and its header)
    kernel_sources: list[Path]            # firmware/native files the model needs (header included)
    arena_bytes: int                      # the static activation arena
    weights_bytes: int                    # the model's data in flash: constant tensors, or the fast
                                          # kernels' rearranged weights, biases and requantization arrays
    params_bytes: int                     # per-op parameters (multipliers, shifts, shapes) in flash
    io_bytes: int                         # caller-owned input and output buffers (not in the arena)
    input_shapes: list[tuple[int, ...]]
    output_shapes: list[tuple[int, ...]]
    input_dtypes: list[str]
    output_dtypes: list[str]
    ops: list[str]                        # the kernels' ops in execution order (aliases excluded)
    kernel_calls: list[str] = field(default_factory=list)  # the kernel functions the invoke function
                                          # calls, in order (repeats included)
    folded_ops: list[str] = field(default_factory=list)  # ops that cost nothing at run time
    # One StepInfo per kernel call (tinyedge.layers): the numbering of TE_STEP_DONE and te-layers, each
    # with its operator, layer name, output tensor and MACs.
    steps: list[StepInfo] = field(default_factory=list)

    @property
    def dtypes(self) -> dict[str, list[str]]:
        return {"inputs": self.input_dtypes, "outputs": self.output_dtypes}


def unsupported_ops(model: TFLiteModel) -> list[str]:
    """Names of the operators (after folding) that the native runtime lacks, or whose form or types its
    lowering refuses (GATHER with run-time indices, an int32 ADD, ...); empty when it can run every op
    (the model's I/O types and memory plan are support.native_refusals' too)."""
    from .support import native_refusals, refused_ops
    return refused_ops(native_refusals(model))


def generate(model: TFLiteModel, prefix: str = "tinyedge", optimize: str = "speed") -> GeneratedRuntime:
    """Generates the native runtime for `model`: for speed (the fast kernels' weights widened to int16
    in flash) or for size (the weights kept int8, widened in the inner loop). Raises TinyedgeError
    naming the first operator the native runtime cannot run."""
    if not prefix.isidentifier():
        raise TinyedgeError(f"'{prefix}' is not a valid C identifier prefix", "use letters, digits and _")
    from .ops import check_optimize
    check_optimize(optimize)
    lowered = lower_graph(model, prefix, optimize)
    files, sizes = emit(model, lowered, prefix)
    kernel_names = sorted({step.kernel.source for step in lowered.steps})
    return GeneratedRuntime(
        prefix=prefix, files=files,
        kernel_sources=[KERNEL_DIR / name for name in (API_HEADER, KERNEL_HEADER, SIMD_HEADER, *kernel_names)],
        arena_bytes=lowered.arena_bytes, weights_bytes=sizes["weights"], params_bytes=sizes["params"],
        io_bytes=lowered.io_bytes,
        input_shapes=[model.main.tensors[i].shape for i in model.main.inputs],
        output_shapes=[model.main.tensors[i].shape for i in model.main.outputs],
        input_dtypes=[model.main.tensors[i].dtype for i in model.main.inputs],
        output_dtypes=[model.main.tensors[i].dtype for i in model.main.outputs],
        ops=[step.op.opcode for step in lowered.steps],
        kernel_calls=[step.kernel.function for step in lowered.steps], folded_ops=lowered.folded_ops + lowered.fused_ops,
        steps=native_steps(model, lowered.steps))


__all__ = ["GeneratedRuntime", "generate", "unsupported_ops"]
