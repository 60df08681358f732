"""The per-sample reply checks (DeviceClient.check_sample), on replies made by hand as a device that
misbehaves would send them: an output whose length changes mid-run, a result count that is not the
output's, a tick count of 0, a counter that ran backwards. Each is an InconsistentReply naming what the
device sent and what was expected, instead of a ZeroDivisionError or numpy's 'inhomogeneous shape'
later. `FakeLink` stands for the board (only its name is used)."""

from __future__ import annotations

import pytest

from tinyedge.device.errors import InconsistentReply
from tinyedge.device.protocol import DeviceClient, Inference, SampleResult, Ticks


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
