"""Which runtime a firmware uses (`--runtime auto`), and what the TFLM runtime needs: the op resolver
calls for exactly the model's ops (from the one op table, tflite/tflm_ops.py) and an arena sized by a
real allocation test plus a margin."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import TinyedgeError
from ..tflite.model import TFLiteModel
from ..tflite.tflm_ops import resolver_methods as tflm_resolver_methods  # noqa: F401 - firmware's name for it

RUNTIMES = ("auto", "native", "tflm")


@dataclass(frozen=True)
class RuntimeChoice:
    kind: str        # "native" or "tflm"
    reason: str      # one sentence for the user


def choose_runtime(model: TFLiteModel, requested: str = "auto") -> RuntimeChoice:
    """`auto`: native when it runs every op of the model in the form and types the model has (the
    lowering's own checks: codegen.support), else tflm with a note naming what native refuses. An
    explicit native that cannot run the model is an error naming the ops and the first reason."""
    from ..codegen.support import native_refusals

    if requested not in RUNTIMES:
        raise TinyedgeError(f"unknown runtime '{requested}'", f"choose one of {', '.join(RUNTIMES)}")
    if requested == "tflm":
        return RuntimeChoice("tflm", "tflm was requested")
    refusals = native_refusals(model)
    if requested == "native":
        if refusals:
            raise TinyedgeError(f"the native runtime does not support {_refused(refusals)}: "
                                f"{refusals[0].reason}", "use --runtime tflm (or auto)")
        return RuntimeChoice("native", "native was requested")
    if refusals:
        return RuntimeChoice("tflm", f"auto chose tflm: the native runtime lacks {_refused(refusals)}")
    return RuntimeChoice("native", "auto chose native: it supports every op of the model "
                                   "(no interpreter, no external library)")


def _refused(refusals) -> str:
    """What native refuses, in a few words: the ops by name, then the model's own refusal (its I/O
    types or memory plan) in the lowering's words."""
    from ..codegen.support import refused_ops
    ops = ", ".join(refused_ops(refusals))
    whole = [refusal.reason for refusal in refusals if refusal.opcode is None]
    if not whole:
        return ops
    return f"{ops + ' and ' if ops else ''}this model's form ({whole[0]})"


def tflm_arena_bytes(tested_minimum: int, margin: float) -> int:
    """The arena the TFLM firmware reserves: the host allocation test's minimum plus `margin` (a
    share), rounded up to 16 bytes."""
    return int(math.ceil(tested_minimum * (1.0 + margin) / 16.0)) * 16
