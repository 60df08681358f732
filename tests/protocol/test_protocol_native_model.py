"""A real model behind the protocol: the MLPerf Tiny models through tinyedge's native runtime, joined
by the generated adapter (tinyedge/device/adapter.py), built for the host and driven by the client.
The device's raw output must equal TFLM's for the reference input (../shared/reference)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess

import numpy as np
import pytest

from tinyedge.codegen import generate
from tinyedge.device.adapter import adapter_source
from tinyedge.device.errors import WrongModel
from tinyedge.device.protocol import DeviceSession, ModelIdentity
from tinyedge.device.transport import ProcessTransport
from tinyedge.errors import TinyedgeError
from tinyedge.tflite.model import load

from .conftest import CFLAGS, HOST_PORT, PORT_HEADER_DIR, PROTOCOL


def build(shared_dir, tmp_path, key: str):
    entry = json.loads((shared_dir / "reference" / "tflm-emulated-m4.json").read_text())["models"][key]
    model_path = shared_dir / "models" / "mlperf-tiny" / entry["tflite"]
    model = load(model_path)
    runtime = generate(model)
    for name, text in runtime.files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "adapter.c").write_text(adapter_source(model, model_path.read_bytes(), f"{key}01"))
    sources = [*PROTOCOL.glob("*.c"), HOST_PORT, tmp_path / "adapter.c",
               *(tmp_path / name for name in runtime.files if name.endswith(".c")),
               *(p for p in runtime.kernel_sources if p.suffix == ".c")]
    binary = tmp_path / "fw"
    flags = [f for f in CFLAGS if f not in ("-Wconversion", "-Wshadow", "-Werror")]  # generated code: warnings allowed
    command = ["gcc", *flags, f"-I{PORT_HEADER_DIR}", f"-I{PROTOCOL}", f"-I{tmp_path}",
               f"-I{runtime.kernel_sources[0].parent}", *map(str, sources), "-lm", "-o", str(binary)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return binary, model, model_path, entry


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


def test_the_adapter_refuses_models_the_protocol_cannot_carry(shared_dir):
    path = shared_dir / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
    model = load(path)
    graph = model.main
    output = graph.outputs[0]
    graph.tensors[output] = dataclasses.replace(graph.tensors[output], dtype="float32")
    with pytest.raises(TinyedgeError) as error:
        adapter_source(model, path.read_bytes(), "kws")
    assert str(error.value) == (f"the model's output '{graph.tensors[output].name}' is float32, not int8 "
                                "(quantize the model with int8 input and output ('tinyedge build' does))")
    graph.outputs.append(output)
    with pytest.raises(TinyedgeError) as error:
        adapter_source(model, path.read_bytes(), "kws")
    assert str(error.value) == ("the validation protocol carries one input and one output; the model has "
                                "1 inputs and 2 outputs (export the model with a single input and a single output)")
