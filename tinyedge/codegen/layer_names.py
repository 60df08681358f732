"""Short layer names from TensorFlow tensor names, for comments and tables.

The converter names a tensor after every op fused into it, each with its full scope:
"sequential/conv2d_1/Relu;sequential/conv2d_1/BiasAdd". The layer is the first name's scope without
the model's outer scope and the op: "conv2d_1".
"""

from __future__ import annotations

import re

MAX_LENGTH = 40
# Characters a C comment and a table cell take as they are: no '*' (so no "*/"), no newline, no '\'.
_UNSAFE = re.compile(r"[^A-Za-z0-9_./:\-]")


def short_layer_name(tensor_name: str) -> str:
    """The layer a tensor comes from, at most MAX_LENGTH characters of [A-Za-z0-9_./:-] (the tail
    when longer, the most specific part); "" for an unnamed tensor."""
    parts = tensor_name.split(";")[0].strip().split("/")
    if len(parts) >= 2:
        parts = parts[:-1]        # the op: Relu, BiasAdd, Conv2D, MatMul...
    if len(parts) >= 2:
        parts = parts[1:]         # the model's scope: sequential, model, functional_1...
    name = _UNSAFE.sub("_", "/".join(parts))
    return name[-MAX_LENGTH:]
