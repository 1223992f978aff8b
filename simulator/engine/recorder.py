"""The trace: one flat record per event, streamed to ``trace.jsonl`` as it happens.

Every record has the same leading fields (``t, request, instance, service, host,
event, name``) and then what its kind adds (states on ``state`` events, the topic and
message id on RPC events). Records are written in the order they happen, so times
never decrease. With no file the records are kept in memory (for the Python API and
tests); with a file nothing is held, so memory does not grow with the run.
"""
from __future__ import annotations

import json
from typing import IO, Any

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


class TraceRecorder:
    """Writes or keeps trace records; ``count`` says how many were recorded."""

    def __init__(self, stream: IO[str] | None = None, keep: bool = False):
        self.stream = stream
        self.records: list[dict[str, Any]] | None = [] if keep or stream is None else None
        self.count = 0
        self.listeners: list[Any] = []

    def attach(self, stream: IO[str], keep: bool = False) -> None:
        """Stream records to ``stream`` from now on (kept in memory only if ``keep``)."""
        self.stream = stream
        if not keep:
            self.records = None

    def emit(self, t: float, request: int | None, instance: str | None, service: str,
             host: str | None, event: str, name: str, **extra: Any) -> None:
        rec = {"t": round(t, 6), "request": request, "instance": instance, "service": service,
               "host": host, "event": event, "name": name}
        if extra:
            rec.update(extra)
        self.count += 1
        if self.stream is not None:
            self.stream.write(_dumps(rec))
            self.stream.write("\n")
        if self.records is not None:
            self.records.append(rec)
        for fn in self.listeners:
            fn(rec)


class TableStream:
    """Rows of a CSV table, streamed to a file as they come (or kept, with no file)."""

    def __init__(self, columns: tuple[str, ...], stream: IO[str] | None = None):
        self.columns = columns
        self.rows: list[tuple] | None = []
        self.count = 0
        self._writer: Any = None
        if stream is not None:
            self.attach(stream)

    def attach(self, stream: IO[str]) -> None:
        """Stream the rows to ``stream`` from now on (the header first); none are kept."""
        import csv

        self._writer = csv.writer(stream, lineterminator="\n")
        self._writer.writerow(self.columns)
        self.rows = None

    def add(self, row: tuple) -> None:
        self.count += 1
        if self._writer is not None:
            self._writer.writerow(["" if v is None else v for v in row])
        else:
            self.rows.append(row)
