"""Host side of the validation protocol (docs/protocol.md): MLPerf Tiny base commands plus tinyedge's
`te-` commands, over any Transport.

`DeviceClient` speaks the protocol on one open link; `DeviceClient.check_sample` is the one place a
sample's replies are checked against the model and against each other. `DeviceSession` adds what a
validation run needs on top: it opens the link through a factory, checks the model identity, and
reconnects once when the link drops. `run_samples` keeps every result gathered before a failure.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import TinyedgeError
from .errors import (DeviceCrashed, DeviceDisconnected, DeviceError, DeviceFailure, DeviceTimeout,
                     InconsistentReply, TransportClosed, TransportTimeout, WrongModel)
from .transport import Transport

if TYPE_CHECKING:
    from ..monitor.snapshot import MonitorSnapshot

MAX_COMMAND = 80          # the device keeps no more characters of a command
BYTES_PER_DB = 31         # bytes per `db` command, as the MLPerf Tiny runner sends (62 hex digits)
# The line a crashed firmware prints (firmware/platform/cortex-m/fault_marker.h): e-[hardfault pc=0x...]
FAULT_MARKER = "e-[hardfault"

_NAME = re.compile(r"m-name-dut-\[([^\]]+)\]$")
_MODEL = re.compile(r"m-te-model-\[([^,\]]*),([0-9a-fA-F]*)\]$")
_IO = re.compile(r"m-te-io-\[(\d+),(\d+)\]$")
_OUTPUT = re.compile(r"m-te-output-\[([0-9a-fA-F]*)\]$")
_MODELS = re.compile(r"m-te-models-\[([^\]]*)\]$")
_SELECTED = re.compile(r"m-te-selected-\[([^\]]*)\]$")
_RESULTS = re.compile(r"m-results-\[([^\]]*)\]$")
_LAP = re.compile(r"m-lap-us-(\d+)$")
_LAYERS = re.compile(r"m-te-layers-(\d+)$")
_LAYER = re.compile(r"m-te-layer-(\d+)-(\d+)-([0-9a-f]{8})$")
_TENSOR = re.compile(r"m-te-tensor-\[([0-9a-fA-F]*)\]$")
_TENSOR_DONE = re.compile(r"m-te-tensor-done-(\d+)-(\d+)$")
# A firmware built without --layers answers te-layers / te-tensor with this.
NO_LAYERS = "built without layer profiling"
LAYERS_HINT = ("run tinyedge bench or validate with --layers (or api.build(project, layers=True)), which "
               "builds a layer firmware")

# What te_port_tick_unit() may say (firmware/port/port.h).
TICK_UNITS = ("cycles", "us", "instructions")
# The difference of two readings of a 64-bit counter that went backwards comes out at 2**63 or more.
MAX_TICKS = 2 ** 63 - 1
# A device's duration (on a timer with a rate) may exceed the host's wall-clock wait for the reply by
# clock error only; beyond this factor and margin its timer or its rate is wrong.
WALL_CLOCK_FACTOR = 2.0
WALL_CLOCK_MARGIN_S = 1.0
# Replies shown in a message are cut to this many characters.
SHOWN_REPLY = 60
OUTPUT_HINT = "flash the firmware built for this model ('tinyedge flash') and validate again"
TIMER_HINT = ("check te_port_ticks() in the board's port, or flash the firmware tinyedge built "
              "('tinyedge flash'), and validate again")


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    sha256: str                 # as the device prints it: the model file's SHA-256 or a prefix of it
    input_bytes: int | None = None
    output_bytes: int | None = None


@dataclass(frozen=True)
class Ticks:
    ticks: int                  # timer ticks of the timed inferences together
    count: int                  # how many inferences those ticks cover
    unit: str                   # "cycles", "us" or "instructions"
    instructions_per_tick: int  # 1 unless unit is "instructions"
    ticks_per_second: int

    @property
    def per_inference(self) -> float:
        """Duration of one inference in `unit` (ticks scaled by instructions per tick)."""
        return self.ticks * self.instructions_per_tick / self.count


@dataclass(frozen=True)
class Inference:
    """What `infer N W` printed."""
    results: list[float]        # m-results: the dequantized output, three decimals
    lap_us: tuple[int, int]     # the two m-lap-us stamps around the N timed inferences
    count: int
    waited: float | None = None  # seconds from sending `infer` to its m-ready, on the host's clock

    @property
    def microseconds(self) -> float:
        """Per inference, as the MLPerf Tiny runner computes latency."""
        return (self.lap_us[1] - self.lap_us[0]) / self.count


@dataclass(frozen=True)
class SampleResult:
    output: bytes               # the raw int8 output, two's complement, as on the device
    ticks: Ticks
    inference: Inference


class DeviceClient:
    """Commands and their replies on an open link. Every read has a deadline."""

    def __init__(self, transport: Transport, *, command_timeout: float = 5.0,
                 infer_timeout: float = 60.0, output_bytes: int | None = None):
        self.transport = transport
        self.command_timeout = command_timeout
        self.infer_timeout = infer_timeout
        # The model's output size, against which every sample's output is checked (None: unknown, so
        # only the sample's own replies are compared with each other).
        self.output_bytes = output_bytes
        self.boot_lines: list[str] = []

    # ---- connecting --------------------------------------------------------------------------

    def connect(self, boot_timeout: float = 10.0, quiet: float = 1.0) -> None:
        """Waits for the boot banner, skipping noise, then checks the device answers `name`.

        A device that booted before the link opened (a board already running) prints no banner; after
        `quiet` seconds without a byte the client stops waiting for one and asks for the name instead.
        """
        deadline = time.monotonic() + boot_timeout
        lines: list[str] = []
        saw_init = False
        pending = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self.transport.read_line(min(quiet, remaining))
            except TransportTimeout as timeout:
                if len(timeout.received) == pending:
                    break           # silent: already booted, or not there; `name` tells which
                pending = len(timeout.received)
                continue            # bytes without a line end yet: noise or a slow banner
            except TransportClosed as closed:
                raise self._closed(closed, "while booting", lines) from None
            pending = 0
            lines.append(line)
            self._check_fault(line, "while booting", lines)
            if line.endswith("m-init-done"):
                saw_init = True
            elif saw_init and line.endswith("m-ready"):
                break
        self.boot_lines = lines
        self.synchronise(max(deadline - time.monotonic(), self.command_timeout))

    def synchronise(self, timeout: float) -> None:
        """Drops whatever is pending, then sends `name` until its answer comes back clean (twice at
        most: the first may be glued to a half-received command left over in the device)."""
        self._drain()
        for _ in range(2):
            lines = self.command("name", timeout=timeout, check=False)
            if any(_NAME.search(line) for line in lines):
                return
        raise DeviceTimeout(f"{self.transport.name} does not answer the MLPerf Tiny 'name' command",
                            "is it running tinyedge (or MLPerf Tiny) firmware? flash it and try again",
                            lines=lines)

    def _drain(self, quiet: float = 0.1, limit: float = 2.0) -> None:
        self.transport.discard_input()
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                line = self.transport.read_line(quiet)
            except TransportTimeout:
                self.transport.discard_input()
                return
            except TransportClosed as closed:
                raise self._closed(closed, "while synchronising", []) from None
            self._check_fault(line, "while synchronising", [line])

    # ---- commands ----------------------------------------------------------------------------

    def command(self, text: str, *, timeout: float | None = None, check: bool = True) -> list[str]:
        """Sends one command; returns its reply lines up to (without) `m-ready`. With `check`, an
        error line in the reply raises DeviceError."""
        if "%" in text or len(text) > MAX_COMMAND or not text.isascii():
            raise ValueError(f"not a protocol command: {text!r}")
        timeout = self.command_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        what = f"'{text if len(text) <= 24 else text[:21] + '...'}'"
        lines: list[str] = []
        try:
            self.transport.write(text.encode("ascii") + b"%", timeout)
            while True:
                line = self.transport.read_line(max(deadline - time.monotonic(), 0))
                self._check_fault(line, f"during {what}", lines + [line])
                if line.endswith("m-ready"):
                    break
                if line:
                    lines.append(line)
        except TransportTimeout:
            raise DeviceTimeout(f"{self.transport.name} did not answer {what} within {timeout:g} s",
                                "the device stopped responding; reset it and run again",
                                lines=lines) from None
        except TransportClosed as closed:
            raise self._closed(closed, f"during {what}", lines) from None
        if check:
            for line in lines:
                if line.startswith("e-") or line.startswith("Supplied buffer size"):
                    raise DeviceError(f"{self.transport.name} answered {what} with {line}", lines=lines)
        return lines

    def name(self) -> str:
        return _search(_NAME, self.command("name"), "name").group(1)

    def model_identity(self) -> ModelIdentity:
        try:
            lines = self.command("te-model")
        except DeviceError as error:
            raise DeviceError(f"{self.transport.name} does not know tinyedge's 'te-model' command: "
                              "its firmware was not built by tinyedge",
                              "flash the firmware tinyedge built ('tinyedge flash')", lines=error.lines) from None
        model = _search(_MODEL, lines, "te-model")
        io = next((m for m in map(_IO.search, lines) if m), None)
        return ModelIdentity(model.group(1), model.group(2).lower(),
                             int(io.group(1)) if io else None, int(io.group(2)) if io else None)

    def models(self) -> list[str]:
        """The names of the firmware's models in table order (`te-models`; the first runs at boot)."""
        found = _search(_MODELS, self.command("te-models"), "te-models").group(1)
        return [name for name in found.split(",") if name]

    def select(self, name: str) -> ModelIdentity:
        """Selects the model `name` (`te-select`): every later command acts on it. Returns its identity;
        an unknown name raises DeviceError with the device's list of names."""
        selected = _search(_SELECTED, self.command(f"te-select {name}"), f"te-select {name}").group(1)
        if selected != name:
            raise DeviceError(f"{self.transport.name} selected '{selected}', not '{name}'")
        return self.model_identity()

    def check_model(self, name: str, sha256: str) -> ModelIdentity:
        """Raises WrongModel unless the device carries `name` with a hash that is a prefix of
        `sha256` (the full hex digest of the model file) of at least 16 digits."""
        found = self.model_identity()
        sha256 = sha256.lower()
        if found.name != name or len(found.sha256) < 16 or not sha256.startswith(found.sha256):
            raise WrongModel(
                f"wrong model on {self.transport.name}: expected '{name}' (sha256 {sha256[:16]}), "
                f"found '{found.name}' (sha256 {found.sha256[:16] or 'none'})",
                "flash the firmware built for this model ('tinyedge flash'), then validate again")
        return found

    def load(self, data: bytes) -> None:
        """`db load N`, then `db` commands of at most 31 bytes, as the MLPerf Tiny runner sends."""
        if not data:
            raise ValueError("an empty sample cannot be loaded")
        expecting = self.command(f"db load {len(data)}")
        _search(re.compile(rf"m-\[Expecting {len(data)} bytes\]$"), expecting, f"db load {len(data)}")
        for start in range(0, len(data), BYTES_PER_DB):
            lines = self.command("db " + data[start:start + BYTES_PER_DB].hex())
        if "m-load-done" not in lines:
            raise DeviceError(f"{self.transport.name} did not confirm the load of {len(data)} bytes "
                              "(no m-load-done)", lines=lines)

    def infer(self, count: int = 1, warmups: int = 0) -> Inference:
        command = f"infer {count} {warmups}"
        started = time.monotonic()
        lines = self.command(command, timeout=self.infer_timeout)
        waited = time.monotonic() - started
        laps = [int(m.group(1)) for m in map(_LAP.search, lines) if m]
        found = _search(_RESULTS, lines, command)
        if len(laps) != 2:
            raise DeviceError(f"{self.transport.name} answered '{command}' without two m-lap-us lines",
                              lines=lines)
        values = []
        for text in (v for v in found.group(1).split(",") if v.strip()):
            try:
                values.append(float(text))
            except ValueError:
                raise self._inconsistent(f"'{command}'", found.group(0), "numbers in m-results",
                                         OUTPUT_HINT, lines) from None
        return Inference(values, (laps[0], laps[1]), count, waited)

    def output(self) -> bytes:
        lines = self.command("te-output")
        found = _search(_OUTPUT, lines, "te-output")
        if len(found.group(1)) % 2:
            raise self._inconsistent("'te-output'", found.group(0), "two hex digits per output byte",
                                     OUTPUT_HINT, lines)
        return bytes.fromhex(found.group(1))

    def ticks(self) -> Ticks:
        lines = self.command("te-ticks")
        fields: dict[str, str | None] = {}
        for key in ("ticks", "count", "unit", "instructions-per-tick", "ticks-per-second"):
            match = next((m for m in (re.search(rf"m-te-{key}-(\S+)$", line) for line in lines) if m), None)
            fields[key] = match.group(0) if match else None
        if fields["ticks"] is None or fields["count"] is None or fields["unit"] is None:
            raise DeviceError(f"{self.transport.name} answered 'te-ticks' without ticks, count and unit",
                              lines=lines)

        def number(key: str, default: int) -> int:
            line = fields[key]
            if line is None:
                return default
            digits = line[len(f"m-te-{key}-"):]
            if not digits.isascii() or not digits.isdigit():
                raise self._inconsistent("'te-ticks'", line, f"a whole number in m-te-{key}", TIMER_HINT, lines)
            return int(digits)

        return Ticks(number("ticks", 0), number("count", 0), fields["unit"][len("m-te-unit-"):],
                     number("instructions-per-tick", 1), number("ticks-per-second", 0))

    def layers(self) -> list[tuple[int, int]]:
        """`te-layers` of a layer build: (ticks, CRC-32) of every step of the last inference, in step
        order (ticks in te-ticks' unit, not scaled; CRC 0 for a step without an output, as TFLM's
        operators). A firmware built without layers raises DeviceError with the way out."""
        lines = self._layer_command("te-layers")
        count = int(_search(_LAYERS, lines, "te-layers").group(1))
        rows: dict[int, tuple[int, int]] = {}
        for match in filter(None, map(_LAYER.search, lines)):
            rows[int(match.group(1))] = (int(match.group(2)), int(match.group(3), 16))
        if sorted(rows) != list(range(count)):
            raise self._inconsistent("'te-layers'", f"m-te-layers-{count}",
                                     f"{count} m-te-layer lines numbered 0 to {count - 1}", LAYERS_HINT,
                                     lines, got=f"{len(rows)} step lines")
        return [rows[k] for k in range(count)]

    def tensor(self, step: int) -> bytes:
        """`te-tensor K` of a layer build: runs one inference on the loaded input and returns step K's
        output bytes, as the device holds them."""
        if step < 0:
            raise ValueError(f"a step number is 0 or more, not {step}")
        command = f"te-tensor {step}"
        lines = self._layer_command(command, timeout=self.infer_timeout)
        done = _search(_TENSOR_DONE, lines, command)
        data = bytes.fromhex("".join(m.group(1) for m in filter(None, map(_TENSOR.search, lines))))
        if int(done.group(1)) != step or int(done.group(2)) != len(data):
            raise self._inconsistent(f"'{command}'", done.group(0),
                                     f"m-te-tensor-done-{step}-{len(data)} (the bytes it sent)", LAYERS_HINT,
                                     lines)
        return data

    def monitor(self) -> "MonitorSnapshot":
        """`te-monitor`: the firmware's monitor statistics since its last reset (a firmware built
        without [monitor] enabled, or a further model selected, raises DeviceError with the way out)."""
        from ..monitor.snapshot import MonitorSnapshot
        return MonitorSnapshot.parse(self._monitor_command("te-monitor"), self.transport.name)

    def monitor_reset(self) -> None:
        """`te-monitor-reset`: the statistics start again from zero."""
        lines = self._monitor_command("te-monitor-reset")
        if "m-te-monitor-reset-done" not in (line.strip() for line in lines):
            raise DeviceError(f"{self.transport.name} did not confirm 'te-monitor-reset' "
                              "(no m-te-monitor-reset-done)", lines=lines)

    def _monitor_command(self, command: str) -> list[str]:
        from ..monitor.snapshot import MONITOR_HINT
        try:
            return self.command(command)
        except DeviceError as error:
            said = next((line for line in error.lines if line.startswith("e-")), "")
            if "te-monitor" in said and "not monitored" in said:
                raise DeviceError(f"{self.transport.name}: {said[3:].strip('[]')}",
                                  "select the first model (te-select) to monitor it", lines=error.lines) from None
            if "te-monitor" in said:   # "built without the monitor", or an older firmware's unknown command
                raise DeviceError(f"{self.transport.name} has no monitor: its firmware was built without "
                                  "[monitor] enabled", MONITOR_HINT, lines=error.lines) from None
            raise

    def _layer_command(self, command: str, timeout: float | None = None) -> list[str]:
        try:
            return self.command(command, timeout=timeout)
        except DeviceError as error:
            if any(NO_LAYERS in line for line in error.lines):
                raise DeviceError(f"{self.transport.name} has no layer profiling: its firmware was built "
                                  "without --layers", LAYERS_HINT, lines=error.lines) from None
            raise

    def run_sample(self, data: bytes) -> SampleResult:
        """One validation step: load the int8 input, one inference without warm-up, raw output, ticks;
        the replies checked (check_sample)."""
        self.load(data)
        inference = self.infer(1, 0)
        result = SampleResult(self.output(), self.ticks(), inference)
        self.check_sample(result)
        return result

    def check_sample(self, result: SampleResult) -> None:
        """The one place a sample's replies are checked: the output against the model's output size
        (or, when that is unknown, against the result count), the m-results count against the output,
        and the ticks: the inference count asked for, more than 0 (on a timer that counts cycles or
        instructions; a microsecond timer may see 0 for a sub-microsecond inference), no counter that
        ran backwards, a known unit, and on a timer with a rate no more time than the host waited for
        the reply. The first reply that does not fit raises InconsistentReply, naming what the device
        sent and what was expected."""
        output, ticks, inference = result.output, result.ticks, result.inference
        infer = f"'infer {inference.count} 0'"
        size = self.output_bytes
        if size is not None and len(output) != size:
            raise self._inconsistent("'te-output'", f"m-te-output-[{output.hex()}]",
                                     f"the model's {size} output bytes", OUTPUT_HINT,
                                     got=f"{len(output)} output bytes")
        if len(inference.results) != len(output):
            expected = (f"the model's {size} outputs" if size is not None else
                        f"one per output byte of 'te-output' ({len(output)})")
            raise self._inconsistent(infer, None, expected, OUTPUT_HINT,
                                     got=f"{len(inference.results)} values in m-results")
        if ticks.count != inference.count:
            raise self._inconsistent("'te-ticks'", f"m-te-count-{ticks.count}",
                                     f"m-te-count-{inference.count} (the inferences {infer} asked for)", TIMER_HINT)
        if ticks.unit not in TICK_UNITS:
            raise self._inconsistent("'te-ticks'", f"m-te-unit-{ticks.unit}", "cycles, us or instructions",
                                     TIMER_HINT)
        if ticks.ticks > MAX_TICKS:
            raise self._inconsistent("'te-ticks'", f"m-te-ticks-{ticks.ticks}",
                                     "fewer than 2**63 ticks (more is a counter that ran backwards)", TIMER_HINT)
        if ticks.ticks == 0 and ticks.unit != "us":
            raise self._inconsistent("'te-ticks'", "m-te-ticks-0",
                                     f"more than 0 {ticks.unit} for {_inferences(inference.count)}", TIMER_HINT)
        if ticks.unit == "instructions" and ticks.instructions_per_tick < 1:
            raise self._inconsistent("'te-ticks'", f"m-te-instructions-per-tick-{ticks.instructions_per_tick}",
                                     "1 or more instructions per tick", TIMER_HINT)
        if ticks.unit != "instructions":
            if ticks.ticks_per_second < 1:
                raise self._inconsistent("'te-ticks'", f"m-te-ticks-per-second-{ticks.ticks_per_second}",
                                         "the timer's rate (1 or more ticks per second)", TIMER_HINT)
            seconds = ticks.ticks / ticks.ticks_per_second
            if inference.waited is not None and \
                    seconds > WALL_CLOCK_FACTOR * inference.waited + WALL_CLOCK_MARGIN_S:
                raise self._inconsistent(
                    "'te-ticks'", f"m-te-ticks-{ticks.ticks}",
                    f"at most the {inference.waited:.3g} s the host waited for {infer} (at "
                    f"{ticks.ticks_per_second:,} ticks per second these are {seconds:.3g} s)", TIMER_HINT)

    # ---- failures ----------------------------------------------------------------------------

    def _inconsistent(self, command: str, sent: str | None, expected: str, hint: str,
                      lines: list[str] | None = None, *, got: str | None = None) -> InconsistentReply:
        """'<device> answered <command> with <got> (<the line>), expected <expected>'."""
        shown = None if sent is None else (sent if len(sent) <= SHOWN_REPLY else sent[:SHOWN_REPLY - 3] + "...")
        what = f"{got} ({shown})" if got and shown else (got or shown)
        return InconsistentReply(f"{self.transport.name} answered {command} with {what}, expected {expected}",
                                 hint, lines=lines if lines is not None else ([sent] if sent else []))

    def _check_fault(self, line: str, when: str, lines: list[str]) -> None:
        marker = line.find(FAULT_MARKER)
        if marker >= 0:
            raise DeviceCrashed(f"the firmware on {self.transport.name} crashed {when}: {line[marker:]}",
                                "a HardFault: check the arena size and the model's operators", lines=lines)

    def _closed(self, closed: TransportClosed, when: str, lines: list[str]) -> DeviceFailure:
        # A firmware that ends right after its marker (QEMU exiting through semihosting) can lose the
        # last byte or two of it, so the unfinished line left in the buffer is checked too.
        unfinished = self.transport.discard_input().replace(b"\r", b"").decode("utf-8", errors="replace")
        if unfinished:
            self._check_fault(unfinished, when, lines + [unfinished])
        if closed.crashed:
            return DeviceCrashed(f"the firmware crashed {when}: {closed.message}", lines=lines)
        return DeviceDisconnected(f"{closed.message} {when}", closed.hint, lines=lines)


def _inferences(count: int) -> str:
    return "1 inference" if count == 1 else f"{count} inferences"


def _search(pattern: re.Pattern, lines: list[str], command: str) -> re.Match:
    for line in lines:
        match = pattern.search(line)
        if match:
            return match
    shown = "; ".join(lines) or "nothing"
    raise DeviceError(f"unexpected answer to '{command}': {shown}", lines=lines)


class DeviceSession:
    """A client on a link opened by `open_transport`, reopened once when the link drops.

    `expected` (name and full SHA-256 of the model) is checked on every (re)connection, so a retry
    never validates against a different firmware.
    """

    def __init__(self, open_transport: Callable[[], Transport], *, expected: ModelIdentity | None = None,
                 boot_timeout: float = 10.0, command_timeout: float = 5.0, infer_timeout: float = 60.0):
        self._open_transport = open_transport
        self.expected = expected
        self.boot_timeout = boot_timeout
        self.command_timeout = command_timeout
        self.infer_timeout = infer_timeout
        self.client: DeviceClient | None = None
        self.identity: ModelIdentity | None = None
        self.reconnections = 0

    def open(self) -> DeviceClient:
        transport = self._open_transport()
        client = DeviceClient(transport, command_timeout=self.command_timeout,
                              infer_timeout=self.infer_timeout)
        try:
            client.connect(self.boot_timeout)
            if self.expected is not None:
                self.identity = client.check_model(self.expected.name, self.expected.sha256)
            else:
                self.identity = client.model_identity()
        except BaseException:
            transport.close()
            raise
        # Outputs are checked against the model's size when the host knows it, else the device's own.
        known = self.expected.output_bytes if self.expected is not None else None
        client.output_bytes = known if known is not None else self.identity.output_bytes
        self.client = client
        return client

    def close(self) -> None:
        if self.client is not None:
            self.client.transport.close()
            self.client = None

    def run_sample(self, data: bytes) -> SampleResult:
        if self.client is None:
            self.open()
        try:
            return self.client.run_sample(data)
        except DeviceDisconnected as dropped:
            self.close()
            self.reconnections += 1
            try:
                self.open()
            except DeviceFailure:
                raise
            except TinyedgeError as error:  # the port did not come back
                raise DeviceDisconnected(f"{dropped.message}, and reconnecting failed: {error.message}",
                                         error.hint, lines=dropped.lines) from None
            try:
                return self.client.run_sample(data)
            except DeviceDisconnected as again:
                raise DeviceDisconnected(f"{again.message} (also after reconnecting once)", again.hint,
                                         lines=again.lines) from None

    def __enter__(self) -> DeviceSession:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class RunOutcome:
    """The results of every sample that completed, and the failure that ended the run early, if any."""
    results: list[SampleResult] = field(default_factory=list)
    error: DeviceFailure | None = None

    @property
    def complete(self) -> bool:
        return self.error is None


def run_samples(session: DeviceSession, samples: Iterable[bytes],
                progress: Callable[[int, SampleResult], None] | None = None) -> RunOutcome:
    """Runs each sample in turn; a device failure ends the run but keeps what was gathered."""
    outcome = RunOutcome()
    for index, result in enumerate(_results(session, samples, outcome)):
        outcome.results.append(result)
        if progress:
            progress(index, result)
    return outcome


def _results(session: DeviceSession, samples: Iterable[bytes], outcome: RunOutcome) -> Iterator[SampleResult]:
    for sample in samples:
        try:
            yield session.run_sample(sample)
        except DeviceFailure as failure:
            outcome.error = failure
            return
