"""One trial of `tinyedge tune`: the project with the trial's settings built by the real pipeline in its
own folder (<build_dir>/tune/<study>/trial-N; distill, compress, int8, TFLM, firmware), its int8 model scored by
TFLM on the validation split (the test split is kept for the final candidates), its firmware run on the
board's target for the latency (instructions on an emulated board, the board's timer elsewhere) and
its flash and RAM read from the ELF. The budgets are the trial's constraints: a trial that breaks one
is kept, infeasible, with the reason.

The teacher is trained once, in <build_dir>/tune/teacher, and every trial's folder starts with its
data and teacher stages (files and manifest records), so those stages are cached in every trial."""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import buildfiles as files
from ..errors import TinyedgeError

TEACHER_STAGES = ("data", "teacher")
LATENCY_SAMPLES = 2      # inputs sent per trial (the first timed; both compared with TFLM)
# The budgets a trial's build must not check itself (the search keeps a trial that breaks one as
# infeasible; the build would stop it).
NEUTRAL_BUDGETS = {"budgets.min_accuracy": 0.0, "budgets.max_error": 0.0, "budgets.max_flash": 0,
                   "budgets.max_ram": 0}
CONSTRAINTS = ("quality", "flash", "ram", "latency")   # the order of a trial's "constraints"
TEACHER_WAIT = 3600.0     # seconds a worker waits for another one training the shared teacher


def tune_dir(project) -> Path:
    return project.build_dir / "tune"


def study_dir(project, study: str) -> Path:
    """<build_dir>/tune/<study>: one study's trial folders (another study in the same build folder has
    its own, so its trial 0 does not overwrite this one's)."""
    return tune_dir(project) / (re.sub(r"[^A-Za-z0-9._-]", "_", study).lstrip(".") or "study")


def trial_dir(project, study: str, number: int) -> Path:
    return study_dir(project, study) / f"trial-{number}"


@dataclass(frozen=True)
class Teacher:
    folder: Path
    task: str
    seconds: float
    status: str               # "ran" or "cached" (the teacher stage in its folder)


def prepare_teacher(project, log: Callable[[str], None], tflm_dir: Path | None = None) -> Teacher:
    """The data and teacher stages, once, in <build_dir>/tune/teacher (cached when unchanged)."""
    from ..fileio import make_folder
    from ..locking import build_folder_lock
    from ..pipeline.nativelog import filtered_stderr
    from ..pipeline.runner import Pipeline
    folder = tune_dir(project) / "teacher"
    started = time.perf_counter()
    # Another worker of the study (a process in this project folder) may be training it: wait for it.
    with build_folder_lock(folder, wait=TEACHER_WAIT), filtered_stderr():
        pipeline = Pipeline(project.config, project.board, project.directory, log, tflm_dir,
                            build_dir=folder)
        make_folder(folder)
        data_key = pipeline.stage_data()
        pipeline.stage_teacher(data_key)
        pipeline.manifest.save()
        task = pipeline.dataset().task
    return Teacher(folder, task, round(time.perf_counter() - started, 2), pipeline.status.get("teacher", ""))


def seed_folder(folder: Path, teacher: Teacher) -> None:
    """The trial's folder starts with the teacher's data and teacher stages: their files copied and their
    manifest records (keys and output hashes), so the trial's pipeline finds them cached."""
    from ..fileio import make_folder, write_json_atomic
    make_folder(folder)
    source = json.loads((teacher.folder / files.MANIFEST).read_text(encoding="utf-8"))
    manifest_path = folder / files.MANIFEST
    mine = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else \
        {k: v for k, v in source.items() if k != "stages"} | {"stages": {}}
    for stage in TEACHER_STAGES:
        record = source["stages"].get(stage)
        if record is None:
            continue
        for relative in record.get("outputs", {}):
            target = folder / relative
            if not target.exists() or target.stat().st_size != (teacher.folder / relative).stat().st_size:
                shutil.copyfile(teacher.folder / relative, target)
        mine["stages"][stage] = record
    write_json_atomic(manifest_path, mine)


def validation_score(folder: Path, task: str) -> tuple[float, str, int]:
    """The int8 model's figure by TFLM on the validation split (accuracy, or MSE for the rest), the
    split's name and its size; a project without a validation split is scored on its test split."""
    from ..int8_io import dequantize, quantize
    from ..pipeline.training import score
    from ..tflite.tflm import TflmRunner, smallest_arena
    with np.load(folder / files.DATA, allow_pickle=False) as stored:
        x, y, split = stored["x_val"], stored["y_val"], "validation"
        if not len(x):
            x, y, split = stored["x_test"], stored["y_test"], "test"
    flatbuffer = (folder / files.MODEL).read_bytes()
    runner = TflmRunner(flatbuffer, arena_size=smallest_arena(flatbuffer))
    outputs = runner.run(quantize(x, runner.input.scale, runner.input.zero_point))
    values = dequantize(outputs, runner.output.scale, runner.output.zero_point)
    return float(score(task, values, y)), split, int(len(x))


def latency_of(result) -> tuple[float, str]:
    """A bench result's latency in the board's unit: instructions (emulated), cycles, or µs."""
    if result.unit == "instructions":
        return float(result.instructions_per_inference), "instructions"
    if result.unit == "cycles" and result.cycles_per_inference is not None:
        return float(result.cycles_per_inference), "cycles"
    return float(result.microseconds_per_inference), "us"


def run_trial(project, settings: dict[str, Any], folder: Path, number: int, teacher: Teacher,
              log: Callable[[str], None], tflm_dir: Path | None = None) -> dict[str, Any]:
    """Build and measure one candidate; returns the trial's user attributes (TinyedgeError when the
    build or the measurement fails)."""
    from ..bench import run_bench
    from ..elfsize import read_elf_size
    from ..locking import build_folder_lock
    from ..pipeline.runner import build as run_pipeline
    started = time.perf_counter()
    seed_folder(folder, teacher)
    config = project.config.with_overrides({**settings, **NEUTRAL_BUDGETS})
    with build_folder_lock(folder):
        built = run_pipeline(config, project.board, project.directory, tflm_dir, log, build_dir=folder)
        firmware = built.firmware
        if firmware is None or not firmware.compiled or firmware.elf is None:
            raise TinyedgeError(f"trial {number}'s firmware for {project.board.name} was not compiled",
                                firmware.next_step if firmware is not None else "see the build's messages")
        build_seconds = built.seconds
        measured = time.perf_counter()
        bench = run_bench(project.board, folder / files.MODEL, firmware.runtime, built=firmware,
                          samples=LATENCY_SAMPLES, console=log)
        measure_seconds = time.perf_counter() - measured
    size = read_elf_size(firmware.elf)
    value, split, count = validation_score(folder, teacher.task)
    latency, unit = latency_of(bench)
    metric = "accuracy" if teacher.task == "classification" else "error"
    metrics = {metric: value, "error": (1.0 - value) if metric == "accuracy" else value,
               "latency": latency, "unit": unit, "flash": int(size.flash_bytes), "ram": int(size.ram_bytes),
               "split": split, "split_samples": count, "bit_exact": bool(bench.bit_exact),
               "model_bytes": int(built.model.model_bytes), "arena_bytes": int(built.model.arena_bytes),
               "runtime": firmware.runtime, "test_" + metric: built.model.int8_accuracy
               if metric == "accuracy" else built.model.int8_error}
    constraints, reasons = constraints_of(metrics, project.config["budgets"], project.board, teacher.task)
    return {"settings": settings, "metrics": metrics, "feasible": not reasons, "reasons": reasons,
            "constraints": constraints, "stages": built.model.stages, "stage_status": built.stage_status,
            "build_dir": str(folder), "elf": str(firmware.elf),
            "seconds": {"build": build_seconds, "measure": round(measure_seconds, 2),
                        "trial": round(time.perf_counter() - started, 2),
                        "stages": {row["stage"]: row["seconds"] for row in built.model.stages}}}


def constraints_of(metrics: dict, budgets: dict, board, task: str) -> tuple[list[float], list[str]]:
    """Optuna's constraint values (<= 0: met), one per CONSTRAINTS entry and each relative to its limit,
    and a one-line reason per budget broken. Flash and RAM budgets of 0 are the board's own figures."""
    values, reasons = [], []
    if task == "classification" and budgets["min_accuracy"]:
        floor = budgets["min_accuracy"]
        values.append(floor - metrics["accuracy"])
        if metrics["accuracy"] < floor:
            reasons.append(f"accuracy {metrics['accuracy']:.2%} ({metrics['split']} split, TFLM) is below "
                           f"budgets.min_accuracy {floor:.2%}")
    elif task != "classification" and budgets["max_error"]:
        ceiling = budgets["max_error"]
        values.append((metrics["error"] - ceiling) / ceiling)
        if metrics["error"] > ceiling:
            reasons.append(f"error {metrics['error']:.5g} ({metrics['split']} split, TFLM) is above "
                           f"budgets.max_error {ceiling:.5g}")
    else:
        values.append(-1.0)
    for figure, key, own in (("flash", "max_flash", board.flash_bytes), ("ram", "max_ram", board.ram_bytes)):
        limit, name = (budgets[key], f"budgets.{key}") if budgets[key] else (own, f"{board.name}'s {figure}")
        if not limit:
            values.append(-1.0)
            continue
        values.append((metrics[figure] - limit) / limit)
        if metrics[figure] > limit:
            reasons.append(f"{figure} {metrics[figure]:,} bytes (the ELF) is above {name} {limit:,}")
    limit = budgets["max_latency"]
    if limit:
        values.append((metrics["latency"] - limit) / limit)
        if metrics["latency"] > limit:
            reasons.append(f"latency {metrics['latency']:,.0f} {metrics['unit']} is above budgets.max_latency "
                           f"{limit:,}")
    else:
        values.append(-1.0)
    return [float(value) for value in values], reasons
