"""What can go wrong on the link to a device, each a one-line TinyedgeError.

The transport raises the first two; the protocol client turns them into the device-level ones, which
name the command that was running. Every error keeps the lines the device sent before it failed.
"""

from __future__ import annotations

from ..errors import TinyedgeError


class TransportTimeout(TinyedgeError):
    """Fewer bytes than asked for arrived in time."""

    def __init__(self, message: str, hint: str | None = None, *, received: bytes = b""):
        super().__init__(message, hint)
        self.received = received


class TransportClosed(TinyedgeError):
    """The other end went away: cable pulled, socket closed, process ended."""

    def __init__(self, message: str, hint: str | None = None, *, crashed: bool = False):
        super().__init__(message, hint)
        self.crashed = crashed


class DeviceFailure(TinyedgeError):
    """Base of the protocol client's errors; `lines` holds what the device sent for the failed step."""

    def __init__(self, message: str, hint: str | None = None, *, lines: list[str] | None = None):
        super().__init__(message, hint)
        self.lines = list(lines or [])


class DeviceTimeout(DeviceFailure):
    """The device stopped answering."""


class DeviceDisconnected(DeviceFailure):
    """The link dropped (and did not come back after one retry)."""


class DeviceCrashed(DeviceFailure):
    """The firmware crashed: its fault marker line arrived, or the host firmware died of a signal."""


class DeviceError(DeviceFailure):
    """The device answered a command with an error line."""


class InconsistentReply(DeviceFailure):
    """A reply that contradicts the model or the sample's other replies: an output of the wrong length,
    a result count that is not the model's, a tick count of 0 or one that cannot be."""


class WrongModel(DeviceFailure):
    """The firmware carries a different model than the one being validated."""


class PortBusy(TinyedgeError):
    """Another tinyedge run holds the port."""
