"""Projected Cortex-M4 cycles (tinyedge/cycles.py). Oracles: the rows of the Cortex-M4 Technical
Reference Manual's Table 3-1 typed in here, QEMU's own log lines, and the SysTick count of the same
inference (the traced stream must hold the instructions te-ticks counted)."""

from __future__ import annotations

import pytest

from tinyedge.cycles import Instruction, executed_blocks, inference_stream, project_m4


def _stream(*rows: tuple[str, str], taken_last: bool = False) -> list[Instruction]:
    """Instructions at consecutive addresses (4 bytes each); a final jump away when `taken_last`."""
    stream = [Instruction(0x1000 + 4 * index, 4, mnemonic, operands) for index, (mnemonic, operands) in enumerate(rows)]
    if taken_last:
        stream.append(Instruction(0x8000, 2, "nop", ""))
    return stream


@pytest.mark.parametrize("rows, taken, cycles", [
    ((("add.w", "r0, r1, r2"),), False, 1),                       # ADD 1
    ((("smlad", "r0, r1, r2, r3"),), False, 1),                   # SMLAD 1 (DSP extension)
    ((("umull", "r0, r1, r2, r3"),), False, 1),                   # UMULL 1 on the M4 (3-5 on the M3)
    ((("ldr", "r0, [r1]"),), False, 2),                           # LDR 2
    ((("ldr", "r0, [r1]"), ("ldr", "r2, [r3]"), ("str", "r2, [r4]")), False, 4),   # pipelined: 2 + 1 + 1
    ((("ldrd", "r0, r1, [r2]"),), False, 3),                      # LDRD 1 + N, N = 2
    ((("push", "{r4, r5, lr}"),), False, 4),                      # PUSH 1 + N
    ((("pop", "{r4, pc}"),), True, 1 + 2 + 2),                    # POP with PC 1 + N + P
    ((("bne", "#0x1000"),), False, 1),                            # conditional branch not taken: 1
    ((("bne", "#0x8000"),), True, 1 + 2),                         # taken: 1 + P
    ((("bl", "#0x8000"),), True, 1 + 2),                          # BL 1 + P
    ((("sdiv", "r0, r1, r2"),), False, 7),                        # SDIV 2 to 12: the middle
    ((("vmla.f32", "s0, s1, s2"),), False, 3),                    # VMLA 3
    ((("vdiv.f32", "s0, s1, s2"),), False, 14),                   # VDIV 14
    ((("movlt", "r0, #1"),), False, 1),                           # conditional inside an IT block
])
def test_each_instruction_costs_what_the_m4_manual_says(rows, taken, cycles):
    stream = _stream(*rows, taken_last=taken)
    projection = project_m4(stream)
    assert projection.cycles - (1 if taken else 0) == cycles     # the trailing nop costs 1


def test_wait_states_add_to_every_refill():
    stream = _stream(("bne", "#0x8000"), taken_last=True)
    projection = project_m4(stream)
    assert (projection.refills, projection.with_wait_states(5) - projection.cycles) == (1, 5)


# QEMU 7.2's `-d in_asm,exec,nochain` lines, as it prints them (cut from a real log of emu-m4): a block
# translated, run, run again; one rewound at an I/O access, whose instructions before it did run.
QEMU_LOG = """\
----------------
IN: te_port_ticks
0x00000344:  b510       push     {r4, lr}
0x00000346:  f3ef 8c10  mrs      ip, primask
0x0000034a:  b672       cpsid    i

Trace 0: 0x7f19f800a140 [00800408/00000344/00000010/ff020200] te_port_ticks
----------------
IN: te_port_ticks
0x0000034c:  f04f 21e0  mov.w    r1, #-0x1fff2000
0x00000350:  4b0b       ldr      r3, [pc, #0x2c]
0x00000352:  e9d3 2300  ldrd     r2, r3, [r3]
0x00000356:  6988       ldr      r0, [r1, #0x18]

Trace 0: 0x7f19f800a380 [00800408/0000034c/00000010/ff020200] te_port_ticks
cpu_io_recompile: rewound execution of TB to 00000356
----------------
IN: te_port_ticks
0x00000356:  6988       ldr      r0, [r1, #0x18]

Trace 0: 0x7f19f800a6c0 [00800408/00000356/00000010/ff038201] te_port_ticks
Trace 0: 0x7f19f800a140 [00800408/00000344/00000010/ff020200] te_port_ticks
"""


def test_the_qemu_log_gives_the_blocks_as_they_ran():
    blocks = list(executed_blocks(QEMU_LOG.splitlines()))
    addresses = [[instruction.address for instruction in block] for block in blocks]
    assert addresses == [[0x344, 0x346, 0x34A], [0x34C, 0x350, 0x352], [0x356], [0x344, 0x346, 0x34A]]
    assert [instruction.size for instruction in blocks[1]] == [4, 2, 4]


def test_the_window_is_between_the_two_timer_reads_around_the_loop():
    def block(address):
        return [Instruction(address, 2, "nop", "")]
    ticks, loop = 0x344, 0x2000
    # timestamp read, start read, the loop's two blocks, end read, timestamp read
    blocks = [block(ticks), block(0x100), block(ticks), block(ticks + 2), block(loop), block(loop + 2),
              block(ticks), block(0x100), block(ticks)]
    stream = inference_stream(blocks, ticks, ticks + 0x40)
    assert [instruction.address for instruction in stream] == [loop, loop + 2]


@pytest.mark.emulated
def test_the_traced_inference_holds_what_systick_counted(perf_zoo, tmp_path):
    from tinyedge import api
    model = perf_zoo.get("small_cnn_pertensor")
    if model is None:
        pytest.skip("the zoo has no small_cnn_pertensor")
    result = api.measure("emu-m4", model, samples=1, cycles=True, build_dir=tmp_path)
    projected = result.projected_cycles
    # SysTick counts in steps of 40 instructions, and the window starts and ends a few instructions
    # inside the timer reads.
    assert abs(projected["instructions_traced"] - projected["instructions_counted"]) <= 80
    # the traced run is another session: its tick boundaries may fall one step apart from bench's
    assert abs(projected["instructions_counted"] - result.instructions_per_inference) <= 40
    assert projected["cycles"] >= projected["instructions_traced"]       # no instruction below 1 cycle
    assert projected["cycles_with_wait_states"] == projected["cycles"] + 5 * projected["refills"]


def test_cycles_on_a_board_without_a_timing_model_is_one_line(tinyedge_cli, tmp_path):
    model = tmp_path / "missing.tflite"
    result = tinyedge_cli("bench", "--board", "emu-m7", "--model", str(model), "--cycles", cwd=tmp_path)
    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (
        1, "error: projected cycles are modelled for the Cortex-M4 only, and emu-m7 is a cortex-m7 (run bench "
           "--cycles on emu-m4 (the instruction count stands for the rest))")
