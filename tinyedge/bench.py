"""`tinyedge bench`: build the firmware for a board, run one inference on it and report what it cost.

On an emulated board (QEMU under -icount shift=0) the firmware's SysTick counts instructions, so the
figures repeat to within one tick: instructions per inference = ticks x instructions per tick (40 on
mps2). On a real board the firmware is uploaded with PlatformIO and its timer gives cycles (DWT)
or microseconds (micros()); both are reported. The output is compared byte for byte with the real TFLM
interpreter (tflite_micro) on the same input.

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
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .boards import Board
from .console import say
from .errors import TinyedgeError
from .project.bundle import OUTPUT_DTYPES
from .tflite.model import TFLiteModel, parse

INFER_TIMEOUT_S = 600.0


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

    def to_json(self) -> dict:
        return asdict(self)


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
    _say(console, f"bench: running one inference on {board.name}")
    with target.open_transport(built.elf, port) as transport:
        yield transport


def build_bench_firmware(board: Board, model_path: Path, folder: Path, runtime: str = "native",
                         console: Callable[[str], None] | None = None, tflm_dir: Path | None = None):
    """The benchmark firmware of one model for `board`, generated (and compiled) under `folder`."""
    from .project.firmware import build_firmware
    _say(console, f"bench: building the {runtime} firmware for {board.name}")
    return build_firmware(board, Path(model_path), Path(folder), runtime=runtime,
                          name=Path(model_path).stem, console=console,
                          tflm_dir=tflm_dir if runtime == "tflm" else None)


def run_bench(board: Board, model_path: Path, runtime: str = "native", sample: np.ndarray | None = None,
              build_dir: Path | None = None, console: Callable[[str], None] | None = None,
              port: str | None = None, built=None, tflm_dir: Path | None = None) -> BenchResult:
    """Builds the firmware for `board` (unless `built` is that firmware, made by build_bench_firmware),
    runs one inference of `sample` on it and compares with TFLM."""
    from .codegen import generate
    from .device.protocol import DeviceClient
    from .tflite.tflm import TflmRunner

    check_bench_target(board, runtime)
    model_path = Path(model_path)
    if not model_path.is_file():
        raise TinyedgeError(f"{model_path} does not exist", "pass the .tflite file with --model")
    model_bytes = model_path.read_bytes()
    model = parse(model_bytes, source=str(model_path))
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
    sample = default_sample(model) if sample is None else np.asarray(sample, dtype=np.int8)

    with tempfile.TemporaryDirectory(prefix="tinyedge-bench-") as scratch:
        if built is None:
            folder = Path(build_dir) if build_dir is not None else Path(scratch)
            built = build_bench_firmware(board, model_path, folder, runtime, console, tflm_dir)
        with _device_transport(board, built, port, console) as transport:
            client = DeviceClient(transport, infer_timeout=INFER_TIMEOUT_S)
            client.connect()
            client.load(sample.tobytes())
            client.infer(1, 0)
            output = client.output()
            ticks = client.ticks()

    reference = TflmRunner(model_bytes).run(sample.reshape(1, *sample.shape[1:]))[0]
    expected = np.ascontiguousarray(reference, dtype=output_dtype).tobytes()   # the output's bytes
    macs = model_macs(model)
    flash = int(built.flash_bytes or 0)
    if runtime == "native":
        native = generate(model)
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
        bit_exact=output == expected, output_hex=output.hex(), tflm_output_hex=expected.hex())


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
        f"{result.model} on {result.board}, {result.runtime} runtime",
        *_latency_lines(result),
        f"  arena                       {result.arena_bytes:,} B (activations {result.activation_arena_bytes:,} B"
        f" + input/output {result.io_bytes:,} B)",
        f"  RAM (data + bss)            {result.ram_bytes:,} B",
        f"  flash                       {result.flash_bytes:,} B total, {result.runtime_flash_bytes:,} B "
        f"without the model's {result.model_flash_bytes:,} B of weights",
        f"  bit-exact with TFLM         {'yes' if result.bit_exact else 'NO'}"
        + ("" if result.bit_exact else f" (device {result.output_hex}, TFLM {result.tflm_output_hex})"),
    ]


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
