"""Fuzz: random byte changes to real models (fixed seeds) through `tinyedge inspect`, `infer --runtime
native` and `infer --runtime tflm`. Every run must end cleanly (exit 0, or exit 1 with one `error: ...`
line and no traceback, no crash), a model refused by the validator must be refused by all three
verbs with the same line, and whatever the native runtime runs, TFLM must accept and agree with bit
for bit.

Each verb runs through tinyedge's entry point (`tinyedge.cli.main`, what `python -m tinyedge` calls)
in a forked child of this process with its own stdout and stderr files, so a crash is seen as a
signal and an uncaught exception as a traceback on stderr, exactly as a user would see them, without
paying the interpreter's start-up three times a case (the exact-message tests in
test_model_validation.py run the real `python -m tinyedge`).

Three of every four changes hit the flatbuffer's structure (tensors, quantization, operators,
options), the rest the constant buffers' bytes. `pytest -s` prints the counts: cases tried, handled
cleanly, refused by the validator, run by both runtimes.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from model_bytes import buffer_data_ranges
from support import SHARED

sys.path.insert(0, str(Path(__file__).parent / "native"))
import native_model_zoo  # noqa: E402

# Progress lines tinyedge prints on stderr before its result (hostcc.progress).
PROGRESS_PREFIXES = ("native runtime: ", "tflm: ", "wrote ")
MLPERF_MODELS = ("kws_ref_model.tflite", "ad01_int8.tflite", "pretrainedResnet_quant.tflite",
                 "vww_96_int8.tflite")


@dataclass
class Run:
    code: int            # exit status, or -signal when the process died of one
    stdout: str
    stderr: str


def run_cli(args: list[str], env: dict[str, str]) -> Run:
    """`tinyedge ARGS` in a forked child (see the module docstring)."""
    from tinyedge import cli
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            import faulthandler
            faulthandler.disable()  # a crash must show as a signal, as in a plain `python -m tinyedge`
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True)
            os.environ.update(env)
            code = cli.main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:  # noqa: BLE001 - what Python would print for an uncaught exception
            traceback.print_exc()
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(child, 0)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.waitstatus_to_exitcode(status)
    out.seek(0)
    err.seek(0)
    return Run(code, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))


def clean_failure(run: Run) -> str | None:
    """Why a run is not a clean ending, or None when it is one."""
    if run.code not in (0, 1):
        return f"exit status {run.code}"
    if "Traceback" in run.stderr:
        return "traceback"
    lines = run.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    noise = [line for line in lines if not line.startswith(("error: ",) + PROGRESS_PREFIXES)]
    if noise:
        return f"stray stderr line {noise[0]!r}"
    if run.code == 1 and (len(errors) != 1 or lines[-1] != errors[0]):
        return f"{len(errors)} error lines"
    if run.code == 0 and errors:
        return "error line with exit status 0"
    return None


def mutate(raw: bytes, rng: np.random.Generator) -> tuple[bytes, list[tuple[int, int, int]]]:
    """One to three changed bytes: (offset, old, new) each."""
    data_ranges = buffer_data_ranges(raw)
    in_data = np.zeros(len(raw), dtype=bool)
    for start, end in data_ranges:
        in_data[start:end] = True
    structure = np.flatnonzero(~in_data[8:]) + 8  # keep the root offset and the file identifier
    weights = np.flatnonzero(in_data)
    changed = bytearray(raw)
    edits = []
    for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
        pool = weights if weights.size and rng.random() < 0.25 else structure
        offset = int(rng.choice(pool))
        old = changed[offset]
        new = old ^ (1 << int(rng.integers(8))) if rng.random() < 0.5 else int(rng.integers(256))
        if new == old:
            new = old ^ 0x01
        changed[offset] = new
        edits.append((offset, old, new))
    return bytes(changed), edits


def _arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as arrays:
        return {key: arrays[key] for key in arrays.files}


@dataclass
class Tally:
    tried: int = 0
    clean: int = 0
    refused: int = 0           # refused by tinyedge's validator (inspect and both infers, same line)
    both_ran: int = 0          # native ran, TFLM accepted and agreed bit for bit
    other: int = 0             # accepted by the validator; a runtime declined it with one line
    failures: list[str] = field(default_factory=list)
    declined: list[str] = field(default_factory=list)   # what the runtimes said in the `other` cases

    def add(self, other: "Tally") -> None:
        """Counts `other`'s cases into this one (a total over several models)."""
        for key in ("tried", "clean", "refused", "both_ran", "other"):
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.failures += other.failures
        self.declined += other.declined


def fuzz(name: str, raw: bytes, cases: int, seed: int, folder: Path) -> Tally:
    from tinyedge.tflite.model import parse
    model = parse(raw)
    tensor = model.main.input_tensors()[0]
    inputs = native_model_zoo.random_inputs(tuple(tensor.shape[1:]), tensor.dtype, 3, seed)
    input_path = folder / f"{name}-inputs.npy"
    np.save(input_path, inputs)
    env = {"XDG_CACHE_HOME": str(folder / "cache")}
    rng = np.random.default_rng(seed)
    tally = Tally()
    for case in range(cases):
        damaged, edits = mutate(raw, rng)
        path = folder / f"{name}-{case}.tflite"
        path.write_bytes(damaged)
        label = f"{name} case {case} " + ", ".join(f"@{o}: {a:#04x}->{b:#04x}" for o, a, b in edits)
        out = {runtime: folder / f"{name}-{case}-{runtime}.npz" for runtime in ("native", "tflm")}
        runs = {"inspect": run_cli(["inspect", str(path)], env)}
        for runtime, output in out.items():
            runs[runtime] = run_cli(["infer", "--model", str(path), "--runtime", runtime, "--input",
                                     str(input_path), "--output", str(output)], env)
        tally.tried += 1
        problems = [f"{verb}: {why}" for verb, run in runs.items() if (why := clean_failure(run))]
        if not problems:
            inspect, native, tflm = runs["inspect"], runs["native"], runs["tflm"]
            if inspect.code == 1:
                lines = {run.stderr.splitlines()[-1] if run.code == 1 else "exit 0" for run in runs.values()}
                if len(lines) != 1:
                    problems.append(f"inspect refused it but the verbs disagree: {sorted(lines)}")
                else:
                    tally.refused += 1
            elif native.code == 0:
                if tflm.code != 0:
                    problems.append(f"native ran it, TFLM did not: {tflm.stderr.splitlines()[-1]}")
                else:
                    a, b = _arrays(out["native"]), _arrays(out["tflm"])
                    if list(a) != list(b) or any(
                            a[k].dtype != b[k].dtype or not np.array_equal(a[k], b[k]) for k in a):
                        problems.append("native and TFLM outputs differ")
                    else:
                        tally.both_ran += 1
            else:
                tally.other += 1
                tally.declined.append(f"{label}: native: {native.stderr.splitlines()[-1]}; tflm: "
                                      f"{tflm.stderr.splitlines()[-1]}")
        if problems:
            detail = "; ".join(problems)
            stderr = {verb: run.stderr[-600:] for verb, run in runs.items()}
            tally.failures.append(f"{label}: {detail} {stderr}")
        else:
            tally.clean += 1
    return tally


def report(name: str, tally: Tally, seconds: float) -> None:
    print(f"\nfuzz {name}: {tally.tried} cases tried, {tally.clean} handled cleanly "
          f"({tally.refused} refused by the validator with the same line from every verb, "
          f"{tally.both_ran} run bit-identically by native and TFLM, {tally.other} declined by a "
          f"runtime with one line) in {seconds:.1f} s")
    for line in tally.declined:
        print(f"  declined {line}")
    for failure in tally.failures:
        print(f"  FAILED {failure}")


SMALL_MODELS = {  # name -> (builder, cases, seed)
    "dense12_pertensor": (native_model_zoo.pertensor_dense_model, 10, 1),
    "two_outputs": (native_model_zoo.two_output_model, 8, 2),
    "small_cnn": (native_model_zoo.small_cnn_model, 12, 3),
}


@pytest.mark.slow
def test_fuzz_small_models(tmp_path):
    start = time.monotonic()
    total = Tally()
    for name, (build, cases, seed) in SMALL_MODELS.items():
        began = time.monotonic()
        tally = fuzz(name, build().read_bytes(), cases, seed, tmp_path)
        report(name, tally, time.monotonic() - began)
        total.add(tally)
    report("small models, total", total, time.monotonic() - start)
    assert total.failures == []
    assert total.clean == total.tried


@pytest.mark.skipif(not (SHARED / "models" / "mlperf-tiny").is_dir(),
                    reason=f"{SHARED} is absent (the MLPerf Tiny models live beside the checkout in CI)")
@pytest.mark.slow
def test_fuzz_mlperf_tiny_models(tmp_path):
    start = time.monotonic()
    total = Tally()
    for seed, name in enumerate(MLPERF_MODELS, start=10):
        raw = (SHARED / "models" / "mlperf-tiny" / name).read_bytes()
        began = time.monotonic()
        tally = fuzz(Path(name).stem, raw, 4, seed, tmp_path)
        report(name, tally, time.monotonic() - began)
        total.add(tally)
    report("MLPerf Tiny models, total", total, time.monotonic() - start)
    assert total.failures == []
    assert total.clean == total.tried


@pytest.mark.slow
@pytest.mark.emulated
def test_fuzz_bench_on_the_emulated_board(tmp_path):
    """`tinyedge bench` on damaged copies of a small CNN: it builds and runs what the validator accepts
    in QEMU and compares it with TFLM; every run ends cleanly, a refused model gets inspect's line, and
    whatever bench runs is bit-exact with TFLM (bench's own check against the tflite_micro oracle)."""
    import json
    import shutil
    if shutil.which("qemu-system-arm") is None or shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("qemu-system-arm and arm-none-eabi-gcc are needed (the setup step installs them)")
    raw = native_model_zoo.small_cnn_model().read_bytes()
    rng = np.random.default_rng(7)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    tried = clean = ran = refused = 0
    failures = []
    for case in range(6):
        damaged, _ = mutate(raw, rng)
        path = tmp_path / f"bench-{case}.tflite"
        path.write_bytes(damaged)
        bench = run_cli(["bench", "--board", "emu-m4", "--model", str(path), "--json"], env)
        inspect = run_cli(["inspect", str(path)], env)
        tried += 1
        lines = bench.stderr.strip().splitlines()
        if bench.code not in (0, 1) or "Traceback" in bench.stderr or (bench.code == 1 and not (
                lines and lines[-1].startswith("error: "))):
            failures.append(f"case {case}: exit {bench.code}: {bench.stderr[-600:]}")
            continue
        if bench.code == 0:
            if not json.loads(bench.stdout)["bit_exact"]:
                failures.append(f"case {case}: bench ran it but the device output differs from TFLM")
                continue
            ran += 1
        elif inspect.code == 1:
            if lines[-1] != inspect.stderr.strip().splitlines()[-1]:
                failures.append(f"case {case}: bench and inspect refuse it differently")
                continue
            refused += 1
        clean += 1
    print(f"\nfuzz bench: {tried} cases tried, {clean} handled cleanly ({refused} refused by the validator "
          f"with inspect's line, {ran} run bit-exact in QEMU)")
    assert failures == [] and clean == tried
