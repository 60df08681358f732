"""From a model file to a firmware: runtime choice, code generation, the project, the fit checks and,
where the board's target can compile it here (tinyedge.targets: always for emulated boards and the host,
for a real board when its PlatformIO platform is installed), the compile.

`build_firmware` is what `tinyedge build` calls after the model pipeline; `plan_project` is the plan it
renders (both public: tinyedge.api and the tests call them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .. import buildfiles, footprint
from ..boards import Board
from ..console import say
from ..errors import TinyedgeError
from ..fileio import write_bytes_atomic
from ..tflite.model import parse
from ..tflite.stale_batch import stale_batch_dilations
from .bundle import ModelBundle, check_distinct, further_bundle, make_bundle, native_prefix
from .archive import project_zip
from .render import KINDS, ModelPlan, Placement, ProjectPlan, TflmPlan, arduino_library_name
from .runtime import RuntimeChoice, choose_runtime, tflm_arena_bytes, tflm_resolver_methods
from .tree import write_tree

PROJECT_FOLDER = buildfiles.FIRMWARE


@dataclass
class FirmwareResult:
    project: Path
    kind: str
    runtime: str
    runtime_reason: str
    elf: Path | None
    flash_bytes: int | None           # from the ELF when compiled, else None
    ram_bytes: int | None
    estimated_flash_bytes: int        # the runtime's estimate before the compile (tinyedge.footprint)
    estimated_ram_bytes: int
    compiled: bool
    next_step: str                    # what the user runs next (one line)
    estimate_basis: str = ""          # what the estimate counts
    tflm_arena_bytes: int | None = None  # the TFLM runtime's reserved arena (tested minimum + margin)
    # The native models of the firmware in protocol order ({"name", "prefix", "arena_bytes", "sha256"}),
    # and the plan of their arena (one line: a static arena, or one buffer several share).
    models: list[dict] | None = None
    arena_plan: str = ""
    library_zip: Path | None = None   # the Arduino library kind: the folder as a .zip, beside it
    monitor: bool = False             # the firmware keeps the model monitor's statistics ([monitor])

    def to_json(self) -> dict:
        data = asdict(self)
        data["project"] = str(self.project)
        data["elf"] = str(self.elf) if self.elf else None
        data["library_zip"] = str(self.library_zip) if self.library_zip else None
        return data


def _say(console: Callable[[str], None] | None, text: str) -> None:
    (console or say)(text)


def _check_tree_path(tflm_dir: Path) -> Path:
    tflm_dir = Path(tflm_dir).expanduser().resolve()
    if not (tflm_dir / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file():
        raise TinyedgeError(f"--tflm-dir {tflm_dir} is not a TFLM tree (no "
                            "tensorflow/lite/micro/micro_interpreter.h)",
                            "pass a tree made by tflite-micro's create_tflm_tree.py")
    # The path goes into platformio.ini and CMakeLists.txt: no character may end or split a value there.
    if any(c in str(tflm_dir) for c in "\n\r;#$\"'\\{}"):
        raise TinyedgeError(f"--tflm-dir {tflm_dir!s} holds a character (; # $ quotes braces or a line "
                            "break) that project files cannot carry", "move the tree to a plainer path")
    return tflm_dir


def _write_library_zip(files: dict[str, str], bundle: ModelBundle, project: Path) -> Path:
    """<library>.zip beside the project folder: the same files under <library>/, the folder name the
    IDE gives the library."""
    library = arduino_library_name(bundle)
    return write_bytes_atomic(project.parent / f"{library}.zip", project_zip(files, library))


def plan_project(bundle: ModelBundle, board: Board, kind: str = "platformio", runtime: str = "auto",
                 arena_margin: float = 0.1, tested_arena: int | None = None,
                 tflm_dir: Path | None = None, further: list[ModelBundle] | None = None,
                 placement: Placement | None = None, layers: bool = False, monitor=None,
                 mlperf=None, optimize: str = "speed") -> ProjectPlan:
    """Chooses the runtime and generates what it needs (native C, or the TFLM resolver and arena); the
    board's target adds what its kind of project needs (or refuses a runtime it cannot run). `further`
    models (native only) join the firmware after `bundle`, each generated with its own prefix. `layers`:
    a layer build (every step's ticks and output CRC for the protocol's te-layers / te-tensor).
    `monitor`: the first model's tinyedge.monitor.spec.MonitorSpec, which makes the firmware keep the
    monitor's statistics of every inference (None: no monitor). `mlperf`: the tinyedge.mlperf.Benchmark
    whose reference firmware the protocol answers as (None: tinyedge's own). `optimize`: the native
    runtime for "speed" (weights widened in flash) or "size" (int8 weights, widened in the loop)."""
    from ..targets import for_board

    if kind not in KINDS:
        raise TinyedgeError(f"unknown project kind '{kind}'", f"choose one of {', '.join(KINDS)}")
    further = list(further or [])
    check_distinct([bundle.name, *(model.name for model in further)])
    choice = choose_runtime(bundle.model, runtime)
    if further and choice.kind != "native":
        raise TinyedgeError(f"{1 + len(further)} models in one firmware need the native runtime, but the "
                            f"{choice.kind} runtime was chosen ({choice.reason})",
                            "set runtime.kind = \"native\" (or --runtime native), or remove the [[model]] "
                            "entries and --model options")
    if mlperf is not None and further:
        raise TinyedgeError(f"an MLPerf Tiny benchmark firmware carries one model, not {1 + len(further)}",
                            "leave out the further models")
    plan = ProjectPlan(kind=kind, runtime=choice, placement=placement or Placement(), layers=layers,
                       monitor=monitor, mlperf=mlperf)
    for_board(board).plan(plan)
    if choice.kind == "native":
        from ..codegen import generate
        plan.native = generate(bundle.model, prefix=native_prefix(bundle.name), optimize=optimize)
        plan.further = [ModelPlan(model, generate(model.model, prefix=native_prefix(model.name), optimize=optimize))
                        for model in further]
    else:
        # A layer build over a tree keeps every tensor (the profiler's CRCs read them): its own arena,
        # whatever the normal build's measured one is.
        preserve = layers and tflm_dir is not None
        if tested_arena is None or preserve:
            from ..tflite.tflm import smallest_arena
            tested_arena = smallest_arena(bundle.model_bytes, preserve_all_tensors=preserve)
        plan.tflm = TflmPlan(methods=tflm_resolver_methods(bundle.ops), tested_bytes=tested_arena,
                             arena_bytes=tflm_arena_bytes(tested_arena, arena_margin), margin=arena_margin,
                             tflm_dir=_check_tree_path(tflm_dir) if tflm_dir is not None else None,
                             preserve_all_tensors=preserve)
        for_board(board).plan_tflm(plan)
    return plan


def build_firmware(board: Board, tflite_path: Path, build_dir: Path, runtime: str = "auto",
                   kind: str = "platformio", name: str = "model", labels: list[str] | None = None,
                   test_sample: np.ndarray | None = None, tflm_dir: Path | None = None,
                   arena_bytes: int | None = None, arena_margin: float = 0.1, max_flash: int = 0,
                   max_ram: int = 0, compile: bool = True,
                   console: Callable[[str], None] | None = None,
                   models: list[tuple[str, Path]] | None = None,
                   placement: Placement | None = None, layers: bool = False,
                   monitor=None, mlperf=None, optimize: str = "speed") -> FirmwareResult:
    """Generates the project under <build_dir>/firmware and compiles it where possible.

    `arena_bytes` is the host allocation test's smallest TFLM arena when the pipeline already measured
    it (else it is measured here, for the tflm runtime only). `models` ((name, .tflite path) each) join
    the firmware after the project's own; `placement` says where the weights, tables and arena go;
    `layers` makes a layer build (te-layers, te-tensor); `monitor` (a MonitorSpec of the model) adds
    the model monitor (te-monitor, tinyedge_monitor_snapshot); `mlperf` (a tinyedge.mlperf.Benchmark)
    makes the protocol answer as that benchmark's reference firmware; `optimize` ("speed" or "size")
    how the native runtime is generated.
    Progress goes to `console` (stderr by default), never to stdout.
    """
    model_bytes = Path(tflite_path).read_bytes() if Path(tflite_path).is_file() else None
    if model_bytes is None:
        raise TinyedgeError(f"{tflite_path} does not exist", "run the model pipeline first (tinyedge build)")
    parse(model_bytes, source=str(tflite_path))
    from ..targets import for_board
    target = for_board(board)
    bundle = make_bundle(model_bytes, name, labels, test_sample)
    models = list(models or [])
    check_distinct([name, *(model_name for model_name, _ in models)])   # before any file is read
    further = [further_bundle(path, model_name) for model_name, path in models]
    if mlperf is not None:
        from ..mlperf import check_model
        check_model(mlperf, bundle, Path(tflite_path).name)   # before anything is generated
    plan = plan_project(bundle, board, kind, runtime, arena_margin, arena_bytes, tflm_dir, further, placement,
                        layers, monitor, mlperf, optimize)
    _say(console, f"runtime: {plan.runtime.kind} ({plan.runtime.reason})")
    for finding in stale_batch_dilations(bundle.model):   # a model TFLM itself computes wrongly
        _say(console, f"warning: {finding.text()}")

    estimate = footprint.estimate_plan(bundle, plan, board)

    project = Path(build_dir) / PROJECT_FOLDER
    files = target.generate_project(bundle, plan)
    write_tree(files, project)
    _say(console, f"project: {project} ({plan.layout or kind})")
    library_zip = _write_library_zip(files, bundle, project) if kind == "arduino-library" else None

    result = FirmwareResult(project=project, kind=kind, runtime=plan.runtime.kind,
                            runtime_reason=plan.runtime.reason, elf=None, flash_bytes=None, ram_bytes=None,
                            estimated_flash_bytes=estimate.flash_bytes, estimated_ram_bytes=estimate.ram_bytes,
                            compiled=False, next_step="", estimate_basis=estimate.basis,
                            tflm_arena_bytes=plan.tflm.arena_bytes if plan.tflm is not None else None,
                            library_zip=library_zip, models=plan.model_table(bundle) or None,
                            arena_plan=plan.arena_plan(bundle), monitor=monitor is not None)
    for entry, (_, path) in zip((result.models or [])[1:], models):
        entry["path"] = str(path)   # validate sends each further model its own inputs, checked by TFLM
    if plan.further:
        _say(console, plan.arena_plan(bundle))

    def not_compiled() -> FirmwareResult:
        # No ELF will be checked here: the budgets and the board are checked against the estimate
        # (a CMake library goes into the user's own firmware, whose size tinyedge cannot know).
        if kind != "cmake":
            footprint.check(estimate, board, max_flash, max_ram, kept=project)
        return result

    if kind == "arduino-library":
        result.next_step = (f"add {library_zip} in the Arduino IDE (Sketch > Include Library > Add .ZIP "
                            f"Library) and open its example, or in PlatformIO: lib_deps = symlink://{project}")
        return not_compiled()
    if kind == "cmake":
        result.next_step = f"add_subdirectory({project}) in your firmware's CMakeLists.txt and link 'tinyedge'"
        return not_compiled()
    missing = target.missing_toolchain()
    if missing:
        result.next_step = target.toolchain_step(project)
        _say(console, f"{board.name}: {missing}, so the project is generated but not compiled. "
                      f"Next, {result.next_step}")
        return not_compiled()
    if not compile:
        result.next_step = f"pio run -d {project}"
        return not_compiled()

    if plan.tflm is not None and plan.tflm.library is not None:
        from .tflm_library import ensure_library
        ensure_library(plan.tflm.tflm_dir, board)   # compiled once per tree and core, then cached
    # The firmware is compiled: its ELF is the truth, and the estimate refuses nothing.
    built = target.compile(project)
    result.elf, result.flash_bytes, result.ram_bytes = built.elf, built.flash_bytes, built.ram_bytes
    result.compiled = True
    _say(console, f"firmware: {built.elf} — flash {built.flash_bytes:,} B of {board.flash_bytes:,} B, "
                  f"RAM {built.ram_bytes:,} B of {board.ram_bytes:,} B")
    footprint.check(footprint.measured(plan.runtime.kind, built.flash_bytes, built.ram_bytes), board,
                    max_flash, max_ram, kept=project)
    result.next_step = target.next_step()
    return result
