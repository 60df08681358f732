"""te_requant (the fast kernels' requantization): the rearranged arithmetic equals TFLM's, the
bounds refuse what it cannot reproduce, and the weight layouts follow the kernels' load order."""

from __future__ import annotations

import numpy as np

from tinyedge.codegen.fast import (channel_pair_layout, pair_words, requant_entry, requant_table,
                                   tflm_requantize)


def smmulr(a: int, b: int) -> int:
    return (a * b + (1 << 31)) >> 32


def apply(acc: int, entry: tuple[int, int, int, int]) -> int:
    """te_requant_apply in Python (the C arithmetic, int32 throughout)."""
    multiplier, left, addend, right = entry
    high = smmulr(acc << left, multiplier)
    return (high + addend + (high >> 31)) >> right


def test_rearranged_requantization_equals_tflm():
    rng = np.random.default_rng(3)
    for _ in range(300):
        multiplier = int(rng.integers(1 << 30, 1 << 31))
        shift = int(rng.integers(-20, 2))
        offset = int(rng.integers(-128, 128))
        bound = int(rng.integers(1, 1 << 22))
        entry = requant_entry(bound, multiplier, shift, offset)
        if shift >= 0:
            assert entry is None   # no right shift: refused
            continue
        assert entry is not None
        for acc in [-bound, bound, 0, -1, 1, *rng.integers(-bound, bound + 1, 50).tolist()]:
            assert apply(int(acc), entry) == tflm_requantize(int(acc), multiplier, shift) + offset


def test_bounds_refuse_what_would_overflow():
    assert requant_entry(1 << 30, 1 << 30, -5, 0) is None          # acc << 1 leaves int32
    assert requant_entry(1 << 20, 1 << 30, 3, 0) is None           # left shift, no right shift
    assert requant_entry(1 << 20, 1 << 30, -31, 127) is None       # offset << 31 leaves int32
    assert requant_entry(1 << 20, 1 << 30, -8, 127) is not None


def test_dead_channels_become_constants():
    weights = np.array([[0, 0, 0, 0], [1, -2, 3, 4]])
    bias = np.array([1 << 30, 10])
    entries, new_bias = requant_table(weights, bias, [1 << 30, 1 << 30], [-26, -4], -3, -128, 127)
    expected = tflm_requantize(1 << 30, 1 << 30, -26) - 3
    assert new_bias.tolist() == [0, 10]
    assert apply(0, entries[0]) == expected
    assert requant_table(weights, bias, [1 << 30, 1 << 30], [-26, 2], -3, -128, 127) is None


def test_pair_layouts_follow_the_load_order():
    rows = np.array([[1, 2, 3, 4, 5, 6, 7, 8], [-1, -2, -3, -4, -5, -6, -7, -8], [9, 9, 9, 9, 9, 9, 9, 9]],
                    np.int8)
    chunked = pair_words(rows, chunked=True)
    assert chunked[0].tolist() == [1 | 3 << 16, 2 | 4 << 16, 5 | 7 << 16, 6 | 8 << 16]
    natural = pair_words(rows, chunked=False)
    assert natural[1, 0] == (0xFFFF | 0xFFFE << 16)
    layout = channel_pair_layout(natural)
    assert layout[:4].tolist() == [natural[0, 0], natural[1, 0], natural[0, 1], natural[1, 1]]
    assert layout[8:].tolist() == natural[2].tolist()   # the odd last channel stays a plain row
