"""The footprint model: the flash and RAM a firmware needs, one model per runtime.

After a compile the ELF's figures are the truth (`measured`), and budgets are checked against them.
Before one (a real board whose PlatformIO platform is not installed, `inspect --board`), `estimate`
gives the chosen runtime's figures, always labelled as an estimate:

- native: the exact bytes of the constant arrays and parameter structs the generator emitted (counted
  from their element types and lengths, codegen/params.py), the invoke function (a few bytes per kernel
  call), each kernel function's code for the board's core, and tinyedge's own firmware (protocol,
  port, start-up, the C library bits it links) as measured on the emulated boards. On an emulated
  board it matches the ELF to within about 1% (benchmarks/footprint_estimates.py prints the
  comparison); on a real board it counts tinyedge's code and data only, so the board's framework
  (Arduino core, RTOS, stack) comes on top and the estimate never refuses a model that fits.
- tflm: the model's flatbuffer, the arena, and TFLM's interpreter with its reference kernels as
  measured on emulated Cortex-M4 (../shared/reference/tflm-emulated-m4.json), taken as a lower bound
  (CMSIS-NN's kernels add about 7 KB each), plus tinyedge's own firmware.

The tables below are measurements; `measure_kernel_code` re-measures the kernels with
arm-none-eabi-gcc (a test compares it with the table, `python benchmarks/footprint_estimates.py
--measure` prints fresh tables).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .boards import Board
from .errors import TinyedgeError

if TYPE_CHECKING:
    from .codegen import GeneratedRuntime
    from .project.bundle import ModelBundle
    from .project.render import ProjectPlan

# Code of each native kernel function with what it pulls in (static helpers, libgcc), bytes, built
# with -O2 -ffunction-sections and linked with --gc-sections like the firmware, for each core
# (measure_kernel_code; columns in the order of KERNEL_CORES). memcpy/memset are counted in the
# firmware's own code, which links them anyway.
KERNEL_CORES = ("cortex-m4f", "cortex-m7", "cortex-m55", "cortex-m3", "cortex-m0plus")
KERNEL_CODE_BYTES: dict[str, tuple[int, ...]] = {
    "te_relu_s8": (220, 212, 220, 220, 336),
    "te_clamp_s8": (60, 60, 56, 56, 40),
    "te_logistic_s8": (1284, 1308, 1348, 1276, 1660),
    "te_tanh_s8": (1284, 1304, 1344, 1272, 1656),
    "te_softmax_s8": (1560, 1584, 1636, 1568, 2020),
    "te_log_softmax_s8": (3096, 3104, 3216, 3072, 3812),
    "te_conv2d_s8": (624, 628, 648, 628, 1280),
    "te_depthwise_conv2d_s8": (628, 600, 604, 600, 700),
    "te_conv_fast_s8": (3460, 3480, 3524, 3944, 4860),
    "te_conv_packed_s8": (3600, 3620, 3716, 4268, 5476),
    "te_depthwise3x3_fast_s8": (1332, 1320, 1320, 1440, 1904),
    "te_add_s8": (580, 580, 592, 588, 712),
    "te_mul_s8": (400, 396, 396, 396, 512),
    "te_fully_connected_s8": (336, 332, 344, 336, 496),
    "te_fully_connected_fast_s8": (676, 680, 704, 856, 1160),
    "te_fully_connected_packed_s8": (752, 720, 752, 860, 1168),
    "te_copy": (16, 16, 16, 16, 20),
    "te_pad_s8": (220, 224, 236, 220, 220),
    "te_concatenation_s8": (80, 80, 80, 80, 88),
    "te_space_to_batch_s8": (216, 232, 204, 200, 712),
    "te_batch_to_space_s8": (200, 204, 204, 192, 720),
    "te_average_pool_s8": (400, 396, 380, 400, 904),
    "te_max_pool_s8": (360, 356, 356, 336, 408),
    "te_quantize_f32_s8": (144, 132, 136, 1120, 1472),
    "te_dequantize_s8_f32": (1724, 64, 60, 1724, 2084),
    "te_requantize_s8": (208, 208, 216, 212, 348),
    "te_mean_s8": (492, 476, 512, 488, 616),
    "te_sub_s8": (676, 656, 676, 672, 816),
    "te_squared_difference_s8": (668, 660, 672, 676, 828),
    "te_maximum_s8": (244, 240, 240, 240, 248),
    "te_minimum_s8": (244, 240, 240, 240, 248),
    "te_prelu_s8": (524, 516, 524, 516, 648),
    "te_hard_swish_s8": (576, 588, 620, 576, 628),
    "te_leaky_relu_s8": (408, 356, 428, 412, 580),
    "te_rsqrt_s8": (1004, 996, 1036, 1000, 1180),
    "te_l2_normalization_s8": (940, 952, 992, 944, 1112),
    "te_arg_max_s8": (184, 180, 172, 176, 212),
    "te_arg_min_s8": (184, 180, 172, 176, 212),
    "te_strided_copy_s8": (220, 216, 220, 220, 248),
    "te_gather_s8": (96, 84, 92, 92, 96),
    "te_resize_nearest_s8": (136, 144, 148, 128, 148),
    "te_resize_bilinear_s8": (348, 336, 336, 344, 368),
    "te_transpose_conv_s8": (652, 640, 648, 652, 1260),
    "te_batch_matmul_s8": (348, 384, 352, 332, 532),
    "te_lstm_s8": (1928, 1960, 2012, 1920, 2180),
    "te_svdf_s8": (764, 804, 780, 768, 908),
}
UNKNOWN_KERNEL_BYTES = 1024          # a kernel function the table does not know yet

# The generated invoke function: a frame plus the loads and the branch of each kernel call (measured
# on the MLPerf Tiny models and digits: 120-728 B for 3-30 calls).
INVOKE_CODE_BYTES = 48
INVOKE_CALL_BYTES = 24

# tinyedge's own firmware besides the model on each emulated board (protocol, its number formatting,
# the model adapter, port, start-up, fault handler, the newlib-nano and libgcc functions they link),
# flash and RAM (statics; the stack reservation is counted on its own): the ELF minus the model's
# arrays, the invoke function and the kernels, for digits and the MLPerf Tiny models (the mean; they
# spread over ±60 B with the model's name and the invoke function's exact code).
FIRMWARE_FLASH_BYTES = {"emu-m4": 10_920, "emu-m7": 10_990, "emu-m3": 11_290, "emu-m55": 11_130}
FIRMWARE_RAM_BYTES = {"emu-m4": 1_384, "emu-m7": 1_384, "emu-m3": 1_384, "emu-m55": 1_648}
# On a real board the framework brings the serial port, start-up and C library: tinyedge adds the
# protocol, its formatting and the adapter (te_protocol.o + te_format.o + te_adapter.o on emu-m4).
PROTOCOL_FLASH_BYTES = 7_280
PROTOCOL_RAM_BYTES = 113

# TFLM with its reference kernels on emulated Cortex-M4 (../shared/reference/tflm-emulated-m4.json,
# flash minus the model and the stored input): 34.5 KB with 1 kernel (ad), 59.6 KB with 6 (kws, vww),
# 63.7 KB with 6 (ic); the line below stays under every one of them. Its statics besides the arena:
# 0.7 KB.
TFLM_FLASH_BYTES = 24 * 1024
TFLM_FLASH_PER_KERNEL = 5 * 1024
TFLM_RAM_BYTES = 700

MEASURED = "measured in the ELF"


@dataclass(frozen=True)
class Footprint:
    """Flash and RAM of one firmware: the ELF's (measured) or an estimate before the compile."""
    runtime: str                   # "native" or "tflm"
    flash_bytes: int
    ram_bytes: int
    measured: bool
    basis: str                     # what the figures count, one phrase

    @property
    def label(self) -> str:
        """The words that follow every figure in a message."""
        return MEASURED if self.measured else f"estimated for the {self.runtime} runtime before the compile"

    def to_json(self) -> dict:
        return {"runtime": self.runtime, "source": "elf" if self.measured else "estimate",
                "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes, "basis": self.basis}


@dataclass
class BoardFit:
    """A footprint against a board (or smaller budgets): what `inspect --board` shows."""
    board: str
    runtime: str
    flash_needed: int
    flash_available: int
    flash_margin: int
    ram_needed: int
    ram_available: int
    ram_margin: int
    fits: bool
    source: str                    # "estimate" or "elf"
    estimate: str                  # what the figures count

    def to_json(self) -> dict:
        return asdict(self)


def _align(value: int, to: int = 4) -> int:
    return (value + to - 1) // to * to


def _kernel_column(board: Board) -> int:
    return KERNEL_CORES.index(board.core) if board.core in KERNEL_CORES else 0


def kernel_calls(generated: "GeneratedRuntime") -> list[str]:
    """The kernel functions the generated invoke function calls, in order (repeats included)."""
    return generated.kernel_calls


def _firmware_figures(board: Board) -> tuple[int, int, int, str]:
    """(flash, RAM statics, stack reservation, what they count) of tinyedge's firmware on the board: its
    target's (an emulated board's are measured whole; a real board's framework comes on top)."""
    from .targets import for_board
    figures = for_board(board).firmware_figures()
    return figures.flash_bytes, figures.ram_bytes, figures.stack_bytes, figures.what


def native_estimate(generated: "GeneratedRuntime", board: Board, input_bytes: int,
                    output_bytes: int) -> Footprint:
    """The native runtime's firmware before the compile, from what the generator emitted."""
    column = _kernel_column(board)
    calls = kernel_calls(generated)
    kernels = sum(KERNEL_CODE_BYTES[name][column] if name in KERNEL_CODE_BYTES else UNKNOWN_KERNEL_BYTES
                  for name in sorted(set(calls)))
    data = generated.weights_bytes + generated.params_bytes
    code = INVOKE_CODE_BYTES + INVOKE_CALL_BYTES * len(calls) + kernels
    firmware_flash, firmware_ram, stack, what = _firmware_figures(board)
    ram = _align(generated.arena_bytes, 16) + _align(input_bytes + output_bytes) + firmware_ram + stack
    core = board.core if board.core in KERNEL_CORES else f"{KERNEL_CORES[0]} (no table for {board.core})"
    basis = (f"the generated arrays ({data:,} B), the invoke and {core} kernel code ({code:,} B), the "
             f"arena and I/O buffers, and {what}")
    return Footprint("native", data + code + firmware_flash, ram, False, basis)


def tflm_estimate(model_bytes: int, arena_bytes: int, kernels: int, board: Board) -> Footprint:
    """The TFLM runtime's firmware before the compile (a lower bound: reference kernels' size)."""
    firmware_flash, firmware_ram, stack, what = _firmware_figures(board)
    flash = _align(model_bytes, 16) + TFLM_FLASH_BYTES + TFLM_FLASH_PER_KERNEL * kernels + firmware_flash
    ram = _align(arena_bytes, 16) + TFLM_RAM_BYTES + firmware_ram + stack
    basis = (f"the model, TFLM with {kernels} reference kernel(s) ({TFLM_FLASH_BYTES // 1024} KB + "
             f"{TFLM_FLASH_PER_KERNEL // 1024} KB each as measured on emulated Cortex-M4; CMSIS-NN's add "
             f"about 7 KB each), the arena, and {what}")
    return Footprint("tflm", flash, ram, False, basis)


def _with_further_models(first: Footprint, plan: "ProjectPlan", board: Board) -> Footprint:
    """The first model's estimate plus each further model's arrays, invoke code, kernels not counted yet
    and I/O buffers; one arena, the largest (they share it)."""
    column = _kernel_column(board)
    counted = set(kernel_calls(plan.native))
    flash, ram = first.flash_bytes, first.ram_bytes - _align(plan.native.arena_bytes, 16)
    for model in plan.further:
        calls = kernel_calls(model.native)
        new_kernels = sorted(set(calls) - counted)
        counted |= set(calls)
        flash += model.native.weights_bytes + model.native.params_bytes + INVOKE_CODE_BYTES + \
            INVOKE_CALL_BYTES * len(calls) + sum(KERNEL_CODE_BYTES[name][column] if name in KERNEL_CODE_BYTES
                                                 else UNKNOWN_KERNEL_BYTES for name in new_kernels)
        ram += _align(model.bundle.input.nbytes + model.bundle.output.nbytes)
    ram += _align(plan.arena_bytes, 16)
    return Footprint("native", flash, ram, False,
                     f"{first.basis}, for {1 + len(plan.further)} models sharing one arena")


def estimate_plan(bundle: "ModelBundle", plan: "ProjectPlan", board: Board) -> Footprint:
    """The estimate for a planned firmware project, for the runtime the plan chose."""
    if plan.runtime.kind == "native":
        first = native_estimate(plan.native, board, bundle.input.nbytes, bundle.output.nbytes)
        return _with_further_models(first, plan, board) if plan.further else first
    return tflm_estimate(len(bundle.model_bytes), plan.tflm.arena_bytes, len(bundle.ops), board)


def estimate_model(model, board: Board, runtime: str = "auto", arena_bytes: int | None = None) -> Footprint:
    """The estimate for a parsed .tflite model on `board`, for `runtime` ("auto": the one `tinyedge
    build` would choose). `arena_bytes` is TFLM's smallest arena, for the tflm runtime."""
    from .project.runtime import choose_runtime
    choice = choose_runtime(model, runtime)
    graph = model.main
    if choice.kind == "native":
        from .codegen import generate
        try:
            generated = generate(model)
        except TinyedgeError:
            if runtime == "native":
                raise
        else:
            return native_estimate(generated, board, sum(graph.tensors[i].nbytes for i in graph.inputs),
                                   sum(graph.tensors[i].nbytes for i in graph.outputs))
    kernels = len({op.opcode for op in graph.operators})
    return tflm_estimate(len(model.raw), arena_bytes or 0, kernels, board)


def measured(runtime: str, flash_bytes: int, ram_bytes: int) -> Footprint:
    return Footprint(runtime, flash_bytes, ram_bytes, True, "the compiled firmware (text + data, data + bss)")


def limits(board: Board, max_flash: int = 0, max_ram: int = 0) -> tuple[tuple[int, str], tuple[int, str]]:
    """((flash limit, its name), (RAM limit, its name)): the budget where one is set and smaller than
    the board, else the board's own figure."""
    flash = ((max_flash, "budgets.max_flash") if max_flash and max_flash <= board.flash_bytes
             else (board.flash_bytes, f"the flash of {board.name}"))
    ram = ((max_ram, "budgets.max_ram") if max_ram and max_ram <= board.ram_bytes
           else (board.ram_bytes, f"the RAM of {board.name}"))
    return flash, ram


def fit(footprint: Footprint, board: Board, max_flash: int = 0, max_ram: int = 0) -> BoardFit:
    (flash_limit, _), (ram_limit, _) = limits(board, max_flash, max_ram)
    return BoardFit(board.name, footprint.runtime, footprint.flash_bytes, flash_limit,
                    flash_limit - footprint.flash_bytes, footprint.ram_bytes, ram_limit,
                    ram_limit - footprint.ram_bytes,
                    footprint.flash_bytes <= flash_limit and footprint.ram_bytes <= ram_limit,
                    "elf" if footprint.measured else "estimate", footprint.basis)


def problems(footprint: Footprint, board: Board, max_flash: int = 0,
             max_ram: int = 0) -> list[tuple[str, str]]:
    """(phrase, name of the limit) for each figure over its limit; the phrase holds the figure, its
    label and the limit."""
    (flash_limit, flash_name), (ram_limit, ram_name) = limits(board, max_flash, max_ram)
    found = []
    if footprint.flash_bytes > flash_limit:
        found.append((f"flash {footprint.flash_bytes:,} B ({footprint.label}) exceeds {flash_name} "
                      f"{flash_limit:,} B", flash_name))
    if footprint.ram_bytes > ram_limit:
        found.append((f"RAM {footprint.ram_bytes:,} B ({footprint.label}) exceeds {ram_name} "
                      f"{ram_limit:,} B", ram_name))
    return found


def check(footprint: Footprint, board: Board, max_flash: int = 0, max_ram: int = 0,
          kept: Path | str | None = None) -> None:
    """A TinyedgeError naming each figure and its limit when the firmware misses one: "budget not
    met: flash 29,516 B (measured in the ELF) exceeds budgets.max_flash 29,515 B (...)"."""
    found = problems(footprint, board, max_flash, max_ram)
    if not found:
        return
    budgets = sorted({name for _, name in found if name.startswith("budgets.")})
    head = "budget not met" if budgets else f"the firmware does not fit {board.name}"
    hint = ("make the student smaller (student.width, student.depth), prune and cluster, or "
            + (f"raise {' and '.join(budgets)}" if budgets else "use a board with more memory"))
    if not footprint.measured:
        hint += f"; {footprint.basis}"
    if kept is not None:
        hint += f"; the artifacts are kept in {kept}"
    raise TinyedgeError(f"{head}: {'; '.join(phrase for phrase, _ in found)}", hint)


# -- measuring the kernel table ---------------------------------------------------------------------

def kernel_functions(kernel_dir: Path | None = None) -> dict[str, Path]:
    """Every kernel function of firmware/native (name -> its source file)."""
    if kernel_dir is None:
        from .codegen import KERNEL_DIR as kernel_dir
    found = {}
    for source in sorted(Path(kernel_dir).glob("*.c")):
        for name in re.findall(r"^void (te_[a-z0-9_]+)\(", source.read_text(), re.MULTILINE):
            found[name] = source
    return found


def measure_kernel_code(board: Board, names: list[str] | None = None) -> dict[str, int]:
    """Bytes of each kernel function and what it pulls in, compiled for `board`'s core with the
    firmware's flags (-O2, function sections, --gc-sections) and linked with the function as entry.
    Needs arm-none-eabi-gcc."""
    if shutil.which("arm-none-eabi-gcc") is None:
        raise TinyedgeError("arm-none-eabi-gcc is not installed", "run python3 -m tinyedge.bootstrap")
    from .elfsize import read_elf_size
    functions = kernel_functions()
    sizes = {}
    with tempfile.TemporaryDirectory(prefix="tinyedge-kernels-") as scratch:
        for name in names or list(functions):
            source = functions[name]
            elf = Path(scratch) / f"{name}.elf"
            subprocess.run(["arm-none-eabi-gcc", *board.gcc_flags(), "-O2", "-ffunction-sections",
                            "-fdata-sections", "-nostdlib", "-Wl,--gc-sections", f"-Wl,-e,{name}",
                            "-Wl,--unresolved-symbols=ignore-all", f"-I{source.parent}", str(source),
                            "-lgcc", "-o", str(elf)], check=True, capture_output=True)
            sizes[name] = read_elf_size(elf).flash_bytes
    return sizes
