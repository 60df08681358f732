"""A device that floods the link (bytes with no line end, as a board at the wrong baud rate or a
firmware stuck in a print loop sends) ends the connection with one line, in bounded memory and time,
instead of filling the host's memory until the command times out. Driven over pipes by a process that
stands in for the board (cat of /dev/zero, or `yes` without line ends)."""

from __future__ import annotations

import re

import pytest

from tinyedge.device.protocol import DeviceClient
from tinyedge.device.transport import MAX_LINE_BYTES, ProcessTransport
from tinyedge.errors import TinyedgeError


@pytest.mark.parametrize("flood", ["cat /dev/zero", "yes m-ready | tr -d '\\n'"])
def test_a_flood_without_line_ends_is_one_line(flood):
    transport = ProcessTransport(["sh", "-c", f"exec sh -c \"{flood}\""], name="flooding device")
    try:
        with pytest.raises(TinyedgeError) as error:
            DeviceClient(transport, command_timeout=20).connect(boot_timeout=20, quiet=0.2)
    finally:
        transport.close()
    # The count is however much had arrived when the buffer passed the limit (reads come in chunks).
    assert re.fullmatch(rf"flooding device sent [\d,]+ bytes without a line end \(the protocol's lines are "
                        rf"at most {MAX_LINE_BYTES:,} bytes\) while booting \(check the baud rate and that "
                        r"the board runs tinyedge's firmware\)", error.value.one_line()), error.value.one_line()
