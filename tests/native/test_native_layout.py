"""The layout and resampling lowerings' edges (codegen/ops_layout.py): the forms they refuse say so in one
line, and `auto` then takes TFLM; SQUEEZE shares its input's bytes like RESHAPE and EXPAND_DIMS. The
bit-exact checks of the ops themselves are the zoo's (test_native_bitexact.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import native_model_zoo
from tinyedge.codegen import generate, unsupported_ops
from tinyedge.codegen.host import NativeRunner
from tinyedge.codegen.ops import LoweringContext
from tinyedge.codegen.ops_layout import bilinear_tables, lower_strided_slice, nearest_indices
from tinyedge.errors import TinyedgeError
from tinyedge.project.runtime import choose_runtime
from tinyedge.tflite.model import load, parse
from tinyedge.tflite.tflm import TflmRunner


def _only(model, opcode):
    return next(op for op in model.main.operators if op.opcode == opcode)


def _embedding_model():
    """An Embedding layer: GATHER of a constant int8 table at indices the model's int32 input gives."""
    def make() -> bytes:
        import tensorflow as tf
        tf.keras.utils.set_random_seed(5)
        inputs = tf.keras.Input((4,), batch_size=1, dtype="int32")
        model = tf.keras.Model(inputs, tf.keras.layers.Dense(3)(tf.keras.layers.Flatten()(
            tf.keras.layers.Embedding(10, 2)(inputs))))
        converter = tf.lite.TFLiteConverter.from_keras_model(model)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([np.arange(i, i + 4, dtype=np.int32)[None] % 10]
                                                    for i in range(8))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_output_type = tf.int8
        return converter.convert()
    return load(native_model_zoo._cached("embedding_gather", make))


def test_gather_with_run_time_indices_is_refused_and_auto_takes_tflm():
    model = _embedding_model()
    gather = _only(model, "GATHER")
    assert not model.main.tensors[gather.inputs[1]].is_constant
    assert unsupported_ops(model) == ["GATHER"]
    choice = choose_runtime(model, "auto")
    # the int32 indices are a model input too, which native's callers cannot pass either
    assert choice.kind == "tflm" and choice.reason == (
        "auto chose tflm: the native runtime lacks GATHER and this model's form (model input "
        "'serving_default_input_1:0' is int32; the native runtime takes int8 or float32)")
    with pytest.raises(TinyedgeError) as error:
        choose_runtime(model, "native")
    assert str(error.value).startswith("the native runtime does not support GATHER")


def test_strided_slice_masks_tflm_ignores_are_refused(zoo):
    model = load(zoo["strided_slice_masks_reversed"])
    op = _only(model, "STRIDED_SLICE")
    context = LoweringContext(model.main.tensors, "t")
    lower_strided_slice(op, context)   # the converter's form lowers
    for mask, words in (("ellipsis_mask", "an ellipsis mask"), ("new_axis_mask", "a new-axis mask")):
        damaged = dataclasses.replace(op, options={**op.options, mask: 2})
        with pytest.raises(TinyedgeError) as error:
            lower_strided_slice(damaged, context)
        assert error.value.message == f"operator {op.index} (STRIDED_SLICE) has {words}, which TFLM ignores"
        assert error.value.hint == "use --runtime tflm for this model"


def test_bilinear_tables_by_hand():
    # 4 -> 8 with half-pixel centres: scale (4096 + 4) // 8 = 512; y * 512 + 256 - 512
    lower, upper, fraction = bilinear_tables(8, 4, align_corners=False, half_pixel_centers=True)
    assert lower == [0, 0, 0, 1, 1, 2, 2, 3] and upper == [0, 1, 1, 2, 2, 3, 3, 3]
    assert fraction == [-256, 256, 768, 256, 768, 256, 768, 256]
    # 3 -> 2000 without either flag: scale (3072 + 1000) // 2000 = 2, so row 1999 starts at 3998 / 1024 = 3,
    # past the last input row (TFLM does not clamp the lower bound)
    assert bilinear_tables(2000, 3, False, False)[0][-1] == 3
    # nearest, align_corners: scale 3/4 (float32); round(y * 0.75) for y = 0..4
    assert nearest_indices(5, 4, align_corners=True, half_pixel_centers=False) == [0, 1, 2, 2, 3]


def test_bilinear_resize_where_tflm_reads_outside_the_input_is_refused():
    spec = native_model_zoo.Spec("resize_bilinear_3_to_2000", (3, 1, 1), lambda k, L, tf, rng, x: L.Lambda(
        lambda t: tf.compat.v1.image.resize_bilinear(t, [2000, 1]))(L.Conv2D(1, 1)(x)), static_batch=True)
    model = load(native_model_zoo._cached(spec.name, lambda: native_model_zoo._convert(spec, 7)))
    op = _only(model, "RESIZE_BILINEAR")
    assert unsupported_ops(model) == ["RESIZE_BILINEAR"]
    with pytest.raises(TinyedgeError) as error:
        generate(model)
    assert str(error.value) == (f"operator {op.index} (RESIZE_BILINEAR) resizes 3 to 2000 along y, where TFLM "
                                f"reads outside the input (TFLM's result is undefined there too; resize in smaller steps)")


def _as_squeeze(raw: bytes) -> bytes:
    """The model with its one RESHAPE written as SQUEEZE of axis 2 (the converter writes tf.squeeze as
    RESHAPE whenever shapes are static, so the SQUEEZE form is made here)."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(raw, 0))
    codes = [code.builtinCode for code in model.operatorCodes]
    squeeze = schema.OperatorCodeT()
    squeeze.builtinCode = squeeze.deprecatedBuiltinCode = schema.BuiltinOperator.SQUEEZE
    squeeze.version = 1
    model.operatorCodes.append(squeeze)
    (op,) = [op for op in model.subgraphs[0].operators if codes[op.opcodeIndex] == schema.BuiltinOperator.RESHAPE]
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs = op.inputs[:1]
    op.builtinOptionsType = schema.BuiltinOptions.SqueezeOptions
    op.builtinOptions = schema.SqueezeOptionsT()
    op.builtinOptions.squeezeDims = [2]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


@pytest.mark.slow
def test_squeeze_is_an_alias_and_bit_exact(zoo):
    model = parse(_as_squeeze(load(zoo["squeeze_width"]).raw))
    assert [op.opcode for op in model.main.operators] == ["CONV_2D", "SQUEEZE"]
    runtime = generate(model)
    assert runtime.ops == ["CONV_2D"] and "SQUEEZE" in runtime.folded_ops
    batch = native_model_zoo.random_inputs((6, 5, 3), "int8", 20, seed=4)
    np.testing.assert_array_equal(NativeRunner.build(model).run(batch),
                                  TflmRunner(model.raw, arena_size=64 * 1024).run(batch))
