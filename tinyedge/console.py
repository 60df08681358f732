"""The one console through which tinyedge tells the person running it what it is doing.

Messages go to stderr, so stdout stays for results and `--json`. Progress over a known count is a
rich progress bar on a terminal and plain lines otherwise (the first, one per tenth, and the last),
which is what a CI log or a pipe wants to keep."""

from __future__ import annotations

import sys
import time

from rich.console import Console


def _stderr() -> Console:
    # Built per call: tests and `contextlib.redirect_stderr` replace sys.stderr at any time.
    return Console(file=sys.stderr, soft_wrap=True, highlight=False)


def say(text: str) -> None:
    """One message on stderr, printed as written (no markup, no highlighting)."""
    _stderr().print(text, markup=False, highlight=False)


def print_table(table, to_stderr: bool = False) -> None:
    """A rich table: on stdout, or on stderr when stdout carries JSON."""
    (_stderr() if to_stderr else Console(soft_wrap=True)).print(table)


def is_terminal(stream=None) -> bool:
    stream = stream if stream is not None else sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


class Progress:
    """`done` of `total` `unit` and the rate since the first update: `label: 12/360 samples, 48.1 samples/s`.

    Call it with the count done so far (and an optional `note` shown after the rate, e.g. the best
    so far); `close()` ends a bar early (an interrupted run)."""

    def __init__(self, label: str, total: int, unit: str = "samples", stream=None):
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.started = time.monotonic()
        self._next_line = 0
        self._bar = None
        if is_terminal(self.stream):
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn

            self._bar = Bar(TextColumn(f"{label}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"),
                            console=Console(file=self.stream), transient=False)
            self._task = self._bar.add_task(label, total=total, rate="")
            self._bar.start()

    def text(self, done: int, note: str = "") -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (f"{self.label}: {done}/{self.total} {self.unit}, {done / elapsed:.1f} {self.unit}/s"
                + (f"; {note}" if note else ""))

    def __call__(self, done: int, note: str = "") -> None:
        if self._bar is not None:
            elapsed = max(time.monotonic() - self.started, 1e-9)
            self._bar.update(self._task, completed=done,
                             rate=f"{done / elapsed:.1f} {self.unit}/s" + (f"  {note}" if note else ""))
            if done >= self.total:
                self.close()
        elif done >= self._next_line or done == self.total:
            print(self.text(done, note), file=self.stream, flush=True)
            self._next_line = done + max(1, self.total // 10)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
