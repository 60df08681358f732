"""Where things are inside a .tflite flatbuffer, for tests that damage a model byte by byte: the
length prefix of a tensor's quantization scale vector, of its shape vector, and the byte ranges that
hold constant buffers' data (as opposed to the graph's structure)."""

from __future__ import annotations

from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema


def _vector_start(table, slot: int) -> int:
    """Position of element 0 of the vector in field `slot` (4, 6, 8 ... as in the generated code)."""
    offset = table._tab.Offset(slot)
    assert offset, "the field is absent"
    return table._tab.Vector(offset)


def _tensor(raw: bytes, index: int, subgraph: int = 0):
    return schema.Model.GetRootAs(raw, 0).Subgraphs(subgraph).Tensors(index)


def scale_length_offset(raw: bytes, tensor: int) -> int:
    """Offset of the little-endian uint32 that holds the length of the tensor's scale vector."""
    quant = _tensor(raw, tensor).Quantization()
    return _vector_start(quant, 8) - 4          # QuantizationParameters.scale is field 2 (slot 8)


def shape_length_offset(raw: bytes, tensor: int) -> int:
    """Offset of the uint32 that holds the length of the tensor's shape vector."""
    return _vector_start(_tensor(raw, tensor), 4) - 4   # Tensor.shape is field 0 (slot 4)


def buffer_data_ranges(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of every non-empty constant buffer's bytes."""
    model = schema.Model.GetRootAs(raw, 0)
    ranges = []
    for index in range(model.BuffersLength()):
        buffer = model.Buffers(index)
        if buffer.DataLength():
            start = _vector_start(buffer, 4)
            ranges.append((start, start + buffer.DataLength()))
    return ranges


def with_byte(raw: bytes, offset: int, value: int) -> bytes:
    changed = bytearray(raw)
    changed[offset] = value
    return bytes(changed)
