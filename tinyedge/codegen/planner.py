"""Static memory plan: every activation buffer gets a fixed arena offset at generation time.

Greedy by size, largest first, each placed at the lowest offset that does not overlap a buffer
already placed whose lifetime overlaps its own (the strategy of TFLM's GreedyMemoryPlanner)."""

from __future__ import annotations

from dataclasses import dataclass

ALIGNMENT = 16


@dataclass
class Buffer:
    key: int          # the alias-group root tensor
    size: int
    first: int        # index of the first step that touches it
    last: int         # index of the last step that touches it
    offset: int = -1


def _align(value: int) -> int:
    return (value + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


def plan(buffers: list[Buffer]) -> int:
    """Assigns `offset` to every buffer; returns the arena size (peak end offset, aligned)."""
    placed: list[Buffer] = []
    for buffer in sorted(buffers, key=lambda b: (-b.size, b.first, b.key)):
        busy = sorted((other for other in placed
                       if other.first <= buffer.last and buffer.first <= other.last),
                      key=lambda other: other.offset)
        candidate = 0
        for other in busy:
            if candidate + buffer.size <= other.offset:
                break
            candidate = max(candidate, _align(other.offset + other.size))
        buffer.offset = candidate
        placed.append(buffer)
    return _align(max((b.offset + b.size for b in buffers), default=0))


def check(buffers: list[Buffer]) -> None:
    """Raises AssertionError when two buffers alive at the same step share bytes (test helper)."""
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            if a.first <= b.last and b.first <= a.last:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
