"""The one error type a user sees for bad input.

A ``ScenarioError`` names the file, the key path inside it (``workload[1].flavor``),
the line when known, and what was expected. The command line prints it on one line
and exits with status 2; nothing is written.
"""
from __future__ import annotations

import re

#: characters that would break the one line: control characters and line separators
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _printable(text: str) -> str:
    """``text`` with each character that would break the line written as an escape."""
    return _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text)


class ScenarioError(Exception):
    """Bad input: a malformed, inconsistent or missing scenario (or sweep) file."""

    def __init__(self, file: str | None, path: str, message: str, line: int | None = None):
        self.file = file or "<scenario>"
        self.path = path
        self.message = message
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        # a key or value from the file may hold a newline: the message stays one line
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.path:
            return _printable(f"{where}: {self.path}: {self.message}")
        return _printable(f"{where}: {self.message}")
