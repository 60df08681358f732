"""Bit-exactness of the native runtime against the real TFLM interpreter (tflite_micro)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import native_model_zoo
from tinyedge.codegen import generate
from tinyedge.codegen.host import NativeRunner
from tinyedge.tflite.model import load
from tinyedge.tflite.tflm import TflmRunner

SAMPLES = 50
REQUIRED_OPS = {
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD", "MUL",
    "RESHAPE", "SOFTMAX", "LOGISTIC", "TANH", "RELU", "RELU6", "PAD", "CONCATENATION", "MEAN", "QUANTIZE",
    "DEQUANTIZE", "SHAPE", "STRIDED_SLICE", "PACK", "EXPAND_DIMS", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND",
    "TRANSPOSE", "SLICE", "SPLIT", "SPLIT_V", "GATHER", "RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR",
    "HARD_SWISH", "LEAKY_RELU", "PRELU", "SUB", "MAXIMUM", "MINIMUM", "SQUARED_DIFFERENCE", "RSQRT",
    "L2_NORMALIZATION", "LOG_SOFTMAX", "ARG_MAX", "ARG_MIN",
    "TRANSPOSE_CONV", "BATCH_MATMUL", "UNIDIRECTIONAL_SEQUENCE_LSTM",
}


def _tflm(model_bytes: bytes) -> TflmRunner:
    return TflmRunner(model_bytes, arena_size=512 * 1024)


# Models TFLM refuses to run (ARG_MAX with int64 indices: "Only int32_t are supported currently").
TFLM_REFUSES = ["arg_max_int64"]
TFLM_DEFINED = [spec.name for spec in native_model_zoo.SPECS
                if "space_to_batch" not in spec.name and spec.name not in TFLM_REFUSES]
SPACE_TO_BATCH = [spec.name for spec in native_model_zoo.SPECS if "space_to_batch" in spec.name]


@pytest.mark.slow
@pytest.mark.parametrize("name", TFLM_DEFINED)
def test_zoo_model_matches_tflm(zoo, name):
    model = load(zoo[name])
    tensor = model.main.input_tensors()[0]
    batch = native_model_zoo.random_inputs(tensor.shape[1:], tensor.dtype, SAMPLES, seed=len(name))
    native = NativeRunner.build(model).run(batch)
    reference = _tflm(model.raw).run(batch)
    assert native.dtype == reference.dtype and native.shape == reference.shape
    mismatched = np.flatnonzero(native.reshape(SAMPLES, -1) != reference.reshape(SAMPLES, -1))
    assert mismatched.size == 0, (f"{mismatched.size} of {native.size} outputs differ; first at flat "
                                  f"{mismatched[0]}: native {native.reshape(-1)[mismatched[0]]} vs "
                                  f"TFLM {reference.reshape(-1)[mismatched[0]]}")


# The zoo's models that the fast convolution and fully connected kernels take (chunked, unchunked,
# strided, padded, residual, per-tensor and per-channel).
SIZE_MODE = [name for name in TFLM_DEFINED if name.startswith(("conv", "dense", "add_residual", "small_cnn"))]


@pytest.mark.slow
@pytest.mark.parametrize("name", SIZE_MODE)
def test_zoo_model_in_size_mode_matches_tflm(zoo, name):
    """Size mode's packed int8 weights, widened in the loop (the portable C path of te_simd.h here)."""
    model = load(zoo[name])
    tensor = model.main.input_tensors()[0]
    batch = native_model_zoo.random_inputs(tensor.shape[1:], tensor.dtype, SAMPLES, seed=len(name))
    runner = NativeRunner.build(model, optimize="size")
    assert np.array_equal(runner.run(batch), _tflm(model.raw).run(batch))


@pytest.mark.slow
@pytest.mark.parametrize("name", SPACE_TO_BATCH)
def test_space_to_batch_dilation_is_folded_into_a_dilated_convolution(zoo, name):
    """TFLM leaves 3/4 of these outputs as stale arena bytes (its two intermediate tensors carry the
    converter's batch of 1), so the oracle here is TensorFlow Lite's interpreter, which computes the
    graph as TensorFlow defines it; it rounds once where TFLM rounds twice, hence 1 LSB allowed."""
    import tensorflow as tf
    model = load(zoo[name])
    runtime = generate(model)
    assert "SPACE_TO_BATCH_ND" not in runtime.ops and "SPACE_TO_BATCH_ND" in runtime.folded_ops
    tensor = model.main.input_tensors()[0]
    batch = native_model_zoo.random_inputs(tensor.shape[1:], "int8", SAMPLES, seed=3)
    native = NativeRunner.build(model).run(batch)
    interpreter = tf.lite.Interpreter(model_content=model.raw)
    interpreter.allocate_tensors()
    expected = []
    for sample in batch:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample[None])
        interpreter.invoke()
        expected.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
    difference = np.abs(native.astype(int) - np.stack(expected).astype(int))
    assert difference.max() <= 1
    assert (difference == 0).mean() > 0.9


def _tflite_interpreter_outputs(model_bytes: bytes, batch: np.ndarray) -> np.ndarray:
    import tensorflow as tf
    interpreter = tf.lite.Interpreter(model_content=model_bytes)
    interpreter.allocate_tensors()
    outputs = []
    for sample in batch:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], sample[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
    return np.stack(outputs)


@pytest.mark.slow
@pytest.mark.parametrize("name", TFLM_REFUSES)
def test_int64_arg_max_matches_tflite_where_tflm_refuses(zoo, name):
    """TFLM fails to invoke ARG_MAX with int64 indices (the converter's default for tf.math.argmax);
    the native runtime computes them, checked against TensorFlow Lite's interpreter (the op reads the
    model input, so there is no rounding to differ)."""
    model = load(zoo[name])
    with pytest.raises(Exception, match="Only int32_t are supported"):
        _tflm(model.raw).run(native_model_zoo.random_inputs(model.main.input_tensors()[0].shape[1:], "int8", 2, 0))
    tensor = model.main.input_tensors()[0]
    batch = native_model_zoo.random_inputs(tensor.shape[1:], tensor.dtype, SAMPLES, seed=5)
    batch[2:10] = batch[2:10] // 64   # few distinct values: ties, where the first index must win
    native = NativeRunner.build(model).run(batch)
    expected = _tflite_interpreter_outputs(model.raw, batch)
    assert native.dtype == np.int64 == expected.dtype
    np.testing.assert_array_equal(native, expected)


def test_zoo_covers_every_required_op(zoo):
    seen = {op.opcode for path in zoo.values() for op in load(path).main.operators}
    assert len(zoo) >= 30
    assert REQUIRED_OPS <= seen, f"not covered: {sorted(REQUIRED_OPS - seen)}"
    per_tensor = [spec.name for spec in native_model_zoo.SPECS if not spec.per_channel]
    assert per_tensor and any(spec.per_channel for spec in native_model_zoo.SPECS)
    # the per-tensor models really are per-tensor, the others have at least one per-channel weight
    for spec in native_model_zoo.SPECS:
        scales = [t.quantization.scale.size for t in load(zoo[spec.name]).main.tensors
                  if t.is_constant and t.dtype == "int8" and t.quantization is not None]
        if not spec.per_channel:
            assert max(scales) == 1, spec.name


def _reference(shared_dir):
    return json.loads((shared_dir / "reference" / "tflm-emulated-m4.json").read_text())["models"]


@pytest.mark.slow
@pytest.mark.parametrize("key", ["kws", "vww", "ic", "ad"])
def test_mlperf_tiny_matches_tflm(shared_dir, key):
    entry = _reference(shared_dir)[key]
    folder = shared_dir / "models" / "mlperf-tiny"
    model = load(folder / entry["tflite"])
    tensor = model.main.input_tensors()[0]
    bundled = np.fromfile(folder / entry["input"], dtype=np.int8).reshape(1, *tensor.shape[1:])
    batch = np.concatenate([bundled, native_model_zoo.random_inputs(tensor.shape[1:], "int8", 9, seed=7)])
    native = NativeRunner.build(model).run(batch)
    assert native[0].tobytes().hex() == entry["tflm_output_hex"]
    np.testing.assert_array_equal(native, _tflm(model.raw).run(batch))


@pytest.mark.slow
def test_mlperf_tiny_arena_not_larger_than_tflm(shared_dir, capsys):
    from tinyedge.tflite.tflm import smallest_arena
    rows = []
    for key, entry in _reference(shared_dir).items():
        model = load(shared_dir / "models" / "mlperf-tiny" / entry["tflite"])
        runtime = generate(model)
        tflm_device = entry["reference"]["arena_min_bytes"]
        tflm_host = smallest_arena(model.raw)
        rows.append((key, runtime.arena_bytes, runtime.arena_bytes + runtime.io_bytes, tflm_device, tflm_host))
        # The native arena excludes the caller's input/output buffers; it stays below TFLM's even
        # when they are added.
        assert runtime.arena_bytes + runtime.io_bytes <= tflm_device <= tflm_host
    with capsys.disabled():
        print("\nmodel  native arena  native+I/O  TFLM arena (M4, reference)  TFLM arena (host, measured)")
        for key, native, with_io, device, host in rows:
            print(f"{key:5}  {native:12}  {with_io:10}  {device:26}  {host:27}")
