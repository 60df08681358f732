"""The per-sample reply checks (DeviceClient.check_sample), on replies made by hand as a device that
misbehaves would send them: an output whose length changes mid-run, a result count that is not the
output's, a tick count of 0, a counter that ran backwards. Each is an InconsistentReply naming what the
device sent and what was expected, instead of a ZeroDivisionError or numpy's 'inhomogeneous shape'
later; unreadable replies (odd hex digits, a word for a number) are one as well, and a run that meets
one keeps the samples before it. `FakeLink` stands for the board where only its name is used, and
`FakeBoard` where its whole replies, written by hand, are read (no board is attached here)."""

from __future__ import annotations

import time

import pytest

from tinyedge.device.errors import InconsistentReply
from tinyedge.device.protocol import (DeviceClient, DeviceSession, Inference, ModelIdentity, SampleResult,
                                      Ticks, run_samples)
from tinyedge.device.transport import Transport


class FakeLink:
    """Stands for a board's link: check_sample reads nothing, it only names the device."""
    name = "emu-m4 in QEMU"


def _client(output_bytes=4) -> DeviceClient:
    return DeviceClient(FakeLink(), output_bytes=output_bytes)


def _sample(output=b"\x01\x02\x03\x04", results=4, ticks=2680, count=1, unit="instructions",
            per_tick=40, rate=25_000_000, waited=0.01) -> SampleResult:
    return SampleResult(output, Ticks(ticks, count, unit, per_tick, rate),
                        Inference([0.5] * results, (10, 20), 1, waited))


def test_a_consistent_sample_passes():
    _client().check_sample(_sample())


@pytest.mark.parametrize("sample, message", [
    (_sample(output=b"\x01\x02\x03"),
     "emu-m4 in QEMU answered 'te-output' with 3 output bytes (m-te-output-[010203]), expected the "
     "model's 4 output bytes (flash the firmware built for this model ('tinyedge flash') and validate "
     "again)"),
    (_sample(results=3),
     "emu-m4 in QEMU answered 'infer 1 0' with 3 values in m-results, expected the model's 4 outputs "
     "(flash the firmware built for this model ('tinyedge flash') and validate again)"),
    (_sample(ticks=0),
     "emu-m4 in QEMU answered 'te-ticks' with m-te-ticks-0, expected more than 0 instructions for 1 "
     "inference (check te_port_ticks() in the board's port, or flash the firmware tinyedge built "
     "('tinyedge flash'), and validate again)"),
    (_sample(count=0),
     "emu-m4 in QEMU answered 'te-ticks' with m-te-count-0, expected m-te-count-1 (the inferences "
     "'infer 1 0' asked for) (check te_port_ticks() in the board's port, or flash the firmware tinyedge "
     "built ('tinyedge flash'), and validate again)"),
    (_sample(ticks=2 ** 64 - 5),
     "emu-m4 in QEMU answered 'te-ticks' with m-te-ticks-18446744073709551611, expected fewer than 2**63 "
     "ticks (more is a counter that ran backwards) (check te_port_ticks() in the board's port, or flash "
     "the firmware tinyedge built ('tinyedge flash'), and validate again)"),
])
def test_an_inconsistent_reply_is_one_line(sample, message):
    with pytest.raises(InconsistentReply) as error:
        _client().check_sample(sample)
    assert error.value.one_line() == message


def test_an_output_that_changes_length_mid_run_is_caught_when_the_model_size_is_unknown():
    client = _client(output_bytes=None)
    client.check_sample(_sample())
    with pytest.raises(InconsistentReply):
        client.check_sample(_sample(output=b"\x01\x02\x03", results=4))


@pytest.mark.parametrize("sample, message", [
    (_sample(unit="seconds"),
     "emu-m4 in QEMU answered 'te-ticks' with m-te-unit-seconds, expected cycles, us or instructions"),
    (_sample(unit="instructions", per_tick=0),
     "emu-m4 in QEMU answered 'te-ticks' with m-te-instructions-per-tick-0, expected 1 or more instructions "
     "per tick"),
    (_sample(unit="cycles", rate=0),
     "emu-m4 in QEMU answered 'te-ticks' with m-te-ticks-per-second-0, expected the timer's rate (1 or more "
     "ticks per second)"),
    # 10 s on a microsecond timer for a reply that came after 0.5 s.
    (_sample(unit="us", ticks=10_000_000, rate=1_000_000, waited=0.5),
     "emu-m4 in QEMU answered 'te-ticks' with m-te-ticks-10000000, expected at most the 0.5 s the host "
     "waited for 'infer 1 0' (at 1,000,000 ticks per second these are 10 s)"),
])
def test_a_tick_reply_that_cannot_be_is_one_line(sample, message):
    with pytest.raises(InconsistentReply) as error:
        _client().check_sample(sample)
    assert error.value.message == message


def test_a_microsecond_timer_may_see_0_for_a_sub_microsecond_inference():
    _client().check_sample(_sample(unit="us", ticks=0, rate=1_000_000))
    _client().check_sample(_sample(unit="us", ticks=1_400_000, rate=1_000_000, waited=0.2))  # within 2x + 1 s


# ---- whole replies, through a stand-in for a board ------------------------------------------------

GOOD_TICKS = ["m-te-ticks-67", "m-te-count-1", "m-te-unit-instructions", "m-te-instructions-per-tick-40",
              "m-te-ticks-per-second-25000000"]


class FakeBoard(Transport):
    """Stands for a board running tinyedge firmware: answers each command with the lines `replies`
    gives for it (the sample number counts `infer` commands), each reply ended by m-ready."""

    def __init__(self, replies):
        super().__init__("fake board")
        self.replies = replies
        self.samples = 0
        self.pending = bytearray(b"m-init-done\r\nm-ready\r\n")

    def _receive(self, timeout: float) -> bytes:
        if not self.pending:
            time.sleep(min(timeout, 0.01))
        data, self.pending = bytes(self.pending), bytearray()
        return data

    def write(self, data: bytes, timeout: float) -> None:
        command = data.decode().rstrip("%")
        if command.startswith("infer"):
            self.samples += 1
        lines = self.replies(command, self.samples)
        self.pending += "".join(f"{line}\r\n" for line in [*lines, "m-ready"]).encode()

    def close(self) -> None:
        pass


def _replies(output="0102030405", results="0.1,0.2,0.3,0.4,0.5", ticks=GOOD_TICKS, bad_from=1):
    """A board whose replies from sample `bad_from` on are the ones given, earlier ones good."""
    def reply(command, sample):
        bad = sample >= bad_from
        if command == "name":
            return ["m-name-dut-[tinyedge]"]
        if command == "te-model":
            return ["m-te-model-[fake,0123456789abcdef]", "m-te-io-[3,5]"]
        if command.startswith("db load"):
            return ["m-[Expecting 3 bytes]"]
        if command.startswith("db "):
            return ["m-load-done"]
        if command.startswith("infer"):
            return ["m-lap-us-10", "m-lap-us-12", "m-infer-done",
                    f"m-results-[{results if bad else '0.1,0.2,0.3,0.4,0.5'}]"]
        if command == "te-output":
            return [f"m-te-output-[{output if bad else '0102030405'}]"]
        if command == "te-ticks":
            return ticks if bad else GOOD_TICKS
        return [f"e-[Unknown command: {command}]"]
    return reply


@pytest.mark.parametrize("board, message", [
    (_replies(output="01020"),
     "fake board answered 'te-output' with m-te-output-[01020], expected two hex digits per output byte"),
    (_replies(results="0.1,x,0.3,0.4,0.5"),
     "fake board answered 'infer 1 0' with m-results-[0.1,x,0.3,0.4,0.5], expected numbers in m-results"),
    (_replies(ticks=["m-te-ticks-12a", *GOOD_TICKS[1:]]),
     "fake board answered 'te-ticks' with m-te-ticks-12a, expected a whole number in m-te-ticks"),
    (_replies(ticks=["m-te-ticks-67", "m-te-count-0", *GOOD_TICKS[2:]]),
     "fake board answered 'te-ticks' with m-te-count-0, expected m-te-count-1 (the inferences 'infer 1 0' "
     "asked for)"),
    (_replies(output="01020304"),
     "fake board answered 'te-output' with 4 output bytes (m-te-output-[01020304]), expected the model's 5 "
     "output bytes"),
])
def test_a_bad_reply_is_an_inconsistent_reply_naming_the_line(board, message):
    client = DeviceClient(FakeBoard(board), output_bytes=5)
    client.connect()
    with pytest.raises(InconsistentReply) as error:
        client.run_sample(b"\x01\x02\x03")
    assert error.value.message == message


def test_an_inconsistent_reply_ends_the_run_with_the_samples_before_kept_and_no_reconnection():
    opened = []

    def open_board():
        opened.append(FakeBoard(_replies(output="01020304", bad_from=4)))
        return opened[-1]

    expected = ModelIdentity("fake", "0123456789abcdef" + "0" * 48, 3, 5)
    with DeviceSession(open_board, expected=expected) as session:
        outcome = run_samples(session, [b"\x01\x02\x03"] * 6)
    assert [r.output for r in outcome.results] == [bytes.fromhex("0102030405")] * 3
    assert [r.ticks.per_inference for r in outcome.results] == [67 * 40] * 3
    assert isinstance(outcome.error, InconsistentReply) and not outcome.complete
    assert outcome.error.lines == ["m-te-output-[01020304]"]
    assert len(opened) == 1 and session.reconnections == 0


def test_the_session_checks_outputs_against_the_models_size_not_the_devices_claim():
    # The device says its model has 5 output bytes and sends 5; the model being validated has 6.
    expected = ModelIdentity("fake", "0123456789abcdef" + "0" * 48, 3, 6)
    with DeviceSession(lambda: FakeBoard(_replies()), expected=expected) as session:
        with pytest.raises(InconsistentReply) as error:
            session.run_sample(b"\x01\x02\x03")
    assert error.value.message == ("fake board answered 'te-output' with 5 output bytes (m-te-output-[0102030405]), "
                                   "expected the model's 6 output bytes")
    # Without the model's size, the device's own te-io is the reference.
    with DeviceSession(lambda: FakeBoard(_replies())) as session:
        assert session.client.output_bytes == 5
        assert session.run_sample(b"\x01\x02\x03").output == bytes.fromhex("0102030405")
