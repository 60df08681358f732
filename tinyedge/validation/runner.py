"""One validation run: the identity check, the samples over the link, the comparison with the host
TFLM reference, and the files. A run that fails part-way keeps what it gathered (validation-partial.json
and its report) and says where they are; a complete run writes validation.json and report.html."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..console import Progress, say
from ..device.errors import DeviceDisconnected, DeviceFailure
from ..device.protocol import DeviceSession, SampleResult, run_samples
from ..errors import TinyedgeError
from .buildinfo import BuildFolder
from .further import FurtherModelResult, check_further_models
from ..targets import for_board
from .links import Link
from .metrics import ValidationMetrics, compute_metrics
from .reference import HostReference, host_reference

# The first inference may take long (a big model on a slow core); later ones are bounded by what the
# earlier ones took, so a device that stops answering mid-run is noticed within seconds.
FIRST_INFER_TIMEOUT_S = 60.0
MIN_INFER_TIMEOUT_S = 5.0
TIMEOUT_FACTOR = 20.0
# How long a link that dropped may wait for the far end's exit status (e.g. QEMU's) to show why.
END_WAIT_S = 2.0


class ValidationFailed(TinyedgeError):
    """The device failed part-way; `result` holds the samples that completed (already written)."""

    def __init__(self, message: str, hint: str | None, result: "ValidationResult"):
        super().__init__(message, hint)
        self.result = result


@dataclass
class ValidationResult:
    build: BuildFolder
    link: str
    requested: int                      # samples asked for
    test_samples: int                   # samples in the test split
    device_outputs: np.ndarray          # (done, output bytes) int8
    host_outputs: np.ndarray            # (done, output bytes) int8
    labels: np.ndarray                  # (done,)
    latencies: list[float]
    latency_unit: str
    ticks_per_second: int | None
    metrics: ValidationMetrics
    class_names: list[str]
    flash_bytes: int | None
    ram_bytes: int | None
    seconds: float                      # the sample loop, on the wall clock
    device_model: dict = field(default_factory=dict)
    error: str | None = None
    reconnections: int = 0
    files: dict[str, str] = field(default_factory=dict)
    further_models: list[FurtherModelResult] = field(default_factory=list)  # the firmware's other models
    debug: dict | None = None           # validate --debug's finding (tinyedge.validation.debug)
    layers: dict | None = None          # validate --layers: bench.layer_table_of the last sample's inference
    memory: dict | None = None          # tinyedge.memory_map of the firmware, when its link left a map

    @property
    def complete(self) -> bool:
        return self.error is None and self.metrics.samples == self.requested

    @property
    def throughput(self) -> float | None:
        return self.metrics.samples / self.seconds if self.seconds > 0 and self.metrics.samples else None

    def to_json(self) -> dict:
        metrics = self.metrics
        return {
            "board": self.build.board.name,
            "board_kind": self.build.board.kind,
            "link": self.link,
            "model": {"name": self.build.identity.name, "sha256": self.build.identity.sha256,
                      "file": str(self.build.model_path)},
            "device_model": self.device_model,
            # the runtime the build chose (auto: with its note), as report.json and the manifest say
            "runtime": self.build.firmware.get("runtime"),
            "runtime_reason": self.build.firmware.get("runtime_reason"),
            "complete": self.complete,
            "error": self.error,
            "samples": metrics.samples,
            "requested_samples": self.requested,
            "test_samples": self.test_samples,
            "metric": metrics.metric,
            "device_accuracy": metrics.device_accuracy,
            "host_accuracy": metrics.host_accuracy,
            "device_mse": metrics.device_mse,
            "host_mse": metrics.host_mse,
            "agreement": metrics.agreement,
            "disagreeing_samples": metrics.disagreeing_samples,
            "confusion_matrix": metrics.confusion_matrix,
            "labels": self.class_names,
            "latency": metrics.latency.to_json() if metrics.latency else None,
            "flash_bytes": self.flash_bytes,
            "ram_bytes": self.ram_bytes,
            "throughput_samples_per_second": self.throughput,
            "seconds": round(self.seconds, 3),
            "reconnections": self.reconnections,
            "further_models": [model.to_json() for model in self.further_models],
            "debug": self.debug,
            "layers": self.layers,
            "memory": self.memory,
            "build_stages": self.build.stages,
            **self.files,
            "per_sample": {
                "label": [_plain(v) for v in self.labels.tolist()],
                "device_output": [row.tobytes().hex() for row in self.device_outputs],
                "host_output": [row.tobytes().hex() for row in self.host_outputs],
                "latency": self.latencies,
            },
        }


def _plain(value):
    return value if isinstance(value, (int, float, str)) else str(value)


def check_sample_count(requested: int | None) -> None:
    if requested is not None and requested <= 0:
        raise TinyedgeError(f"--samples {requested} is not a positive number of samples",
                            "give 1 or more, or leave --samples out to send the whole test split")


def select_samples(total: int, requested: int | None) -> int:
    check_sample_count(requested)
    if requested is None:
        return total
    if requested > total:
        say(f"validate: --samples {requested} is more than the {total} test samples; sending all {total}")
        return total
    return requested


def validate(build: BuildFolder, link: Link, samples: int | None = None, *,
             elf: Path | None = None, min_infer_timeout: float = MIN_INFER_TIMEOUT_S,
             progress: Callable[[int], None] | None = None, write: bool = True,
             debug_samples: int | None = None, layers: bool = False) -> ValidationResult:
    """Runs the first `samples` test samples (all by default) on the device behind `link`.

    Writes validation.json and report.html into the build folder when complete; on a device failure
    (or Ctrl-C) writes validation-partial.json and report-partial.html and raises ValidationFailed
    (KeyboardInterrupt is re-raised). With `debug_samples`, the first that many samples are run again
    on the layer build, every step's output compared with host TFLM's (tinyedge.validation.debug).
    With `layers` (a layer build), the last sample's inference is timed step by step (result.layers)."""
    from . import report

    x, y = build.test_split()
    count = select_samples(len(x), samples)
    reference = host_reference(build.model_bytes, x[:count])
    flash_bytes, ram_bytes = _footprint(elf if elf is not None else build.elf)

    # Every sample's output is checked against the model's output size (DeviceClient.check_sample).
    expected = dataclasses.replace(build.identity, input_bytes=reference.inputs[0].nbytes,
                                   output_bytes=reference.outputs.shape[1])
    session = DeviceSession(link.open, expected=expected, infer_timeout=FIRST_INFER_TIMEOUT_S)
    results: list[SampleResult] = []
    further: list[FurtherModelResult] = []
    debug_found = None
    profile = None
    timing = {"slowest": 0.0, "last": 0.0}
    error: DeviceFailure | None = None
    interrupted = False
    started = time.monotonic()

    def on_result(index: int, result: SampleResult) -> None:
        now = time.monotonic()
        timing["slowest"] = max(timing["slowest"], now - (timing["last"] or started))
        timing["last"] = now
        results.append(result)
        limit = max(min_infer_timeout, TIMEOUT_FACTOR * timing["slowest"])
        session.infer_timeout = limit
        if session.client is not None:
            session.client.infer_timeout = limit
        progress(index + 1)

    try:
        session.open()
        progress = progress or Progress("validate", count)  # the rate counts from the first sample sent
        started = time.monotonic()
        outcome = run_samples(session, (reference.inputs[i].tobytes() for i in range(count)), on_result)
        error = outcome.error
        if error is None and layers and results:   # te-layers: the last inference, before any other runs
            profile = _layer_profile(session.client, build, results[-1].ticks)
        others = (build.firmware.get("models") or [])[1:]
        if error is None and others:   # the firmware's further models: random inputs, bit-exact with TFLM
            further = check_further_models(session.client, others, count)
        if error is None and debug_samples:
            from .debug import debug_build
            debug_found = debug_build(session.client, build, reference.inputs[:min(debug_samples, count)])
    except DeviceFailure as failure:  # while connecting: no sample ran
        error = failure
    except KeyboardInterrupt:
        interrupted = True
    finally:
        session.close()
        if hasattr(progress, "close"):  # a progress bar ends before the run's last lines
            progress.close()
    seconds = (timing["last"] - started) if results else 0.0

    result = _result(build, link, reference, y[:count], count, len(x), results, flash_bytes, ram_bytes,
                     seconds, session)
    result.further_models = further
    result.debug = debug_found.to_json() if debug_found is not None else None
    result.layers = profile
    result.memory = _memory_map(elf if elf is not None else build.elf, build)
    if error is None and not interrupted:
        if write:
            report.write_outputs(result, partial=False)
        return result

    reason = "interrupted" if interrupted else error.message
    hint = error.hint if error is not None else None
    # The far end's own death (an emulator killed or stopped by a fatal error) is the reason, not the
    # link it took down; the target that made the link decides what counts. Only a dropped link waits
    # for the exit status; a device that answered wrongly or not at all leaves a running one.
    wait = END_WAIT_S if isinstance(error, DeviceDisconnected) else 0.0
    end = link.end_reason(wait=wait) if error is not None else None
    if end is not None:
        reason, hint = end, "run tinyedge validate again"
    result.error = reason
    where = None
    if write and results:
        report.write_outputs(result, partial=True)
        where = result.files.get("json")
    if interrupted:
        kept = f"the results so far are in {where}" if where else "no result was gathered"
        say(f"validate: interrupted after {len(results)} of {count} samples; {kept}")
        raise KeyboardInterrupt
    done = f"after {len(results)} of {count} samples" if results else "before any sample ran"
    kept = f"the {len(results)} results so far are in {where}" if where else "no result was gathered"
    hint = f"{hint}; {kept}" if hint else kept
    raise ValidationFailed(f"validation on {build.board.name} stopped {done}: {reason}", hint, result)


def _result(build: BuildFolder, link: Link, reference: HostReference, labels: np.ndarray, requested: int,
            total: int, results: list[SampleResult], flash_bytes: int | None, ram_bytes: int | None,
            seconds: float, session: DeviceSession) -> ValidationResult:
    done = len(results)
    width = reference.outputs.shape[1]
    # Every output has the model's width: the device client checked each one (check_sample).
    device = np.array([np.frombuffer(r.output, dtype=np.int8) for r in results], dtype=np.int8) \
        if done else np.zeros((0, width), dtype=np.int8)
    unit = results[0].ticks.unit if done else for_board(build.board).timer_unit
    ticks_per_second = results[0].ticks.ticks_per_second if done else None
    latencies = [float(r.ticks.per_inference) for r in results]
    metrics = compute_metrics(device, reference.outputs[:done], labels[:done], build.metric,
                              reference.dequantize, latencies, unit, ticks_per_second)
    classes = reference.outputs.shape[1]
    identity = session.identity
    device_model = {"name": identity.name, "sha256": identity.sha256} if identity else {}
    return ValidationResult(build, link.description, requested, total, device, reference.outputs[:done],
                            labels[:done], latencies, unit, ticks_per_second, metrics,
                            build.labels(classes), flash_bytes, ram_bytes, seconds, device_model,
                            reconnections=session.reconnections)


def _layer_profile(client, build: BuildFolder, ticks) -> dict:
    """bench's per-layer table of the device's last inference (te-layers) on this build's model."""
    from ..bench import layer_table_of, model_steps
    from ..layers import layer_rows
    from ..tflite.model import parse
    model = parse(build.model_bytes, source=str(build.model_path))
    steps = model_steps(model, build.firmware.get("runtime") or "native")
    return layer_table_of(layer_rows(steps, client.layers()), ticks)


def _memory_map(elf: Path | None, build: BuildFolder) -> dict | None:
    """The firmware's flash and RAM per share against the board's limits and the project's budgets
    (None without a map file)."""
    from ..memory_map import find_map, read_memory_map
    if elf is None or not Path(elf).is_file() or find_map(elf) is None:
        return None
    try:
        return read_memory_map(elf, project=build.firmware_project, runtime=build.firmware.get("runtime") or
                               "native", board=build.board, **build.budgets).to_json()
    except TinyedgeError:
        return None


def _footprint(elf: Path | None) -> tuple[int | None, int | None]:
    if elf is None or not Path(elf).is_file():
        return None, None
    from ..elfsize import read_elf_size
    size = read_elf_size(elf)
    return size.flash_bytes, size.ram_bytes
