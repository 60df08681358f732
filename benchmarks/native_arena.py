"""Native runtime vs TFLM on the MLPerf Tiny models: arena, weights and agreement, side by side.

    python benchmarks/native_arena.py [path/to/shared]

The TFLM arena is shown twice: as measured on the emulated Cortex-M4 (reference JSON,
`arena_min_bytes`) and as the smallest arena the host tflite_micro interpreter accepts
(`smallest_arena`, 64-bit bookkeeping, so a little larger).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import tinyedge
from tinyedge.codegen.host import NativeRunner
from tinyedge.tflite.model import load
from tinyedge.tflite.tflm import smallest_arena


def main(shared: Path) -> int:
    reference = json.loads((shared / "reference" / "tflm-emulated-m4.json").read_text())["models"]
    print(f"{'model':5} {'native arena':>12} {'+ I/O':>8} {'TFLM M4':>8} {'TFLM host':>9} "
          f"{'weights':>8} {'code':>6}  output = TFLM   (code: host x86-64 .text of kernels + model)")
    for key, entry in reference.items():
        folder = shared / "models" / "mlperf-tiny"
        model = load(folder / entry["tflite"])
        runner = NativeRunner.build(model)
        shape = model.main.input_tensors()[0].shape
        sample = np.fromfile(folder / entry["input"], dtype=np.int8).reshape(1, *shape[1:])
        same = runner.run(sample)[0].tobytes().hex() == entry["tflm_output_hex"]
        info = runner.runtime
        print(f"{key:5} {info.arena_bytes:12} {info.arena_bytes + info.io_bytes:8} "
              f"{entry['reference']['arena_min_bytes']:8} {smallest_arena(model.raw):9} "
              f"{info.weights_bytes:8} {runner.executable.text_bytes:6}  {same}")
    return 0


if __name__ == "__main__":
    default = Path(tinyedge.__file__).resolve().parents[2] / "shared"
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else default))
