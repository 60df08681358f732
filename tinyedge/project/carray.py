"""The model flatbuffer as a C array, in the form TFLM users expect (model_data.cc / model_data.h):

    alignas(16) const unsigned char tinyedge_model_data[] = {0x1c, 0x00, ...};
    const unsigned int tinyedge_model_data_len = 53936;

16-byte alignment because TFLM reads the flatbuffer in place and its buffers hold int32/int64 data.
`parse_c_array` reads such a file back, so a test can prove the bytes are exactly the model's.
"""

from __future__ import annotations

import re

from ..errors import TinyedgeError

BYTES_PER_LINE = 12
ALIGNMENT = 16


def array_body(data: bytes, indent: str = "    ") -> str:
    """The initialiser lines of a byte array: `0x1c, 0x00, ...`, BYTES_PER_LINE to a line."""
    lines = []
    for start in range(0, len(data), BYTES_PER_LINE):
        chunk = data[start:start + BYTES_PER_LINE]
        lines.append(indent + ", ".join(f"0x{b:02x}" for b in chunk) + ",")
    return "\n".join(lines)


def signed_array_body(values: bytes, indent: str = "    ") -> str:
    """Initialiser lines of an int8_t array from raw bytes (two's complement)."""
    numbers = [b - 256 if b > 127 else b for b in values]
    lines = []
    for start in range(0, len(numbers), 16):
        lines.append(indent + ", ".join(str(n) for n in numbers[start:start + 16]) + ",")
    return "\n".join(lines)


_ARRAY = re.compile(r"(?:alignas\(\d+\)\s+)?const\s+unsigned\s+char\s+(\w+)\s*\[\s*\]\s*=\s*\{(.*?)\};",
                    re.S)
_LENGTH = re.compile(r"const\s+unsigned\s+int\s+(\w+)\s*=\s*(\d+)\s*;")


def parse_c_array(source: str, symbol: str) -> bytes:
    """The bytes of the array `symbol` in a C/C++ source, checked against its `<symbol>_len` constant."""
    arrays = {m.group(1): m.group(2) for m in _ARRAY.finditer(source)}
    if symbol not in arrays:
        raise TinyedgeError(f"no array '{symbol}' in the C source", "generate model_data.cc again")
    body = re.sub(r"/\*.*?\*/|//[^\n]*", "", arrays[symbol], flags=re.S)
    tokens = [t.strip() for t in body.split(",") if t.strip()]
    data = bytes(int(t, 0) for t in tokens)
    lengths = {m.group(1): int(m.group(2)) for m in _LENGTH.finditer(source)}
    declared = lengths.get(f"{symbol}_len")
    if declared is not None and declared != len(data):
        raise TinyedgeError(f"array '{symbol}' holds {len(data)} bytes but its length constant says "
                            f"{declared}", "generate model_data.cc again")
    return data
