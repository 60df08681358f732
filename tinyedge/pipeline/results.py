"""What a build returns: the model's figures (PipelineResult) and the whole build (BuildResult: the
model, the firmware, what each stage did, report.json's content), with the lines `tinyedge build`
prints about them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..boards import Board
from . import report

if TYPE_CHECKING:
    from ..project.firmware import FirmwareResult


@dataclass
class PipelineResult:
    """The figures `tinyedge build --json` prints (later issues add project, elf, flash and RAM)."""
    board: str
    runtime: str
    tflite: str
    test_data: str
    float_accuracy: float | None        # classification only (None otherwise: see float_error)
    int8_accuracy: float | None
    teacher_params: int
    student_params: int
    arena_bytes: int
    stages: list[dict]
    seconds: float
    metric: str = "accuracy"
    teacher_accuracy: float | None = 0.0
    task: str = "classification"
    metric_description: str = ""
    float_error: float | None = None    # regression and autoencoders: MSE of the float student
    int8_error: float | None = None     # ... and of TFLM's int8 outputs, dequantized
    teacher_error: float | None = None
    model_bytes: int = 0
    macs: int = 0
    input_scale: float = 0.0
    input_zero_point: int = 0
    output_scale: float = 0.0
    output_zero_point: int = 0
    build_dir: str = ""
    manifest: str = ""
    report: str = ""
    plot: str = ""
    labels: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class BuildResult:
    """One build: the model's figures, the firmware (None when the pipeline stopped before it), what
    each stage did ("ran" or "cached") and what report.json says. What `tinyedge.api.build` returns."""
    board: Board
    model: PipelineResult
    firmware: FirmwareResult | None
    stage_status: dict[str, str]
    report: dict
    seconds: float

    @property
    def build_dir(self) -> Path:
        return Path(self.model.build_dir)

    def to_json(self) -> dict:
        """What `tinyedge build --json` prints."""
        summary = self.model.to_json() | (self.firmware.to_json() if self.firmware else {})
        summary["seconds"] = self.seconds
        summary["stages_seconds"] = self.model.seconds
        summary["stage_status"] = dict(self.stage_status)
        return summary

    def table(self):
        """The stage table (rich) that `tinyedge build` prints."""
        rows = [report.StageRow(**row) for row in self.model.stages]
        notes = [self.firmware.arena_plan] if self.firmware is not None else []
        return report.table(rows, f"stages ({self.report.get('title', self.board.name)})", notes)

    def summary_lines(self) -> list[str]:
        """What `tinyedge build` prints after the stage table."""
        model, firmware, board = self.model, self.firmware, self.board
        lines = [f"int8 model: {model.tflite} ({model.model_bytes:,} bytes, TFLM arena "
                 f"{model.arena_bytes:,} bytes); test data: {model.test_data}"]
        if firmware is None:
            return lines + [f"finished in {self.seconds:.1f} s"]
        lines.append(f"runtime: {firmware.runtime} ({firmware.runtime_reason}); project: {firmware.project}")
        if firmware.models and len(firmware.models) > 1:
            lines.append(f"models: {', '.join(model['name'] for model in firmware.models)} "
                         f"('te-select NAME' picks one over the protocol); {firmware.arena_plan}")
        if firmware.compiled:
            lines.append(f"firmware: {firmware.elf}; {board.name}: flash {firmware.flash_bytes:,} of "
                         f"{board.flash_bytes:,} bytes, RAM {firmware.ram_bytes:,} of {board.ram_bytes:,} "
                         "bytes (measured in the ELF)")
        else:
            lines.append(f"{board.name}: flash about {firmware.estimated_flash_bytes:,} of "
                         f"{board.flash_bytes:,} bytes, RAM about {firmware.estimated_ram_bytes:,} of "
                         f"{board.ram_bytes:,} bytes (estimated for the {firmware.runtime} runtime before "
                         "the compile; not compiled here)")
        lines.append(f"next: {firmware.next_step}")
        lines.append(f"finished in {self.seconds:.1f} s")
        return lines
