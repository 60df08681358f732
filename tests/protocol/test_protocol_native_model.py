"""A real model behind the protocol: the MLPerf Tiny models through tinyedge's native runtime, in the
firmware project `tinyedge build --board host` makes (the project's own adapter, tinyedge.h, the
protocol and the host port), compiled with the host compiler and driven by the client. The device's
raw output must equal TFLM's for the reference input (../shared/reference)."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from tinyedge.boards import Catalogue
from tinyedge.device.errors import WrongModel
from tinyedge.device.protocol import DeviceSession, ModelIdentity
from tinyedge.device.transport import ProcessTransport
from tinyedge.errors import TinyedgeError
from tinyedge.project import build_firmware, make_bundle
from tinyedge.tflite.model import load

HOST = Catalogue.load().get("host")


def build(shared_dir, tmp_path, key: str):
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no host C compiler")
    entry = json.loads((shared_dir / "reference" / "tflm-emulated-m4.json").read_text())["models"][key]
    model_path = shared_dir / "models" / "mlperf-tiny" / entry["tflite"]
    built = build_firmware(HOST, model_path, tmp_path, runtime="native", name=f"{key}01",
                           console=lambda _line: None)
    assert built.compiled and built.elf.is_file()
    return built.elf, load(model_path), model_path, entry


@pytest.mark.parametrize("key", ["kws", "ic"])
def test_mlperf_model_on_the_protocol_matches_tflm(shared_dir, tmp_path, key):
    binary, model, model_path, entry = build(shared_dir, tmp_path, key)
    expected = ModelIdentity(f"{key}01", hashlib.sha256(model_path.read_bytes()).hexdigest())
    sample = (shared_dir / "models" / "mlperf-tiny" / entry["input"]).read_bytes()
    with DeviceSession(lambda: ProcessTransport([str(binary)]), expected=expected) as session:
        assert session.identity.input_bytes == len(sample)
        result = session.run_sample(sample)
        assert result.output.hex() == entry["tflm_output_hex"]
        quantization = model.main.output_tensors()[0].quantization
        dequantized = (np.frombuffer(result.output, np.int8).astype(np.int32) - int(quantization.zero_point[0]))
        assert ",".join("%0.3f" % v for v in result.inference.results) == ",".join(
            "%0.3f" % float(np.float32(v) * quantization.scale[0]) for v in dequantized)
        assert session.client.command("profile")[1] == f"m-model-[{key}01]"
    with pytest.raises(WrongModel):
        DeviceSession(lambda: ProcessTransport([str(binary)]),
                      expected=ModelIdentity(f"{key}01", hashlib.sha256(b"another model").hexdigest())).open()


def test_a_model_the_protocol_cannot_carry_is_refused_before_any_c(shared_dir):
    """The protocol carries int8 in and int8 (or int32 indices) out: the KWS model with its output
    tensor's type byte set to FLOAT32 (TensorType 0) is refused when the firmware's bundle is made."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    raw = (shared_dir / "models" / "mlperf-tiny" / "kws_ref_model.tflite").read_bytes()
    graph = schema.Model.GetRootAs(raw, 0).Subgraphs(0)
    tensor = graph.Tensors(graph.Outputs(0))
    assert tensor.Type() == schema.TensorType.INT8
    damaged = bytearray(raw)
    damaged[tensor._tab.Pos + tensor._tab.Offset(6)] = schema.TensorType.FLOAT32   # Tensor.type (slot 6)
    with pytest.raises(TinyedgeError) as error:
        make_bundle(bytes(damaged), "kws")
    assert error.value.one_line() == ("the model's output is float32; the firmware expects int8 or int32 "
                                      "(convert with int8 input and output (tinyedge build does))")
