"""tinyedge as a library: open a project, build it for a board, validate it on the board, measure a
model. These are what the CLI verbs call, and what a search that builds and measures many candidates
in one process calls. Nothing here prints to stdout: progress goes through tinyedge.console (stderr),
results come back as typed objects, faults as TinyedgeError.

    project = api.open_project("examples/digits", board="emu-m4")
    built = api.build(project)            # every stage cached when nothing changed
    result = api.validate(project, samples=50)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import buildfiles
from .boards import Board, Catalogue
from .config import Config, find_and_load

if TYPE_CHECKING:
    from .bench import BenchResult
    from .validation.flashing import FlashResult
    from .pipeline.runner import BuildResult
    from .validation.buildinfo import BuildFolder
    from .validation.runner import ValidationResult


@dataclass(frozen=True)
class Project:
    """A project folder (tinyedge.toml, data) with its settings resolved for one board."""
    config: Config
    board: Board
    directory: Path

    @property
    def build_dir(self) -> Path:
        return buildfiles.build_dir(self.directory, self.config.get("project.build_dir"), self.board.name)

    @property
    def model_name(self) -> str:
        return str(self.config.get("project.name"))

    def load(self) -> BuildFolder:
        """What an earlier build left in the build folder (a TinyedgeError naming `tinyedge build`
        when there is none)."""
        from .validation.buildinfo import load_build_folder
        return load_build_folder(self.board, self.build_dir, self.model_name)


def open_project(directory: str | Path = ".", board: str | None = None,
                 settings: dict[str, Any] | None = None, models: list[str] | None = None) -> Project:
    """The project in `directory`, for `board` (default: the project's), with `settings` ({"runtime.kind":
    "native", ...}; None values leave the project's own) over its tinyedge.toml, and `models`
    (["ad01=/path/ad01.tflite", ...], as `--model`) added after its [[model]] list."""
    directory = Path(directory).resolve()
    config = find_and_load(directory).with_overrides({"project.board": board, **(settings or {})})
    config = config.with_models(list(models or []))
    return Project(config, Catalogue.load().get(config.get("project.board")), directory)


TFLM_DIR_ENV = "TINYEDGE_TFLM_DIR"


def tflm_dir_of(project: Project | None = None, explicit: str | Path | None = None) -> Path | None:
    """The local TFLM tree the tflm runtime compiles against: `explicit` (--tflm-dir), else the
    project's runtime.tflm_dir (relative to the project), else $TINYEDGE_TFLM_DIR, else None."""
    if explicit is not None and str(explicit):
        return Path(explicit).expanduser().resolve()
    configured = str(project.config.get("runtime.tflm_dir") or "") if project is not None else ""
    if configured:
        path = Path(configured).expanduser()
        return (path if path.is_absolute() else project.directory / path).resolve()
    from_env = os.environ.get(TFLM_DIR_ENV, "")
    return Path(from_env).expanduser().resolve() if from_env else None


def build(project: Project, *, tflm_dir: Path | None = None,
          log: Callable[[str], None] | None = None, layers: bool = False) -> BuildResult:
    """Every stage of the build (data ... int8, TFLM on the host, firmware), each reused when its inputs
    are unchanged; holds the build folder's lock while it runs. Budgets missed: TinyedgeError, after
    report.json is written. The TFLM tree: `tflm_dir`, else the project's (tflm_dir_of). `layers`: the
    firmware is a layer build (te-layers / te-tensor; its own firmware stage key)."""
    from .locking import build_folder_lock
    from .pipeline.runner import build as run_pipeline
    with build_folder_lock(project.build_dir):
        return run_pipeline(project.config, project.board, project.directory,
                            tflm_dir_of(project, tflm_dir), log, layers=layers)


def folder_of(result: BuildResult, project: Project) -> BuildFolder:
    """The build folder as validation reads it, from the build just made (nothing read back but the
    model's bytes, which the firmware must carry)."""
    from .validation.buildinfo import BuildFolder
    model = result.build_dir / buildfiles.MODEL
    return BuildFolder(board=project.board, path=result.build_dir, model_name=project.model_name,
                       model_bytes=model.read_bytes(), report=result.report)


def validate(project: Project, *, port: str | None = None, samples: int | None = None,
             build_first: bool = True, debug_samples: int | None = None,
             layers: bool = False) -> ValidationResult:
    """Build (cached stages reused; the build's table goes to stderr), open the board through its target
    (QEMU or the host program started here, or the real board's port), run `samples` test samples
    (default all) and compare with the host TFLM reference; validation.json and report.html are written
    and recorded in the manifest. The build folder stays locked from the build to the last sample. A
    device fault: ValidationFailed (a TinyedgeError) carrying the samples so far. `debug_samples`
    (validate --debug): the firmware is a layer build, and that many of the samples are run again with
    every step's output compared with host TFLM's (the finding is the result's `debug`). `layers`
    (validate --layers): a layer build too, and the last sample's inference is timed step by step (the
    result's `layers`; report.html charts it)."""
    import time

    from .locking import build_folder_lock
    from .targets import for_board
    from .validation import validate as run_validation
    from .validation.prepare import run_build
    from .validation.debug import check_debug_samples
    from .validation.runner import check_sample_count

    check_sample_count(samples)  # a bad sample count fails before the build
    check_debug_samples(debug_samples)
    with build_folder_lock(project.build_dir):
        folder = run_build(project, layers=bool(debug_samples) or layers) if build_first else project.load()
        started = time.perf_counter()
        with for_board(project.board).link(folder.elf, port) as link:
            result = run_validation(folder, link, samples, elf=folder.elf, debug_samples=debug_samples,
                                    layers=layers)
        data = result.to_json()
        _record_measurement(project, "validate", folder,
                            {"samples": samples, "port": port, "debug_samples": debug_samples,
                             "layers": layers},
                            [data["json"], data["report"], *data.get("plots", [])],
                            {key: data.get(key) for key in MEASURED_FIGURES},
                            time.perf_counter() - started)
    return result


# What the manifest keeps of a validation (the rest is in validation.json).
MEASURED_FIGURES = ("samples", "complete", "agreement", "device_accuracy", "device_mse", "latency",
                    "flash_bytes", "ram_bytes")


def flash(project: Project, *, port: str | None = None) -> FlashResult:
    """Put the built firmware where the board's target runs it (PlatformIO's upload to a real board; for
    an emulated board or the host, a check that it starts and carries the build's model), recorded in
    the manifest. Uses the build as it is: `build` first."""
    import time

    from .locking import build_folder_lock
    from .targets import for_board

    with build_folder_lock(project.build_dir):
        folder = project.load()
        started = time.perf_counter()
        result = for_board(project.board).flash(folder, port)
        _record_measurement(project, "flash", folder, {"port": port}, [],
                            {"port": result.port, "model": result.model, "sha256": result.sha256},
                            time.perf_counter() - started)
    return result


def _record_measurement(project: Project, name: str, folder: BuildFolder, settings: dict,
                        written: list[str], metrics: dict, seconds: float) -> None:
    """The manifest's record of a flash or a validation: the model's and the firmware's hashes and the
    firmware stage's key (what was measured) and the files it wrote."""
    from .pipeline.manifest import Manifest, file_hash
    manifest = Manifest(project.build_dir)
    firmware = manifest.data["stages"].get("firmware", {})
    inputs = {**settings, "model": file_hash(folder.model_path),
              "elf": file_hash(folder.elf) if folder.elf is not None else None}
    outputs = [str(Path(path).resolve().relative_to(project.build_dir.resolve())) for path in written]
    manifest.record_measurement(name, inputs, [firmware.get("key", "")], outputs, metrics, seconds)


def measure(board: str | Board, model: str | Path, *, runtime: str = "native", port: str | None = None,
            build_dir: str | Path | None = None, tflm_dir: str | Path | None = None,
            samples: int | None = None, layers: bool = False, sample=None, monitor: bool = False,
            cycles: bool = False, optimize: str = "speed") -> BenchResult:
    """Build `model` alone into the benchmark firmware for `board`, run it there and return its latency,
    arena, flash, RAM and whether its output is bit-exact with TFLM.

    Without `build_dir` the firmware is built in a scratch folder and thrown away. With one (a search
    measuring candidates again and again), the firmware is a stage in that folder's manifest.json, made
    again only when the model, the board, the runtime or tinyedge's sources changed, and each
    measurement is recorded there with the model's hash. The tflm runtime compiles against
    `tflm_dir`, else $TINYEDGE_TFLM_DIR (tflm_dir_of).

    `samples` inputs (default 8, seeded; the first is `sample` when given) are each compared with TFLM;
    with `layers` the firmware is a layer build and the first inference is timed step by step. With a
    `build_dir`, bench.json and bench.html (the per-layer chart and table, the memory map) are written
    there. With `monitor`, the firmware carries the model monitor (its spec from the model alone,
    tinyedge.monitor.spec.spec_for with no baseline), so the figures include what it costs. With
    `cycles` (an emulated Cortex-M4), the first inference is traced once more and priced in cycles
    (BenchResult.projected_cycles, tinyedge.cycles). `optimize` = "size" generates the native runtime
    with int8 weights (tinyedge.codegen.generate)."""
    import time

    from .bench import (DEFAULT_SAMPLES, bench_monitor_spec, build_bench_firmware, check_bench_target,
                        check_samples, read_bench_model, run_bench)
    target = board if isinstance(board, Board) else Catalogue.load().get(board)
    check_bench_target(target, runtime)
    from .codegen.ops import check_optimize
    check_optimize(optimize)   # before anything is built
    if cycles:
        from .targets import for_board
        for_board(target).check_trace()
    samples = DEFAULT_SAMPLES if samples is None else samples
    check_samples(samples)
    read_bench_model(Path(model))   # a missing or damaged model is one line before anything is built
    tree = tflm_dir_of(None, tflm_dir) if runtime == "tflm" else None
    if build_dir is None:
        return run_bench(target, Path(model), runtime, sample, port=port, tflm_dir=tree, samples=samples,
                         layers=layers, monitor=monitor, cycles=cycles, optimize=optimize)
    from .locking import build_folder_lock
    from .pipeline import firmware_stage
    from .pipeline.manifest import Manifest, file_hash
    folder, model = Path(build_dir).resolve(), Path(model)
    with build_folder_lock(folder):
        manifest = Manifest(folder)
        settings = firmware_stage.bench_settings(target, model, runtime, tree,
                                                 bench_monitor_spec(model) if monitor else None)
        if optimize != "speed":   # another firmware; the speed build keeps its key
            settings["optimize"] = optimize
        if layers:   # a layer build is another firmware
            settings["layers"] = True
        built = firmware_stage.cached(manifest, "firmware", settings,
                                      lambda: build_bench_firmware(target, model, folder, runtime,
                                                                   tflm_dir=tree, layers=layers, monitor=monitor,
                                                                   optimize=optimize))
        started = time.perf_counter()
        result = run_bench(target, model, runtime, sample, port=port, built=built, tflm_dir=tree,
                           samples=samples, layers=layers, build_dir=folder, monitor=monitor, cycles=cycles,
                           optimize=optimize)
        from .bench_report import write_bench_report
        written = write_bench_report(result, folder)
        inputs = {"board": target.name, "runtime": runtime, "port": port, "model": file_hash(model),
                  "samples": samples, "layers": layers, "monitor": monitor, "cycles": cycles,
                  "optimize": optimize}
        manifest.record_measurement("bench", inputs, [manifest.data["stages"]["firmware"]["key"]],
                                    [Path(path).name for path in written], result.to_json(),
                                    time.perf_counter() - started)
    return result
