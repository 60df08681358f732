"""Helpers that test modules import (`from support import ...`); fixtures live in conftest.py."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
# ../shared beside the checkout (the MLPerf Tiny models and the TFLM reference figures).
SHARED = REPO.parent / "shared"


def run_tinyedge(*args: str, cwd: Path | None = None, env: dict | None = None,
                 timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real entry point (`python -m tinyedge`) as a user would, capturing its output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "tinyedge", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def firmware_quantize(x, scale: float, zero_point: int) -> np.ndarray:
    """The firmware's input quantization (tinyedge_quantize, firmware/native/tinyedge_api.h) written out
    here, apart from tinyedge's own: float32 x / scale, rounded half away from zero, plus the zero point,
    saturated."""
    scaled = np.asarray(x, dtype=np.float32) / np.float32(scale)
    rounded = np.trunc(scaled + np.where(scaled >= 0, np.float32(0.5), np.float32(-0.5)))
    return np.clip(rounded + zero_point, -128, 127).astype(np.int8)


def assert_device_outputs(target, built, batch, expected) -> None:
    """Boots a compiled firmware (build_firmware's result) on its board's link (QEMU for an emulated
    board) and checks that each sample's output bytes are the reference's (one int8 output per sample)."""
    from tinyedge.device.protocol import DeviceClient
    from tinyedge.targets import for_board

    link = for_board(target)
    port = link.install(built.project, None)
    with link.open_transport(built.elf, port) as transport:
        client = DeviceClient(transport)
        client.connect()
        for sample, reference in zip(batch, expected):
            client.load(sample.tobytes())
            client.infer(1, 0)
            assert client.output() == np.asarray(reference, np.int8).tobytes()


def bench_each_sample(target, model: Path, batch, tmp_path: Path) -> Iterator:
    """The native bench firmware of a model, built once and run on each sample in turn: each result,
    checked bit-exact with TFLM's, is yielded for the caller's checks of the output."""
    from tinyedge.bench import build_bench_firmware, run_bench

    built = build_bench_firmware(target, model, tmp_path, "native", console=lambda line: None)
    for sample in batch:
        result = run_bench(target, model, "native", sample[None], built=built, console=lambda line: None)
        assert result.bit_exact, f"device {result.output_hex} vs TFLM {result.tflm_output_hex}"
        yield result
