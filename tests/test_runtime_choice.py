"""`--runtime auto` and `tinyedge inspect`'s per-op verdicts, checked against the runtimes themselves:
a "native runs it" verdict by generating and running the model natively against tflite_micro, a
"native refuses it" verdict by generate's own refusal and tflite_micro running the model instead,
and the stale-batch dilated convolution by tflite_micro computing it wrongly where TensorFlow Lite's
own interpreter and the native runtime agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyedge.boards import Catalogue
from tinyedge.codegen import generate
from tinyedge.codegen.host import NativeRunner
from tinyedge.errors import TinyedgeError
from tinyedge.project.firmware import build_firmware
from tinyedge.project.runtime import choose_runtime
from tinyedge.tflite.model import load, parse
from tinyedge.tflite.tflm import TflmRunner

from support import assert_device_outputs

STALE_WARNING = (
    "operator 0 (SPACE_TO_BATCH_ND, block 2x2) keeps batch 1 for an output of batch 4: the converter's "
    "dynamic-batch dilated convolution, which TFLM runs on a quarter of the output only (the rest is "
    "stale arena bytes); the native runtime folds it into the dilated convolution correctly; convert "
    "with a batch of 1 (keras.Input(..., batch_size=1)) to avoid it")


def DILATED(L, tf, x):
    return L.Conv2D(4, 3, dilation_rate=2, padding="same")(x)


def _convert(build, input_shape, batch_size, seed=3) -> bytes:
    """A small Keras model, int8-quantized the way a user converts one (the converter called directly)."""
    import tensorflow as tf
    keras = tf.keras
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(input_shape, batch_size=batch_size)
    model = keras.Model(inputs, build(keras.layers, tf, inputs))
    rng = np.random.default_rng(seed)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([rng.normal(0, 1.5, (1, *input_shape)).astype(np.float32)]
                                                for _ in range(16))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return bytes(converter.convert())


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("runtime-choice")
    made = {
        # an int8 model with a live int32 ADD after ARG_MAX: native's ADD is int8 only
        "int32_add": _convert(lambda L, tf, x: L.Lambda(lambda t: tf.argmax(t, axis=-1, output_type=tf.int32) + 3)(
            L.Conv2D(4, 3)(x)), (6, 5, 2), 1),
        # a model native runs in full
        "conv_dense": _convert(lambda L, tf, x: L.Dense(5)(L.Flatten()(L.Conv2D(4, 3, activation="relu")(x))),
                               (6, 5, 2), 1),
        # ABS, which native has no kernel for, on int8 tensors the protocol carries
        "abs": _convert(lambda L, tf, x: L.Lambda(lambda t: tf.abs(t))(L.Conv2D(4, 3)(x)), (6, 5, 2), 1),
        # the converter's dynamic-batch dilated convolution
        "dilated_dynamic_batch": _convert(DILATED, (9, 7, 3), None),
        # the same weights and calibration with a batch of 1: the dilation is in CONV_2D itself
        "dilated_batch_1": _convert(DILATED, (9, 7, 3), 1),
    }
    paths = {}
    for name, data in made.items():
        paths[name] = folder / f"{name}.tflite"
        paths[name].write_bytes(data)
    return paths


def _inputs(path: Path, count: int = 6, seed: int = 7) -> np.ndarray:
    shape = load(path).main.input_tensors()[0].shape[1:]
    batch = np.random.default_rng(seed).integers(-128, 128, (count, *shape)).astype(np.int8)
    batch[0], batch[1] = -128, 127
    return batch


def _tflite_interpreter(path: Path, batch: np.ndarray) -> np.ndarray:
    """TensorFlow Lite's own interpreter: it sizes every tensor at run time, stale stored shapes or not."""
    import tensorflow as tf
    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    source, result = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    outputs = []
    for sample in batch:
        interpreter.set_tensor(source["index"], sample[None])
        interpreter.invoke()
        outputs.append(interpreter.get_tensor(result["index"])[0].copy())
    return np.stack(outputs)


def _inspect_json(path: Path) -> dict:
    result = subprocess.run([sys.executable, "-m", "tinyedge", "inspect", str(path), "--json"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_auto_takes_tflm_for_a_live_int32_op_that_native_generate_refuses(models):
    path = models["int32_add"]
    model = load(path)
    assert [op.opcode for op in model.main.operators] == ["CONV_2D", "ARG_MAX", "ADD"]
    # The native generator itself refuses the int32 ADD ...
    with pytest.raises(TinyedgeError) as refused:
        generate(model)
    assert refused.value.message == ("operator 2 (ADD, output 'StatefulPartitionedCall:0') input 0 "
                                     "'model/lambda/ArgMax' is int32; the native runtime takes int8 there")
    # ... so auto picks TFLM, naming the op, and TFLM computes what TensorFlow Lite computes.
    choice = choose_runtime(model, "auto")
    assert (choice.kind, choice.reason) == ("tflm", "auto chose tflm: the native runtime lacks ADD")
    batch = _inputs(path)
    assert np.array_equal(TflmRunner(model.raw).run(batch), _tflite_interpreter(path, batch))
    with pytest.raises(TinyedgeError) as explicit:
        choose_runtime(model, "native")
    assert explicit.value.message == f"the native runtime does not support ADD: {refused.value.message}"


def test_auto_takes_tflm_for_an_int32_model_input():
    import tensorflow as tf
    keras = tf.keras
    keras.backend.clear_session()
    inputs = keras.Input((6,), batch_size=1, dtype="int32")
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Lambda(lambda t: tf.cast(t, tf.float32))(inputs)))
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    parsed = parse(bytes(converter.convert()))
    with pytest.raises(TinyedgeError):
        generate(parsed)
    choice = choose_runtime(parsed, "auto")
    name = parsed.main.input_tensors()[0].name
    assert choice.kind == "tflm"
    assert choice.reason.endswith(f"this model's form (model input '{name}' is int32; the native runtime "
                                  "takes int8 or float32)")


def test_inspect_says_which_runtime_runs_each_op(models):
    refused = _inspect_json(models["int32_add"])
    rows = {row["op"]: row for row in refused["ops"]}
    with pytest.raises(TinyedgeError) as generated:
        generate(load(models["int32_add"]))
    assert rows["ADD"]["native"] == generated.value.message          # generate's own refusal line
    assert rows["CONV_2D"]["native"] is None and rows["ARG_MAX"]["native"] is None
    assert {op: (row["tflm"], row["tflm_method"]) for op, row in rows.items()} == {
        "ADD": (None, "AddAdd"), "ARG_MAX": (None, "AddArgMax"), "CONV_2D": (None, "AddConv2D")}

    # "native: yes" for every op: the generated C, compiled and run, equals tflite_micro byte for byte.
    path = models["conv_dense"]
    runs = _inspect_json(path)
    assert runs["native_model"] is None and all(row["native"] is None for row in runs["ops"])
    assert choose_runtime(load(path), "auto").kind == "native"
    batch = _inputs(path)
    assert np.array_equal(NativeRunner.build(load(path)).run(batch), TflmRunner(load(path).raw).run(batch))


def test_inspect_table_shows_both_runtimes(models):
    result = subprocess.run([sys.executable, "-m", "tinyedge", "inspect", str(models["int32_add"])],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "yes (AddArgMax)" in result.stdout
    assert "no: operator 2 (ADD" in result.stdout


def test_stale_batch_dilation_is_named_and_tflm_computes_it_wrongly(models, tmp_path):
    path = models["dilated_dynamic_batch"]
    model = load(path)
    assert [op.opcode for op in model.main.operators][:3] == ["SPACE_TO_BATCH_ND", "CONV_2D", "BATCH_TO_SPACE_ND"]
    static = load(models["dilated_batch_1"])
    assert "SPACE_TO_BATCH_ND" not in {op.opcode for op in static.main.operators}
    batch = _inputs(path)
    truth = TflmRunner(static.raw).run(batch)     # tflite_micro on the batch-1 conversion of the same model
    native = NativeRunner.build(model).run(batch)
    tflm = TflmRunner(model.raw).run(batch)
    # The native fold computes the dilated convolution bit-exact; TFLM, given the stale shapes, gets
    # only a share of the outputs right; TensorFlow Lite's own interpreter (which sizes every tensor
    # at run time) is within its optimized kernels' one step of rounding of the truth.
    assert np.array_equal(native, truth)
    assert np.mean(tflm == truth) < 0.4
    assert np.abs(_tflite_interpreter(path, batch).astype(int) - truth).max() <= 1
    assert _inspect_json(path)["warnings"] == [STALE_WARNING]

    messages: list[str] = []
    build_firmware(Catalogue.load().get("host"), path, tmp_path, runtime="auto", name="dilated",
                   compile=False, console=messages.append)
    assert messages.count(f"warning: {STALE_WARNING}") == 1


def test_the_pipeline_converts_a_dilated_convolution_without_space_to_batch():
    import tensorflow as tf
    from tinyedge.pipeline.quantize import convert_int8
    keras = tf.keras
    keras.backend.clear_session()
    inputs = keras.Input((9, 7, 3))                  # a dynamic batch, as Keras users write it
    model = keras.Model(inputs, keras.layers.Conv2D(4, 3, dilation_rate=2, padding="same")(inputs))
    calibration = np.random.default_rng(0).normal(size=(8, 9, 7, 3)).astype(np.float32)
    converted = parse(convert_int8(model, calibration))
    ops = [op.opcode for op in converted.main.operators]
    assert "SPACE_TO_BATCH_ND" not in ops and "BATCH_TO_SPACE_ND" not in ops
    conv = next(op for op in converted.main.operators if op.opcode == "CONV_2D")
    assert (conv.options["dilation_h_factor"], conv.options["dilation_w_factor"]) == (2, 2)


@pytest.mark.emulated
@pytest.mark.skipif(not os.environ.get("TINYEDGE_TFLM_DIR"), reason="TINYEDGE_TFLM_DIR names no TFLM tree")
@pytest.mark.parametrize("board", ["emu-m4", "emu-m3"])
def test_auto_fallback_firmware_runs_bit_exact_on_the_emulated_board(models, tmp_path, board):
    """The firmware auto falls back to (TFLM, for ABS) answers as tflite_micro does in QEMU."""
    path = models["abs"]
    target = Catalogue.load().get(board)
    messages: list[str] = []
    built = build_firmware(target, path, tmp_path, runtime="auto", name="abs_model",
                           tflm_dir=Path(os.environ["TINYEDGE_TFLM_DIR"]), console=messages.append)
    assert messages[0] == "runtime: tflm (auto chose tflm: the native runtime lacks ABS)"
    assert built.compiled and built.runtime == "tflm", built.next_step
    batch = _inputs(path, count=4)
    expected = TflmRunner(load(path).raw).run(batch)
    assert_device_outputs(target, built, batch, expected)
