"""The one error type users see: a single line that names the problem and the way out."""


class TinyedgeError(Exception):
    """A failure caused by input or environment, reported to the user as one line (no traceback)."""

    def __init__(self, message: str, hint: str | None = None):
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message} ({self.hint})"
        return " ".join(text.split())

