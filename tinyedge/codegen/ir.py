"""The kernel-call IR: what a lowering returns and the passes transform, before any C exists.

A Step is one call `kernel(&params, args...)`: the kernel (its C function, source file and parameter
struct), the parameter struct's value (a params.Struct dataclass), the call's other arguments
(tensors, constant arrays, the step's scratch buffer, NULL), and the tensors it reads and writes.
The emitter renders the whole list once, at the end (templates/native/model.c.j2).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..tflite.model import Operator
from .params import ConstArray, Struct


@dataclass(frozen=True)
class Kernel:
    function: str                 # the C function in firmware/native
    source: str                   # the file that defines it
    params: type[Struct]          # its parameter struct
    in_place: str = "elementwise"
    # How an output may overlap an input the step consumes (see lowering._in_place_links):
    # "elementwise" reads element i before writing it (same offset, same size only); "pixel_pairs"
    # (te_conv_fast_s8) widens each pixel pair before writing it, so a larger output may start earlier.


# -- call arguments after &params ------------------------------------------------------------------

@dataclass(frozen=True)
class TensorArg:
    """The address of a tensor (constant, caller's input or output, or arena), once planned."""
    tensor: int
    kind: str = "tensor"


@dataclass(frozen=True)
class TensorListArg:
    """A local array of the tensors' addresses (CONCATENATION's inputs)."""
    tensors: tuple[int, ...]
    kind: str = "tensor_list"


@dataclass(frozen=True)
class ArrayArg:
    array: ConstArray
    kind: str = "array"


@dataclass(frozen=True)
class ScratchArg:
    """The step's own scratch buffer in the arena (Step.scratch_bytes)."""
    kind: str = "scratch"


@dataclass(frozen=True)
class NullArg:
    kind: str = "null"


NULL = NullArg()
SCRATCH = ScratchArg()
Arg = TensorArg | TensorListArg | ArrayArg | ScratchArg | NullArg


@dataclass
class Step:
    op: Operator                  # the operator it computes (the first one, when it computes several)
    kernel: Kernel
    name: str                     # the C name of its parameter struct
    params: Struct
    args: list[Arg]
    reads: list[int]
    writes: list[int]
    in_place: list[tuple[int, int]] = field(default_factory=list)  # (input, output) pairs whose buffers
    # the kernel allows to overlap, first legal one taken (see lowering._in_place_links)
    scratch_bytes: int = 0        # a buffer of its own for this step only, from the arena plan

    def __post_init__(self):
        if not isinstance(self.params, self.kernel.params):
            raise TypeError(f"{self.kernel.function} takes {self.kernel.params.__name__}, "
                            f"not {type(self.params).__name__}")

    @property
    def arrays(self) -> list[ConstArray]:
        """The constant arrays the call needs, in the order they are declared: the call's own
        arguments, then those the parameter struct points to."""
        return [a.array for a in self.args if isinstance(a, ArrayArg)] + self.params.arrays()
