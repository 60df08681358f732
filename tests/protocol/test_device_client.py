"""The host side's protocol client driving the host-built firmware over pipes: samples bit-exact
against the test model, boot noise, a device that stops answering, crashes, the wrong model, and a
dropped link with its one retry."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from tinyedge.device.errors import DeviceCrashed, DeviceDisconnected, DeviceError, DeviceTimeout, WrongModel
from tinyedge.device.protocol import DeviceClient, DeviceSession, ModelIdentity, run_samples
from tinyedge.device.transport import ProcessTransport
from tinyedge.errors import TinyedgeError

from .conftest import (INPUT_BYTES, MODEL_NAME, MODEL_SHA256, OTHER_NAME, OTHER_SHA256, dequantized_text,
                       reference_model)

EXPECTED = ModelIdentity(MODEL_NAME, MODEL_SHA256)


def sample(seed: int) -> bytes:
    return np.random.default_rng(seed).integers(-128, 128, INPUT_BYTES, dtype=np.int8).tobytes()


def fault_switch(kind: int) -> bytes:
    """An input the test model treats as an order: 1 hang, 2 abort, 3 bad memory access, 4 exit."""
    return bytes([0x7F, kind]) + bytes(INPUT_BYTES - 2)


def test_samples_are_bit_exact_with_results_and_ticks(host_firmware):
    with DeviceSession(host_firmware.start, expected=EXPECTED) as session:
        assert session.identity == ModelIdentity(MODEL_NAME, MODEL_SHA256[:16], INPUT_BYTES, 10)
        for seed in range(8):
            data = sample(seed)
            result = session.run_sample(data)
            assert result.output == reference_model(data)
            assert ",".join("%0.3f" % v for v in result.inference.results) == dequantized_text(result.output)
            assert result.ticks.unit == "us" and result.ticks.count == 1
            assert result.ticks.per_inference == result.ticks.ticks
            assert result.inference.lap_us[1] >= result.inference.lap_us[0]
        assert session.client.name() == "tinyedge"


def test_loads_use_chunks_of_at_most_31_bytes(host_firmware):
    sent = []
    with host_firmware.start() as transport:
        original = transport.write
        transport.write = lambda data, timeout: (sent.append(data), original(data, timeout))[1]
        client = DeviceClient(transport)
        client.connect()
        client.load(sample(0))
    db = [s for s in sent if s.startswith(b"db ") and not s.startswith(b"db load")]
    assert [len(s) for s in db] == [3 + 62 + 1, 3 + 62 + 1, 3 + 16 + 1]  # "db " + hex + "%"
    assert all(len(s) - 1 <= 80 for s in sent)


def test_garbage_before_the_banner_is_skipped(host_firmware):
    noise = r"printf '\000\377\376boot noise m-ready\r\nm-init-done junk without end'"
    with DeviceSession(lambda: host_firmware.start(noise), expected=EXPECTED) as session:
        assert session.client.boot_lines[0] == "\ufffd\ufffdboot noise m-ready"  # NULs dropped
        assert session.run_sample(sample(3)).output == reference_model(sample(3))


def test_a_device_that_booted_earlier_is_found_without_its_banner(host_firmware):
    with host_firmware.start() as transport:
        DeviceClient(transport).connect()
        transport.write(b"db 01", 5)  # a half-sent command, as an interrupted run leaves behind
        late = DeviceClient(transport)
        late.connect(boot_timeout=3, quiet=0.2)
        assert late.boot_lines == []
        assert late.name() == "tinyedge"


def test_silence_is_a_timeout_naming_the_command(host_firmware):
    with host_firmware.start("exec sleep 30") as transport:
        client = DeviceClient(transport, command_timeout=0.3)
        with pytest.raises(DeviceTimeout) as error:
            client.connect(boot_timeout=0.3, quiet=0.2)
    assert str(error.value) == ("host firmware fw did not answer 'name' within 0.3 s "
                                "(the device stopped responding; reset it and run again)")


def test_a_device_that_stops_answering_keeps_the_results_before(host_firmware):
    samples = [sample(10), sample(11), sample(12), fault_switch(1), sample(13)]
    seen = []
    with DeviceSession(host_firmware.start, expected=EXPECTED, infer_timeout=1.0) as session:
        outcome = run_samples(session, samples, progress=lambda index, result: seen.append(index))
    assert [r.output for r in outcome.results] == [reference_model(s) for s in samples[:3]]
    assert seen == [0, 1, 2] and not outcome.complete
    assert isinstance(outcome.error, DeviceTimeout)
    assert str(outcome.error) == ("host firmware fw did not answer 'infer 1 0' within 1 s "
                                  "(the device stopped responding; reset it and run again)")
    assert outcome.error.lines[:3] == ["m-warmup-start-0", "m-warmup-done", "m-infer-start-1"]
    assert outcome.error.lines[3].startswith("m-lap-us-") and len(outcome.error.lines) == 4


def test_a_firmware_that_aborts_is_a_crash(host_firmware):
    with DeviceSession(host_firmware.start, expected=EXPECTED) as session:
        outcome = run_samples(session, [sample(20), fault_switch(2)])
    assert len(outcome.results) == 1
    assert isinstance(outcome.error, DeviceCrashed)
    assert str(outcome.error) == "the firmware crashed during 'infer 1 0': host firmware fw ended (killed by SIGABRT)"


def test_a_fault_marker_is_a_crash(host_firmware):
    with DeviceSession(host_firmware.start, expected=EXPECTED) as session:
        with pytest.raises(DeviceCrashed) as error:
            session.run_sample(fault_switch(3))
    assert str(error.value) == (
        "the firmware on host firmware fw crashed during 'infer 1 0': e-[hardfault pc=0x00000010] "
        "(a HardFault: check the arena size and the model's operators)")
    assert session.reconnections == 0


def test_a_different_model_on_the_device_is_refused(host_firmware):
    with pytest.raises(WrongModel) as error:
        DeviceSession(lambda: host_firmware.start(path=host_firmware.other_model), expected=EXPECTED).open()
    assert str(error.value) == (
        f"wrong model on host firmware fw: expected '{MODEL_NAME}' (sha256 {MODEL_SHA256[:16]}), "
        f"found '{OTHER_NAME}' (sha256 {OTHER_SHA256[:16]}) "
        "(flash the firmware built for this model ('tinyedge flash'), then validate again)")
    # Same name, other content: refused as well.
    with pytest.raises(WrongModel):
        DeviceSession(host_firmware.start, expected=ModelIdentity(MODEL_NAME, OTHER_SHA256)).open()


def test_a_dropped_link_is_retried_once(host_firmware):
    opened = []

    def open_transport():
        opened.append(host_firmware.start())
        return opened[-1]

    samples = [sample(30 + i) for i in range(4)]

    def pull_the_cable(index, result):
        if index == 1:
            os.kill(opened[-1].pid, signal.SIGKILL)

    with DeviceSession(open_transport, expected=EXPECTED) as session:
        outcome = run_samples(session, samples, progress=pull_the_cable)
    assert outcome.complete and session.reconnections == 1 and len(opened) == 2
    assert [r.output for r in outcome.results] == [reference_model(s) for s in samples]


def test_a_link_that_drops_again_after_the_retry_ends_the_run(host_firmware):
    with DeviceSession(host_firmware.start, expected=EXPECTED) as session:
        outcome = run_samples(session, [sample(40), fault_switch(4), sample(41)])
    assert len(outcome.results) == 1 and session.reconnections == 1
    assert isinstance(outcome.error, DeviceDisconnected)
    assert str(outcome.error) == "host firmware fw ended (exit code 0) during 'infer 1 0' (also after reconnecting once)"


def test_error_lines_raise_with_the_device_line(host_firmware):
    with host_firmware.start() as transport:
        client = DeviceClient(transport)
        client.connect()
        with pytest.raises(DeviceError) as error:
            client.output()
        assert str(error.value) == ("host firmware fw answered 'te-output' with "
                                    "e-[te-output: no inference has run yet]")
        with pytest.raises(DeviceError) as error:
            client.load(bytes(INPUT_BYTES + 1))
        assert str(error.value) == ("host firmware fw answered 'db load 71' with "
                                    "Supplied buffer size 71 exceeds maximum of 70")
        with pytest.raises(ValueError):
            client.command("x" * 81)


def test_a_crash_during_boot_is_reported_with_its_marker(host_firmware):
    crash = r"printf 'm-timestamp-mode-performance\r\n\r\ne-[hardfault pc=0x00000abc]\r\n'; exit 3"
    with pytest.raises(DeviceCrashed) as error:
        DeviceSession(lambda: host_firmware.start(crash), expected=EXPECTED).open()
    assert str(error.value) == ("the firmware on host firmware fw crashed while booting: e-[hardfault pc=0x00000abc] "
                                "(a HardFault: check the arena size and the model's operators)")


def test_a_missing_host_firmware_is_one_line(tmp_path):
    with pytest.raises(TinyedgeError) as error:
        ProcessTransport([str(tmp_path / "fw")])
    assert str(error.value) == (f"cannot start host firmware fw: [Errno 2] No such file or directory: "
                                f"'{tmp_path / 'fw'}' (build the host firmware first)")


def test_a_marker_cut_short_by_the_end_of_the_link_is_still_a_crash(host_firmware):
    # QEMU can exit through semihosting before the UART sends the marker's last bytes.
    crash = r"printf 'm-timestamp-mode-performance\r\ne-[hardfault pc=0x00000abc]\r'; exit 3"
    with pytest.raises(DeviceCrashed, match=r"crashed while booting: e-\[hardfault pc=0x00000abc\] "):
        DeviceSession(lambda: host_firmware.start(crash), expected=EXPECTED).open()


def test_a_port_that_does_not_come_back_ends_the_run_with_the_results_kept(host_firmware):
    opened = []

    def open_transport():
        if opened:
            raise TinyedgeError("cannot open serial port /dev/ttyACM0: No such file or directory",
                                "check the cable and the port name, or pick another one with --port")
        opened.append(host_firmware.start())
        return opened[-1]

    with DeviceSession(open_transport, expected=EXPECTED) as session:
        outcome = run_samples(session, [sample(50), fault_switch(4), sample(51)])
    assert [r.output for r in outcome.results] == [reference_model(sample(50))]
    assert isinstance(outcome.error, DeviceDisconnected)
    assert str(outcome.error) == (
        "host firmware fw ended (exit code 0) during 'infer 1 0', and reconnecting failed: cannot open serial "
        "port /dev/ttyACM0: No such file or directory (check the cable and the port name, or pick another one "
        "with --port)")
