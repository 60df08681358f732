"""tinyedge.api as a library: builds of a small project in one process, each stage rerun only when one
of its inputs changed (checked by the manifest's stage status and the ELF's bytes and mtime, never by
timing), and the library's layering (validation does not go through the CLI's commands)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tinyedge import api, buildfiles
from tinyedge.errors import TinyedgeError


MODEL_STAGES = ["data", "teacher", "student", "int8", "tflm"]
SMALL_PROJECT = """\
[project]
name = "tiny"
board = "emu-m4"

[data]
augment = false

[teacher]
epochs = 1

[distillation]
epochs = 1

[quantization]
representative_samples = 20
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _elf(result) -> Path:
    assert result.firmware is not None and result.firmware.compiled, result.firmware
    return Path(result.firmware.elf)


def _figures(result) -> dict:
    """What a build reports, without what differs between two runs of it (time, cached or not)."""
    summary = result.to_json()
    for key in ("seconds", "stages_seconds", "stage_status", "stages"):
        summary.pop(key)
    summary["stages"] = [{k: v for k, v in row.items() if k not in ("seconds", "cached")}
                         for row in result.model.stages]
    return summary


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A small project (one epoch each) built twice in this process for the emulated Cortex-M4."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed (the setup step installs it)")
    folder = tmp_path_factory.mktemp("api")
    (folder / "tinyedge.toml").write_text(SMALL_PROJECT)
    project = api.open_project(folder)
    first = api.build(project)
    elf = _elf(first)
    stamp = (_sha(elf), elf.stat().st_mtime_ns)
    second = api.build(project)
    return folder, project, first, second, stamp


@pytest.mark.slow
@pytest.mark.emulated
def test_the_first_build_runs_every_stage_and_compiles(built):
    _, project, first, _, _ = built
    assert first.stage_status == {name: "ran" for name in [*MODEL_STAGES, "firmware", "plot"]}
    assert _elf(first) == project.build_dir / "firmware" / ".pio" / "build" / "emu-m4" / "firmware.elf"
    manifest = json.loads((project.build_dir / buildfiles.MANIFEST).read_text())
    outputs = manifest["stages"]["firmware"]["outputs"]
    assert outputs["firmware/.pio/build/emu-m4/firmware.elf"] == _sha(_elf(first))
    assert outputs["firmware/platformio.ini"] == _sha(project.build_dir / "firmware" / "platformio.ini")


@pytest.mark.slow
@pytest.mark.emulated
def test_a_second_build_in_the_same_process_is_the_same_and_recompiles_nothing(built):
    _, _, first, second, (sha, mtime) = built
    assert second.stage_status == {name: "cached" for name in [*MODEL_STAGES, "firmware", "plot"]}
    assert _figures(second) == _figures(first)
    elf = _elf(second)
    assert (_sha(elf), elf.stat().st_mtime_ns) == (sha, mtime)


@pytest.mark.slow
@pytest.mark.emulated
def test_report_json_holds_what_the_build_returned(built):
    _, project, _, second, _ = built
    stored = json.loads((project.build_dir / buildfiles.REPORT).read_text())
    assert stored == second.report
    assert stored["firmware"]["elf"] == str(_elf(second))
    assert stored["int8_accuracy"] == second.model.int8_accuracy


def _copy(built, tmp_path, settings: str = "") -> api.Project:
    folder = tmp_path / "project"
    shutil.copytree(built[0], folder)
    (folder / "tinyedge.toml").write_text(SMALL_PROJECT + settings)
    return api.open_project(folder)


@pytest.mark.slow
@pytest.mark.emulated
def test_a_copied_project_reuses_its_firmware_at_its_new_place(built, tmp_path):
    project = _copy(built, tmp_path)
    result = api.build(project)
    assert set(result.stage_status.values()) == {"cached"}
    assert _elf(result) == project.build_dir / "firmware" / ".pio" / "build" / "emu-m4" / "firmware.elf"
    assert result.firmware.project == project.build_dir / "firmware"


@pytest.mark.slow
@pytest.mark.emulated
def test_another_project_kind_reruns_only_the_firmware_stage(built, tmp_path):
    project = _copy(built, tmp_path, '\n[runtime]\nproject = "cmake"\n')
    result = api.build(project)
    assert result.stage_status == {**{name: "cached" for name in MODEL_STAGES}, "firmware": "ran",
                                   "plot": "cached"}
    assert result.firmware.kind == "cmake" and not result.firmware.compiled
    assert (project.build_dir / "firmware" / "CMakeLists.txt").is_file()


@pytest.mark.slow
@pytest.mark.emulated
def test_more_distillation_reruns_the_student_and_everything_after_it(built, tmp_path):
    project = _copy(built, tmp_path, "")
    (project.directory / "tinyedge.toml").write_text(SMALL_PROJECT.replace(
        "[distillation]\nepochs = 1", "[distillation]\nepochs = 2"))
    result = api.build(api.open_project(project.directory))
    assert result.stage_status == {"data": "cached", "teacher": "cached", "student": "ran", "int8": "ran",
                                   "tflm": "ran", "firmware": "ran", "plot": "ran"}


@pytest.mark.slow
@pytest.mark.emulated
def test_a_changed_generator_source_reruns_only_the_firmware_stage(built, tmp_path, monkeypatch):
    """A byte of what renders the project (here one more source file in the stage's list) is an input:
    the firmware is generated and compiled again, the model stages stay."""
    from tinyedge.pipeline import firmware_stage
    extra = tmp_path / "template.j2"
    extra.write_text("{{ a }}\n")
    real = firmware_stage.generator_sources
    monkeypatch.setattr(firmware_stage, "generator_sources", lambda: [*real(), extra])
    project = _copy(built, tmp_path)
    assert api.build(project).stage_status["firmware"] == "ran"
    assert api.build(project).stage_status["firmware"] == "cached"
    extra.write_text("{{ b }}\n")
    again = api.build(project)
    assert again.stage_status == {**{name: "cached" for name in MODEL_STAGES}, "firmware": "ran",
                                  "plot": "cached"}


@pytest.mark.slow
@pytest.mark.emulated
def test_a_missing_elf_is_compiled_again_and_nothing_else_reruns(built, tmp_path):
    project = _copy(built, tmp_path)
    elf = project.build_dir / "firmware" / ".pio" / "build" / "emu-m4" / "firmware.elf"
    original = _sha(elf)
    elf.unlink()
    result = api.build(project)
    assert result.stage_status["firmware"] == "ran"
    assert [result.stage_status[name] for name in MODEL_STAGES] == ["cached"] * len(MODEL_STAGES)
    assert _sha(elf) == original


@pytest.mark.slow
@pytest.mark.emulated
def test_a_flash_budget_is_checked_against_the_recorded_elf_without_a_rebuild(built, tmp_path):
    flash = built[2].firmware.flash_bytes
    project = _copy(built, tmp_path, f"\n[budgets]\nmax_flash = {flash - 1}\n")
    elf = project.build_dir / "firmware" / ".pio" / "build" / "emu-m4" / "firmware.elf"
    mtime = elf.stat().st_mtime_ns
    with pytest.raises(TinyedgeError) as missed:
        api.build(project)
    assert missed.value.one_line().startswith(
        f"budget not met: flash {flash:,} B (measured in the ELF) exceeds budgets.max_flash {flash - 1:,} B (")
    assert elf.stat().st_mtime_ns == mtime
    stored = json.loads((project.build_dir / "manifest.json").read_text())
    assert stored["stages"]["firmware"]["metrics"]["flash_bytes"] == flash


def test_validation_prepares_its_build_without_the_cli_commands():
    """The import graph: tinyedge.validation.prepare (and the library) load no tinyedge.commands module."""
    code = ("import sys, tinyedge.validation.prepare, tinyedge.api\n"
            "print(sorted(m for m in sys.modules if m.startswith('tinyedge.commands')))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=dict(os.environ), timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.emulated
def test_validate_and_flash_on_the_host_are_recorded_with_what_they_measured(built):
    """The host board (the protocol firmware run as a process): validate agrees with host TFLM on every
    sample, and the manifest names the ELF and model it measured and the files it wrote."""
    project = api.open_project(built[0], board="host")
    result = api.validate(project, samples=20)
    data = result.to_json()
    assert (data["samples"], data["agreement"], data["complete"]) == (20, 1.0, True)
    manifest = json.loads((project.build_dir / buildfiles.MANIFEST).read_text())
    record = manifest["stages"]["validate"]
    elf = Path(manifest["stages"]["firmware"]["metrics"]["elf"])
    assert record["inputs"]["elf"] == _sha(project.build_dir / elf)
    assert record["inputs"]["model"] == _sha(project.build_dir / buildfiles.MODEL)
    assert record["outputs"]["validation.json"] == _sha(project.build_dir / "validation.json")
    assert record["metrics"]["agreement"] == 1.0
    flashed = api.flash(project)
    assert flashed.sha256 == _sha(project.build_dir / buildfiles.MODEL)
    stored = json.loads((project.build_dir / buildfiles.MANIFEST).read_text())["stages"]["flash"]
    assert stored["inputs"]["elf"] == record["inputs"]["elf"] and stored["metrics"]["sha256"] == flashed.sha256


def test_the_sources_hash_follows_source_bytes_and_ignores_bytecode_caches(tmp_path):
    """Python writes __pycache__ when a module is first imported (after the key was computed): that
    must not make the next build's firmware key differ; a changed source byte must."""
    from tinyedge.pipeline.manifest import sources_hash
    folder = tmp_path / "codegen"
    folder.mkdir()
    (folder / "emit.py").write_text("X = 1\n")
    before = sources_hash([folder])
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "emit.cpython-311.pyc").write_bytes(b"\x00" * 16)
    assert sources_hash([folder]) == before
    (folder / "emit.py").write_text("X = 2\n")
    assert sources_hash([folder]) != before


@pytest.mark.slow
@pytest.mark.emulated
def test_measure_in_a_kept_folder_compiles_once_and_records_the_model(built, tmp_path):
    """Two measurements of one model on the host board in one kept folder: the second compiles nothing
    (the program's bytes and mtime are unchanged) and both are bit-exact with tflite_micro."""
    model = built[1].build_dir / buildfiles.MODEL
    folder = tmp_path / "bench"
    first = api.measure("host", model, build_dir=folder)
    program = folder / "firmware" / "build" / "firmware.elf"
    stamp = (_sha(program), program.stat().st_mtime_ns)
    second = api.measure("host", model, build_dir=folder)
    assert first.bit_exact and second.bit_exact
    assert (second.flash_bytes, second.ram_bytes, second.output_hex) == \
        (first.flash_bytes, first.ram_bytes, first.output_hex)
    assert (_sha(program), program.stat().st_mtime_ns) == stamp
    record = json.loads((folder / buildfiles.MANIFEST).read_text())["stages"]["bench"]
    assert record["inputs"]["model"] == _sha(model) and record["metrics"]["bit_exact"] is True
