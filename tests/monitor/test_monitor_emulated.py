"""`tinyedge monitor` on emu-m4 with the built-in example built with [monitor] enabled = true: replaying
the test split raises no drift and the device's counters are those of its inputs and of TFLM's outputs;
a brighter, a noisier and a class-less replay raise drift in the statistic that moves, and monitor.html
shows it; a device that is killed or HardFaults mid-run keeps the readings so far and ends the run with
one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from support import run_tinyedge

from .conftest import BOARD, summary

pytestmark = [pytest.mark.emulated, pytest.mark.slow]

FAULT_INJECTION = Path(__file__).resolve().parents[1] / "validation" / "c" / "fault_injection.c"
HARDFAULT = 3


def _records(build_dir: Path) -> list[dict]:
    from tinyedge.monitor.session import last_run, read_log
    return last_run(read_log(build_dir / "monitor.jsonl"))


def _tflm(build_dir: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The independent side: the int8 inputs as validate sends them and tflite_micro's outputs."""
    from tflite_micro import runtime
    from tinyedge.int8_io import quantize
    model = (build_dir / "model.tflite").read_bytes()
    interpreter = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
    details = interpreter.get_input_details(0)
    scale, zero = details["quantization_parameters"]["scales"][0], details["quantization_parameters"]["zero_points"][0]
    inputs = quantize(x, float(scale), int(zero)).reshape(len(x), -1)
    outputs = []
    for sample in inputs:
        interpreter.set_input(sample.reshape(details["shape"]), 0)
        interpreter.invoke()
        outputs.append(np.asarray(interpreter.get_output(0), dtype=np.int8).ravel())
    return inputs, np.array(outputs)


def test_replaying_the_test_split_raises_no_drift_and_counts_what_the_device_ran(monitored_digits):
    # validation.json gives the latency a reference: its mean (instructions) in the monitor's ticks
    validated = run_tinyedge("validate", "--board", BOARD, "--dir", str(monitored_digits.folder), "--samples", "20")
    assert validated.returncode == 0, validated.stderr[-3000:]
    run = monitored_digits.monitor("--replay", "test", "--interval", "3", "--fail-on-drift", "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    result = summary(run)
    x, _ = monitored_digits.test_split()
    assert result["drift"] is False and result["drifted"] == [] and result["ended"] is None
    assert result["replayed"] == len(x) == result["inferences"] == 360
    assert result["windows"] >= 1 and result["total"]["drift"] is False
    # The device's last reading against counts made here from tflite_micro's outputs (not tinyedge's
    # mirror): np.bincount of the argmax, the int8 codes' histogram, the saturated values.
    last = [r for r in _records(monitored_digits.build_dir) if r["type"] == "reading"][-1]["snapshot"]
    inputs, outputs = _tflm(monitored_digits.build_dir, x)
    assert last["count"] == 360
    assert last["class_histogram"] == np.bincount(outputs.argmax(axis=1), minlength=10).tolist()
    spec = json.loads((monitored_digits.build_dir / "monitor_baseline.json").read_text())["spec"]
    examined = inputs[:, ::spec["input_stride"]].astype(np.int64)
    assert last["input_values"] == examined.size
    assert last["input_low"] == int((examined == -128).sum()) and last["input_high"] == int((examined == 127).sum())
    assert last["input_sum"] == int(examined.sum())
    assert last["input_histogram"] == np.histogram(examined, bins=16, range=(-128, 128))[0].tolist()
    top = outputs.max(axis=1)
    edges = spec["confidence_edges"]
    assert last["confidence_histogram"] == [int(((top >= lo) & (top < hi)).sum()) for lo, hi in
                                            zip([-129, *edges], [*edges, 128])]
    # Latency in board ticks: one inference each, min <= mean <= max, the histogram holds them all.
    assert 0 < last["latency_min"] <= last["latency_sum"] / 360 <= last["latency_max"]
    assert sum(last["latency_histogram"]) == 360
    latency = next(f for f in result["total"]["findings"] if f["statistic"] == "latency")
    assert latency["value"] == last["latency_sum"] / 360 and latency["drift"] is False
    assert abs(latency["value"] - latency["baseline"]) <= 0.1 * latency["baseline"]
    page = (monitored_digits.build_dir / "monitor.html").read_text()
    assert "no drift" in page and "DRIFT" not in page and 'src="monitor-series.png"' in page


@pytest.mark.parametrize("replay, moved", [("bright", {"input_histogram"}),
                                           ("noise", {"input_histogram", "confidence_histogram"}),
                                           ("missing", {"class_histogram"})])
def test_a_shifted_replay_raises_drift_in_the_statistic_that_moves(monitored_digits, replays, replay, moved,
                                                                    tmp_path):
    run = monitored_digits.monitor("--replay", str(replays[replay]), "--interval", "2", "--fail-on-drift",
                                   "--json")
    assert run.returncode == 3, run.stderr[-3000:]
    result = summary(run)
    assert result["drift"] is True
    drifted = set(result["drifted"])
    assert drifted & moved, (replay, drifted)
    if replay == "missing":   # the class histogram only: the inputs themselves are the usual digits
        assert drifted == {"class_histogram"}
        last = [r for r in _records(monitored_digits.build_dir) if r["type"] == "reading"][-1]["snapshot"]
        assert last["class_histogram"][3] <= 2   # a class-3 digit is now and then mistaken, no more
    page = (monitored_digits.build_dir / "monitor.html").read_text()
    assert "DRIFT in" in page and 'class="drift"' in page
    labels = {"input_histogram": "input histogram", "confidence_histogram": "confidence",
              "class_histogram": "class histogram"}
    for name in drifted & moved:
        assert re.search(rf'DRIFT in [^<]*{labels[name]}', page), name
    assert (monitored_digits.build_dir / "monitor-series.png").stat().st_size > 10_000
    if replay == "bright" and shutil.which("chromium"):
        from tinyedge.screenshot import screenshot
        shot = screenshot(monitored_digits.build_dir / "monitor.html", tmp_path / "monitor-bright.png")
        assert shot.stat().st_size > 50_000
        keep = os.environ.get("TINYEDGE_SCREENSHOTS")
        if keep:
            shutil.copy(shot, Path(keep) / shot.name)


def test_reading_an_idle_device_reports_windows_too_small_to_judge(monitored_digits):
    run = monitored_digits.monitor("--readings", "2", "--interval", "0.2", "--reset", "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    result = summary(run)
    assert result["readings"] == 2 and result["windows"] == 0 and result["drift"] is False
    readings = [r for r in _records(monitored_digits.build_dir) if r["type"] == "reading"]
    assert [r["snapshot"]["count"] for r in readings] == [0, 0]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def test_a_killed_emulator_keeps_the_readings_and_ends_with_one_line(monitored_digits):
    log = monitored_digits.build_dir / "monitor.jsonl"
    before = log.read_text().count("\n") if log.exists() else 0
    command = [sys.executable, "-m", "tinyedge", "monitor", "--board", BOARD, "--dir", str(monitored_digits.folder),
               "--replay", "test", "--interval", "0.5"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            lines = log.read_text().splitlines()[before:] if log.exists() else []
            if sum('"type": "reading"' in line for line in lines) >= 2:
                break
            assert process.poll() is None, process.communicate()
            time.sleep(0.1)
        qemu = [pid for pid in _children(process.pid)
                if "qemu-system-arm" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]
        assert len(qemu) == 1
        os.kill(qemu[0], signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr
    assert re.match(r"error: monitor on emu-m4 ended after \d+ readings: .*(emulator|QEMU).*(died|killed|signal)",
                    errors[0]), errors[0]
    records = _records(monitored_digits.build_dir)
    readings = [r for r in records if r["type"] == "reading"]
    assert len(readings) >= 2 and records[-1]["type"] == "end" and records[-1]["reason"]
    assert f"ended after {len(readings)} readings" in errors[0]
    page = (monitored_digits.build_dir / "monitor.html").read_text()
    assert "died" in page or "killed" in page


def test_a_hardfault_mid_replay_keeps_the_readings_and_ends_with_the_marker(monitored_digits, tmp_path):
    from tinyedge.platformio import run_build
    folder = tmp_path / "digits"
    shutil.copytree(monitored_digits.folder, folder, ignore=shutil.ignore_patterns(".pio", "monitor.jsonl", "monitor.html",
                                                                              "monitor-*.png"))
    project = folder / "build" / BOARD / "firmware"
    shutil.copy(FAULT_INJECTION, project / "src")
    ini = project / "platformio.ini"
    flags = ["-DTE_FAULT_AT=200", f"-DTE_FAULT_KIND={HARDFAULT}", "-Wl,--wrap=tinyedge_model_run"]
    ini.write_text(ini.read_text().replace("build_flags =\n", "build_flags =\n" +
                                           "".join(f"    {flag}\n" for flag in flags), 1))
    elf = run_build(project, BOARD, progress=None).elf
    report_path = folder / "build" / BOARD / "report.json"   # the copy's build records its own firmware
    report = json.loads(report_path.read_text())
    report["firmware"].update(elf=str(elf), project=str(project))
    report_path.write_text(json.dumps(report))
    run = run_tinyedge("monitor", "--board", BOARD, "--dir", str(folder), "--replay", "test", "--interval", "0.5")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert re.match(r"error: monitor on emu-m4 ended after \d+ readings: .*crashed during 'infer 1 0': "
                    r"e-\[hardfault pc=0x[0-9a-f]{8}\]", errors[0]), errors[0]
    records = _records(folder / "build" / BOARD)
    readings = [r for r in records if r["type"] == "reading"]
    assert readings and readings[-1]["snapshot"]["count"] <= 199
    assert records[-1]["type"] == "end" and "hardfault" in records[-1]["reason"]
    assert (folder / "build" / BOARD / "monitor.html").is_file()


def test_what_cannot_be_monitored_is_one_line_with_the_way_out(monitored_digits, tmp_path):
    folder = tmp_path / "digits"
    shutil.copytree(monitored_digits.folder, folder, ignore=shutil.ignore_patterns(".pio", "monitor.jsonl"))
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, x=np.zeros((3, 7), np.float32))
    checks = [(["--replay", str(wrong)], r"--replay's samples have 7 values each \(shape \(7,\)\), the model's input 64"),
              (["--replay", str(tmp_path / "none.npz")], r"--replay .*none\.npz does not exist"),
              (["--readings", "2", "--duration", "3"], r"--readings and --duration both end the run")]
    for args, message in checks:
        run = run_tinyedge("monitor", "--board", BOARD, "--dir", str(folder), *args)
        assert run.returncode == 1 and "Traceback" not in run.stderr
        assert re.fullmatch(rf"error: {message}.*\n", run.stderr), run.stderr
    # The same project built without the monitor: the firmware says so, and so does the run.
    build = run_tinyedge("build", "--board", BOARD, "--dir", str(folder), "--no-monitor")
    assert build.returncode == 0, build.stderr[-3000:]
    run = run_tinyedge("monitor", "--board", BOARD, "--dir", str(folder), "--readings", "1")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "has no monitor: its firmware was built without [monitor] enabled" in errors[0]
    assert "build with [monitor] enabled = true (or --monitor)" in errors[0]
    (folder / "build" / BOARD / "monitor_baseline.json").unlink()
    run = run_tinyedge("monitor", "--board", BOARD, "--dir", str(folder), "--readings", "1")
    assert run.returncode == 1 and re.fullmatch(
        r"error: .*monitor_baseline\.json does not exist: the build has no monitor baseline \(set \[monitor\] "
        r"enabled = true in tinyedge\.toml \(or pass --monitor\) and build again\)\n", run.stderr), run.stderr
