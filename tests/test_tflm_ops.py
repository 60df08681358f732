"""The one TFLM op table (tinyedge/tflite/tflm_ops.py): the pipeline's check and the TFLM firmware's
op resolver give the same verdict for every op, on a real int8 model with an op the resolver list once
lacked (BATCH_MATMUL: the check passed it, then firmware generation refused it), and the resolver
methods against TFLM's own micro_mutable_op_resolver.h when a TFLM tree is named."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

from tinyedge.errors import TinyedgeError
from tinyedge.tflite.tflm_ops import TFLM_CUSTOM_OPS, TFLM_OPS, resolver_methods, support


def _firmware_accepts(op: str) -> bool:
    try:
        resolver_methods([op])
    except TinyedgeError:
        return False
    return True


def test_every_op_gets_the_same_verdict_from_the_check_and_the_firmware_resolver():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    builtins = [name for name in vars(schema.BuiltinOperator) if name.isupper()]
    verdicts = {op: (support(op, 1, custom=False) is None, _firmware_accepts(op)) for op in builtins}
    assert [op for op, (check, firmware) in verdicts.items() if check != firmware] == []
    assert {op for op, (check, _) in verdicts.items() if check} == set(TFLM_OPS)
    assert all(support(op, 1, custom=True) is None and _firmware_accepts(op) for op in TFLM_CUSTOM_OPS)
    with pytest.raises(TinyedgeError, match=r"^TFLM.s op resolver has no method for ETHOSU, DELEGATE \(these ops"):
        resolver_methods(["ETHOSU", "DELEGATE"])


@pytest.fixture(scope="module")
def batch_matmul_model() -> bytes:
    """x @ x^T on a (4, 8) input, through the real converter to full int8: a BATCH_MATMUL."""
    import tensorflow as tf
    import tf_keras

    from tinyedge.pipeline import quantize
    tf_keras.utils.set_random_seed(0)
    features = tf_keras.Input((4, 8))
    gram = tf_keras.layers.Lambda(lambda t: tf.matmul(t, t, transpose_b=True))(features)
    model = tf_keras.Model(features, tf_keras.layers.Flatten()(gram))
    calibration = np.random.default_rng(0).uniform(-1, 1, (16, 4, 8)).astype(np.float32)
    return quantize.convert_int8(model, calibration)


def test_a_model_the_check_passes_gets_a_tflm_firmware(batch_matmul_model):
    from tinyedge.boards import Catalogue
    from tinyedge.pipeline import checks
    from tinyedge.project import make_bundle, plan_project
    from tinyedge.tflite.model import parse
    from tinyedge.tflite.tflm import TflmRunner

    model = parse(batch_matmul_model)
    assert "BATCH_MATMUL" in {op.opcode for op in model.main.operators}
    # The oracle that TFLM has the op: the real interpreter runs the model.
    TflmRunner(batch_matmul_model).run(np.zeros((1, 4, 8), np.int8))
    checks.require_int8_tflm(model, "model.tflite")
    plan = plan_project(make_bundle(batch_matmul_model, "gram"), Catalogue.load().get("nano33"),
                        runtime="tflm")
    assert "AddBatchMatMul" in plan.tflm.methods


def _resolver_header() -> str:
    tree = os.environ.get("TINYEDGE_TFLM_DIR")
    if not tree:
        pytest.skip("TINYEDGE_TFLM_DIR is not set (a TFLM tree from create_tflm_tree.py)")
    return (Path(tree) / "tensorflow" / "lite" / "micro" / "micro_mutable_op_resolver.h").read_text()


def test_each_resolver_method_registers_its_op_in_tflms_header():
    header = _resolver_header()
    registered = dict(re.findall(r"TfLiteStatus (Add\w+)\([^{]*\{\s*return AddBuiltin\(\s*"
                                 r"(?:tflite::)?BuiltinOperator_(\w+)", header))
    assert {op: method for op, (_, method) in TFLM_OPS.items() if registered.get(method) != op} == {}
    for op, method in TFLM_CUSTOM_OPS.items():
        assert re.search(rf'TfLiteStatus {method}\(\)\s*\{{\s*return AddCustom\("{op}"', header), op
