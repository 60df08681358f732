"""The firmware stage of a build: code generation, the firmware project and, where the board's target
can compile it here, the compile, as one stage of the pipeline (runner.py runs it).

Its key holds everything the project is made of: the model's bytes, the runtime settings, whether it
is a layer build (--layers: per-step ticks and CRCs), the board,
tinyedge's templates, firmware sources and rendering code, tinyedge's version (in every stage key) and
what the board's target lacks to compile here (a platform installed later means a compile). Its
outputs are the project's files and the ELF, so a missing or damaged ELF is made again. Budgets are
not in the key: `check_footprint` checks them against the recorded figures after the stage, so a
changed budget compiles nothing.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .. import buildfiles
from ..boards import Board
from ..config import Config
from .manifest import Manifest, file_hash, sources_hash, stage_key

if TYPE_CHECKING:  # the firmware's modules load only when a build reaches this stage
    from ..project.firmware import FirmwareResult

# What the firmware's code generation and project depend on besides the model and the settings: the
# templates, the firmware sources every project carries, and the Python that renders and compiles
# (package-relative; the templates and firmware folders are wherever tinyedge.resources finds them).
GENERATOR_CODE = ("codegen", "project", "targets", "footprint.py", "platformio.py")


def generator_sources() -> list[Path]:
    from ..resources import FIRMWARE_DIR, PACKAGE_DIR, TEMPLATES_DIR
    return [TEMPLATES_DIR, FIRMWARE_DIR, *(PACKAGE_DIR / name for name in GENERATOR_CODE)]


def record_of(firmware: FirmwareResult, build_dir: Path) -> dict:
    """The firmware stage's metrics, paths relative to the build folder (a copied project stays valid)."""
    data = firmware.to_json()
    data["project"] = os.path.relpath(firmware.project, build_dir)
    data["elf"] = os.path.relpath(firmware.elf, build_dir) if firmware.elf else None
    return data


def from_record(metrics: dict, build_dir: Path) -> FirmwareResult:
    from ..project.firmware import FirmwareResult
    names = {item.name for item in dataclasses.fields(FirmwareResult)}
    values = {key: value for key, value in metrics.items() if key in names}
    values["project"] = build_dir / metrics["project"]
    values["elf"] = build_dir / metrics["elf"] if metrics.get("elf") else None
    return FirmwareResult(**values)


def settings(config: Config, board: Board, model: Path, labels: list[str], tflm_dir: Path | None,
             layers: bool = False, monitor=None) -> dict:
    """What the stage's key is made of (`layers`: a layer build is another firmware; `monitor`: the
    MonitorSpec of a monitored one, None without)."""
    from ..targets import for_board
    runtime = config["runtime"]
    optimize = {"optimize": runtime["optimize"]} if runtime["optimize"] != "speed" else {}   # speed keeps its key
    return {**optimize, "model": file_hash(model), "runtime": runtime["kind"], "kind": runtime["project"],
            "models": [{"name": name, "model": file_hash(path) if path.is_file() else "missing"}
                       for name, path in further_models(config)],
            "placement": dict(config["placement"]),
            "arena_margin": runtime["arena_margin"], "name": config["project"]["name"], "labels": labels,
            "layers": bool(layers),
            "monitor": monitor_key(config, monitor),
            "tflm_dir": str(tflm_dir) if tflm_dir else None,
            "tflm_library": tflm_library_key(board, tflm_dir if runtime["kind"] != "native" else None),
            "board": {key: value for key, value in dataclasses.asdict(board).items() if key != "path"},
            "missing_toolchain": for_board(board).missing_toolchain(),
            "sources": sources_hash(generator_sources())}


def monitor_key(config: Config | None, monitor) -> dict | None:
    """The monitor's part of the key: the spec the firmware carries and the setting that shaped it
    (None without a monitor, so an unmonitored build keeps one key whatever [monitor] holds)."""
    if monitor is None:
        return None
    samples = config["monitor"]["input_samples"] if config is not None else None
    return {"spec": monitor.to_json(), "input_samples": samples}


def further_models(config: Config) -> list[tuple[str, Path]]:
    """The firmware's further models ([[model]], then --model): (name, path), a relative path taken from
    the project's folder (where tinyedge.toml is; the current folder without one)."""
    base = config.path.parent if config.path is not None else Path.cwd()
    return [(entry["name"], (base / Path(entry["path"]).expanduser()).resolve()) for entry in config.models]


def placement(config: Config):
    from ..project.render import Placement
    return Placement(**config["placement"])


def tflm_library_key(board: Board, tflm_dir: Path | None) -> str | None:
    """The TFLM tree's contents (as its cached library's key), so a tree changed in place makes the
    firmware again; None without a tree or off Arm."""
    if tflm_dir is None or not board.is_arm or not Path(tflm_dir).is_dir():
        return None
    from ..project.tflm_library import library_key
    return library_key(Path(tflm_dir), board)


def bench_settings(board: Board, model: Path, runtime: str, tflm_dir: Path | None = None,
                   monitor=None) -> dict:
    """The key of a benchmark firmware (the model alone, no project settings; `monitor`: its MonitorSpec
    when the firmware carries the monitor)."""
    from ..targets import for_board
    extra = {"monitor": monitor_key(None, monitor)} if monitor is not None else {}
    return {**extra, "model": file_hash(model), "runtime": runtime, "name": Path(model).stem,
            "tflm_dir": str(tflm_dir) if tflm_dir else None, "tflm_library": tflm_library_key(board, tflm_dir),
            "board": {key: value for key, value in dataclasses.asdict(board).items() if key != "path"},
            "missing_toolchain": for_board(board).missing_toolchain(),
            "sources": sources_hash(generator_sources())}


def cached(manifest: Manifest, name: str, settings: dict,
           make: Callable[[], FirmwareResult]) -> FirmwareResult:
    """The firmware recorded under `name` when its key and files are unchanged, else `make()`'s,
    recorded (for a firmware made outside the build pipeline: bench's)."""
    import time
    key = stage_key(name, settings, [])
    record = manifest.cached(name, key)
    if record is None:
        manifest.forget(name)
        started = time.perf_counter()
        built = make()
        record = manifest.record(name, key, outputs(manifest.build_dir, built),
                                 record_of(built, manifest.build_dir), time.perf_counter() - started,
                                 traced(settings))
    return from_record(record["metrics"], manifest.build_dir)


def traced(settings: dict) -> dict:
    """What the manifest's record keeps of the key's inputs (the board by name)."""
    return {**{key: value for key, value in settings.items() if key != "board"},
            "board": settings["board"]["name"]}


def make(config: Config, board: Board, build_dir: Path, labels: list[str], tflm_dir: Path | None,
         arena_bytes: int, log: Callable[[str], None], layers: bool = False, monitor=None) -> FirmwareResult:
    """Generates the project (and compiles it where possible); the board must fit, budgets come later.
    `layers`: a layer build (te-layers / te-tensor); `monitor`: the MonitorSpec of a monitored firmware
    (tinyedge.monitor, from the monitor stage's baseline), None for none."""
    from ..project import build_firmware
    runtime = config["runtime"]
    with np.load(build_dir / buildfiles.TEST_DATA, allow_pickle=False) as stored:
        first_sample = stored["x"][0]
    return build_firmware(board, build_dir / buildfiles.MODEL, build_dir, runtime=runtime["kind"],
                          kind=runtime["project"], name=config["project"]["name"], labels=labels,
                          test_sample=first_sample, tflm_dir=tflm_dir, arena_bytes=arena_bytes,
                          arena_margin=runtime["arena_margin"], console=log,
                          models=further_models(config), placement=placement(config), layers=layers,
                          monitor=monitor, optimize=runtime["optimize"])


def outputs(build_dir: Path, firmware: FirmwareResult) -> list[str]:
    """Every file of the project (PlatformIO's .pio cache left out) and the compiled image."""
    project = Path(firmware.project)
    files = {path for path in project.rglob("*")
             if path.is_file() and ".pio" not in path.relative_to(project).parts}
    if firmware.elf is not None:
        files.add(Path(firmware.elf))
    return sorted(str(path.relative_to(build_dir)) for path in files)


def check_footprint(firmware: FirmwareResult, board: Board, budgets: dict) -> None:
    """Flash and RAM against the board and the budgets: the ELF's figures when compiled, else the
    runtime's estimate (a CMake library goes into the user's own firmware, whose size tinyedge cannot
    know: nothing to check)."""
    from .. import footprint
    if firmware.compiled:
        figures = footprint.measured(firmware.runtime, firmware.flash_bytes, firmware.ram_bytes)
    elif firmware.kind == "cmake":
        return
    else:
        figures = footprint.Footprint(firmware.runtime, firmware.estimated_flash_bytes,
                                      firmware.estimated_ram_bytes, False, firmware.estimate_basis)
    footprint.check(figures, board, budgets["max_flash"], budgets["max_ram"], kept=firmware.project)
