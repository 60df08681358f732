"""The model pipeline: data, teacher, distillation, compression, int8 conversion, checks, host
evaluation on TFLM, stage table and budgets. `run(config, board, project_dir, console)` is the entry."""

from .runner import PipelineResult, run

__all__ = ["PipelineResult", "run"]
