"""Budgets from tinyedge.toml's [budgets]: a build that misses one fails, naming the figure and the
limit (after every artifact is written, so the user can look at what missed).

The model pipeline checks the quality budgets here. Flash and RAM (budgets.max_flash, max_ram) are
checked by the firmware step (tinyedge.footprint): against the ELF when the firmware is compiled, and
against the chosen runtime's labelled estimate only when it cannot be compiled here.
"""

from __future__ import annotations

from ..errors import TinyedgeError


def require_applicable(budgets: dict, task: str) -> None:
    """Before any training: a quality budget of the other kind of model is a mistake in the project
    file, not something to ignore silently (accuracy means nothing for a regression, and the reverse)."""
    if task != "classification" and budgets.get("min_accuracy"):
        raise TinyedgeError(f"budgets.min_accuracy applies to classification, but this build is "
                            f"{'an' if task == 'autoencoder' else 'a'} {task} (its figure is the mean "
                            "squared error)",
                            "remove min_accuracy and bound the int8 error with budgets.max_error")
    if task == "classification" and budgets.get("max_error"):
        raise TinyedgeError("budgets.max_error applies to regression and autoencoders, but this build "
                            "is a classification (its figure is the accuracy)",
                            "remove max_error and set a floor with budgets.min_accuracy")


def check(budgets: dict, metric: str, int8_value: float, build_dir: str) -> None:
    missed = []
    floor = budgets.get("min_accuracy", 0.0)
    if metric == "accuracy" and floor and int8_value < floor:
        missed.append((f"int8 accuracy {int8_value:.2%} (TFLM on the host) is below "
                       f"budgets.min_accuracy {floor:.2%}",
                       "train longer (distillation.epochs), widen the student (student.width) or "
                       "lower budgets.min_accuracy"))
    ceiling = budgets.get("max_error", 0.0)
    if metric == "mse" and ceiling and int8_value > ceiling:
        missed.append((f"int8 mean squared error {int8_value:.5g} (TFLM on the host, dequantized) is "
                       f"above budgets.max_error {ceiling:.5g}",
                       "train longer (distillation.epochs), widen the student (student.width) or "
                       "raise budgets.max_error"))
    if missed:
        message, hint = missed[0]
        more = f"; also {len(missed) - 1} more budget(s) missed" if len(missed) > 1 else ""
        raise TinyedgeError(f"budget not met: {message}{more}",
                            f"{hint}; the artifacts are kept in {build_dir}")
