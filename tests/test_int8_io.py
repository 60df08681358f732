"""The host's int8 input quantization and output dequantization (tinyedge/int8_io.py) against the C the
device runs: the helpers of the rendered tinyedge.h, compiled with the host compiler, on ties, values
a float32 ulp either side of a tie, saturating values, infinities and NaN."""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

from tinyedge.errors import TinyedgeError
from tinyedge.hostcc import find_compiler
from tinyedge.int8_io import dequantize, quantize
from tinyedge.project.render import API_HEADER, render_template

# Reads float32 values on stdin, writes their quantized int8 bytes, then every int8 dequantized.
_HARNESS = r"""
#include <stdio.h>
#include "tinyedge.h"
int main(void)
{
    float value;
    int q;
    while (fread(&value, sizeof value, 1, stdin) == 1) {
        int8_t byte = tinyedge_model_quantize_input(value);
        fwrite(&byte, 1, 1, stdout);
    }
    for (q = -128; q <= 127; q++) {
        float real = tinyedge_model_dequantize_output((int8_t)q);
        fwrite(&real, sizeof real, 1, stdout);
    }
    return 0;
}
"""


def _tensor(scale: float, zero_point: int) -> SimpleNamespace:
    return SimpleNamespace(shape=(1, 4), nbytes=4, scale=scale, zero_point=zero_point)


def _device_helpers(tmp_path, scale: float, zero_point: int):
    """The firmware's two helpers for this scale and zero point, as a function of float32 values."""
    bundle = SimpleNamespace(sha256="0" * 64, protocol_name="t", labels=[],
                             input=_tensor(scale, zero_point), output=_tensor(scale, zero_point))
    header = render_template("common/tinyedge.h.j2", {"version": "test", "bundle": bundle,
                                               "runtime": SimpleNamespace(kind="native"),
                                               "name_literal": '"t"', "models": []})
    (tmp_path / "tinyedge.h").write_text(header)
    (tmp_path / API_HEADER.name).write_text(API_HEADER.read_text())   # the helpers' arithmetic
    (tmp_path / "harness.c").write_text(_HARNESS)
    program = tmp_path / "harness"
    subprocess.run([find_compiler(), "-std=c99", "-O2", "-Wall", "-Werror", "-o", str(program),
                    str(tmp_path / "harness.c")], check=True, timeout=120)

    def run(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = subprocess.run([str(program)], input=values.astype(np.float32).tobytes(),
                             capture_output=True, check=True, timeout=60).stdout
        return (np.frombuffer(out[:len(values)], np.int8),
                np.frombuffer(out[len(values):], np.float32))
    return run


def _values(scale: float) -> np.ndarray:
    """Exact ties (k + 0.5) * scale, their float32 neighbours, saturating magnitudes, the specials."""
    ties = (np.arange(-300, 300, dtype=np.float32) + np.float32(0.5)) * np.float32(scale)
    neighbours = np.concatenate([np.nextafter(ties, np.float32(np.inf)),
                                 np.nextafter(ties, np.float32(-np.inf))])
    big = np.array([1e3, -1e3, 3e9, -3e9, 1e38, -1e38, np.inf, -np.inf, np.nan, 0.0, -0.0],
                   dtype=np.float32)
    rng = np.random.default_rng(12)
    random = rng.uniform(-200 * scale, 200 * scale, 2000).astype(np.float32)
    return np.concatenate([ties, neighbours, big, random])


@pytest.mark.parametrize("scale,zero_point", [(0.5, -1), (0.0039215689, -128), (0.1, 5), (1e-6, 127)])
def test_quantize_and_dequantize_match_the_firmware_helpers(tmp_path, scale, zero_point):
    scale = float(np.float32(scale))          # a model's scale is a float32
    device = _device_helpers(tmp_path, scale, zero_point)
    values = _values(scale)
    device_bytes, device_reals = device(values)
    host_bytes = quantize(values, scale, zero_point)
    mismatches = [(float(v), int(d), int(h)) for v, d, h in zip(values, device_bytes, host_bytes) if d != h]
    assert mismatches == []
    every_int8 = np.arange(-128, 128).astype(np.int8)
    assert dequantize(every_int8, scale, zero_point).tobytes() == device_reals.tobytes()


def test_hand_computed_ties_round_away_from_zero_and_saturate():
    # x / 0.5 = 0.5, 1.5, -0.5, -2.5: away from zero gives 1, 2, -1, -3 (numpy's np.round gives 0, 2, 0, -2).
    x = np.array([0.25, 0.75, -0.25, -1.25, 100.0, -100.0, 0.0, np.nan], dtype=np.float32)
    assert quantize(x, 0.5, -1).tolist() == [0, 1, -2, -4, 127, -128, -1, -1]
    assert dequantize(np.array([-128, 0, 127], np.int8), 0.5, -1).tolist() == [-63.5, 0.5, 64.0]


def test_a_scale_that_is_not_positive_is_refused():
    with pytest.raises(TinyedgeError, match=r"^the model's input scale is 0.0, not a positive number"):
        quantize(np.zeros(3), 0.0, 0)
