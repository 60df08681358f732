"""Projected Cortex-M4 cycles of one inference, from the instruction stream QEMU executed.

QEMU under -icount counts instructions, never cycles. `trace_inference` runs the firmware once more with
QEMU's `-d in_asm,exec,nochain` log, which gives every translated block's instructions and every block
executed, in order. The stream between the two timer reads that bracket `infer 1 0`'s timed loop
(te_port_ticks, the same reads te-ticks counts between) is one inference. `project_m4` prices each
instruction with the Cortex-M4 Technical Reference Manual's cycle table (r0p1, Table 3-1, and the FPU's
table in chapter 7), zero wait states:
- Neighbouring single loads and stores pipeline, so the second and later of a run cost 1.
- A taken branch (the next block does not start after it) costs 1 + P.
- With `wait_states` W, every pipeline refill also waits W cycles for the fetch from flash.
  Sequential fetches are taken as hidden by the prefetcher, and data loads from flash as cached.

The limits are in docs/performance.md. P (1 to 3 in the manual) and the divide time (2 to 12) depend on
what the trace does not show, so they are parameters: REFILL and DIVIDE, in the middle of their ranges.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REFILL = 2          # P: pipeline refill, 1 to 3 cycles in the manual
DIVIDE = 7          # SDIV/UDIV: 2 to 12 cycles, early termination depending on the operands
CONDITIONS = ("eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al")

_INSTRUCTION = re.compile(r"^0x([0-9a-f]+):\s+((?:[0-9a-f]{4} ){1,2})\s*(\S+)\s*(.*)$")
_EXECUTED = re.compile(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/[0-9a-f]+/([0-9a-f]+)\]")
_REWOUND = re.compile(r"^cpu_io_recompile: rewound execution of TB to ([0-9a-f]+)")


@dataclass(frozen=True)
class Instruction:
    address: int
    size: int           # bytes: 2 or 4
    mnemonic: str       # as QEMU prints it: "ldr.w", "bne", "smlad"
    operands: str

    @property
    def base(self) -> str:
        """The operation without width qualifier, flag-setting 's' kept: "ldr", "b", "smlad"."""
        return self.mnemonic.split(".")[0]


def executed_blocks(log_lines):
    """The blocks QEMU executed, in order, each the list of its instructions that ran. A block
    translated just before it runs is bound to its (pc, cflags); a block rewound at an I/O access
    ('cpu_io_recompile') keeps the instructions before the rewind point."""
    translations: dict[tuple[int, str], list[Instruction]] = {}
    pending: list[Instruction] = []
    last: list[Instruction] | None = None
    for line in log_lines:
        found = _INSTRUCTION.match(line)
        if found:
            address, words, mnemonic, operands = found.groups()
            pending.append(Instruction(int(address, 16), len(words.split()) * 2, mnemonic, operands.strip()))
            continue
        found = _EXECUTED.match(line)
        if found:
            pc, cflags = int(found.group(1), 16), found.group(2)
            if pending and pending[0].address == pc:
                translations[(pc, cflags)] = pending
            pending = []
            if last is not None:
                yield last
            last = translations.get((pc, cflags))
            if last is None:
                raise ValueError(f"QEMU executed a block at {pc:#x} whose translation the log does not hold")
            continue
        found = _REWOUND.match(line)
        if found and last is not None:
            stop = int(found.group(1), 16)
            last = [instruction for instruction in last if instruction.address < stop]
        elif line.startswith("IN:"):   # a translation starts
            pending = []
    if last is not None:
        yield last


def inference_stream(blocks, marker_start: int, marker_end: int) -> list[Instruction]:
    """The instructions between the last timed loop's two timer reads: the blocks after the 3rd-last
    entry into te_port_ticks ([marker_start, marker_end)) has left it, up to the 2nd-last entry.
    `infer 1 0` reads the timer four times: its two m-lap-us lines, and the two around the loop."""
    blocks = [block for block in blocks if block]   # a block rewound at its first instruction ran none
    entries = [index for index, block in enumerate(blocks) if block[0].address == marker_start]
    if len(entries) < 4:
        raise ValueError("the trace holds fewer than the four timer reads of one `infer`")
    first, second = entries[-3], entries[-2]
    start = first
    while start < second and marker_start <= blocks[start][0].address < marker_end:
        start += 1
    return [instruction for block in blocks[start:second] for instruction in block]


def _condition_free(base: str) -> str:
    """"bne" -> "b", "movlt" -> "mov", "strbeq" -> "strb": QEMU prints the condition of a branch and of
    an instruction inside an IT block as part of the mnemonic."""
    stem = base[:-2]
    if base[-2:] in CONDITIONS and (stem == "b" or stem in _KNOWN_STEMS or stem.removesuffix("s") in _KNOWN_STEMS):
        return stem
    return base


_KNOWN_STEMS = {"mov", "add", "sub", "rsb", "and", "orr", "eor", "bic", "mvn", "cmp", "cmn", "tst", "ldr", "str",
                "lsl", "lsr", "asr", "ror", "mul", "mla", "adc", "sbc", "neg", "ldrb", "strb", "ldrh", "strh",
                "vmov", "vadd", "vmul", "vsub", "uxtb", "sxtb", "usat", "ssat", "ldrsb", "ldrsh"}


def _registers(operands: str) -> int:
    """Registers in a {list}: "{r4, r5, lr}" -> 3, "{r4-r7}" -> 4, "{d8, d9}" -> 4 words."""
    found = re.search(r"\{([^}]*)\}", operands)
    if not found:
        return 1
    count = 0
    for part in found.group(1).split(","):
        part = part.strip()
        words = 2 if part.startswith("d") else 1
        if "-" in part:
            low, high = (int(re.sub(r"\D", "", side)) for side in part.split("-"))
            count += (high - low + 1) * words
        elif part:
            count += words
    return count


def _is_single_memory(base: str) -> bool:
    return (base.startswith(("ldr", "str")) and base not in ("ldrd", "strd")) or base in ("vldr", "vstr")


@dataclass
class Projection:
    cycles: int = 0
    instructions: int = 0
    refills: int = 0                                    # taken branches and other pipeline refills
    by_class: Counter = field(default_factory=Counter)  # cycles per instruction class

    def with_wait_states(self, wait_states: int) -> int:
        return self.cycles + self.refills * wait_states


def project_m4(stream: list[Instruction], refill: int = REFILL, divide: int = DIVIDE) -> Projection:
    """Cycles of `stream` on a Cortex-M4 with zero wait states (Projection.with_wait_states adds W per
    refill)."""
    result = Projection()
    previous_memory = False
    for index, instruction in enumerate(stream):
        base = _condition_free(instruction.base)
        following = stream[index + 1] if index + 1 < len(stream) else None
        taken = following is not None and following.address != instruction.address + instruction.size
        first = instruction.operands.split(",")[0].strip()
        writes_pc = first == "pc" or (base in ("pop", "ldm", "ldmia", "ldmdb") and "pc" in instruction.operands)
        cycles, kind, refills = _m4_cost(base, instruction.operands, previous_memory, taken, writes_pc, refill, divide)
        result.cycles += cycles
        result.refills += refills
        result.instructions += 1
        result.by_class[kind] += cycles
        previous_memory = _is_single_memory(base)
    return result


def _m4_cost(base: str, operands: str, previous_memory: bool, taken: bool, writes_pc: bool, refill: int,
             divide: int) -> tuple[int, str, int]:
    """(cycles, class, refills) of one instruction (TRM Table 3-1; FPU chapter 7)."""
    if base in ("b", "cbz", "cbnz"):
        return (1 + refill, "branch", 1) if taken else (1, "branch", 0)
    if base in ("bl", "blx", "bx"):
        return 1 + refill, "branch", 1
    if base in ("tbb", "tbh"):
        return 2 + refill, "branch", 1
    if base in ("push", "pop", "ldm", "ldmia", "ldmdb", "stm", "stmia", "stmdb", "vpush", "vpop", "vldmia",
                "vstmia", "vldmdb", "vstmdb", "vldm", "vstm"):
        registers = _registers(operands)
        if writes_pc:
            return 1 + registers + refill, "load/store multiple", 1
        return 1 + registers, "load/store multiple", 0
    if base in ("ldrd", "strd"):
        return 3, "load/store", 0
    if _is_single_memory(base):
        if writes_pc:
            return 2 + refill, "load/store", 1
        return (1 if previous_memory else 2), "load/store", 0
    if base in ("sdiv", "udiv"):
        return divide, "divide", 0
    if base in ("vdiv", "vsqrt"):
        return 14, "floating point", 0
    if base in ("vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"):
        return 3, "floating point", 0
    if base.startswith("v"):
        return (2 if base == "vmov" and operands.count(",") >= 2 and "r" in operands.split(",")[1] else 1,
                "floating point", 0)
    if base == "isb":
        return 1 + refill, "other", 1
    if writes_pc and base in ("mov", "add"):
        return 1 + refill, "branch", 1
    if base.startswith(("mul", "mla", "mls", "smul", "smla", "smls", "umul", "umla", "umaal", "smmul", "smmla",
                        "smmls", "smuad", "smusd", "smlad", "smlsd")):
        return 1, "multiply", 0
    return 1, "data processing", 0


def read_stream(log_path: Path, marker_start: int, marker_end: int) -> list[Instruction]:
    with Path(log_path).open(errors="replace") as log:
        return inference_stream(executed_blocks(line.rstrip("\n") for line in log), marker_start, marker_end)


MARKER = "te_port_ticks"   # firmware/port/mps2: the timer read around the timed loop


def _marker_range(elf: Path) -> tuple[int, int]:
    from elftools.elf.elffile import ELFFile

    from .errors import TinyedgeError
    with Path(elf).open("rb") as handle:
        symbols = ELFFile(handle).get_section_by_name(".symtab")
        found = symbols.get_symbol_by_name(MARKER) if symbols is not None else None
    if not found:
        raise TinyedgeError(f"{Path(elf).name} has no symbol {MARKER}, so its inference cannot be found in "
                            "the trace", "build it with tinyedge's port for the emulated board")
    start = found[0]["st_value"] & ~1   # the Thumb bit
    return start, start + found[0]["st_size"]


@dataclass(frozen=True)
class TracedInference:
    stream: list[Instruction]
    counted_instructions: int   # what te-ticks counted for the same inference (SysTick, 40-instruction steps)


def trace_inference(board, elf: Path, data: bytes, folder: Path) -> TracedInference:
    """Runs `elf` on the emulated `board` with QEMU's execution log in `folder`, sends `data` and runs
    `infer 1 0`; the inference's instruction stream and the instructions te-ticks counted."""
    from .device.protocol import DeviceClient
    from .device.transport import SerialTransport
    from .emulator import run_qemu

    log = Path(folder) / "qemu-trace.log"
    with run_qemu(board, elf, trace=log) as qemu:
        with SerialTransport(qemu.url, board.serial.baud) as transport:
            client = DeviceClient(transport)
            client.connect()
            client.load(data)
            client.infer(1, 0)
            ticks = client.ticks()
    try:
        stream = read_stream(log, *_marker_range(elf))
    finally:
        log.unlink(missing_ok=True)   # hundreds of MB for a large model: only the figures are kept
    return TracedInference(stream, ticks.ticks * ticks.instructions_per_tick)


# The flash wait states of the MLPerf Tiny reference board, the STM32L4R5ZI at 120 MHz (RM0432: 5 wait
# states above 100 MHz in range 1 boost mode); bench reports the projection with 0 and with these.
REFERENCE_WAIT_STATES = 5
MODELLED_CORES = ("cortex-m4", "cortex-m4f")


def check_projectable(board) -> None:
    """One line when `board`'s core has no timing model here."""
    from .errors import TinyedgeError
    if board.core not in MODELLED_CORES:
        raise TinyedgeError(f"projected cycles are modelled for the Cortex-M4 only, and {board.name} is a "
                            f"{board.core}", "run bench --cycles on emu-m4 (the instruction count stands for the rest)")


def projected_cycles(traced: TracedInference, refill: int = REFILL, divide: int = DIVIDE) -> dict:
    """bench's figures of one traced inference (BenchResult.projected_cycles)."""
    projection = project_m4(traced.stream, refill, divide)
    return {"core": "cortex-m4", "cycles": projection.cycles,
            "cycles_with_wait_states": projection.with_wait_states(REFERENCE_WAIT_STATES),
            "wait_states": REFERENCE_WAIT_STATES, "refills": projection.refills,
            "instructions_traced": projection.instructions, "instructions_counted": traced.counted_instructions,
            "refill_cycles": refill, "divide_cycles": divide,
            "cycles_by_class": dict(projection.by_class.most_common())}
