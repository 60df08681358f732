"""Bytes of the C objects the generator emits, counted from their declared types and lengths on a
32-bit target (every core tinyedge builds for: int32_t and pointers are 4 bytes).

`object_bytes("static const int32_t x[12] = {...};")` is 48 whatever the initializer holds. The
parameter structs' sizes are those of firmware/native/tinyedge_native.h under the Arm EABI; a test
compiles `sizeof` of each with arm-none-eabi-gcc and compares (tests/test_footprint.py).
"""

from __future__ import annotations

import re

# sizeof on a 32-bit target, element types of generated arrays and the runtime's parameter structs.
SCALAR_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4,
                "float": 4, "size_t": 4}
STRUCT_BYTES = {
    "te_requant": 16,
    "te_conv_params": 92,
    "te_fully_connected_params": 40,
    "te_pool_params": 56,
    "te_binary_params": 128,
    "te_fast_conv_params": 108,
    "te_depthwise3x3_params": 60,
    "te_fast_fully_connected_params": 28,
    "te_relu_params": 28,
    "te_sigmoid_params": 20,
    "te_softmax_params": 20,
    "te_mean_params": 124,
    "te_pad_params": 80,
    "te_concat_params": 12,
    "te_space_batch_params": 56,
    "te_quantize_params": 24,
}
TYPE_BYTES = {**SCALAR_BYTES, **STRUCT_BYTES}

# `[static] const <type> [*const] <name>[<length>]? = ...;` at file scope: one generated object.
_DECLARATION = re.compile(r"^(?:static\s+)?const\s+(?P<type>\w+)\s+(?P<name>\w+)\s*"
                          r"(?:\[(?P<length>\w+)\])?\s*=", re.MULTILINE)


def _bytes(match: re.Match, defines: dict[str, int]) -> int:
    length = match["length"]
    count = 1 if length is None else int(length) if length.isdigit() else defines[length]
    return TYPE_BYTES[match["type"]] * count


def object_bytes(declaration: str, defines: dict[str, int] | None = None) -> int:
    """Bytes of the one object `declaration` defines. `defines` resolves a symbolic length such as
    TINYEDGE_NUM_INPUTS. KeyError for a type this module does not know (add it to STRUCT_BYTES)."""
    match = _DECLARATION.match(declaration.lstrip())
    if match is None:
        raise ValueError(f"not a generated constant: {declaration[:60]!r}")
    return _bytes(match, defines or {})


def source_constant_bytes(source: str, defines: dict[str, int] | None = None) -> int:
    """Bytes of every file-scope constant object in a generated C file (its flash data)."""
    return sum(_bytes(match, defines or {}) for match in _DECLARATION.finditer(source))
