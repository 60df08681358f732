"""The search space of `tinyedge tune`, from tinyedge.toml's [tune]: each trial's suggestions (Optuna's
categorical choices over the configured lists) turned into dotted settings over the project's own
("student.width": 1.0, "compression.prune": True, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import TinyedgeError
from ..suggest import did_you_mean

# [tune] list -> the trial parameter's name (what Optuna records and tune.json shows).
PARAMETERS = {"students": "student", "widths": "width", "depths": "depth", "temperatures": "temperature",
              "alphas": "alpha", "prune": "prune", "clusters": "clusters", "qat": "qat",
              "low_rank": "low_rank"}


@dataclass(frozen=True)
class Space:
    choices: dict[str, list]       # parameter name -> its values
    epochs: int                    # 0: the project's distillation.epochs
    compression_epochs: int        # 0: the project's compression.epochs

    @classmethod
    def from_config(cls, tune: dict) -> "Space":
        from ..pipeline.zoo import BUILDERS
        for name in tune["students"]:
            if name not in BUILDERS:
                raise TinyedgeError(f"tune.students names '{name}', which is not in the zoo"
                                    f"{did_you_mean(name, BUILDERS)}",
                                    f"choose from {', '.join(BUILDERS)}")
        return cls({PARAMETERS[key]: _unique(tune[key]) for key in PARAMETERS}, int(tune["epochs"]),
                   int(tune["compression_epochs"]))

    def suggest(self, trial) -> dict[str, Any]:
        """The trial's parameters, each one of its list (a list of one is a fixed setting)."""
        return {name: trial.suggest_categorical(name, values) for name, values in self.choices.items()}

    def settings(self, params: dict[str, Any]) -> dict[str, Any]:
        """Dotted config keys -> values for a trial's parameters."""
        settings: dict[str, Any] = {
            "student.architecture": params["student"], "student.width": float(params["width"]),
            "student.depth": int(params["depth"]), "distillation.temperature": float(params["temperature"]),
            "distillation.alpha": float(params["alpha"]), "compression.qat": bool(params["qat"])}
        for switch, value_key, value, kind in (("prune", "prune_sparsity", params["prune"], float),
                                               ("cluster", "clusters", params["clusters"], int),
                                               ("low_rank", "low_rank_fraction", params["low_rank"], float)):
            settings[f"compression.{switch}"] = value != "off"
            if value != "off":
                settings[f"compression.{value_key}"] = kind(value)
        if self.epochs:
            settings["distillation.epochs"] = self.epochs
        if self.compression_epochs:
            settings["compression.epochs"] = self.compression_epochs
        return settings


def _unique(values: list) -> list:
    """The list without repeats, in its order (Optuna's choices must be distinct)."""
    seen: list = []
    for value in values:
        if not any(value == other and type(value) is type(other) for other in seen):
            seen.append(value)
    return seen
