"""The project file tinyedge.toml: every setting of a build, with its default and its meaning.

The schema below is the single source of truth: validation, defaults, `tinyedge init`'s commented file
and the CLI overrides all derive from it. A mistyped key is an error naming the key and the nearest one.
"""

from __future__ import annotations

import copy
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import TinyedgeError
from .suggest import did_you_mean

PROJECT_FILE = "tinyedge.toml"
# A linker section name as GCC's section attribute and GNU ld take it (it goes into a C string).
SECTION_NAME = r"(\.?[A-Za-z_][A-Za-z0-9_.$]*)?"


@dataclass(frozen=True)
class Setting:
    default: Any
    help: str
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None       # a regular expression the whole (string) value must match
    example: Any = None              # shown in `tinyedge init`'s file where the default shows nothing
    items: Any = None                # a list's check of each item: item -> None (fine) or what it must be


# section -> key -> Setting. Order here is the order of `tinyedge init`'s file.
SCHEMA: dict[str, dict[str, Setting]] = {
    "project": {
        "name": Setting("digits", "name of the model in generated code and reports"),
        "board": Setting("nano33", "default board; --board overrides ('tinyedge boards' lists them)"),
        "build_dir": Setting("build", "artifacts go to <build_dir>/<board>/"),
    },
    "data": {
        "source": Setting("digits", "'digits' (built-in, scikit-learn's 8x8 digits) or a path to an "
                                    ".npz (x_train, y_train, x_test, y_test[, x_val, y_val]) or to a "
                                    "folder of class subfolders"),
        "task": Setting("auto", "what the model learns: 'auto' follows the targets (integer labels: "
                                "classification, float targets: regression); 'autoencoder' reconstructs "
                                "its own input (an .npz then needs only x_train and x_test)",
                        choices=("auto", "classification", "regression", "autoencoder")),
        "validation_fraction": Setting(0.15, "share of the training data held out for validation",
                                       minimum=0.0, maximum=0.5),
        "test_fraction": Setting(0.2, "share held out for test when the data has no test split",
                                 minimum=0.05, maximum=0.5),
        "seed": Setting(0, "seed of every split, initialisation and shuffle"),
        "labels": Setting([], "class names in label order (empty: the data's own or 0..N-1)"),
        "augment": Setting(True, "add one-pixel shifted copies of image training samples (x5) for "
                                 "the teacher and distillation"),
    },
    "teacher": {
        "model": Setting("", "path of a trained teacher (.keras, .h5 or SavedModel); empty: train one"),
        "architecture": Setting("cnn", "architecture of a teacher that tinyedge trains",
                                choices=("cnn", "resnet", "mlp", "autoencoder")),
        "epochs": Setting(15, "epochs to train the teacher", minimum=1),
    },
    "student": {
        "architecture": Setting("tiny_cnn", "student from the zoo, or a path to an untrained Keras "
                                            "model (.keras/.h5)"),
        "width": Setting(1.5, "width multiplier of the student", minimum=0.05),
        "depth": Setting(2, "number of blocks of the student", minimum=1),
    },
    "distillation": {
        "alpha": Setting(0.1, "weight of the hard-label loss; 1 - alpha weighs the soft targets",
                         minimum=0.0, maximum=1.0),
        "temperature": Setting(4.0, "softmax temperature of the soft targets", minimum=0.1),
        "epochs": Setting(40, "epochs of distillation", minimum=1),
        "batch_size": Setting(64, "batch size", minimum=1),
        "learning_rate": Setting(0.003, "Adam learning rate", minimum=0.0),
    },
    "compression": {
        "prune": Setting(False, "magnitude pruning (tensorflow-model-optimization)"),
        "prune_sparsity": Setting(0.5, "final sparsity of pruning", minimum=0.0, maximum=0.99),
        "cluster": Setting(False, "weight clustering"),
        "clusters": Setting(16, "clusters per weight tensor", minimum=2),
        "qat": Setting(False, "quantization-aware training before conversion"),
        "low_rank": Setting(False, "low-rank (SVD) factorisation of dense layers"),
        "low_rank_fraction": Setting(0.5, "rank kept, as a share of the full rank",
                                     minimum=0.01, maximum=1.0),
        "epochs": Setting(10, "fine-tuning epochs of each compression step", minimum=1),
    },
    "quantization": {
        "representative_samples": Setting(300, "training samples used to calibrate int8 ranges",
                                          minimum=1),
    },
    "runtime": {
        "kind": Setting("auto", "inference runtime on the device", choices=("auto", "native", "tflm")),
        "optimize": Setting("speed", "native runtime: speed (fast kernels, weights widened to int16 in flash) "
                                     "or size (int8 weights widened in the inner loop)",
                            choices=("speed", "size")),
        "project": Setting("platformio", "kind of firmware project to generate",
                           choices=("platformio", "arduino-library", "cmake")),
        "arena_margin": Setting(0.1, "extra arena for the TFLM runtime, as a share of the tested minimum",
                                minimum=0.0, maximum=4.0),
        "tflm_dir": Setting("", "local TFLM tree (made by tflite-micro's create_tflm_tree.py) for the tflm "
                                "runtime, relative to the project; empty: $TINYEDGE_TFLM_DIR, else none"),
    },
    "budgets": {
        "min_accuracy": Setting(0.0, "least int8 accuracy (0..1) on the test split, for classification: "
                                     "host TFLM's at build time, the device's in `tinyedge validate`; "
                                     "0: no floor", minimum=0.0, maximum=1.0),
        "max_error": Setting(0.0, "most int8 mean squared error on the test split (dequantized outputs "
                                  "against the targets), for regression and autoencoders; 0: no ceiling",
                             minimum=0.0),
        "max_flash": Setting(0, "most flash in bytes, checked against the compiled firmware's ELF (or, "
                                "when it cannot be compiled here, the runtime's estimate); 0: what the "
                                "board has", minimum=0),
        "max_ram": Setting(0, "most RAM in bytes (static data, bss and the reserved stack), checked like "
                              "max_flash; 0: what the board has", minimum=0),
        "max_latency": Setting(0, "most latency in the board's timer unit; 0: no limit", minimum=0),
        "min_agreement": Setting(1.0, "least share (0..1) of the samples `tinyedge validate` sends whose "
                                      "int8 output on the device is identical to host TFLM's; 1.0: every "
                                      "one", minimum=0.0, maximum=1.0),
    },
    "tune": {
        "trials": Setting(10, "trials `tinyedge tune` runs (--trials overrides); a study continues, so "
                              "a second run adds this many", minimum=1),
        "workers": Setting(1, "worker processes on this machine sharing the study (--workers)", minimum=1),
        "storage": Setting("", "Optuna storage URL (e.g. postgresql://user@host/db for workers on many "
                               "machines); empty: sqlite:///<build folder>/tune.db"),
        "study": Setting("", "study name; empty: '<project.name>-<board>'"),
        "seed": Setting(0, "seed of the sampler", minimum=0),
        "objectives": Setting(["accuracy", "latency", "flash"],
                              "what the search optimises: accuracy (maximised) or error, and latency, "
                              "flash, ram (minimised); the budgets are its constraints",
                              items=lambda item: _choice_item(item, TUNE_OBJECTIVES)),
        "students": Setting(["tiny_cnn"], "student architectures from the zoo to try",
                            items=lambda item: None if isinstance(item, str) and item else "a zoo name"),
        "widths": Setting([0.5, 1.0, 1.5], "student width multipliers to try",
                          items=lambda item: _number_item(item, 0.05, None)),
        "depths": Setting([1, 2], "student depths (blocks) to try",
                          items=lambda item: _number_item(item, 1, None, whole=True)),
        "temperatures": Setting([2.0, 4.0], "distillation temperatures to try",
                                items=lambda item: _number_item(item, 0.1, None)),
        "alphas": Setting([0.1, 0.5], "distillation alphas (hard-label weight) to try",
                          items=lambda item: _number_item(item, 0.0, 1.0)),
        "prune": Setting(["off", 0.5], "pruning: \"off\" or final sparsities to try",
                         items=lambda item: _off_or(item, 0.0, 0.99)),
        "clusters": Setting(["off", 16], "clustering: \"off\" or clusters per tensor to try",
                            items=lambda item: _off_or(item, 2, None, whole=True)),
        "qat": Setting([False, True], "quantization-aware training off (false) and/or on (true)",
                       items=lambda item: None if isinstance(item, bool) else "true or false"),
        "low_rank": Setting(["off", 0.5], "low-rank factorisation: \"off\" or rank fractions to try",
                            items=lambda item: _off_or(item, 0.01, 1.0)),
        "epochs": Setting(0, "distillation epochs of every trial; 0: distillation.epochs", minimum=0),
        "compression_epochs": Setting(0, "fine-tuning epochs of each compression step in a trial; 0: "
                                         "compression.epochs", minimum=0),
    },
    "placement": {
        "weights_section": Setting("", "linker section of the weights (e.g. '.te_weights' for a "
                                       "region your linker script places); empty: the compiler's own "
                                       "(flash)", pattern=SECTION_NAME),
        "params_section": Setting("", "linker section of the constant tables (operator parameters, "
                                      "requantization arrays, I/O sizes); empty: the compiler's own",
                                  pattern=SECTION_NAME),
        "arena_section": Setting("", "linker section of the activation arena (e.g. '.te_arena' in DTCM); "
                                     "empty: the compiler's own (.bss)", pattern=SECTION_NAME),
        "arena": Setting("static", "who owns the activation arena: 'static' (each model's own static "
                                   "arena) or 'caller' (no static arena in the model files: the "
                                   "firmware's runtime glue owns the buffer and passes it to init); "
                                   "several models always share one buffer the glue owns",
                         choices=("static", "caller")),
    },
    "monitor": {
        "enabled": Setting(False, "keep running statistics of every inference in the firmware (count, "
                                  "latency, input saturation and histogram, classes and confidence or "
                                  "the output or reconstruction error) for `tinyedge monitor`, the "
                                  "protocol's te-monitor and tinyedge_monitor_snapshot(); "
                                  "--monitor/--no-monitor overrides"),
        "input_samples": Setting(256, "input values the monitor examines per inference (every s-th, "
                                      "s = ceil(input bytes / this)); more costs more time per inference",
                                 minimum=1),
        "interval": Setting(5.0, "seconds between two readings of `tinyedge monitor`", minimum=0.01),
        "min_samples": Setting(100, "inferences a window needs before `tinyedge monitor` judges it",
                               minimum=1),
        "psi_threshold": Setting(0.25, "population stability index from which a histogram has drifted "
                                       "(together with p_value)", minimum=0.0),
        "p_value": Setting(0.01, "drift also needs the chi-square test of the window against the "
                                 "baseline below this p-value", minimum=0.0, maximum=1.0),
        "saturation_increase": Setting(0.05, "rise of the share of input values saturated at -128/127 "
                                             "(absolute, 0..1) over the baseline's that counts as drift",
                                       minimum=0.0, maximum=1.0),
        "latency_tolerance": Setting(0.10, "relative change of the mean latency against the board's "
                                           "validation.json (when there is one) that counts as drift",
                                     minimum=0.0),
    },
}

# Further models in the same firmware: `[[model]]`, an array of tables, one per model, after the
# project's own model (always the first). Each entry has these keys.
MODEL_LIST = "model"
MODEL_ENTRY: dict[str, Setting] = {
    "name": Setting("", "C prefix and protocol name of the model (sanitized to an identifier; empty: "
                        "the file's stem)", example="ad01"),
    "path": Setting("", "the model's int8 .tflite file, relative to the project (required)",
                    example="ad01.tflite"),
}


class Config:
    """Resolved settings: defaults, then tinyedge.toml, then CLI overrides."""

    def __init__(self, values: dict[str, dict[str, Any]], path: Path | None = None):
        self.values = values
        self.path = path

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.values[section]

    def get(self, dotted: str) -> Any:
        section, key = dotted.split(".", 1)
        return self.values[section][key]

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self.values)

    def with_overrides(self, overrides: dict[str, Any]) -> "Config":
        """Return a copy with 'section.key' overrides (None values are ignored) applied and checked."""
        values = self.as_dict()
        for dotted, value in overrides.items():
            if value is None:
                continue
            section, key = dotted.split(".", 1)
            values[section][key] = _checked(section, key, value, f"option for {dotted}")
        return Config(values, self.path)

    @property
    def models(self) -> list[dict[str, str]]:
        """The further models ([[model]] entries, then --model ones): {"name", "path"} each."""
        return list(self.values.get(MODEL_LIST, []))

    def with_models(self, specs: list[str]) -> "Config":
        """A copy with `tinyedge build --model [NAME=]PATH` specs added after the file's [[model]] list."""
        values = self.as_dict()
        for spec in specs:
            name, _, path = spec.partition("=") if "=" in spec else ("", "", spec)
            values[MODEL_LIST].append(model_entry(path, name, f"--model {spec}"))
        return Config(values, self.path)


def defaults() -> Config:
    values: dict = {section: {key: copy.deepcopy(setting.default) for key, setting in keys.items()}
                    for section, keys in SCHEMA.items()}
    values[MODEL_LIST] = []
    return Config(values)


def _checked(section: str, key: str, value: Any, where: str, setting: Setting | None = None) -> Any:
    setting = setting or SCHEMA[section][key]
    expected = type(setting.default)
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise TinyedgeError(f"{where}: '{section}.{key}' must be {_kind(expected)}, not {value!r}",
                            f"{setting.help}")
    if setting.choices and value not in setting.choices:
        hint = did_you_mean(str(value), setting.choices)
        raise TinyedgeError(f"{where}: '{section}.{key}' is '{value}'{hint}",
                            f"choose one of {', '.join(setting.choices)}")
    if setting.minimum is not None and value < setting.minimum:
        raise TinyedgeError(f"{where}: '{section}.{key}' is {value}, below its minimum "
                            f"{setting.minimum}", setting.help)
    if setting.maximum is not None and value > setting.maximum:
        raise TinyedgeError(f"{where}: '{section}.{key}' is {value}, above its maximum "
                            f"{setting.maximum}", setting.help)
    if expected is list and setting.items is None and not all(isinstance(item, str) for item in value):
        raise TinyedgeError(f"{where}: '{section}.{key}' must be a list of strings", setting.help)
    if expected is list and setting.items is not None:
        if not value:
            raise TinyedgeError(f"{where}: '{section}.{key}' is empty", f"give at least one value: {setting.help}")
        for item in value:
            wanted = setting.items(item)
            if wanted:
                raise TinyedgeError(f"{where}: '{section}.{key}' holds {_toml_value(item)}, which is not "
                                    f"{wanted}", setting.help)
    if setting.pattern is not None and not re.fullmatch(setting.pattern, value):
        raise TinyedgeError(f"{where}: '{section}.{key}' is '{value}', not a linker section name",
                            f"use letters, digits, '_', '.' and '$', e.g. '.te_weights'")
    return value


TUNE_OBJECTIVES = ("accuracy", "error", "latency", "flash", "ram")


def _choice_item(item: Any, choices: tuple) -> str | None:
    return None if isinstance(item, str) and item in choices else f"one of {', '.join(choices)}"


def _number_item(item: Any, low: float | None, high: float | None, whole: bool = False) -> str | None:
    """None when `item` is a number (a whole one with `whole`) within [low, high], else what it must be."""
    kind = "a whole number" if whole else "a number"
    bounds = (f" from {low}" if low is not None else "") + (f" to {high}" if high is not None else "")
    ok = isinstance(item, int if whole else (int, float)) and not isinstance(item, bool)
    if ok and ((low is not None and item < low) or (high is not None and item > high)):
        ok = False
    return None if ok else kind + bounds


def _off_or(item: Any, low: float | None, high: float | None, whole: bool = False) -> str | None:
    if item == "off":
        return None
    wanted = _number_item(item, low, high, whole)
    return None if wanted is None else f'"off" or {wanted}'


def _kind(kind: type) -> str:
    return {str: "a string", int: "a whole number", float: "a number", bool: "true or false",
            list: "a list"}[kind]


def load(path: Path) -> Config:
    """Read and check a tinyedge.toml; every problem names the file and the key."""
    where = path.name
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TinyedgeError(f"{path} does not exist", "run 'tinyedge init' to write one") from None
    except tomllib.TOMLDecodeError as exc:
        raise TinyedgeError(f"{where} is not valid TOML: {exc}", f"fix {path}") from None
    config = defaults()
    for section, table in raw.items():
        if section == MODEL_LIST:
            config.values[MODEL_LIST] = _model_entries(table, where)
            continue
        if section not in SCHEMA:
            hint = did_you_mean(section, [*SCHEMA, MODEL_LIST])
            raise TinyedgeError(f"{where}: unknown section [{section}]{hint}",
                                f"sections are {', '.join(SCHEMA)} and [[{MODEL_LIST}]]")
        if not isinstance(table, dict):
            raise TinyedgeError(f"{where}: '{section}' must be a table [{section}]", f"fix {path}")
        for key, value in table.items():
            if key not in SCHEMA[section]:
                hint = did_you_mean(key, SCHEMA[section])
                raise TinyedgeError(f"{where}: unknown key '{section}.{key}'{hint}",
                                    f"keys of [{section}] are {', '.join(SCHEMA[section])}")
            config.values[section][key] = _checked(section, key, value, where)
    config.path = path
    return config


def _model_entries(entries: Any, where: str) -> list[dict[str, str]]:
    """The [[model]] tables, each checked against MODEL_ENTRY (a name defaults to the file's stem)."""
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise TinyedgeError(f"{where}: '{MODEL_LIST}' must be an array of tables [[{MODEL_LIST}]]",
                            f"write each further model as [[{MODEL_LIST}]] with path = \"<file>.tflite\"")
    checked = []
    for number, entry in enumerate(entries, start=1):
        label = f"[[{MODEL_LIST}]] entry {number}"
        for key in entry:
            if key not in MODEL_ENTRY:
                hint = did_you_mean(key, MODEL_ENTRY)
                raise TinyedgeError(f"{where}: unknown key '{key}' in {label}{hint}",
                                    f"keys of [[{MODEL_LIST}]] are {', '.join(MODEL_ENTRY)}")
        values = {key: _checked(MODEL_LIST, key, entry.get(key, setting.default), f"{where}: {label}",
                                setting)
                  for key, setting in MODEL_ENTRY.items()}
        checked.append(model_entry(values["path"], values["name"], f"{where}: {label}"))
    return checked


def model_entry(path: str, name: str = "", where: str = "--model") -> dict[str, str]:
    """One further model: {"name", "path"}, the name defaulting to the file's stem."""
    if not path.strip():
        raise TinyedgeError(f"{where} has no 'path'",
                            'give path = "<file>.tflite", the int8 model relative to the project')
    return {"name": name or Path(path).stem, "path": path}


def find_and_load(folder: Path) -> Config:
    """The project's config: tinyedge.toml in folder when present, otherwise the built-in example."""
    if not Path(folder).is_dir():
        raise TinyedgeError(f"project folder {folder} does not exist",
                            "pass an existing folder with --dir (tinyedge init --dir FOLDER makes one)")
    path = folder / PROJECT_FILE
    return load(path) if path.exists() else defaults()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return repr(value)


def commented_file() -> str:
    """The text `tinyedge init` writes: every setting at its default, each with its meaning."""
    lines = ["# tinyedge project file. Every key is shown at its default; CLI flags override it.",
             "# 'tinyedge build --board <name>' reads it from the current folder.", ""]
    for section, keys in SCHEMA.items():
        lines.append(f"[{section}]")
        for key, setting in keys.items():
            extra = f" (one of: {', '.join(setting.choices)})" if setting.choices else ""
            lines.append(f"# {setting.help}{extra}")
            lines.append(f"{key} = {_toml_value(setting.default)}")
        lines.append("")
    lines.append(f"# Further models in the same firmware (native runtime), after the project's own: one "
                 f"[[{MODEL_LIST}]] table each, or 'tinyedge build --model [NAME=]PATH' (repeatable).")
    lines.append(f"# They share one activation arena, the largest of theirs (the protocol runs one at a time).")
    lines.append(f"# [[{MODEL_LIST}]]")
    for key, setting in MODEL_ENTRY.items():
        lines.append(f"# {setting.help}")
        lines.append(f"# {key} = {_toml_value(setting.example)}")
    lines.append("")
    return "\n".join(lines)
