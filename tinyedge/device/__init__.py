"""Talking to a device over its serial link: transports, port discovery and locking, and the client of
the MLPerf Tiny-compatible validation protocol (docs/protocol.md)."""
