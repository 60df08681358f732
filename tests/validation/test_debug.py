"""Debug on the host (tinyedge.validation.debug): the host's per-step tensors and the comparison that
names the first step whose output on the device differs from host TFLM, with the element count, the
largest difference, and whether the device's tensor is TFLite's single-rounding result instead.

The oracles are independent of the code under test: tflite_micro's own interpreter (its outputs, not
GetTensor), zlib.crc32 of numpy's bytes, and numpy's own element-wise differences."""

from __future__ import annotations

import sys
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from support import SHARED
from tinyedge.codegen.layer_names import short_layer_name
from tinyedge.errors import TinyedgeError
from tinyedge.tflite.model import parse
from tinyedge.validation import debug

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "native"))
from native_model_zoo import arg_max_int32_model, build_zoo, small_cnn_model  # noqa: E402

AD_MODEL = SHARED / "models" / "mlperf-tiny" / "ad01_int8.tflite"
AD_INPUT = SHARED / "models" / "mlperf-tiny" / "inputs" / "ad.bin"


def operator_steps(model_bytes: bytes) -> list:
    """One step per operator, as the TFLM runtime's StepInfo list (the same fields)."""
    graph = parse(model_bytes).main
    steps = []
    for position, op in enumerate(graph.operators):
        tensor = graph.tensors[op.outputs[0]]
        steps.append(SimpleNamespace(index=position, opcode=op.opcode, operator=op.index,
                                     layer=short_layer_name(tensor.name), output_tensor=op.outputs[0],
                                     shape=tensor.shape, dtype=tensor.dtype, bytes=tensor.nbytes, macs=0))
    return steps


def random_samples(model_bytes: bytes, count: int, seed: int = 0) -> list[np.ndarray]:
    shape = parse(model_bytes).main.input_tensors()[0].shape
    rng = np.random.default_rng(seed)
    return [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(count)]


class FakeDevice:
    """A device client that ran `tensors` (one per step): te-layers' CRCs and te-tensor's bytes."""

    def __init__(self, tensors: list[np.ndarray]):
        self.tensors = tensors
        self.fetched: list[int] = []

    def load(self, data: bytes) -> None:
        pass

    def infer(self, count: int = 1, warmups: int = 0):
        pass

    def output(self) -> bytes:
        return self.tensors[-1].tobytes()

    def layers(self) -> list[tuple[int, int]]:
        return [(100, zlib.crc32(tensor.tobytes())) for tensor in self.tensors]

    def tensor(self, step: int) -> bytes:
        self.fetched.append(step)
        return self.tensors[step].tobytes()


def _tflm_outputs(model_bytes: bytes, samples: list[np.ndarray]) -> list[np.ndarray]:
    from tflite_micro import runtime
    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=1 << 20)
    outputs = []
    for sample in samples:
        interpreter.reset()
        interpreter.set_input(sample, 0)
        interpreter.invoke()
        outputs.append(np.array(interpreter.get_output(0)))
    return outputs


def test_tflm_step_tensors_end_in_tflm_s_own_output_and_are_real_intermediate_values():
    """kPreserveAllTensors' GetTensor: the last step's tensor is what the ordinary interpreter outputs;
    an intermediate one is the input of the next op (a RESHAPE's output has its input's bytes)."""
    model_bytes = small_cnn_model().read_bytes()
    steps = operator_steps(model_bytes)
    samples = random_samples(model_bytes, 3)
    tensors = debug.tflm_tensors(model_bytes, [s.output_tensor for s in steps], samples)
    for got, expected in zip(tensors, _tflm_outputs(model_bytes, samples)):
        assert got[-1].dtype == np.int8 and np.array_equal(got[-1], expected)
        reshape = next(k for k, s in enumerate(steps) if s.opcode == "RESHAPE")
        assert got[reshape].tobytes() == got[reshape - 1].tobytes()
        assert [tuple(t.shape) for t in got] == [tuple(s.shape) for s in steps]
    assert not np.array_equal(tensors[0][2], tensors[1][2])   # each sample's own values


def test_tflm_step_tensors_keep_int32_outputs_and_reset_variables_between_samples():
    arg_max = arg_max_int32_model().read_bytes()
    steps = operator_steps(arg_max)
    samples = random_samples(arg_max, 2)
    tensors = debug.tflm_tensors(arg_max, [s.output_tensor for s in steps], samples)
    assert tensors[0][-1].dtype == np.int32
    assert np.array_equal(tensors[0][-1].ravel(), _tflm_outputs(arg_max, samples[:1])[0].ravel())
    assert debug.crc32(tensors[0][-1]) == zlib.crc32(tensors[0][-1].astype("<i4").tobytes())
    lstm = build_zoo()["lstm_last_state_dense"].read_bytes()
    steps = operator_steps(lstm)
    same = random_samples(lstm, 1) * 2     # one sample twice: equal only if the state starts from zero
    first, second = debug.tflm_tensors(lstm, [s.output_tensor for s in steps], same)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_a_device_equal_to_tflm_has_no_first_difference_and_fetches_nothing():
    model_bytes = small_cnn_model().read_bytes()
    steps = operator_steps(model_bytes)
    sample = random_samples(model_bytes, 1)
    host = debug.tflm_tensors(model_bytes, [s.output_tensor for s in steps], sample)[0]
    device = FakeDevice([tensor.copy() for tensor in host])
    finding = debug.debug_device(device, model_bytes, steps, sample)
    data = finding.to_json()
    assert data["first_difference"] is None and data["verdict"] == "equal" and device.fetched == []
    assert data["samples"][0]["equal_steps"] == len(steps)
    assert data["samples"][0]["tflm_crc"] == [f"{zlib.crc32(t.tobytes()):08x}" for t in host]
    assert f"every one of the {len(steps)} steps" in finding.text


def test_a_changed_step_is_named_first_with_numpy_s_counts_and_called_a_bug():
    model_bytes = small_cnn_model().read_bytes()
    steps = operator_steps(model_bytes)
    sample = random_samples(model_bytes, 1, seed=3)
    host = debug.tflm_tensors(model_bytes, [s.output_tensor for s in steps], sample)[0]
    device = [tensor.copy() for tensor in host]
    middle = 4                                   # CONV_2D conv2d_1
    assert steps[middle].opcode == "CONV_2D"
    flat = device[middle].reshape(-1)
    flat[[1, 5, 9]] = np.clip(flat[[1, 5, 9]].astype(int) + [7, -3, 40], -128, 127)
    for later in range(middle + 1, len(device)):    # what follows differs too: only the first is named
        device[later] = (device[later].astype(int) ^ 1).astype(device[later].dtype)
    fake = FakeDevice(device)
    finding = debug.debug_device(fake, model_bytes, steps, sample)
    first = finding.to_json()["samples"][0]["first_difference"]
    delta = np.abs(device[middle].astype(int) - host[middle].astype(int))
    assert fake.fetched == [middle]
    assert first["step"] == middle and first["layer"] == "conv2d_1" and first["op"] == "CONV_2D"
    assert first["device_vs_tflm"] == {"elements": host[middle].size, "differing": int(np.count_nonzero(delta)),
                                       "largest_difference": int(delta.max())}
    assert first["device_equals_tflite"] is False and finding.to_json()["verdict"] == "differs"
    assert "step 4 (CONV_2D conv2d_1" in finding.text and "bug" in finding.text
    assert f"{int(np.count_nonzero(delta))} of {host[middle].size} elements differ" in finding.text


def test_a_crc_that_differs_over_equal_bytes_is_one_line():
    model_bytes = small_cnn_model().read_bytes()
    steps = operator_steps(model_bytes)
    sample = random_samples(model_bytes, 1)
    host = debug.tflm_tensors(model_bytes, [s.output_tensor for s in steps], sample)[0]
    crcs = [zlib.crc32(t.tobytes()) for t in host]
    crcs[2] ^= 1
    with pytest.raises(TinyedgeError, match="CRC-32 from the device"):
        debug.compare_sample(0, steps, crcs, host, None, lambda k: host[k].tobytes())
    with pytest.raises(TinyedgeError, match="reports 3 steps"):
        debug.compare_sample(0, steps, crcs[:3], host, None, lambda k: host[k].tobytes())


def test_a_step_alone_in_tflite_gives_tflite_s_tensor_on_tflm_s_inputs():
    """The isolated step's model: on TFLM's inputs it gives TFLM's output where TFLite agrees with TFLM
    (the small CNN, every step), so it is the same computation, not another model."""
    model_bytes = small_cnn_model().read_bytes()
    steps = operator_steps(model_bytes)
    sample = random_samples(model_bytes, 1)
    everything = debug.activation_tensors(model_bytes)
    values = dict(zip(everything, debug.tflm_tensors(model_bytes, everything, sample)[0]))
    for step in steps:
        alone = debug.tflite_step(model_bytes, step, values)
        assert np.array_equal(alone, values[step.output_tensor]), step


@pytest.fixture(scope="module")
def ad_model() -> tuple[bytes, list]:
    if not AD_MODEL.is_file():
        pytest.skip(f"the MLPerf Tiny AD model is not here ({AD_MODEL})")
    return AD_MODEL.read_bytes(), [np.frombuffer(AD_INPUT.read_bytes(), np.int8).reshape(1, 640)]


def test_on_the_ad_model_tflite_parts_from_tflm_and_a_device_like_tflite_is_the_rounding_trap(ad_model):
    model_bytes, sample = ad_model
    steps = operator_steps(model_bytes)
    tensors = [s.output_tensor for s in steps]
    tflm = debug.tflm_tensors(model_bytes, tensors, sample)[0]
    tflite, error = debug.tflite_tensors(model_bytes, tensors, sample)
    assert error is None
    parts = next(k for k in range(len(steps)) if not np.array_equal(tflm[k], tflite[0][k]))
    # A device following TFLM: no difference; TFLite parts at `parts` and the device follows TFLM.
    finding = debug.debug_device(FakeDevice([t.copy() for t in tflm]), model_bytes, steps, sample)
    data = finding.to_json()["samples"][0]
    assert data["first_difference"] is None and data["tflite_parts_at"]["step"] == parts
    assert "The device follows TFLM, not TFLite." in finding.text
    # A device following TFLite: named at `parts`, its tensor is TFLite's: the rounding trap.
    finding = debug.debug_device(FakeDevice([t.copy() for t in tflite[0]]), model_bytes, steps, sample)
    first = finding.to_json()["samples"][0]["first_difference"]
    gap = np.abs(tflite[0][parts].astype(int) - tflm[parts].astype(int))
    assert first["step"] == parts and first["device_equals_tflite"] is True
    assert first["device_vs_tflm"]["differing"] == int(np.count_nonzero(gap)) and 1 <= gap.max() <= 2
    assert finding.to_json()["verdict"] == "rounding" and "rounding trap" in finding.text


# ---- on a device: a layer build whose generated C has one weight changed ---------------------------

def change_one_weight(text: str, step: int, element: int = 0) -> tuple[str, str]:
    """The rendered <prefix>_model.c with one weight of step `step`'s first weight array moved to the
    other end of the int8 range (a negative one to 127, else to -127): the low int16 of the array's
    `element`-th word for a fast kernel's packed pairs (uint32 0xHHHHLLLL), else that element; returns
    the text and the array's name."""
    import re
    start = text.index(f"/* step {step}: ")           # the parameters section's comment comes first
    end = text.index("/* step ", start + 1)
    array = re.compile(r"static const (\w+) (\w+)\[\d+\] TINYEDGE_WEIGHTS_PLACEMENT = \{\s*"
                       + r"(?:-?0x[0-9A-Fa-f]+[uL]?,\s*)" * element + r"(-?0x[0-9A-Fa-f]+)")
    found = array.search(text, start, end)
    assert found is not None, f"step {step} has no weight array in the generated C"
    ctype, literal = found.group(1), found.group(3)
    if ctype == "uint32_t":                            # two int16 weights, the first in the low half
        value = int(literal, 16)
        low = (value & 0xFFFF) - (0x10000 if value & 0x8000 else 0)
        changed = f"0x{(value & 0xFFFF0000) | ((127 if low < 0 else -127) & 0xFFFF):08X}"
    else:
        changed = "0x7f" if literal.startswith("-") else "-0x7f"
    return text[:found.start(3)] + changed + text[found.end(3):], found.group(2)


def _layer_firmware(board_name: str, model: Path, folder: Path, step: int | None):
    """A native layer build of `model` for the board, its model C edited (one weight of `step`) before
    the compile; returns the ELF."""
    from tinyedge.boards import Catalogue
    from tinyedge.project import build_firmware
    from tinyedge.targets import for_board
    board = Catalogue.load().get(board_name)
    target = for_board(board)
    missing = target.missing_toolchain()
    if missing:
        pytest.skip(f"{board_name}: {missing}")
    built = build_firmware(board, model, folder, runtime="native", name="cnn", compile=False, layers=True,
                           console=lambda line: None)
    if step is not None:
        source = next(built.project.rglob("*_model.c"))
        text, _ = change_one_weight(source.read_text(), step, CHANGED_WORD)
        source.write_text(text)
    return target, target.compile(built.project).elf


def _debug_on(target, elf: Path, model_bytes: bytes, samples: list[np.ndarray]):
    from tinyedge.codegen import generate
    from tinyedge.device.protocol import DeviceClient
    steps = generate(parse(model_bytes)).steps
    with target.open_transport(elf, None) as transport:
        client = DeviceClient(transport, infer_timeout=60.0)
        client.connect()
        return steps, debug.debug_device(client, model_bytes, steps, samples)


MIDDLE = 4     # the small CNN's CONV_2D conv2d_1 (1x1, 4 -> 6 channels, RELU6), between the pools
# Its fast filter's word 5 holds output channel 3's weights for input channels 0 and 2 (33 and 127); the
# low one, 33, becomes -127. Channel 3 is above RELU6's floor on the test's sample (channel 0, whose
# first weight word 0 holds, stays at the floor whatever that weight is, so no change would show).
CHANGED_WORD = 5


def _check_changed_weight_is_named(board_name: str, tmp_path: Path) -> None:
    model = small_cnn_model()
    model_bytes = model.read_bytes()
    samples = random_samples(model_bytes, 1, seed=3)
    target, elf = _layer_firmware(board_name, model, tmp_path / "plain", None)
    steps, finding = _debug_on(target, elf, model_bytes, samples)
    assert steps[MIDDLE].opcode == "CONV_2D" and steps[MIDDLE].layer == "conv2d_1"
    assert finding.to_json()["first_difference"] is None, finding.text
    assert finding.samples[0].device_crcs == finding.samples[0].host_crcs

    target, elf = _layer_firmware(board_name, model, tmp_path / "changed", MIDDLE)
    steps, finding = _debug_on(target, elf, model_bytes, samples)
    data = finding.to_json()
    first = data["samples"][0]["first_difference"]
    assert first["step"] == MIDDLE and first["layer"] == "conv2d_1", finding.text
    assert data["samples"][0]["device_crc"][:MIDDLE] == data["samples"][0]["tflm_crc"][:MIDDLE]
    gap = first["device_vs_tflm"]
    assert 0 < gap["differing"] <= gap["elements"] == 96 and gap["largest_difference"] > 0
    assert data["verdict"] == "differs" and first["device_equals_tflite"] is False
    assert "step 4 (CONV_2D conv2d_1" in finding.text and "bug" in finding.text
    print(finding.text)


def test_a_changed_weight_on_the_host_target_is_named_first(tmp_path):
    _check_changed_weight_is_named("host", tmp_path)


@pytest.mark.emulated
def test_a_changed_weight_on_emu_m4_is_named_first(tmp_path):
    import shutil
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the setup step installs it)")
    _check_changed_weight_is_named("emu-m4", tmp_path)


def changed_tflm_weight(model_bytes: bytes, operator: int, element: int) -> bytes:
    """The flatbuffer with one int8 weight of `operator` (its filter, input 1) moved to the other end
    of the int8 range, found by its bytes (which occur once in the file)."""
    graph = parse(model_bytes).main
    weights = np.ascontiguousarray(graph.tensors[graph.operators[operator].inputs[1]].data).tobytes()
    assert model_bytes.count(weights) == 1
    at = model_bytes.index(weights) + element
    value = model_bytes[at] - 256 if model_bytes[at] > 127 else model_bytes[at]
    return model_bytes[:at] + bytes([(127 if value < 0 else -127) & 0xFF]) + model_bytes[at + 1:]


# The small CNN's conv2d_1 filter is OHWI (6, 1, 1, 4): element 12 is output channel 3's weight for input
# channel 0 (33), the weight the native test changes (CHANGED_WORD's low half).
TFLM_CHANGED_ELEMENT = 12


@pytest.mark.emulated
@pytest.mark.slow
def test_a_changed_weight_in_a_tflm_layer_build_on_emu_m4_is_named_first(tmp_path):
    """The TFLM runtime's layer build over a tree (preserve_all_tensors: every operator's CRC), its
    model_data.cc holding one changed weight of conv2d_1: that operator is named first."""
    import os
    import shutil
    from tinyedge.boards import Catalogue
    from tinyedge.device.protocol import DeviceClient
    from tinyedge.layers import tflm_steps
    from tinyedge.project import build_firmware
    from tinyedge.project.carray import array_body
    from tinyedge.targets import for_board
    tree = os.environ.get("TINYEDGE_TFLM_DIR", "")
    if not tree:
        pytest.skip("TINYEDGE_TFLM_DIR is not set (a TFLM tree from create_tflm_tree.py)")
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the setup step installs it)")
    model = small_cnn_model()
    model_bytes = model.read_bytes()
    board = Catalogue.load().get("emu-m4")
    target = for_board(board)
    built = build_firmware(board, model, tmp_path, runtime="tflm", name="cnn", compile=False, layers=True,
                           tflm_dir=Path(tree), console=lambda line: None)
    source = built.project / "src" / "model_data.cc"
    text = source.read_text()
    assert text.count(array_body(model_bytes)) == 1
    changed = changed_tflm_weight(model_bytes, MIDDLE, TFLM_CHANGED_ELEMENT)
    source.write_text(text.replace(array_body(model_bytes), array_body(changed)))
    elf = target.compile(built.project).elf
    steps = tflm_steps(parse(model_bytes))
    samples = random_samples(model_bytes, 1, seed=3)
    with target.open_transport(elf, None) as transport:
        client = DeviceClient(transport, infer_timeout=60.0)
        client.connect()
        finding = debug.debug_device(client, model_bytes, steps, samples, runtime="tflm")
    data = finding.to_json()
    assert data["checksums"] is True
    first = data["samples"][0]["first_difference"]
    assert first["step"] == MIDDLE and first["layer"] == "conv2d_1", finding.text
    assert data["samples"][0]["device_crc"][:MIDDLE] == data["samples"][0]["tflm_crc"][:MIDDLE]
    # numpy's oracle: tflite_micro on the changed flatbuffer gives the device's conv2d_1 tensor
    host = debug.tflm_tensors(model_bytes, [steps[MIDDLE].output_tensor], samples)[0][0]
    device = debug.tflm_tensors(changed, [steps[MIDDLE].output_tensor], samples)[0][0]
    gap = np.abs(device.astype(int) - host.astype(int))
    assert first["device_vs_tflm"] == {"elements": host.size, "differing": int(np.count_nonzero(gap)),
                                       "largest_difference": int(gap.max())} and gap.max() > 0
    assert data["verdict"] == "differs" and "step 4 (CONV_2D conv2d_1" in finding.text
    print(finding.text)


def _check_ad_device_follows_tflm(board_name: str, tmp_path: Path) -> None:
    if not AD_MODEL.is_file():
        pytest.skip(f"the MLPerf Tiny AD model is not here ({AD_MODEL})")
    model_bytes = AD_MODEL.read_bytes()
    sample = [np.frombuffer(AD_INPUT.read_bytes(), np.int8).reshape(1, 640)]
    target, elf = _layer_firmware(board_name, AD_MODEL, tmp_path / "ad01", None)
    steps, finding = _debug_on(target, elf, model_bytes, sample)
    data = finding.to_json()["samples"][0]
    # The oracle for where TFLite parts: numpy on tf.lite.Interpreter's and tflite_micro's tensors.
    tensors = [s.output_tensor for s in steps]
    tflm = debug.tflm_tensors(model_bytes, tensors, sample)[0]
    tflite = debug.tflite_tensors(model_bytes, tensors, sample)[0][0]
    parts = next(k for k in range(len(steps)) if not np.array_equal(tflm[k], tflite[k]))
    gap = np.abs(tflm[parts].astype(int) - tflite[parts].astype(int))
    assert data["first_difference"] is None and data["device_crc"] == data["tflm_crc"], finding.text
    assert data["tflite_parts_at"]["step"] == parts
    assert data["tflite_parts_at"]["tflite_vs_tflm"] == {
        "elements": tflm[parts].size, "differing": int(np.count_nonzero(gap)), "largest_difference": int(gap.max())}
    assert 1 <= gap.max() <= 2
    assert f"parts from TFLM at step {parts} " in finding.text and "The device follows TFLM, not TFLite." in finding.text
    print(finding.text)


def test_on_the_ad_model_the_host_target_follows_tflm_where_tflite_parts(tmp_path):
    _check_ad_device_follows_tflm("host", tmp_path)


@pytest.mark.emulated
def test_on_the_ad_model_emu_m4_follows_tflm_where_tflite_parts(tmp_path):
    import shutil
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (the setup step installs it)")
    _check_ad_device_follows_tflm("emu-m4", tmp_path)


# ---- the command line ----------------------------------------------------------------------------

@pytest.mark.slow
def test_validate_debug_on_the_host_writes_the_finding_into_validation_json_and_the_report(tmp_path, host_digits):
    """`tinyedge validate --board host --debug-samples 2 --json` on a copy of the built-in example (the
    session's host build of it reused: only the layer firmware is built): the finding is in the JSON on
    stdout, validation.json and report.html, and its CRCs are zlib.crc32 of TFLM's tensors."""
    import json
    import shutil

    from support import run_tinyedge
    example, _ = host_digits
    shutil.copy(example / "tinyedge.toml", tmp_path / "tinyedge.toml")
    shutil.copytree(example / "build" / "host", tmp_path / "build" / "host")
    bad = run_tinyedge("validate", "--board", "host", "--dir", str(tmp_path), "--debug-samples", "0")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith(
        "error: --debug-samples 0 is not a positive number of samples")
    run = run_tinyedge("validate", "--board", "host", "--dir", str(tmp_path), "--samples", "12",
                       "--debug-samples", "2", "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout)["debug"]
    folder = tmp_path / "build" / "host"
    assert json.loads((folder / "validation.json").read_text())["debug"] == found
    assert found["verdict"] == "equal" and len(found["samples"]) == 2 and found["first_difference"] is None
    model_bytes = (folder / "model.tflite").read_bytes()
    from tinyedge.validation.buildinfo import load_build_folder
    from tinyedge.boards import Catalogue
    from tinyedge.validation.reference import host_reference
    build = load_build_folder(Catalogue.load().get("host"), folder, "digits")
    x, _ = build.test_split()
    inputs = host_reference(model_bytes, x[:2]).inputs
    tensors = [step["tensor"] for step in found["step_table"]]
    for sample, values in zip(found["samples"], debug.tflm_tensors(model_bytes, tensors, list(inputs))):
        assert sample["device_crc"] == sample["tflm_crc"] == [f"{zlib.crc32(v.tobytes()):08x}" for v in values]
    page = (folder / "report.html").read_text()
    assert "Debug: the first step that differs" in page and found["samples"][0]["device_crc"][0] in page
    text = run_tinyedge("validate", "--board", "host", "--dir", str(tmp_path), "--samples", "3", "--debug")
    assert text.returncode == 0 and "debug:" in text.stdout and "the device follows TFLM step for step" in \
        " ".join(text.stdout.split())


def test_a_tflm_runtime_layer_build_without_crcs_compares_the_output_only():
    """TFLM's profiler times operators but sends no CRC (0): the finding says so, and compares the
    device's output with TFLM's."""
    model_bytes = small_cnn_model().read_bytes()
    steps = operator_steps(model_bytes)
    sample = random_samples(model_bytes, 1)
    host = debug.tflm_tensors(model_bytes, [s.output_tensor for s in steps], sample)[0]

    class NoCrcs(FakeDevice):
        def layers(self):
            return [(100, 0) for _ in self.tensors]

    device = NoCrcs([tensor.copy() for tensor in host])
    finding = debug.debug_device(device, model_bytes, steps, sample, runtime="tflm")
    data = finding.to_json()
    assert data["checksums"] is False and data["verdict"] == "unchecked" and device.fetched == []
    assert finding.samples[0].output_equal is True
    assert "does not checksum" in finding.text and "equals host TFLM's on 1 of 1 sample" in finding.text


def test_a_comparison_that_cannot_finish_is_kept_as_the_finding_not_raised():
    """In validate, a CRC that differs over equal bytes is the finding (validation.json keeps the
    samples), one line in the summary; the build's steps are the native runtime's generated ones."""
    from tinyedge.codegen import generate
    model = small_cnn_model()
    model_bytes = model.read_bytes()
    steps = generate(parse(model_bytes)).steps
    sample = random_samples(model_bytes, 1)
    host = debug.tflm_tensors(model_bytes, [s.output_tensor for s in steps], sample)[0]

    class WrongCrc(FakeDevice):
        def layers(self):
            rows = super().layers()
            rows[1] = (rows[1][0], rows[1][1] ^ 0xFFFF)
            return rows

    build = SimpleNamespace(model_bytes=model_bytes, model_path=model, firmware={"runtime": "native"})
    finding = debug.debug_build(WrongCrc([t.copy() for t in host]), build, sample)
    data = finding.to_json()
    assert data["error"].startswith("step 1's CRC-32 from the device is") and data["verdict"] == "none"
    assert debug.summary_row(data) == ("debug", f"steps not compared: {data['error']}")
    assert [len(data["step_table"]), data["step_table"][4]["layer"]] == [len(steps), steps[4].layer]
