"""The CI check of issue #6 and the failures a validation run must survive, on the emulated Cortex-M4F.

`tinyedge validate --board emu-m4` on the built-in example (native runtime, whole test split): the
device's accuracy equals host TFLM's, every int8 output is identical to TFLM's, latency is counted in
instructions. Then firmware that stops answering, HardFaults, carries another model, or sends garbage
before its boot banner.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest

from .conftest import HANG, HARDFAULT, ValidatedProject
from support import run_tinyedge
from tinyedge.boards import Catalogue
from tinyedge.elfsize import read_elf_size
from tinyedge.validation import ValidationFailed, load_build_folder, validate
from tinyedge.targets import for_board

pytestmark = [pytest.mark.emulated, pytest.mark.slow]
BOARD = Catalogue.load().get("emu-m4")


def test_validate_on_the_builtin_example_matches_host_tflm_bit_for_bit(validated_digits: ValidatedProject):
    result = validated_digits.result
    build = validated_digits.build_dir
    with np.load(build / "test_data.npz") as test_data:
        test_samples = len(test_data["y"])
    report = json.loads((build / "report.json").read_text())
    assert result["samples"] == result["test_samples"] == test_samples == 360
    assert result["complete"] is True and result["error"] is None
    assert report["firmware"]["runtime"] == "native"
    assert result["device_accuracy"] == result["host_accuracy"]
    # The inputs are quantized as the build's own TFLM evaluation quantizes them.
    assert result["host_accuracy"] == report["int8_accuracy"]
    assert result["agreement"] == 1.0 and result["disagreeing_samples"] == []
    assert result["latency"]["unit"] == "instructions" and result["latency"]["microseconds"] is None
    assert 0 < result["latency"]["median"] <= result["latency"]["p99"] <= result["latency"]["maximum"]
    size = read_elf_size(report["firmware"]["elf"])
    assert (result["flash_bytes"], result["ram_bytes"]) == (size.flash_bytes, size.ram_bytes)
    matrix = np.array(result["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 360
    assert np.trace(matrix) == round(result["device_accuracy"] * 360)
    # One JSON object on stdout; the build and the progress went to stderr.
    assert validated_digits.run.stdout.count("\n") == 1
    assert "validate: 360/360 samples" in validated_digits.run.stderr
    assert "stages (digits on emu-m4)" in validated_digits.run.stderr
    print(f"validate (firmware build + 360 samples): {validated_digits.seconds:.1f} s, "
          f"{result['throughput_samples_per_second']:.1f} samples/s, latency {result['latency']}")


def test_validate_writes_the_json_and_the_html_report_with_its_plots(validated_digits: ValidatedProject):
    build = validated_digits.build_dir
    stored = json.loads((build / "validation.json").read_text())
    assert stored["agreement"] == 1.0 and len(stored["per_sample"]["device_output"]) == 360
    assert stored["per_sample"]["device_output"] == stored["per_sample"]["host_output"]
    page = (build / "report.html").read_text()
    for plot in ("report-latency.png", "report-confusion.png", "report-stages.png"):
        assert (build / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{plot}"' in page
    assert "agreement" in page and "instructions, not time" in page
    assert not (build / "validation-partial.json").exists()


def test_the_table_prints_latency_in_instructions(validated_digits: ValidatedProject):
    run = run_tinyedge("validate", "--board", "emu-m4", "--dir", str(validated_digits.folder), "--samples", "12")
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.splitlines()
    assert lines[0] == "validation of digits on emu-m4 (emu-m4 in QEMU)"
    assert lines[1] == ("  runtime:             native (auto chose native: it supports every op of the model "
                        "(no interpreter, no external library))")
    assert lines[2] == "  samples:             12 of 12 requested (360 in the test split)"
    assert re.fullmatch(r"  latency: +mean [\d,]+ instructions, median [\d,]+ instructions, p99 [\d,]+ "
                        r"instructions — emulated: instructions, not time", lines[6])
    assert "  agreement:           100.00% (12 of 12 int8 outputs identical to host TFLM)" in lines
    assert " ms" not in run.stdout and "µs" not in run.stdout


def test_flash_on_an_emulated_board_boots_the_elf_and_checks_the_model(validated_digits: ValidatedProject):
    run = run_tinyedge("flash", "--board", "emu-m4", "--dir", str(validated_digits.folder))
    assert run.returncode == 0, run.stderr
    elf = validated_digits.build_dir / "firmware" / ".pio" / "build" / "emu-m4" / "firmware.elf"
    size = read_elf_size(elf)
    sha = validated_digits.result["model"]["sha256"]
    assert run.stdout.splitlines() == [
        f"emu-m4: {elf} boots in QEMU and carries model 'digits' (sha256 {sha[:16]}); flash "
        f"{size.flash_bytes:,} B of 4,194,304 B, RAM {size.ram_bytes:,} B of 4,194,304 B",
        "next: tinyedge validate --board emu-m4"]


def _folder(validated_digits: ValidatedProject, tmp_path, model_bytes: bytes | None = None):
    """A copy of the build folder's inputs, so failures write their partial files there."""
    for name in ("model.tflite", "test_data.npz", "data.npz", "report.json"):
        shutil.copy(validated_digits.build_dir / name, tmp_path / name)
    if model_bytes is not None:
        (tmp_path / "model.tflite").write_bytes(model_bytes)
    return load_build_folder(BOARD, tmp_path, "digits")


def test_a_device_that_stops_answering_mid_run_keeps_the_results_so_far(validated_digits, fault_firmware,
                                                                          tmp_path):
    folder = _folder(validated_digits, tmp_path)
    elf = fault_firmware(HANG, 6)
    with for_board(BOARD).link(elf, None) as link, pytest.raises(ValidationFailed) as failure:
        validate(folder, link, 20, elf=elf, min_infer_timeout=1.0)
    message = failure.value.one_line()
    assert re.fullmatch(
        r"validation on emu-m4 stopped after 5 of 20 samples: emu-m4 \(QEMU on socket://127\.0\.0\.1:\d+\) "
        # The wait is at least 1 s, longer when a loaded machine made earlier samples slow.
        r"did not answer 'infer 1 0' within \d+(?:\.\d+)? s \(the device stopped responding; reset it and run again; "
        rf"the 5 results so far are in {re.escape(str(tmp_path))}/validation-partial\.json\)", message)
    partial = json.loads((tmp_path / "validation-partial.json").read_text())
    assert partial["complete"] is False and partial["samples"] == 5 and partial["agreement"] == 1.0
    assert re.search(r"did not answer 'infer 1 0' within \d+(?:\.\d+)? s$", partial["error"])
    assert (tmp_path / "report-partial.html").is_file() and not (tmp_path / "validation.json").exists()


def test_firmware_that_hardfaults_is_reported_by_its_marker(validated_digits, fault_firmware, tmp_path):
    folder = _folder(validated_digits, tmp_path)
    elf = fault_firmware(HARDFAULT, 4)
    with for_board(BOARD).link(elf, None) as link, pytest.raises(ValidationFailed) as failure:
        validate(folder, link, 20, elf=elf)
    message = failure.value.one_line()
    assert re.fullmatch(
        r"validation on emu-m4 stopped after 3 of 20 samples: the firmware on emu-m4 \(QEMU on "
        r"socket://127\.0\.0\.1:\d+\) crashed during 'infer 1 0': e-\[hardfault pc=0x[0-9a-f]{8}\] "
        r"\(a HardFault: check the arena size and the model's operators; the 3 results so far are in "
        rf"{re.escape(str(tmp_path))}/validation-partial\.json\)", message)
    partial = json.loads((tmp_path / "validation-partial.json").read_text())
    assert partial["samples"] == 3 and partial["agreement"] == 1.0


def test_a_different_model_on_the_device_is_refused_before_any_sample(validated_digits, tmp_path):
    original = (validated_digits.build_dir / "model.tflite").read_bytes()
    # The build's model changed (one weight byte) but the device still runs the old firmware.
    changed = bytearray(original)
    changed[len(changed) // 2] ^= 0x01
    folder = _folder(validated_digits, tmp_path, bytes(changed))
    elf = validated_digits.build_dir / "firmware" / ".pio" / "build" / "emu-m4" / "firmware.elf"
    with for_board(BOARD).link(elf, None) as link, pytest.raises(ValidationFailed) as failure:
        validate(folder, link, 5, elf=elf)
    expected_sha = folder.identity.sha256[:16]
    found_sha = validated_digits.result["model"]["sha256"][:16]
    assert re.fullmatch(
        r"validation on emu-m4 stopped before any sample ran: wrong model on emu-m4 \(QEMU on "
        rf"socket://127\.0\.0\.1:\d+\): expected 'digits' \(sha256 {expected_sha}\), found 'digits' "
        rf"\(sha256 {found_sha}\) \(flash the firmware built for this model \('tinyedge flash'\), then "
        r"validate again; no result was gathered\)", failure.value.one_line())
    assert not (tmp_path / "validation-partial.json").exists()


def test_garbage_before_the_banner_is_skipped_and_validate_agrees(validated_digits, noisy_firmware, tmp_path):
    """The digits firmware that sends binary bytes and banner words in the wrong order before its real
    banner (c/boot_noise.c), in QEMU; `tinyedge validate` reaches it through --port like a real board."""
    from tinyedge.device.transport import SerialTransport
    from tinyedge.emulator import run_qemu

    # The variant really sends its garbage first, and the banner comes glued to an unfinished line.
    with run_qemu(BOARD, noisy_firmware) as qemu:
        link = SerialTransport(qemu.url)
        try:
            lines = [link.read_line(10)]
            while lines[-1] != "m-ready" or "m-init-done" not in lines[-2:-1]:
                lines.append(link.read_line(10))
        finally:
            link.close()
    assert lines[0].startswith("\ufffd\ufffd")                       # 0x00 dropped, 0xff 0xfe not UTF-8
    assert "boot noise m-ready" in lines and "m-init-done junk" in lines
    assert "no line end here m-timestamp-mode-performance" in lines

    project = tmp_path / "digits"
    shutil.copytree(validated_digits.folder, project)
    with run_qemu(BOARD, noisy_firmware) as qemu:
        run = run_tinyedge("validate", "--board", "emu-m4", "--port", qemu.url, "--dir", str(project),
                           "--samples", "20", "--json")
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["samples"] == 20 and result["complete"] is True and result["error"] is None
    assert result["agreement"] == 1.0 and result["disagreeing_samples"] == []
    assert result["device_accuracy"] == result["host_accuracy"]
    assert result["model"]["sha256"] == validated_digits.result["model"]["sha256"]
    assert result["latency"]["unit"] == "instructions"


def test_an_interrupted_validation_stops_qemu_and_keeps_the_results_so_far(validated_digits, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    project = tmp_path / "digits"
    shutil.copytree(validated_digits.folder, project)
    # A suite run as a background job hands its children an ignored SIGINT: give this one the default.
    process = subprocess.Popen([sys.executable, "-m", "tinyedge", "validate", "--board", "emu-m4", "--dir",
                                str(project)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        for line in process.stderr:
            if line.startswith("validate: 1/360 samples"):
                break
        qemu = [pid for pid in _children(process.pid) if b"qemu-system-arm" in _cmdline(pid)]
        assert len(qemu) == 1
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
        assert process.wait(30) == 130
    finally:
        if process.poll() is None:
            process.kill()
    partial_path = project / "build" / "emu-m4" / "validation-partial.json"
    assert re.search(rf"^validate: interrupted after \d+ of 360 samples; the results so far are in "
                     rf"{re.escape(str(partial_path))}$", rest, re.MULTILINE)
    assert rest.rstrip().splitlines()[-1].startswith("error: interrupted")
    assert not os.path.exists(f"/proc/{qemu[0]}") or b"qemu" not in _cmdline(qemu[0])
    partial = json.loads(partial_path.read_text())
    assert partial["complete"] is False and partial["error"] == "interrupted"
    assert 1 <= partial["samples"] < 360 and partial["agreement"] == 1.0


def _children(pid: int) -> list[int]:
    from pathlib import Path
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read()
    except OSError:
        return b""


@pytest.mark.slow
@pytest.mark.emulated
@pytest.mark.parametrize("name", ["my model", 'my "model" v2', "x */ int evil; /*", "模型-ñ"])
def test_any_utf8_project_name_builds_and_validates(validated_digits, tmp_path, name):
    """The host and the firmware take the protocol name from one function (sanitize.model_names)."""
    from tinyedge.project.sanitize import model_names

    folder = tmp_path / "project"
    shutil.copytree(validated_digits.folder, folder)
    project_file = folder / "tinyedge.toml"
    text = project_file.read_text(encoding="utf-8")
    assert '\nname = "digits"' in text
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    project_file.write_text(text.replace('\nname = "digits"', f'\nname = "{escaped}"', 1), encoding="utf-8")
    run = run_tinyedge("validate", "--board", "emu-m4", "--dir", str(folder), "--samples", "20", "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["agreement"] == 1.0 and result["samples"] == 20
    assert result["model"]["name"] == model_names(name).protocol
