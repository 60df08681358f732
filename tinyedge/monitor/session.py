"""The reading loop of `tinyedge monitor`: read `te-monitor` every interval (or, with a replay, stream
samples into the device's inference loop and read between them by wall time), judge each window
against the baseline, append every reading to monitor.jsonl as it comes (flushed), and end on the
first of: the readings or duration asked for, the replay's end, Ctrl-C, or a device that disconnects,
crashes or stops answering. Whatever ends the run, the readings so far stay in monitor.jsonl.

A window is the inferences since the last judged reading; it is judged once it holds min_samples.
The last window, when smaller, is merged into the one before (judged again together) or, without
one, reported as too small. The whole run is judged once more as one window at the end, so a shift
too small for a window of min_samples still shows. A count that goes backwards is a device reset: it
is recorded, and the counting starts again from the device's zero.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import buildfiles as files
from ..device.errors import DeviceDisconnected, DeviceError, DeviceFailure
from ..device.protocol import DeviceClient, DeviceSession
from ..errors import TinyedgeError
from .baseline import Baseline
from .drift import Judgement, Thresholds, judge
from .snapshot import MonitorSnapshot

FIRST_INFER_TIMEOUT_S = 60.0     # the first inference may wait for a slow emulator to warm up
MIN_INFER_TIMEOUT_S = 5.0
TIMEOUT_FACTOR = 20.0            # later inferences: this many times the slowest so far
END_WAIT_S = 2.0                 # how long a dropped link waits to learn the far end's own end
SLEEP_STEP_S = 0.1               # Ctrl-C is noticed within this while waiting for the next reading


@dataclass
class Replay:
    """int8 samples (N x input bytes) to stream, and where they came from."""
    inputs: np.ndarray
    source: str


@dataclass
class Options:
    interval: float
    readings: int | None = None          # stop after this many readings
    duration: float | None = None        # stop after this many seconds
    reset: bool = False                  # reset the device's statistics first (always with a replay)
    replay: Replay | None = None


@dataclass
class MonitorRun:
    """What one run gathered: every record written to monitor.jsonl, and how it ended."""
    run_id: str
    records: list[dict] = field(default_factory=list)
    judgements: list[Judgement] = field(default_factory=list)   # the windows', in order
    total: Judgement | None = None       # the whole run as one window
    end: str | None = None               # None: ended as asked; else why it ended early
    hint: str | None = None
    interrupted: bool = False
    replayed: int = 0

    @property
    def readings(self) -> list[dict]:
        return [r for r in self.records if r["type"] == "reading"]

    @property
    def resets(self) -> int:
        return sum(1 for r in self.records if r["type"] == "reset")

    @property
    def drifted(self) -> list[str]:
        """The statistics that drifted in any window or in the run's total, in first-seen order."""
        seen: list[str] = []
        for judgement in [*self.judgements, *([self.total] if self.total else [])]:
            seen.extend(name for name in judgement.drifted if name not in seen)
        return seen

    @property
    def drift(self) -> bool:
        return bool(self.drifted)


class Log:
    """monitor.jsonl: one JSON object per line, appended and flushed as each arrives (a crash of the
    host or the device loses nothing already read)."""

    def __init__(self, path: Path):
        self.path = path
        self._file = open(path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def validation_latency(build_dir: Path, instructions_per_tick: int = 1) -> float | None:
    """The mean latency of the board's last complete validation, in te_port_ticks() units (the
    monitor counts raw ticks; validation.json scales instruction ticks by instructions per tick)."""
    path = Path(build_dir) / files.validation_files()["json"]
    try:
        latency = json.loads(path.read_text()).get("latency") or {}
        mean = float(latency["mean"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return mean / max(instructions_per_tick, 1) if mean > 0 else None


class Monitor:
    def __init__(self, baseline: Baseline, session: DeviceSession, thresholds: Thresholds, options: Options,
                 log: Log, *, say: Callable[[str], None], progress=None,
                 end_reason: Callable[[float], str | None] | None = None, build_dir: Path | None = None,
                 tick_unit: str | None = None, clock: Callable[[], float] = time.monotonic):
        self.baseline = baseline
        self.session = session
        self.thresholds = thresholds
        self.options = options
        self.log = log
        self.say = say
        self.progress = progress
        self.end_reason = end_reason
        self.build_dir = build_dir
        self.tick_unit = tick_unit          # the board's timer unit (its target's): instructions need a factor
        self.clock = clock
        self.run = MonitorRun(time.strftime("%Y%m%dT%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}")
        self.empty = MonitorSnapshot(baseline.spec.kind)
        self.previous: MonitorSnapshot | None = None   # the last reading
        self.window_start = self.empty                  # the reading the current window counts from
        self.total = self.empty                         # every inference of the run (across resets)
        self.last_window: MonitorSnapshot | None = None  # the last judged window (a too small tail merges in)
        self.latency: float | None = None
        self._latency_pending = False       # validation's mean waits for the device's instructions per tick
        self.started = 0.0

    # ---- the run -----------------------------------------------------------------------------

    def start_record(self, description: str, board: str) -> dict:
        replay = self.options.replay
        return {"type": "start", "run": self.run.run_id, "time": time.time(), "board": board,
                "link": description, "kind": self.baseline.spec.kind,
                "baseline": {"split": self.baseline.split, "samples": self.baseline.samples,
                             "stats": self.baseline.stats.to_json()},
                "thresholds": self.thresholds.__dict__, "interval": self.options.interval,
                "reset": self.options.reset or replay is not None,
                "replay": {"source": replay.source, "samples": int(len(replay.inputs))} if replay else None,
                "validation_latency": None}

    def execute(self, description: str, board: str) -> MonitorRun:
        start = self.start_record(description, board)
        try:
            client = self.session.open()
            self.latency = self._validation_latency(client)
            start["validation_latency"] = self.latency
            self._write(start)
            self.started = self.clock()
            if self.options.reset or self.options.replay is not None:
                client.monitor_reset()
            if self.options.replay is not None:
                self._replay(client)
            else:
                self._watch(client)
            self._finish()
        except KeyboardInterrupt:
            self.run.interrupted = True
            self.run.end = "interrupted"
            self._finish()
        except DeviceFailure as failure:
            wait = END_WAIT_S if isinstance(failure, DeviceDisconnected) else 0.0
            reason = self.end_reason(wait) if self.end_reason is not None else None
            self.run.end = reason or failure.message
            # the far end's own death is the reason; the link's hint (a cable) would mislead
            self.run.hint = "run tinyedge monitor again" if reason else failure.hint
            if not any(r["type"] == "start" for r in self.run.records):
                self._write(start)
            self._finish()
        finally:
            self.session.close()
            if hasattr(self.progress, "close"):
                self.progress.close()
        return self.run

    def _validation_latency(self, client: DeviceClient) -> float | None:
        """validation.json's mean in the monitor's raw ticks. A timer that counts instructions ticks
        once per instructions-per-tick, which only te-ticks says, and only after a protocol inference:
        until one has run, the latency waits (judged from the first reading that follows one)."""
        if self.build_dir is None or validation_latency(self.build_dir) is None:
            return None
        if self.tick_unit != "instructions":
            return validation_latency(self.build_dir)
        try:
            return validation_latency(self.build_dir, client.ticks().instructions_per_tick)
        except DeviceError:     # "no inference has run yet"
            self._latency_pending = True
            return None

    def _watch(self, client: DeviceClient) -> None:
        """Reads now and then every interval until the readings or the duration asked for."""
        options = self.options
        while True:
            self.read(client)
            if options.readings is not None and len(self.run.readings) >= options.readings:
                return
            due = self.clock() + options.interval
            if options.duration is not None:
                ends = self.started + options.duration
                if self.clock() >= ends:
                    return
                due = min(due, ends)
            while self.clock() < due:
                time.sleep(min(SLEEP_STEP_S, max(due - self.clock(), 0)))

    def _replay(self, client: DeviceClient) -> None:
        """Every sample loaded and inferred once (no warm-ups: they would count), a reading whenever an
        interval has passed, and one after the last sample."""
        inputs = self.options.replay.inputs
        options = self.options
        slowest = 0.0
        client.infer_timeout = FIRST_INFER_TIMEOUT_S
        next_reading = self.clock() + options.interval
        for index in range(len(inputs)):
            began = self.clock()
            client.load(inputs[index].tobytes())
            client.infer(1, 0)
            slowest = max(slowest, self.clock() - began)
            client.infer_timeout = max(MIN_INFER_TIMEOUT_S, TIMEOUT_FACTOR * slowest)
            self.run.replayed = index + 1
            if self.progress is not None:
                self.progress(index + 1)
            if self.clock() >= next_reading:
                self.read(client)
                next_reading = self.clock() + options.interval
                if options.readings is not None and len(self.run.readings) >= options.readings:
                    return
            if options.duration is not None and self.clock() - self.started >= options.duration:
                break
        self.read(client)

    # ---- one reading -------------------------------------------------------------------------

    def read(self, client: DeviceClient) -> dict:
        reading = client.monitor()
        if reading.kind != self.baseline.spec.kind:
            raise TinyedgeError(f"the device monitors a {reading.kind}, the build's baseline a "
                                f"{self.baseline.spec.kind}", "flash the firmware of this build")
        if self._latency_pending and reading.count > 0:
            self._latency_pending = False   # one try: a device inferring from its own loop may never tell
            self.latency = self._validation_latency(client)
        previous, window_start = self.previous or self.empty, self.window_start
        if self.previous is not None and reading.count < self.previous.count:
            self._write({"type": "reset", "run": self.run.run_id, "time": time.time(),
                         "elapsed": round(self.clock() - self.started, 3), "before": self.previous.count,
                         "after": reading.count})
            self.say(f"monitor: the device was reset (count {self.previous.count:,} -> {reading.count:,}); "
                     "counting again from its zero")
            previous = window_start = self.empty
        since_last = reading.minus(previous)
        window = reading.minus(window_start)
        judgement = None
        if window.count >= self.thresholds.min_samples:
            judgement = judge(window, self.baseline.stats, self.thresholds, self.latency)
        record = {"type": "reading", "run": self.run.run_id, "index": len(self.run.readings),
                  "time": time.time(), "elapsed": round(self.clock() - self.started, 3),
                  "replayed": self.run.replayed if self.options.replay is not None else None,
                  "snapshot": reading.to_json(), "window": window.to_json() if judgement else None,
                  "pending": 0 if judgement else window.count,
                  "judgement": judgement.to_json() if judgement else None}
        self._write(record)
        # The state moves on only once the reading is on record, so the run's total holds exactly the
        # readings in monitor.jsonl even when Ctrl-C lands in between.
        self.total = self.total.plus(since_last) if self.total.count else since_last
        self.previous, self.window_start = reading, window_start
        if judgement is not None:
            self.run.judgements.append(judgement)
            self.last_window = window
            self.window_start = reading
        self.say(self.summary_line(record, judgement, window))
        return record

    def summary_line(self, record: dict, judgement: Judgement | None, window: MonitorSnapshot) -> str:
        head = f"monitor #{record['index']} at {record['elapsed']:.1f} s: {record['snapshot']['count']:,} inferences"
        if judgement is None:
            return f"{head}; window of {window.count} waits for {self.thresholds.min_samples}"
        verdict = ("DRIFT in " + ", ".join(judgement.drifted)) if judgement.drift else "no drift"
        shown = "; ".join(f.text() for f in judgement.findings)
        return f"{head}; window of {judgement.inferences}: {verdict} ({shown})"

    def _finish(self) -> None:
        """The last window (too small: merged into the one before) and the run's total, judged."""
        tail = (self.previous or self.empty).minus(self.window_start) if self.previous is not None and \
            self.previous.count >= self.window_start.count else self.empty
        if 0 < tail.count < self.thresholds.min_samples:
            if self.last_window is not None and self.run.judgements:
                merged = self.last_window.plus(tail)
                self.run.judgements[-1] = judge(merged, self.baseline.stats, self.thresholds, self.latency)
                self._write({"type": "merged", "run": self.run.run_id, "inferences": tail.count,
                             "window": merged.to_json(), "judgement": self.run.judgements[-1].to_json()})
            else:
                self._write({"type": "too_small", "run": self.run.run_id, "inferences": tail.count,
                             "min_samples": self.thresholds.min_samples})
        if self.total.count >= self.thresholds.min_samples:
            self.run.total = judge(self.total, self.baseline.stats, self.thresholds, self.latency)
        self._write({"type": "end", "run": self.run.run_id, "time": time.time(),
                     "elapsed": round(self.clock() - self.started, 3) if self.started else 0.0,
                     "reason": self.run.end, "readings": len(self.run.readings),
                     "inferences": self.total.count, "replayed": self.run.replayed,
                     "total": self.run.total.to_json() if self.run.total else None,
                     "drift": self.run.drift, "drifted": self.run.drifted})

    def _write(self, record: dict) -> None:
        self.run.records.append(record)
        self.log.write(record)


def read_log(path: Path) -> list[dict]:
    """Every record of monitor.jsonl (a line cut short by a crash is skipped)."""
    records = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "type" in record:
            records.append(record)
    return records


def last_run(records: list[dict]) -> list[dict]:
    """The records of the last run in the log."""
    runs = [r["run"] for r in records if r.get("type") == "start"]
    if not runs:
        return []
    return [r for r in records if r.get("run") == runs[-1]]
