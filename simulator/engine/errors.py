"""The one error type a user sees for bad input.

A ``ScenarioError`` names the file, the key path inside it (``workload[1].flavor``),
the line when known, and what was expected. The command line prints it on one line
and exits with status 2; nothing is written.
"""
from __future__ import annotations


class ScenarioError(Exception):
    """Bad input: a malformed, inconsistent or missing scenario (or sweep) file."""

    def __init__(self, file: str | None, path: str, message: str, line: int | None = None):
        self.file = file or "<scenario>"
        self.path = path
        self.message = message
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"
