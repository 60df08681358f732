"""The host as a board (tinyedge.targets.host): `tinyedge validate --board host` on a copy of the built-in
example builds the protocol firmware with the host C compiler, runs it as a process and must agree with
the tflite_micro interpreter on every output; `bench --board host` must give tflite_micro's output bytes.
And the rule the targets exist for: nothing outside tinyedge/targets asks which kind a board is."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from support import REPO, run_tinyedge
from tinyedge.boards import Catalogue
from tinyedge.errors import TinyedgeError
from tinyedge.targets import for_board

HOST = Catalogue.load().get("host")


def _tflite_micro_outputs(model: bytes, inputs: list[np.ndarray]) -> list[bytes]:
    """The oracle: the real TFLM interpreter (tflite_micro), one invoke per input."""
    from tflite_micro import runtime
    interpreter = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
    outputs = []
    for sample in inputs:
        interpreter.set_input(sample, 0)
        interpreter.invoke()
        outputs.append(np.asarray(interpreter.get_output(0), dtype=np.int8).tobytes())
    return outputs


@pytest.mark.slow
def test_validate_on_the_host_agrees_with_tflm_on_every_sample(host_digits):
    folder, result = host_digits
    assert result["board"] == "host" and result["board_kind"] == "host" and result["complete"]
    assert result["samples"] == 360 and result["agreement"] == 1.0 and result["disagreeing_samples"] == []
    assert result["latency"]["unit"] == "us"  # the port's CLOCK_MONOTONIC in microseconds
    # the runtime the build chose, with auto's note, as the build recorded it in report.json
    report = json.loads((folder / "build" / "host" / "report.json").read_text())
    assert (result["runtime"], result["runtime_reason"]) == (
        report["firmware"]["runtime"], report["firmware"]["runtime_reason"]) == (
        "native", "auto chose native: it supports every op of the model (no interpreter, no external library)")
    assert result["flash_bytes"] > 0 and result["ram_bytes"] > 0
    build = folder / "build" / "host"
    assert (build / "validation.json").is_file() and (build / "report.html").is_file()
    # The device's bytes against tflite_micro run here on the same int8 inputs (the first ten samples).
    stored = json.loads((build / "validation.json").read_text())["per_sample"]
    model = (build / "model.tflite").read_bytes()
    from tinyedge.validation.reference import host_reference
    with np.load(build / "test_data.npz") as data:
        inputs = host_reference(model, data["x"][:10]).inputs
    expected = _tflite_micro_outputs(model, [np.expand_dims(x, 0) for x in inputs])
    assert [bytes.fromhex(h) for h in stored["device_output"][:10]] == expected


@pytest.mark.slow
def test_flash_on_the_host_checks_the_program_and_its_model(host_digits):
    folder, result = host_digits
    run = run_tinyedge("flash", "--board", "host", "--dir", str(folder))
    assert run.returncode == 0, run.stderr
    elf = folder / "build" / "host" / "firmware" / "build" / "firmware.elf"
    sha = result["model"]["sha256"][:16]
    assert run.stdout.splitlines() == [
        f"host: {elf} runs on this machine and carries model 'digits' (sha256 {sha})",
        "next: tinyedge validate --board host"]


@pytest.mark.slow
def test_bench_on_the_host_gives_tflm_output_bytes(host_digits):
    folder, _ = host_digits
    model_path = folder / "build" / "host" / "model.tflite"
    run = run_tinyedge("bench", "--board", "host", "--model", str(model_path), "--json")
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result["board"] == "host" and result["unit"] == "us" and result["bit_exact"]
    assert result["instructions_per_inference"] is None and result["microseconds_per_inference"] >= 0
    from tinyedge.bench import default_sample
    from tinyedge.tflite.model import parse
    model = model_path.read_bytes()
    sample = default_sample(parse(model))
    assert bytes.fromhex(result["output_hex"]) == _tflite_micro_outputs(model, [sample])[0]


def test_the_host_link_refuses_a_port_and_a_missing_program(tmp_path):
    target = for_board(HOST)
    with pytest.raises(TinyedgeError) as error:
        with target.link(tmp_path / "firmware.elf", "/dev/ttyACM0"):
            pass
    assert error.value.one_line() == ("--port /dev/ttyACM0 means nothing for host: its firmware runs as a "
                                      "process here (leave --port out with --board host)")
    with pytest.raises(TinyedgeError) as error:
        with target.link(tmp_path / "firmware.elf", None):
            pass
    assert error.value.one_line() == ("there is no compiled firmware for host "
                                      "(run 'tinyedge build --board host' first)")


def test_every_board_kind_has_its_target_and_timer_unit():
    units = {board.name: for_board(board).timer_unit for board in Catalogue.load().boards}
    assert units["host"] == "us" and units["emu-m4"] == "instructions"
    assert units["nano33"] == "cycles" and units["pico"] == "us"


def test_bench_offers_native_tflm_and_both_side_by_side():
    run = run_tinyedge("bench", "--help")
    assert run.returncode == 0 and "--runtime native|tflm|both" in run.stdout


# Which kind a board is may be asked inside tinyedge/targets (one Target per kind) and in the board
# schema (boards.py), nowhere else: not in Python, not in the templates.
KIND_QUESTION = re.compile(r"\.emulated\b|board\.kind\s*(?:==|!=|\bin\b)|\bkind\s*==\s*['\"](?:emulated|host)['\"]")


def test_no_board_kind_branch_outside_the_targets():
    package = REPO / "tinyedge"
    allowed = {package / "boards.py"}
    found = []
    for path in [*package.rglob("*.py"), *(REPO / "templates").rglob("*.j2")]:
        if package / "targets" in path.parents or path in allowed:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if KIND_QUESTION.search(line):
                found.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert found == []


@pytest.mark.slow
def test_a_host_firmware_that_crashes_is_named_by_its_fault_marker(host_digits, tmp_path):
    """The digits host program with c/fault_injection.c wrapped around its model: a bad memory access
    at the 4th inference is a SIGSEGV, which the host port prints as the Cortex-M fault marker."""
    from tinyedge.hostcc import FIRMWARE_FLAGS, compile_folders
    from tinyedge.targets.host import SOURCE_FOLDERS
    from tinyedge.validation import ValidationFailed, load_build_folder, validate

    folder, _ = host_digits
    build = folder / "build" / "host"
    project = tmp_path / "firmware"
    shutil.copytree(build / "firmware", project, ignore=shutil.ignore_patterns("build"))
    shutil.copy(Path(__file__).resolve().parent / "c" / "fault_injection.c", project / "src")
    elf = project / "build" / "firmware.elf"
    compile_folders(project, SOURCE_FOLDERS, elf, (*FIRMWARE_FLAGS, "-DTE_FAULT_AT=4", "-DTE_FAULT_KIND=3",
                                                   "-Wl,--wrap=tinyedge_model_run"))
    results = tmp_path / "results"
    shutil.copytree(build, results, ignore=shutil.ignore_patterns("firmware"))
    with for_board(HOST).link(elf, None) as link, pytest.raises(ValidationFailed) as failure:
        validate(load_build_folder(HOST, results, "digits"), link, 20, elf=elf)
    assert failure.value.one_line() == (
        "validation on host stopped after 3 of 20 samples: the firmware on host firmware (firmware.elf) "
        "crashed during 'infer 1 0': e-[hardfault pc=0xf0000000] (a HardFault: check the arena size and "
        f"the model's operators; the 3 results so far are in {results}/validation-partial.json)")
    assert json.loads((results / "validation-partial.json").read_text())["agreement"] == 1.0
