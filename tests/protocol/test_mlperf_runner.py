"""The official MLPerf Tiny runner's side of the exchange (mlcommons/tiny benchmark/runner: device_under_test.py,
script.py, read for its commands and regexes, none of its code here) played against `tinyedge mlperf`
firmware: the runner's `name` and `profile` regexes, `db load` + 31-byte `db` chunks of the input as its
data files hold it (int8 for kws01, uint8 for vww01/ic01, float32 for ad01), `infer N W`, its
`m-results` and `m-lap-us` regexes. Oracles: TFLM on the input the reference firmware makes of those
bytes, kws01's truncated digits counted by hand, the reference's `db load` limits and texts.

Small converter-made models of each benchmark's shapes run on the host board; the reference ad01 and
kws01 models (../shared/) on emu-m4."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyedge.boards import Catalogue
from tinyedge.mlperf import BENCHMARKS, model_input, results_line
from tinyedge.project.firmware import build_firmware
from tinyedge.targets import for_board
from tinyedge.tflite.tflm import TflmRunner

TFLM_TREE = os.environ.get("TINYEDGE_TFLM_DIR", "")
RUNNER_CHUNK = 31          # device_under_test.py: _max_bytes without a power manager
NAME = re.compile(r"^m-(name)-dut-\[([^]]+)]$")
PROFILE = re.compile(r"^m-(model|profile)-\[([^]]+)]$")
RESULTS = re.compile(r"^m-results-\[([^]]+)\]$")
LAP = re.compile(r"^m-lap-us-([0-9]+)$")
# tests_performance.yaml: `infer N W` of each benchmark's performance script (accuracy: `infer 1 0`)
PERFORMANCE_INFER = {"kws01": (70, 10), "vww01": (20, 5), "ic01": (20, 5), "ad01": (1500, 10)}
SHAPES = {"kws01": ((49, 10, 1), 12), "vww01": ((96, 96, 3), 2), "ic01": ((32, 32, 3), 10), "ad01": ((640,), 640)}


def _small_model(benchmark: str, folder: Path) -> Path:
    """A converter-made int8 model of the benchmark's input and output shapes (softmax for classifiers,
    as the reference models end)."""
    from tinyedge.pipeline.quantize import convert_int8
    from tinyedge.pipeline.zoo import autoencoder, tiny_cnn
    import tensorflow as tf

    shape, outputs = SHAPES[benchmark]
    tf.keras.utils.set_random_seed(len(benchmark))
    if benchmark == "ad01":
        model = autoencoder(shape, outputs, width=0.25, depth=1)
        calibration = np.random.default_rng(1).normal(-20.0, 12.0, (32, *shape)).astype(np.float32)
    else:
        base = tiny_cnn(shape, outputs, width=0.25, depth=1)
        model = tf.keras.Model(base.input, tf.keras.layers.Softmax()(base.output))
        calibration = np.random.default_rng(1).uniform(-1.0, 1.0, (32, *shape)).astype(np.float32)
    path = folder / f"{benchmark}.tflite"
    path.write_bytes(convert_int8(model, calibration))
    return path


def _runner_files(benchmark, scale: float, zero_point: int, count: int = 3) -> list[bytes]:
    """Inputs as the runner's data files hold them, with saturating and rounding cases for ad01."""
    rng = np.random.default_rng(7)
    if benchmark.input == "float32":
        values = [rng.normal(-20.0, 15.0, benchmark.input_elements).astype("<f4") for _ in range(count)]
        values[0][:4] = [1e6, -1e6, (0.5 - zero_point) * scale, -0.0]   # saturate high/low, a tie, -0
        return [value.tobytes() for value in values]
    return [rng.integers(0, 256, benchmark.input_elements, dtype=np.uint8).tobytes() for _ in range(count)]


class RunnerSide:
    """The runner's SerialDevice.send_command: a command ending in '%', lines until one with m-ready."""

    def __init__(self, transport):
        self.transport = transport

    def send(self, command: str, timeout: float = 60.0) -> list[str]:
        self.transport.write(f"{command}%".encode(), timeout)
        lines = []
        while True:
            line = self.transport.read_line(timeout).strip("\r\n\0")
            if line:
                lines.append(line)
            if "m-ready" in line:
                return lines

    def load(self, data: bytes) -> list[str]:
        replies = self.send(f"db load {len(data)}")
        for start in range(0, len(data), RUNNER_CHUNK):
            replies += self.send("db " + data[start:start + RUNNER_CHUNK].hex())
        return replies


def _play(board_name: str, model: Path, benchmark, folder: Path, files: list[bytes],
          first_infer: tuple[int, int] = (1, 0), runtime: str = "native"):
    """Builds the benchmark firmware and plays the runner against it: the first file with `first_infer`
    (the performance script's `infer N W`), the others with the accuracy script's `infer 1 0`. Returns
    (replies per file, the identification lines, TFLM's expected result lines, the replies to a
    `db load` one over the limit and one at it)."""
    board = Catalogue.load().get(board_name)
    tree = Path(TFLM_TREE) if runtime == "tflm" else None
    built = build_firmware(board, model, folder, runtime=runtime, name=benchmark.id, mlperf=benchmark, tflm_dir=tree)
    runner = TflmRunner(model.read_bytes())
    expected = [results_line(benchmark, runner.run_one(model_input(benchmark, data, runner.input.scale,
                                                                   runner.input.zero_point)),
                             runner.output.scale, runner.output.zero_point, data) for data in files]
    with for_board(board).open_transport(built.elf, None) as transport:
        transport.read_until(b"m-ready", 30)
        side = RunnerSide(transport)
        identity = side.send("name") + side.send("profile")
        replies = []
        for index, data in enumerate(files):
            loaded = side.load(data)
            assert loaded[0] == f"m-[Expecting {len(data)} bytes]" and "m-load-done" in loaded
            inferences, warmups = first_infer if index == 0 else (1, 0)
            replies.append(side.send(f"infer {inferences} {warmups}"))
        limit = side.send(f"db load {benchmark.db_bytes + 1}")
        at_limit = side.send(f"db load {benchmark.db_bytes}")
    return replies, identity, expected, limit, at_limit


def _check_exchange(benchmark, replies, identity, expected, limit, at_limit) -> None:
    assert any(NAME.match(line) for line in identity)
    models = [PROFILE.match(line).group(2) for line in identity if PROFILE.match(line)]
    assert models == ["ULPMark for tinyML Firmware V0.0.1", benchmark.id]    # the runner's script key
    for lines, line_expected in zip(replies, expected):
        results = [line for line in lines if RESULTS.match(line)]
        assert results == [line_expected]
        assert len([line for line in lines if LAP.match(line)]) == 2          # start and end of the timed loop
        values = [float(x) for x in RESULTS.match(results[0]).group(1).split(",") if x.strip()]
        assert len(values) == (1 if benchmark.results == "mean-squared-error" else benchmark.output_elements)
    assert limit[0] == f"Supplied buffer size {benchmark.db_bytes + 1} exceeds maximum of {benchmark.db_bytes}"
    assert at_limit[0] == f"m-[Expecting {benchmark.db_bytes} bytes]"


@pytest.fixture(scope="module")
def small_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mlperf-models")
    return {name: _small_model(name, folder) for name in BENCHMARKS}


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_the_runner_exchange_on_the_host_equals_tflm(small_models, tmp_path, name):
    benchmark = BENCHMARKS[name]
    runner = TflmRunner(small_models[name].read_bytes())
    files = _runner_files(benchmark, runner.input.scale, runner.input.zero_point)
    _check_exchange(benchmark, *_play("host", small_models[name], benchmark, tmp_path, files,
                                      PERFORMANCE_INFER[name]))


def test_kws_prints_the_reference_truncated_digits(small_models, tmp_path):
    """kws01's printer, counted by hand: output code q is c = (q + 128) / 256 and prints "0." and the
    three digits of floor((q + 128) * 1000 / 256), where %0.3f would round (1/256: 0.003, not 0.004)."""
    benchmark = BENCHMARKS["kws01"]
    runner = TflmRunner(small_models["kws01"].read_bytes())
    assert (runner.output.scale, runner.output.zero_point) == (1 / 256, -128)
    files = _runner_files(benchmark, runner.input.scale, runner.input.zero_point)
    replies, *_ = _play("host", small_models["kws01"], benchmark, tmp_path, files)
    for lines, data in zip(replies, files):
        output = runner.run_one(model_input(benchmark, data, runner.input.scale, runner.input.zero_point))
        by_hand = ",".join(f"0.{(int(q) + 128) * 1000 // 256:03d}" for q in output.ravel())
        assert f"m-results-[{by_hand}]" in lines


def test_uint8_pixels_become_the_reference_int8_and_db_print_shows_what_was_sent(small_models, tmp_path):
    benchmark = BENCHMARKS["ic01"]
    board = Catalogue.load().get("host")
    built = build_firmware(board, small_models["ic01"], tmp_path, runtime="native", name="ic01", mlperf=benchmark)
    data = bytes(range(256)) * 12
    assert model_input(benchmark, data, 1.0, -128).tolist() == [value - 128 for value in data]   # v - 128
    with for_board(board).open_transport(built.elf, None) as transport:
        transport.read_until(b"m-ready", 30)
        side = RunnerSide(transport)
        side.load(data)
        printed = side.send("db print")
    rows = [line.removeprefix("m-buffer-").split("-") for line in printed if line.startswith("m-buffer-")]
    assert bytes(int(cell, 16) for row in rows for cell in row) == data


@pytest.mark.emulated
@pytest.mark.parametrize("name", ["ad01", "kws01"])
def test_the_reference_models_on_emu_m4_equal_tflm(shared_dir, tmp_path, name):
    benchmark = BENCHMARKS[name]
    model = shared_dir / "models" / "mlperf-tiny" / benchmark.model_file
    runner = TflmRunner(model.read_bytes())
    files = _runner_files(benchmark, runner.input.scale, runner.input.zero_point, count=2)
    _check_exchange(benchmark, *_play("emu-m4", model, benchmark, tmp_path, files, (2, 1)))


def test_what_mlperf_cannot_do_is_one_line_with_the_way_out(small_models, tmp_path, tinyedge_cli):
    ad = str(small_models["ad01"])
    cases = [
        (["--board", "host", "--benchmark", "ad02", "--model", ad],
         "error: unknown MLPerf Tiny benchmark 'ad02' (choose one of kws01, vww01, ic01, ad01)"),
        (["--board", "host", "--benchmark", "ad01", "--model", ad, "--serve"],
         "error: --serve runs an emulated board, and host is not one (build for the board without --serve "
         "and point the runner at its port)"),
        (["--board", "host", "--benchmark", "ic01", "--model", ad],
         "error: ad01.tflite has int8 input of 640 and int8 output of 640 elements; ic01 needs int8 of 3072 "
         "and 10 (pass the ic01 model with --model (its reference: pretrainedResnet_quant.tflite))"),
    ]
    for arguments, line in cases:
        result = tinyedge_cli("mlperf", *arguments, "--build-dir", str(tmp_path / "build"), cwd=tmp_path)
        assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (1, line)
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "build").exists()   # refused before anything was built


@pytest.mark.emulated
def test_serve_gives_the_runner_a_usb_port_that_answers_as_the_benchmark(small_models, tmp_path):
    """--serve's pseudo-terminal: pyserial's port list in a Python started with the written identity
    folder on PYTHONPATH (as the runner is) shows it with the reference DUT's USB ids, and the firmware
    answers through it, boot lines already consumed."""
    import serial

    benchmark = BENCHMARKS["ad01"]
    board = Catalogue.load().get("emu-m4")
    built = build_firmware(board, small_models["ad01"], tmp_path, runtime="native", name="ad01", mlperf=benchmark)
    with for_board(board).serve(built.elf, tmp_path) as served:
        assert served.icount == "shift=5,align=on"        # 32 ns an instruction: 31.25 MHz, near its 25 MHz
        listed = subprocess.run(
            [sys.executable, "-c", "from serial.tools import list_ports\n"
             "print([(p.device, p.vid, p.pid) for p in list_ports.comports(True) if p.vid])"],
            env={**os.environ, "PYTHONPATH": str(served.identity_folder)},
            capture_output=True, text=True, timeout=60)
        assert f"('{served.path}', 1155, 14155)" in listed.stdout          # 0x0483:0x374B
        with serial.Serial(served.path, 115200, timeout=10) as port:
            port.write(b"profile%")
            reply = port.read_until(b"m-ready\r\n").decode()
        assert reply == "m-profile-[ULPMark for tinyML Firmware V0.0.1]\r\nm-model-[ad01]\r\nm-ready\r\n"
        assert served.ended() is None


@pytest.mark.emulated
@pytest.mark.skipif(not TFLM_TREE, reason="TINYEDGE_TFLM_DIR is not set (a TFLM tree from create_tflm_tree.py)")
@pytest.mark.parametrize("name", ["ad01", "kws01"])
def test_the_tflm_runtime_answers_the_runner_as_the_native_one(small_models, tmp_path, name):
    benchmark = BENCHMARKS[name]
    runner = TflmRunner(small_models[name].read_bytes())
    files = _runner_files(benchmark, runner.input.scale, runner.input.zero_point, count=2)
    _check_exchange(benchmark, *_play("emu-m4", small_models[name], benchmark, tmp_path, files, (2, 1), "tflm"))
