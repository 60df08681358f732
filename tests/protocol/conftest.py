"""Builds the protocol firmware for the host once per test session and hands out ways to run it.

The firmware is firmware/protocol/ compiled with the host gcc against the host port the host target
builds (firmware/port/host/port_host.c) and the small test model in c/test_model.c (a real computation
the tests repeat in Python: reference_model below).
"""

from __future__ import annotations

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tinyedge.device.transport import ProcessTransport

REPO = Path(__file__).resolve().parents[2]
PROTOCOL = REPO / "firmware" / "protocol"
PORT_HEADER_DIR = REPO / "firmware" / "port"
TEST_C = Path(__file__).resolve().parent / "c"
# The one host port (stdin/stdout, the Cortex-M fault marker on a segmentation fault), as --board host.
HOST_PORT = PORT_HEADER_DIR / "host" / "port_host.c"
CFLAGS = ["-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wconversion", "-Wshadow"]

MODEL_NAME = "protocol-test"
MODEL_SHA256 = "0123456789abcdef" + "00" * 24   # the firmware carries the first 16 digits
OTHER_NAME = "other-model"
OTHER_SHA256 = "fedcba9876543210" + "11" * 24
INPUT_BYTES = 70
OUTPUT_BYTES = 10
OUTPUT_SCALE = np.float32(0.0390625)
OUTPUT_ZERO_POINT = -3


def reference_model(sample: bytes) -> bytes:
    """The test model of c/test_model.c, in Python."""
    x = np.frombuffer(sample, dtype=np.int8).astype(np.int64)
    i = np.arange(INPUT_BYTES)
    out = []
    for j in range(OUTPUT_BYTES):
        total = int(np.sum(x * ((i * 7 + j * 13) % 17 - 8)))
        rounded = (total + 32) // 64 if total >= 0 else -((-total + 32) // 64)
        out.append(max(-128, min(127, rounded)))
    return np.array(out, dtype=np.int8).tobytes()


def dequantized_text(output: bytes) -> str:
    """m-results as the reference prints it: float32 (q - zero point) * scale with "%0.3f"."""
    values = np.frombuffer(output, dtype=np.int8).astype(np.int32) - OUTPUT_ZERO_POINT
    return ",".join("%0.3f" % float(np.float32(v) * OUTPUT_SCALE) for v in values)


@dataclass(frozen=True)
class HostFirmware:
    path: Path            # the protocol firmware with the test model
    other_model: Path     # the same firmware carrying a different model
    format_check: Path    # compares the float formatting with printf

    def start(self, *wrapper: str, path: Path | None = None) -> ProcessTransport:
        """Runs the firmware on pipes; `wrapper` is a shell snippet run before it (e.g. to print noise)."""
        binary = str(path or self.path)
        if wrapper:
            return ProcessTransport(["sh", "-c", f'{wrapper[0]}; exec "$0"', binary], name="host firmware fw")
        return ProcessTransport([binary], name="host firmware fw")


def _compile(output: Path, sources: list[Path], defines: list[str] = ()) -> None:
    command = ["gcc", *CFLAGS, f"-I{PORT_HEADER_DIR}", f"-I{PROTOCOL}", *defines, *map(str, sources),
               "-lm", "-o", str(output)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"host build failed: {' '.join(command)}\n{result.stderr}")


@pytest.fixture(scope="session")
def host_firmware(tmp_path_factory) -> HostFirmware:
    if shutil.which("gcc") is None:
        pytest.skip("no host gcc to build the protocol firmware with")
    out = tmp_path_factory.mktemp("protocol-firmware")
    firmware_sources = sorted(PROTOCOL.glob("*.c")) + [TEST_C / "test_model.c", HOST_PORT]
    built = HostFirmware(out / "fw", out / "fw-other", out / "format-check")
    jobs = [
        (built.path, firmware_sources, []),
        (built.other_model, firmware_sources,
         [f'-DTEST_MODEL_NAME="{OTHER_NAME}"', f'-DTEST_MODEL_SHA256="{OTHER_SHA256[:16]}"']),
        (built.format_check, [TEST_C / "format_check.c", PROTOCOL / "te_format.c"], []),
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda job: _compile(*job), jobs))
    return built
