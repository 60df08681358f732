"""Layer builds (--layers): te-layers and te-tensor, against independent oracles.

- Over the host target (fast): a layer build of a small CNN answers te-layers with one line per step of
  GeneratedRuntime.steps; each step's CRC equals zlib.crc32 of tflite_micro's tensor for that step
  (InterpreterConfig.kPreserveAllTensors, GetTensor) on several inputs, and te-tensor K returns exactly
  that tensor's bytes; bad te-tensor arguments are one e- line. A normal build answers te-layers and
  te-tensor with the exact "built without layer profiling" line, and DeviceClient turns it into one
  error with the way out. StepInfo's MACs add up to the model's.
- emu-m4 (emulated): the per-step ticks of a layer build add up to within 2% of the whole inference's
  (te-ticks), and te-ticks of the layer build is within 2% of the normal build's.
- emu-m4 with a TFLM tree (TINYEDGE_TFLM_DIR, else skipped): the TFLM runtime's layer build gives one
  line per operator (its profiler), each with the CRC of zlib.crc32 of tflite_micro's kPreserveAllTensors
  tensor (the interpreter is built with preserve_all_tensors), and te-tensor K gives that tensor.
- Rendered only (fast): a tree's TFLM layer build creates its interpreter with preserve_all_tensors, its
  step table is tinyedge.layers.tflm_steps' tensors and bytes, its arena is the host's kPreserveAllTensors
  one; Chirale_TensorFlowLite 2.0.0 has no such constructor, so its layer build keeps CRC 0.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from tinyedge import layers
from tinyedge.boards import Catalogue
from tinyedge.codegen import generate
from tinyedge.device.errors import DeviceError
from tinyedge.device.protocol import DeviceClient
from tinyedge.project import build_firmware
from tinyedge.targets import for_board
from tinyedge.tflite.inspect import op_macs
from tinyedge.tflite.model import parse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "native"))

import native_model_zoo  # noqa: E402

CATALOGUE = Catalogue.load()
QUIET = {"console": lambda line: None}
NO_LAYERS = "e-[te-layers: built without layer profiling; run with --layers]"


@pytest.fixture(scope="module")
def cnn() -> Path:
    """conv, depthwise, residual add, poolings, dense, softmax."""
    return native_model_zoo.small_cnn_model()


def _inputs(model, count: int, seed: int) -> list[np.ndarray]:
    tensor = model.main.tensors[model.main.inputs[0]]
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, size=tensor.shape, dtype=np.int64).astype(np.int8) for _ in range(count)]


def _host_board():
    board = CATALOGUE.get("host")
    missing = for_board(board).missing_toolchain()
    if missing:
        pytest.skip(missing)
    return board


def _client(board, built) -> tuple[DeviceClient, object]:
    target = for_board(board)
    context = target.open_transport(built.elf, target.install(built.project, None))
    transport = context.__enter__()
    client = DeviceClient(transport, infer_timeout=600)
    client.connect()
    return client, context


@pytest.fixture(scope="module")
def layer_firmware(cnn, tmp_path_factory):
    board = _host_board()
    built = build_firmware(board, cnn, tmp_path_factory.mktemp("layers"), runtime="native", name="cnn",
                           layers=True, **QUIET)
    assert built.compiled
    return board, built


def test_a_layer_build_reports_every_step_with_tflms_crc_and_tensor(cnn, layer_firmware):
    board, built = layer_firmware
    model = parse(cnn.read_bytes())
    steps = generate(model, "cnn").steps
    assert [step.index for step in steps] == list(range(len(steps))) and len(steps) >= 6
    client, context = _client(board, built)
    try:
        for x in _inputs(model, 3, seed=15):
            client.load(x.tobytes())
            client.infer(1, 0)
            lines = client.command("te-layers")
            assert lines[0] == f"m-te-layers-{len(steps)}"
            assert [re.fullmatch(r"m-te-layer-(\d+)-\d+-[0-9a-f]{8}", line).group(1) for line in lines[1:]] == \
                [str(k) for k in range(len(steps))]
            expected = layers.tflm_step_outputs(cnn.read_bytes(), [x], steps)
            measured = client.layers()
            assert [crc for _, crc in measured] == [zlib.crc32(data) for data in expected]
            assert [len(data) for data in expected] == [step.bytes for step in steps]
            rows = layers.layer_rows(steps, measured)
            assert [row.step.layer for row in rows] == [step.layer for step in steps]
        for k, data in enumerate(expected):
            assert client.tensor(k) == data
        tensor_lines = client.command(f"te-tensor {len(steps) - 1}")
        assert tensor_lines[-1] == f"m-te-tensor-done-{len(steps) - 1}-{steps[-1].bytes}"
        assert all(len(line) <= len("m-te-tensor-[]") + 128 for line in tensor_lines[:-1])
        # te-tensor ran an inference: te-layers holds it, the same input's
        assert [crc for _, crc in client.layers()] == [zlib.crc32(data) for data in expected]

        assert client.command("te-tensor", check=False) == [
            "e-[te-tensor needs a step number (te-layers numbers the steps from 0)]"]
        assert client.command("te-tensor x1", check=False) == [
            "e-[te-tensor needs a step number (te-layers numbers the steps from 0), not 'x1']"]
        assert client.command(f"te-tensor {len(steps)}", check=False) == [
            f"e-[te-tensor: no step {len(steps)}; the model has {len(steps)} steps (0 to {len(steps) - 1})]"]
        help_lines = client.command("te-help")
        assert help_lines[-2:] == [
            "te-layers    : Print the last inference's ticks and output CRC-32 of every step",
            "te-tensor K  : Run one inference on the loaded input, print step K's output as hex"]
        assert client.models() == ["cnn"]
        client.select("cnn")            # a new selection forgets the last inference's steps
        assert client.command("te-layers", check=False) == ["e-[te-layers: no inference has run yet]"]
        input_bytes = model.main.tensors[model.main.inputs[0]].nbytes
        assert client.command("te-tensor 0", check=False) == [f"e-[Input db has 0 bytes, expected {input_bytes}]"]
    finally:
        context.__exit__(None, None, None)


def test_a_normal_build_answers_the_layer_commands_with_one_line(cnn, tmp_path):
    board = _host_board()
    built = build_firmware(board, cnn, tmp_path, runtime="native", name="cnn", **QUIET)
    config = (built.project / "native" / "tinyedge_config.h").read_text()
    assert "/* #define TE_LAYERS */" in config and "#define TE_STEP_DONE" not in config
    client, context = _client(board, built)
    try:
        model = parse(cnn.read_bytes())
        client.load(_inputs(model, 1, seed=1)[0].tobytes())
        client.infer(1, 0)
        assert client.command("te-layers", check=False) == [NO_LAYERS]
        assert client.command("te-tensor 0", check=False) == [
            "e-[te-tensor: built without layer profiling; run with --layers]"]
        with pytest.raises(DeviceError) as error:
            client.layers()
        assert error.value.one_line().endswith(
            "has no layer profiling: its firmware was built without --layers (run tinyedge bench or "
            "validate with --layers (or api.build(project, layers=True)), which builds a layer firmware)")
        assert "te-layers" not in "\n".join(client.command("te-help"))
    finally:
        context.__exit__(None, None, None)


def test_step_infos_carry_the_models_macs_and_output_tensors(cnn):
    model = parse(cnn.read_bytes())
    runtime = generate(model, "cnn")
    steps = runtime.steps
    assert len(steps) == len(runtime.ops) and [step.opcode for step in steps] == runtime.ops
    assert sum(step.macs for step in steps) == sum(op_macs(model.main, op) for op in model.main.operators)
    for step in steps:
        tensor = model.main.tensors[step.output_tensor]
        assert (step.shape, step.dtype, step.bytes) == (tuple(tensor.shape), tensor.dtype, tensor.nbytes)
        assert model.main.operators[step.operator].opcode == step.opcode
    tflm = layers.tflm_steps(model)
    assert [step.operator for step in tflm] == list(range(len(model.main.operators)))
    with pytest.raises(Exception) as mismatch:
        layers.layer_rows(steps, [(1, 0)])
    assert "build it again with --layers" in str(mismatch.value.one_line())


def test_the_firmware_stage_key_holds_the_layers_flag(tmp_path):
    from tinyedge import config as config_module
    from tinyedge.pipeline import firmware_stage
    (tmp_path / "tinyedge.toml").write_text('[project]\nname = "m"\n')
    model = tmp_path / "m.tflite"
    model.write_bytes(native_model_zoo.small_cnn_model().read_bytes())
    loaded = config_module.load(tmp_path / "tinyedge.toml")
    board = CATALOGUE.get("host")
    normal = firmware_stage.settings(loaded, board, model, [], None)
    layered = firmware_stage.settings(loaded, board, model, [], None, layers=True)
    assert normal["layers"] is False and layered["layers"] is True
    assert {k: v for k, v in normal.items() if k != "layers"} == {k: v for k, v in layered.items() if k != "layers"}


# ---- emulated ------------------------------------------------------------------------------------

def _need_emulation_tools() -> None:
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the setup step installs it)")


@pytest.mark.emulated
def test_the_steps_add_up_to_the_whole_inference_on_emu_m4(cnn, tmp_path):
    _need_emulation_tools()
    board = CATALOGUE.get("emu-m4")
    model = parse(cnn.read_bytes())
    x = _inputs(model, 1, seed=4)[0]
    figures = {}
    for name, flag in (("normal", False), ("layers", True)):
        built = build_firmware(board, cnn, tmp_path / name, runtime="native", name="cnn", layers=flag, **QUIET)
        client, context = _client(board, built)
        try:
            client.load(x.tobytes())
            client.infer(1, 0)
            figures[name] = client.ticks()
            if flag:
                measured = client.layers()
                steps = generate(model, "cnn").steps
                expected = layers.tflm_step_outputs(cnn.read_bytes(), [x], steps)
                assert [crc for _, crc in measured] == [zlib.crc32(data) for data in expected]
        finally:
            context.__exit__(None, None, None)
    whole = figures["layers"].ticks
    total = sum(ticks for ticks, _ in measured)
    assert figures["layers"].unit == "instructions"
    print(f"emu-m4 {len(measured)} steps: sum {total} ticks, te-ticks {whole} (layer build), {figures['normal'].ticks} (normal build)")
    assert abs(total - whole) <= 0.02 * whole, (total, whole)
    assert abs(whole - figures["normal"].ticks) <= 0.02 * figures["normal"].ticks, (whole, figures["normal"])


TREE = os.environ.get("TINYEDGE_TFLM_DIR", "")


@pytest.mark.emulated
@pytest.mark.slow
@pytest.mark.skipif(not TREE, reason="TINYEDGE_TFLM_DIR is not set (a TFLM tree from create_tflm_tree.py)")
def test_the_tflm_layer_build_reports_every_operator_with_tflms_crc_and_tensor(cnn, tmp_path):
    _need_emulation_tools()
    board = CATALOGUE.get("emu-m4")
    model = parse(cnn.read_bytes())
    built = build_firmware(board, cnn, tmp_path, runtime="tflm", name="cnn", layers=True, tflm_dir=Path(TREE),
                           **QUIET)
    assert "LayerProfiler" in (built.project / "src" / "tinyedge_runtime.cpp").read_text()
    steps = layers.tflm_steps(model)
    client, context = _client(board, built)
    try:
        for seed in (2, 5):
            x = _inputs(model, 1, seed=seed)[0]
            client.load(x.tobytes())
            client.infer(1, 0)
            whole = client.ticks().ticks
            measured = client.layers()
            expected = layers.tflm_step_outputs(cnn.read_bytes(), [x], steps)
            assert len(measured) == len(model.main.operators) == len(steps)
            assert [crc for _, crc in measured] == [zlib.crc32(data) for data in expected]
            assert all(ticks > 0 for ticks, _ in measured)
            assert abs(sum(ticks for ticks, _ in measured) - whole) <= 0.02 * whole
        for k in (0, 4, len(steps) - 1):        # te-tensor runs the last loaded input again
            assert client.tensor(k) == expected[k]
    finally:
        context.__exit__(None, None, None)


@pytest.mark.skipif(not TREE, reason="TINYEDGE_TFLM_DIR is not set (a TFLM tree from create_tflm_tree.py)")
def test_a_tree_tflm_layer_build_preserves_every_tensor_in_its_own_arena(cnn, tmp_path):
    from tinyedge.project.runtime import tflm_arena_bytes
    from tinyedge.tflite.tflm import smallest_arena
    board = CATALOGUE.get("emu-m4")
    model_bytes = cnn.read_bytes()
    glue = {}
    arenas = {}
    for name, flag in (("normal", False), ("layers", True)):
        built = build_firmware(board, cnn, tmp_path / name, runtime="tflm", name="cnn", layers=flag,
                               tflm_dir=Path(TREE), compile=False, **QUIET)
        glue[name] = (built.project / "src" / "tinyedge_runtime.cpp").read_text()
        arenas[name] = built.tflm_arena_bytes
    assert "/*preserve_all_tensors=*/true" in glue["layers"] and "GetTensor" in glue["layers"]
    assert "preserve_all_tensors" not in glue["normal"] and "LayerProfiler" not in glue["normal"]
    rows = re.findall(r"^    \{(-?\d+), (\d+)u\},  // (\d+): ", glue["layers"], re.M)
    steps = layers.tflm_steps(parse(model_bytes))
    assert [(int(t), int(b), int(k)) for t, b, k in rows] == [(s.output_tensor, s.bytes, s.index) for s in steps]
    assert arenas["layers"] == tflm_arena_bytes(smallest_arena(model_bytes, preserve_all_tensors=True), 0.1)
    assert arenas["normal"] == tflm_arena_bytes(smallest_arena(model_bytes), 0.1) < arenas["layers"]


def test_a_chirale_tflm_layer_build_keeps_crc_0(cnn, tmp_path):
    """Chirale_TensorFlowLite 2.0.0's MicroInterpreter has no preserve_all_tensors nor GetTensor: its
    layer build times the operators and sends no output (te-layers' CRC 0, te-tensor's error)."""
    built = build_firmware(CATALOGUE.get("nano33"), cnn, tmp_path, runtime="tflm", name="cnn", layers=True,
                           compile=False, **QUIET)
    glue = next(built.project.rglob("tinyedge_runtime.cpp")).read_text()
    assert "te_layers_step(event_handle, nullptr, 0u)" in glue
    assert "preserve_all_tensors=" not in glue and "->GetTensor(" not in glue
