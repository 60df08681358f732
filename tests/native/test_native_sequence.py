"""SVDF against the real TFLM interpreter (tflite_micro), on hand-written models (Keras has no SVDF
layer): every output of 40 samples equals TFLM's. The zoo's LSTM models are checked in
test_native_bitexact.py; here, that the states start afresh for each sample on both runtimes."""

from __future__ import annotations

import numpy as np
import pytest

import native_model_zoo
from tinyedge.codegen import generate
from tinyedge.codegen.host import NativeRunner
from tinyedge.errors import TinyedgeError
from tinyedge.tflite.model import load, parse
from tinyedge.tflite.tflm import TflmRunner

SAMPLES = 40


@pytest.mark.parametrize("spec", native_model_zoo.SVDF_SPECS, ids=lambda spec: spec.name)
def test_svdf_matches_tflm_invoke_after_invoke(spec):
    model = load(native_model_zoo.svdf_model(spec))
    assert [op.opcode for op in model.main.operators] == ["SVDF"]
    batch = native_model_zoo.random_inputs((spec.input_size,), "int8", SAMPLES, seed=spec.memory)
    native = NativeRunner.build(model).run(batch)
    reference = TflmRunner(model.raw, arena_size=64 * 1024).run(batch)
    np.testing.assert_array_equal(native, reference)



@pytest.mark.parametrize("path", [
    lambda: native_model_zoo.svdf_model(native_model_zoo.SVDF_SPECS[0]),
    pytest.param(lambda: native_model_zoo.build_zoo()["lstm_last_state_dense"], marks=pytest.mark.slow)],
    ids=["svdf", "lstm"])
def test_each_sample_starts_from_the_reset_state(path):
    """A sample's output does not depend on the samples before it, on TFLM (reset before each sample)
    and on native (each invoke starts from TFLM's reset values): the same sample after another one
    gives the output it gives first. A never-reset TFLM interpreter would carry the state over."""
    model = load(path())
    tensor = model.main.input_tensors()[0]
    first, other = native_model_zoo.random_inputs(tuple(tensor.shape[1:]), "int8", 2, seed=23)
    batch = np.stack([first, other, first])
    for outputs in (NativeRunner.build(model).run(batch), TflmRunner(model.raw, arena_size=64 * 1024).run(batch)):
        np.testing.assert_array_equal(outputs[0], outputs[2])
    from tflite_micro import runtime   # the oracle's own behaviour without a reset: the state carries over
    interpreter = runtime.Interpreter.from_bytes(model.raw, arena_size=64 * 1024)
    carried = []
    for sample in batch:
        interpreter.set_input(sample[None], 0)
        interpreter.invoke()
        carried.append(np.array(interpreter.get_output(0)))
    assert not np.array_equal(carried[0], carried[2])


def test_svdf_with_a_fused_activation_is_refused_in_one_line():
    """TFLM's integer SVDF ignores a fused activation: the native runtime refuses rather than match it."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    raw = native_model_zoo.svdf_model(native_model_zoo.SVDF_SPECS[0]).read_bytes()
    tree = schema.ModelT.InitFromPackedBuf(raw, 0)
    tree.subgraphs[0].operators[0].builtinOptions.fusedActivationFunction = schema.ActivationFunctionType.RELU
    import flatbuffers
    builder = flatbuffers.Builder(4096)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(TinyedgeError) as refused:
        generate(parse(bytes(builder.Output())))
    assert "fused RELU activation, which TFLM's integer SVDF ignores" in str(refused.value)
    assert "\n" not in str(refused.value)
