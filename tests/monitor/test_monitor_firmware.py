"""The firmware's model monitor (firmware/monitor, the te-monitor protocol lines) against independent
oracles: on the built-in example's test split, every counter the C keeps equals the numpy mirror's
(tinyedge.monitor.stats.stats_of) computed from the same int8 inputs and host TFLM's outputs, and the class
histogram equals np.bincount of TFLM's argmax; latency obeys the first-inference rule. On the host board
(the protocol firmware as a process) and once on emu-m4 (QEMU). The C compiles warning-free under the
strict flags of tests/native/test_warning_free.py for every kind of model (gcc, clang, arm-none-eabi-gcc)."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from support import REPO, SHARED, run_tinyedge

sys.path.insert(0, str(REPO / "tests" / "native"))
from test_warning_free import CLANG, GCC, _arm, assert_compiles  # noqa: E402 - the one set of strict flags

from tinyedge.boards import Catalogue  # noqa: E402
from tinyedge.int8_io import quantize  # noqa: E402
from tinyedge.monitor import baseline as monitor_baseline  # noqa: E402
from tinyedge.monitor.snapshot import MonitorSnapshot  # noqa: E402
from tinyedge.monitor.spec import spec_for  # noqa: E402
from tinyedge.monitor.stats import stats_of  # noqa: E402
from tinyedge.resources import FIRMWARE_DIR  # noqa: E402

LATENCY_FIELDS = ("latency_min", "latency_max", "latency_sum", "latency_reference", "latency_histogram")
AD_MODEL = SHARED / "models" / "mlperf-tiny" / "ad01_int8.tflite"


@pytest.fixture(scope="module")
def digits_build(tmp_path_factory, request) -> Path:
    """build/host of the built-in example: the session's trained example copied when tests/conftest.py
    offers it (digits_project), else trained here."""
    folder = tmp_path_factory.mktemp("monitor-firmware") / "digits"
    try:
        request.getfixturevalue("digits_project")(folder, "host")
    except pytest.FixtureLookupError:
        folder.mkdir(parents=True)
        shutil.copy(REPO / "examples" / "digits" / "tinyedge.toml", folder / "tinyedge.toml")
    run = run_tinyedge("build", "--board", "host", cwd=folder)
    assert run.returncode == 0, run.stderr[-3000:]
    return folder / "build" / "host"


@dataclasses.dataclass
class Monitored:
    spec: object
    model: Path
    inputs: np.ndarray        # the test split, int8 as the firmware gets it
    tflm: np.ndarray          # host TFLM's int8 outputs for them


@pytest.fixture(scope="module")
def monitored(digits_build) -> Monitored:
    """The example's monitor spec from its validation split through TFLM (the baseline stage's
    tinyedge.monitor.baseline.compute), and the test split with TFLM's outputs."""
    from tinyedge.tflite.model import load
    from tinyedge.tflite.tflm import TflmRunner
    model_path = digits_build / "model.tflite"
    model = load(model_path)
    with np.load(digits_build / "data.npz") as data:
        x_val = data["x_val"]
    with np.load(digits_build / "test_data.npz") as test:
        x_test = test["x"]
    spec = monitor_baseline.compute(model.raw, x_val, "classification", 256).spec
    quantization = model.main.input_tensors()[0].quantization
    inputs = quantize(x_test, float(quantization.scale[0]), int(quantization.zero_point[0]))
    tflm = TflmRunner(model.raw).run(inputs)
    return Monitored(spec, model_path, inputs, np.asarray(tflm, np.int8).reshape(len(inputs), -1))


def _build(board: str, monitored: Monitored, folder: Path, monitor=True, models=None):
    from tinyedge.project import build_firmware
    return build_firmware(Catalogue.load().get(board), monitored.model, folder, runtime="native", name="digits",
                          monitor=monitored.spec if monitor else None, models=models, console=lambda line: None)


def _client(board: str, built):
    from tinyedge.targets import for_board
    link = for_board(Catalogue.load().get(board))
    return link.open_transport(built.elf, link.install(built.project, None))


def _run_split(transport, monitored: Monitored) -> tuple[MonitorSnapshot, np.ndarray]:
    """te-monitor-reset, every test sample through `infer 1 0`, then te-monitor: the device's
    statistics and its outputs."""
    from tinyedge.device.protocol import DeviceClient
    client = DeviceClient(transport)
    client.connect()
    assert "m-te-monitor-reset-done" in client.command("te-monitor-reset")
    outputs = []
    for sample in monitored.inputs:
        client.load(sample.tobytes())
        client.infer(1, 0)
        outputs.append(np.frombuffer(client.output(), np.int8))
    return MonitorSnapshot.parse(client.command("te-monitor"), "the device"), np.stack(outputs)


def _assert_equals_mirror(device: MonitorSnapshot, monitored: Monitored, outputs: np.ndarray) -> None:
    count = len(monitored.inputs)
    np.testing.assert_array_equal(outputs, monitored.tflm)   # the device's outputs are TFLM's
    expected = stats_of(monitored.spec, monitored.inputs, monitored.tflm)
    differing = [(field.name, getattr(device, field.name), getattr(expected, field.name))
                 for field in dataclasses.fields(MonitorSnapshot)
                 if field.name not in LATENCY_FIELDS and getattr(device, field.name) != getattr(expected, field.name)]
    assert not differing, "counters that differ from the numpy mirror (name, device, mirror): " + repr(differing)
    oracle = np.bincount(np.argmax(monitored.tflm, axis=1), minlength=monitored.spec.classes)
    assert list(device.class_histogram) == oracle.tolist()
    assert device.input_low > 0 and device.input_values == count * monitored.spec.examined_per_inference
    # latency: every inference in one bin, within [min, max], the first one's ticks the reference
    assert sum(device.latency_histogram) == count
    assert 0 < device.latency_min <= device.latency_max
    assert count * device.latency_min <= device.latency_sum <= count * device.latency_max
    assert device.latency_min <= device.latency_reference <= device.latency_max


def test_host_monitor_equals_the_numpy_mirror_on_the_test_split(monitored, tmp_path):
    built = _build("host", monitored, tmp_path)
    with _client("host", built) as transport:
        device, outputs = _run_split(transport, monitored)
    assert device.kind == "classifier" and device.count == len(monitored.inputs)
    _assert_equals_mirror(device, monitored, outputs)


def test_monitor_commands_on_the_host(monitored, digits_build, tmp_path):
    """Warm-ups count, a reset empties every counter, the first inference is in bin 8 of its own
    reference; te-help lists the commands; a firmware built without says how to get one."""
    from tinyedge.device.protocol import DeviceClient
    built = _build("host", monitored, tmp_path)
    with _client("host", built) as transport:
        client = DeviceClient(transport)
        client.connect()
        client.load(monitored.inputs[0].tobytes())
        client.infer(2, 3)
        assert MonitorSnapshot.parse(client.command("te-monitor")).count == 5
        assert client.command("te-monitor-reset")[0] == "m-te-monitor-reset-done"
        empty = MonitorSnapshot.parse(client.command("te-monitor"))
        assert empty == MonitorSnapshot(kind="classifier", class_histogram=(0,) * 10, confidence_histogram=(0,) * 10)
        help_lines = client.command("te-help")
        assert any(line.startswith("te-monitor[-reset]: ") for line in help_lines)   # both commands
    plain = digits_build / "firmware" / "build" / "firmware.elf"
    from tinyedge.device.transport import ProcessTransport
    with ProcessTransport([str(plain)]) as transport:
        client = DeviceClient(transport)
        client.connect()
        for command in ("te-monitor", "te-monitor-reset"):
            lines = client.command(command, check=False)
            assert lines[0] == ("e-[te-monitor: built without the monitor; set [monitor] enabled = true and "
                                "build again]"), lines
        assert not any("te-monitor" in line for line in client.command("te-help"))


def test_only_the_first_model_is_monitored(monitored, tmp_path):
    from tinyedge.device.protocol import DeviceClient
    built = _build("host", monitored, tmp_path, models=[("second", monitored.model)])
    with _client("host", built) as transport:
        client = DeviceClient(transport)
        client.connect()
        client.command("te-select second")
        client.load(monitored.inputs[0].tobytes())
        client.infer(1, 0)
        for command in ("te-monitor", "te-monitor-reset"):
            lines = client.command(command, check=False)
            assert lines[0] == "e-[te-monitor: model second is not monitored (only digits is)]", lines
        client.command("te-select digits")
        assert MonitorSnapshot.parse(client.command("te-monitor")).count == 0   # the second model's run
        client.load(monitored.inputs[0].tobytes())
        client.infer(1, 0)
        assert MonitorSnapshot.parse(client.command("te-monitor")).count == 1


@pytest.mark.emulated
def test_emulated_monitor_equals_the_numpy_mirror(monitored, tmp_path):
    built = _build("emu-m4", monitored, tmp_path)
    with _client("emu-m4", built) as transport:
        device, outputs = _run_split(transport, monitored)
    _assert_equals_mirror(device, monitored, outputs)
    # instructions under -icount are exact: the reference (the first inference) is in bin 8
    assert device.latency_reference >= 8 and device.latency_histogram[8] >= 1


# ---- warning-free ---------------------------------------------------------------------------------

def _monitored_host_projects(monitored, folder: Path) -> list[Path]:
    """Host projects of the three kinds: the example (classifier), the example as regression, and
    MLPerf Tiny's AD model (an autoencoder: as many output bytes as input bytes, no softmax)."""
    from tinyedge.project import make_bundle, plan_project, render_project, write_tree
    board = Catalogue.load().get("host")
    cases = [("classifier", monitored.model.read_bytes(), monitored.spec),
             ("regression", monitored.model.read_bytes(), spec_for(monitored.model, None, task="regression"))]
    if AD_MODEL.is_file():
        cases.append(("autoencoder", AD_MODEL.read_bytes(), spec_for(AD_MODEL, None)))
    projects = []
    for kind, model_bytes, spec in cases:
        assert spec.kind == kind
        bundle = make_bundle(model_bytes, kind, None, None)
        plan = plan_project(bundle, board, runtime="native", monitor=spec)
        write_tree(render_project(bundle, board, plan), folder / kind)
        projects.append(folder / kind)
    return projects


@pytest.mark.parametrize("toolchain", [GCC, CLANG], ids=["gcc-c99", "clang-c99"])
def test_monitored_firmware_compiles_warning_free(toolchain, monitored, tmp_path):
    toolchain.check_installed()
    for project in _monitored_host_projects(monitored, tmp_path):
        folders = [project / name for name in ("src", "protocol", "native", "port")]
        sources = [project / "src" / name for name in ("tinyedge_monitor.c", "tinyedge_monitor_spec.c",
                                                     "tinyedge_runtime.c")] + [project / "protocol" / "te_protocol.c"]
        objects = tmp_path / f"objects-{project.name}"
        objects.mkdir()
        assert_compiles(toolchain, sources, folders, objects)


@pytest.mark.emulated
def test_monitor_compiles_warning_free_for_arm(tmp_path):
    toolchain = _arm("emu-m4")
    toolchain.check_installed()
    monitor, protocol, port = FIRMWARE_DIR / "monitor", FIRMWARE_DIR / "protocol", FIRMWARE_DIR / "port"
    for kind in (0, 1, 2):
        for source in (monitor / "tinyedge_monitor.c", protocol / "te_protocol.c"):
            copied = tmp_path / f"kind{kind}" / source.name
            copied.parent.mkdir(exist_ok=True)
            copied.write_text(f"#define TINYEDGE_MONITOR\n#define TINYEDGE_MONITOR_KIND {kind}\n"
                              f"#define TINYEDGE_MONITOR_CLASSES 10\n" + source.read_text())
            assert_compiles(toolchain, [copied], [monitor, protocol, port], copied.parent)


def test_cmake_library_carries_the_monitor(monitored, tmp_path):
    """A CMake project with the monitor builds with the host compiler, its example's inference is
    recorded (tinyedge_monitor_snapshot, the C API a user's firmware calls) and the protocol library
    links against it."""
    from tinyedge.project import make_bundle, plan_project, render_project, write_tree
    import subprocess
    if shutil.which("cmake") is None:
        pytest.skip("cmake is not installed")
    board = Catalogue.load().get("emu-m4")
    bundle = make_bundle(monitored.model.read_bytes(), "digits", None, monitored.inputs[0])
    project = write_tree(render_project(bundle, board, plan_project(bundle, board, "cmake", "native",
                                                                    monitor=monitored.spec)), tmp_path / "cmake")
    assert (project / "include" / "tinyedge_monitor.h").is_file()
    build = tmp_path / "build"
    for command in (["cmake", "-S", str(project), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release",
                     "-DTINYEDGE_BUILD_EXAMPLE=ON", "-DTINYEDGE_WITH_PROTOCOL=ON"],
                    ["cmake", "--build", str(build), "-j", "2"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    done = subprocess.run([str(build / "run_sample")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "match" in done.stdout.splitlines(), done.stdout
    assert f"monitor count 1 input values {monitored.spec.examined_per_inference}" in done.stdout
    assert (build / "libtinyedge_protocol.a").is_file()


@pytest.mark.parametrize("kind, board, runtime", [("platformio", "nano33", "tflm"), ("platformio", "emu-m4", "native"),
                                                  ("arduino-library", "nano33", "native"), ("cmake", "nano33", "tflm")])
def test_every_project_kind_carries_the_monitor_only_when_enabled(kind, board, runtime, monitored):
    from tinyedge.project import make_bundle, plan_project, render_project
    target = Catalogue.load().get(board)
    bundle = make_bundle(monitored.model.read_bytes(), "digits", None, None)
    plain = render_project(bundle, target, plan_project(bundle, target, kind, runtime, tested_arena=4096))
    files = render_project(bundle, target, plan_project(bundle, target, kind, runtime, tested_arena=4096,
                                                        monitor=monitored.spec))
    names = {Path(path).name for path in files}
    assert {"tinyedge_monitor.c", "tinyedge_monitor.h", "tinyedge_monitor_spec.c"} <= names
    assert not {Path(path).name for path in plain} & {"tinyedge_monitor.c", "tinyedge_monitor_spec.c"}
    assert set(files) - set(plain) == {path for path in files if "tinyedge_monitor" in path}
    runtime_file = next(path for path in files if Path(path).stem == "tinyedge_runtime")
    assert "int tinyedge_runtime_run(" in files[runtime_file]
    assert "int tinyedge_model_run(" not in files[runtime_file]
    config = next(text for path, text in files.items() if path.endswith("tinyedge_config.h"))
    assert "#define TINYEDGE_MONITOR_KIND 0" in config and "#define TINYEDGE_MONITOR_CLASSES 10" in config
    if kind == "platformio":   # the protocol's library does not see tinyedge_config.h
        assert "-DTINYEDGE_MONITOR_KIND=0" in files["platformio.ini"]
    # the unmonitored project is what it was: every file the same but the monitor's
    changed = {Path(path).name for path in plain if plain[path] != files[path]}
    assert changed <= {"tinyedge_config.h", Path(runtime_file).name, "platformio.ini", "CMakeLists.txt",
                       "run_sample.c"}, changed


def test_build_monitor_flag_switches_the_firmware(digits_build, monitored):
    """`tinyedge build --monitor` makes the monitored firmware from the pipeline's baseline (the same
    spec as the baseline stage's function gives), `--no-monitor` the plain one again; the model stages
    stay cached."""
    from tinyedge.device.protocol import DeviceClient
    from tinyedge.device.transport import ProcessTransport
    from tinyedge.monitor.baseline import load_baseline
    project = digits_build.parent.parent
    elf = digits_build / "firmware" / "build" / "firmware.elf"
    for flag, monitored_build in (("--monitor", True), ("--no-monitor", False)):
        run = run_tinyedge("build", "--board", "host", flag, cwd=project)
        assert run.returncode == 0, run.stderr[-3000:]
        with ProcessTransport([str(elf)]) as transport:
            client = DeviceClient(transport)
            client.connect()
            lines = client.command("te-monitor", check=False)
        if monitored_build:
            assert load_baseline(digits_build).spec == monitored.spec
            assert MonitorSnapshot.parse(lines).count == 0
        else:
            assert lines[0].startswith("e-[te-monitor: built without the monitor"), lines
