"""`tinyedge bench`: build the firmware for a board, run one inference on it and report what it cost.

On an emulated board (QEMU under -icount shift=0) the firmware's SysTick counts instructions, so the
figures repeat to within one tick: instructions per inference = ticks x instructions per tick (40 on
mps2). On a real board the firmware is uploaded with PlatformIO and its timer gives cycles (DWT)
or microseconds (micros()); both are reported. The output is compared byte for byte with the real TFLM
interpreter (tflite_micro) on the same input, and so is every output of `samples` inputs (default 8: the
given input, or one seeded by the model's hash, then seeded random ones), so a saturated output on one
input cannot pass for agreement. With `layers`, the firmware is a layer build and the first input's
inference is timed step by step (tinyedge.layers): op, layer, output shape, MACs, time, share, time per
MAC, and the sum of the steps against the whole inference.

Flash: `flash_bytes` is the firmware's text + data from the ELF (protocol, port, start-up, kernels,
model). `runtime_flash_bytes` is that minus the model's own bytes in flash, which for the native
runtime are the weight and bias arrays the generator emitted (`GeneratedRuntime.weights_bytes`, the
rearranged copies included); the per-layer parameter structs stay in the runtime's share. For TFLM the
model's share is its flatbuffer. Arena: the native runtime's activation arena plus the caller's input
and output buffers, which is what TFLM's arena holds (its tensors include the inputs and outputs).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .boards import Board
from .console import say
from .errors import TinyedgeError
from .project.bundle import OUTPUT_DTYPES
from .tflite.model import TFLiteModel, parse

INFER_TIMEOUT_S = 600.0
DEFAULT_SAMPLES = 8


@dataclass
class BenchResult:
    board: str
    model: str
    runtime: str
    unit: str                          # what a tick counts: "instructions" on emulated boards
    instructions_per_inference: int | None  # emulated boards
    macs: int
    instructions_per_mac: float | None
    cycles_per_inference: int | None       # real boards with a cycle counter
    microseconds_per_inference: float | None  # real boards
    arena_bytes: int                   # activation arena + input/output buffers (TFLM's arena holds both)
    activation_arena_bytes: int        # the static arena alone
    io_bytes: int
    ram_bytes: int                     # data + bss of the firmware (stack and buffers included)
    flash_bytes: int                   # text + data of the firmware, model included
    runtime_flash_bytes: int           # flash_bytes minus the model's weights
    model_flash_bytes: int
    bit_exact: bool
    output_hex: str
    tflm_output_hex: str
    samples: int = 1                   # inputs compared with TFLM (the first is the one timed)
    samples_equal: int = 1             # of them, outputs identical to TFLM's
    differing_samples: list[int] = field(default_factory=list)
    sample_outputs: list[dict] = field(default_factory=list)   # per input: device and TFLM output hex
    layers: dict | None = None         # bench --layers: layer_table() of the first input's inference
    memory: dict | None = None         # tinyedge.memory_map of the firmware (when its link left a map)
    build_dir: str | None = None       # where the firmware (and bench.json / bench.html) are
    monitor: bool = False              # the firmware carried the model monitor (bench --monitor)
    projected_cycles: dict | None = None   # bench --cycles: tinyedge.cycles.projected_cycles of the first input
    optimize: str = "speed"            # how the native runtime was generated: "speed" or "size" (bench --optimize)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Agreement:
    samples: int
    equal: int
    differing: list[int]

    @property
    def text(self) -> str:
        return f"{self.equal}/{self.samples} equal"


def compare_outputs(device: list[bytes], reference: list[bytes]) -> Agreement:
    """Each device output against its TFLM reference, byte for byte."""
    if len(device) != len(reference):
        raise ValueError(f"{len(device)} device outputs against {len(reference)} references")
    differing = [index for index, (mine, theirs) in enumerate(zip(device, reference)) if bytes(mine) != bytes(theirs)]
    return Agreement(len(device), len(device) - len(differing), differing)


def check_samples(samples: int) -> None:
    if samples < 1:
        raise TinyedgeError(f"bench --samples {samples} is not a positive number of inputs",
                            f"give 1 or more (default {DEFAULT_SAMPLES})")


def bench_inputs(model: TFLiteModel, sample: np.ndarray | None, samples: int) -> list[np.ndarray]:
    """The inputs bench sends: `sample` (else default_sample), then samples - 1 seeded random ones."""
    first = default_sample(model) if sample is None else np.asarray(sample, dtype=np.int8)
    shape = model.main.input_tensors()[0].shape
    seed = int.from_bytes(hashlib.sha256(model.raw + b"bench --samples").digest()[:8], "little")
    rng = np.random.default_rng(seed)
    rest = [rng.integers(-128, 128, size=shape, dtype=np.int64).astype(np.int8) for _ in range(samples - 1)]
    return [first.reshape(shape), *rest]


def _say(console: Callable[[str], None] | None, text: str) -> None:
    (console or say)(text)


def model_macs(model: TFLiteModel) -> int:
    from .tflite.inspect import op_macs
    return sum(op_macs(model.main, op) for op in model.main.operators)


def default_sample(model: TFLiteModel) -> np.ndarray:
    """A deterministic int8 input (seeded by the model's hash), so runs repeat exactly."""
    tensor = model.main.input_tensors()[0]
    seed = int.from_bytes(hashlib.sha256(model.raw).digest()[:8], "little")
    values = np.random.default_rng(seed).integers(-128, 128, size=tensor.shape, dtype=np.int64)
    return values.astype(np.int8)


BENCH_RUNTIMES = ("native", "tflm")


def bench_runtimes(requested: str) -> list[str]:
    """`--runtime`: native, tflm, or both side by side ("both", "native,tflm", "tflm,native")."""
    names = list(BENCH_RUNTIMES) if requested.strip() == "both" else \
        [name.strip() for name in requested.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCH_RUNTIMES]
    if unknown or not names or len(set(names)) != len(names):
        raise TinyedgeError(f"bench --runtime '{requested}' is not a runtime list",
                            "use native, tflm, both or native,tflm")
    return names


def check_bench_target(board: Board, runtime: str) -> None:
    """The one-line refusals, before anything is built."""
    if runtime not in BENCH_RUNTIMES:
        raise TinyedgeError(f"bench measures the native or the tflm runtime, not '{runtime}'",
                            "use --runtime native, tflm or both")
    from .targets import for_board
    missing = for_board(board).missing_toolchain()
    if missing:
        raise TinyedgeError(f"{missing}, so bench cannot build the firmware for {board.name}",
                            f"{for_board(board).install_hint()}, then run tinyedge bench again")


@contextmanager
def _device_transport(board: Board, built, port: str | None, console) -> Iterator:
    """The target's link to the firmware just built: started here (QEMU, a host process) or, for a
    real board, uploaded first and reached on its serial port."""
    from .targets import for_board

    if not built.compiled:
        raise TinyedgeError(f"the firmware for {board.name} was generated but not compiled",
                            built.next_step)
    target = for_board(board)
    port = target.install(built.project, port)
    _say(console, f"bench: running the inputs on {board.name}")
    with target.open_transport(built.elf, port) as transport:
        yield transport


def bench_monitor_spec(model_path: Path):
    """The monitor of a bare model (no build, so no baseline): tinyedge.monitor.spec.spec_for(model)."""
    from .monitor.spec import spec_for
    return spec_for(Path(model_path), baseline=None)


def build_bench_firmware(board: Board, model_path: Path, folder: Path, runtime: str = "native",
                         console: Callable[[str], None] | None = None, tflm_dir: Path | None = None,
                         layers: bool = False, monitor: bool = False, optimize: str = "speed"):
    """The benchmark firmware of one model for `board`, generated (and compiled) under `folder` (a
    layer build with `layers`; with the model monitor with `monitor`)."""
    from .project.firmware import build_firmware
    what = ("layer " if layers else "") + ("monitored " if monitor else "")
    _say(console, f"bench: building the {runtime} {what}firmware for {board.name}")
    extra = {"layers": True} if layers else {}
    if monitor:
        extra["monitor"] = bench_monitor_spec(model_path)
    return build_firmware(board, Path(model_path), Path(folder), runtime=runtime,
                          name=Path(model_path).stem, console=console,
                          tflm_dir=tflm_dir if runtime == "tflm" else None, optimize=optimize, **extra)


def read_bench_model(model_path: Path) -> TFLiteModel:
    """The model bench measures, checked before anything is built: it exists, parses, and has one int8
    input and one int8 (or int32) output. Each problem is one line."""
    if not model_path.is_file():
        raise TinyedgeError(f"{model_path} does not exist", "pass the .tflite file with --model")
    model = parse(model_path.read_bytes(), source=str(model_path))
    if len(model.main.inputs) != 1 or len(model.main.outputs) != 1:
        raise TinyedgeError(f"{model_path.name} has {len(model.main.inputs)} inputs and "
                            f"{len(model.main.outputs)} outputs; bench runs single-input, single-output models",
                            "benchmark the model with one input and one output")
    input_dtype = model.main.input_tensors()[0].dtype
    output_dtype = model.main.tensors[model.main.outputs[0]].dtype
    if input_dtype != "int8" or output_dtype not in OUTPUT_DTYPES:
        raise TinyedgeError(f"{model_path.name} has {input_dtype} input or {output_dtype} output; bench "
                            "compares int8 models (int8 or int32 output) bit for bit",
                            "quantize the model's input and output to int8")
    return model


def run_bench(board: Board, model_path: Path, runtime: str = "native", sample: np.ndarray | None = None,
              build_dir: Path | None = None, console: Callable[[str], None] | None = None,
              port: str | None = None, built=None, tflm_dir: Path | None = None,
              samples: int = DEFAULT_SAMPLES, layers: bool = False, monitor: bool = False,
              cycles: bool = False, optimize: str = "speed") -> BenchResult:
    """Builds the firmware for `board` (unless `built` is that firmware, made by build_bench_firmware),
    runs `samples` inputs on it (the first, `sample` or the model's default, is the one timed) and
    compares every output with TFLM; with `layers` (a layer build) the first inference's steps too;
    with `cycles` the first inference traced once more and priced in Cortex-M4 cycles (tinyedge.cycles)."""
    from .codegen import generate
    from .device.protocol import DeviceClient
    from .tflite.tflm import TflmRunner

    check_bench_target(board, runtime)
    check_samples(samples)
    model_path = Path(model_path)
    model = read_bench_model(model_path)
    model_bytes = model.raw
    output_dtype = model.main.tensors[model.main.outputs[0]].dtype
    inputs = bench_inputs(model, sample, samples)
    measured_steps = None
    memory = None
    projection = None
    if cycles:
        from .targets import for_board
        tracer = for_board(board)
        tracer.check_trace()   # before anything is built

    with tempfile.TemporaryDirectory(prefix="tinyedge-bench-") as scratch:
        if built is None:
            folder = Path(build_dir) if build_dir is not None else Path(scratch)
            built = build_bench_firmware(board, model_path, folder, runtime, console, tflm_dir, layers, monitor,
                                         optimize)
        outputs = []
        with _device_transport(board, built, port, console) as transport:
            client = DeviceClient(transport, infer_timeout=INFER_TIMEOUT_S)
            client.connect()
            for index, values in enumerate(inputs):
                client.load(values.tobytes())
                client.infer(1, 0)
                outputs.append(client.output())
                if index == 0:   # the first input is the one timed (and profiled)
                    ticks = client.ticks()
                    if layers:
                        measured_steps = client.layers()
        memory = _memory(built, board, runtime)
        if cycles:
            from .cycles import projected_cycles
            _say(console, f"bench: tracing one inference on {board.name} for its projected cycles")
            projection = projected_cycles(tracer.trace_inference(built.elf, inputs[0].tobytes(), Path(scratch)))

    references = TflmRunner(model_bytes).run(np.stack([values.reshape(model.main.input_tensors()[0].shape[1:])
                                                       for values in inputs]))
    expected_all = [np.ascontiguousarray(reference, dtype=output_dtype).tobytes() for reference in references]
    agreement = compare_outputs(outputs, expected_all)
    output, expected = outputs[0], expected_all[0]
    macs = model_macs(model)
    flash = int(built.flash_bytes or 0)
    if runtime == "native":
        native = generate(model, optimize=optimize)
        arena, activations, io_bytes = native.arena_bytes + native.io_bytes, native.arena_bytes, native.io_bytes
        model_flash = native.weights_bytes
    else:  # TFLM's arena holds every tensor, inputs and outputs included; its model is the flatbuffer
        arena = activations = int(built.tflm_arena_bytes or 0)
        io_bytes, model_flash = 0, len(model_bytes)
    emulated = ticks.unit == "instructions"
    instructions = int(round(ticks.per_inference)) if emulated else None
    return BenchResult(
        board=board.name, model=model_path.name, runtime=runtime, unit=ticks.unit,
        instructions_per_inference=instructions, macs=macs,
        instructions_per_mac=round(instructions / macs, 3) if instructions is not None and macs else None,
        cycles_per_inference=int(round(ticks.per_inference)) if ticks.unit == "cycles" else None,
        microseconds_per_inference=(None if emulated else
                                    round(ticks.per_inference / ticks.ticks_per_second * 1e6, 1)),
        arena_bytes=arena, activation_arena_bytes=activations,
        io_bytes=io_bytes, ram_bytes=int(built.ram_bytes or 0), flash_bytes=flash,
        runtime_flash_bytes=flash - model_flash, model_flash_bytes=model_flash,
        bit_exact=agreement.equal == agreement.samples, output_hex=output.hex(), tflm_output_hex=expected.hex(),
        samples=agreement.samples, samples_equal=agreement.equal, differing_samples=agreement.differing,
        sample_outputs=[{"device": mine.hex(), "tflm": theirs.hex()} for mine, theirs in zip(outputs, expected_all)],
        layers=(layer_table(model, runtime, measured_steps, ticks) if measured_steps is not None else None),
        memory=memory, build_dir=str(build_dir) if build_dir is not None else None, monitor=monitor,
        projected_cycles=projection, optimize=optimize)


def _memory(built, board: Board, runtime: str) -> dict | None:
    """The firmware's memory map, when its link left a map file (None otherwise: e.g. a real board's
    project built by an older tinyedge)."""
    from .memory_map import find_map, read_memory_map
    elf = getattr(built, "elf", None)
    if elf is None or find_map(elf) is None:
        return None
    return read_memory_map(elf, project=built.project, runtime=runtime, board=board).to_json()


def layer_table(model: TFLiteModel, runtime: str, measured: list, ticks) -> dict:
    """The per-step table of one inference: the generation's steps (tinyedge.layers) joined with what
    the firmware measured, each step's time in the board's unit (ticks x instructions per tick), its
    share of the sum, its time per MAC, and the sum against the whole inference."""
    from .layers import layer_rows
    return layer_table_of(layer_rows(model_steps(model, runtime), measured), ticks)


def model_steps(model: TFLiteModel, runtime: str) -> list:
    """The steps a layer build of `runtime` reports (tinyedge.layers.StepInfo, te-layers' order)."""
    if runtime == "native":
        from .codegen import generate
        return generate(model).steps
    from .layers import tflm_steps
    return tflm_steps(model)


def layer_table_of(layer_rows: list, ticks) -> dict:
    """layer_table's dict from tinyedge.layers' rows and the inference's te-ticks (validate's too)."""
    scale = ticks.instructions_per_tick if ticks.unit == "instructions" else 1
    rows = []
    for row in layer_rows:
        step = row.step
        rows.append({"step": step.index, "op": step.opcode, "layer": step.layer, "shape": list(step.shape),
                     "macs": step.macs, "time": row.ticks * scale, "crc": f"{row.crc:08x}"})
    total = sum(row["time"] for row in rows)
    for row in rows:
        row["share"] = round(row["time"] / total, 6) if total else 0.0
        row["time_per_mac"] = round(row["time"] / row["macs"], 6) if row["macs"] else None
    whole = ticks.per_inference
    return {"unit": ticks.unit, "rows": rows, "sum": total, "whole": whole,
            "sum_to_whole": round(total / whole, 6) if whole else None}


def _latency_lines(result: BenchResult) -> list[str]:
    if result.instructions_per_inference is not None:
        per_mac = (f"{result.instructions_per_mac:.2f} per MAC ({result.macs:,} MACs)" if result.macs
                   else "no MACs")
        return [f"  instructions per inference  {result.instructions_per_inference:,}  ({per_mac})"]
    lines = []
    if result.cycles_per_inference is not None:
        per_mac = f" ({result.cycles_per_inference / result.macs:.2f} per MAC)" if result.macs else ""
        lines.append(f"  cycles per inference        {result.cycles_per_inference:,}{per_mac}")
    lines.append(f"  time per inference          {result.microseconds_per_inference:,.1f} us")
    return lines


def report_lines(result: BenchResult) -> list[str]:
    return [
        f"{result.model} on {result.board}, {result.runtime} runtime"
        + (", optimized for size" if result.optimize == "size" else "")
        + (", with the model monitor" if result.monitor else ""),
        *_latency_lines(result),
        f"  arena                       {result.arena_bytes:,} B (activations {result.activation_arena_bytes:,} B"
        f" + input/output {result.io_bytes:,} B)",
        f"  RAM (data + bss)            {result.ram_bytes:,} B",
        f"  flash                       {result.flash_bytes:,} B total, {result.runtime_flash_bytes:,} B "
        f"without the model's {result.model_flash_bytes:,} B of weights",
        f"  bit-exact with TFLM         {'yes' if result.bit_exact else 'NO'}"
        + ("" if result.output_hex == result.tflm_output_hex else
           f" (device {result.output_hex}, TFLM {result.tflm_output_hex})"),
        f"  outputs equal to TFLM       {result.samples_equal}/{result.samples} equal"
        + (f" (inputs {', '.join(map(str, result.differing_samples))} differ)" if result.differing_samples else ""),
        *(layer_lines(result.layers) if result.layers else []),
        *(memory_lines(result.memory) if result.memory else []),
        *(_cycle_lines(result.projected_cycles) if result.projected_cycles else []),
    ]


def _cycle_lines(projection: dict) -> list[str]:
    return [f"  projected cycles (M4)       {projection['cycles']:,} at 0 wait states, "
            f"{projection['cycles_with_wait_states']:,} at {projection['wait_states']} "
            f"({projection['refills']:,} pipeline refills; P = {projection['refill_cycles']}, divide "
            f"{projection['divide_cycles']}: docs/performance.md)"]


def _unit_name(unit: str) -> str:
    return {"us": "µs"}.get(unit, unit)


def _per_mac(value: float) -> str:
    return f"{value:.2f}" if value >= 0.1 else f"{value:.2g}"


def layer_lines(table: dict) -> list[str]:
    """The per-layer table: op, layer, output shape, MACs, time, share, time per MAC; then the sum of
    the steps against the whole inference."""
    unit = _unit_name(table["unit"])
    lines = [f"  per layer (first input; time in {unit}):",
             f"    {'#':>3} {'op':<18} {'layer':<28} {'output':<16} {'MACs':>12} {'time':>12} {'share':>7} "
             f"{'per MAC':>8}"]
    for row in table["rows"]:
        shape = "x".join(str(d) for d in row["shape"])
        per_mac = "-" if row["time_per_mac"] is None else _per_mac(row["time_per_mac"])
        lines.append(f"    {row['step']:>3} {row['op'][:18]:<18} {row['layer'][:28]:<28} {shape[:16]:<16} "
                     f"{row['macs']:>12,} {row['time']:>12,} {row['share']:>7.1%} {per_mac:>8}")
    ratio = table["sum_to_whole"]
    lines.append(f"    {'':>3} {'sum of the steps':<47} {'':<16} {sum(r['macs'] for r in table['rows']):>12,} "
                 f"{table['sum']:>12,} " + (f"{ratio:.2%} of the whole inference ({table['whole']:,.0f} {unit})"
                                            if ratio is not None else ""))
    return lines


def memory_lines(memory: dict) -> list[str]:
    labels = memory["labels"]
    flash = ", ".join(f"{labels[k]} {v:,}" for k, v in memory["flash"].items() if v)
    ram = ", ".join(f"{labels[k]} {v:,}" for k, v in memory["ram"].items() if v)
    return [f"  flash by share (B)          {flash}", f"  RAM by share (B)            {ram}"]


# The side-by-side table: (label, BenchResult field, unit); the ratio is native / TFLM (below 1: native
# needs less).
COMPARED = (("instructions per inference", "instructions_per_inference", ""),
            ("cycles per inference", "cycles_per_inference", ""),
            ("time per inference", "microseconds_per_inference", "us"),
            ("arena", "arena_bytes", "B"),
            ("runtime flash", "runtime_flash_bytes", "B"),
            ("total flash", "flash_bytes", "B"),
            ("RAM (data + bss)", "ram_bytes", "B"))


def _ratios(native: BenchResult, tflm: BenchResult) -> dict[str, float | None]:
    ratios = {}
    for _label, field, _unit in COMPARED:
        mine, theirs = getattr(native, field), getattr(tflm, field)
        if mine is not None and theirs is not None:
            ratios[field] = round(mine / theirs, 3) if theirs else None
    return ratios


def _pair(results: list[BenchResult]) -> tuple[BenchResult, BenchResult]:
    by_runtime = {result.runtime: result for result in results}
    return by_runtime["native"], by_runtime["tflm"]


def comparison_json(results: list[BenchResult]) -> dict:
    """`bench --runtime both --json`: each runtime's figures and the ratios native / TFLM."""
    native, tflm = _pair(results)
    return {"board": native.board, "model": native.model, "native": native.to_json(), "tflm": tflm.to_json(),
            "ratio_native_to_tflm": _ratios(native, tflm),
            "same_output": native.output_hex == tflm.output_hex}


def comparison_lines(results: list[BenchResult]) -> list[str]:
    """One table, a row per figure: native, TFLM, native / TFLM."""
    native, tflm = _pair(results)
    ratios = _ratios(native, tflm)
    lines = [f"{native.model} on {native.board}, native and TFLM side by side (same input)",
             f"  {'':<28} {'native':>14} {'tflm':>14} {'native/tflm':>12}"]
    for label, field, unit in COMPARED:
        mine, theirs = getattr(native, field), getattr(tflm, field)
        if mine is None and theirs is None:
            continue
        show = (lambda value: "-" if value is None else f"{value:,}{' ' + unit if unit else ''}")
        ratio = ratios.get(field)
        lines.append(f"  {label:<28} {show(mine):>14} {show(theirs):>14} "
                     f"{'-' if ratio is None else f'{ratio:.2f}':>12}")
    exact = lambda result: "yes" if result.bit_exact else "NO"  # noqa: E731
    lines.append(f"  {'bit-exact with host TFLM':<28} {exact(native):>14} {exact(tflm):>14}")
    if native.macs:
        lines.append(f"  ({native.macs:,} MACs; native and TFLM outputs "
                     f"{'identical' if native.output_hex == tflm.output_hex else 'DIFFER'})")
    return lines
