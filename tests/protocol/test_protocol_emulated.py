"""The same protocol firmware and test model, built for the emulated Cortex-M4F (QEMU mps2-an386) with
the bare-metal port, driven over QEMU's serial socket by the same client: bit-exact outputs, latency in
instructions, a HardFault detected by its marker line, and a device that stops answering.

Skipped when arm-none-eabi-gcc, QEMU or the bare-metal port and start-up code are not there.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinyedge.boards import Catalogue
from tinyedge.device.errors import DeviceCrashed, DeviceTimeout
from tinyedge.device.protocol import DeviceSession, ModelIdentity, run_samples
from tinyedge.device.transport import SerialTransport

from .conftest import INPUT_BYTES, MODEL_NAME, MODEL_SHA256, PROTOCOL, REPO, TEST_C, reference_model

pytestmark = pytest.mark.emulated

FIRMWARE = REPO / "firmware"
STARTUP = FIRMWARE / "platform" / "cortex-m"
BARE_METAL = [STARTUP, FIRMWARE / "platform" / "cmsdk", FIRMWARE / "platform" / "mps2", FIRMWARE / "port" / "mps2"]
BOARD = Catalogue.load().get("emu-m4")


@pytest.fixture(scope="module")
def emulated_firmware(tmp_path_factory) -> Path:
    missing = [str(p.relative_to(REPO)) for p in BARE_METAL if not any(p.glob("*.[ch]"))]
    if missing:
        pytest.skip(f"the bare-metal port is not in this checkout ({', '.join(missing)})")
    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    pytest.importorskip("tinyedge.emulator", reason="tinyedge/emulator.py (the QEMU launcher) is not there")
    elf = tmp_path_factory.mktemp("emulated") / "protocol.elf"
    sources = [*STARTUP.glob("*.c"), *(FIRMWARE / "port" / "mps2").glob("*.c"), *PROTOCOL.glob("*.c"),
               TEST_C / "test_model.c"]
    command = ["arm-none-eabi-gcc", *BOARD.gcc_flags(), "-std=c99", "-O2", "-Wall",
               "-ffunction-sections", "-fdata-sections", "-DTINYEDGE_EMULATED",
               f"-I{FIRMWARE / 'port'}", *(f"-I{p}" for p in BARE_METAL[:3]), f"-I{PROTOCOL}",
               *map(str, sources), "--specs=nano.specs", "-nostartfiles", "-Wl,--gc-sections",
               f"-L{STARTUP}", f"-T{FIRMWARE / 'platform' / 'mps2' / 'mps2.ld'}", "-lm", "-o", str(elf)]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return elf


def samples(count: int) -> list[bytes]:
    return [np.random.default_rng(200 + i).integers(-128, 128, INPUT_BYTES, dtype=np.int8).tobytes()
            for i in range(count)]


def fault_switch(kind: int) -> bytes:
    return bytes([0x7F, kind]) + bytes(INPUT_BYTES - 2)


def run_on_qemu(elf: Path, inputs: list[bytes], infer_timeout: float = 5.0):
    from tinyedge.emulator import run_qemu

    with run_qemu(BOARD, elf) as qemu:
        with DeviceSession(lambda: SerialTransport(qemu.url), expected=ModelIdentity(MODEL_NAME, MODEL_SHA256),
                           infer_timeout=infer_timeout) as session:
            outcome = run_samples(session, inputs)
        if outcome.error is not None and isinstance(outcome.error, DeviceCrashed):
            qemu.wait(5)
        return outcome, qemu.exit_code, session.client


def test_samples_on_the_emulated_board_are_bit_exact(emulated_firmware):
    inputs = samples(12)
    outcome, _, _ = run_on_qemu(emulated_firmware, inputs)
    assert outcome.complete
    assert [r.output for r in outcome.results] == [reference_model(s) for s in inputs]
    for result in outcome.results:
        assert result.ticks.unit == "instructions" and result.ticks.instructions_per_tick == 40
        assert 0 < result.ticks.per_inference < 100_000


def test_a_hardfault_on_the_emulated_board_is_detected_by_its_marker(emulated_firmware):
    inputs = samples(3) + [fault_switch(3)] + samples(2)
    outcome, exit_code, _ = run_on_qemu(emulated_firmware, inputs)
    assert [r.output for r in outcome.results] == [reference_model(s) for s in inputs[:3]]
    assert isinstance(outcome.error, DeviceCrashed)
    assert str(outcome.error).startswith("the firmware on socket://127.0.0.1:")
    assert "crashed during 'infer 1 0': e-[hardfault pc=0x" in str(outcome.error)
    assert exit_code == 3  # the fault handler ends QEMU through semihosting


def test_an_emulated_board_that_stops_answering_times_out(emulated_firmware):
    inputs = samples(2) + [fault_switch(1)]
    outcome, _, _ = run_on_qemu(emulated_firmware, inputs, infer_timeout=1.0)
    assert len(outcome.results) == 2
    assert isinstance(outcome.error, DeviceTimeout)
    assert str(outcome.error).endswith("did not answer 'infer 1 0' within 1 s "
                                       "(the device stopped responding; reset it and run again)")
