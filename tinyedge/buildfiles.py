"""The names of everything in a build folder (<project>/<build_dir>/<board>/), in one place: the
pipeline writes these files, validation and flashing read them, and a test names them from here."""

from __future__ import annotations

from pathlib import Path

# The model pipeline's artifacts.
DATA = "data.npz"
TEACHER_MODEL = "teacher.keras"
TEACHER_OUTPUTS = "teacher_outputs.npz"
STUDENT_MODEL = "student.keras"
MODEL = "model.tflite"
TEST_DATA = "test_data.npz"
REPORT = "report.json"
PLOT = "stages.png"
MANIFEST = "manifest.json"

# The firmware project (generated, then compiled by its build system under .pio/).
FIRMWARE = "firmware"


def compression_output(step: str) -> str:
    """The model a compression step writes; QAT models reload only from HDF5 (tfmot's quantizer
    variables break the .keras format)."""
    return "qat.h5" if step == "qat" else f"{step}.keras"


def validation_files(partial: bool = False) -> dict[str, str]:
    """What a validation run writes: a complete one its plain names, a stopped one "-partial" names,
    so the last complete validation stays as it was."""
    suffix = "-partial" if partial else ""
    return {"json": f"validation{suffix}.json", "report": f"report{suffix}.html",
            "latency": f"report{suffix}-latency.png", "confusion": f"report{suffix}-confusion.png",
            "stages": f"report{suffix}-stages.png", "layers": f"report{suffix}-layers.png",
            "memory": f"report{suffix}-memory.png"}


def build_dir(project_dir: Path, build_folder: str, board: str) -> Path:
    """The build folder of one board: <project>/<project.build_dir>/<board>."""
    return Path(project_dir) / build_folder / board

# The monitor (issue 17): the baseline the build writes, and what `tinyedge monitor` writes.
MONITOR_BASELINE = "monitor_baseline.json"
MONITOR_LOG = "monitor.jsonl"
MONITOR_REPORT = "monitor.html"
