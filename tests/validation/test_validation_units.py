"""The parts of validate and flash that need no device: the metrics, the input quantization, the
report's wording, and the real-board upload path with a FAKE USB port list and a FAKE PlatformIO
runner (no board is attached to this machine, and PlatformIO cannot download platforms here)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from support import run_tinyedge
from tinyedge.boards import Catalogue
from tinyedge.device import ports as ports_module
from tinyedge.errors import TinyedgeError
from tinyedge.validation.buildinfo import BuildFolder
from tinyedge.validation.flashing import flash_real_board, upload_failure
from tinyedge.validation.metrics import compute_metrics, summarise_latency

NANO = Catalogue.load().get("nano33")


# ---- metrics ---------------------------------------------------------------------------------------

def _identity(values):
    return values.astype(np.float32)


def test_agreement_counts_only_byte_identical_outputs():
    host = np.array([[5, -3, 1], [0, 9, -128], [127, 0, 0], [1, 2, 3]], dtype=np.int8)
    device = host.copy()
    device[1, 2] = -127           # one LSB off: the sample disagrees, its prediction does not change
    device[3] = [9, 2, 3]         # a different prediction
    metrics = compute_metrics(device, host, np.array([0, 1, 0, 2]), "accuracy", _identity,
                              [10.0, 12.0, 11.0, 50.0], "instructions")
    assert metrics.agreement == 0.5 and metrics.disagreeing_samples == [1, 3]
    assert metrics.host_accuracy == 1.0 and metrics.device_accuracy == 0.75
    assert metrics.confusion_matrix == [[2, 0, 0], [0, 1, 0], [1, 0, 0]]


def test_latency_is_mean_median_and_p99_in_the_device_unit():
    latency = summarise_latency([float(v) for v in range(1, 101)], "instructions")
    assert (latency.unit, latency.mean, latency.median) == ("instructions", 50.5, 50.5)
    assert latency.p99 == pytest.approx(99.01) and latency.microseconds is None
    cycles = summarise_latency([64_000.0, 64_000.0], "cycles", ticks_per_second=64_000_000)
    assert cycles.microseconds == {"mean": 1000.0, "median": 1000.0, "p99": 1000.0}
    assert summarise_latency([], "cycles") is None


def test_no_sample_gives_empty_figures_not_an_error():
    metrics = compute_metrics(np.zeros((0, 4), np.int8), np.zeros((0, 4), np.int8), np.zeros(0), "accuracy",
                              _identity, [], "instructions")
    assert metrics.samples == 0 and metrics.device_accuracy is None and metrics.latency is None


# ---- real-board flash: FAKE USB port list and FAKE PlatformIO runner --------------------------------

# What `pio run -t upload` printed on this machine for a Nano 33 project (no network), after 61 s.
PLATFORMIO_OFFLINE_OUTPUT = [
    "Processing nano33 (platform: nordicnrf52; board: nano33ble; framework: arduino)",
    "-" * 80,
    "Platform Manager: Installing nordicnrf52",
    "HTTPClientError: ",
]


def test_platformio_failures_become_one_phrase():
    assert upload_failure(PLATFORMIO_OFFLINE_OUTPUT, 1) == \
        "PlatformIO could not install the nordicnrf52 platform (HTTPClientError)"
    assert upload_failure(["Uploading...", "Error: No device found on /dev/ttyACM1"], 1) == \
        "No device found on /dev/ttyACM1"
    assert upload_failure(["something odd"], 2) == "PlatformIO exited with code 2"


def fake_usb_ports(monkeypatch, *listings):
    """Each comports() call returns the next listing (the last one repeats). FAKE: no board here."""
    calls = iter(listings)
    last: list = []

    def comports():
        nonlocal last
        last = next(calls, last)
        return [SimpleNamespace(device=d, vid=v, pid=p, description=t) for d, v, p, t in last]

    monkeypatch.setattr(ports_module.list_ports, "comports", comports)


SKETCH = ("/dev/ttyACM0", 0x2341, 0x805A, "Nano 33 BLE")
BOOTLOADER = ("/dev/ttyACM1", 0x2341, 0x005A, "Nano 33 BLE bootloader")
UART = ("/dev/ttyS0", None, None, "n/a")


@pytest.fixture
def nano_build(tmp_path, monkeypatch) -> BuildFolder:
    """A build folder with a PlatformIO project, and a PlatformIO core that holds the board's platform."""
    project = tmp_path / "build" / "nano33" / "firmware"
    project.mkdir(parents=True)
    (project / "platformio.ini").write_text("[env:nano33]\n")
    core = tmp_path / "platformio-core"
    (core / "platforms" / "nordicnrf52").mkdir(parents=True)
    (core / "platforms" / "nordicnrf52" / "platform.json").write_text("{}")
    monkeypatch.setenv("PLATFORMIO_CORE_DIR", str(core))
    return BuildFolder(NANO, project.parent, "digits", b"model", {"firmware": {"project": str(project)}})


def test_nano33_flash_touches_at_1200_baud_then_uploads_to_the_bootloader_port(monkeypatch, nano_build):
    # Before the touch; the board gone; its bootloader; after the upload the sketch is back.
    fake_usb_ports(monkeypatch, [SKETCH, UART], [SKETCH, UART], [UART], [BOOTLOADER, UART], [SKETCH, UART])
    commands = []

    def fake_platformio(command, log_path):
        commands.append(command)
        return 0, ["Uploading .pio/build/nano33/firmware.bin", "Verify successful"]

    result = flash_real_board(NANO, nano_build, None, run=fake_platformio, sleep=lambda seconds: None)
    project = nano_build.firmware_project
    assert commands == [[sys.executable, "-m", "platformio", "run", "-d", str(project), "-t", "upload",
                         "--upload-port", "/dev/ttyACM1"]]
    assert result.port == "/dev/ttyACM0"


def test_a_failed_upload_is_one_line_with_the_log(monkeypatch, nano_build):
    fake_usb_ports(monkeypatch, [SKETCH], [SKETCH], [], [BOOTLOADER])
    with pytest.raises(TinyedgeError) as error:
        flash_real_board(NANO, nano_build, None, run=lambda command, log: (1, PLATFORMIO_OFFLINE_OUTPUT),
                         sleep=lambda seconds: None)
    log = nano_build.firmware_project / ".pio" / "tinyedge-upload.log"
    assert error.value.one_line() == (
        "the upload to nano33 on /dev/ttyACM1 failed: PlatformIO could not install the nordicnrf52 platform "
        f"(HTTPClientError) (full log: {log})")


def test_flash_without_the_board_lists_the_ports_and_the_flag(monkeypatch, nano_build):
    fake_usb_ports(monkeypatch, [UART])
    with pytest.raises(TinyedgeError) as error:
        flash_real_board(NANO, nano_build, None, run=lambda command, log: pytest.fail("no upload"))
    assert error.value.one_line() == (
        "no serial port has the USB id of Arduino Nano 33 BLE Sense (2341:805a, 2341:005a); ports present: "
        "/dev/ttyS0 (connect the board, or pick a port with --port PORT)")


def test_flash_without_the_platform_says_what_to_install(monkeypatch, nano_build, tmp_path):
    monkeypatch.setenv("PLATFORMIO_CORE_DIR", str(tmp_path / "empty-core"))
    with pytest.raises(TinyedgeError) as error:
        flash_real_board(NANO, nano_build, "/dev/ttyACM0", run=lambda command, log: pytest.fail("no upload"))
    assert error.value.one_line() == (
        f"PlatformIO's nordicnrf52 platform is not installed in {tmp_path / 'empty-core'}, so the firmware "
        "cannot be uploaded to nano33 (on a machine with the network: pio pkg install -g -p "
        "platformio/nordicnrf52 (once), then tinyedge flash --board nano33)")


# ---- bad command lines -----------------------------------------------------------------------------

def test_flash_before_build_says_to_build(tmp_path):
    (tmp_path / "tinyedge.toml").write_text('[project]\nname = "digits"\nboard = "emu-m4"\n')
    run = run_tinyedge("flash", "--board", "emu-m4", "--dir", str(tmp_path))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == (f"error: no build for emu-m4 in {tmp_path} (no {tmp_path}/build/emu-m4/model.tflite) "
                          "(run 'tinyedge build --board emu-m4' first)\n")


def test_validate_with_no_samples_is_refused_before_building(tmp_path):
    run = run_tinyedge("validate", "--board", "emu-m4", "--dir", str(tmp_path), "--samples", "0")
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == ("error: --samples 0 is not a positive number of samples (give 1 or more, or leave "
                          "--samples out to send the whole test split)\n")
    assert not (tmp_path / "build").exists()


def test_a_latency_budget_that_is_not_met_names_the_figure_and_the_limit():
    from tinyedge.commands.validate import _check_latency_budget
    from tinyedge.errors import TinyedgeError

    data = {"latency": {"unit": "instructions", "mean": 180_200.0, "median": 180_160.0, "p99": 180_400.0},
            "report": "build/emu-m4/report.html"}
    _check_latency_budget(0, data)         # no budget
    _check_latency_budget(180_160, data)   # exactly at the limit
    with pytest.raises(TinyedgeError) as info:
        _check_latency_budget(100_000, data)
    assert info.value.one_line() == (
        "latency budget not met: median 180,160 instructions > budgets.max_latency 100,000 instructions "
        "(the measurements are in build/emu-m4/report.html; use a smaller student or raise the budget)")
