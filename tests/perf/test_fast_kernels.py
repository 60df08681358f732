"""The fast kernels' generation-time side (layouts, bias folding, the overflow bound), the in-place
plan, and the DSP path bit-exact with TFLM in QEMU on emu-m4."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinyedge.bench import run_bench
from tinyedge.boards import Catalogue
from tinyedge.codegen import planner
from tinyedge.codegen.fast import accumulators_small, depthwise_pairs, folded_bias, interleaved, padded_rows
from tinyedge.codegen.lowering import lower_graph
from tinyedge.tflite.model import load
from tinyedge.tflite.tflm import TflmRunner


def test_rows_are_padded_to_words_and_interleaved_in_load_order():
    rows = padded_rows(np.arange(1, 16, dtype=np.int8).reshape(3, 5))
    assert rows.shape == (3, 8) and rows[0].tolist() == [1, 2, 3, 4, 5, 0, 0, 0]
    layout = interleaved(rows, 2)
    assert layout.tolist() == [1, 2, 3, 4, 6, 7, 8, 9, 5, 0, 0, 0, 10, 0, 0, 0,  # the pair, chunk by chunk
                               11, 12, 13, 14, 15, 0, 0, 0]                      # the odd row stays plain


def test_folded_bias_equals_tflm_accumulator():
    rng = np.random.default_rng(1)
    weights = rng.integers(-128, 128, (4, 9))
    bias = rng.integers(-1000, 1000, 4)
    x = rng.integers(-128, 128, 9)
    zp = -7
    reference = (weights * (x - zp)).sum(axis=1) + bias
    assert np.array_equal(folded_bias(weights, bias, zp) + (weights * x).sum(axis=1), reference)


def test_depthwise_pairs_follow_sxtb16_order():
    taps = np.array([[1, 2, 3, -4]], dtype=np.int8)
    assert depthwise_pairs(taps).tolist() == [1 | (3 << 16), 2 | (0xFFFC << 16)]


def test_overflowing_layers_keep_the_reference_kernel():
    weights = np.zeros((1, 4), np.int64)
    assert accumulators_small(weights, np.array([1 << 20]), [1 << 30], [-5])
    # A dead channel with bias 2^30 (as in the MLPerf Tiny VWW model) is exact only without a right shift.
    assert accumulators_small(weights, np.array([1 << 30]), [1 << 30], [3])
    assert not accumulators_small(weights, np.array([(1 << 31) - 1]), [(1 << 31) - 1], [-31])
    assert not accumulators_small(np.full((1, 1 << 18), 127), np.array([0]), [1 << 30], [0])


def test_plan_overlaps_only_where_a_kernel_allows_it(shared_dir):
    for name in ("vww_96_int8.tflite", "pretrainedResnet_quant.tflite", "kws_ref_model.tflite"):
        lowered = lower_graph(load(shared_dir / "models" / "mlperf-tiny" / name), "m")
        planner.check(lowered.buffers, lowered.links)
        planner.check(lowered.buffers)  # half-step lifetimes: linked pairs never live at once
        assert lowered.links, name
    resnet = lower_graph(load(shared_dir / "models" / "mlperf-tiny" / "pretrainedResnet_quant.tflite"), "m")
    assert resnet.fused_ops == ["ADD", "ADD", "ADD"]


def test_planner_keeps_a_linked_buffer_at_its_distance():
    buffers = [planner.Buffer(0, 64, 0, 2), planner.Buffer(1, 128, 3, 5), planner.Buffer(2, 32, 0, 5)]
    size = planner.plan(buffers, [planner.Link(0, 1, 64)])
    planner.check(buffers, [planner.Link(0, 1, 64)])
    assert buffers[0].offset == buffers[1].offset + 64
    assert size == 160


REFERENCE_MODELS = ["kws", "vww", "ic", "ad"]


@pytest.mark.parametrize("key", REFERENCE_MODELS)
@pytest.mark.emulated
def test_mlperf_tiny_in_size_mode_on_emu_m4_is_bit_exact_and_smaller(shared_dir, emulator, tmp_path, key):
    """Size mode (int8 weights, packed kernels) on the reference input: TFLM's output, and less flash
    for the weights than the speed build's widened ones (counted from the generated arrays)."""
    from tinyedge.codegen import generate
    entry = json.loads((shared_dir / "reference" / "tflm-emulated-m4.json").read_text())["models"][key]
    path = shared_dir / "models" / "mlperf-tiny" / entry["tflite"]
    model = load(path)
    sample = np.fromfile(shared_dir / "models" / "mlperf-tiny" / entry["input"], dtype=np.int8)
    result = run_bench(Catalogue.load().get("emu-m4"), path, "native",
                       sample.reshape(1, *model.main.input_tensors()[0].shape[1:]), build_dir=tmp_path,
                       console=lambda line: None, optimize="size")
    assert result.output_hex == entry["tflm_output_hex"] and result.bit_exact
    assert generate(model, optimize="size").weights_bytes < generate(model).weights_bytes


@pytest.mark.parametrize("key", REFERENCE_MODELS)
@pytest.mark.emulated
def test_mlperf_tiny_on_emu_m4_is_bit_exact(shared_dir, emulator, tmp_path, key):
    """The DSP path (SMLAD/SXTB16) in QEMU against TFLM's output on the reference input."""
    entry = json.loads((shared_dir / "reference" / "tflm-emulated-m4.json").read_text())["models"][key]
    path = shared_dir / "models" / "mlperf-tiny" / entry["tflite"]
    shape = load(path).main.input_tensors()[0].shape
    sample = np.fromfile(shared_dir / "models" / "mlperf-tiny" / entry["input"], dtype=np.int8)
    result = run_bench(Catalogue.load().get("emu-m4"), path, "native", sample.reshape(1, *shape[1:]),
                       build_dir=tmp_path, console=lambda line: None)
    assert result.output_hex == entry["tflm_output_hex"]
    assert result.bit_exact
    assert result.instructions_per_inference > result.macs / 2  # SMLAD's floor: a sanity bound


ZOO_SUBSET = ["conv_same_stride23_relu6", "depthwise_same_relu", "add_residual_relu", "dense_softmax_pertensor",
              "conv_1x1_tanh_pertensor", "small_cnn_pertensor"]


@pytest.mark.parametrize("optimize", ["speed", "size"])
@pytest.mark.parametrize("name", ZOO_SUBSET)
@pytest.mark.emulated
def test_random_models_on_emu_m4_are_bit_exact(perf_zoo, emulator, tmp_path, name, optimize):
    """Both generations: the fast kernels' widened weights, and size mode's packed int8 weights (the
    packed convolution and fully connected kernels, chunked and not, with a fused residual ADD)."""
    if name not in perf_zoo:
        pytest.skip(f"the zoo has no model {name}")
    model = load(perf_zoo[name])
    shape = model.main.input_tensors()[0].shape
    sample = np.random.default_rng(7).integers(-128, 128, (1, *shape[1:])).astype(np.int8)
    result = run_bench(Catalogue.load().get("emu-m4"), perf_zoo[name], "native", sample, build_dir=tmp_path,
                       console=lambda line: None, optimize=optimize)
    expected = np.asarray(TflmRunner(model.raw, arena_size=512 * 1024).run(sample)[0], np.int8).tobytes().hex()
    assert result.output_hex == expected


@pytest.mark.parametrize("args, message", [
    (["--board", "emu-m4", "--model", "missing.tflite"], "error: missing.tflite does not exist"),
    (["--model", "m.tflite"], "error: bench needs a board"),
])
def test_bench_refusals_are_one_line(tinyedge_cli, tmp_path, args, message):
    result = tinyedge_cli("bench", *args, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)


def test_bench_on_a_real_board_without_its_platform_says_what_to_install(tinyedge_cli, tmp_path):
    # nordicnrf52 is not installed in this PlatformIO folder: bench stops before building anything, with
    # the command that installs it (on a machine with the platform it uploads and measures cycles and us).
    core_dir = tmp_path / "platformio"
    result = tinyedge_cli("bench", "--board", "nano33", "--model", "m.tflite", cwd=tmp_path,
                          env={"PLATFORMIO_CORE_DIR": str(core_dir)})
    assert result.returncode == 1
    assert result.stderr == (
        f"error: PlatformIO's nordicnrf52 platform is not installed in {core_dir}, so bench cannot build the "
        "firmware for nano33 (on a machine with the network: pio pkg install -g -p platformio/nordicnrf52 "
        "(once), then run tinyedge bench again)\n")
