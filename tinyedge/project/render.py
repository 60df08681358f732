"""Rendering a firmware project: a pure function of (model bundle, board, plan) -> {path: text}.

Nothing is written here. Every generated file comes from a Jinja template under templates/ (rendered
with StrictUndefined, so a missing value is an error, not an empty string) or is a firmware source
from firmware/ copied as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__, templating
from ..boards import Board
from ..codegen import API_HEADER as API_HEADER_NAME
from ..errors import TinyedgeError
from ..resources import FIRMWARE_DIR
from .bundle import ModelBundle
from .carray import array_body, signed_array_body
from .runtime import RuntimeChoice
from .sanitize import arduino_name, c_string, one_line

KINDS = ("platformio", "arduino-library", "cmake")
# A target may lay its project out its own way: the host's is the protocol firmware as a host program.
LAYOUTS = (*KINDS, "host")

PROTOCOL_DIR = FIRMWARE_DIR / "protocol"
PROTOCOL_SOURCES = ("te_format.c", "te_format.h", "te_layers.c", "te_layers.h", "te_model.h", "te_protocol.c",
                    "te_protocol.h")
PORT_HEADER = FIRMWARE_DIR / "port" / "port.h"
# The model monitor ([monitor] enabled): its counters, beside the generated spec and run wrapper.
MONITOR_DIR = FIRMWARE_DIR / "monitor"
MONITOR_SOURCES = ("tinyedge_monitor.c", "tinyedge_monitor.h")
MONITOR_SPEC_SOURCE = "tinyedge_monitor_spec.c"
# The runtime's own run function when the monitor wraps tinyedge_model_run around it.
MONITORED_RUN_FUNCTION = "tinyedge_runtime_run"
# TINYEDGE_MONITOR_KIND: tinyedge_monitor.h's TINYEDGE_MONITOR_CLASSIFIER, _REGRESSION, _AUTOENCODER
MONITOR_KIND_MACROS = {"classifier": 0, "regression": 1, "autoencoder": 2}
# The monitor adds the examined input codes in 32 bits (tinyedge_monitor.c): at most 255 * n.
MONITOR_MAX_INPUT_BYTES = 2 ** 24
HOST_PORT = FIRMWARE_DIR / "port" / "host" / "port_host.c"

# The TFLM distribution a PlatformIO / Arduino user gets with the network (see TFLM_NOTE).
TFLM_LIBRARY_OWNER = "spaziochirale"
TFLM_LIBRARY_NAME = "Chirale_TensorFLowLite"   # sic: the registry name has a capital L in "FLow"
TFLM_LIBRARY_VERSION = "2.0.0"
TFLM_LIBRARY_HEADER = "Chirale_TensorFlowLite.h"
TFLM_LIB_DEP = f"{TFLM_LIBRARY_OWNER}/{TFLM_LIBRARY_NAME}@{TFLM_LIBRARY_VERSION}"
TFLM_NOTE = (
    f"TFLM comes from the library `{TFLM_LIB_DEP}` (PlatformIO registry and Arduino Library Manager), "
    "pinned to that exact version. TensorFlow's own Arduino library (tensorflow/tflite-micro-arduino-examples) "
    "left the Arduino Library Manager in 2022 at its maintainers' request and was archived on "
    "24 Feb 2025; Chirale_TensorFlowLite is TFLM regenerated from the tflite-micro tree for Arduino, "
    "tested by its authors on the mbed cores (Nano 33 BLE, Portenta, Nicla, Giga) and ESP32, and it is "
    "the maintained TFLM distribution TFLM users point to (tflite-micro issue #2207). On other Arduino "
    "cores it is untested. To use your own TFLM instead, run tinyedge build with --tflm-dir <tree>, a "
    "tree made by tflite-micro's create_tflm_tree.py.")


# A TFLM tree as create_tflm_tree.py writes it has no library manifest, so PlatformIO will not take it
# as a library: the project gets a small one (lib/tflm/library.json) whose sources are the tree.
TFLM_TREE_LIBRARY = "tflm"
TFLM_TREE_INCLUDES = ("", "third_party/flatbuffers/include", "third_party/gemmlowp", "third_party/kissfft",
                      "third_party/ruy", "third_party/cmsis_nn", "third_party/cmsis_nn/Include")
# TFLM is C++17; the Arduino cores build C++14 and must stay so (their headers break under C++17), so
# only TFLM and the glue that includes it get the newer standard (the last -std wins).
TFLM_CXX_STANDARD = "-std=gnu++17"
# The generator's cortex_m_generic timer wants a device header the tree does not have; nothing tinyedge
# links calls it (tinyedge times inferences with its own port layer).
TFLM_TREE_EXCLUDED = ("tensorflow/lite/micro/cortex_m_generic/micro_time.cc",)


def tflm_tree_flags(tree: Path) -> list[str]:
    """What every translation unit that includes TFLM needs: its include folders and its defines
    (CMSIS_NN selects the CMSIS-NN kernels the tree carries where it has them)."""
    flags = [f"-I{tree}/{folder}".rstrip("/") for folder in TFLM_TREE_INCLUDES]
    return flags + ["-DTF_LITE_STATIC_MEMORY", "-DCMSIS_NN"]


def tflm_tree_library(tree: Path) -> dict[str, str]:
    """lib/tflm/library.json: the tree's sources as a PlatformIO library, built as TFLM builds them."""
    import json
    manifest = {
        "name": TFLM_TREE_LIBRARY,
        "version": "0.0.0",
        "description": f"TensorFlow Lite Micro from the local tree {tree} (create_tflm_tree.py)",
        "build": {
            "srcDir": str(tree),      # PlatformIO joins it to the library folder: an absolute path wins
            "includeDir": str(tree),
            "srcFilter": ["+<*>"] + [f"-<{path}>" for path in TFLM_TREE_EXCLUDED],
            "flags": [TFLM_CXX_STANDARD, "-fno-exceptions", "-fno-rtti", "-fno-threadsafe-statics",
                      *tflm_tree_flags(tree)],
        },
    }
    return {f"lib/{TFLM_TREE_LIBRARY}/library.json": json.dumps(manifest, indent=2) + "\n"}


@dataclass
class TflmPlan:
    methods: list[str]            # MicroMutableOpResolver methods, one per op
    tested_bytes: int             # host allocation test
    arena_bytes: int              # with the margin
    margin: float
    tflm_dir: Path | None = None
    # The tree compiled once into a static library (tflm_library.py) that the firmware links, where
    # the target takes one (emulated boards); else a PlatformIO library built from the tree's sources.
    library: Path | None = None
    # A layer build over a tree: MicroInterpreter(..., preserve_all_tensors = true), so the profiler
    # reads every operator's output (GetTensor) for its CRC; the arena (tested_bytes) is then the host's
    # kPreserveAllTensors one. Chirale_TensorFlowLite 2.0.0 has neither: its layer builds send CRC 0.
    preserve_all_tensors: bool = False

    @property
    def margin_percent(self) -> str:
        return f"{self.margin * 100:g}"


@dataclass(frozen=True)
class Placement:
    """Where the generated C puts its data ([placement] in tinyedge.toml): linker sections ("" = the
    compiler's own) and who owns the arena ("static": each model's own, "caller": the runtime glue)."""
    weights_section: str = ""
    params_section: str = ""
    arena_section: str = ""
    arena: str = "static"


@dataclass
class ModelPlan:
    """A further model of a native firmware: its bundle and its generated C (its own prefix)."""
    bundle: ModelBundle
    native: object                        # codegen.GeneratedRuntime


@dataclass
class ProjectPlan:
    kind: str
    runtime: RuntimeChoice
    native: object | None = None          # codegen.GeneratedRuntime for the native runtime
    tflm: TflmPlan | None = None
    # Further native models after the project's own (protocol order), and where their data goes.
    further: list[ModelPlan] = field(default_factory=list)
    placement: Placement = field(default_factory=Placement)
    # What the board's target adds (tinyedge.targets: `target.plan(plan)`); the defaults are a real board's.
    platform_spec: str = ""               # platformio.ini `platform =` (emulated boards: symlink://...)
    core_dir: str = ""                    # the project's offline PlatformIO folder (README of emulated boards)
    link_flags: list[str] = field(default_factory=list)       # extra build_flags (stack and heap sizes)
    platform_files: dict[str, str] = field(default_factory=dict)  # a local platform the project carries
    layout: str = ""                      # how the project is laid out, when not as `kind` says (LAYOUTS)
    # A layer build (--layers): tinyedge_config.h defines TE_LAYERS, so every step (native) or operator
    # (TFLM's profiler) reports its ticks and output CRC to firmware/protocol/te_layers.c.
    layers: bool = False
    # The model monitor ([monitor] enabled): tinyedge.monitor.spec.MonitorSpec of the first model, whose
    # every inference tinyedge_model_run then records (firmware/monitor); None: no monitor compiled.
    monitor: object | None = None
    # An MLPerf Tiny benchmark build (tinyedge mlperf): the tinyedge.mlperf.Benchmark whose reference
    # firmware the protocol then answers as (TE_MLPERF_* in tinyedge_config.h); None: tinyedge's own.
    mlperf: object | None = None

    def layer_steps(self, bundle: ModelBundle) -> int:
        """The most steps one inference of the firmware's models reports in a layer build: te_layers.c
        keeps a record for each (native: kernel calls; TFLM: the operators of the main subgraph)."""
        if self.native is not None:
            return max(len(model.native.ops) for model in self.natives(bundle))
        return len(bundle.model.main.operators)

    def natives(self, bundle: ModelBundle) -> list[ModelPlan]:
        """Every native model of the firmware, the project's own (`bundle`) first."""
        return [ModelPlan(bundle, self.native), *self.further] if self.native is not None else []

    @property
    def shared_arena(self) -> bool:
        """One buffer the runtime glue owns (several models, or the caller's arena): no static arena in
        the model files (TINYEDGE_ARENA_FROM_CALLER)."""
        return self.native is not None and (bool(self.further) or self.placement.arena == "caller")

    @property
    def arena_bytes(self) -> int:
        """The native arena the firmware reserves: the largest of its models' (they run one at a time)."""
        return max([self.native.arena_bytes, *(model.native.arena_bytes for model in self.further)]) \
            if self.native is not None else 0

    def model_table(self, bundle: ModelBundle) -> list[dict]:
        """The native models in protocol order (`bundle`, the project's own, first), as the build
        reports them."""
        return [{"name": model.bundle.protocol_name, "prefix": model.native.prefix,
                 "sha256": model.bundle.sha256, "arena_bytes": model.native.arena_bytes}
                for model in self.natives(bundle)]

    def arena_plan(self, bundle: ModelBundle) -> str:
        """One line of the stage table and report.json: where the native arena lives."""
        models = self.model_table(bundle)
        if not models:
            return ""
        if len(models) == 1:
            owner = "the runtime glue's buffer (caller arena)" if self.shared_arena else "a static arena"
            return f"arena: {owner} of {models[0]['arena_bytes']:,} B"
        sizes = [f"{model['name']} ({model['arena_bytes']:,} B)" for model in models]
        return (f"arena: one {self.arena_bytes:,} B buffer shared by {', '.join(sizes[:-1])} and "
                f"{sizes[-1]}")


def render_template(template: str, context: dict) -> str:
    """One template under templates/ with `context` (tinyedge.templating: a missing value is an error
    naming the template)."""
    return templating.render(template, context)


def _firmware_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _is_arduino(board: Board) -> bool:
    return board.platformio.framework == "arduino"


def _context(bundle: ModelBundle, board: Board, plan: ProjectPlan) -> dict:
    runtime = plan.runtime
    tflm = plan.tflm
    context = {
        "version": __version__,
        "bundle": bundle,
        "board": board,
        "board_title": one_line(board.title),
        "runtime": runtime,
        "title": one_line(bundle.name) or "model",
        "name_literal": c_string(bundle.name),
        "label_literals": [c_string(label) for label in bundle.labels],
        "model_array": array_body(bundle.model_bytes),
        "sample_input_array": signed_array_body(bundle.sample_input),
        "sample_output_array": signed_array_body(bundle.sample_output),
        "baud": board.serial.baud,
        "env": board.name,
        "arduino": _is_arduino(board),
        "native": plan.native,
        "native_model_header": f"{plan.native.prefix}_model.h" if plan.native is not None else "",
        # templates/common/tinyedge_config.h.j2: the build's [placement]; the model files have no static
        # arena when the runtime glue owns the one buffer (several models, or arena = "caller")
        "placement": {"weights_section": plan.placement.weights_section,
                      "params_section": plan.placement.params_section,
                      "arena_section": plan.placement.arena_section, "arena_from_caller": plan.shared_arena},
        "tflm": None,
        "tflm_note": TFLM_NOTE,
        "tflm_library": runtime.kind == "tflm" and (tflm is None or tflm.tflm_dir is None),
        "tflm_library_name": TFLM_LIBRARY_NAME,
        "tflm_library_version": TFLM_LIBRARY_VERSION,
        "tflm_dir": str(tflm.tflm_dir) if tflm is not None and tflm.tflm_dir is not None else "",
        # TFLM's timer from tinyedge's port where the firmware has one (a CMake library may not).
        "tflm_port_timer": tflm is not None and tflm.tflm_dir is not None and plan.kind != "cmake",
        "core_dir": plan.core_dir,
        "local_platform": bool(plan.platform_files),
        "timer_text": {"dwt": "the DWT cycle counter", "micros": "micros()", "systick": "SysTick",
                       "monotonic": "the monotonic clock"}[board.timer],
        "tick_unit": "cycles" if board.timer == "dwt" else "us",
        "ticks_per_second": board.clock_hz if board.timer == "dwt" else 1000000,
        # Every native model of the firmware (the project's own first) for the runtime glue and the
        # protocol adapter; one arena buffer the glue owns when several share it (or the caller's).
        "models": [_model_context(model) for model in plan.natives(bundle)],
        "shared_arena": plan.shared_arena,
        "shared_arena_size": _largest_of([f"{model.native.prefix.upper()}_ARENA_SIZE"
                                          for model in plan.natives(bundle)]),
        "arena_plan": plan.arena_plan(bundle),
        # templates/common/tinyedge_config.h.j2: TE_LAYERS and the steps te_layers.c records
        "layers": plan.layers,
        "layer_steps": max(plan.layer_steps(bundle), 1) if plan.layers else 0,
        # templates/common/tinyedge_monitor_spec.c.j2 and the [monitor] block of tinyedge_config.h.j2
        "monitor": _monitor_context(bundle, plan.monitor, bool(plan.further)),
        "model_run_function": MONITORED_RUN_FUNCTION if plan.monitor is not None else "tinyedge_model_run",
        "mlperf": _mlperf_context(bundle, plan.mlperf),
    }
    if tflm is not None:
        use_arduino_header = context["tflm_library"] and plan.kind != "cmake"
        context["tflm"] = {
            "methods": tflm.methods, "arena_bytes": tflm.arena_bytes, "tested_bytes": tflm.tested_bytes,
            "margin_percent": tflm.margin_percent,
            "arduino_header": TFLM_LIBRARY_HEADER if use_arduino_header else "",
            "preserve_all_tensors": plan.layers and tflm.preserve_all_tensors,
            # The layer build's step table (tinyedge.layers.tflm_steps, the host's numbering): each
            # operator's first output tensor and its bytes, which the profiler's CRC covers.
            "steps": _tflm_step_outputs(bundle) if plan.layers and tflm.preserve_all_tensors else [],
        }
    return context


def _mlperf_context(bundle: ModelBundle, benchmark) -> dict | None:
    if benchmark is None:
        return None
    from ..mlperf import config_context
    return config_context(benchmark, bundle)


def _monitor_context(bundle: ModelBundle, spec, further: bool = False) -> dict | None:
    """The monitor spec as the C initializer of tinyedge_monitor_spec (firmware/monitor/tinyedge_monitor.h,
    whose fields after the input and output sizes are the kind's own)."""
    if spec is None:
        return None
    if (spec.input_bytes, spec.output_bytes) != (bundle.input.nbytes, bundle.output.nbytes):
        raise TinyedgeError(f"the monitor spec is for a model of {spec.input_bytes} input and {spec.output_bytes} "
                            f"output bytes, not {bundle.name}'s {bundle.input.nbytes} and {bundle.output.nbytes}",
                            "build again: the monitor stage makes the spec from the model")
    if spec.input_bytes >= MONITOR_MAX_INPUT_BYTES:
        raise TinyedgeError(f"the model monitor takes inputs below {MONITOR_MAX_INPUT_BYTES:,} bytes, not "
                            f"{spec.input_bytes:,}", "build with [monitor] enabled = false")

    classes = spec.classes if spec.kind == "classifier" else 1
    return {"spec": spec, "kind": spec.kind, "only_model": not further, "kind_macro": MONITOR_KIND_MACROS[spec.kind],
            "classes": classes, "input_examined": spec.examined_per_inference,
            "model_name": bundle.protocol_name, "run_function": MONITORED_RUN_FUNCTION,
            "confidence_edges": [int(value) for value in spec.confidence_edges],
            "output_edges": [int(value) for value in spec.output_edges],
            "error_edges": [f"{int(value)}u" for value in spec.error_edges]}


def _monitor_files(context: dict, folder: str, spec_folder: str | None = None) -> dict[str, str]:
    """The monitor's counters under `folder` and its generated spec and run wrapper under `spec_folder`
    (beside the runtime; default `folder`); nothing without [monitor] enabled."""
    if context["monitor"] is None:
        return {}
    files = {f"{folder}/{name}": _firmware_text(MONITOR_DIR / name) for name in MONITOR_SOURCES}
    files[f"{spec_folder or folder}/{MONITOR_SPEC_SOURCE}"] = render_template("common/tinyedge_monitor_spec.c.j2",
                                                                              context)
    return files


def _tflm_step_outputs(bundle: ModelBundle) -> list[dict]:
    from ..layers import tflm_steps
    return [{"tensor": step.output_tensor, "bytes": step.bytes, "layer": step.layer, "opcode": step.opcode}
            for step in tflm_steps(bundle.model)]


def _largest_of(sizes: list[str]) -> str:
    """A C constant expression of the largest of `sizes` (TINYEDGE_LARGER_ chained), for the arena the
    models share: the headers' own macros, so it follows them."""
    if len(sizes) <= 1:
        return sizes[0] if sizes else "0u"
    return f"TINYEDGE_LARGER_({sizes[0]}, {_largest_of(sizes[1:])})"


def _model_context(model: ModelPlan) -> dict:
    """What the glue templates need of one native model: its prefix, header and protocol identity."""
    bundle, native = model.bundle, model.native
    return {"prefix": native.prefix, "header": f"{native.prefix}_model.h", "arena_bytes": native.arena_bytes,
            "weights_bytes": native.weights_bytes,
            "protocol_name": bundle.protocol_name, "sha256": bundle.sha256,
            "input_bytes": bundle.input.nbytes, "output_bytes": bundle.output.nbytes,
            "output_scale": bundle.output.scale, "output_zero_point": bundle.output.zero_point}


def _model_files(context: dict, plan: ProjectPlan, folder: str) -> dict[str, str]:
    """The model and runtime glue that every kind carries, under `folder`."""
    files = {
        f"{folder}/model_data.cc": render_template("common/model_data.cc.j2", context),
        f"{folder}/model_data.h": render_template("common/model_data.h.j2", context),
        f"{folder}/tinyedge_info.c": render_template("common/tinyedge_info.c.j2", context),
        f"{folder}/tinyedge_sample.c": render_template("common/tinyedge_sample.c.j2", context),
        f"{folder}/tinyedge_sample.h": render_template("common/tinyedge_sample.h.j2", context),
    }
    if plan.runtime.kind == "native":
        files[f"{folder}/tinyedge_runtime.c"] = render_template("common/tinyedge_runtime_native.c.j2", context)
    else:
        files[f"{folder}/tinyedge_runtime.cpp"] = render_template("common/tinyedge_runtime_tflm.cpp.j2", context)
    return files


def _native_files(plan: ProjectPlan, folder: str) -> dict[str, str]:
    """Every native model's C files (each under its own prefix) and one copy of each kernel source any
    of them needs."""
    if plan.runtime.kind != "native":
        return {}
    natives = [plan.native, *(model.native for model in plan.further)]
    files = {f"{folder}/{name}": text for native in natives for name, text in native.files.items()}
    for source in dict.fromkeys(source for native in natives for source in native.kernel_sources):
        files[f"{folder}/{Path(source).name}"] = _firmware_text(Path(source))
    return files


def _device_sources(context: dict, folder: str) -> dict[str, str]:
    """What every firmware carries beside the model: the one header, the protocol's model adapter and
    the self-test of the stored sample."""
    return {f"{folder}/tinyedge.h": render_template("common/tinyedge.h.j2", context),
            f"{folder}/te_adapter.c": render_template("common/te_adapter.c.j2", context),
            f"{folder}/tinyedge_selftest.c": render_template("common/tinyedge_selftest.c.j2", context)}


def _arduino_glue(context: dict, folder: str) -> dict[str, str]:
    """The Arduino side: Serial/micros()/DWT port and the setup()/loop() glue."""
    return {f"{folder}/tinyedge_arduino.cpp": render_template("common/tinyedge_arduino.cpp.j2", context),
            f"{folder}/tinyedge_arduino.h": render_template("common/tinyedge_arduino.h.j2", context),
            f"{folder}/port_arduino.cpp": render_template("common/port_arduino.cpp.j2", context)}


def _protocol_files(folder: str) -> dict[str, str]:
    files = {f"{folder}/{name}": _firmware_text(PROTOCOL_DIR / name) for name in PROTOCOL_SOURCES}
    files[f"{folder}/port.h"] = _firmware_text(PORT_HEADER)
    return files


def _platformio(bundle: ModelBundle, board: Board, plan: ProjectPlan, context: dict) -> dict[str, str]:
    arduino = _is_arduino(board)
    lib_deps: list[str] = []
    extra_flags: list[str] = []
    src_flags: list[str] = []
    tflm_library: dict[str, str] = {}
    if plan.runtime.kind == "tflm":
        if plan.tflm.tflm_dir is None:
            lib_deps.append(TFLM_LIB_DEP)
        else:
            tree = plan.tflm.tflm_dir
            src_flags.append(TFLM_CXX_STANDARD)   # the runtime glue includes TFLM's C++17 headers
            if plan.tflm.library is not None:     # compiled once for the core, linked from the cache
                from .tflm_library import LIBRARY_NAME, firmware_flags
                extra_flags += [*firmware_flags(tree), f"-L{plan.tflm.library.parent}", f"-l{LIBRARY_NAME}"]
            else:
                lib_deps.append(TFLM_TREE_LIBRARY)
                extra_flags += tflm_tree_flags(tree)
                tflm_library = tflm_tree_library(tree)
    extra_flags += plan.link_flags
    if plan.layers:   # the protocol library does not see tinyedge_config.h: it gets the layer build here
        extra_flags += ["-DTE_LAYERS", f"-DTE_LAYERS_MAX_STEPS={context['layer_steps']}u"]
    if context["monitor"] is not None:   # nor do the protocol's and the monitor's libraries
        extra_flags += ["-DTINYEDGE_MONITOR", f"-DTINYEDGE_MONITOR_KIND={context['monitor']['kind_macro']}",
                        f"-DTINYEDGE_MONITOR_CLASSES={context['monitor']['classes']}"]
        if context["monitor"]["only_model"]:
            extra_flags.append("-DTINYEDGE_MONITOR_ONLY_MODEL")
    context = dict(context, platform=plan.platform_spec or board.platformio.platform,
                   lib_deps=lib_deps, extra_build_flags=extra_flags, src_flags=src_flags)
    files = {"platformio.ini": render_template("platformio/platformio.ini.j2", context),
             "README.md": render_template("platformio/README.md.j2", context)}
    files.update(_model_files(context, plan, "src"))
    files.update(_device_sources(context, "src"))
    files["src/te_main.c"] = _firmware_text(PROTOCOL_DIR / "te_main.c")
    if arduino:
        files["src/main.cpp"] = render_template("platformio/main.cpp.j2", context)
        files.update(_arduino_glue(context, "src"))
    files.update(_protocol_files("lib/tinyedge_protocol"))
    files.update(_native_files(plan, "lib/tinyedge_native"))
    files.update(_monitor_files(context, "lib/tinyedge_monitor", "src"))
    files.update(tflm_library)
    files.update(plan.platform_files)
    return files


def _host(bundle: ModelBundle, board: Board, plan: ProjectPlan, context: dict) -> dict[str, str]:
    """The same firmware sources with the host port: a program whose stdin/stdout is its serial link."""
    files = {"README.md": render_template("host/README.md.j2", context)}
    files.update(_model_files(context, plan, "src"))
    files.update(_device_sources(context, "src"))
    files["src/te_main.c"] = _firmware_text(PROTOCOL_DIR / "te_main.c")
    files.update(_protocol_files("protocol"))
    files["port/port_host.c"] = _firmware_text(HOST_PORT)
    files.update(_native_files(plan, "native"))
    files.update(_monitor_files(context, "src"))
    return files


# The version both library manifests give (library.properties, library.json): a library is regenerated,
# not released, so it stays the same.
ARDUINO_LIBRARY_VERSION = "1.0.0"


def arduino_library_name(bundle: ModelBundle) -> str:
    """The Arduino library's name: its folder in the .zip, its header and its example sketch."""
    return arduino_name(f"tinyedge_{bundle.c_name}")


def _platformio_library_manifest(library: str, sentence: str, plan: ProjectPlan, context: dict) -> str:
    """library.json, so PlatformIO's library manager takes the folder as it is (the Arduino IDE reads
    library.properties); the TFLM runtime names the TFLM library it needs, as library.properties does."""
    import json
    manifest: dict = {"name": library, "version": ARDUINO_LIBRARY_VERSION, "description": sentence,
                      "keywords": ["tinyedge", "tinyml", "neural network"],
                      "authors": [{"name": "tinyedge", "maintainer": True}],
                      "frameworks": "arduino", "platforms": "*", "headers": f"{library}.h"}
    if plan.runtime.kind == "tflm" and context["tflm_library"]:
        manifest["dependencies"] = [{"owner": TFLM_LIBRARY_OWNER, "name": TFLM_LIBRARY_NAME,
                                     "version": TFLM_LIBRARY_VERSION}]
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def _arduino_library(bundle: ModelBundle, board: Board, plan: ProjectPlan, context: dict) -> dict[str, str]:
    library = arduino_library_name(bundle)
    sentence = one_line(f"The model {bundle.name} ({plan.runtime.kind} runtime), generated by tinyedge.")
    context = dict(context, library=library, guard=f"{library.upper()}_H", sentence=sentence,
                   library_version=ARDUINO_LIBRARY_VERSION, arduino=True)
    files = {"library.properties": render_template("arduino_library/library.properties.j2", context),
             "library.json": _platformio_library_manifest(library, sentence, plan, context),
             "README.md": render_template("arduino_library/README.md.j2", context),
             f"src/{library}.h": render_template("arduino_library/library.h.j2", context),
             f"examples/{library}/{library}.ino": render_template("arduino_library/example.ino.j2", context)}
    files.update(_model_files(context, plan, "src"))
    files.update(_device_sources(context, "src"))
    files.update(_arduino_glue(context, "src"))
    files.update(_protocol_files("src"))
    files.update(_native_files(plan, "src"))
    files.update(_monitor_files(context, "src"))
    return files


# What a firmware includes from a CMake library (docs/integration.md): its include/ folder.
CMAKE_PUBLIC_HEADERS = ("tinyedge.h", "tinyedge_api.h", "tinyedge_config.h", "tinyedge_monitor.h")
# The flatbuffer only the TFLM runtime reads (a C++ source: a C-only project must not carry it).
TFLM_ONLY_SOURCES = ("model_data.cc", "model_data.h")


def _is_public_header(path: str) -> bool:
    name = Path(path).name
    return name in CMAKE_PUBLIC_HEADERS or name.endswith("_model.h")


def _cmake(bundle: ModelBundle, board: Board, plan: ProjectPlan, context: dict) -> dict[str, str]:
    files = _model_files(context, plan, "src")
    files.update(_native_files(plan, "src"))
    files.update(_monitor_files(context, "src"))
    files["src/tinyedge.h"] = render_template("common/tinyedge.h.j2", context)
    if plan.runtime.kind == "native":
        files = {path: text for path, text in files.items() if Path(path).name not in TFLM_ONLY_SOURCES}
    files = {(f"include/{Path(path).name}" if _is_public_header(path) else path): text
             for path, text in files.items()}
    library_sources = sorted(path for path in files if path.endswith((".c", ".cc", ".cpp"))
                             and not path.endswith("tinyedge_sample.c"))
    protocol = _protocol_files("protocol")
    protocol["protocol/te_adapter.c"] = render_template("common/te_adapter.c.j2", context)
    protocol_sources = sorted(path for path in protocol if path.endswith(".c"))
    context = dict(context, library_sources=library_sources, protocol_sources=protocol_sources,
                   cpu_flags=" ".join(board.gcc_flags()), project_name=f"tinyedge_{bundle.c_name}")
    files.update(protocol)
    files["CMakeLists.txt"] = render_template("cmake/CMakeLists.txt.j2", context)
    files["README.md"] = render_template("cmake/README.md.j2", context)
    files["example/run_sample.c"] = render_template("cmake/run_sample.c.j2", context)
    if board.is_arm:
        files["toolchain/arm-none-eabi.cmake"] = render_template("cmake/arm-none-eabi.cmake.j2", context)
    return files


API_HEADER = FIRMWARE_DIR / "native" / API_HEADER_NAME
CONFIG_HEADER = "tinyedge_config.h"
CONFIG_LIBRARY = "tinyedge_config"   # a PlatformIO project's folder of the two when no runtime library carries them


def _api_headers(files: dict[str, str], context: dict) -> dict[str, str]:
    """tinyedge_api.h, which tinyedge.h and the model headers include, where the native runtime's sources
    carry it, else beside tinyedge.h; and the integrator's tinyedge_config.h beside it (tinyedge_api.h
    looks for it in its own folder first)."""
    api = next((path for path in files if Path(path).name == API_HEADER.name), None)
    added = {}
    if api is None:
        public = next(path for path in files if Path(path).name == "tinyedge.h")
        if "platformio.ini" in files and Path(public).parent.name == "src":
            # PlatformIO gives a library (the protocol's, the monitor's) the folders of other libraries,
            # never src/: the build's settings live in a library of their own, which src finds as well.
            api = f"lib/{CONFIG_LIBRARY}/{API_HEADER.name}"
        else:
            api = str(Path(public).with_name(API_HEADER.name))
        added[api] = _firmware_text(API_HEADER)
    added[str(Path(api).with_name(CONFIG_HEADER))] = render_template("common/tinyedge_config.h.j2", context)
    return added


def render_project(bundle: ModelBundle, board: Board, plan: ProjectPlan) -> dict[str, str]:
    """{relative path: text} of the whole project; deterministic for the same inputs."""
    if plan.kind not in KINDS:
        raise TinyedgeError(f"unknown project kind '{plan.kind}'", f"choose one of {', '.join(KINDS)}")
    layout = plan.layout or plan.kind
    if plan.runtime.kind == "native" and plan.native is None:
        raise TinyedgeError("the native runtime was chosen but not generated", "this is a bug in tinyedge")
    if plan.runtime.kind == "tflm" and plan.tflm is None:
        raise TinyedgeError("the tflm runtime was chosen without its plan", "this is a bug in tinyedge")
    context = _context(bundle, board, plan)
    render = {"platformio": _platformio, "arduino-library": _arduino_library, "cmake": _cmake,
              "host": _host}[layout]
    files = render(bundle, board, plan, context)
    files.update(_api_headers(files, context))
    return dict(sorted(files.items()))
