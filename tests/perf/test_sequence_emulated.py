"""The matrix and sequence kernels (te_matrix.c, te_lstm.c) compiled for Cortex-M4 and Cortex-M3 and
run in QEMU: every output byte equals the tflite_micro interpreter's, for one zoo model that holds
UNIDIRECTIONAL_SEQUENCE_LSTM, BATCH_MATMUL and TRANSPOSE_CONV, and for a hand-written SVDF model. Each bench run boots the firmware and
invokes once, as a fresh TFLM interpreter does, so the LSTM starts from TFLM's initial state (its
hidden state at the zero point)."""

from __future__ import annotations

import pytest

from tinyedge.boards import Catalogue
from tinyedge.tflite.model import load

import native_model_zoo
from support import bench_each_sample

pytestmark = pytest.mark.emulated

MODEL = "sequence_mix_lstm_matmul_transpose_conv"
SAMPLES = 3   # the extremes (-128, 127 everywhere) and one random input


@pytest.mark.parametrize("board", ["emu-m4", "emu-m3"])
def test_sequence_ops_on_the_emulated_core_are_bit_exact(perf_zoo, emulator, tmp_path, board):
    model = load(perf_zoo[MODEL])
    assert {"UNIDIRECTIONAL_SEQUENCE_LSTM", "BATCH_MATMUL", "TRANSPOSE_CONV"} <= \
        {op.opcode for op in model.main.operators}
    target = Catalogue.load().get(board)
    shape = model.main.input_tensors()[0].shape
    batch = native_model_zoo.random_inputs(tuple(shape[1:]), "int8", SAMPLES, seed=17)
    for result in bench_each_sample(target, perf_zoo[MODEL], batch, tmp_path):
        assert len(result.output_hex) == 2 * model.main.output_tensors()[0].num_elements


@pytest.mark.parametrize("board", ["emu-m4", "emu-m3"])
def test_svdf_on_the_emulated_core_is_bit_exact(emulator, tmp_path, board):
    spec = native_model_zoo.SVDF_SPECS[1]
    path = native_model_zoo.svdf_model(spec)
    target = Catalogue.load().get(board)
    batch = native_model_zoo.random_inputs((spec.input_size,), "int8", SAMPLES, seed=19)
    for result in bench_each_sample(target, path, batch, tmp_path):
        assert len(result.output_hex) == 2 * spec.units
