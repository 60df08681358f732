"""The layout and resampling kernels (te_layout2.c) compiled for Cortex-M4 and Cortex-M3 and run in
QEMU: every output byte equals the tflite_micro interpreter's, for two zoo models that hold all of
TRANSPOSE, STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, GATHER, RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR."""

from __future__ import annotations

import pytest

from tinyedge.boards import Catalogue
from tinyedge.project.firmware import build_firmware
from tinyedge.tflite.model import load
from tinyedge.tflite.tflm import TflmRunner

import native_model_zoo
from support import assert_device_outputs

pytestmark = pytest.mark.emulated

MODELS = {"layout_mix_copies": {"STRIDED_SLICE", "TRANSPOSE", "SPLIT", "GATHER"},
          "layout_mix_resize": {"RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "SLICE", "SPLIT_V", "STRIDED_SLICE"}}
SAMPLES = 4   # the extremes (-128, 127 everywhere) and two random inputs


@pytest.mark.parametrize("board", ["emu-m4", "emu-m3"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_layout_ops_on_the_emulated_core_are_bit_exact(perf_zoo, emulator, tmp_path, board, name):
    model = load(perf_zoo[name])
    assert MODELS[name] <= {op.opcode for op in model.main.operators}
    target = Catalogue.load().get(board)
    batch = native_model_zoo.random_inputs(tuple(model.main.input_tensors()[0].shape[1:]), "int8", SAMPLES, seed=11)
    expected = TflmRunner(model.raw, arena_size=64 * 1024).run(batch)
    built = build_firmware(target, perf_zoo[name], tmp_path, runtime="native", name=name, console=lambda line: None)
    assert built.compiled, built.next_step
    assert_device_outputs(target, built, batch, expected)
