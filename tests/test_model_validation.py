"""A damaged model is refused before anything runs it, by every verb with the same line (issue 11), and
`infer` writes every output of a model with several. The verbs run as the real `python -m tinyedge`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model_bytes import scale_length_offset, with_byte
from support import run_tinyedge

sys.path.insert(0, str(Path(__file__).parent / "native"))
import native_model_zoo  # noqa: E402

HINT = "(the file is corrupt; export the model again)"


def _edited(raw: bytes, edit) -> bytes:
    """The model after `edit(ModelT)`, written back with the TFLite schema."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    model = schema.ModelT.InitFromPackedBuf(bytearray(raw), 0)
    edit(model)
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def _every_verb(model: Path, inputs: Path, tmp_path: Path,
                bench: bool = False) -> dict[str, subprocess.CompletedProcess]:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    runs = {"inspect": run_tinyedge("inspect", str(model), env=env)}
    for runtime in ("native", "tflm"):
        runs[runtime] = run_tinyedge("infer", "--model", str(model), "--runtime", runtime, "--input",
                                     str(inputs), "--output", str(tmp_path / f"{runtime}.npy"), env=env)
    if bench:
        runs["bench"] = run_tinyedge("bench", "--board", "emu-m4", "--model", str(model), env=env)
    return runs


def _tflm_refuses(model: Path) -> str:
    """The real interpreter's own verdict, in a process of its own (it may crash)."""
    result = subprocess.run([sys.executable, "-c", "import sys; from tflite_micro import runtime; "
                             "runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), arena_size=1 << 20)",
                             str(model)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    return result.stderr


def _name(model: Path, tensor: int) -> str:
    """A tensor's name as the TFLite schema reads it (Keras's names depend on how many models the
    process built before: model/dense_1/MatMul or model_3/dense_7/MatMul)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
    return schema.Model.GetRootAs(model.read_bytes(), 0).Subgraphs(0).Tensors(tensor).Name().decode()


def _inputs(tmp_path: Path, shape: tuple[int, ...]) -> Path:
    path = tmp_path / "inputs.npy"
    np.save(path, native_model_zoo.random_inputs(shape, "int8", 3, seed=0))
    return path


def test_scale_vector_longer_than_its_channels_is_refused_by_every_verb(tmp_path):
    """Issue 11's case on a small model: a FULLY_CONNECTED weight tensor [12, 20] with 257 scales.
    TFLM refuses it; before the validator, `infer --runtime native` ran it and `inspect` called it
    fully int8."""
    def edit(model):
        quant = model.subgraphs[0].tensors[4].quantization
        quant.scale = np.resize(quant.scale, 257).astype(np.float32)
    damaged = tmp_path / "scales.tflite"
    damaged.write_bytes(_edited(native_model_zoo.pertensor_dense_model().read_bytes(), edit))
    assert "per_channel_quantization_size" in _tflm_refuses(damaged)
    runs = _every_verb(damaged, _inputs(tmp_path, (20,)), tmp_path)
    expected = (f"error: {damaged} is a damaged TFLite model (tensor 4 '{_name(damaged, 4)}' of shape "
                f"[12, 20] has 257 quantization scales for the 12 channels of its dimension 0) {HINT}\n")
    for verb, result in runs.items():
        assert (verb, result.returncode, result.stderr) == (verb, 1, expected)


def test_one_changed_byte_in_the_kws_model(shared_dir, tmp_path):
    """The byte of issue 11: the length of the last FULLY_CONNECTED's scale vector, 1 -> 257, for its
    12 channels. Every verb, bench and the firmware step included, gives the same line."""
    raw = (shared_dir / "models" / "mlperf-tiny" / "kws_ref_model.tflite").read_bytes()
    offset = scale_length_offset(raw, 16)
    assert raw[offset:offset + 4] == (1).to_bytes(4, "little")
    damaged = tmp_path / "kws.tflite"
    damaged.write_bytes(with_byte(raw, offset + 1, 1))
    assert "(257 != 12)" in _tflm_refuses(damaged)
    runs = _every_verb(damaged, _inputs(tmp_path, (49, 10, 1)), tmp_path, bench=True)
    expected = (f"error: {damaged} is a damaged TFLite model (tensor 16 'functional_1/dense/MatMul' of shape "
                f"[12, 64] has 257 quantization scales for the 12 channels of its dimension 0) {HINT}\n")
    for verb, result in runs.items():
        assert (verb, result.returncode, result.stderr) == (verb, 1, expected)

    from tinyedge.boards import Catalogue
    from tinyedge.errors import TinyedgeError
    from tinyedge.project.firmware import build_firmware
    with pytest.raises(TinyedgeError) as caught:
        build_firmware(Catalogue.load().get("emu-m4"), damaged, tmp_path / "firmware", runtime="native")
    assert f"error: {caught.value.one_line()}\n" == expected


def test_weight_tensor_of_the_wrong_rank_is_one_line_in_inspect_too(tmp_path):
    """A FULLY_CONNECTED weight tensor [12, 20, 1] (same size, one more dimension) made `inspect` fail
    in op_macs ('too many values to unpack') while `infer` refused it; now all verbs say why."""
    def edit(model):
        model.subgraphs[0].tensors[4].shape = np.array([12, 20, 1], dtype=np.int32)
    damaged = tmp_path / "rank.tflite"
    damaged.write_bytes(_edited(native_model_zoo.pertensor_dense_model().read_bytes(), edit))
    runs = _every_verb(damaged, _inputs(tmp_path, (20,)), tmp_path)
    expected = (f"error: {damaged} is a damaged TFLite model (operator 0 (FULLY_CONNECTED) input 1 tensor 4 "
                f"'{_name(damaged, 4)}' has shape [12, 20, 1], it needs 2-D) {HINT}\n")
    for verb, result in runs.items():
        assert (verb, result.returncode, result.stderr) == (verb, 1, expected)


def test_infer_writes_every_output_of_a_two_output_model(tmp_path):
    model = native_model_zoo.two_output_model()
    inputs = _inputs(tmp_path, (20,))
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    written = {}
    for runtime in ("native", "tflm"):
        output = tmp_path / f"{runtime}.npz"
        result = run_tinyedge("infer", "--model", str(model), "--runtime", runtime, "--input", str(inputs),
                              "--output", str(output), env=env)
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines()[-1] == (
            f"wrote {output}: 3 samples; output_0 = 'StatefulPartitionedCall:1' (3,) int8; "
            f"output_1 = 'StatefulPartitionedCall:0' (4,) int8")
        with np.load(output) as arrays:
            written[runtime] = {key: arrays[key] for key in arrays.files}
    assert list(written["native"]) == ["output_0", "output_1"]
    assert [a.shape for a in written["native"].values()] == [(3, 3), (3, 4)]
    for key in written["native"]:
        np.testing.assert_array_equal(written["native"][key], written["tflm"][key])

    from tinyedge.tflite.tflm import TflmRunner
    expected = TflmRunner(model.read_bytes()).run_all(np.load(inputs))
    for key, array in zip(("output_0", "output_1"), expected):
        np.testing.assert_array_equal(written["tflm"][key], array)


@pytest.mark.parametrize("runtime", ["native", "tflm"])
def test_infer_refuses_a_npy_for_two_outputs(tmp_path, runtime):
    output = tmp_path / "out.npy"
    result = run_tinyedge("infer", "--model", str(native_model_zoo.two_output_model()), "--runtime", runtime,
                          "--input", str(_inputs(tmp_path, (20,))), "--output", str(output))
    assert result.returncode == 1
    assert result.stderr == ("error: the model has 2 outputs and out.npy would hold only one (pass --output "
                             "OUT.npz to get all of them, as output_0, output_1 in the model's output order)\n")
    assert not output.exists()
