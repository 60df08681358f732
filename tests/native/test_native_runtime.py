"""The native runtime's other promises: the built-in example's data, one-line errors for bad input, the
CLI, the memory planner and the quantization math (warning-free C: test_warning_free.py)."""

from __future__ import annotations

import numpy as np
import pytest

import native_model_zoo
from tinyedge.codegen import generate, unsupported_ops
from tinyedge.codegen import planner
from tinyedge.codegen.host import NativeRunner
from tinyedge.codegen.quantization import quantize_multiplier, round_half_away
from tinyedge.errors import TinyedgeError
from tinyedge.tflite.model import load
from tinyedge.tflite.tflm import TflmRunner


@pytest.mark.slow
def test_digits_cnn_matches_tflm_and_classifies():
    path, inputs, labels = native_model_zoo.digits_model()
    model = load(path)
    native = NativeRunner.build(model).run(inputs)
    np.testing.assert_array_equal(native, TflmRunner(model.raw, arena_size=256 * 1024).run(inputs))
    assert len(inputs) >= 300
    assert (native.argmax(axis=1) == labels).mean() > 0.85


@pytest.fixture(scope="module")
def runtimes(zoo):
    names = ["conv_same_s1_relu", "float_io_cnn", "concat_channels_and_width", "mean_over_width_keepdims",
             "mul_broadcast_squeeze_excite", "zero_padding_conv", "conv_dilated_space_to_batch"]
    return [generate(load(zoo[name]), prefix=f"net{i}") for i, name in enumerate(names)]


def test_generated_runtime_has_no_malloc_and_no_float_for_int8_models(runtimes):
    int8_model = runtimes[0].files["net0_model.c"]
    assert "malloc" not in int8_model and "float" not in int8_model
    assert "te_quantize.c" not in [p.name for p in runtimes[0].kernel_sources]
    assert "float" in runtimes[1].files["net1_model.h"]  # float I/O keeps float entry points


def test_float_model_is_rejected_with_one_line():
    with pytest.raises(TinyedgeError) as error:
        generate(load(native_model_zoo.float_model()))
    assert error.value.one_line().startswith("operator 0 (FULLY_CONNECTED, output ")
    assert "computes in float32: the native runtime runs fully int8-quantized models only" in error.value.one_line()
    assert error.value.one_line().endswith("(quantize the model to int8 (full-integer PTQ), or use --runtime tflm)")


def test_unsupported_op_names_the_op_and_points_to_tflm():
    model = load(native_model_zoo.unsupported_op_model())
    assert unsupported_ops(model) == ["ABS"]
    with pytest.raises(TinyedgeError) as error:
        generate(model)
    line = error.value.one_line()
    assert line.startswith("the native runtime has no kernel for operator 1 (ABS, output '")
    assert line.endswith("(use --runtime tflm for this model)")


def test_supported_model_reports_no_unsupported_ops(zoo):
    assert unsupported_ops(load(zoo["small_cnn_pertensor"])) == []


def test_truncated_flatbuffer_is_one_line_from_the_cli(zoo, tmp_path, tinyedge_cli):
    damaged = tmp_path / "damaged.tflite"
    damaged.write_bytes(zoo["conv_same_s1_relu"].read_bytes()[:700])
    np.save(tmp_path / "x.npy", np.zeros((1, 9, 7, 3), np.int8))
    result = tinyedge_cli("infer", "--model", str(damaged), "--input", str(tmp_path / "x.npy"),
                          "--output", str(tmp_path / "y.npy"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: {damaged} is a damaged TFLite model (its flatbuffer does not decode) "
        f"(the file is truncated or corrupt; export it again)")
    assert not (tmp_path / "y.npy").exists()


@pytest.mark.parametrize("bad, message", [
    (np.zeros((2, 9, 7, 3), np.float32),
     "error: input dtype is float32, the model takes int8 (quantize the inputs with the model's input "
     "scale and zero point)"),
    (np.zeros((2, 9, 7), np.int8),
     "error: input shape is (2, 9, 7), the model takes (N, 9, 7, 3) (the first axis counts samples; "
     "reshape the rest to the model's input)"),
    (np.zeros((2, 9, 7, 4), np.int8),
     "error: input shape is (2, 9, 7, 4), the model takes (N, 9, 7, 3) (the first axis counts samples; "
     "reshape the rest to the model's input)"),
])
@pytest.mark.parametrize("runtime", ["native", "tflm"])
def test_wrong_input_is_one_line_for_both_runtimes(zoo, tmp_path, tinyedge_cli, bad, message, runtime):
    np.save(tmp_path / "x.npy", bad)
    (tmp_path / "y.npy").write_bytes(b"previous")
    result = tinyedge_cli("infer", "--model", str(zoo["conv_same_s1_relu"]), "--runtime", runtime,
                          "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / "y.npy"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == message
    assert (tmp_path / "y.npy").read_bytes() == b"previous"  # earlier artifacts survive


def test_wrong_size_from_the_python_api(zoo):
    runner = NativeRunner.build(load(zoo["conv_same_s1_relu"]))
    with pytest.raises(TinyedgeError, match=r"^input shape is \(3, 10\), the model takes \(N, 9, 7, 3\)"):
        runner.run(np.zeros((3, 10), np.int8))
    with pytest.raises(TinyedgeError, match=r"^input dtype is uint8, the model takes int8"):
        runner.run(np.zeros((3, 9, 7, 3), np.uint8))


@pytest.mark.slow
def test_cli_native_equals_cli_tflm(zoo, tmp_path, tinyedge_cli):
    batch = native_model_zoo.random_inputs((6, 5, 2), "int8", 50, seed=11)
    np.save(tmp_path / "x.npy", batch)
    outputs = {}
    for runtime in ("native", "tflm"):
        result = tinyedge_cli("infer", "--model", str(zoo["concat_channels_and_width"]), "--runtime", runtime,
                              "--input", str(tmp_path / "x.npy"), "--output", str(tmp_path / f"{runtime}.npy"))
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        outputs[runtime] = np.load(tmp_path / f"{runtime}.npy")
    assert outputs["native"].shape == (50, 6, 10, 5)
    np.testing.assert_array_equal(outputs["native"], outputs["tflm"])


def test_native_cli_reports_arena_weights_and_code(zoo, tmp_path, tinyedge_cli):
    np.save(tmp_path / "x.npy", np.zeros((1, 9, 7, 3), np.int8))
    result = tinyedge_cli("infer", "--model", str(zoo["conv_same_s1_relu"]), "--input", str(tmp_path / "x.npy"),
                          "--output", str(tmp_path / "y.npy"))
    assert result.returncode == 0, result.stderr
    report = result.stderr.splitlines()[0]
    # Counted by hand: a 3x3 convolution of 3 channels into 5 on the fast kernel. Its input and output
    # are the caller's buffers, so the arena is the kernel's scratch, 5 bytes per widened pair of the
    # 27-tap row padded to 28 (140, aligned to 144); the weights are 5 rows of 14 uint32 pairs (280),
    # 5 folded int32 biases (20) and 5 te_requant entries of 16 bytes (80).
    assert report.startswith("native runtime: arena 144 B, weights 380 B")
    assert "B code (host .text)" in report


def test_planner_places_live_buffers_apart_and_reuses_dead_ones():
    buffers = [planner.Buffer(0, 100, 0, 1), planner.Buffer(1, 50, 1, 2), planner.Buffer(2, 100, 2, 3)]
    size = planner.plan(buffers)
    planner.check(buffers)
    assert buffers[0].offset == buffers[2].offset == 0   # same bytes, lifetimes do not overlap
    assert buffers[1].offset == 112                       # after buffer 0, aligned to 16
    assert size == 176


def test_planner_on_mlperf_models(shared_dir):
    from tinyedge.codegen.lowering import lower_graph
    for path in sorted((shared_dir / "models" / "mlperf-tiny").glob("*.tflite")):
        lowered = lower_graph(load(path), "m")
        planner.check(lowered.buffers)
        biggest_pair = max(a.size + b.size for a in lowered.buffers for b in lowered.buffers
                           if a is not b and a.first <= b.last and b.first <= a.last)
        assert biggest_pair <= lowered.arena_bytes


def test_quantize_multiplier_matches_tflm_semantics():
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(2.0 ** -40) == (0, 0)               # flushed to zero below 2^-31
    assert quantize_multiplier(1.0 - 2.0 ** -40) == (1 << 30, 1)   # rounds up to 2^31, renormalised
    assert round_half_away(2.5) == 3 and round_half_away(-2.5) == -3 and round_half_away(0.49999999999999994) == 0
